#!/usr/bin/python
# Copyright: (c) 2026, nested-warden developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run one command in a container that exists only for it, privileged where the engine allows."""

DOCUMENTATION = r"""
---
module: throwaway_container
short_description: Run one command in a throwaway container, privileged where the engine allows it
description:
  - Starts a container from O(image) running O(command), runs O(exec) in it (with O(stdin) on its
    standard input, which never reaches a command line), optionally reads the last lines of
    O(tail_path), and removes the container with its anonymous volumes, whatever happened.
  - With O(mode=auto), first tries C(docker run --privileged) with a short-lived probe
    container; where the engine refuses it (a kernel whose capability bounding set lacks a
    capability Docker's privileged set includes), the container runs in caps mode instead, with the
    capabilities, security options and device cgroup rules of O(caps).
  - One module run for what would take four (probe, start, exec, remove); the C(docker) CLI
    honours C(DOCKER_HOST) and the current Docker context.
  - Always reports C(changed=false), since nothing it creates outlives the task but a named
    O(volume.source), which holds only what the command left there.
  - Every parameter is checked before anything starts (names Docker takes, a non-empty O(exec),
    known capabilities and security options, absolute container paths, label keys); an option
    given the wrong type, or a NUL byte in any option, fails naming the option.
version_added: "1.3.0"
author:
  - nested-warden developers (@nested-warden)
requirements:
  - python >= 3.8 (nothing beyond the standard library)
  - the C(docker) CLI on the host where the module runs, talking to a Docker engine
extends_documentation_fragment:
  - nested.warden.attributes
options:
  name:
    description:
      - Container name (letters, digits, V(_), V(.) and V(-), starting with a letter or digit; an
        empty one is refused, since Docker would name the container at random). A container of
        this name left by an interrupted run (one that carries
        every label of O(labels)) is removed first; any other container of this name stops the
        module before it starts anything.
      - The probe of O(mode=auto) is named O(name)C(-probe).
    type: str
    required: true
  image:
    description:
      - Image to run. It is never pulled (C(--pull never)); the module fails when the engine lacks it.
    type: str
    required: true
  mode:
    description:
      - V(privileged) runs C(--privileged); V(caps) runs with O(caps) instead; V(auto) probes which
        one the engine allows. RV(mode) says which one ran.
    type: str
    choices: [auto, privileged, caps]
    default: auto
  caps:
    description: What the container gets in caps mode.
    type: dict
    default: {}
    suboptions:
      cap_add:
        description: Capabilities to add (V(ALL) adds every one).
        type: list
        elements: str
        default: []
      cap_drop:
        description: Capabilities to drop.
        type: list
        elements: str
        default: []
      security_opts:
        description: Security options, for example V(seccomp=unconfined).
        type: list
        elements: str
        default: []
      device_cgroup_rules:
        description: Device cgroup rules, for example V(a *:* rwm).
        type: list
        elements: str
        default: []
  command:
    description: The container's own command (argv); it must keep running while O(exec) runs.
    type: list
    elements: str
    default: [sleep, infinity]
  init:
    description: Run an init process as PID 1 (C(--init)).
    type: bool
    default: true
  volume:
    description:
      - A volume mounted at O(volume.target); anonymous (removed with the container) unless
        O(volume.source) names one (kept).
    type: dict
    suboptions:
      target:
        description: Mount point in the container.
        type: str
        required: true
      source:
        description: Name of a volume to keep between runs; omit for an anonymous one.
        type: str
      labels:
        description: Labels of the volume when the engine creates it.
        type: dict
        default: {}
  network:
    description: Docker network to attach the container to; the default bridge when omitted.
    type: str
  labels:
    description: Labels of the container (and of the probe).
    type: dict
    default: {}
  exec:
    description: The command (argv) run in the container with C(docker exec); it must not be empty.
    type: list
    elements: str
    required: true
  stdin:
    description:
      - Text given to O(exec) on its standard input (credentials, say); never shown.
      - When it is a JSON object, its values under keys that name secrets (C(password), C(token),
        C(secret), C(key), ...) are also masked wherever they appear in the output on their own.
    type: str
  timeout:
    description: Seconds O(exec) may run; it is stopped after that and RV(timed_out) is true.
    type: int
    default: 600
  tail_path:
    description: A file in the container whose last O(tail_lines) lines to return after O(exec).
    type: str
  tail_lines:
    description: How many lines of O(tail_path) to return.
    type: int
    default: 20
  executable:
    description: The docker CLI to run, a name on C(PATH) or a path.
    type: str
    default: docker
attributes:
  check_mode:
    support: partial
    details:
      - Runs nothing; fails where a run would fail before it starts anything (the parameters, an
        image the engine lacks), else reports the task as skipped.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
notes:
  - The module fails when the container cannot be started or removed; a failing O(exec) is not a
    module failure, its RV(exit_code), RV(stdout) and RV(stderr) say what happened.
"""

