"""nested-check preflight's Garden checks, run for real on this kernel and cross-checked with an
independent probe (the kernel's answer, not a hard-coded one)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from nested_check import garden_check, garden_preflight
from test_garden_client import GARDEN_CHECK, recorded, request_body

XFS_LISTED = "xfs" in Path("/proc/filesystems").read_text().split()


def bounding_set():
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("CapBnd:")), 16)


def test_privileged_caps_check_names_exactly_what_the_bounding_set_lacks():
    result = garden_preflight.check_garden_privileged_caps()
    lacking = [
        name
        for name, bit in garden_preflight.GARDEN_PRIVILEGED_CAPS.items()
        if not bounding_set() & (1 << bit)
    ]
    last_cap = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    lacking = [name for name in lacking if garden_preflight.GARDEN_PRIVILEGED_CAPS[name] <= last_cap]
    if lacking:
        assert result["status"] == "warn"
        assert all(name in result["evidence"] for name in lacking)
        assert "no BOSH VM can be created" in result["consequence"]
    else:
        assert result["status"] == "ok"


def test_privileged_caps_check_flags_a_bounding_set_without_sys_resource():
    everything = (1 << 41) - 1
    assert garden_preflight.missing_privileged_caps(everything & ~(1 << 24)) == ["CAP_SYS_RESOURCE"]
    assert garden_preflight.missing_privileged_caps(everything) == []


@pytest.mark.needs_root
@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("mkfs.xfs") or not XFS_LISTED, reason="needs root, xfsprogs, xfs"
)
def test_xfs_quota_check_agrees_with_the_kernel(tmp_path):
    image, mount_point = tmp_path / "probe.img", tmp_path / "mnt"
    mount_point.mkdir()
    with image.open("wb") as sparse:
        sparse.truncate(320 << 20)
    subprocess.run(["mkfs.xfs", "-q", str(image)], check=True, timeout=60)
    probe = subprocess.run(
        ["mount", "-t", "xfs", "-o", "loop,pquota,noatime", str(image), str(mount_point)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if probe.returncode == 0:
        subprocess.run(["umount", str(mount_point)], check=True, timeout=60)
    result = garden_preflight.check_xfs_quota()
    assert result["status"] == ("ok" if probe.returncode == 0 else "warn"), result
    if probe.returncode != 0:
        assert "loop,pquota,noatime" in result["evidence"]
        assert "disk limit" in result["consequence"]
    leftover = subprocess.run(["losetup", "-j", str(image)], capture_output=True, text=True, check=False)
    assert leftover.stdout == ""


def test_masked_paths_are_found_in_mountinfo(tmp_path, monkeypatch):
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "83 82 0:42 / /proc rw,nosuid - proc proc rw\n"
        "84 83 0:47 /null /proc/kcore rw,nosuid - tmpfs tmpfs rw\n"
        "85 83 0:42 /sys /proc/sys ro,nosuid - proc proc rw\n"
        "86 82 0:45 / /sys rw,nosuid - sysfs sysfs rw\n"
    )
    real_open = open
    monkeypatch.setattr(
        "builtins.open",
        lambda path, *a, **k: real_open(mountinfo if path == "/proc/self/mountinfo" else path, *a, **k),
    )
    assert garden_preflight.masked_paths() == ["/proc/kcore", "/proc/sys"]
    result = garden_preflight.check_masked_paths()
    assert result["status"] == "warn"
    assert "systempaths=unconfined" in result["fix"]


def test_apparmor_profile_is_read_from_the_installed_job_first(tmp_path, monkeypatch):
    config, properties = tmp_path / "config.ini", tmp_path / "garden-properties.yml"
    properties.write_text('garden:\n  apparmor_profile: ""\n')
    monkeypatch.setattr(garden_preflight, "GARDEN_PROPERTIES", str(properties))
    monkeypatch.setattr(garden_preflight, "GARDEN_CONFIG", str(config))
    assert garden_preflight.garden_apparmor_profile() == ("", str(properties))
    config.write_text("[server]\n  apparmor = garden-default\n")
    assert garden_preflight.garden_apparmor_profile() == ("garden-default", str(config))


def test_apparmor_check_fails_a_profile_on_a_kernel_without_apparmor(monkeypatch):
    monkeypatch.setattr(garden_preflight, "garden_apparmor_profile", lambda: ("garden-default", "config.ini"))
    monkeypatch.setattr(garden_preflight.os.path, "isdir", lambda path: False)
    monkeypatch.setattr(garden_preflight.os.path, "exists", lambda path: False)
    result = garden_preflight.check_apparmor()
    assert result["status"] == "warn"
    assert 'garden.apparmor_profile to ""' in result["fix"]


def test_garden_rlimits_check_matches_this_process():
    import resource  # noqa: PLC0415

    result = garden_preflight.check_garden_rlimits()
    files = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    held = bool(int(next(line.split()[1] for line in Path("/proc/self/status").read_text().splitlines()
                         if line.startswith("CapEff:")), 16) & (1 << 24))  # fmt: skip
    if not held and files != resource.RLIM_INFINITY and files < 65536:
        assert result["status"] == "warn"
    assert f"nofile {files if files != resource.RLIM_INFINITY else 'unlimited'}" in result["evidence"]


def test_host_kernel_writes_default_to_shielded(monkeypatch):
    monkeypatch.delenv("GARDEN_HOST_KERNEL_WRITES", raising=False)
    assert "start-garden shields them" in garden_preflight.check_host_kernel_writes()["evidence"]


def test_error_summary_keeps_the_message_and_the_last_logged_error():
    connection = recorded(GARDEN_CHECK, "grootfs_disk_limit")["connections"][0]
    assert request_body(connection)["limits"]
    message = json.loads(connection["received"].split("\r\n\r\n", 1)[1])["Message"]
    summary = garden_check.garden_error_summary(message)
    assert summary.startswith("running image plugin create: making image")
    assert summary.endswith("setting quota limit for projid 2: function not implemented")
    assert "timestamp" not in summary
