"""AWS's testing SDK for durable functions (aws-durable-execution-sdk-python-testing), its
cloud runner pointed at the engine as it would be at AWS: an independent client of the
engine's Invoke, GetDurableExecution, GetDurableExecutionHistory and
SendDurableExecutionCallbackSuccess, whose own checks must pass on a function with a step
retried once, a wait, a callback and a child context.

Usage: durable_cloud_runner.py ENDPOINT_URL ACCESS_KEY_ID SECRET_ACCESS_KEY"""

import json
import os
import sys

from aws_durable_execution_sdk_python.execution import InvocationStatus
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionCloudTestRunner
from durable_functions import create_durable, engine_client

endpoint, key_id, secret = sys.argv[1:4]
# The runner makes its own boto3 client from the environment, as it would against AWS.
os.environ.update(AWS_ACCESS_KEY_ID=key_id, AWS_SECRET_ACCESS_KEY=secret, AWS_DEFAULT_REGION="us-east-1")

SOURCE = """
import json
from aws_durable_execution_sdk_python import DurableContext, StepContext, durable_execution, durable_with_child_context
from aws_durable_execution_sdk_python.config import Duration, StepConfig
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy

def flaky(step: StepContext):
    if step.attempt < 2:
        raise RuntimeError("first attempt fails")
    return "second attempt"

@durable_with_child_context
def inner(context: DurableContext, n: int):
    return context.step(lambda _: n * 10, name="times-ten")

@durable_execution
def handler(event, context: DurableContext):
    retry = create_retry_strategy(RetryStrategyConfig(max_attempts=3, initial_delay=Duration.from_seconds(1)))
    flaked = context.step(flaky, name="flaky", config=StepConfig(retry_strategy=retry))
    context.wait(Duration.from_seconds(1), name="breath")
    approval = json.loads(context.create_callback(name="approval").result())
    tens = context.run_in_child_context(inner(event["n"]), name="child")
    return {"flaked": flaked, "approval": approval, "tens": tens}
"""

create_durable(engine_client(endpoint, key_id, secret), "durable-cloud", SOURCE, 300)

runner = DurableFunctionCloudTestRunner("durable-cloud", region="us-east-1", lambda_endpoint=endpoint, poll_interval=0.2)
arn = runner.run_async(input={"n": 4}, timeout=60)
callback_id = runner.wait_for_callback(arn, name="approval", timeout=60)
runner.send_callback_success(callback_id, json.dumps({"by": "cloud-runner"}).encode())
result = runner.wait_for_result(arn, timeout=60)

assert result.status is InvocationStatus.SUCCEEDED, (result.status, result.error)
assert json.loads(result.result) == {"flaked": "second attempt", "approval": {"by": "cloud-runner"}, "tens": 40}, result.result
flaky = result.get_step("flaky")
assert flaky.attempt == 2 and json.loads(flaky.result) == "second attempt", flaky
assert result.get_wait("breath").status.value == "SUCCEEDED"
assert json.loads(result.get_callback("approval").result) == {"by": "cloud-runner"}
child = result.get_context("child")
assert json.loads(child.result) == 40, child
print("durable cloud runner: ok")
