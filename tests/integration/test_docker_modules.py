"""nested.warden.docker_lab and nested.warden.throwaway_container against the real Docker engine.

The modules run in-process (AnsibleModule from their JSON arguments; the docker CLI they call is
the real one). Every object a test creates carries a name and label unique to this run, on a
subnet of its own, and is removed afterwards; nothing talks to anything but this engine.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

import pytest
from ansible_collections.nested.warden.plugins.modules import docker_lab, throwaway_container
from module_helpers import docker, engine_answers
from module_helpers import run_module as run

IMAGE = "nested-warden/debian-base:bookworm"  # built by scripts/bootstrap
SUBNET = "172.30.79.0/24"
RUN = f"nw-test-{os.getpid()}-{secrets.token_hex(2)}"
LABEL = "nested-warden.test"


pytestmark = pytest.mark.skipif(
    not engine_answers(), reason="no Docker engine answers (make bootstrap starts one)"
)


def labelled(kind, network):
    fmt = "{{.Names}}" if kind == "container" else "{{.Name}}"
    extra = ["--all"] if kind == "container" else []
    listed = docker(kind, "ls", *extra, "--filter", f"label={LABEL}={network}", "--format", fmt).stdout
    return sorted(listed.split())


def inspect(name):
    found = docker("inspect", name, check=False)
    return json.loads(found.stdout)[0] if found.returncode == 0 else None


# -- docker_lab ----------------------------------------------------------------------------------


@pytest.fixture
def lab():
    """Arguments of a two-host lab unique to this test; everything labelled, and every container
    named after the lab (a test's bystanders), is removed after."""
    network = f"{RUN}-{secrets.token_hex(2)}"
    hosts = [
        {"name": f"{network}-a", "hostname": "a", "address": "172.30.79.10",
         "command": ["sleep", "infinity"]},
        {"name": f"{network}-b", "address": "172.30.79.20", "command": ["sleep", "infinity"],
         "capabilities": ["NET_ADMIN"]},
    ]  # fmt: skip
    yield {"network": network, "subnet": SUBNET, "label": LABEL, "image": IMAGE, "hosts": hosts}
    named = docker("ps", "-aq", "--filter", f"name=^{network}-").stdout.split()
    if named:
        docker("rm", "-f", "-v", *named, check=False)
    for kind, argv in (
        ("container", ["rm", "-f", "-v"]),
        ("volume", ["volume", "rm"]),
        ("network", ["network", "rm"]),
    ):
        names = labelled(kind, network)
        if names:
            docker(*argv, *names, check=False)


def actions(result):
    return [host["action"] for host in result["hosts"]]


def test_lab_comes_up_as_asked_and_a_second_run_changes_nothing(lab):
    first = run(docker_lab, lab)
    assert first["changed"] and first["network"]["action"] == "created"
    assert actions(first) == ["created", "created"]
    a, b = inspect(lab["hosts"][0]["name"]), inspect(lab["hosts"][1]["name"])
    assert a["State"]["Running"] and b["State"]["Running"]
    assert a["Config"]["Hostname"] == "a" and b["Config"]["Hostname"] == lab["hosts"][1]["name"]
    assert a["NetworkSettings"]["Networks"][lab["network"]]["IPAddress"] == "172.30.79.10"
    assert b["HostConfig"]["CapAdd"] == ["CAP_NET_ADMIN"] and a["HostConfig"]["Init"] is True
    assert a["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert a["Config"]["Labels"][LABEL] == lab["network"]
    network = json.loads(docker("network", "inspect", lab["network"]).stdout)[0]
    assert network["IPAM"]["Config"][0]["Subnet"] == SUBNET and network["Labels"][LABEL] == lab["network"]

    second = run(docker_lab, lab)
    assert not second["changed"] and actions(second) == ["unchanged", "unchanged"]
    assert inspect(lab["hosts"][0]["name"])["Id"] == a["Id"]


def test_check_mode_predicts_a_new_lab_and_creates_nothing(lab):
    result = run(docker_lab, lab, check_mode=True)
    assert result["changed"] and result["network"]["action"] == "created"
    assert actions(result) == ["created", "created"]
    assert labelled("network", lab["network"]) == [] and labelled("container", lab["network"]) == []


def test_a_changed_host_is_recreated_a_stopped_one_started_and_check_mode_only_predicts(lab):
    run(docker_lab, lab)
    before = inspect(lab["hosts"][0]["name"])["Id"]
    docker("stop", "-t", "0", lab["hosts"][1]["name"])
    lab["hosts"][0]["capabilities"] = ["NET_RAW"]

    predicted = run(docker_lab, lab, check_mode=True)
    assert predicted["changed"] and actions(predicted) == ["recreated", "started"]
    assert inspect(lab["hosts"][0]["name"])["Id"] == before
    assert not inspect(lab["hosts"][1]["name"])["State"]["Running"]

    done = run(docker_lab, lab)
    assert actions(done) == ["recreated", "started"]
    recreated = inspect(lab["hosts"][0]["name"])
    assert recreated["Id"] != before and recreated["HostConfig"]["CapAdd"] == ["CAP_NET_RAW"]
    assert inspect(lab["hosts"][1]["name"])["State"]["Running"]
    assert actions(run(docker_lab, lab)) == ["unchanged", "unchanged"]


def test_a_container_of_a_host_name_that_is_not_the_labs_is_left_alone(lab):
    stranger = lab["hosts"][0]["name"]
    docker("run", "-d", "--name", stranger, IMAGE, "sleep", "infinity")
    try:
        result = run(docker_lab, lab)
        assert result["failed"]
        assert f"a container named {stranger} exists but is not this lab's" in result["msg"]
        assert "rename the lab host" in result["msg"]
        assert inspect(stranger)["Config"]["Labels"].get(LABEL) is None  # not recreated
    finally:
        docker("rm", "-f", stranger, check=False)


def test_a_lab_network_with_another_subnet_fails_with_the_way_out(lab):
    run(docker_lab, dict(lab, hosts=[]))
    moved = [dict(host, address=host["address"].replace(".79.", ".80.")) for host in lab["hosts"]]
    result = run(docker_lab, dict(lab, subnet="172.30.80.0/24", hosts=moved))
    assert result["failed"]
    assert (
        f"the lab network {lab['network']} exists with subnet {SUBNET}, not 172.30.80.0/24" in result["msg"]
    )
    assert "playbooks/lab-down.yml" in result["msg"]
    assert labelled("container", lab["network"]) == []


def test_a_missing_image_fails_before_anything_is_created(lab):
    result = run(
        docker_lab,
        dict(
            lab, image="127.0.0.1:9/nested-warden/no-such-image:none", missing_image_hint="run make bootstrap"
        ),
    )
    assert result["failed"]
    assert result["msg"] == (
        "the image 127.0.0.1:9/nested-warden/no-such-image:none does not exist on this Docker engine; "
        "run make bootstrap"
    )
    assert labelled("network", lab["network"]) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"subnet": "172.30.79.1/24"}, "subnet=172.30.79.1/24 is not a network in CIDR notation"),
        ({"address": "172.30.80.10"}, "has address 172.30.80.10, not a host address in 172.30.79.0/24"),
        ({"address": "172.30.79.255"}, "has address 172.30.79.255, not a host address in 172.30.79.0/24"),
        ({"address": "172.30.79.1"}, "has address 172.30.79.1, the gateway of 172.30.79.0/24"),
        ({"address": "172.30.79.20"}, "more than one host has the address 172.30.79.20"),
        ({"name": "bad name!"}, "hosts[0].name 'bad name!' is not a name Docker takes"),
    ],
)
def test_bad_settings_fail_before_anything_is_created(lab, change, message):
    first = lab["hosts"][0]
    changed = {key: change[key] for key in ("address", "name") if key in change}
    hosts = [dict(first, **changed), lab["hosts"][1]]
    result = run(docker_lab, dict(lab, subnet=change.get("subnet", SUBNET), hosts=hosts))
    assert result["failed"] and message in result["msg"]
    assert labelled("network", lab["network"]) == [] and labelled("container", lab["network"]) == []


