"""A client generated from the committed spec (openapi-python-client) drives a real service:
submits both step kinds, saves a step and runs it with a payload that is not an object, and
reads every run back through the generated models, so the Step, Run and RunResult schemas
must describe what the service really answers.

Usage: generated_client.py SPEC SERVICE_URL TOKEN WORK_DIR
"""

import subprocess
import sys
import time
from pathlib import Path

spec, url, token, work = sys.argv[1:5]
package = Path(work) / "lambda_steps_client"
subprocess.run(
    [
        str(Path(sys.executable).parent / "openapi-python-client"),
        "generate",
        "--path",
        spec,
        "--meta",
        "none",
        "--output-path",
        str(package),
    ],
    check=True,
    capture_output=True,
)
sys.path.insert(0, work)

from lambda_steps_client import AuthenticatedClient  # noqa: E402
from lambda_steps_client.api.logs import get_run_logs  # noqa: E402
from lambda_steps_client.api.runs import get_run, list_runs, submit_run  # noqa: E402
from lambda_steps_client.api.steps import run_saved_step, save_step  # noqa: E402
from lambda_steps_client.models import (  # noqa: E402
    CustomCodeStep,
    CustomCodeStepRuntime,
    CustomCodeStepType,
    InvocationType,
    InvokeStep,
    InvokeStepType,
    LogPage,
    Run,
    RunPage,
    RunResult,
    RunSavedStep,
    RunStatus,
    SavedStep,
    SaveStep,
    SubmitRun,
)

# Any status the spec does not list raises.
client = AuthenticatedClient(base_url=url, token=token, raise_on_unexpected_status=True)
FINISHED = {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.TIMED_OUT, RunStatus.CANCELLED}


def finished(run: Run) -> Run:
    for _ in range(600):
        answer = get_run.sync_detailed(run.id, client=client)
        assert answer.status_code == 200, answer
        assert isinstance(answer.parsed, Run), answer.content
        if answer.parsed.status in FINISHED:
            return answer.parsed
        time.sleep(0.1)
    raise AssertionError(f"run {run.id} did not finish in 60 s")


def submitted(step) -> Run:
    answer = submit_run.sync_detailed("default", client=client, body=SubmitRun(step=step))
    assert answer.status_code == 202, answer.content
    assert isinstance(answer.parsed, Run), answer.content
    return answer.parsed


invoke = submitted(
    InvokeStep(
        type_=InvokeStepType.LAMBDA_INVOKE,
        function_name="no-such-function",
        payload={"any": ["json", 1, None]},
        invocation_type=InvocationType.REQUESTRESPONSE,
        client_context={"custom": {"k": "v"}},
    )
)
assert isinstance(invoke.step, InvokeStep), invoke.step
invoke = finished(invoke)
assert invoke.status == RunStatus.FAILED, invoke
assert invoke.error.code == "lambda_error", invoke.error

code = 'def lambda_handler(event, context):\n    print("hello from the generated client")\n    return "done: " + event["who"]\n'
custom = submitted(
    CustomCodeStep(
        type_=CustomCodeStepType.LAMBDA_CUSTOM_CODE,
        runtime=CustomCodeStepRuntime.PYTHON3_12,
        code=code,
        payload={"who": "client"},
        timeout_seconds=30,
        memory_mb=128,
    )
)
assert isinstance(custom.step, CustomCodeStep), custom.step
custom = finished(custom)
assert custom.status == RunStatus.SUCCEEDED, custom
assert isinstance(custom.result, RunResult), custom.result
assert custom.result.payload == "done: client", custom.result

# A saved step run with a payload that is not an object.
saved = save_step.sync_detailed(
    "default",
    "echo",
    client=client,
    body=SaveStep(
        step=CustomCodeStep(
            type_=CustomCodeStepType.LAMBDA_CUSTOM_CODE,
            runtime=CustomCodeStepRuntime.PYTHON3_12,
            code="def lambda_handler(event, context):\n    return event\n",
        )
    ),
)
assert saved.status_code == 201, saved.content
assert isinstance(saved.parsed, SavedStep) and isinstance(saved.parsed.step, CustomCodeStep), saved.content
again = run_saved_step.sync_detailed("default", "echo", client=client, body=RunSavedStep(payload=[1, "two", None]))
assert again.status_code == 202, again.content
echoed = finished(again.parsed)
assert echoed.status == RunStatus.SUCCEEDED and echoed.result.payload == [1, "two", None], echoed

page = list_runs.sync_detailed("default", client=client, limit=200)
assert isinstance(page.parsed, RunPage), page.content
assert {run.id for run in page.parsed.items} >= {invoke.id, custom.id, echoed.id}, page.parsed
for run in page.parsed.items:
    assert isinstance(run.step, (InvokeStep, CustomCodeStep)), run.step

logs = get_run_logs.sync_detailed(custom.id, client=client, limit=5000)
assert isinstance(logs.parsed, LogPage) and logs.parsed.completed, logs.content
assert any("hello from the generated client" in entry.message for entry in logs.parsed.items), logs.parsed

print("generated client: ok")
