"""What the client raises: the API refused a request (`ApiError`, with the API's error
code, message and field), or a run ended without succeeding (`RunFailed`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lambda_steps_client.models import Run


class LambdaStepsError(Exception):
    """Everything this client raises."""


class ApiError(LambdaStepsError):
    """The API answered an error: `{"error": {"code", "message", "field"?}}`."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        where = f" ({field})" if field else ""
        super().__init__(f"HTTP {status} {code}{where}: {message}")

    @classmethod
    def from_response(cls, status: int, body: Any, text: str) -> ApiError:
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            return cls(status, str(error.get("code", "unknown")), str(error.get("message", "")), error.get("field"))
        return cls(status, "unexpected_answer", text[:500])


class RunNotFinished(LambdaStepsError):
    def __init__(self, run: Run) -> None:
        self.run = run
        super().__init__(f"run {run.id} is still {run.status}")


class RunFailed(LambdaStepsError):
    """A run ended `failed`, `timed_out` or `cancelled`. The message leads with the
    function's error type and message where the function failed."""

    def __init__(self, run: Run) -> None:
        self.run = run
        super().__init__(self.describe(run))

    @staticmethod
    def describe(run: Run) -> str:
        function_error = run.result.error if run.result else None
        if function_error is not None and (function_error.type or function_error.message):
            return f"{function_error} (run {run.id} {run.status})"
        if run.error is not None:
            return f"run {run.id} {run.status}: {run.error.code}: {run.error.message}"
        return f"run {run.id} {run.status}"


class OutcomeUnknown(RunFailed):
    """The Invoke may have reached Lambda but no answer came (`outcome_unknown`): the
    function may have run, once. Submitting the step again could run it twice."""

    @staticmethod
    def describe(run: Run) -> str:
        said = run.error.message if run.error else ""
        return (
            f"run {run.id}: outcome unknown ({said}). The Invoke may have reached Lambda, so the "
            "function may have run; the service never sends it again. Check what the function "
            "did before running the step again, or it may run twice."
        )
