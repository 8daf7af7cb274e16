"""The warden CPI step's protocol handling (nested_check.cpi_protocol, nested_check.warden_cpi)
and the report's "warden CPI" row, against the real CPI's answers recorded in
tests/fixtures/warden_cpi (cloudfoundry/bosh-warden-cpi-release 75aa1f6007d52d55471b6e4c70dddd2e669309b4,
Garden main, the container lab's caps mode)."""

import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from ansible_collections.nested.warden.plugins.filter.nested import warden_cpi_row
from nested_check import cpi_protocol, warden_cpi

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "warden_cpi"
RECORDED = json.loads((FIXTURES / "real-cpi-75aa1f6-caps-mode.json").read_text(encoding="utf-8"))
CPI_COMMIT = "75aa1f6007d52d55471b6e4c70dddd2e669309b4"
# Every key jobs/warden_cpi/templates/cpi.json.erb renders (at CPI_COMMIT), as paths.
TEMPLATE_KEYS = {
    "start_containers_with_systemd",
    "Warden.ConnectNetwork",
    "Warden.ConnectAddress",
    "Actions.StemcellsDir",
    "Actions.ExpandStemcellTarball",
    "Actions.DisksDir",
    "Actions.HostEphemeralBindMountsDir",
    "Actions.HostPersistentBindMountsDir",
    "Actions.GuestEphemeralBindMountPath",
    "Actions.GuestPersistentBindMountsDir",
    "Actions.Agent.Mbus",
    "Actions.Agent.NTP",
    "Actions.Agent.Blobstore.Provider",
    "Actions.Agent.Blobstore.Options",
}


def recorded(label):
    return next(call for call in RECORDED["calls"] if call["label"] == label)


def key_paths(value, prefix=""):
    paths = set()
    for key, item in value.items():
        path = f"{prefix}{key}"
        if isinstance(item, dict) and key != "Options":
            paths |= key_paths(item, path + ".")
        else:
            paths.add(path)
    return paths


def replaying(stdout_by_method):
    """A subprocess.run that answers as the recorded CPI did, and keeps what it was sent."""
    sent = []

    def run(argv, **kwargs):
        request = json.loads(kwargs["input"])
        sent.append((argv, request))
        return subprocess.CompletedProcess(argv, 0, stdout=stdout_by_method[request["method"]], stderr="")

    return run, sent


def test_the_fixture_names_the_cpi_commit_and_the_garden_that_served_it():
    assert CPI_COMMIT in RECORDED["cpi"]
    assert "guardian c2d9348cfdee47232f3aa5e8e8b224b09a16e4f0" in RECORDED["garden"]


def test_config_renders_every_key_of_the_job_template_and_nothing_else(tmp_path):
    config = cpi_protocol.cpi_config(str(tmp_path), systemd=True)
    assert key_paths(config) == TEMPLATE_KEYS
    assert config["start_containers_with_systemd"] is True
    assert config["Warden"] == {"ConnectNetwork": "tcp", "ConnectAddress": "127.0.0.1:7777"}
    # GrootFS imports the stemcell as a tar: the job's property says to not expand it for GrootFS.
    assert config["Actions"]["ExpandStemcellTarball"] is False
    for name in ("StemcellsDir", "DisksDir", "HostEphemeralBindMountsDir", "HostPersistentBindMountsDir"):
        assert config["Actions"][name].startswith(str(tmp_path) + "/")
    assert config["Actions"]["GuestEphemeralBindMountPath"] == "/var/vcap/data"
    assert config["Actions"]["GuestPersistentBindMountsDir"] == "/warden-cpi-dev"


def test_request_is_what_the_director_sends_one_per_call():
    request = cpi_protocol.cpi_request("has_vm", ["vm-1"], "req-1")
    assert request == {
        "method": "has_vm",
        "arguments": ["vm-1"],
        "context": {"director_uuid": "nested-check-director", "request_id": "req-1"},
        "api_version": 2,
    }


def test_create_vm_request_carries_networks_and_env_as_the_director_sends_them_with_secrets_masked():
    arguments = recorded("create_vm")["request"]["arguments"]
    agent_id, _stemcell, cloud_properties, networks, disks, env = arguments
    assert agent_id == "nested-check-agent"
    assert (cloud_properties, disks) == ({}, [])
    assert networks["default"]["type"] == "manual"
    assert networks["default"]["ip"] == "10.244.0.2"
    assert env["bosh"]["password"] == cpi_protocol.MASK
    assert env["bosh"]["mbus"]["cert"]["private_key"] == cpi_protocol.MASK
    assert env["bosh"]["groups"][-1] == "nested-check-zookeeper"
    text = (FIXTURES / "real-cpi-75aa1f6-caps-mode.json").read_text(encoding="utf-8")
    assert "dummy-password-hash" not in text
    assert "dummy-key" not in text


