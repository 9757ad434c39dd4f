"""boto3 against the engine's Lambda and CloudWatch Logs APIs: answered when signed with the
engine's key, and each refusal raised as the ClientError AWS's own 403 gives (no signature,
another key id, a wrong secret, a date outside 15 minutes).
Usage: boto3_signatures.py ENDPOINT_URL ACCESS_KEY_ID SECRET_ACCESS_KEY (the engine's key)"""

import datetime
import sys

import boto3
import botocore
import botocore.auth
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, key_id, secret = sys.argv[1:4]
real_clock = botocore.auth.get_current_datetime


def clients(access_key_id=key_id, secret_access_key=secret, unsigned=False, region="us-east-1"):
    config = Config(retries={"total_max_attempts": 1})
    if unsigned:
        config = config.merge(Config(signature_version=botocore.UNSIGNED))
    common = dict(endpoint_url=endpoint, region_name=region, aws_access_key_id=access_key_id,
                  aws_secret_access_key=secret_access_key, config=config)
    return [("lambda", boto3.client("lambda", **common).list_functions),
            ("logs", boto3.client("logs", **common).describe_log_groups)]


for region in ["us-east-1", "ap-southeast-2"]:
    for api, call in clients(region=region):
        call()

CASES = [
    ("no signature", dict(unsigned=True), 0, "MissingAuthenticationTokenException", "Missing Authentication Token"),
    ("another key id", dict(access_key_id="AKIDSOMEONEELSE12345"), 0, "UnrecognizedClientException",
     "The security token included in the request is invalid."),
    ("a wrong secret", dict(secret_access_key="not-the-engines-secret"), 0, "InvalidSignatureException",
     "The request signature we calculated does not match"),
    ("a date 20 minutes old", {}, -20, "InvalidSignatureException", "Signature expired: "),
    ("a date 20 minutes ahead", {}, 20, "InvalidSignatureException", "Signature not yet current: "),
]
for what, settings, minutes_off, code, message in CASES:
    botocore.auth.get_current_datetime = lambda: real_clock() + datetime.timedelta(minutes=minutes_off)
    for api, call in clients(**settings):
        try:
            call()
        except ClientError as e:
            error, status = e.response["Error"], e.response["ResponseMetadata"]["HTTPStatusCode"]
            assert (status, error["Code"]) == (403, code), (api, what, status, error)
            assert error["Message"].startswith(message), (api, what, error)
            print(f"{api}, {what}: {code}")
        else:
            raise AssertionError(f"{api} answered a call with {what}")
    botocore.auth.get_current_datetime = real_clock

print("boto3 signatures: ok")
