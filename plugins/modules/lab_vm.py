#!/usr/bin/python
# Copyright: (c) 2026, nested-warden developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VM lab host: a qemu VM booted from an overlay of a base disk, reached over SSH on 127.0.0.1."""

DOCUMENTATION = r"""
---
module: lab_vm
short_description: Run the VM lab host, a qemu VM reached over SSH on 127.0.0.1 only
description:
  - Boots a qemu VM from a copy-on-write overlay of the base disk in O(image_dir) (made by the
    project's C(scripts/vm-image)), so the base stays clean; removes it with O(state=absent).
  - Networking is qemu's user mode with C(restrict=on); the guest reaches nothing but the
    addresses of O(guest_forwards) (each forwarded, port by port, to the same address on this
    machine), and this machine reaches the guest's SSH only on 127.0.0.1:O(ssh_port).
  - Makes an SSH key per lab (in O(state_dir)) and hands its public half to the guest on the kernel
    command line; the guest's host key is pinned in RV(known_hosts).
  - With O(accel=auto), KVM is tried where C(/dev/kvm) is usable and kept only when the guest
    reaches userspace within O(kvm_probe_timeout) seconds; otherwise TCG, with the reason in
    RV(accel_reason). A failed probe is remembered in O(image_dir)/kvm-probe.json for this
    kernel, CPU and qemu, so later boots go to TCG at once; delete the file to probe again.
  - Idempotent. A VM already running with the same settings and base disk is left alone
    (C(changed=false)); one with other settings is replaced; one killed mid-run is recovered.
  - Waits until SSH lets the lab in and the guest's Docker engine answers; on a timeout the error
    quotes the serial console's last lines (the whole log stays in O(state_dir)/console.log).
version_added: "1.4.0"
author:
  - nested-warden developers (@nested-warden)
requirements:
  - python >= 3.8 (nothing beyond the standard library)
  - qemu-system-x86_64, qemu-img, socat and ssh/ssh-keygen on the host where the module runs
extends_documentation_fragment:
  - nested.warden.attributes
options:
  name:
    description: The VM's name (qemu's C(-name)), for example the lab network's name and the host's.
    type: str
    required: true
  state:
    description: V(present) runs the VM; V(absent) stops it and removes O(state_dir).
    type: str
    choices: [present, absent]
    default: present
  state_dir:
    description: Where the overlay, the key, the logs and the run's records live (made with mode 0700).
    type: path
    required: true
  image_dir:
    description:
      - The base disk's directory (C(disk.img), C(vmlinuz), C(initrd.img), C(host_key.pub), C(recipe)).
    type: path
    required: true
  ssh_port:
    description: The port on 127.0.0.1 forwarded to the guest's SSH.
    type: int
    default: 2222
  memory:
    description: The guest's memory in MiB.
    type: int
    default: 4096
  cpus:
    description: The guest's virtual CPUs.
    type: int
    default: 2
  network:
    description:
      - The user-mode network (IPv4 CIDR, /28 or larger). Its second and third addresses are
        qemu's gateway and DNS. The guest's forwarded addresses must be inside it, so give the lab's
        own container network to reach the lab's containers at their own addresses.
    type: str
    default: 10.0.2.0/24
  address:
    description: The guest's address in O(network) (qemu's DHCP hands it out first).
    type: str
    default: 10.0.2.15
  host_forwards:
    description:
      - Guest services this machine reaches, each on 127.0.0.1 only (as the guest's SSH), such as
        the lab's Concourse web node.
    type: list
    elements: dict
    default: []
    suboptions:
      port:
        description: TCP port on 127.0.0.1 of this machine; distinct from O(ssh_port).
        type: int
        required: true
      guest_port:
        description: The guest's TCP port; defaults to O(host_forwards[].port).
        type: int
  guest_forwards:
    description:
      - TCP addresses the guest may reach; each connection is carried by C(socat) from this machine
        to the same address and port. Only addresses of the lab's own containers belong here.
      - Each address must be on a network of this machine (a directly connected route, such as the
        lab's Docker bridge), checked before the VM starts; C(socat) is bound to that device, so
        no connection can leave this machine through a gateway.
    type: list
    elements: dict
    default: []
    suboptions:
      address:
        description: IPv4 address, inside O(network).
        type: str
        required: true
      port:
        description: TCP port.
        type: int
        required: true
  accel:
    description: V(kvm), V(tcg), or V(auto) (KVM where a probe boot reaches userspace, TCG otherwise).
    type: str
    choices: [auto, kvm, tcg]
    default: auto
  kvm_probe_timeout:
    description: Seconds a probe boot under KVM has to reach userspace.
    type: int
    default: 20
  boot_timeout:
    description: Seconds the VM has from power-on until SSH and Docker answer.
    type: int
    default: 420
attributes:
  check_mode:
    support: full
    details:
      - Checks the base disk, the network, the forwards' routes, memory, disk space and the SSH
        port, and reports whether it would start, recreate or remove the VM; boots nothing.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
"""

