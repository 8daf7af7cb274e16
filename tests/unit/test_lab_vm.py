"""The VM lab host's decisions that need no VM: the network checks, the qemu argv (isolation),
the forwards' devices, idempotence records, removal, and the lab_vm_summary filter.

The real VM boots in the VM lab (scripts/run-tests lab-vm); these pin what must hold before it.
"""

import json
import os
import re
import socket
import stat
import subprocess
import time

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.nested.warden.plugins.filter.lab import lab_vm_summary
from ansible_collections.nested.warden.plugins.module_utils import lab_vm
from ansible_collections.nested.warden.plugins.module_utils.lab_vm import (
    LabVm,
    LabVmError,
    check_network,
    digest,
    ensure_absent,
    ensure_present,
    forward_devices,
    qemu_argv,
    spec_of,
)

PARAMS = {
    "name": "vm-lab-worker",
    "state_dir": "/srv/state/vm",
    "image_dir": "/srv/image",
    "ssh_port": 2222,
    "host_forwards": [{"port": 8078, "guest_port": 8078}],
    "memory": 4096,
    "cpus": 2,
    "network": "172.30.78.0/24",
    "address": "172.30.78.100",
    "guest_forwards": [{"address": "172.30.78.10", "port": 5000}, {"address": "172.30.78.10", "port": 5443}],
    "accel": "auto",
    "qemu": "/usr/bin/qemu-system-x86_64",
    "qemu_img": "/usr/bin/qemu-img",
    "socat": "/usr/bin/socat",
    "ip": "/usr/sbin/ip",
    "forward_devices": {"172.30.78.10": "br-0123456789ab"},
}


def params(**changes):
    return dict(PARAMS, **changes)


def argv_for(accel="tcg"):
    _, hosts, _ = check_network(PARAMS)
    return qemu_argv(PARAMS, LabVm(PARAMS["state_dir"]), hosts, accel, "ssh-ed25519 AAAA lab")


def test_the_guest_is_isolated_and_reached_only_through_loopback():
    argv = argv_for()
    netdev = argv[argv.index("-netdev") + 1].split(",")
    assert "restrict=on" in netdev
    assert "hostfwd=tcp:127.0.0.1:2222-:22" in netdev
    assert [n for n in netdev if n.startswith("hostfwd=")] == [
        "hostfwd=tcp:127.0.0.1:2222-:22",
        "hostfwd=tcp:127.0.0.1:8078-:8078",
    ]


@pytest.mark.parametrize(
    ("forwards", "expected"),
    [
        ([{"port": 2222}], "host_forwards[0].port=2222 is also ssh_port"),
        (
            [{"port": 8078}, {"port": 8078, "guest_port": 80}],
            "host_forwards[1].port=8078 is also host_forwards[0].port",
        ),
        ([{"port": 8022, "guest_port": 22}], "host_forwards[0].guest_port=22 is the guest's SSH"),
        ([{"port": 70000}], "host_forwards[0].port=70000: give a TCP port"),
        ([{"port": 8078, "guest_port": -1}], "host_forwards[0].guest_port=-1: give a TCP port"),
    ],
)
def test_host_forwards_are_checked_before_anything_starts(forwards, expected):
    with pytest.raises(LabVmError, match=re.escape(expected)):
        lab_vm.check_ports(params(host_forwards=forwards))


def test_a_host_forward_without_guest_port_forwards_the_same_port():
    checked = params(host_forwards=[{"port": 8078, "guest_port": None}])
    lab_vm.check_ports(checked)
    assert checked["host_forwards"] == [{"port": 8078, "guest_port": 8078}]


def test_each_guest_forward_is_carried_by_socat_bound_to_the_lab_device():
    netdev = argv_for()[argv_for().index("-netdev") + 1]
    carried = "/usr/bin/socat -lf /srv/state/vm/guestfwd.log - TCP:172.30.78.10:5000"
    carried += ",,so-bindtodevice=br-0123456789ab"
    assert f"guestfwd=tcp:172.30.78.10:5000-cmd:{carried}" in netdev
    assert netdev.count("guestfwd=") == 2


def test_the_user_network_is_the_lab_subnet_with_qemu_gateway_dns_and_the_vm_address():
    netdev = argv_for()[argv_for().index("-netdev") + 1].split(",")
    assert {"net=172.30.78.0/24", "host=172.30.78.2", "dns=172.30.78.3", "dhcpstart=172.30.78.100"} <= set(
        netdev
    )


def test_the_lab_key_goes_in_on_the_kernel_command_line_and_boots_from_the_overlay():
    argv = argv_for()
    append = argv[argv.index("-append") + 1]
    assert "nested_warden.authorized_key=" in append and "console=ttyS0" in append
    assert argv[argv.index("-drive") + 1].startswith("file=/srv/state/vm/overlay.qcow2,format=qcow2")
    assert "-no-reboot" in argv


