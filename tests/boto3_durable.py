"""Durable functions on the embedded engine, written with AWS's own durable execution SDK
for Python and driven through boto3 as a user would: DurableConfig, Invoke with an
execution name, a step, a wait, a callback answered with SendDurableExecutionCallbackSuccess,
the control plane, and what the function itself can reach.

Usage: boto3_durable.py ENDPOINT_URL ACCESS_KEY_ID SECRET_ACCESS_KEY PHASE
PHASE: `all` (everything, on a fresh engine), `start-wait` (starts an execution that
waits 3 s, prints its ARN once the wait started) or `finish ARN` (after the engine
restarted: the execution ends as if nothing happened)."""

import json
import sys
import time

from durable_functions import create_durable, engine_client, zipped

endpoint, key_id, secret, phase = sys.argv[1:5]
client = engine_client(endpoint, key_id, secret)

ORDER = """
import json
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration

@durable_execution
def handler(event, context: DurableContext):
    total = context.step(lambda _: event["a"] + event["b"], name="add")
    context.wait(Duration.from_seconds(2), name="pause")
    callback = context.create_callback(name="approval")
    # A callback's result comes back as the text it was sent with.
    approval = json.loads(callback.result())
    return {"total": total, "approval": approval}
"""

QUICK = """
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration

@durable_execution
def handler(event, context: DurableContext):
    doubled = context.step(lambda _: event["n"] * 2, name="double")
    context.wait(Duration.from_seconds(1), name="breath")
    return {"doubled": doubled}
"""

# A function that tries to reach beyond its own execution from inside the sandbox.
NOSY = """
import os
import boto3
from aws_durable_execution_sdk_python import DurableContext, durable_execution

def attempt(call):
    try:
        call()
        return "allowed"
    except Exception as e:
        return getattr(e, "response", {}).get("Error", {}).get("Code", type(e).__name__)

@durable_execution
def handler(event, context: DurableContext):
    lam = boto3.client("lambda")
    other = attempt(lambda: lam.get_durable_execution_state(DurableExecutionArn=event["other"], CheckpointToken="abc"))
    listing = attempt(lambda: lam.list_functions())
    stop = attempt(lambda: lam.stop_durable_execution(DurableExecutionArn=event["other"]))
    return {"other": other, "list": listing, "stop": stop, "key": os.environ.get("AWS_ACCESS_KEY_ID")}
"""

LONG_WAIT = """
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration

@durable_execution
def handler(event, context: DurableContext):
    first = context.step(lambda _: "before", name="before")
    context.wait(Duration.from_seconds(3), name="across-restart")
    second = context.step(lambda _: "after", name="after")
    return [first, second]
"""


def create(name, source, timeout=120):
    return create_durable(client, name, source, timeout, retention_days=3)


def history(arn):
    return client.get_durable_execution_history(DurableExecutionArn=arn, IncludeExecutionData=True)["Events"]