EXAMPLES = r"""
- name: The VM lab host
  nested.warden.lab_vm:
    name: vm-lab
    state_dir: /srv/lab/.state/lab-vm/vm
    image_dir: /srv/lab/.cache/vm-image
    ssh_port: 2222
    network: 172.30.78.0/24
    address: 172.30.78.100
    guest_forwards:
      - {address: 172.30.78.10, port: 5000}
  register: lab_vm

- name: Remove it
  nested.warden.lab_vm:
    name: vm-lab
    state_dir: /srv/lab/.state/lab-vm/vm
    image_dir: /srv/lab/.cache/vm-image
    state: absent
"""

RETURN = r"""
action:
  description:
    - What was done, or would be in check mode.
    - One of started, recreated, recovered, running, removed, absent.
  returned: always
  type: str
  sample: started
pid:
  description: The qemu process.
  returned: when the VM runs and not in check mode
  type: int
accel:
  description: The accelerator the VM runs under (kvm or tcg).
  returned: when the VM runs and not in check mode
  type: str
  sample: tcg
accel_reason:
  description: Why that accelerator.
  returned: when the VM runs and not in check mode
  type: str
  sample: "KVM was tried and given up: KVM stopped the guest (emulation failure)"
seconds_to_ready:
  description: Seconds from power-on until SSH and the guest's Docker answered.
  returned: when the VM was booted by this run or an earlier one
  type: float
ssh_port:
  description: The forwarded SSH port on 127.0.0.1.
  returned: when the VM runs and not in check mode
  type: int
ssh_key:
  description: The lab's private key (0600).
  returned: when the VM runs and not in check mode
  type: str
host_forwards:
  description: The guest ports this machine reaches, as C(127.0.0.1:PORT -> GUEST_PORT).
  returned: when the VM runs and not in check mode
  type: list
  elements: str
  sample: ["127.0.0.1:8078 -> 8078"]
known_hosts:
  description: A known_hosts file that pins the guest's host key.
  returned: when the VM runs and not in check mode
  type: str
console_log:
  description: The guest's serial console log.
  returned: when the VM runs and not in check mode
  type: str
recipe:
  description: The base disk's recipe digest.
  returned: when the VM runs and not in check mode
  type: str
guest:
  description: What the guest is (kernel, cgroup, apparmor, cap_bounding_set, docker).
  returned: when the VM runs and not in check mode
  type: dict
  sample:
    {kernel: 6.1.0-50-amd64, cgroup: v2, apparmor: true, cap_bounding_set: 000001ffffffffff, docker: 20.10.24}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.nested.warden.plugins.module_utils.inputs import checked_module
from ansible_collections.nested.warden.plugins.module_utils.lab_vm import (
    ACCELS,
    LabVmError,
    ensure_absent,
    ensure_present,
)


def argument_spec():
    return {
        "name": {"type": "str", "required": True},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "state_dir": {"type": "path", "required": True},
        "image_dir": {"type": "path", "required": True},
        "ssh_port": {"type": "int", "default": 2222},
        "memory": {"type": "int", "default": 4096},
        "cpus": {"type": "int", "default": 2},
        "network": {"type": "str", "default": "10.0.2.0/24"},
        "address": {"type": "str", "default": "10.0.2.15"},
        "host_forwards": {
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {"port": {"type": "int", "required": True}, "guest_port": {"type": "int"}},
        },
        "guest_forwards": {
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "address": {"type": "str", "required": True},
                "port": {"type": "int", "required": True},
            },
        },
        "accel": {"type": "str", "choices": list(ACCELS), "default": "auto"},
        "kvm_probe_timeout": {"type": "int", "default": 20},
        "boot_timeout": {"type": "int", "default": 420},
    }


def main():
    module = checked_module(AnsibleModule, argument_spec(), supports_check_mode=True)
    params = dict(module.params)
    if not params["name"].strip():
        module.fail_json(msg="name is empty: give the VM a name (the lab role uses <lab network>-<host>)")
    for option in ("kvm_probe_timeout", "boot_timeout"):
        if params[option] <= 0:
            module.fail_json(msg=f"{option}={params[option]}: give a number of seconds above 0")
    try:
        if params["state"] == "absent":
            result = ensure_absent(params, module.check_mode)
        else:
            params["qemu"] = module.get_bin_path("qemu-system-x86_64")
            params["qemu_img"] = module.get_bin_path("qemu-img")
            params["socat"] = module.get_bin_path("socat") if params["guest_forwards"] else "socat"
            params["ip"] = module.get_bin_path("ip") if params["guest_forwards"] else "ip"
            result = ensure_present(params, module.check_mode)
    except LabVmError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg=f"the VM lab host could not be handled in {params['state_dir']}: {exc}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
