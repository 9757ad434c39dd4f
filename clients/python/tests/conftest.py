"""The service under test (LAMBDA_STEPS_URL, LAMBDA_STEPS_TOKEN: tests/it/clients/python_client.rs
starts a real `serve` and sets them), and a proxy in front of it that can cut or refuse the
events stream, so the client's resume and fallback are tested on the wire."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from lambda_steps_client import Client


@pytest.fixture(scope="session")
def service() -> tuple[str, str]:
    url, token = os.environ.get("LAMBDA_STEPS_URL"), os.environ.get("LAMBDA_STEPS_TOKEN")
    assert url and token, "set LAMBDA_STEPS_URL and LAMBDA_STEPS_TOKEN to a running service"
    return url, token


@pytest.fixture
def client(service: tuple[str, str]) -> Iterator[Client]:
    with Client(*service, poll_interval=0.1) as client:
        yield client


class EventsProxy:
    """Forwards every request to the service. `cut_after`: each events stream is closed
    after that many `log` events; `refuse_events`: the events route answers 502. Records
    the `Last-Event-ID` of each events request."""

    def __init__(self, upstream: str, *, cut_after: int | None = None, refuse_events: bool = False):
        self.upstream = upstream
        self.cut_after = cut_after
        self.refuse_events = refuse_events
        self.resumed_from: list[str | None] = []
        self.log_polls = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def do_GET(self) -> None:
                proxy.forward(self)

            def do_POST(self) -> None:
                proxy.forward(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def forward(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        if "/events" in request.path:
            self.resumed_from.append(request.headers.get("Last-Event-ID"))
            if self.refuse_events:
                request.send_response(502)
                request.end_headers()
                return
        if "/logs" in request.path:
            self.log_polls += 1
        with httpx.stream(request.command, self.upstream + request.path, headers=headers, content=body, timeout=60) as answer:
            request.send_response(answer.status_code)
            for name, value in answer.headers.items():
                if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                    request.send_header(name, value)
            request.send_header("Connection", "close")
            request.end_headers()
            if "/events" not in request.path:
                request.wfile.write(answer.read())
                return
            sent, pending = 0, ""
            for text in answer.iter_text():
                pending += text
                while "\n\n" in pending:
                    event, pending = pending.split("\n\n", 1)
                    request.wfile.write((event + "\n\n").encode())
                    request.wfile.flush()
                    if "event: log" in event:
                        sent += 1
                        if self.cut_after is not None and sent >= self.cut_after:
                            return

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy_factory(service: tuple[str, str]) -> Iterator:
    made: list[EventsProxy] = []

    def make(**kwargs: object) -> EventsProxy:
        made.append(EventsProxy(service[0], **kwargs))
        return made[-1]

    yield make
    for proxy in made:
        proxy.close()
