"""The durable functions the durable-step tests run as steps, and what the tests ask of
the engine about their executions, through boto3 as a user would.

Usage: boto3_durable_step.py ENDPOINT_URL ACCESS_KEY_ID SECRET_ACCESS_KEY COMMAND NAME
COMMAND: `create-adder NAME` (a step "add" then a wait "pause" of WAIT seconds, given as a
sixth argument), `create-sleeper NAME` (a step then a wait of 120 s), `create-failer NAME` (a step, then
an exception), `create-approver NAME` (a callback "approval", a wait "linger" of the
payload's `linger` seconds when it has one, then a step "apply" that returns what the callback
was completed with), `create-runbook NAME` (a step "check", a wait "catch-up" of the
payload's `wait` seconds (10 by default), a `wait_for_callback` "approval" whose submitter
prints the callback id, then a step "failover" that returns what the approval said),
`approve NAME CALLBACK_ID` (SendDurableExecutionCallbackSuccess straight
to Lambda), or `executions NAME`
(prints `execution STATUS` for each of the function's executions)."""

import sys

from durable_functions import create_durable, engine_client

endpoint, key_id, secret, command, name = sys.argv[1:6]
client = engine_client(endpoint, key_id, secret)

ADDER = """
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration

@durable_execution
def handler(event, context: DurableContext):
    total = context.step(lambda _: event["a"] + event["b"], name="add")
    context.wait(Duration.from_seconds(WAIT), name="pause")
    return {"total": total}
"""

SLEEPER = """
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration

@durable_execution
def handler(event, context: DurableContext):
    context.step(lambda _: "ready", name="prepare")
    context.wait(Duration.from_seconds(120), name="long")
    return "woke"
"""

FAILER = """
from aws_durable_execution_sdk_python import DurableContext, durable_execution

@durable_execution
def handler(event, context: DurableContext):
    context.step(lambda _: "checked", name="check")
    raise ValueError("the replica is too far behind")
"""

APPROVER = """
import json

from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration

@durable_execution
def handler(event, context: DurableContext):
    approval = json.loads(context.create_callback(name="approval").result())
    if event.get("linger"):
        context.wait(Duration.from_seconds(event["linger"]), name="linger")
    applied = context.step(lambda _: "applied " + event["change"], name="apply")
    return {"approval": approval, "applied": applied}
"""

RUNBOOK = """
import json

from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration

@durable_execution
def handler(event, context: DurableContext):
    lag = context.step(lambda _: {"replica": event["replica"], "lag_s": 42}, name="check")
    context.wait(Duration.from_seconds(event.get("wait", 10)), name="catch-up")
    approval = context.wait_for_callback(
        lambda callback_id, _: print("approve failover with callback", callback_id), name="approval"
    )
    approval = json.loads(approval) if isinstance(approval, str) else approval
    done = context.step(lambda _: "promoted " + event["replica"], name="failover")
    return {"checked": lag, "approval": approval, "failover": done}
"""


def create(source):
    create_durable(client, name, source, 600, retention_days=1)


if command == "create-adder":
    create(ADDER.replace("WAIT", sys.argv[6]))
elif command == "create-sleeper":
    create(SLEEPER)
elif command == "create-failer":
    create(FAILER)
elif command == "create-approver":
    create(APPROVER)
elif command == "create-runbook":
    create(RUNBOOK)
elif command == "approve":
    client.send_durable_execution_callback_success(CallbackId=sys.argv[6], Result=b'"straight to Lambda"')
elif command == "executions":
    listed = client.list_durable_executions_by_function(FunctionName=name)
    for execution in listed["DurableExecutions"]:
        print("execution", execution["Status"], execution["DurableExecutionName"])
else:
    raise SystemExit(f"unknown command {command}")
print(f"durable-step {command}: ok")