def test_tcg_and_kvm_choose_their_accelerator_and_cpu():
    tcg, kvm = argv_for("tcg"), argv_for("kvm")
    assert tcg[tcg.index("-accel") + 1] == "tcg,thread=multi" and tcg[tcg.index("-cpu") + 1] == "max"
    assert kvm[kvm.index("-accel") + 1] == "kvm" and kvm[kvm.index("-cpu") + 1] == "host"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"network": "not-a-network"}, "network='not-a-network' is not an IPv4 network"),
        ({"network": "172.30.78.0/29"}, "/28 or larger"),
        ({"network": "fd00::/64"}, "IPv4 network"),
        ({"address": "172.30.79.5"}, "address=172.30.79.5 is outside network=172.30.78.0/24"),
        ({"address": "nowhere"}, "address='nowhere' is not an IPv4 address"),
        ({"address": "172.30.78.2"}, "also the gateway (qemu)"),
        ({"address": "172.30.78.10"}, "also the guest_forwards[0].address"),
        (
            {"guest_forwards": [{"address": "10.1.1.1", "port": 5000}]},
            "guest_forwards[0].address=10.1.1.1 is outside",
        ),
        ({"guest_forwards": [{"address": "172.30.78.10", "port": 0}]}, "guest_forwards[0].port=0"),
        ({"guest_forwards": [{"address": "172.30.78.3", "port": 53}]}, "the DNS (qemu)"),
    ],
)
def test_network_settings_that_cannot_work_are_refused_with_the_option_named(changes, message):
    with pytest.raises(LabVmError, match=None) as raised:
        check_network(params(**changes))
    assert message in str(raised.value)


