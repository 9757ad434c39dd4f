"""What the scripts that drive durable functions on the engine share (imported by
boto3_durable.py, boto3_durable_step.py and durable_cloud_runner.py, which sit beside it):
a boto3 Lambda client of the engine, and a durable Python function created from the
source of its one file, app.py."""

import io
import zipfile

import boto3
from botocore.config import Config


def engine_client(endpoint, key_id, secret):
    """A Lambda client of the engine at `endpoint`, signing with its key; one attempt a
    call, so a script sees each of the engine's answers as it is."""
    return boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )


def zipped(source):
    """A zip holding `source` as app.py."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def create_durable(client, name, source, timeout, retention_days=None):
    """Creates the durable function `name` (python3.12, handler app.handler) with an
    ExecutionTimeout of `timeout` seconds and, when given, a retention; answers
    CreateFunction's answer."""
    config = {"ExecutionTimeout": timeout}
    if retention_days is not None:
        config["RetentionPeriodInDays"] = retention_days
    return client.create_function(
        FunctionName=name, Runtime="python3.12", Role="arn:aws:iam::000000000000:role/test",
        Handler="app.handler", Code={"ZipFile": zipped(source)}, Timeout=30, DurableConfig=config,
    )
