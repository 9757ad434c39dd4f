"""The hook that owns the `lambda_steps` connection: the service URL (host), the API token
(password) and the project (extra), turned into a lambda-steps client."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import BaseHook
from asgiref.sync import sync_to_async
from lambda_steps_client import AsyncClient, Client, LogLine


class LambdaStepsHook(BaseHook):
    """Connects to a lambda-steps service.

    :param lambda_steps_conn_id: a connection of type `lambda_steps`: host is the service URL
        (`http://lambda-steps:8080`, or host and port with `http` unless the extra says
        `"scheme": "https"`), password an API token (a `runner` token of the project is
        enough to run steps), extra `{"project": "..."}` (default `default`).
    """

    conn_name_attr = "lambda_steps_conn_id"
    default_conn_name = "lambda_steps_default"
    conn_type = "lambda_steps"
    hook_name = "lambda-steps"

    def __init__(self, lambda_steps_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lambda_steps_conn_id = lambda_steps_conn_id

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["schema", "login"],
            "relabeling": {"host": "Service URL", "password": "API token"},
            "placeholders": {"host": "http://127.0.0.1:8080", "extra": '{"project": "default"}'},
        }

    @staticmethod
    def _settings(conn: Any) -> tuple[str, str, str]:
        extra = conn.extra_dejson or {}
        host = (conn.host or "").rstrip("/")
        if not host:
            raise ValueError(f"connection {conn.conn_id!r} has no host: set it to the lambda-steps service URL")
        if "://" not in host:
            host = f"{extra.get('scheme', 'http')}://{host}"
        if conn.port and host.count(":") < 2:
            host = f"{host}:{conn.port}"
        if not conn.password:
            raise ValueError(f"connection {conn.conn_id!r} has no password: set it to a lambda-steps API token")
        return host, conn.password, str(extra.get("project") or "default")

    def get_conn(self) -> Client:
        url, token, _ = self._settings(self.get_connection(self.lambda_steps_conn_id))
        return Client(url, token)

    async def aget_client(self) -> AsyncClient:
        """The asyncio client, for triggers (reads the connection without blocking the loop)."""
        if hasattr(self, "aget_connection"):
            conn = await self.aget_connection(self.lambda_steps_conn_id)
        else:  # Airflow before the async connection API
            conn = await sync_to_async(self.get_connection)(self.lambda_steps_conn_id)
        url, token, _ = self._settings(conn)
        return AsyncClient(url, token)

    @property
    def project(self) -> str:
        """The connection's project (extra `project`, default `default`)."""
        return self._settings(self.get_connection(self.lambda_steps_conn_id))[2]

    def test_connection(self) -> tuple[bool, str]:
        """Asks the service who the token is (`GET /v1/whoami`)."""
        try:
            with self.get_conn() as client:
                said = client.whoami()
        except Exception as e:
            return False, str(e)
        return True, f"connected as {said.get('role')} (project {said.get('project') or 'any'})"


_LEVELS = {"debug": logging.DEBUG, "warn": logging.WARNING, "error": logging.ERROR}


def log_run_line(log: logging.Logger, line: LogLine) -> None:
    """Writes one line of a run's log into the task's log: what the function printed as it
    printed it, the service's own lines marked as such."""
    if line.source == "function":
        log.info("%s", line.message)
    else:
        log.log(_LEVELS.get(line.level, logging.INFO), "lambda-steps: %s", line.message)