def until(what, check, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def event_of(arn, kind):
    return next((e for e in history(arn) if e["EventType"] == kind), None)


def finished(arn):
    execution = client.get_durable_execution(DurableExecutionArn=arn)
    return execution if execution["Status"] != "RUNNING" else None


if phase == "start-wait":
    create("durable-restart", LONG_WAIT)
    arn = client.invoke(FunctionName="durable-restart", InvocationType="Event",
                        DurableExecutionName="across", Payload=b"{}")["DurableExecutionArn"]
    until("the wait to start", lambda: event_of(arn, "WaitStarted"))
    print("ARN", arn)
    print("durable start-wait: ok")
    sys.exit(0)

if phase == "finish":
    arn = sys.argv[5]
    done = until("the execution to end after the restart", lambda: finished(arn))
    assert done["Status"] == "SUCCEEDED", done
    assert json.loads(done["Result"]) == ["before", "after"], done
    kinds = [e["EventType"] for e in history(arn)]
    assert kinds.count("WaitSucceeded") == 1 and kinds.count("ExecutionSucceeded") == 1, kinds
    # The step before the restart ran once: its result came back from its checkpoint.
    assert kinds.count("StepSucceeded") == 2, kinds
    print("durable finish: ok")
    sys.exit(0)

assert phase == "all", phase

# (1) DurableConfig is kept and answered.
created = create("durable-order", ORDER)
assert created["DurableConfig"] == {"ExecutionTimeout": 120, "RetentionPeriodInDays": 3}, created
config = client.get_function_configuration(FunctionName="durable-order")
assert config["DurableConfig"] == {"ExecutionTimeout": 120, "RetentionPeriodInDays": 3}, config
try:
    client.create_function(
        FunctionName="durable-bad", Runtime="python3.12", Role="arn:aws:iam::000000000000:role/test",
        Handler="app.handler", Code={"ZipFile": zipped(ORDER)}, DurableConfig={"RetentionPeriodInDays": 91},
    )
    raise AssertionError("a retention of 91 days was accepted")
except client.exceptions.InvalidParameterValueException:
    pass
# The engine's runtimes carry the durable execution SDK for Python only.
try:
    client.create_function(
        FunctionName="durable-node", Runtime="nodejs22.x", Role="arn:aws:iam::000000000000:role/test",
        Handler="index.handler", Code={"ZipFile": zipped("exports.handler = async () => 1;")},
        DurableConfig={"ExecutionTimeout": 60},
    )
    raise AssertionError("a durable Node.js function was accepted")
except client.exceptions.InvalidParameterValueException as e:
    assert "Python runtimes only" in str(e), e

# (2) An execution by name: started once, re-attached with the same payload, refused with another.
started = client.invoke(FunctionName="durable-order", InvocationType="Event",
                        DurableExecutionName="order-1", Payload=json.dumps({"a": 2, "b": 3}))
assert started["StatusCode"] == 202, started
arn = started["DurableExecutionArn"]
assert ":function:durable-order:$LATEST/durable-execution/order-1/" in arn, arn
again = client.invoke(FunctionName="durable-order", InvocationType="Event",
                      DurableExecutionName="order-1", Payload=json.dumps({"b": 3, "a": 2}))
assert again["DurableExecutionArn"] == arn, (again, arn)
try:
    client.invoke(FunctionName="durable-order", InvocationType="Event",
                  DurableExecutionName="order-1", Payload=json.dumps({"a": 9, "b": 9}))
    raise AssertionError("a second payload under the same name was accepted")
except client.exceptions.DurableExecutionAlreadyStartedException:
    pass

# The step runs, the wait holds about 2 s without a running invocation, then the callback waits.
callback = until("the callback", lambda: event_of(arn, "CallbackStarted"), seconds=60)
callback_id = callback["CallbackStartedDetails"]["CallbackId"]
events = history(arn)
wait_started = next(e for e in events if e["EventType"] == "WaitStarted")
wait_ended = next(e for e in events if e["EventType"] == "WaitSucceeded")
waited = (wait_ended["EventTimestamp"] - wait_started["EventTimestamp"]).total_seconds()
assert 1.9 <= waited <= 5, waited
step = next(e for e in events if e["EventType"] == "StepSucceeded")
assert step["Name"] == "add" and step["StepSucceededDetails"]["Result"]["Payload"] == "5", step
running = client.get_durable_execution(DurableExecutionArn=arn)
assert running["Status"] == "RUNNING" and running["DurableExecutionName"] == "order-1", running
listed = client.list_durable_executions_by_function(FunctionName="durable-order", Statuses=["RUNNING"])
assert [e["DurableExecutionArn"] for e in listed["DurableExecutions"]] == [arn], listed

# (3) The callback answered from outside ends the execution with the function's result.
answered = time.time()
client.send_durable_execution_callback_success(CallbackId=callback_id, Result=json.dumps({"approved": True}))
done = until("the execution to succeed", lambda: finished(arn))
print(f"measured: wait of 2 s held {waited:.3f} s; callback answered to execution succeeded (polled every 0.2 s): {time.time() - answered:.3f} s")
assert done["Status"] == "SUCCEEDED", done
assert json.loads(done["Result"]) == {"total": 5, "approval": {"approved": True}}, done
kinds = [e["EventType"] for e in history(arn)]
for kind in ["ExecutionStarted", "StepStarted", "StepSucceeded", "WaitStarted", "WaitSucceeded",
             "CallbackStarted", "CallbackSucceeded", "InvocationCompleted", "ExecutionSucceeded"]:
    assert kind in kinds, (kind, kinds)
assert kinds.count("InvocationCompleted") >= 3, kinds
try:
    client.send_durable_execution_callback_success(CallbackId=callback_id, Result=b"{}")
    raise AssertionError("a callback was answered twice")
except client.exceptions.InvalidParameterValueException:
    pass
try:
    client.send_durable_execution_callback_success(CallbackId="0123456789abcdef", Result=b"{}")
    raise AssertionError("an unknown callback was answered")
except client.exceptions.ResourceNotFoundException:
    pass
assert client.list_durable_executions_by_function(
    FunctionName="durable-order", Statuses=["SUCCEEDED"])["DurableExecutions"][0]["DurableExecutionArn"] == arn

# A synchronous Invoke waits for the whole execution (wait included) and answers its result.
create("durable-quick", QUICK)
began = time.time()
sync = client.invoke(FunctionName="durable-quick", Payload=json.dumps({"n": 21}))
assert sync["StatusCode"] == 200 and "FunctionError" not in sync, sync
assert json.loads(sync["Payload"].read()) == {"doubled": 42}
assert time.time() - began >= 1, "the wait was skipped"
print(f"measured: synchronous Invoke of a step and a 1 s wait: {time.time() - began:.3f} s")
assert "/durable-execution/" in sync["DurableExecutionArn"], sync

# StopDurableExecution ends a waiting execution; its callback can no longer be answered.
second = client.invoke(FunctionName="durable-order", InvocationType="Event",
                       DurableExecutionName="order-2", Payload=json.dumps({"a": 1, "b": 1}))["DurableExecutionArn"]
second_callback = until("the second callback", lambda: event_of(second, "CallbackStarted"))
stopped = client.stop_durable_execution(DurableExecutionArn=second, Error={"ErrorMessage": "not needed"})
assert "StopTimestamp" in stopped, stopped
after = client.get_durable_execution(DurableExecutionArn=second)
assert after["Status"] == "STOPPED" and after["Error"]["ErrorMessage"] == "not needed", after
try:
    client.send_durable_execution_callback_success(
        CallbackId=second_callback["CallbackStartedDetails"]["CallbackId"], Result=b"{}")
    raise AssertionError("a stopped execution's callback was answered")
except client.exceptions.InvalidParameterValueException:
    pass
# A callback answered with a failure (after a heartbeat) fails the execution that waits for it.
third = client.invoke(FunctionName="durable-order", InvocationType="Event",
                      DurableExecutionName="order-3", Payload=json.dumps({"a": 0, "b": 0}))["DurableExecutionArn"]
third_callback = until("the third callback", lambda: event_of(third, "CallbackStarted"))
third_id = third_callback["CallbackStartedDetails"]["CallbackId"]
client.send_durable_execution_callback_heartbeat(CallbackId=third_id)
client.send_durable_execution_callback_failure(
    CallbackId=third_id, Error={"ErrorType": "Rejected", "ErrorMessage": "not approved"})
failed = until("the third execution to fail", lambda: finished(third))
assert failed["Status"] == "FAILED", failed
assert "not approved" in json.dumps(failed["Error"]), failed
failed_event = event_of(third, "CallbackFailed")
assert failed_event["CallbackFailedDetails"]["Error"]["Payload"]["ErrorType"] == "Rejected", failed_event
try:
    client.get_durable_execution(DurableExecutionArn=arn.replace("order-1", "order-x"))
    raise AssertionError("an unknown execution was found")
except client.exceptions.ResourceNotFoundException:
    pass

# From inside, the function reaches only its own execution's checkpoint API, with no engine key.
create("durable-nosy", NOSY)
nosy = client.invoke(FunctionName="durable-nosy", Payload=json.dumps({"other": arn}))
answer = json.loads(nosy["Payload"].read())
assert answer["other"] == "AccessDeniedException", answer
assert answer["list"] not in ("allowed",), answer
assert answer["stop"] not in ("allowed",), answer
assert answer["key"] != key_id, answer
print("durable all: ok")
