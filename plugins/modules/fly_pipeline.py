#!/usr/bin/python
# Copyright: (c) 2026, nested-warden developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Set, pause, expose, trigger and destroy a Concourse pipeline with fly."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: fly_pipeline
short_description: Validate, set, unpause, trigger and watch (or destroy) a Concourse pipeline with fly
description:
  - Drives the Concourse CLI C(fly) (v8). With O(state=present) it validates the pipeline config
    (C(fly validate-pipeline --strict)), sets it with C(fly set-pipeline -n), and makes the
    pipeline paused or unpaused and exposed or hidden as asked. With O(state=triggered) it
    triggers a job of the pipeline Concourse already holds (C(fly trigger-job)) and optionally
    watches its build, which it aborts when the watch times out (O(abort_on_timeout)); it sets,
    pauses and exposes nothing. With O(state=absent) it destroys the pipeline.
  - Before triggering, O(state=triggered) checks that the pipeline exists and is not paused
    (C(fly pipelines --json)) and that its config (C(fly get-pipeline --json)) has the job and
    allows triggering it by hand. Otherwise it fails and triggers nothing; a build of a paused
    pipeline would stay pending until the pipeline is unpaused.
  - C(set-pipeline) always gets C(-n). Without it fly asks for confirmation, and where it cannot
    ask (as under Ansible) it prints C(bailing out) and exits 0 without applying anything.
  - Changed is decided from what fly reports. A config is unchanged when fly prints
    C(no changes to apply). Pause, unpause, expose and hide run only when C(fly pipelines --json)
    shows that the state differs, because fly prints the same line either way.
  - Secrets never reach a command line. O(vars) go to fly in a temporary 0600 vars file
    (C(-l)) that is deleted afterwards, never as C(-v) arguments. fly has no way to read a password
    from stdin or the environment, so the module does not give fly the password. When the target
    has no valid token (C(fly status)), the module asks Concourse's token endpoint
    (C(/sky/issuer/token), the password grant fly itself uses) for a token, and types it into
    C(fly login)'s "enter token manually" prompt on stdin. fly then checks the team and saves
    the target in its flyrc (C($FLY_HOME/.flyrc) or C(~/.flyrc), mode 0600), as C(fly login)
    always does.
version_added: "1.0.0"
author:
  - nested-warden developers (@nested-warden)
requirements:
  - python >= 3.8 where the module runs
  - PyYAML
  - fly CLI v8 (the major and minor version of the Concourse server)
extends_documentation_fragment:
  - nested.warden.attributes
