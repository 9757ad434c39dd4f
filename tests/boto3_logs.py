"""boto3's `logs` client against the engine's CloudWatch Logs API, after real invocations:
groups, streams, FilterLogEvents with terms, quoted phrases and pagination, GetLogEvents
forward and backward with tokens, retention, and the typed exceptions boto3 raises.
Usage: boto3_logs.py ENDPOINT_URL ACCESS_KEY_ID SECRET_ACCESS_KEY (the engine's key)"""

import io
import json
import sys
import zipfile

import boto3
from botocore.config import Config

endpoint = sys.argv[1]
common = dict(
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id=sys.argv[2],
    aws_secret_access_key=sys.argv[3],
    config=Config(retries={"max_attempts": 1}),
)
lam = boto3.client("lambda", **common)
logs = boto3.client("logs", **common)


def zipped(name, source):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(name, source)
    return buf.getvalue()


SOURCE = """
def line(i):
    return f"item {i:03d} {'even' if i % 2 == 0 else 'odd'}" + (" disk is full" if i % 10 == 0 else "")

def handler(event, context):
    for i in range(event["n"]):
        print(line(i))
    return event["n"]
"""
lam.create_function(
    FunctionName="boto-logs", Runtime="python3.12", Role="arn:aws:iam::000000000000:role/test",
    Handler="app.handler", Code={"ZipFile": zipped("app.py", SOURCE)}, Timeout=10,
)
for n in (50, 30):
    out = lam.invoke(FunctionName="boto-logs", Payload=json.dumps({"n": n}))
    assert json.loads(out["Payload"].read()) == n
group = "/aws/lambda/boto-logs"

# Groups: by prefix and by pattern, with ARNs as AWS writes them.
found = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/boto")["logGroups"]
assert [g["logGroupName"] for g in found] == [group], found
assert found[0]["arn"] == "arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/boto-logs:*", found
assert found[0]["storedBytes"] > 0, found
assert [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePattern="boto-lo")["logGroups"]] == [group]

# Streams: one per environment (a warm one served both calls), newest first by event time.
streams = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", descending=True)["logStreams"]
assert len(streams) == 1, streams
stream = streams[0]
assert stream["logStreamName"].endswith(stream["logStreamName"][-32:]) and "/[$LATEST]" in stream["logStreamName"], stream
assert stream["firstEventTimestamp"] <= stream["lastEventTimestamp"] <= stream["lastIngestionTime"], stream

# FilterLogEvents: every term must appear, case-sensitively; a quoted phrase as a whole.
events = logs.filter_log_events(logGroupName=group, filterPattern='even "disk is full"')["events"]
exec(SOURCE)
assert [e["message"] for e in events] == [line(i) for i in (0, 10, 20, 30, 40, 0, 10, 20)], events
assert logs.filter_log_events(logGroupName=group, filterPattern='"DISK is full"')["events"] == []
assert len(logs.filter_log_events(logGroupName=group, filterPattern="odd")["events"]) == 40
assert len(logs.filter_log_events(logGroupName=group, filterPattern="?odd ?even")["events"]) == 80
assert len(logs.filter_log_events(logGroupName=group, filterPattern="item -odd -full")["events"]) == 32
ids = [e["eventId"] for e in events]
assert len(set(ids)) == len(ids) and all(len(i) == 56 for i in ids), ids

# Pagination: limit 7 with nextToken, and boto3's paginator, give every event once in order.
pages, token, paged = 0, None, []
while True:
    kwargs = {"nextToken": token} if token else {}
    page = logs.filter_log_events(logGroupName=group, filterPattern="item", limit=7, **kwargs)
    pages += 1
    paged.extend(e["message"] for e in page["events"])
    token = page.get("nextToken")
    if not token:
        break
expected = [line(i) for n in (50, 30) for i in range(n)]
assert paged == expected, paged
assert pages == 12, pages
paginated = [e["message"] for p in logs.get_paginator("filter_log_events").paginate(
    logGroupName=group, filterPattern="item", PaginationConfig={"PageSize": 25}) for e in p["events"]]
