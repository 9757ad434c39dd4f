# A local process with no credentials of the engine: boto3 with a key the engine never
# issued, asking what project A's code asks from inside. Prints one JSON object: per case,
# what each call answered.
import json
import sys

import boto3
import botocore.config
import botocore.exceptions

engine, victim = sys.argv[1], sys.argv[2]
session = boto3.Session(aws_access_key_id="AKIAOUTSIDER00000000", aws_secret_access_key="not-the-engine-key", region_name="us-east-1")
config = botocore.config.Config(retries={"max_attempts": 1})
lambda_ = session.client("lambda", endpoint_url=engine, config=config)
logs = session.client("logs", endpoint_url=engine, config=config)
calls = {
    "ListFunctions": lambda: lambda_.list_functions(),
    "GetFunctionConfiguration": lambda: lambda_.get_function_configuration(FunctionName=victim),
    "FilterLogEvents": lambda: logs.filter_log_events(logGroupName=f"/aws/lambda/{victim}"),
    "Invoke": lambda: lambda_.invoke(FunctionName=victim, Payload=b"{}"),
}
out = []
for name, call in calls.items():
    try:
        answer = call()
        out.append({"target": name, "status": 200, "body": json.dumps(answer, default=str)[:2000]})
    except botocore.exceptions.ClientError as e:
        out.append({"target": name, "status": e.response["ResponseMetadata"]["HTTPStatusCode"], "error_type": e.response["Error"]["Code"], "body": str(e)})
print(json.dumps(out))
