# -*- coding: utf-8 -*-
# Apache License 2.0 (see the collection's galaxy.yml)
"""What the collection's modules share: the connection arguments and a small client of
the lambda-steps REST API over Ansible's own HTTP helper (no library needed on the host)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.six.moves.urllib.parse import quote, urlencode
from ansible.module_utils.urls import fetch_url

CONNECTION_ARGS = dict(
    url=dict(type="str", required=True, fallback=(env_fallback, ["LAMBDA_STEPS_URL"])),
    token=dict(type="str", required=True, no_log=True, fallback=(env_fallback, ["LAMBDA_STEPS_TOKEN"])),
    validate_certs=dict(type="bool", default=True),
)


class ApiError(Exception):
    """The service answered an error: `{"error": {"code", "message", "field"?}}`."""

    def __init__(self, status, code, message, field=None):
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        where = " (%s)" % field if field else ""
        super(ApiError, self).__init__("HTTP %s %s%s: %s" % (status, code, where, message))


class LambdaSteps:
    """The module's service (`url`) and API token."""

    def __init__(self, module):
        self.module = module
        self.url = module.params["url"].rstrip("/")
        self.token = module.params["token"]

    def call(self, method, path, body=None, query=None, headers=None):
        """Answers `(status, json body)`; raises `ApiError` for an error status."""
        url = self.url + path + ("?" + urlencode(query) if query else "")
        headers = dict(headers or {}, Authorization="Bearer " + self.token, Accept="application/json")
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        response, info = fetch_url(self.module, url, data=data, headers=headers, method=method, timeout=60)
        status = info.get("status", -1)
        text = response.read() if response is not None else info.get("body", b"")
        try:
            answer = json.loads(text) if text else None
        except ValueError:
            answer = None
        if status < 0:
            raise ApiError(status, "unreachable", info.get("msg", "no answer from %s" % url))
        if status >= 400:
            error = answer.get("error") if isinstance(answer, dict) else None
            if isinstance(error, dict):
                raise ApiError(status, error.get("code"), error.get("message"), error.get("field"))
            raise ApiError(status, "unexpected_answer", info.get("msg", ""))
        return status, answer

    @staticmethod
    def path(*parts):
        return "/" + "/".join(quote(part, safe="") for part in parts)

    def wait(self, run_id, timeout, poll_interval):
        """Polls the run's log until the run is over and every line was read; answers the
        finished run and its log lines."""
        lines, after = [], 0
        deadline = time.time() + timeout
        while True:
            _, page = self.call("GET", self.path("v1", "runs", run_id, "logs"), query={"after": after, "limit": 1000})
            lines.extend(entry["message"] for entry in page["items"])
            after = page["next_after"]
            if page["completed"]:
                break
            if time.time() > deadline:
                raise ApiError(0, "wait_timeout", "run %s still %s after %s s" % (run_id, page["status"], timeout))
            if not page["items"]:
                time.sleep(poll_interval)
        _, run = self.call("GET", self.path("v1", "runs", run_id))
        return run, lines


def describe_failure(run):
    """The message of a run that did not succeed: the function's own error first."""
    function_error = (run.get("result") or {}).get("error") or {}
    if function_error.get("type") or function_error.get("message"):
        return "%s: %s (run %s %s)" % (function_error.get("type"), function_error.get("message"), run["id"], run["status"])
    error = run.get("error") or {}
    if error.get("code") == "outcome_unknown":
        return (
            "run %s: outcome unknown (%s). The Invoke may have reached Lambda, so the function may have run; "
            "the service never sends it again. Check what it did before running the step again." % (run["id"], error.get("message"))
        )
    return "run %s %s: %s: %s" % (run["id"], run["status"], error.get("code"), error.get("message"))
