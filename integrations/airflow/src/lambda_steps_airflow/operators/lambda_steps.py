"""The operators that run a lambda-steps step: Invoke (an existing function) and Custom
Code (code written in the DAG). Their keyword arguments are the API's step fields by the
same names; the run's log goes to the task log, the function's answer is the return value."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator, Context, conf
from airflow.sdk.exceptions import AirflowException, AirflowFailException
from lambda_steps_client import OutcomeUnknown, Run, RunFailed

from lambda_steps_airflow.hooks.lambda_steps import LambdaStepsHook, log_run_line
from lambda_steps_airflow.triggers.lambda_steps import LambdaStepsRunTrigger


class LambdaStepsRunFailed(AirflowException):
    """The run ended without succeeding; the message leads with the function's error type
    and message when the function failed."""


class LambdaStepsBaseOperator(BaseOperator):
    """Submits a step, follows its log into the task log, and answers the result payload.

    :param project: the lambda-steps project (default: the connection's `project` extra)
    :param lambda_steps_conn_id: the `lambda_steps` connection
    :param deferrable: wait for the run in the triggerer, not in a worker slot
        (default: `[operators] default_deferrable`)
    """

    ui_color = "#ff9900"

    def __init__(
        self,
        *,
        project: str | None = None,
        lambda_steps_conn_id: str = LambdaStepsHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.project = project
        self.lambda_steps_conn_id = lambda_steps_conn_id
        self.deferrable = deferrable
        self.run_id: str | None = None

    def step(self) -> dict[str, Any]:
        """The API's step object."""
        raise NotImplementedError

    def execute(self, context: Context) -> Any:
        hook = LambdaStepsHook(self.lambda_steps_conn_id)
        project = self.project or hook.project
        with hook.get_conn() as client:
            run = client.submit(project, self.step(), idempotency_key=_idempotency_key(context))
            self.run_id = run.id
            context["ti"].xcom_push(key="run_id", value=run.id)
            self.log.info("lambda-steps: run %s submitted in project %s (%s)", run.id, project, client.url)
            if self.deferrable:
                self.defer(
                    trigger=LambdaStepsRunTrigger(run_id=run.id, lambda_steps_conn_id=self.lambda_steps_conn_id),
                    method_name="execute_complete",
                )
            run = client.wait(run.id, on_line=lambda line: log_run_line(self.log, line))
        return self._outcome(run)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Back from the trigger: the finished run, or why it could not be followed."""
        if event.get("status") != "finished":
            raise AirflowException(f"lambda-steps: run {event.get('run_id')}: {event.get('message')}")
        return self._outcome(Run.from_json(event["run"]))

    def _outcome(self, run: Run) -> Any:
        try:
            run.raise_for_outcome()
        except OutcomeUnknown as e:
            # Retrying would submit the step again and could run the function twice.
            raise AirflowFailException(str(e)) from None
        except RunFailed as e:
            raise LambdaStepsRunFailed(str(e)) from None
        self.log.info("lambda-steps: run %s succeeded", run.id)
        return run.result.payload if run.result else None

    def on_kill(self) -> None:
        """The task is being killed: cancel the run (its function stops and is cleaned up)."""
        if self.run_id is None:
            return
        with LambdaStepsHook(self.lambda_steps_conn_id).get_conn() as client:
            client.cancel(self.run_id)
        self.log.info("lambda-steps: cancelled run %s", self.run_id)


class LambdaStepsInvokeOperator(LambdaStepsBaseOperator):
    """Invokes an existing function (`lambda_invoke`).

    :param function_name: name, partial ARN or ARN, optionally with `:qualifier`
    :param payload: the event (any JSON value; templated)
    :param invocation_type: `RequestResponse` (default), `Event` or `DryRun`
    :param qualifier: a version or alias
    :param client_context: a JSON object handed to the function (synchronous calls only)
    """

    template_fields: Sequence[str] = ("function_name", "payload", "qualifier", "client_context", "project")
    template_fields_renderers = {"payload": "json", "client_context": "json"}

    def __init__(
        self,
        *,
        function_name: str,
        payload: Any = None,
        invocation_type: str | None = None,
        qualifier: str | None = None,
        client_context: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.function_name = function_name
        self.payload = payload
        self.invocation_type = invocation_type
        self.qualifier = qualifier
        self.client_context = client_context

    def step(self) -> dict[str, Any]:
        return _without_none(
            type="lambda_invoke",
            function_name=self.function_name,
            payload=self.payload,
            invocation_type=self.invocation_type,
            qualifier=self.qualifier,
            client_context=self.client_context,
        )


class LambdaStepsCustomCodeOperator(LambdaStepsBaseOperator):
    """Creates a function from `code`, invokes it, and cleans it up (`lambda_custom_code`).

    :param runtime: e.g. `python3.12`, `nodejs20.x`, `ruby3.3`
    :param code: the source (templated)
    :param handler: default `lambda_function.lambda_handler` (`index.handler` for Node.js)
    :param payload: the event (templated)
    :param timeout_seconds, memory_mb, environment, role_arn, keep_function, packages,
        description, tags, durable, durable_config: as the API's custom-code step
    """

    template_fields: Sequence[str] = ("code", "payload", "environment", "description", "project")
    template_fields_renderers = {"code": "py", "payload": "json", "environment": "json"}

    def __init__(
        self,
        *,
        runtime: str,
        code: str,
        handler: str | None = None,
        payload: Any = None,
        timeout_seconds: int | None = None,
        memory_mb: int | None = None,
        environment: dict[str, str] | None = None,
        role_arn: str | None = None,
        keep_function: bool | None = None,
        packages: list[str] | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        durable: bool | None = None,
        durable_config: dict[str, int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.runtime = runtime
        self.code = code
        self.handler = handler
        self.payload = payload
        self.timeout_seconds = timeout_seconds
        self.memory_mb = memory_mb
        self.environment = environment
        self.role_arn = role_arn
        self.keep_function = keep_function
        self.packages = packages
        self.description = description
        self.tags = tags
        self.durable = durable
        self.durable_config = durable_config

    def step(self) -> dict[str, Any]:
        return _without_none(
            type="lambda_custom_code",
            runtime=self.runtime,
            code=self.code,
            handler=self.handler,
            payload=self.payload,
            timeout_seconds=self.timeout_seconds,
            memory_mb=self.memory_mb,
            environment=self.environment,
            role_arn=self.role_arn,
            keep_function=self.keep_function,
            packages=self.packages,
            description=self.description,
            tags=self.tags,
            durable=self.durable,
            durable_config=self.durable_config,
        )


def _without_none(**fields: Any) -> dict[str, Any]:
    """The step with the fields left unset out, so the service's defaults apply."""
    return {name: value for name, value in fields.items() if value is not None}


def _idempotency_key(context: Context) -> str:
    """One key per task try: a resubmission of the same try (a worker that lost its answer)
    finds the first run; a retry, a new try, is a new run."""
    ti = context["ti"]
    key = f"airflow:{ti.dag_id}:{ti.run_id}:{ti.task_id}:{ti.map_index}:{ti.try_number}"
    if len(key) > 255 or not key.isascii() or not key.isprintable():
        key = "airflow:" + hashlib.sha256(key.encode()).hexdigest()
    return key