def test_masking_hides_secret_keys_and_url_passwords_and_keeps_the_rest():
    masked = cpi_protocol.mask(
        {
            "mbus": "nats://nats:s3cret@10.0.0.1:4222",
            "blobstore": {"options": {"password": "p", "user": "agent"}},
            "env": [{"access_key_id": "AK"}, "https://host/path"],
            "count": 3,
        }
    )
    assert masked == {
        "mbus": f"nats://nats:{cpi_protocol.MASK}@10.0.0.1:4222",
        "blobstore": {"options": {"password": cpi_protocol.MASK, "user": "agent"}},
        "env": [{"access_key_id": cpi_protocol.MASK}, "https://host/path"],
        "count": 3,
    }


@pytest.mark.parametrize("call", RECORDED["calls"], ids=lambda call: call["label"])
def test_every_recorded_answer_parses_to_its_result_or_the_cpis_error(call):
    result, error = cpi_protocol.parse_response(call["stdout"])
    assert {"result": result, "error": error} == call["response"]
    assert (error is None) == (call["outcome"] == "succeeded")


def test_the_refused_create_vm_and_an_unknown_method_are_the_cpis_own_errors():
    _result, refused = cpi_protocol.parse_response(recorded("create_vm")["stdout"])
    assert refused["type"] == "Bosh::Clouds::CloudError"
    assert "unable to apply caps: operation not permitted" in refused["message"]
    _result, unknown = cpi_protocol.parse_response(recorded("an unknown method")["stdout"])
    assert unknown["type"] == "Bosh::Clouds::NotImplemented"


def test_an_answer_that_is_not_a_cpi_response_is_an_error_that_quotes_it():
    for stdout in ("", "panic: boom", "[1, 2]"):
        result, error = cpi_protocol.parse_response(stdout)
        assert result is None
        assert error["type"] == "nested-check"


def test_create_vm_cid_from_either_api_version():
    assert cpi_protocol.vm_cid_of("vm-1") == "vm-1"
    assert cpi_protocol.vm_cid_of(["vm-1", {"default": {}}]) == "vm-1"


def test_caller_keeps_each_call_masked_with_outcome_and_seconds():
    stdout = {call["method"]: call["stdout"] for call in RECORDED["calls"] if call["label"] == call["method"]}
    runner, sent = replaying(stdout)
    caller = cpi_protocol.CpiCaller("/bin/cpi", "/tmp/cpi.json", runner=runner)
    caller.call("info")
    env = cpi_protocol.director_env()
    _result, error = caller.call(
        "create_vm", ["agent", "stemcell", {}, cpi_protocol.director_networks(), [], env]
    )
    assert sent[0][0] == ["/bin/cpi", "-configPath", "/tmp/cpi.json"]
    assert sent[1][1]["arguments"][5]["bosh"]["password"] == env["bosh"]["password"]  # the CPI gets it
    assert error["type"] == "Bosh::Clouds::CloudError"
    info, create_vm = caller.calls
    assert info["outcome"] == "succeeded"
    assert info["response"]["result"]["stemcell_formats"][0] == "warden-tar"
    assert create_vm["outcome"] == "failed"
    assert create_vm["request"]["arguments"][5]["bosh"]["password"] == cpi_protocol.MASK
    assert set(create_vm) >= {"method", "label", "outcome", "seconds", "request", "response"}
    assert "stdout" not in create_vm  # kept only when recording


def test_a_cpi_that_exits_non_zero_without_an_answer_is_a_failed_call():
    def run(argv, **kwargs):
        del kwargs
        return subprocess.CompletedProcess(argv, 1, stdout="", stderr="[main] ERROR - Loading config boom\n")

    caller = cpi_protocol.CpiCaller("/bin/cpi", "/tmp/cpi.json", runner=run)
    _result, error = caller.call("info")
    assert error["type"] == "nested-check"
    assert caller.calls[0]["outcome"] == "failed"


class FakeSession:
    def __init__(self, calls, missing, removed=(), problems=()):
        self.caller = type("Caller", (), {"calls": calls})()
        self.missing = list(missing)
        self.removed = list(removed)
        self.problems = list(problems)
        self.left = {}
        self.before = {"loop_devices": [], "mounts": [], "processes": []}
        self.started = 0.0


