"""A small typed client for the lambda-steps REST API (`/v1`), written by hand on httpx:
submit a step, follow a run's log (Server-Sent Events with resume, polling as the fallback),
wait for its outcome, cancel it."""

from lambda_steps_client.aio import AsyncClient
from lambda_steps_client.client import Client
from lambda_steps_client.errors import ApiError, LambdaStepsError, OutcomeUnknown, RunFailed, RunNotFinished
from lambda_steps_client.models import FunctionError, LogLine, LogPage, Run, RunError, RunResult

__all__ = [
    "ApiError",
    "AsyncClient",
    "Client",
    "FunctionError",
    "LambdaStepsError",
    "LogLine",
    "LogPage",
    "OutcomeUnknown",
    "Run",
    "RunError",
    "RunFailed",
    "RunNotFinished",
    "RunResult",
]
