#!/usr/bin/python
# -*- coding: utf-8 -*-
# Apache License 2.0 (see the collection's galaxy.yml)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: run
short_description: Run an AWS Lambda step through a lambda-steps service
description:
  - Submits a step (invoke an existing function, or create one from code, invoke it and
    clean it up) to a lambda-steps project, waits for it, and returns its result and log.
  - A run that does not succeed fails the task, with the function's error type and message
    in C(msg).
  - Every call submits a new run, so the task always reports C(changed).
  - In check mode the step is checked (its type, required and known fields), the token's
    right to run steps in the project is asked of the service, and nothing is run.
version_added: 0.1.0
options:
  url:
    description: The service's URL. Defaults to the environment's C(LAMBDA_STEPS_URL).
    type: str
    required: true
  token:
    description: An API token (a C(runner) token of the project is enough). Defaults to C(LAMBDA_STEPS_TOKEN).
    type: str
    required: true
  validate_certs:
    description: Check the service's TLS certificate.
    type: bool
    default: true
  project:
    description: The lambda-steps project.
    type: str
    default: default
  step:
    description:
      - "The API's step object: C(type) C(lambda_invoke) with C(function_name), C(payload), C(invocation_type),
        C(qualifier), C(client_context); or C(type) C(lambda_custom_code) with C(runtime), C(code), C(handler),
        C(payload), C(timeout_seconds), C(memory_mb), C(environment), C(role_arn), C(keep_function),
        C(packages), C(description), C(tags), C(durable), C(durable_config)."
    type: dict
    required: true
  wait:
    description: Wait for the run to finish. With C(false), return once it is queued.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait before failing the task (the run goes on).
    type: int
    default: 900
  poll_interval:
    description: Seconds between two reads of the run's log while nothing new came.
    type: float
    default: 1.0
  idempotency_key:
    description: Sent as C(Idempotency-Key); the same key in the same project answers the first run.
    type: str
author:
  - lambda-steps maintainers
"""

EXAMPLES = r"""
- name: Restart the worker
  lambda_steps.runner.run:
    project: payments
    step:
      type: lambda_custom_code
      runtime: python3.12
      code: |
        def lambda_handler(event, context):
            print("restarting", event["worker"])
            return {"restarted": event["worker"]}
      payload: {worker: w-1}
  register: restart

- ansible.builtin.debug:
    msg: "{{ restart.result.payload.restarted }}"
"""

RETURN = r"""
run_id:
  description: The run's id.
  returned: always
  type: str
status:
  description: C(queued), C(running), C(succeeded), C(failed), C(timed_out) or C(cancelled).
  returned: always
  type: str
result:
  description:
    - What Lambda said (C(payload), C(status_code), C(function_error), C(error), C(request_id),
      C(executed_version), C(duration_ms), C(log_tail_truncated)); null until it answered.
  returned: always
  type: dict
error:
  description: Why the run did not succeed (C(code), C(message)), else null.
  returned: always
  type: dict
log:
  description: The run's log lines, the service's own and what the function printed.
  returned: when wait
  type: list
  elements: str
run:
  description: The whole run as the API shows it.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lambda_steps.runner.plugins.module_utils.lambda_steps import (
    CONNECTION_ARGS,
    ApiError,
    LambdaSteps,
    describe_failure,
)

# The fields of each step type (the spec's InvokeStep and CustomCodeStep).
STEP_FIELDS = {
    "lambda_invoke": (("function_name",), ("payload", "invocation_type", "qualifier", "client_context")),
    "lambda_custom_code": (
        ("runtime", "code"),
        (
            "handler", "payload", "timeout_seconds", "memory_mb", "environment", "role_arn",
            "keep_function", "packages", "description", "tags", "durable", "durable_config",
        ),
    ),
}


def step_problem(step):
    """Why the step cannot be sent, or None."""
    kind = step.get("type")
    if kind not in STEP_FIELDS:
        return "step.type must be one of %s, not %r" % (", ".join(sorted(STEP_FIELDS)), kind)
    required, optional = STEP_FIELDS[kind]
    missing = [name for name in required if step.get(name) in (None, "")]
    if missing:
        return "a %s step needs %s" % (kind, ", ".join("step." + name for name in missing))
    unknown = sorted(set(step) - set(required) - set(optional) - {"type"})
    if unknown:
        return "a %s step has no field %s" % (kind, ", ".join("step." + name for name in unknown))
    return None


def check(module, api):
    """Check mode: the step's shape, and whether this token may run steps in the project."""
    problem = step_problem(module.params["step"])
    if problem:
        module.fail_json(msg=problem)
    project = module.params["project"]
    _, who = api.call("GET", "/v1/whoami")
    if who.get("role") == "reader" or (who.get("project") not in (None, project)):
        module.fail_json(msg="this token (%s of %s) may not run steps in project %s" % (who.get("role"), who.get("project"), project))
    api.call("GET", api.path("v1", "projects", project, "runs"), query={"limit": 1})
    module.exit_json(changed=True, run_id=None, status=None, result=None, error=None, log=[], run=None, msg="the step would be submitted")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            CONNECTION_ARGS,
            project=dict(type="str", default="default"),
            step=dict(type="dict", required=True),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=900),
            poll_interval=dict(type="float", default=1.0),
            idempotency_key=dict(type="str", no_log=False),
        ),
        supports_check_mode=True,
    )
    api = LambdaSteps(module)
    try:
        if module.check_mode:
            check(module, api)
        problem = step_problem(module.params["step"])
        if problem:
            module.fail_json(msg=problem)
        path = api.path("v1", "projects", module.params["project"], "runs")
        headers = {}
        if module.params["idempotency_key"]:
            headers["Idempotency-Key"] = module.params["idempotency_key"]
        _, run = api.call("POST", path, body={"step": module.params["step"]}, headers=headers)
        lines = []
        if module.params["wait"]:
            run, lines = api.wait(run["id"], module.params["wait_timeout"], module.params["poll_interval"])
    except ApiError as e:
        module.fail_json(msg=str(e), code=e.code, field=e.field)
    answer = dict(
        changed=True,
        run_id=run["id"],
        status=run["status"],
        result=run.get("result"),
        error=run.get("error"),
        log=lines,
        run=run,
    )
    if run["status"] in ("failed", "timed_out", "cancelled"):
        module.fail_json(msg=describe_failure(run), **answer)
    module.exit_json(**answer)


if __name__ == "__main__":
    main()