def test_an_address_another_container_holds_fails_before_anything_changes(lab):
    run(docker_lab, dict(lab, hosts=[]))
    holder = f"{lab['network']}-holder"
    docker(
        "run",
        "-d",
        "--name",
        holder,
        "--network",
        lab["network"],
        "--ip",
        "172.30.79.20",
        IMAGE,
        "sleep",
        "infinity",
    )
    try:
        result = run(docker_lab, lab)
        assert result["failed"]
        assert f"has address 172.30.79.20, which the container {holder} holds" in result["msg"]
        assert labelled("container", lab["network"]) == []
    finally:
        docker("rm", "-f", holder, check=False)


def test_two_hosts_may_swap_addresses(lab):
    run(docker_lab, lab)
    swapped = [dict(lab["hosts"][0], address="172.30.79.20"), dict(lab["hosts"][1], address="172.30.79.10")]
    result = run(docker_lab, dict(lab, hosts=swapped))
    assert not result.get("failed"), result.get("msg")
    assert actions(result) == ["recreated", "recreated"]
    address = inspect(lab["hosts"][0]["name"])["NetworkSettings"]["Networks"][lab["network"]]["IPAddress"]
    assert address == "172.30.79.20"


def test_no_engine_is_named_with_how_to_start_one(lab, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    result = run(docker_lab, lab)
    assert result["failed"] and result["msg"].startswith("no Docker engine answers (")
    assert "make bootstrap" in result["msg"] and "Traceback" not in result["msg"]


def test_absent_removes_exactly_what_carries_the_lab_label(lab):
    run(docker_lab, lab)
    docker("volume", "create", "--label", f"{LABEL}={lab['network']}", f"{lab['network']}-cache")
    bystander = f"{lab['network']}-bystander"
    docker("run", "-d", "--name", bystander, "--network", lab["network"], IMAGE, "sleep", "infinity")
    absent = {"network": lab["network"], "label": LABEL, "state": "absent"}
    try:
        refused = run(docker_lab, absent)
        assert (
            refused["failed"]
            and f"has containers attached that are not the lab's: {bystander}" in refused["msg"]
        )
        assert "Nothing was removed" in refused["msg"] and len(labelled("container", lab["network"])) == 2
        assert labelled("volume", lab["network"]) == [f"{lab['network']}-cache"]
        docker("network", "disconnect", "-f", lab["network"], bystander)
        predicted = run(docker_lab, absent, check_mode=True)
        assert predicted["changed"] and predicted["removed"] == {
            "containers": sorted(h["name"] for h in lab["hosts"]),
            "volumes": [f"{lab['network']}-cache"],
            "networks": [lab["network"]],
        }
        assert len(labelled("container", lab["network"])) == 2

        removed = run(docker_lab, absent)
        assert removed["changed"] and removed["removed"] == predicted["removed"]
        assert [labelled(kind, lab["network"]) for kind in ("container", "volume", "network")] == [[], [], []]
        assert inspect(bystander)["State"]["Running"]
        again = run(docker_lab, absent)
        assert not again["changed"]
    finally:
        docker("rm", "-f", bystander, check=False)


# -- throwaway_container -------------------------------------------------------------------------

CAPS = {"cap_add": ["ALL"], "cap_drop": ["SYS_RESOURCE"], "security_opts": ["seccomp=unconfined"],
        "device_cgroup_rules": ["a *:* rwm"]}  # fmt: skip


@pytest.fixture
def throwaway():
    name = f"{RUN}-{secrets.token_hex(2)}"
    yield {"name": name, "image": IMAGE, "caps": CAPS, "labels": {LABEL: name}}
    for leftover in (name, f"{name}-probe"):
        docker("rm", "-f", "-v", leftover, check=False)
    for volume in labelled("volume", name):
        docker("volume", "rm", volume, check=False)


def privileged_allowed():
    probe = docker("run", "--rm", "--privileged", IMAGE, "true", check=False)
    return probe.returncode == 0


def test_the_command_runs_with_stdin_and_nothing_outlives_the_task(throwaway):
    secret = f"pw-{secrets.token_hex(8)}"
    result = run(throwaway_container, dict(
        throwaway, mode="caps", exec=["sh", "-c", "cat >/tmp/in; grep CapEff /proc/self/status; cat /tmp/in"],
        stdin=secret, volume={"target": "/data", "labels": {LABEL: throwaway["name"]}}))  # fmt: skip
    assert not result.get("failed") and not result["changed"]
    assert result["mode"] == "caps" and result["privileged_refusal"] == ""
    # stdin reached the command: it printed the secret back, which the module's no_log masks.
    assert (
        result["exit_code"] == 0
        and result["stdout"].rstrip().endswith("********")
        and secret not in result["stdout"]
    )
    assert "CapEff" in result["stdout"] and not result["timed_out"]
    assert inspect(throwaway["name"]) is None
    assert labelled("volume", throwaway["name"]) == []  # the anonymous volume went with the container
    assert secret not in json.dumps(result["invocation"])


def test_a_password_in_json_on_stdin_is_masked_when_echoed_alone(throwaway):
    password = f"pw-{secrets.token_hex(8)}"
    stdin = json.dumps({"username": "someone", "password": password, "ca_cert": "PEM"})
    script = """sed -n 's/.*"password": "\\([^"]*\\)".*/\\1/p'"""
    result = run(throwaway_container, dict(throwaway, mode="caps", exec=["sh", "-c", script], stdin=stdin))
    assert result["exit_code"] == 0, result["stderr"]
    leaks = [key for key, value in result.items() if password in json.dumps(value)]
    assert leaks == [] and result["stdout"].strip() in ("********", "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER")


def test_auto_mode_says_which_mode_ran_and_why(throwaway):
    result = run(throwaway_container, dict(throwaway, exec=["true"]))
    if privileged_allowed():
        assert result["mode"] == "privileged" and result["privileged_refusal"] == ""
    else:
        assert result["mode"] == "caps"
        assert "operation not permitted" in result["privileged_refusal"]
    assert result["exit_code"] == 0 and inspect(throwaway["name"]) is None
    assert inspect(f"{throwaway['name']}-probe") is None


def test_a_failing_command_is_reported_not_raised_and_the_tail_is_read(throwaway):
    result = run(throwaway_container, dict(
        throwaway, mode="caps", exec=["sh", "-c", "seq 1 30 > /tmp/log; echo broken >&2; exit 3"],
        tail_path="/tmp/log", tail_lines=5))  # fmt: skip
    assert not result.get("failed")
    assert result["exit_code"] == 3 and result["stderr"].strip() == "broken"
    assert result["tail"] == ["26", "27", "28", "29", "30"]
    assert inspect(throwaway["name"]) is None


def test_a_command_that_runs_too_long_is_stopped(throwaway):
    result = run(throwaway_container, dict(throwaway, mode="caps", exec=["sleep", "60"], timeout=1))
    assert result["timed_out"] and not result.get("failed")
    assert inspect(throwaway["name"]) is None


def test_a_named_volume_is_kept_with_its_labels_and_reused(throwaway):
    volume = {"target": "/data", "source": f"{throwaway['name']}-keep", "labels": {LABEL: throwaway["name"]}}
    first = run(
        throwaway_container,
        dict(throwaway, mode="caps", volume=volume, exec=["sh", "-c", "echo kept > /data/f"]),
    )
    second = run(throwaway_container, dict(throwaway, mode="caps", volume=volume, exec=["cat", "/data/f"]))
    assert first["exit_code"] == 0 and second["stdout"].strip() == "kept"
    assert labelled("volume", throwaway["name"]) == [volume["source"]]


def test_a_container_left_by_a_killed_run_is_replaced(throwaway):
    leftover = ["--label", f"{LABEL}={throwaway['name']}"]
    docker("run", "-d", "--name", throwaway["name"], *leftover, IMAGE, "sleep", "infinity")
    docker("create", "--name", f"{throwaway['name']}-probe", *leftover, IMAGE, "true")
    result = run(throwaway_container, dict(throwaway, exec=["true"]))
    assert result["exit_code"] == 0 and inspect(throwaway["name"]) is None


@pytest.mark.parametrize("suffix", ["", "-probe"])
def test_a_container_of_that_name_that_this_module_did_not_leave_is_not_touched(throwaway, suffix):
    stranger = throwaway["name"] + suffix
    docker("run", "-d", "--name", stranger, IMAGE, "sleep", "infinity")
    result = run(throwaway_container, dict(throwaway, exec=["true"]))
    assert (
        result["failed"]
        and f"a container named {stranger} exists and is not one this module left" in result["msg"]
    )
    assert inspect(stranger)["State"]["Running"]


# A loopback reference: the module never pulls, and if it did, nothing would leave this machine.
MISSING_IMAGE = "127.0.0.1:9/nested-warden/no-such-image:none"


@pytest.mark.parametrize(("mode", "start"), [("caps", "container "), ("auto", "the --privileged probe ")])
def test_a_missing_image_is_not_pulled_and_fails_clearly_leaving_nothing(throwaway, mode, start):
    result = run(throwaway_container, dict(throwaway, image=MISSING_IMAGE, mode=mode, exec=["true"]))
    assert result["failed"] and result["msg"].startswith(start + throwaway["name"])
    assert "No such image: " + MISSING_IMAGE in result["msg"] and "Traceback" not in result["msg"]
    assert inspect(throwaway["name"]) is None and inspect(throwaway["name"] + "-probe") is None


@pytest.mark.parametrize("option", ["timeout", "tail_lines"])
def test_counts_below_one_are_refused(throwaway, option):
    result = run(throwaway_container, dict(throwaway, exec=["true"], **{option: 0}))
    assert result["failed"] and result["msg"].startswith(f"{option}=0: give a number of")


def test_through_ansible_a_failing_command_does_not_fail_the_task(throwaway, tmp_path):
    """Ansible fails a result whose rc is not 0; the exec's status is exit_code, for the role to judge."""
    playbook = tmp_path / "throwaway.yml"
    task = {"nested.warden.throwaway_container": dict(throwaway, mode="caps", exec=["sh", "-c", "exit 3"])}
    playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [
        dict(task, register="out"), {"ansible.builtin.debug": {"var": "out.exit_code"}}]}]))  # fmt: skip
    environ = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    environ.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    bin_dir = os.path.dirname(sys.executable)
    done = subprocess.run(
        [os.path.join(bin_dir, "ansible-playbook"), str(playbook), "-i", "localhost,", "-c", "local",
         "-e", f"ansible_python_interpreter={sys.executable}"],
        capture_output=True, text=True, env=environ, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = [task["hosts"]["localhost"] for task in json.loads(done.stdout)["plays"][0]["tasks"]]
    assert not results[0].get("failed") and results[0]["exit_code"] == 3 and results[1]["out.exit_code"] == 3
    assert inspect(throwaway["name"]) is None
