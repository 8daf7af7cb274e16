"""The Garden client (warden-cpi-containerd/nested_check/garden_client.py) and nested-check's garden check,
against the Garden double serving the protocol recorded from the real gdn
(tests/fixtures/garden/, README there), and against the real gdn where an image with Garden
binaries exists (NESTED_WARDEN_GARDEN_IMAGE, default nested-warden/garden-dev:garden)."""

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from nested_check import garden_check, garden_client, garden_preflight

PROJECT = Path(__file__).resolve().parents[2]
IMAGE_DIR = PROJECT / "warden-cpi-containerd"
FIXTURES = PROJECT / "tests/fixtures/garden"
PROTOCOL = FIXTURES / "protocol.json"
GARDEN_CHECK = FIXTURES / "garden-check.json"
DOUBLE = PROJECT / "tests/doubles/garden"


def recorded(path, step):
    return next(item for item in json.loads(path.read_text()) if item["step"] == step)


def request_body(connection):
    return json.loads(connection["sent"].split("\r\n\r\n", 1)[1].split("\n", 1)[0])


def start_double(tmp_path, *transcripts, strict=True):
    ready = tmp_path / "ready"
    argv = [sys.executable, str(DOUBLE), "--listen", "tcp:127.0.0.1:0", "--ready-file", str(ready)]
    for transcript in transcripts:
        argv += ["--transcript", str(transcript)]
    process = subprocess.Popen([*argv, *(["--strict"] if strict else [])])
    deadline = time.monotonic() + 10
    while not ready.exists() or not ready.read_text():
        assert process.poll() is None, "the Garden double exited"
        assert time.monotonic() < deadline, "the Garden double did not start"
        time.sleep(0.05)
    return process, ready.read_text()


@pytest.fixture
def protocol_garden(tmp_path):
    process, address = start_double(tmp_path, PROTOCOL)
    yield garden_client.Garden(address, timeout=10)
    process.kill()
    process.wait()


@pytest.fixture
def check_garden(tmp_path):
    process, address = start_double(tmp_path, GARDEN_CHECK)
    yield garden_client.Garden(address, timeout=10)
    process.kill()
    process.wait()


def test_client_requests_are_byte_for_byte_what_was_sent_to_the_real_gdn():
    for path in (PROTOCOL, GARDEN_CHECK):
        for step in json.loads(path.read_text()):
            for connection in step["connections"]:
                head, _, rest = connection["sent"].partition("\r\n\r\n")
                method, target, _ = head.split(" ", 2)
                body = json.loads(rest.split("\n", 1)[0]) if rest.strip() else None
                ours = garden_client.Garden._request_bytes(method, target, body).decode()
                assert connection["sent"].startswith(ours), (step["step"], connection["label"])


def test_ping_answers(protocol_garden):
    protocol_garden.ping()


def test_create_reads_the_capitalised_handle_gdn_answers(protocol_garden):
    spec = request_body(recorded(PROTOCOL, "create")["connections"][0])
    assert '{"Handle":"nc-protocol"}' in recorded(PROTOCOL, "create")["connections"][0]["received"]
    assert protocol_garden.create(spec) == "nc-protocol"


def test_run_sends_stdin_and_reads_stdout_stderr_and_exit_status(protocol_garden):
    run = recorded(PROTOCOL, "run_stdin_stdout_stderr_exit_7")
    spec = request_body(run["connections"][0])
    result = protocol_garden.run("nc-protocol", spec, stdin=b"hello\n")
    assert result.exit_status == 7
    assert result.stdout == "got hello\n"
    assert result.stderr == "to-stderr\n"
    assert result.process_id == run["outcome"]["process_id"]
    assert result.error == ""


def test_hijacked_responses_say_chunked_but_carry_raw_bytes():
    # What the real gdn sends after hijacking: a chunked header, then no chunk framing.
    run = recorded(PROTOCOL, "run_stdin_stdout_stderr_exit_7")
    received = {c["label"]: c["received"] for c in run["connections"]}
    assert "Transfer-Encoding: chunked" in received["stdout"]
    assert received["stdout"].endswith("\r\n\r\ngot hello\n")
    assert received["run"].split("\r\n\r\n", 1)[1].splitlines()[-1].endswith('"exit_status":7}')


def test_missing_executable_is_garden_s_typed_error(protocol_garden):
    spec = request_body(recorded(PROTOCOL, "run_missing_executable")["connections"][0])
    with pytest.raises(garden_client.GardenError) as raised:
        protocol_garden.run("nc-protocol", spec)
    assert raised.value.error_type == "ExecutableNotFoundError"
    assert raised.value.status == 500
    assert "no such file or directory" in raised.value.message


