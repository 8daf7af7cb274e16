"""What docker_lab and throwaway_container ask the docker CLI for, and the lab_host filter.

The modules themselves run against the real engine in tests/integration/test_docker_modules.py;
these pin the argv and the decisions that are pure functions.
"""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.nested.warden.plugins.filter.lab import lab_host
from ansible_collections.nested.warden.plugins.module_utils.docker_cli import failure_message, is_not_found
from ansible_collections.nested.warden.plugins.module_utils.docker_lab import (
    host_spec,
    run_argv,
    spec_digest,
)
from ansible_collections.nested.warden.plugins.module_utils.throwaway_container import (
    run_argv as throwaway_argv,
)

HOST = {"name": "lab-a", "hostname": "a", "address": "10.9.0.10", "command": ["sleep", "infinity"],
        "capabilities": ["NET_ADMIN", "NET_RAW"], "security_opts": []}  # fmt: skip


def test_the_spec_digest_follows_every_setting_and_the_image_but_not_list_order():
    base = spec_digest(host_spec(HOST, "sha256:1", "net", "lab"))
    assert base == spec_digest(
        host_spec(dict(HOST, capabilities=["NET_RAW", "NET_ADMIN"]), "sha256:1", "net", "lab")
    )
    changed = [
        host_spec(HOST, "sha256:2", "net", "lab"),
        host_spec(dict(HOST, address="10.9.0.11"), "sha256:1", "net", "lab"),
        host_spec(dict(HOST, command=["sleep", "1"]), "sha256:1", "net", "lab"),
        host_spec(dict(HOST, capabilities=["NET_ADMIN"]), "sha256:1", "net", "lab"),
        host_spec(dict(HOST, security_opts=["apparmor=unconfined"]), "sha256:1", "net", "lab"),
        host_spec(dict(HOST, hostname="b"), "sha256:1", "net", "lab"),
    ]
    assert len({base, *(spec_digest(spec) for spec in changed)}) == 1 + len(changed)


def test_a_lab_host_runs_with_init_its_address_labels_and_restart_policy():
    spec = host_spec(HOST, "sha256:1", "net", "lab")
    assert run_argv(spec, "lab") == [
        "run", "--detach", "--name", "lab-a", "--hostname", "a", "--init", "--network", "net",
        "--ip", "10.9.0.10", "--restart", "unless-stopped", "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW",
        "--label", "lab=net", "--label", f"lab.spec={spec_digest(spec)}", "sha256:1", "sleep", "infinity",
    ]  # fmt: skip


PARAMS = {"name": "t", "image": "img", "init": True, "network": None, "labels": {"k": "v"}, "volume": None,
          "command": ["sleep", "infinity"],
          "caps": {"cap_add": ["ALL"], "cap_drop": ["SYS_RESOURCE"], "security_opts": ["seccomp=unconfined"],
                   "device_cgroup_rules": ["a *:* rwm"]}}  # fmt: skip


def test_privileged_mode_ignores_the_caps_and_caps_mode_gives_each_one():
    assert throwaway_argv(PARAMS, "privileged") == [
        "run", "--detach", "--pull", "never", "--name", "t", "--init", "--privileged", "--label", "k=v",
        "img", "sleep", "infinity",
    ]  # fmt: skip
    assert throwaway_argv(PARAMS, "caps")[7:15] == [
        "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE", "--security-opt", "seccomp=unconfined",
        "--device-cgroup-rule", "a *:* rwm",
    ]  # fmt: skip


def test_a_volume_is_anonymous_unless_named_and_carries_its_labels():
    anonymous = throwaway_argv(
        dict(PARAMS, volume={"target": "/var/lib/x", "labels": {"a": "b"}}), "privileged"
    )
    named = throwaway_argv(
        dict(PARAMS, volume={"target": "/d", "source": "keep", "labels": {}}), "privileged"
    )
    assert anonymous[anonymous.index("--mount") + 1] == "type=volume,dst=/var/lib/x,volume-label=a=b"
    assert named[named.index("--mount") + 1] == "type=volume,dst=/d,src=keep"


def test_failures_name_the_object_and_subcommand_or_say_that_no_engine_answers():
    down = failure_message(
        ("image", "inspect", "x"), "Cannot connect to the Docker daemon at unix:///x.sock."
    )
    assert down.startswith("no Docker engine answers (Cannot connect") and "make bootstrap" in down
    other = failure_message(
        ("network", "create", "--subnet", "s"), "Error response from daemon: pool overlaps\n", "lab network n"
    )
    assert other == "lab network n: 'docker network create' failed: Error response from daemon: pool overlaps"
    assert failure_message(("run", "--detach", "--name", "x"), "") == "'docker run' failed: no output"
    assert is_not_found("Error: No such container: x") and is_not_found("Error: No such network: x")
    assert is_not_found("Error response from daemon: network nw-lab not found")
    assert not is_not_found("permission denied") and not is_not_found("manifest not found")


def test_lab_host_gives_writable_sysctls_their_rights_once():
    hostvars = {
        "c": {"ansible_host": "lab-c", "lab_address": "10.9.0.3",
              "lab_capabilities": ["NET_ADMIN", "SYS_ADMIN"], "lab_writable_sysctls": "yes"},
        "w": {"ansible_host": "lab-w", "lab_address": "10.9.0.4"},
    }  # fmt: skip
    writable = lab_host("c", hostvars, ["sleep", "infinity"], ["sh", "-c", "remount"])
    assert writable == {
        "name": "lab-c", "hostname": "c", "address": "10.9.0.3", "command": ["sh", "-c", "remount"],
        "capabilities": ["NET_ADMIN", "SYS_ADMIN"], "security_opts": ["apparmor=unconfined"],
    }  # fmt: skip
    plain = lab_host("w", hostvars, ["sleep", "infinity"], ["sh"])
    assert (
        plain["command"] == ["sleep", "infinity"]
        and plain["capabilities"] == []
        and plain["security_opts"] == []
    )


def test_lab_host_without_an_address_says_what_to_set():
    with pytest.raises(
        AnsibleFilterError, match=r"lab host w lacks 'lab_address' \(set it in the lab inventory\)"
    ):
        lab_host("w", {"w": {"ansible_host": "lab-w"}}, [], [])
