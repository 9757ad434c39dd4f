"""The synchronous client: submit a step, read and cancel a run, follow its log live, wait
for its outcome, and the project calls an orchestrator's setup needs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx
from httpx_sse import SSEError, connect_sse

from lambda_steps_client import _wire
from lambda_steps_client.errors import ApiError
from lambda_steps_client.models import LogLine, LogPage, Run


class Client:
    """One service (`url`, e.g. `http://127.0.0.1:8080`) and one API token."""

    def __init__(self, url: str, token: str, *, poll_interval: float = 1.0, timeout: httpx.Timeout = _wire.TIMEOUT):
        self.url = url.rstrip("/")
        self.poll_interval = poll_interval
        self._http = httpx.Client(base_url=self.url, headers=_wire.headers(token), timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return _wire.body_of(self._http.request(method, path, **kwargs))

    def whoami(self) -> dict[str, Any]:
        """What the token may do: `{"role", "project"}`."""
        return self._call("GET", "/v1/whoami")

    # Runs

    def submit(self, project: str, step: dict[str, Any], *, idempotency_key: str | None = None) -> Run:
        """Submits `step` (the API's step object, `type` included); answers the queued run,
        or with `idempotency_key` the first run submitted with that key in the project."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        body = self._call("POST", f"/v1/projects/{quote(project, safe='')}/runs", json={"step": step}, headers=headers)
        return Run.from_json(body)

    def run(self, run_id: str) -> Run:
        return Run.from_json(self._call("GET", f"/v1/runs/{run_id}"))

    def cancel(self, run_id: str) -> Run | None:
        """Cancels the run; answers it, or None when it had finished already (409)."""
        try:
            return Run.from_json(self._call("POST", f"/v1/runs/{run_id}/cancel"))
        except ApiError as e:
            if e.status == 409:
                return None
            raise

    def logs(self, run_id: str, *, after: int = 0, limit: int = 1000) -> LogPage:
        return LogPage.from_json(self._call("GET", f"/v1/runs/{run_id}/logs", params={"after": after, "limit": limit}))

    def follow(self, run_id: str, *, after: int = 0) -> Iterator[LogLine]:
        """Every line of the run's log after seq `after`, as it is written, until the run is
        over and every line was read. Streams the events route, resuming from the last seq
        seen when the connection drops; polls the logs page when streaming keeps failing."""
        failures = 0
        while failures < _wire.SSE_ATTEMPTS:
            try:
                with connect_sse(
                    self._http, "GET", f"/v1/runs/{run_id}/events", headers={"Last-Event-ID": str(after)}
                ) as source:
                    response = source.response
                    if response.status_code != 200:
                        response.read()
                        if response.status_code not in _wire.TRANSIENT:
                            _wire.body_of(response)
                        raise httpx.TransportError(f"events answered {response.status_code}")
                    for event in source.iter_sse():
                        if event.event == "log":
                            line = _wire.log_line(event.data)
                            after, failures = line.seq, 0
                            yield line
                        elif event.event == "end":
                            return
            except (httpx.TransportError, SSEError):
                pass
            failures += 1
            time.sleep(_wire.backoff(failures))
        yield from self.poll(run_id, after=after)

    def poll(self, run_id: str, *, after: int = 0) -> Iterator[LogLine]:
        """The same lines as `follow`, by polling `GET /v1/runs/{id}/logs`."""
        while True:
            page = self.logs(run_id, after=after)
            yield from page.items
            after = page.next_after
            if page.completed:
                return
            if not page.items:
                time.sleep(self.poll_interval)

    def wait(self, run_id: str, *, on_line: Callable[[LogLine], None] | None = None, after: int = 0) -> Run:
        """Follows the run to its end, handing each log line to `on_line`; answers the
        finished run (check it with `Run.raise_for_outcome`)."""
        for line in self.follow(run_id, after=after):
            if on_line is not None:
                on_line(line)
        return self.run(run_id)

    # Projects

    def put_project(self, name: str) -> bool:
        """Creates the project; answers whether it was created (False: it was there)."""
        response = self._http.put(f"/v1/projects/{quote(name, safe='')}")
        _wire.body_of(response)
        return response.status_code == 201

    def projects(self) -> list[str]:
        names, cursor = [], None
        while True:
            page = self._call("GET", "/v1/projects", params={"cursor": cursor} if cursor else None)
            names.extend(item["name"] for item in page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return names

    def settings(self, project: str) -> dict[str, dict[str, Any]]:
        """Every setting, resolved: `{name: {"value", "source"}}` (`project`, `framework`,
        `default`)."""
        return self._call("GET", f"/v1/projects/{quote(project, safe='')}/settings")

    def put_settings(self, project: str, settings: dict[str, str | None]) -> dict[str, dict[str, Any]]:
        """Replaces the project's settings as a whole (a name left out is unset)."""
        return self._call("PUT", f"/v1/projects/{quote(project, safe='')}/settings", json=settings)
