#!/usr/bin/python
# Copyright: (c) 2026, nested-warden developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bring a lab's Docker network and host containers to a state in one module run."""

DOCUMENTATION = r"""
---
module: docker_lab
short_description: Bring a lab's Docker network and host containers up, or remove everything of the lab
description:
  - With O(state=present), makes sure the network O(network) exists with O(subnet) and that every
    host of O(hosts) runs as a container on it at its fixed address, from O(image).
  - Every object it creates carries the label O(label)=O(network). A container also carries the
    digest of what it was created from (image ID included) in the label O(label)C(.spec). A host whose
    settings changed, or whose image was rebuilt, is recreated; a stopped one is started; the rest
    is left alone. A network or container of a lab host's name without the lab label is never
    touched; the module fails and says so.
  - With O(state=absent), removes every container (with its anonymous volumes), volume and
    network that carries O(label)=O(network), and nothing else. When a container without the
    label is attached to a lab network, it stops before removing anything and names it.
  - Every check runs before the first change, in check mode too (the network name and O(label);
    an IPv4 O(subnet) with room for hosts that overlaps no other network of the engine; container
    and host names; each host's capabilities, security options and command; each address inside
    the subnet, not its gateway and not held by another container on the network), so a bad
    setting leaves the lab as it was and check mode fails where the run would.
  - When the engine still refuses a change (a setting only it can judge), what this run created
    (its network, its new containers) is removed again and the error says so.
  - An option given the wrong type (a string where O(hosts) takes a list of mappings, say), or a
    NUL byte in any option, fails naming the option.
  - Runs the C(docker) CLI (a few calls of ~50 ms) instead of one module run per object; the CLI
    honours C(DOCKER_HOST) and the current Docker context.
version_added: "1.3.0"
author:
  - nested-warden developers (@nested-warden)
requirements:
  - python >= 3.8 (nothing beyond the standard library)
  - the C(docker) CLI on the host where the module runs, talking to a Docker engine
extends_documentation_fragment:
  - nested.warden.attributes
options:
  state:
    description: V(present) brings the lab up; V(absent) removes everything labelled as this lab's.
    type: str
    choices: [present, absent]
    default: present
  network:
    description:
      - Name of the lab's Docker network; also the value of O(label) on every lab object.
      - Letters, digits, V(_), V(.) and V(-), starting with a letter or digit.
    type: str
    required: true
  subnet:
    description:
      - IPv4 subnet of the network in CIDR notation, for example V(172.30.77.0/24); at most a
        V(/29), and not overlapping the subnet of another network of the engine.
      - An existing lab network with another subnet is not changed; the module fails and says how
        to remove the lab first.
      - Required with O(state=present).
    type: str
  label:
    description: Label key put on every object of the lab.
    type: str
    default: nested-warden.lab
  image:
    description: Image of the lab hosts; it must exist on the engine. Required with O(state=present).
    type: str
  missing_image_hint:
    description: Appended to the error when O(image) does not exist, to say how to get it.
    type: str
    default: ""
  hosts:
    description: The lab hosts, one container each.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Container name (letters, digits, V(_), V(.) and V(-), starting with a letter or digit).
        type: str
        required: true
      hostname:
        description: Host name inside the container; defaults to O(hosts[].name).
        type: str
      address:
        description: Fixed IPv4 address on the network, inside O(subnet).
        type: str
        required: true
      command:
        description: Command the container runs (argv).
        type: list
        elements: str
        default: []
      capabilities:
        description: Linux capabilities to add (names of capabilities(7), with or without C(CAP_)).
        type: list
        elements: str
        default: []
      security_opts:
        description: Docker security options, for example V(apparmor=unconfined).
        type: list
        elements: str
        default: []
  executable:
    description: The docker CLI to run, a name on C(PATH) or a path.
    type: str
    default: docker
attributes:
  check_mode:
    support: full
    details:
      - Reads the engine's state and reports what it would create, recreate, start or remove.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
"""

EXAMPLES = r"""
- name: Bring the lab up
  nested.warden.docker_lab:
    network: nested-warden-lab
    subnet: 172.30.77.0/24
    image: nested-warden/lab-host:bookworm
    hosts:
      - name: nested-warden-concourse-0
        hostname: concourse-0
        address: 172.30.77.10
        command: [sleep, infinity]
        capabilities: [NET_ADMIN]

- name: Remove everything of the lab
  nested.warden.docker_lab:
    network: nested-warden-lab
    state: absent
"""

RETURN = r"""
network:
  description: The lab network and what was done to it.
  returned: when state is present
  type: dict
  contains:
    name:
      description: Network name.
      type: str
      sample: nested-warden-lab
    subnet:
      description: Its subnet.
      type: str
      sample: 172.30.77.0/24
    action:
      description: V(created) or V(unchanged) (in check mode, what would be done).
      type: str
      sample: created
hosts:
  description: One entry per lab host, in the order of O(hosts).
  returned: when state is present
  type: list
  elements: dict
  contains:
    name:
      description: Container name.
      type: str
      sample: nested-warden-concourse-0
    address:
      description: Its address on the network.
      type: str
      sample: 172.30.77.10
    action:
      description: V(created), V(recreated), V(started) or V(unchanged) (in check mode, what would be done).
      type: str
      sample: created
removed:
  description: What was removed (in check mode, what would be), by kind.
  returned: when state is absent
  type: dict
  contains:
    containers:
      description: Container names.
      type: list
      elements: str
      sample: [nested-warden-concourse-0]
    volumes:
      description: Volume names.
      type: list
      elements: str
      sample: []
    networks:
      description: Network names.
      type: list
      elements: str
      sample: [nested-warden-lab]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.nested.warden.plugins.module_utils.cli_runner import CliNotFound
from ansible_collections.nested.warden.plugins.module_utils.docker_cli import DockerCli, DockerError
from ansible_collections.nested.warden.plugins.module_utils.docker_lab import lab_absent, lab_present
from ansible_collections.nested.warden.plugins.module_utils.inputs import checked_module


def argument_spec():
    host = {
        "name": {"type": "str", "required": True},
        "hostname": {"type": "str"},
        "address": {"type": "str", "required": True},
        "command": {"type": "list", "elements": "str", "default": []},
        "capabilities": {"type": "list", "elements": "str", "default": []},
        "security_opts": {"type": "list", "elements": "str", "default": []},
    }
    return {
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "network": {"type": "str", "required": True},
        "subnet": {"type": "str"},
        "label": {"type": "str", "default": "nested-warden.lab"},
        "image": {"type": "str"},
        "missing_image_hint": {"type": "str", "default": ""},
        "hosts": {"type": "list", "elements": "dict", "default": [], "options": host},
        "executable": {"type": "str", "default": "docker"},
    }


def main():
    module = checked_module(
        AnsibleModule,
        argument_spec(),
        required_if=[("state", "present", ("subnet", "image"))],
        supports_check_mode=True,
    )
    params = module.params
    cli = DockerCli(module, params["executable"])
    try:
        if params["state"] == "absent":
            result = lab_absent(cli, params["network"], params["label"])
        else:
            result = lab_present(
                cli,
                **{
                    key: params[key]
                    for key in ("network", "subnet", "label", "image", "hosts", "missing_image_hint")
                },
            )
    except (DockerError, CliNotFound) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