def fake_ip(tmp_path, output, code=0):
    script = tmp_path / "ip"
    script.write_text(f"#!/bin/sh\nprintf '%s\\n' '{output}'\nexit {code}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_a_forward_on_a_local_bridge_names_that_device(tmp_path):
    ip = fake_ip(tmp_path, "172.30.78.10 dev br-0123456789ab src 172.30.78.1 uid 0")
    assert forward_devices([{"address": "172.30.78.10", "port": 5000}], ip) == {
        "172.30.78.10": "br-0123456789ab"
    }


@pytest.mark.parametrize(
    "route",
    [
        "172.30.78.10 via 192.0.2.1 dev eth0 src 192.0.2.2 uid 0",  # would leave this machine
        "127.0.0.1 dev lo src 127.0.0.1 uid 0",
        "",
    ],
)
def test_a_forward_that_would_leave_this_machine_is_refused_before_the_vm_starts(tmp_path, route):
    ip = fake_ip(tmp_path, route)
    with pytest.raises(LabVmError) as raised:
        forward_devices([{"address": "172.30.78.10", "port": 5000}], ip)
    assert "is not on a network of this machine" in str(raised.value)
    assert "bring the lab's network and containers up first" in str(raised.value)


def test_a_forward_with_no_route_at_all_is_refused(tmp_path):
    ip = fake_ip(tmp_path, "RTNETLINK answers: Network is unreachable", code=2)
    with pytest.raises(LabVmError, match="Network is unreachable"):
        forward_devices([{"address": "172.30.78.10", "port": 5000}], ip)


def test_the_recorded_spec_changes_with_every_setting_and_the_base_recipe():
    base = digest(spec_of(PARAMS, "r1"))
    assert base == digest(spec_of(params(qemu="/elsewhere/qemu"), "r1"))  # where qemu is: not the VM
    for changes in (
        {"memory": 2048},
        {"ssh_port": 2223},
        {"guest_forwards": PARAMS["guest_forwards"][:1]},
        {"forward_devices": {"172.30.78.10": "br-ffffffffffff"}},
        {"accel": "tcg"},
    ):
        assert digest(spec_of(params(**changes), "r1")) != base, changes
    assert digest(spec_of(PARAMS, "r2")) != base


def test_removal_of_a_lab_vm_that_never_ran_changes_nothing(tmp_path):
    state_dir = tmp_path / "vm"
    assert ensure_absent(params(state_dir=str(state_dir)), check_mode=False) == {
        "changed": False,
        "action": "absent",
    }


def test_removal_stops_the_process_and_removes_the_state_directory(tmp_path):
    state_dir = tmp_path / "vm"
    state_dir.mkdir()
    (state_dir / "overlay.qcow2").write_text("overlay")
    # A stand-in process whose command line names qemu, as the pid file's process must.
    process = subprocess.Popen(["bash", "-c", "exec -a qemu-system-x86_64 sleep 60"])
    try:
        (state_dir / "qemu.pid").write_text(f"{process.pid}\n")
        deadline = time.monotonic() + 5
        while not LabVm(str(state_dir)).running() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert LabVm(str(state_dir)).running()
        assert ensure_absent(params(state_dir=str(state_dir)), check_mode=True) == {
            "changed": True,
            "action": "removed",
        }
        assert state_dir.exists() and process.poll() is None
        assert ensure_absent(params(state_dir=str(state_dir)), check_mode=False)["changed"]
        process.wait(timeout=10)
        assert not state_dir.exists()
    finally:
        if process.poll() is None:
            process.kill()


def test_a_pid_file_naming_another_program_is_not_taken_for_the_vm(tmp_path):
    (tmp_path / "qemu.pid").write_text(f"{os.getpid()}\n")
    assert not LabVm(str(tmp_path)).running()


def test_the_base_disk_must_be_complete(tmp_path):
    (tmp_path / "disk.img").write_text("")
    with pytest.raises(
        LabVmError, match=r"lacks vmlinuz, initrd\.img, host_key\.pub: .*scripts/bootstrap vm"
    ):
        lab_vm.check_base(str(tmp_path))


def test_the_lab_stage_hands_on_where_each_vm_runs():
    results = [
        {
            "item": "worker-vm-0",
            "action": "started",
            "accel": "tcg",
            "accel_reason": "KVM was tried and given up",
            "seconds_to_ready": 93.5,
            "guest": {"kernel": "6.1.0-50-amd64", "cgroup": "v2", "apparmor": True, "docker": "20.10.24"},
        },
        {"item": "worker-vm-1", "skipped": True},
    ]
    summary = lab_vm_summary(results)
    assert summary["worker-vm-0"] == {
        "action": "started", "kernel": "6.1.0-50-amd64", "cgroup": "v2", "apparmor": True,
        "docker": "20.10.24", "accel": "tcg", "accel_reason": "KVM was tried and given up",
        "seconds_to_ready": 93.5,
    }  # fmt: skip
    assert summary["worker-vm-1"] == {"action": "skipped"}
    with pytest.raises(AnsibleFilterError, match="results list"):
        lab_vm_summary("worker-vm-0")


def base_dir(tmp_path):
    image = tmp_path / "image"
    image.mkdir()
    for name in ("disk.img", "vmlinuz", "initrd.img"):
        (image / name).write_text("")
    (image / "host_key.pub").write_text("ssh-ed25519 AAAAC3Nz host\n")
    (image / "recipe").write_text("r1\n")
    return str(image)


def present_params(tmp_path, **changes):
    ip = fake_ip(tmp_path, "172.30.78.10 dev br-0123456789ab src 172.30.78.1 uid 0")
    values = dict(PARAMS, state_dir=str(tmp_path / "state" / "vm"), image_dir=base_dir(tmp_path), ip=ip)
    values["ssh_port"] = free_port()
    values["host_forwards"] = [{"port": free_port(), "guest_port": 8078}]
    values.update(changes)
    return values


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_forwarded_port_in_use_is_refused_before_anything_is_made(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        values = present_params(tmp_path, ssh_port=holder.getsockname()[1])
        with pytest.raises(
            LabVmError, match=r"\(ssh_port\) is in use by another program: give ssh_port a free"
        ):
            ensure_present(values, check_mode=False)
    assert not (tmp_path / "state").exists()


def test_a_host_forward_port_in_use_is_refused_before_anything_is_made(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        values = present_params(
            tmp_path, host_forwards=[{"port": holder.getsockname()[1], "guest_port": None}]
        )
        with pytest.raises(LabVmError, match=r"\(host_forwards\[0\]\.port\) is in use by another program"):
            ensure_present(values, check_mode=False)
    assert not (tmp_path / "state").exists()


def test_check_mode_predicts_the_boot_and_makes_nothing(tmp_path):
    assert ensure_present(present_params(tmp_path), check_mode=True) == {"changed": True, "action": "started"}
    assert not (tmp_path / "state").exists()


def test_check_mode_predicts_the_failure_of_a_port_in_use(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        with pytest.raises(LabVmError, match="in use"):
            ensure_present(present_params(tmp_path, ssh_port=holder.getsockname()[1]), check_mode=True)


def test_a_missing_qemu_is_named_with_the_way_to_install_it(tmp_path):
    with pytest.raises(LabVmError, match=r"qemu was not found: install it \(scripts/bootstrap packages\)"):
        ensure_present(present_params(tmp_path, qemu=None), check_mode=False)


def test_more_memory_than_the_machine_has_is_refused(tmp_path):
    with pytest.raises(LabVmError, match="lower lab_vm_memory"):
        ensure_present(present_params(tmp_path, memory=10**9), check_mode=True)


def test_a_vm_left_by_a_killed_run_is_recovered_not_taken_for_running(tmp_path):
    values = present_params(tmp_path)
    state = tmp_path / "state" / "vm"
    state.mkdir(parents=True)
    (state / "overlay.qcow2").write_text("left by a killed run")
    (state / "qemu.pid").write_text("999999999\n")
    assert ensure_present(values, check_mode=True) == {"changed": True, "action": "recovered"}


def test_a_failed_kvm_probe_is_remembered_only_for_this_kernel_cpu_and_qemu(tmp_path):
    record = tmp_path / "kvm-probe.json"
    key = lab_vm.probe_key("/usr/bin/qemu-system-x86_64")
    record.write_text(json.dumps({"key": key, "reason": "KVM was tried and given up: hung"}))
    assert lab_vm.cached_kvm_failure(str(record), key) == "KVM was tried and given up: hung"
    assert lab_vm.cached_kvm_failure(str(record), lab_vm.probe_key("/other/qemu")) == ""
    record.write_text("not json")
    assert lab_vm.cached_kvm_failure(str(record), key) == ""
    assert lab_vm.cached_kvm_failure(str(tmp_path / "absent.json"), key) == ""
