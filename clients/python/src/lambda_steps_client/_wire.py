"""What the sync and async clients share: the HTTP settings, reading an answer or its error
body, and turning a Server-Sent Event into a log line or the end of the stream."""

from __future__ import annotations

import json
from typing import Any

import httpx

from lambda_steps_client.errors import ApiError
from lambda_steps_client.models import LogLine

# The events stream sends a keep-alive every 15 s: a read that waits four times that long
# means the connection is gone, and the follower resumes from the last seq it saw.
TIMEOUT = httpx.Timeout(30.0, read=60.0)
# Reconnects of the events stream in a row without a line between them before the follower
# falls back to polling the logs page (a proxy that buffers or cuts SSE, for one).
SSE_ATTEMPTS = 5
# Answers worth asking again: the database was out of reach, or a proxy in front was.
TRANSIENT = frozenset({429, 502, 503, 504})


def headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json", "User-Agent": "lambda-steps-client"}


def body_of(response: httpx.Response) -> Any:
    """The answer's JSON; raises `ApiError` for an error status."""
    try:
        body = response.json() if response.content else None
    except ValueError:
        body = None
    if response.is_error:
        raise ApiError.from_response(response.status_code, body, response.text)
    return body


def log_line(data: str) -> LogLine:
    return LogLine.from_json(json.loads(data))


def backoff(attempt: int) -> float:
    """Seconds before reconnect number `attempt` (from 1): 0.2, 0.4, ... up to 5."""
    return min(0.2 * 2 ** (attempt - 1), 5.0)