options:
  concourse_url:
    description:
      - URL of Concourse (C(https://HOST)), used to log in. Without it the module uses the
        target's saved URL, and the target must already exist in the flyrc.
      - Must be C(http://) or C(https://) with a host that DNS can take (labels of at most 63
        characters); checked before fly runs.
    type: str
  target:
    description:
      - fly target name (C(fly -t)).
    type: str
    required: true
  team:
    description:
      - Team the pipeline belongs to. The target is logged in for this team.
    type: str
    default: main
  username:
    description:
      - Concourse user, for logging in when the target has no valid token. Give it together
        with O(password).
    type: str
  password:
    description:
      - Password of O(username). Sent only to Concourse's token endpoint, never to fly and never
        shown in the output.
    type: str
  ca_cert:
    description:
      - PEM file of the CA that signed Concourse's certificate (C(fly login --ca-cert)); also
        used to verify the token request.
    type: path
  insecure:
    description:
      - Skip verification of Concourse's TLS certificate (C(fly login -k)).
    type: bool
    default: false
  pipeline:
    description:
      - Name of the pipeline.
    type: str
    required: true
  config:
    description:
      - Path of the pipeline config (YAML). Required with O(state=present), refused with
        O(state=triggered) (which triggers the pipeline as Concourse holds it).
    type: path
  vars:
    description:
      - Values for the config's C(((name))) placeholders. They win over O(vars_files).
      - Passed to fly in a temporary 0600 vars file, never on the command line.
      - Values under a name that says it is a secret (ending in C(password), C(passphrase),
        C(secret), C(token), C(credential(s)), C(key) as in C(private_key), or C(private)), at any
        depth, are masked in the module's output and in the config diff; other values (hosts,
        versions) stay readable. Name secrets accordingly.
      - Only with O(state=present).
    type: dict
    default: {}
  vars_files:
    description:
      - YAML files of values for C(((name))) placeholders (C(fly -l)); later files win. Their
        values are not secret to the module and can appear in the config diff.
      - Only with O(state=present).
    type: list
    elements: path
    default: []
  state:
    description:
      - V(present) validates and sets the pipeline.
      - V(triggered) triggers the job O(trigger) of the pipeline Concourse holds, and watches its
        build with O(watch). It runs no C(set-pipeline), C(pause-pipeline) or
        C(expose-pipeline), and reports a change whenever it starts a build.
      - V(absent) destroys the pipeline (nothing happens when it does not exist).
    type: str
    choices: [present, triggered, absent]
    default: present
  paused:
    description:
      - Whether the pipeline should be paused. New pipelines start paused in Concourse; the
        default unpauses them. Used with O(state=present).
    type: bool
    default: false
  exposed:
    description:
      - Whether the pipeline should be visible to everyone (C(fly expose-pipeline)) or only to its
        team (C(fly hide-pipeline)). Not set leaves it as it is. Used with O(state=present).
    type: bool
  validate:
    description:
      - Run C(fly validate-pipeline --strict) on the config before anything else. It needs no
        server. Strict mode also fails on unknown keys and on warnings. Used with O(state=present).
    type: bool
    default: true
  check_creds:
    description:
      - Let Concourse check that the config's credentials resolve in its credential manager
        (C(fly set-pipeline --check-creds)). Used with O(state=present).
    type: bool
    default: false
  trigger:
    description:
      - Name of the job to trigger (C(fly trigger-job -j PIPELINE/JOB)). Required with
        O(state=triggered) and only used there; set the pipeline with O(state=present) in a
        task before.
    type: str
  rerun:
    description:
      - With O(state=triggered), whether to start a build when the job's latest build succeeded.
        V(false) reports that build instead (RV(build.reused)) and changes nothing, so a second run
        of a playbook does not build again what already passed; set it from whether the pipeline's
        config changed in the same run.
    type: bool
    default: true
  watch:
    description:
      - Watch the triggered build until it ends (C(trigger-job -w)). A build that ends
        C(failed), C(errored) or C(aborted) fails the task with the last lines of its log.
        Only with O(state=triggered).
    type: bool
    default: false
  timeout:
    description:
      - Seconds to watch a build, 1 to 604800 (a week). When they run out, the module stops
        watching, aborts the build or leaves it running (O(abort_on_timeout)), and fails with
        RV(error_kind=timeout), saying which; no exit code is reported then
        (RV(build.exit_code) is left out).
      - A build still pending then has usually found no worker. The module asks
        C(fly workers --json), and when no worker is in state C(running) it names the workers and
        their states (or none) and fails with RV(error_kind=no_worker) instead.
    type: int
    default: 3600
  abort_on_timeout:
    description:
      - What to do with a watched build that has not ended when O(timeout) runs out.
      - V(true) aborts it (C(fly abort-build -j PIPELINE/JOB -b BUILD)), so that it does not keep
        a worker busy or wait for one after the task has failed, and reports the status Concourse
        gives it afterwards (normally C(aborted); RV(build.aborted)).
      - V(false) detaches from it and leaves it running (or pending) in Concourse; the failure says
        how to re-attach.
      - Only used with O(watch). Check mode triggers nothing, so it aborts nothing either.
    type: bool
    default: true
  executable:
    description:
      - The fly CLI to run, a path or a command name looked up on PATH. Defaults to C(fly). Its
        version must match the server's major and minor version.
    type: path
notes:
  - Check mode validates, logs in when needed (reading the pipeline needs a valid token; the
    token is saved as C(fly login) saves it), runs C(set-pipeline --dry-run), and reports
    whether the config, paused or exposed state would change. With O(state=triggered) it makes
    the same checks as a real run (the pipeline exists and is not paused, the job exists and may
    be triggered by hand), fails where a real run would, and otherwise reports the change
    without triggering anything (and so aborts nothing).
  - Supports diff mode. The diff is fly's config diff, with colours and backspaces removed, plus
    the paused and public state. fly's diff shows the config Concourse holds, old secrets
    included; the module masks the values of every key fed by O(vars) and of keys named like
    secrets (password, secret, token, private_key, credentials), in diff_lines and on failure.
  - When the target in the flyrc points at another URL or team than O(concourse_url) and
    O(team), the module logs in again, which overwrites that target as C(fly login) would.
  - fly refuses to run against a server whose major or minor version differs from its own. The
    error names the server's download URL of the matching fly
    (C(CONCOURSE_URL/api/v1/cli?arch=amd64&platform=linux)).
  - A build of a paused pipeline stays pending, so O(state=triggered) refuses a paused
    pipeline, and says how to unpause it.
  - The connection options (O(concourse_url), O(target), O(team), O(username), O(password),
    O(ca_cert), O(insecure), O(executable)) can be given once for several tasks through
    C(module_defaults) and the action group C(group/nested.warden.fly); O(password) stays
    masked there too.
  - Runs where fly is, normally the controller (delegate the task to C(localhost)).
attributes:
  check_mode:
    support: full
    details:
      - Validates, logs in when needed and runs C(set-pipeline --dry-run); triggers nothing. See the notes.
  diff_mode:
    support: full
    details:
      - fly's config diff plus the paused and public state, secrets masked.
  platform:
    support: full
    platforms: posix
"""

EXAMPLES = r"""
- name: Set the pipeline and run the image build, with the connection given once
  delegate_to: localhost
  module_defaults:
    group/nested.warden.fly:
      concourse_url: https://ci.example.com
      target: main
      username: admin
      password: "{{ concourse_admin_password }}"
  block:
    - name: Validate, set and unpause the pipeline
      nested.warden.fly_pipeline:
        pipeline: nested-bosh-zookeeper
        config: "{{ playbook_dir }}/pipelines/pipeline-template.yml"
        vars:
          docker_registry_password: "{{ registry_password }}"
        vars_files:
          - "{{ playbook_dir }}/pipelines/vars-production.yml"

    - name: Run the image build and watch it
      nested.warden.fly_pipeline:
        pipeline: nested-bosh-zookeeper
        state: triggered
        trigger: build-warden-cpi-containerd-image
        watch: true
        timeout: 2400  # a build still running then is aborted (abort_on_timeout)

- name: Validate and set only, keeping the pipeline paused
  nested.warden.fly_pipeline:
    target: main
    pipeline: nested-bosh-zookeeper
    config: pipelines/pipeline-template.yml
    paused: true

- name: Remove the pipeline
  nested.warden.fly_pipeline:
    target: main
    pipeline: nested-bosh-zookeeper
    state: absent
"""

RETURN = r"""
pipeline:
  description: Name of the pipeline.
  returned: always
  type: str
  sample: nested-bosh-zookeeper
target:
  description: The fly target used.
  returned: always
  type: str
team:
  description: The team of the pipeline.
  returned: always
  type: str
concourse_url:
  description: The Concourse URL the target points at.
  returned: when the module got as far as logging in
  type: str
logged_in:
  description: Whether the module logged in (the target had no valid token).
  returned: always
  type: bool
validation:
  description: C(passed) or C(skipped) (O(validate=false)).
  returned: state=present
  type: str
config_warnings:
  description: fly's warnings about the config (deprecations, invalid identifiers).
  returned: state=present
  type: list
  elements: str
config_changed:
  description: Whether fly found a difference between the config and the pipeline's.
  returned: state=present
  type: bool
created:
  description: Whether the pipeline did not exist before (in check mode, whether it would be created).
  returned: state=present
  type: bool
diff_lines:
  description:
    - fly's config diff as a terminal shows it (colours and backspaces removed), one line each;
      added and removed lines start with C(+ ) and C(- ). O(vars) values are masked.
  returned: state=present
  type: list
  elements: str
state:
  description: The pipeline afterwards (in check mode, as it would be).
  returned: when the module got as far as reading the pipelines
  type: dict
  contains:
    exists:
      description: Whether the pipeline exists.
      type: bool
    paused:
      description: Whether it is paused.
      type: bool
      returned: when it exists
    public:
      description: Whether it is exposed.
      type: bool
      returned: when it exists
build:
  description: The build started by O(trigger).
  returned: state=triggered
  type: dict
  contains:
    job:
      description: The job.
      type: str
    triggered:
      description: Whether a build was started (false in check mode).
      type: bool
    watched:
      description: Whether the module watched the build (O(watch)).
      type: bool
    reused:
      description:
        - Whether the build reported is the job's latest, which had succeeded, instead of a new
          one (O(rerun=false)).
      type: bool
    name:
      description: "The build's name (number) within the job, as in C(started P/J #NAME)."
      type: str
    id:
      description: The build's global id (C(fly builds --json)).
      type: int
    api_url:
      description: The build's API path.
      type: str
    start_time:
      description: Start time (Unix seconds), once started.
      type: int
    end_time:
      description: End time (Unix seconds), once ended.
      type: int
    status:
      description:
        - C(succeeded), C(failed), C(errored) or C(aborted) when watched to the end; otherwise
          what Concourse reported (C(pending), C(started)).
        - After an abort at the timeout, what Concourse reported afterwards (normally C(aborted)).
      type: str
    exit_code:
      description:
        - fly's exit code when watched to the end. succeeded gives the last task's exit status
          (normally 0), failed the task's status or 1, errored 2, aborted 3, a lost event stream 255.
        - Left out when the watch timed out (RV(build.timed_out)); fly then detaches with exit code
          2, which says nothing about the build.
      type: int
    exit_code_meaning:
      description: How the exit code follows from the status.
      type: str
    timed_out:
      description: Whether the watch stopped at O(timeout).
      type: bool
    aborted:
      description:
        - Whether the module aborted the build (C(fly abort-build)) because the watch timed out
          (O(abort_on_timeout)). False when it was left running or the abort failed.
      returned: when the watch timed out
      type: bool
    log_tail:
      description: The last 30 lines of the build's log as fly showed them.
      type: list
      elements: str
msg:
  description: What went wrong.
  returned: failure
  type: str
error_kind:
  description:
    - The class of failure, for roles that report it. One of C(unreachable), C(login_rejected),
      C(login_failed), C(not_logged_in), C(unknown_target), C(not_authorized),
      C(version_mismatch), C(invalid_config), C(pipeline_not_found), C(job_not_found),
      C(manual_trigger_disabled), C(paused), C(timeout), C(no_worker), C(watch_failed),
      C(build_failed), C(build_errored), C(build_aborted), C(not_installed), C(fly).
    - C(timeout) is a watch stopped at O(timeout); C(no_worker) is one whose build was still
      pending while no worker was running.
  returned: failure
  type: str
cmd:
  description: The fly command line that failed. It never holds secrets.
  returned: failure of a fly call
  type: list
  elements: str
rc:
  description: Exit status of the failed fly call.
  returned: failure of a fly call
  type: int
stdout:
  description: Standard output of the failed fly call, secrets removed.
  returned: failure of a fly call
  type: str
stderr:
  description: Standard error of the failed fly call, secrets removed.
  returned: failure of a fly call
  type: str
stdout_lines:
  description: RV(stdout) split into lines.
  returned: failure of a fly call
  type: list
  elements: str
stderr_lines:
  description: RV(stderr) split into lines.
  returned: failure of a fly call
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.urls import open_url
from ansible_collections.nested.warden.plugins.module_utils.inputs import checked_module, utf8_problem

try:
    from ansible_collections.nested.warden.plugins.module_utils.cli_runner import CliNotFound
    from ansible_collections.nested.warden.plugins.module_utils.fly_output import FlyError
    from ansible_collections.nested.warden.plugins.module_utils.fly_task import (
        YAML_IMPORT_ERROR,
        PipelineTask,
        parameter_problems,
        vars_file_problem,
    )
    from ansible_collections.nested.warden.plugins.module_utils.secrets import secret_values

    IMPORT_ERROR = YAML_IMPORT_ERROR
except ImportError as err:
    IMPORT_ERROR = err


def argument_spec():
    return {
        "concourse_url": {"type": "str"},
        "target": {"type": "str", "required": True},
        "team": {"type": "str", "default": "main"},
        "username": {"type": "str"},
        "password": {"type": "str", "no_log": True},
        "ca_cert": {"type": "path"},
        "insecure": {"type": "bool", "default": False},
        "pipeline": {"type": "str", "required": True},
        "config": {"type": "path"},
        "vars": {"type": "dict", "default": {}},
        "vars_files": {"type": "list", "elements": "path", "default": []},
        "state": {"type": "str", "choices": ["present", "triggered", "absent"], "default": "present"},
        "paused": {"type": "bool", "default": False},
        "exposed": {"type": "bool"},
        "validate": {"type": "bool", "default": True},
        "check_creds": {"type": "bool", "default": False},
        "trigger": {"type": "str"},
        "watch": {"type": "bool", "default": False},
        "rerun": {"type": "bool", "default": True},
        "timeout": {"type": "int", "default": 3600},
        "abort_on_timeout": {"type": "bool", "default": True},
        "executable": {"type": "path"},
    }


def main():
    module = checked_module(
        AnsibleModule,
        argument_spec(),
        supports_check_mode=True,
        required_if=[("state", "present", ("config",)), ("state", "triggered", ("trigger",))],
        required_together=[("username", "password")],
    )
    if IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=str(IMPORT_ERROR))
    params = module.params
    module.no_log_values.update(secret_values(params["vars"]))
    problems = parameter_problems(params)
    if problems:
        module.fail_json(msg="; ".join(problems))
    for name in ("config", "ca_cert"):
        if params[name]:
            params[name] = os.path.abspath(params[name])
            if not os.path.isfile(params[name]):
                module.fail_json(msg=f"{name} {params[name]} does not exist or is not a file")
            problem = utf8_problem(params[name])
            if problem:
                module.fail_json(msg=f"{name} {params[name]} {problem}")
    params["vars_files"] = [os.path.abspath(p) for p in params["vars_files"]]
    for path in params["vars_files"]:
        if not os.path.isfile(path):
            module.fail_json(msg=f"vars file {path} does not exist or is not a file")
        problem = utf8_problem(path) or vars_file_problem(path)
        if problem:
            module.fail_json(msg=f"vars file {path} {problem}")

    task = PipelineTask(module, open_url)
    try:
        result = task.run()
    except CliNotFound as err:
        module.fail_json(msg=str(err), error_kind="not_installed", **task.result)
    except FlyError as err:
        module.fail_json(msg=err.msg, error_kind=err.kind, **{**task.result, **err.details})
    module.exit_json(**result)


if __name__ == "__main__":
    main()
