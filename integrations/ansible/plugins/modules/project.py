#!/usr/bin/python
# -*- coding: utf-8 -*-
# Apache License 2.0 (see the collection's galaxy.yml)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: project
short_description: Create a lambda-steps project and set its settings
description:
  - Creates the project if it is not there, and makes its project settings exactly C(settings)
    (Rundeck's names, e.g. C(project.aws.region)); C(changed) only when something changed.
  - Settings are replaced as a whole, as the API does; a setting left out is unset (the
    framework's value or the default applies). Without C(settings), they are left as they are.
  - C(state=absent) deletes the project with its finished runs, tokens, settings and saved
    steps; it fails while runs of the project are queued or running.
  - Needs an admin token. Supports check mode and diff mode.
version_added: 0.1.0
options:
  url:
    description: The service's URL. Defaults to the environment's C(LAMBDA_STEPS_URL).
    type: str
    required: true
  token:
    description: An admin API token. Defaults to C(LAMBDA_STEPS_TOKEN).
    type: str
    required: true
  validate_certs:
    description: Check the service's TLS certificate.
    type: bool
    default: true
  name:
    description: The project's name (1 to 63 of a-z, 0-9, - and _).
    type: str
    required: true
  settings:
    description: The project's settings; a secret is given as its key storage path (C(project.aws.secret_key_path)).
    type: dict
  state:
    description: Whether the project should exist.
    type: str
    choices: [present, absent]
    default: present
author:
  - lambda-steps maintainers
"""

EXAMPLES = r"""
- name: The payments project runs on AWS in eu-west-1
  lambda_steps.runner.project:
    name: payments
    settings:
      project.aws.region: eu-west-1
      project.aws.endpoint_url: aws
"""

RETURN = r"""
created:
  description: Whether this task created the project.
  returned: always
  type: bool
settings:
  description: The project's own settings after the task (name to value).
  returned: when state is present
  type: dict
resolved:
  description: Every setting as the service resolves it (C(value), C(source) project, framework or default).
  returned: when state is present and not in check mode
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lambda_steps.runner.plugins.module_utils.lambda_steps import (
    CONNECTION_ARGS,
    ApiError,
    LambdaSteps,
)


def exists(api, name):
    cursor = None
    while True:
        _, page = api.call("GET", "/v1/projects", query={"cursor": cursor} if cursor else None)
        if any(item["name"] == name for item in page["items"]):
            return True
        cursor = page.get("next_cursor")
        if not cursor:
            return False


def own_settings(resolved):
    """The values set on the project itself, out of the resolved view."""
    return dict((name, entry["value"]) for name, entry in resolved.items() if entry.get("source") == "project")


def present(module, api, name):
    created = not exists(api, name)
    if created and not module.check_mode:
        api.call("PUT", api.path("v1", "projects", name))
    settings_path = api.path("v1", "projects", name, "settings")
    resolved = {} if created and module.check_mode else api.call("GET", settings_path)[1]
    before = own_settings(resolved)
    wanted = module.params["settings"]
    after = before
    if wanted is not None:
        after = dict((key, str(value)) for key, value in wanted.items() if value is not None)
    changed = created or after != before
    if after != before and not module.check_mode:
        _, resolved = api.call("PUT", settings_path, body=after)
        after = own_settings(resolved)
    answer = dict(changed=changed, created=created, settings=after)
    if not module.check_mode:
        answer["resolved"] = resolved
    if module._diff:
        answer["diff"] = dict(before=dict(exists=not created, settings=before), after=dict(exists=True, settings=after))
    module.exit_json(**answer)


def absent(module, api, name):
    if not exists(api, name):
        module.exit_json(changed=False, created=False)
    if not module.check_mode:
        try:
            api.call("DELETE", api.path("v1", "projects", name))
        except ApiError as e:
            if e.status == 405:
                module.fail_json(
                    msg="this lambda-steps service cannot delete projects (DELETE /v1/projects/%s answered %s %s)"
                    % (name, e.status, e.code)
                )
            raise
    module.exit_json(changed=True, created=False)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            CONNECTION_ARGS,
            name=dict(type="str", required=True),
            settings=dict(type="dict"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    api = LambdaSteps(module)
    name = module.params["name"]
    try:
        if module.params["state"] == "absent":
            absent(module, api, name)
        present(module, api, name)
    except ApiError as e:
        module.fail_json(msg=str(e), code=e.code, field=e.field)


if __name__ == "__main__":
    main()
