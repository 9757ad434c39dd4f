"""lambda-steps-client against a real service: submit, follow (live, resumed, polled),
wait, the outcome's errors, cancel, idempotency, the API's errors, the asyncio client."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from lambda_steps_client import ApiError, AsyncClient, Client, LogLine, RunFailed

TICKER = """
import time

def lambda_handler(event, context):
    for n in range(event['n']):
        print('tick', n, flush=True)
        time.sleep(0.05)
    return {'ticks': event['n']}
"""


def custom(code: str, payload: object) -> dict:
    return {"type": "lambda_custom_code", "runtime": "python3.12", "code": code, "payload": payload}


def assert_whole(lines: list[LogLine]) -> None:
    """Every seq from 1, once, in order."""
    assert [line.seq for line in lines] == list(range(1, len(lines) + 1)), [line.seq for line in lines]


def test_a_run_is_followed_to_its_result(client: Client) -> None:
    run = client.submit("default", custom(TICKER, {"n": 5}))
    assert run.status == "queued" and not run.finished
    lines: list[LogLine] = []
    finished = client.wait(run.id, on_line=lines.append)
    assert finished.raise_for_outcome().result.payload == {"ticks": 5}
    assert_whole(lines)
    printed = [line.message for line in lines if line.source == "function" and line.message.startswith("tick")]
    assert printed == [f"tick {n}" for n in range(5)]
    assert any(line.source == "runner" and line.message == "run succeeded" for line in lines)
    # Following from a seq gives only what came after it.
    assert [line.seq for line in client.follow(run.id, after=3)] == [line.seq for line in lines[3:]]


def test_a_cut_events_stream_is_resumed_from_the_last_seq(service: tuple[str, str], proxy_factory) -> None:
    proxy = proxy_factory(cut_after=4)
    with Client(proxy.url, service[1]) as client:
        run = client.submit("default", custom(TICKER, {"n": 6}))
        lines: list[LogLine] = []
        for line in client.follow(run.id):
            lines.append(line)
            assert len(lines) < 100, "a follower that does not resume where it was reads the same lines forever"
        assert client.run(run.id).status == "succeeded"
    assert_whole(lines)
    assert len(proxy.resumed_from) >= 3, proxy.resumed_from
    # Each reconnect asks for what follows the last line it got.
    assert proxy.resumed_from[:3] == ["0", "4", "8"], proxy.resumed_from
    assert proxy.log_polls == 0


def test_without_the_events_stream_the_log_is_polled(service: tuple[str, str], proxy_factory) -> None:
    proxy = proxy_factory(refuse_events=True)
    with Client(proxy.url, service[1], poll_interval=0.1) as client:
        run = client.submit("default", custom(TICKER, {"n": 3}))
        lines = list(client.follow(run.id))
        assert client.run(run.id).status == "succeeded"
    assert_whole(lines)
    assert [line.message for line in lines if line.message.startswith("tick")] == ["tick 0", "tick 1", "tick 2"]
    assert proxy.log_polls >= 1


def test_a_failing_function_raises_its_type_and_message(client: Client) -> None:
    code = "def lambda_handler(event, context):\n    raise KeyError('no such host: ' + event['host'])\n"
    run = client.wait(client.submit("default", custom(code, {"host": "db-1"})).id)
    assert run.status == "failed" and run.error.code == "function_error"
    assert run.result.error.type == "KeyError"
    with pytest.raises(RunFailed) as failed:
        run.raise_for_outcome()
    assert str(failed.value).startswith("KeyError: 'no such host: db-1'"), str(failed.value)
    assert failed.value.run.id == run.id


def test_a_running_step_is_cancelled(client: Client) -> None:
    code = "import time\n\ndef lambda_handler(event, context):\n    print('sleeping', flush=True)\n    time.sleep(60)\n"
    run = client.submit("default", custom(code, {}))
    for line in client.follow(run.id):
        if line.message == "sleeping":
            assert client.cancel(run.id).id == run.id
            break
    finished = client.wait(run.id)
    assert finished.status == "cancelled", finished
    with pytest.raises(RunFailed, match="cancelled"):
        finished.raise_for_outcome()
    assert client.cancel(run.id) is None, "a finished run cannot be cancelled"


def test_the_same_idempotency_key_answers_the_first_run(client: Client) -> None:
    key = f"client-test-{uuid.uuid4()}"
    first = client.submit("default", custom(TICKER, {"n": 1}), idempotency_key=key)
    again = client.submit("default", custom(TICKER, {"n": 1}), idempotency_key=key)
    assert again.id == first.id
    client.wait(first.id).raise_for_outcome()


def test_the_apis_refusal_names_the_field(client: Client) -> None:
    with pytest.raises(ApiError) as refused:
        client.submit("default", {"type": "lambda_custom_code", "runtime": "cobol", "code": "x"})
    assert refused.value.status == 422 and refused.value.code == "invalid_field"
    assert refused.value.field == "step.runtime", refused.value
    with pytest.raises(ApiError) as missing:
        client.run(str(uuid.uuid4()))
    assert missing.value.status == 404 and missing.value.code == "not_found"


def test_projects_and_settings(client: Client) -> None:
    name = f"client-{uuid.uuid4().hex[:8]}"
    assert client.put_project(name) is True
    assert client.put_project(name) is False
    assert name in client.projects()
    resolved = client.put_settings(name, {"project.aws.region": "eu-west-1"})
    assert resolved["project.aws.region"] == {"value": "eu-west-1", "source": "project"}
    assert client.settings(name)["project.aws.region"]["source"] == "project"
    assert client.whoami()["role"] == "admin"


def test_the_asyncio_client_waits_for_the_same_outcome(service: tuple[str, str], client: Client) -> None:
    run = client.submit("default", custom(TICKER, {"n": 2}))

    async def wait() -> tuple[object, list[str]]:
        lines: list[str] = []
        async with AsyncClient(*service) as aclient:
            finished = await aclient.wait(run.id, on_line=lambda line: lines.append(line.message))
        return finished, lines

    finished, lines = asyncio.run(wait())
    assert finished.raise_for_outcome().result.payload == {"ticks": 2}
    assert "tick 1" in lines and lines[-1] == "run succeeded", lines
