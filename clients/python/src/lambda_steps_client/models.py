"""The API's runs and log lines as typed values, read from its JSON (openapi/openapi.json:
`Run`, `RunResult`, `RunError`, `LogEntry`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The statuses of a run that is not over yet.
UNFINISHED = frozenset({"queued", "running"})


@dataclass(frozen=True)
class FunctionError:
    """The function's own error document: `errorType`, `errorMessage`, `stackTrace`."""

    type: str | None
    message: str | None
    stack_trace: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.type or 'Error'}: {self.message or ''}".rstrip(": ")


@dataclass(frozen=True)
class RunResult:
    """What Lambda said about the invocation."""

    payload: Any
    status_code: int | None = None
    function_error: str | None = None
    error: FunctionError | None = None
    request_id: str | None = None
    executed_version: str | None = None
    duration_ms: int | None = None
    log_tail_truncated: bool = False

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> RunResult:
        error = body.get("error")
        return cls(
            payload=body.get("payload"),
            status_code=body.get("status_code"),
            function_error=body.get("function_error"),
            error=FunctionError(error.get("type"), error.get("message"), list(error.get("stack_trace") or []))
            if error
            else None,
            request_id=body.get("request_id"),
            executed_version=body.get("executed_version"),
            duration_ms=body.get("duration_ms"),
            log_tail_truncated=bool(body.get("log_tail_truncated")),
        )


@dataclass(frozen=True)
class RunError:
    """Why a run did not succeed: a code (`function_error`, `outcome_unknown`, ...) and a
    message for people."""

    code: str
    message: str


@dataclass(frozen=True)
class Run:
    """A step run as the API shows it."""

    id: str
    project: str
    status: str
    step: dict[str, Any]
    attempt: int
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    result: RunResult | None = None
    error: RunError | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Run:
        error = body.get("error")
        return cls(
            id=body["id"],
            project=body["project"],
            status=body["status"],
            step=body["step"],
            attempt=body.get("attempt", 0),
            created_at=body["created_at"],
            started_at=body.get("started_at"),
            finished_at=body.get("finished_at"),
            result=RunResult.from_json(body["result"]) if body.get("result") else None,
            error=RunError(error["code"], error["message"]) if error else None,
            raw=body,
        )

    @property
    def finished(self) -> bool:
        return self.status not in UNFINISHED

    def raise_for_outcome(self) -> Run:
        """Answers the run when it succeeded; raises `RunFailed` (or `OutcomeUnknown`)
        when it is over without succeeding, and `RunNotFinished` while it is not over."""
        from lambda_steps_client.errors import OutcomeUnknown, RunFailed, RunNotFinished

        if not self.finished:
            raise RunNotFinished(self)
        if self.status == "succeeded":
            return self
        if self.error is not None and self.error.code == "outcome_unknown":
            raise OutcomeUnknown(self)
        raise RunFailed(self)


@dataclass(frozen=True)
class LogLine:
    """One line of a run's log: `source` is `runner` (the service's own lines) or
    `function` (what the function printed, START/END/REPORT included)."""

    seq: int
    time: str
    level: str
    source: str
    message: str

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> LogLine:
        return cls(
            seq=int(body["seq"]),
            time=body["time"],
            level=body["level"],
            source=body["source"],
            message=body["message"],
        )


@dataclass(frozen=True)
class LogPage:
    """One page of `GET /v1/runs/{id}/logs`."""

    items: list[LogLine]
    next_after: int
    last_seq: int
    status: str
    completed: bool

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> LogPage:
        return cls(
            items=[LogLine.from_json(item) for item in body["items"]],
            next_after=int(body["next_after"]),
            last_seq=int(body.get("last_seq", 0)),
            status=body["status"],
            completed=bool(body["completed"]),
        )