def test_destroying_a_missing_container_is_a_404_container_not_found(protocol_garden):
    with pytest.raises(garden_client.GardenError) as raised:
        protocol_garden.destroy("nc-missing")
    assert (raised.value.status, raised.value.error_type) == (404, "ContainerNotFoundError")
    assert raised.value.handle == "nc-missing"


def test_running_in_a_missing_container_is_an_untyped_500(protocol_garden):
    with pytest.raises(garden_client.GardenError) as raised:
        protocol_garden.run("nc-missing", {"path": "/bin/true"})
    assert (raised.value.status, raised.value.error_type) == (500, "")
    assert raised.value.message == "container nc-missing not found"


def test_privileged_create_fails_with_the_capability_error(check_garden):
    spec = request_body(recorded(GARDEN_CHECK, "privileged")["connections"][0])
    assert spec["privileged"] is True
    with pytest.raises(garden_client.GardenError) as raised:
        check_garden.create(spec)
    assert "unable to apply caps: operation not permitted" in raised.value.message


def test_disk_limit_create_fails_where_xfs_has_no_quota(check_garden):
    spec = request_body(recorded(GARDEN_CHECK, "grootfs_disk_limit")["connections"][0])
    assert spec["limits"]["disk_limits"]["byte_hard"] == 64 << 20
    with pytest.raises(garden_client.GardenError) as raised:
        check_garden.create(spec)
    assert "setting quota limit for projid" in raised.value.message
    assert "function not implemented" in raised.value.message


def test_the_double_refuses_a_body_that_differs_from_the_recording(protocol_garden):
    with pytest.raises(garden_client.GardenError) as raised:
        protocol_garden.create({"handle": "nc-protocol", "rootfs": "raw:///elsewhere"})
    assert "body differs from the recording" in raised.value.message


def test_an_unreachable_garden_is_a_garden_error_not_a_traceback():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(garden_client.GardenError, match="cannot connect to Garden"):
        garden_client.Garden(f"tcp:127.0.0.1:{port}", timeout=2).ping()


def garden_args(address, **overrides):
    values = {"address": address, "timeout": 10.0, "no_start": True, "handle_prefix": "nc", "record": None}
    return argparse.Namespace(**(values | overrides))


@pytest.fixture
def garden(tmp_path, monkeypatch):
    """The garden check's module, its Garden paths in tmp_path and no rootfs to build."""
    module = garden_check
    monkeypatch.setattr(module, "GARDEN_WORK_DIR", str(tmp_path / "work"))
    monkeypatch.setattr(module, "GARDEN_STATE", str(tmp_path / "state"))
    # The double answers from the recording whatever the rootfs holds; no busybox needed here.
    monkeypatch.setattr(module, "make_garden_rootfs", lambda work: (f"{work}/rootfs", f"{work}/rootfs.tar"))
    return module


def test_garden_check_against_the_recording_reports_what_this_host_refused(tmp_path, garden, monkeypatch):
    # The recording's host: every capability but CAP_SYS_RESOURCE in the bounding set.
    monkeypatch.setattr(garden_preflight, "capability_bounding_set", lambda: ((1 << 41) - 1) & ~(1 << 24))
    process, address = start_double(tmp_path, GARDEN_CHECK, strict=False)
    try:
        result = garden.garden_check(garden_args(address))
    finally:
        process.kill()
        process.wait()
    statuses = {step["name"]: step["status"] for step in result["steps"]}
    assert statuses["unprivileged_raw"] == "passed"
    assert statuses["unprivileged_grootfs"] == "passed"
    assert statuses["grootfs_disk_limit"] == "refused"
    assert statuses["privileged"] == "refused"
    assert result["status"] == "passed", result.get("error")
    covered = {entry["what"]: entry["reason"] for entry in result["not_covered"]}
    assert "would pass on a host that allows --privileged" in covered["garden privileged"]
    assert "CAP_SYS_RESOURCE" in covered["garden privileged"]
    assert "XFS quota support" in covered["garden grootfs_disk_limit"]


def test_a_privileged_failure_with_every_capability_is_a_failure_not_a_refusal(tmp_path, garden, monkeypatch):
    monkeypatch.setattr(garden_preflight, "capability_bounding_set", lambda: (1 << 41) - 1)
    process, address = start_double(tmp_path, GARDEN_CHECK, strict=False)
    try:
        result = garden.garden_check(garden_args(address))
    finally:
        process.kill()
        process.wait()
    privileged = next(step for step in result["steps"] if step["name"] == "privileged")
    assert privileged["status"] == "failed"
    assert result["status"] == "failed"
    assert "privileged" in result["failed"]


