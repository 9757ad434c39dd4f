"""The asyncio client: what waiting without a thread needs (an Airflow trigger, for one):
read and cancel a run, follow its log live, wait for its outcome."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from httpx_sse import SSEError, aconnect_sse

from lambda_steps_client import _wire
from lambda_steps_client.errors import ApiError
from lambda_steps_client.models import LogLine, LogPage, Run


class AsyncClient:
    """One service (`url`) and one API token; the same calls as `Client`, awaited."""

    def __init__(self, url: str, token: str, *, poll_interval: float = 1.0, timeout: httpx.Timeout = _wire.TIMEOUT):
        self.url = url.rstrip("/")
        self.poll_interval = poll_interval
        self._http = httpx.AsyncClient(base_url=self.url, headers=_wire.headers(token), timeout=timeout)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return _wire.body_of(await self._http.request(method, path, **kwargs))

    async def run(self, run_id: str) -> Run:
        return Run.from_json(await self._call("GET", f"/v1/runs/{run_id}"))

    async def cancel(self, run_id: str) -> Run | None:
        """Cancels the run; answers it, or None when it had finished already (409)."""
        try:
            return Run.from_json(await self._call("POST", f"/v1/runs/{run_id}/cancel"))
        except ApiError as e:
            if e.status == 409:
                return None
            raise

    async def logs(self, run_id: str, *, after: int = 0, limit: int = 1000) -> LogPage:
        body = await self._call("GET", f"/v1/runs/{run_id}/logs", params={"after": after, "limit": limit})
        return LogPage.from_json(body)

    async def follow(self, run_id: str, *, after: int = 0) -> AsyncIterator[LogLine]:
        """As `Client.follow`: the events stream, resumed from the last seq seen, polling
        when streaming keeps failing."""
        failures = 0
        while failures < _wire.SSE_ATTEMPTS:
            try:
                async with aconnect_sse(
                    self._http, "GET", f"/v1/runs/{run_id}/events", headers={"Last-Event-ID": str(after)}
                ) as source:
                    response = source.response
                    if response.status_code != 200:
                        await response.aread()
                        if response.status_code not in _wire.TRANSIENT:
                            _wire.body_of(response)
                        raise httpx.TransportError(f"events answered {response.status_code}")
                    async for event in source.aiter_sse():
                        if event.event == "log":
                            line = _wire.log_line(event.data)
                            after, failures = line.seq, 0
                            yield line
                        elif event.event == "end":
                            return
            except (httpx.TransportError, SSEError):
                pass
            failures += 1
            await asyncio.sleep(_wire.backoff(failures))
        async for line in self.poll(run_id, after=after):
            yield line

    async def poll(self, run_id: str, *, after: int = 0) -> AsyncIterator[LogLine]:
        while True:
            page = await self.logs(run_id, after=after)
            for line in page.items:
                yield line
            after = page.next_after
            if page.completed:
                return
            if not page.items:
                await asyncio.sleep(self.poll_interval)

    async def wait(
        self, run_id: str, *, on_line: Callable[[LogLine], Awaitable[None] | None] | None = None, after: int = 0
    ) -> Run:
        """Follows the run to its end, handing each line to `on_line`; answers the run."""
        async for line in self.follow(run_id, after=after):
            if on_line is not None:
                said = on_line(line)
                if isinstance(said, Awaitable):
                    await said
        return await self.run(run_id)
