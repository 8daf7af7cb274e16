"""The lab's Docker objects (one network, one container per lab host) brought to a state.

Every object carries the lab label (LABEL=NETWORK). A container also carries LABEL.spec, the
digest of what it was created from (image ID included), so a changed host, or a rebuilt image,
recreates it; an unchanged one is left running. Objects without the lab label are never touched.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json

from ansible_collections.nested.warden.plugins.module_utils.docker_cli import DockerError

RESTART_POLICY = "unless-stopped"


def spec_label(label):
    return f"{label}.spec"


def host_spec(host, image_id, network, label):
    """What a lab host's container is created from; its digest goes into LABEL.spec."""
    return {
        "name": host["name"],
        "hostname": host.get("hostname") or host["name"],
        "image": image_id,
        "command": list(host.get("command") or []),
        "network": network,
        "address": host["address"],
        "capabilities": sorted(host.get("capabilities") or []),
        "security_opts": sorted(host.get("security_opts") or []),
        "labels": {label: network},
        "init": True,
        "restart": RESTART_POLICY,
    }


def spec_digest(spec):
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def run_argv(spec, label):
    argv = ["run", "--detach", "--name", spec["name"], "--hostname", spec["hostname"], "--init"]
    argv += ["--network", spec["network"], "--ip", spec["address"], "--restart", spec["restart"]]
    for capability in spec["capabilities"]:
        argv += ["--cap-add", capability]
    for option in spec["security_opts"]:
        argv += ["--security-opt", option]
    argv += ["--label", f"{label}={spec['network']}", "--label", f"{spec_label(label)}={spec_digest(spec)}"]
    return [*argv, spec["image"], *spec["command"]]


def labels_of(document):
    return (document.get("Config") or document).get("Labels") or {}


def plan_network(cli, network, subnet, label):
    """'create' or 'unchanged'; DockerError when a network of that name cannot be the lab's."""
    found = cli.inspect("network", [network])
    if not found:
        return "create"
    subnets = [c.get("Subnet") for c in (found[0].get("IPAM") or {}).get("Config") or []]
    if labels_of(found[0]).get(label) != network:
        raise DockerError(
            f"a Docker network named {network} exists but is not this lab's (no label {label}={network}); "
            "remove it (docker network rm) or choose another lab_network_name"
        )
    if subnet not in subnets:
        raise DockerError(
            f"the lab network {network} exists with subnet {', '.join(map(str, subnets)) or 'none'}, "
            f"not {subnet}; remove the lab first (ansible-playbook playbooks/lab-down.yml) to change "
            "lab_network_subnet"
        )
    return "unchanged"


def plan_hosts(cli, hosts, *, image_id, network, label):
    """(spec, action) per host; action: create, recreate, start or unchanged. DockerError, before
    anything is changed, when a container of a host's name is not the lab's."""
    existing = {doc["Name"].lstrip("/"): doc for doc in cli.inspect("container", [h["name"] for h in hosts])}
    plan = []
    for host in hosts:
        spec = host_spec(host, image_id, network, label)
        current = existing.get(spec["name"])
        if current is None:
            action = "create"
        elif labels_of(current).get(label) != network:
            raise DockerError(
                f"a container named {spec['name']} exists but is not this lab's "
                f"(no label {label}={network}); remove it or rename the lab host (ansible_host)"
            )
        elif labels_of(current).get(spec_label(label)) != spec_digest(spec):
            action = "recreate"
        elif not (current.get("State") or {}).get("Running"):
            action = "start"
        else:
            action = "unchanged"
        plan.append((spec, action))
    return plan


DONE = {"create": "created", "recreate": "recreated", "start": "started", "unchanged": "unchanged"}


def check_settings(subnet, hosts):
    """DockerError naming the first setting docker would refuse halfway through the lab."""
    try:
        net = ipaddress.ip_network(subnet, strict=True)
    except ValueError as exc:
        raise DockerError(
            f"subnet={subnet} is not a network in CIDR notation ({exc}), e.g. 172.30.77.0/24"
        ) from exc
    for key in ("name", "address"):
        values = [host[key] for host in hosts]
        twice = sorted({value for value in values if values.count(value) > 1})
        if twice:
            raise DockerError(
                f"hosts: more than one host has the {key} {', '.join(twice)}; give each its own"
            )
    for host in hosts:
        try:
            inside = ipaddress.ip_address(host["address"]) in net
        except ValueError:
            inside = False
        if not inside:
            raise DockerError(
                f"hosts: {host['name']} has address {host['address']}, not an address in {subnet}"
            )


def lab_present(cli, *, network, subnet, label, image, hosts, missing_image_hint=""):
    """Checks everything first, then changes: an error leaves the lab as it was."""
    check_settings(subnet, hosts)
    images = cli.inspect("image", [image])
    if not images:
        raise DockerError(
            f"the image {image} does not exist on this Docker engine"
            + (f"; {missing_image_hint}" if missing_image_hint else "")
        )
    network_action = plan_network(cli, network, subnet, label)
    plan = plan_hosts(cli, hosts, image_id=images[0]["Id"], network=network, label=label)
    if network_action == "create":
        cli.check(
            "network", "create", "--subnet", subnet, "--label", f"{label}={network}", network, mutating=True
        )
    for spec, action in plan:
        if action == "recreate":
            cli.check("rm", "--force", spec["name"], mutating=True)
        if action == "start":
            cli.check("start", spec["name"], mutating=True)
        if action in ("create", "recreate"):
            cli.check(*run_argv(spec, label), mutating=True)
    report = [
        {"name": spec["name"], "address": spec["address"], "action": DONE[action]} for spec, action in plan
    ]
    return {
        "changed": network_action != "unchanged" or any(action != "unchanged" for _spec, action in plan),
        "network": {"name": network, "subnet": subnet, "action": DONE[network_action]},
        "hosts": report,
    }


def lab_absent(cli, network, label):
    """Remove every container, volume and network that carries LABEL=NETWORK."""
    selector = f"{label}={network}"
    removed = {kind: cli.listed(kind, selector) for kind in ("container", "volume", "network")}
    for kind, argv in (
        ("container", ["rm", "--force", "--volumes"]),
        ("volume", ["volume", "rm"]),
        ("network", ["network", "rm"]),
    ):
        if removed[kind]:
            cli.check(*argv, *removed[kind], mutating=True)
    return {
        "changed": any(removed.values()),
        "removed": {
            "containers": removed["container"],
            "volumes": removed["volume"],
            "networks": removed["network"],
        },
    }
