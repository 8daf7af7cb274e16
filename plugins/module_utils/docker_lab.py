"""The lab's Docker objects (one network, one container per lab host) brought to a state.

Every object carries the lab label (LABEL=NETWORK). A container also carries LABEL.spec, the
digest of what it was created from (image ID included), so a changed host, or a rebuilt image,
recreates it; an unchanged one is left running. Objects without the lab label are never touched.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json

from ansible_collections.nested.warden.plugins.module_utils.docker_cli import (
    DockerError,
    capability_problem,
    label_key_problem,
    labels_of,
    name_problem,
    security_opt_problem,
)

RESTART_POLICY = "unless-stopped"
# A subnet needs a gateway and at least one host address besides its network and broadcast ones.
LONGEST_PREFIX = 29


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


def plan_network(cli, network, subnet, label):
    """('create', None) or ('unchanged', its inspect document); DockerError when a network of that
    name cannot be the lab's."""
    found = cli.inspect("network", [network])
    if not found:
        return "create", None
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
    return "unchanged", found[0]


def gateway_of(subnet, network_document):
    """The network's gateway: what the engine reports, else the one it would give a new network
    (the first host address)."""
    for config in ((network_document or {}).get("IPAM") or {}).get("Config") or []:
        if config.get("Subnet") == subnet and config.get("Gateway"):
            return config["Gateway"]
    return str(next(ipaddress.ip_network(subnet).hosts()))


def check_addresses(plan, subnet, network_document):
    """DockerError when a host's address is the gateway, or held by a container that keeps it."""
    gateway = gateway_of(subnet, network_document)
    # A container that is recreated, or that is another host's old self, gives its address up.
    released = {spec["name"] for spec, action in plan if action == "recreate"}
    held = {
        endpoint.get("IPv4Address", "").split("/")[0]: endpoint.get("Name", "")
        for endpoint in ((network_document or {}).get("Containers") or {}).values()
    }
    for spec, _action in plan:
        if spec["address"] == gateway:
            raise DockerError(
                f"hosts: {spec['name']} has address {spec['address']}, the gateway of {subnet}; "
                "choose another"
            )
        holder = held.get(spec["address"])
        if holder and holder != spec["name"] and holder not in released:
            raise DockerError(
                f"hosts: {spec['name']} has address {spec['address']}, which the container {holder} holds "
                f"on the network; remove that container or choose another address"
            )


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


def check_settings(subnet, hosts, network="", label=""):
    """DockerError naming the first setting docker would refuse halfway through the lab, and how
    to fix it; it runs before anything is changed."""
    problem = name_problem("network", network) or label_key_problem("label", label)
    if problem:
        raise DockerError(problem)
    try:
        net = ipaddress.ip_network(subnet, strict=True)
    except ValueError as exc:
        raise DockerError(
            f"subnet={subnet} is not a network in CIDR notation ({exc}), e.g. 172.30.77.0/24"
        ) from None
    if net.version != 4:
        raise DockerError(
            f"subnet={subnet} is an IPv6 network; the lab hosts get fixed IPv4 addresses, so give an "
            "IPv4 subnet such as 172.30.77.0/24"
        )
    if net.prefixlen > LONGEST_PREFIX:
        raise DockerError(
            f"subnet={subnet} is too small for a gateway and the lab hosts; give a /{LONGEST_PREFIX} "
            "or larger, such as 172.30.77.0/24"
        )
    for key in ("name", "address"):
        values = [host[key] for host in hosts]
        twice = sorted({value for value in values if values.count(value) > 1})
        if twice:
            raise DockerError(
                f"hosts: more than one host has the {key} {', '.join(twice)}; give each its own"
            )
    for index, host in enumerate(hosts):
        where = f"hosts[{index}]"
        problem = (
            name_problem(f"{where}.name", host["name"])
            or name_problem(f"{where}.hostname", host.get("hostname") or host["name"])
            or capability_problem(f"{where}.capabilities", host.get("capabilities"))
            or security_opt_problem(f"{where}.security_opts", host.get("security_opts"))
        )
        if problem:
            raise DockerError(problem)
        command = host.get("command") or []
        if command and not command[0].strip():
            raise DockerError(
                f"{where}.command starts with an empty program name; give the program first, "
                "e.g. [sleep, infinity], or leave command out for the image's own"
            )
        try:
            address = ipaddress.ip_address(host["address"])
            inside = address in net and address not in (net.network_address, net.broadcast_address)
        except ValueError:
            inside = False
        if not inside:
            raise DockerError(
                f"hosts: {host['name']} has address {host['address']}, not a host address in {subnet} "
                "(the network and broadcast addresses are not)"
            )


