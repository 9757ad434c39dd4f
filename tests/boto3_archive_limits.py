"""boto3 uploading code over Lambda's limits to the embedded engine: each refusal must come
back as the error AWS raises, with AWS's message. Usage: boto3_archive_limits.py ENDPOINT_URL ACCESS_KEY_ID SECRET_ACCESS_KEY (the engine's key)"""

import io
import os
import sys
import zipfile

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint = sys.argv[1]
client = boto3.client(
    "lambda",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id=sys.argv[2],
    aws_secret_access_key=sys.argv[3],
    config=Config(retries={"max_attempts": 1}, read_timeout=120),
)


def create(name, zip_bytes):
    return client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role="arn:aws:iam::000000000000:role/lambda-steps-test",
        Handler="app.handler",
        Code={"ZipFile": zip_bytes},
    )


# 251 MB of zeros deflate to a few hundred KB: small on the wire, over the unzipped limit.
bomb = io.BytesIO()
with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("app.py", "def handler(e, c):\n    return 1\n")
    with z.open("padding.bin", "w", force_zip64=True) as f:
        zeros = b"\0" * (1 << 20)
        for _ in range(251):
            f.write(zeros)
print("bomb:", len(bomb.getvalue()), "bytes zipped")
try:
    create("bomb", bomb.getvalue())
    sys.exit("a zip unpacking to 251 MB was accepted")
except client.exceptions.InvalidParameterValueException as e:
    message = e.response["Error"]["Message"]
    assert message == "Unzipped size must be smaller than 262144000 bytes", message

# An entry that leaves the task root.
escape = io.BytesIO()
with zipfile.ZipFile(escape, "w") as z:
    z.writestr("app.py", "def handler(e, c):\n    return 1\n")
    z.writestr("../../outside.py", "x = 1\n")
try:
    create("escape", escape.getvalue())
    sys.exit("a zip with ../ paths was accepted")
except client.exceptions.InvalidParameterValueException as e:
    assert "leaves the function's directory" in e.response["Error"]["Message"], e.response

# Over 50 MB zipped (random bytes do not compress).
big = io.BytesIO()
with zipfile.ZipFile(big, "w", zipfile.ZIP_STORED) as z:
    z.writestr("app.py", "def handler(e, c):\n    return 1\n")
    z.writestr("blob.bin", os.urandom(51 * 1024 * 1024))
try:
    create("big", big.getvalue())
    sys.exit("a 51 MB zip was accepted")
except ClientError as e:
    error = e.response["Error"]
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 413, e.response
    assert error["Code"] == "RequestEntityTooLargeException", error
    assert error["Message"] == "Request must be smaller than 69905067 bytes for the CreateFunction operation", error

names = [f["FunctionName"] for f in client.list_functions()["Functions"]]
assert names == [], names
print("boto3 archive limits: ok")