def finished(session, runs, monkeypatch):
    monkeypatch.setattr(
        warden_cpi, "host_leftovers", lambda: {"loop_devices": [], "mounts": [], "processes": []}
    )
    result = {"check": "warden-cpi", "runs": runs, "cpi": RECORDED["cpi"], "garden": RECORDED["garden"]}
    warden_cpi.finish(result, session)
    return result


def caps_mode_calls():
    return [recorded(label) for label in ("info", "create_stemcell", "create_vm", "delete_stemcell")]


def test_create_vm_refused_for_lack_of_cap_sys_resource_is_skipped_with_the_cpis_reason(monkeypatch):
    calls = caps_mode_calls()
    session = FakeSession(calls, ["CAP_SYS_RESOURCE"], removed=RECORDED["cpi_left_behind"])
    result = finished(session, [{"start_containers_with_systemd": False, "failed_checks": []}], monkeypatch)
    assert result["status"] == "skipped"
    assert result["passed"] is True
    assert "CAP_SYS_RESOURCE" in result["reason"]
    assert "unable to apply caps" in result["reason"]
    assert result["not_covered"][0]["what"].startswith("the warden CPI's VM calls")
    assert [call["label"] for call in result["calls"]] == [
        "info",
        "create_stemcell",
        "create_vm",
        "delete_stemcell",
    ]
    assert "removed by nested-check" in result["cpi_left_behind"]
    assert result["cleanup"] == "nothing left behind"


def test_the_same_refusal_on_a_host_that_grants_privileged_fails_the_step(monkeypatch):
    session = FakeSession(caps_mode_calls(), [], removed=RECORDED["cpi_left_behind"])
    result = finished(session, [{"start_containers_with_systemd": False, "failed_checks": []}], monkeypatch)
    assert result["status"] == "failed"
    assert result["passed"] is False
    assert "create_vm" in result["failed"]
    assert any("left the host bind mounts" in item for item in result["failed"])


def test_every_call_succeeding_with_its_checks_passes_and_says_nothing_is_left(monkeypatch):
    succeeded = [
        {**recorded("info"), "label": label, "method": label}
        for label in ("info", "create_stemcell", "create_vm", "attach_disk", "delete_vm", "delete_stemcell")
    ]
    session = FakeSession(succeeded, [])
    runs = [{"start_containers_with_systemd": value, "failed_checks": []} for value in (False, True)]
    result = finished(session, runs, monkeypatch)
    assert result["status"] == "passed"
    assert "create_vm, attach_disk and delete_vm" in result["reason"]


def test_a_failed_check_in_the_vms_container_fails_the_step_and_names_the_value(monkeypatch):
    session = FakeSession([recorded("info")], [])
    runs = [{"start_containers_with_systemd": True, "failed_checks": ["privileged"]}]
    result = finished(session, runs, monkeypatch)
    assert result["failed"] == ["systemd:privileged"]


def test_without_a_cpi_in_the_image_the_step_is_skipped_with_how_to_add_it(monkeypatch):
    monkeypatch.setattr(warden_cpi, "cpi_installed", lambda: cpi_protocol.cpi_installed("/nonexistent"))
    result = warden_cpi.warden_cpi_check(type("Args", (), {"address": "tcp:127.0.0.1:7777", "timeout": 1})())
    assert result["status"] == "skipped"
    assert result["passed"] is True
    assert "image_build_cpi_dir" in result["reason"]
    assert result["not_covered"][0]["reason"] == result["reason"]


def test_stemcell_is_shaped_as_the_director_unpacks_it(tmp_path, monkeypatch):
    # The image has busybox-static; a machine without it gets a stand-in (only its name matters here).
    which = shutil.which
    stand_in = tmp_path / "busybox"
    stand_in.write_text("#!/bin/sh\n", encoding="utf-8")
    monkeypatch.setattr(cpi_protocol.shutil, "which", lambda name: which(name) or str(stand_in))
    work = tmp_path / "work"
    work.mkdir()
    tarball, image = cpi_protocol.make_stemcell(str(work))
    with tarfile.open(tarball) as tar:
        assert sorted(tar.getnames()) == ["image", "stemcell.MF"]
    assert Path(image).name == "image"  # the CPI reads stemcell.MF beside it
    manifest = json.loads((Path(image).parent / "stemcell.MF").read_text(encoding="utf-8"))
    assert "warden-tar" in manifest["stemcell_formats"]
    assert not {"docker-light", "warden-light"} & set(manifest["stemcell_formats"])  # not a light stemcell
    with tarfile.open(image) as rootfs:
        names = set(rootfs.getnames())
    # GNU tar with its libraries: Garden's nstar runs it inside the VM's container to stream files in.
    assert {"./bin/bash", "./bin/tar", "./bin/busybox", "./bin/umount", "./var/vcap/bosh/bin"} <= names
    # The CPI copies the agent env out of the VM with cp (attach_disk failed without it).
    assert {"./bin/cp", "./bin/mount", "./bin/mkdir", "./bin/chmod"} <= names