def check_free_subnet(cli, subnet, network):
    """DockerError when subnet overlaps the subnet of another network of the engine (which would
    refuse to create the lab network)."""
    wanted = ipaddress.ip_network(subnet)
    names = [line.strip() for line in cli.check("network", "ls", "--format", "{{.Name}}").splitlines()]
    for document in cli.inspect("network", [name for name in names if name and name != network]):
        for config in (document.get("IPAM") or {}).get("Config") or []:
            try:
                other = ipaddress.ip_network(config.get("Subnet") or "", strict=False)
            except ValueError:
                continue
            if other.version == wanted.version and other.overlaps(wanted):
                raise DockerError(
                    f"subnet={subnet} overlaps {other}, the subnet of the Docker network "
                    f"{document.get('Name')}; choose a subnet that no network uses (docker network "
                    "inspect shows theirs)"
                )


def run_host(cli, spec, label):
    """docker run for a lab host; a container the engine created but could not start is removed."""
    try:
        cli.check(*run_argv(spec, label), what=f"lab host {spec['name']}", mutating=True)
    except DockerError:
        cli.run("rm", "--force", spec["name"], mutating=True)
        raise


def lab_present(cli, *, network, subnet, label, image, hosts, missing_image_hint=""):
    """Checks everything first, then changes; when the engine still refuses a change, what this
    run created is removed again, so an error leaves no new network or container behind."""
    check_settings(subnet, hosts, network, label)
    if not image:
        raise DockerError("image is empty: give the image of the lab hosts")
    images = cli.inspect("image", [image])
    if not images:
        raise DockerError(
            f"the image {image} does not exist on this Docker engine"
            + (f"; {missing_image_hint}" if missing_image_hint else "")
        )
    network_action, network_document = plan_network(cli, network, subnet, label)
    if network_action == "create":
        check_free_subnet(cli, subnet, network)
    plan = plan_hosts(cli, hosts, image_id=images[0]["Id"], network=network, label=label)
    check_addresses(plan, subnet, network_document)
    created = []  # (kind, name) of what this run made, undone when a later step fails
    try:
        apply_plan(cli, plan, {"action": network_action, "name": network, "subnet": subnet}, label, created)
    except DockerError as exc:
        raise DockerError(f"{exc}{undo(cli, created)}") from None
    report = [
        {"name": spec["name"], "address": spec["address"], "action": DONE[action]} for spec, action in plan
    ]
    return {
        "changed": network_action != "unchanged" or any(action != "unchanged" for _spec, action in plan),
        "network": {"name": network, "subnet": subnet, "action": DONE[network_action]},
        "hosts": report,
    }


def apply_plan(cli, plan, lab_network, label, created):
    """Make the changes of plan; created collects (kind, name) of each object made."""
    network, subnet = lab_network["name"], lab_network["subnet"]
    if lab_network["action"] == "create":
        cli.check(
            "network", "create", "--subnet", subnet, "--label", f"{label}={network}", network,
            what=f"lab network {network}", mutating=True,
        )  # fmt: skip
        created.append(("network", network))
    # Every recreated host goes first, so that hosts may swap addresses.
    for spec, action in plan:
        if action == "recreate":
            cli.check("rm", "--force", spec["name"], what=f"lab host {spec['name']}", mutating=True)
    for spec, action in plan:
        if action == "start":
            cli.check("start", spec["name"], what=f"lab host {spec['name']}", mutating=True)
        if action in ("create", "recreate"):
            run_host(cli, spec, label)
            created.append(("container", spec["name"]))


def undo(cli, created):
    """Remove what this run created (containers, then the network); a sentence for the error."""
    if not created:
        return ""
    left = []
    for kind, name in reversed(created):
        argv = ["rm", "--force", "--volumes", name] if kind == "container" else ["network", "rm", name]
        if cli.run(*argv, mutating=True).rc != 0:
            left.append(f"{kind} {name}")
    undone = ", ".join(f"{kind} {name}" for kind, name in created)
    if left:
        return f". This run had created {undone}; could not remove {', '.join(left)}: remove it by hand."
    return f". Removed what this run had created ({undone})."


def lab_absent(cli, network, label):
    """Remove every container, volume and network that carries LABEL=NETWORK."""
    problem = name_problem("network", network) or label_key_problem("label", label)
    if problem:  # an empty value or key would select more than this lab's objects
        raise DockerError(problem)
    selector = f"{label}={network}"
    removed = {kind: cli.listed(kind, selector) for kind in ("container", "volume", "network")}
    for document in cli.inspect("network", removed["network"]):
        attached = sorted(
            endpoint.get("Name", "") for endpoint in (document.get("Containers") or {}).values()
            if endpoint.get("Name", "") not in removed["container"]
        )  # fmt: skip
        if attached:
            raise DockerError(
                f"the lab network {document.get('Name')} has containers attached that are not the "
                f"lab's: {', '.join(attached)}; disconnect them (docker network disconnect) and remove "
                "the lab again. Nothing was removed."
            )
    for kind, argv in (
        ("container", ["rm", "--force", "--volumes"]),
        ("volume", ["volume", "rm"]),
        ("network", ["network", "rm"]),
    ):
        if removed[kind]:
            cli.check(*argv, *removed[kind], what=f"the lab's {kind}s", mutating=True)
    return {
        "changed": any(removed.values()),
        "removed": {
            "containers": removed["container"],
            "volumes": removed["volume"],
            "networks": removed["network"],
        },
    }