assert paginated == expected
first = logs.filter_log_events(logGroupName=group, limit=1)["events"][0]
after = logs.filter_log_events(logGroupName=group, startTime=first["timestamp"] + 10**9)["events"]
assert after == [], after

# GetLogEvents: the latest page by default; backward then forward with the tokens.
name = stream["logStreamName"]
latest = logs.get_log_events(logGroupName=group, logStreamName=name, limit=5)
assert latest["events"][-1]["message"].startswith("REPORT RequestId: "), latest["events"]
back = logs.get_log_events(logGroupName=group, logStreamName=name, limit=5, nextToken=latest["nextBackwardToken"])
assert [e["message"] for e in back["events"]] == [line(i) for i in range(22, 27)], back["events"]
assert back["nextForwardToken"].startswith("f/") and back["nextBackwardToken"].startswith("b/")
forward = logs.get_log_events(logGroupName=group, logStreamName=name, limit=5, nextToken=back["nextForwardToken"])
assert [e["message"] for e in forward["events"]] == [e["message"] for e in latest["events"]]
end = logs.get_log_events(logGroupName=group, logStreamName=name, nextToken=forward["nextForwardToken"])
assert end["events"] == [] and end["nextForwardToken"] == forward["nextForwardToken"], end
head = logs.get_log_events(logGroupName=group, logStreamName=name, startFromHead=True, limit=2)
assert head["events"][0]["message"].startswith("START RequestId: ") and head["events"][1]["message"] == line(0)
oldest = logs.get_log_events(logGroupName=group, logStreamName=name, nextToken=head["nextBackwardToken"])
assert oldest["events"] == [] and oldest["nextBackwardToken"] == head["nextBackwardToken"], oldest

# Retention, groups of one's own, and the typed errors.
logs.create_log_group(logGroupName="/custom/boto")
logs.put_retention_policy(logGroupName="/custom/boto", retentionInDays=14)
assert logs.describe_log_groups(logGroupNamePrefix="/custom/")["logGroups"][0]["retentionInDays"] == 14
logs.delete_retention_policy(logGroupName="/custom/boto")
assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix="/custom/")["logGroups"][0]
try:
    logs.create_log_group(logGroupName="/custom/boto")
    raise AssertionError("created twice")
except logs.exceptions.ResourceAlreadyExistsException:
    pass
logs.delete_log_group(logGroupName="/custom/boto")
for call in (lambda: logs.delete_log_group(logGroupName="/custom/boto"),
             lambda: logs.filter_log_events(logGroupName="/custom/boto"),
             lambda: logs.get_log_events(logGroupName=group, logStreamName="no-such-stream")):
    try:
        call()
        raise AssertionError("no error")
    except logs.exceptions.ResourceNotFoundException:
        pass
try:
    logs.filter_log_events(logGroupName=group, filterPattern="{ $.level = \"x\" }")
    raise AssertionError("JSON pattern accepted")
except logs.exceptions.InvalidParameterException:
    pass

# StartLiveTail, with the `streaming-` host prefix off (a local endpoint cannot take it):
# lines printed after the session starts arrive while the function runs.
import threading
tail = boto3.client("logs", **{**common, "config": Config(inject_host_prefix=False, read_timeout=10, retries={"max_attempts": 1})})
session = tail.start_live_tail(logGroupIdentifiers=[group], logEventFilterPattern="item")
stream_events = iter(session["responseStream"])
assert "sessionStart" in next(stream_events)
invoker = threading.Thread(target=lambda: lam.invoke(FunctionName="boto-logs", Payload=json.dumps({"n": 5})))
invoker.start()
tailed = []
for update in stream_events:
    tailed.extend(r["message"] for r in update["sessionUpdate"]["sessionResults"])
    if len(tailed) >= 5:
        break
session["responseStream"].close()
invoker.join()
assert tailed == [line(i) for i in range(5)], tailed

# Deleting the function keeps its log group, as on AWS.
lam.delete_function(FunctionName="boto-logs")
assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
print("boto3 logs: ok")