def test_report_row_lists_each_call_the_cpi_commit_and_the_garden(monkeypatch):
    session = FakeSession(caps_mode_calls(), ["CAP_SYS_RESOURCE"])
    result = finished(
        session,
        [{"start_containers_with_systemd": False, "failed_checks": [], "what_it_did": "x"}],
        monkeypatch,
    )
    row = warden_cpi_row(result)
    assert row["row"] == "warden CPI"
    assert row["status"] == "skipped"
    assert "create_vm failed (" in row["calls"]
    assert row["cpi"] == f"cloudfoundry/bosh-warden-cpi-release {CPI_COMMIT}"
    assert "guardian" in row["garden"]
    assert f"CPI: cloudfoundry/bosh-warden-cpi-release {CPI_COMMIT}" in row["details"]


def test_report_row_without_the_step_says_it_did_not_run():
    row = warden_cpi_row({})
    assert row["status"] == "not run"
    assert "nested_test_warden_cpi" in row["reason"]


# -- the privileged path, which only the VM lab runs for real --------------------------------------
# Doubles, not recordings: a CPI that answers every call as the recorded successful answers are
# shaped ({"result": ..., "error": null, "log": ""}) and a Garden whose VM container shows what
# the real CPI asks for. They walk the code the VM lab runs; the VM lab proves the real thing.


class VmGarden:
    def __init__(self, systemd_root="/"):
        self.settings = {"agent_id": "nested-check-agent", "networks": {"default": {}}, "disks": {}}
        self.systemd_root = systemd_root
        self.destroyed = []

    def info(self, handle):
        return {"State": "active", "ContainerIP": "10.244.0.2", "handle": handle}

    def run(self, handle, spec, timeout=None):
        del handle, timeout
        path = spec["args"][-1]
        stdout = {
            "/proc/self/uid_map": "         0          0 4294967295\n",
            "/proc/self/mountinfo": (
                "1 0 0:1 / /var/vcap/data rw - ext4 /dev/x rw\n"
                "2 0 0:2 / /warden-cpi-dev rw - ext4 /dev/x rw\n"
                f"3 0 0:3 {self.systemd_root} /sys/fs/cgroup rw - cgroup2 cgroup rw\n"
                "4 0 7:0 / /warden-cpi-dev/disk-1 rw - ext4 /dev/loop0 rw\n"
            ),
            cpi_protocol.AGENT_SETTINGS: json.dumps(self.settings),
        }[path]
        return type("Done", (), {"exit_status": 0, "stdout": stdout, "stderr": ""})()

    def list(self):
        return []

    def destroy(self, handle):
        self.destroyed.append(handle)


def vm_cpi(garden):
    """A CPI double for the VM calls: attach_disk writes the disk into the agent settings."""
    answers = {
        "create_vm": ["vm-1", {}],
        "has_vm": True,
        "set_vm_metadata": None,
        "create_disk": "disk-1",
        "attach_disk": "/warden-cpi-dev/disk-1",
        "detach_disk": None,
        "delete_disk": None,
        "delete_vm": None,
    }
    deleted = set()

    def run(argv, **kwargs):
        request = json.loads(kwargs["input"])
        method = request["method"]
        if method == "attach_disk":
            garden.settings["disks"]["persistent"] = {"disk-1": "/warden-cpi-dev/disk-1"}
        if method == "delete_vm":
            deleted.add(request["arguments"][0])
        result = False if method == "has_vm" and request["arguments"][0] in deleted else answers[method]
        return subprocess.CompletedProcess(
            argv, 0, stdout=json.dumps({"result": result, "error": None, "log": ""})
        )

    return run