EXAMPLES = r"""
- name: Run the nested checks in a throwaway container of the image
  nested.warden.throwaway_container:
    name: nested-warden-nested-test
    image: registry.example.com:5000/warden-cpi-containerd:latest
    caps:
      cap_add: [ALL]
      cap_drop: [SYS_RESOURCE]
      security_opts: [seccomp=unconfined, apparmor=unconfined, systempaths=unconfined]
      device_cgroup_rules: ["a *:* rwm"]
    volume:
      target: /var/lib/containerd
    exec: [nested-check, steps, '[{"name": "containerd", "argv": ["containerd"]}]']
    tail_path: /var/log/containerd.log
  register: nested
"""

RETURN = r"""
mode:
  description: How the container ran, V(privileged) or V(caps).
  returned: when not in check mode
  type: str
  sample: caps
privileged_refusal:
  description: What the engine answered to the C(--privileged) probe; empty when it ran or was not tried.
  returned: when not in check mode
  type: str
  sample: "docker: Error response from daemon: ... unable to apply caps: operation not permitted"
exit_code:
  description:
    - Exit status of O(exec). Not called C(rc), so that a failing command does not fail the task
      (Ansible fails a result whose C(rc) is not 0); the caller decides what it means.
  returned: when the container started
  type: int
  sample: 0
stdout:
  description: Standard output of O(exec).
  returned: when the container started
  type: str
stderr:
  description: Standard error of O(exec).
  returned: when the container started
  type: str
timed_out:
  description: True when O(exec) ran longer than O(timeout) and was stopped.
  returned: when the container started
  type: bool
  sample: false
tail:
  description: The last lines of O(tail_path); empty when it could not be read.
  returned: when not in check mode
  type: list
  elements: str
"""

import json

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.nested.warden.plugins.module_utils.cli_runner import CliNotFound
from ansible_collections.nested.warden.plugins.module_utils.docker_cli import DockerCli, DockerError
from ansible_collections.nested.warden.plugins.module_utils.inputs import checked_module
from ansible_collections.nested.warden.plugins.module_utils.secrets import secret_values
from ansible_collections.nested.warden.plugins.module_utils.throwaway_container import (
    MODES,
    predict,
    run_in_throwaway,
)


def argument_spec():
    strings = {"type": "list", "elements": "str", "default": []}
    return {
        "name": {"type": "str", "required": True},
        "image": {"type": "str", "required": True},
        "mode": {"type": "str", "choices": list(MODES), "default": "auto"},
        "caps": {
            "type": "dict",
            "default": {},
            "options": {
                "cap_add": strings,
                "cap_drop": strings,
                "security_opts": strings,
                "device_cgroup_rules": strings,
            },
        },
        "command": {"type": "list", "elements": "str", "default": ["sleep", "infinity"]},
        "init": {"type": "bool", "default": True},
        "volume": {
            "type": "dict",
            "options": {
                "target": {"type": "str", "required": True},
                "source": {"type": "str"},
                "labels": {"type": "dict", "default": {}},
            },
        },
        "network": {"type": "str"},
        "labels": {"type": "dict", "default": {}},
        "exec": {"type": "list", "elements": "str", "required": True},
        "stdin": {"type": "str", "no_log": True},
        "timeout": {"type": "int", "default": 600},
        "tail_path": {"type": "str"},
        "tail_lines": {"type": "int", "default": 20},
        "executable": {"type": "str", "default": "docker"},
    }


def stdin_secrets(stdin):
    """The secret values of a JSON object given on stdin (by key name, as the project's CLI
    modules choose them), so that a password echoed alone is masked too."""
    try:
        document = json.loads(stdin) if stdin else None
    except ValueError:
        return []
    return secret_values(document) if isinstance(document, dict) else []


def main():
    module = checked_module(AnsibleModule, argument_spec(), supports_check_mode=True)
    params = module.params
    module.no_log_values.update(stdin_secrets(params["stdin"]))
    try:
        cli = DockerCli(module, params["executable"])
        if module.check_mode:
            predict(cli, params)
            module.exit_json(changed=False, skipped=True, msg="check mode: the command was not run")
        result = run_in_throwaway(cli, params)
    except (DockerError, CliNotFound) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
