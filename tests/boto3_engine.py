"""boto3 against the embedded engine: what a Python user of the AWS SDK does, in all three
languages, with the typed exceptions boto3 raises. Usage: boto3_engine.py ENDPOINT_URL ACCESS_KEY_ID SECRET_ACCESS_KEY (the engine's key)"""

import base64
import io
import json
import sys
import zipfile

import boto3
from botocore.config import Config

endpoint = sys.argv[1]
client = boto3.client(
    "lambda",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id=sys.argv[2],
    aws_secret_access_key=sys.argv[3],
    config=Config(retries={"max_attempts": 1}),
)


def zipped(name, source):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(name, source)
    return buf.getvalue()


FUNCTIONS = {
    "python3.12": ("lambda_function.py", "lambda_function.lambda_handler",
                   "def lambda_handler(event, context):\n    print('py printing')\n    return {'lang': 'python', 'n': event['n']}\n"),
    "nodejs20.x": ("index.mjs", "index.handler",
                   "export const handler = async (event) => { console.log('node printing'); return { lang: 'node', n: event.n }; };\n"),
    "ruby3.3": ("lambda_function.rb", "lambda_function.lambda_handler",
                "def lambda_handler(event:, context:)\n  puts 'ruby printing'\n  { 'lang' => 'ruby', 'n' => event['n'] }\nend\n"),
}

for runtime, (file_name, handler, source) in FUNCTIONS.items():
    name = "boto-" + runtime.replace(".", "-")
    created = client.create_function(
        FunctionName=name, Runtime=runtime, Role="arn:aws:iam::000000000000:role/test",
        Handler=handler, Code={"ZipFile": zipped(file_name, source)}, Timeout=10,
    )
    assert created["State"] == "Active", created
    client.get_waiter("function_active_v2").wait(FunctionName=name)
    out = client.invoke(FunctionName=name, Payload=json.dumps({"n": 7}), LogType="Tail")
    assert out["StatusCode"] == 200, out
    assert "FunctionError" not in out, out
    result = json.loads(out["Payload"].read())
    assert result == {"lang": runtime.rstrip("0123456789.x").replace("nodejs", "node"), "n": 7}, result
    log = base64.b64decode(out["LogResult"]).decode()
    assert "printing" in log and "REPORT RequestId" in log, log
    client.delete_function(FunctionName=name)
    try:
        client.get_function(FunctionName=name)
        raise AssertionError("deleted function still there")
    except client.exceptions.ResourceNotFoundException:
        pass

try:
    client.invoke(FunctionName="never-created")
    raise AssertionError("invoke of a missing function succeeded")
except client.exceptions.ResourceNotFoundException as e:
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404

client.create_function(FunctionName="boto-dup", Runtime="python3.12", Role="arn:aws:iam::000000000000:role/test",
                       Handler="a.h", Code={"ZipFile": zipped("a.py", "def h(e, c):\n    return 1\n")})
try:
    client.create_function(FunctionName="boto-dup", Runtime="python3.12", Role="arn:aws:iam::000000000000:role/test",
                           Handler="a.h", Code={"ZipFile": zipped("a.py", "def h(e, c):\n    return 1\n")})
    raise AssertionError("duplicate create succeeded")
except client.exceptions.ResourceConflictException:
    pass
try:
    client.invoke(FunctionName="boto-dup", Payload=b"x" * (6 * 1024 * 1024 + 10))
    raise AssertionError("oversized payload accepted")
except client.exceptions.RequestTooLargeException:
    pass

print("boto3 conformance: ok")