@pytest.mark.parametrize("systemd", [False, True])
def test_a_vm_pass_makes_the_directors_calls_in_order_and_checks_the_container(systemd):
    garden = VmGarden()
    caller = cpi_protocol.CpiCaller("/bin/cpi", "/tmp/cpi.json", runner=vm_cpi(garden))
    cpi_run = warden_cpi.CpiRun(caller, garden, systemd)
    (warden_cpi.systemd_pass if systemd else warden_cpi.full_pass)(cpi_run, "stemcell-1")
    cpi_run.cleanup()
    summary = cpi_run.summary()
    labels = [call["label"] for call in summary["calls"]]
    if systemd:
        assert labels == ["create_vm", "has_vm", "delete_vm", "has_vm"]
    else:
        assert labels == [
            "create_vm",
            "has_vm",
            "set_vm_metadata",
            "create_disk",
            "attach_disk",
            "detach_disk",
            "delete_disk",
            "delete_vm",
            "has_vm",
        ]
    assert summary["failed_calls"] == []
    assert summary["failed_checks"] == []
    checks = {check["name"]: check for check in summary["checks"]}
    assert checks["privileged"]["passed"]
    assert checks["bind_mount /warden-cpi-dev"]["passed"]
    assert checks["agent_settings"]["passed"]
    assert checks["has_vm_after_delete"]["passed"]
    assert checks["cgroup_mount"]["required"] is systemd
    assert ("agent_settings_after_attach" in checks) is not systemd
    create_vm = summary["calls"][0]["request"]
    # Each pass its own address: a VM that a failed create_vm leaves in Garden keeps its address.
    assert create_vm["arguments"][3] == cpi_protocol.director_networks(
        "10.244.0.3" if systemd else "10.244.0.2"
    )
    assert create_vm["arguments"][5]["bosh"]["password"] == cpi_protocol.MASK


def test_an_unprivileged_vm_container_or_missing_disk_fails_its_checks():
    garden = VmGarden()
    original = garden.run

    def remapped(handle, spec, timeout=None):
        done = original(handle, spec, timeout)
        if spec["args"][-1] == "/proc/self/uid_map":
            done.stdout = "0 4294967294 65536\n"
        return done

    garden.run = remapped
    run = vm_cpi(garden)

    def no_disk_in_settings(argv, **kwargs):
        answer = run(argv, **kwargs)
        garden.settings["disks"] = {}
        return answer

    caller = cpi_protocol.CpiCaller("/bin/cpi", "/tmp/cpi.json", runner=no_disk_in_settings)
    cpi_run = warden_cpi.CpiRun(caller, garden, False)
    warden_cpi.full_pass(cpi_run, "stemcell-1")
    cpi_run.cleanup()
    assert cpi_run.summary()["failed_checks"] == ["privileged", "agent_settings_after_attach"]


def test_a_failed_attach_is_cleaned_up_through_the_cpi():
    garden = VmGarden()
    run = vm_cpi(garden)

    def attach_fails(argv, **kwargs):
        if json.loads(kwargs["input"])["method"] == "attach_disk":
            error = {"type": "Bosh::Clouds::CloudError", "message": "Mounting disk", "ok_to_retry": False}
            return subprocess.CompletedProcess(argv, 0, stdout=json.dumps({"result": None, "error": error}))
        return run(argv, **kwargs)

    caller = cpi_protocol.CpiCaller("/bin/cpi", "/tmp/cpi.json", runner=attach_fails)
    cpi_run = warden_cpi.CpiRun(caller, garden, False)
    warden_cpi.full_pass(cpi_run, "stemcell-1")
    cpi_run.cleanup()
    labels = [call["label"] for call in cpi_run.summary()["calls"]]
    assert labels[-4:] == ["attach_disk", "delete_disk", "delete_vm", "has_vm"]
    assert cpi_run.summary()["failed_calls"] == ["attach_disk"]


def test_leftovers_name_what_the_cpi_keeps_under_its_directories_and_removal_clears_the_bind_mounts(
    tmp_path, monkeypatch
):
    for name in ("stemcells", "disks", "ephemeral_bind_mounts_dir", "persistent_bind_mounts_dir"):
        (tmp_path / name).mkdir()
    (tmp_path / "disks" / "disk-1").write_text("", encoding="utf-8")
    (tmp_path / "ephemeral_bind_mounts_dir" / "vm-1").mkdir()
    (tmp_path / "persistent_bind_mounts_dir" / "vm-1").mkdir()
    unmounted = []
    monkeypatch.setattr(warden_cpi, "run", lambda argv, timeout: unmounted.append(argv) or (0, "", ""))
    assert warden_cpi.leftovers(str(tmp_path)) == {
        "disks": ["disk-1"],
        "ephemeral_bind_mounts_dir": ["vm-1"],
        "persistent_bind_mounts_dir": ["vm-1"],
    }
    removed = warden_cpi.remove_bind_mounts(str(tmp_path))
    assert removed == ["ephemeral_bind_mounts_dir/vm-1", "persistent_bind_mounts_dir/vm-1"]
    assert unmounted[0] == ["umount", "--recursive", str(tmp_path / "ephemeral_bind_mounts_dir" / "vm-1")]
    assert warden_cpi.leftovers(str(tmp_path)) == {"disks": ["disk-1"]}
