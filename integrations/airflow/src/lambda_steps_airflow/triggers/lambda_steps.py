"""The trigger a deferred lambda-steps operator waits in: it follows the run's log in the
triggerer's event loop (so no worker slot is held while a long step runs), writes each line
to the task's log, and fires once the run is over."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent
from lambda_steps_client import LambdaStepsError

from lambda_steps_airflow.hooks.lambda_steps import LambdaStepsHook, log_run_line


class LambdaStepsRunTrigger(BaseTrigger):
    """Fires `{"status": "finished", "run": RUN}` when run `run_id` is over, or
    `{"status": "error", "message"}` when the service could not be followed.

    :param run_id: the run to wait for
    :param lambda_steps_conn_id: the `lambda_steps` connection it was submitted through
    :param after: log lines up to this seq were already written to the task log
    """

    def __init__(self, *, run_id: str, lambda_steps_conn_id: str, after: int = 0) -> None:
        super().__init__()
        self.run_id = run_id
        self.lambda_steps_conn_id = lambda_steps_conn_id
        self.after = after

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"run_id": self.run_id, "lambda_steps_conn_id": self.lambda_steps_conn_id, "after": self.after},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = LambdaStepsHook(self.lambda_steps_conn_id)
        try:
            async with await hook.aget_client() as client:
                run = await client.wait(self.run_id, after=self.after, on_line=lambda line: log_run_line(self.log, line))
        except LambdaStepsError as e:
            yield TriggerEvent({"status": "error", "run_id": self.run_id, "message": str(e)})
            return
        yield TriggerEvent({"status": "finished", "run_id": self.run_id, "run": run.raw})

    async def on_kill(self) -> None:
        """The task was killed while deferred (marked failed or success, cleared): cancel
        the run, so its function stops and is cleaned up."""
        async with await LambdaStepsHook(self.lambda_steps_conn_id).aget_client() as client:
            await client.cancel(self.run_id)
        self.log.info("lambda-steps: cancelled run %s", self.run_id)