def test_garden_check_is_skipped_with_the_reason_without_garden(garden, monkeypatch):
    monkeypatch.setattr(garden.os.path, "exists", lambda path: False)
    result = garden.garden_check(garden_args("tcp:127.0.0.1:1", no_start=False))
    assert result["status"] == "skipped"
    assert result["passed"] is True
    assert "scripts/build-garden" in result["reason"]
    assert result["not_covered"][0]["reason"] == result["reason"]


GARDEN_IMAGE = os.environ.get("NESTED_WARDEN_GARDEN_IMAGE", "nested-warden/garden-dev:garden")
CAPS_FLAGS = [
    "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE", "--security-opt", "seccomp=unconfined",
    "--security-opt", "apparmor=unconfined", "--security-opt", "systempaths=unconfined",
    "--device-cgroup-rule", "a *:* rwm",
]  # fmt: skip
REMOUNT = (
    "mount -o remount,rw /sys && for m in $(awk '$3 == \"cgroup\" {print $2}' /proc/mounts);"
    ' do mount -o remount,bind,rw "$m"; done'
)


def image_with_garden():
    try:
        found = subprocess.run(
            ["docker", "image", "inspect", GARDEN_IMAGE], capture_output=True, timeout=20, check=False
        )
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False
    return found.returncode == 0


@pytest.mark.needs_docker
@pytest.mark.skipif(
    not image_with_garden(),
    reason=f"no image {GARDEN_IMAGE} with Garden binaries: build them with scripts/build-garden "
    "(guardian, grootfs, idmapper sources) and the runtime stage, then set NESTED_WARDEN_GARDEN_IMAGE",
)
def test_real_garden_nested_in_the_explicit_capability_container():
    name = f"nw-garden-dev-test-{os.getpid()}"
    subprocess.run(
        ["docker", "run", "-d", "--name", name, "--label", "nested-warden.garden-dev=1", "--init",
         *CAPS_FLAGS, GARDEN_IMAGE, "sleep", "infinity"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    try:
        subprocess.run(["docker", "exec", name, "sh", "-c", REMOUNT], check=True, timeout=60)
        done = subprocess.run(
            ["docker", "exec", name, "nested-check", "garden", "--timeout", "60"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        result = json.loads(done.stdout)
        statuses = {step["name"]: step["status"] for step in result["steps"]}
        assert statuses["unprivileged_raw"] == "passed", result
        assert statuses["unprivileged_grootfs"] == "passed", result
        assert statuses["stop"] == "passed" and statuses["cleanup"] == "passed", result
        bounding = int(
            subprocess.run(
                ["docker", "exec", name, "awk", "/^CapBnd/ {print $2}", "/proc/self/status"],
                capture_output=True, text=True, check=True, timeout=30,
            ).stdout, 16,
        )  # fmt: skip
        if not bounding & (1 << 24):
            assert statuses["privileged"] == "refused"
        # Where the kernel has XFS quota the disk limit works; where not, it is named, not failed.
        assert statuses["grootfs_disk_limit"] in ("passed", "refused"), result
        # Loop devices are the host's: none may stay bound to a GrootFS store.
        loops = subprocess.run(["losetup", "-a"], capture_output=True, text=True, timeout=30, check=False)
        assert "grootfs" not in loops.stdout
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60, check=False)


def test_a_garden_that_does_not_start_fails_the_check_with_the_log_and_still_stops(
    tmp_path, garden, monkeypatch
):
    # The real start-garden, on a VCAP_ROOT holding no Garden: it fails and says why.
    monkeypatch.setattr(garden, "garden_installed", lambda: ("binaries", "garden-bin (test)"))
    monkeypatch.setattr(garden, "TEST_CONTAINERD_PIDFILE", str(tmp_path / "no-containerd.pid"))
    monkeypatch.setenv("VCAP_ROOT", str(tmp_path / "vcap"))
    monkeypatch.setenv("GARDEN_PREFLIGHT", "skip")
    monkeypatch.setenv("PATH", f"{IMAGE_DIR}:{os.environ['PATH']}")
    result = garden.garden_check(garden_args("tcp:127.0.0.1:1", no_start=False))
    assert [step["name"] for step in result["steps"]] == ["start", "stop", "cleanup"]
    start = result["steps"][0]
    assert start["status"] == "failed"
    assert "no Garden in this image" in start["evidence"]
    assert result["status"] == "failed"
    assert result["error"].startswith("start: start-garden exited 1")
