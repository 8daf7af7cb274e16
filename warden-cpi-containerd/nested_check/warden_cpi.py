"""nested-check warden-cpi: the real warden CPI creates, inspects and deletes a VM through the
image's Garden, the calls a director makes for a VM with a persistent disk.

Garden is started with start-garden (as the garden check does) and stopped after. Every call's
request and response (secrets masked) and its seconds are in the result; the VM's container is
checked through Garden (privileged, the CPI's bind mounts, the agent settings it wrote) before
delete_vm. No BOSH agent runs in the VM (the stemcell-shaped rootfs has none): the CPI does not
wait for one, so every call can still succeed.
"""

import contextlib
import json
import os
import shutil
import tempfile
import time

from nested_check import garden_client
from nested_check.common import run
from nested_check.cpi_protocol import (
    AGENT_SETTINGS,
    CpiCaller,
    cpi_config,
    cpi_installed,
    director_env,
    director_networks,
    make_stemcell,
    mask,
    vm_cid_of,
)
from nested_check.garden_check import (
    GARDEN_WORK_DIR,
    garden_error_summary,
    garden_installed,
    host_leftovers,
    stop_test_containerd,
)
from nested_check.garden_preflight import missing_privileged_caps

DISK_MB = 64
AGENT_ID = "nested-check-agent"


class CpiRun:
    """One pass of the calls with one start_containers_with_systemd value."""

    def __init__(self, caller, garden, systemd):
        self.caller = caller
        self.garden = garden
        self.systemd = systemd
        self.calls_before = len(caller.calls)
        self.checks = []
        self.vm = None
        self.disk = None
        self.attached = False

    def call(self, method, *arguments):
        return self.caller.call(method, list(arguments))

    def check(self, name, passed, evidence, required=True):
        self.checks.append({"name": name, "passed": bool(passed), "evidence": evidence, "required": required})

    def container_run(self, *argv):
        try:
            done = self.garden.run(
                self.vm, {"path": "/bin/busybox", "args": list(argv), "user": "root"}, timeout=60
            )
        except garden_client.GardenError as error:
            return None, garden_error_summary(error)
        return done, ""

    def agent_settings(self):
        done, error = self.container_run("cat", AGENT_SETTINGS)
        if done is None or done.exit_status != 0:
            return None, error or f"exit {done.exit_status}: {done.stderr.strip()[:200]}"
        try:
            return json.loads(done.stdout), ""
        except ValueError:
            return None, f"not JSON: {done.stdout[:200]!r}"

    def inspect_container(self):
        """Through Garden: the VM's container, privileged, with the CPI's bind mounts and settings."""
        try:
            info = self.garden.info(self.vm)
            self.check(
                "garden_info",
                True,
                f"Garden knows {self.vm}: state {info.get('State')!r}, ip {info.get('ContainerIP')!r}",
            )
        except garden_client.GardenError as error:
            self.check("garden_info", False, garden_error_summary(error))
            return
        done, error = self.container_run("cat", "/proc/self/uid_map")
        uid_map = " ".join(done.stdout.split()) if done else ""
        self.check(
            "privileged",
            uid_map == "0 0 4294967295",
            f"uid_map {uid_map!r} (privileged: not user-namespaced) {error}".strip(),
        )
        done, error = self.container_run("cat", "/proc/self/mountinfo")
        mounts = {
            line.split()[4]: line
            for line in (done.stdout if done else "").splitlines()
            if len(line.split()) > 4
        }
        for guest in ("/var/vcap/data", "/warden-cpi-dev"):
            self.check(
                f"bind_mount {guest}",
                guest in mounts,
                f"{guest} in the container's mounts: {guest in mounts} {error}".strip(),
            )
        # runc mounts a cgroup at /sys/fs/cgroup in every container; with systemd the CPI asks for
        # the host's as a bind mount: the mount's root and source say which one is there.
        cgroup = mounts.get("/sys/fs/cgroup", "")
        fields = cgroup.split()
        self.check(
            "cgroup_mount",
            bool(cgroup),
            "/sys/fs/cgroup in the container: "
            + (f"root {fields[3]}, {cgroup.split(' - ')[-1]}" if cgroup else "absent"),
            required=self.systemd,
        )
        settings, error = self.agent_settings()
        self.check(
            "agent_settings",
            settings is not None
            and settings.get("agent_id") == AGENT_ID
            and "default" in settings.get("networks", {}),
            f"{AGENT_SETTINGS}: "
            + (
                json.dumps(
                    mask({key: settings.get(key) for key in ("agent_id", "vm", "networks", "mbus", "disks")})
                )[:900]
                if settings
                else error
            ),
        )

    def create_vm(self, stemcell):
        # Each pass its own address, as a director allocates them: a VM a failed create_vm left in
        # Garden keeps its address until it is destroyed.
        address = "10.244.0.3" if self.systemd else "10.244.0.2"
        result, error = self.call(
            "create_vm", AGENT_ID, stemcell, {}, director_networks(address), [], director_env()
        )
        if error is None:
            self.vm = vm_cid_of(result)
        return error

    def disk_steps(self):
        """create_disk, attach_disk (the agent settings gain the disk), detach_disk, delete_disk."""
        result, error = self.call("create_disk", DISK_MB, {}, self.vm)
        if error:
            return
        self.disk = result
        _result, error = self.call("attach_disk", self.vm, self.disk)
        if error:
            return
        self.attached = True
        settings, reason = self.agent_settings()
        persistent = (settings or {}).get("disks", {}).get("persistent") or {}
        self.check(
            "agent_settings_after_attach",
            self.disk in persistent,
            f"disks.persistent in {AGENT_SETTINGS}: {json.dumps(persistent) if settings else reason}",
        )
        done, _reason = self.container_run("cat", "/proc/self/mountinfo")
        seen = done is not None and f"/warden-cpi-dev/{self.disk}" in done.stdout
        self.check(
            "disk_mounted_in_vm",
            seen,
            f"/warden-cpi-dev/{self.disk} mounted in the container: {seen} "
            "(the CPI loop-mounts the disk on the host side of a shared bind mount)",
            required=False,
        )
        _result, error = self.call("detach_disk", self.vm, self.disk)
        if not error:
            self.attached = False
            self.call("delete_disk", self.disk)
            self.disk = None

    def cleanup(self):
        """Whatever a failed call left: detach, delete the disk and the VM (all through the CPI)."""
        if self.attached:
            self.call("detach_disk", self.vm, self.disk)
        if self.disk:
            self.call("delete_disk", self.disk)
        if self.vm:
            _result, error = self.call("delete_vm", self.vm)
            if error is None:
                result, _error = self.call("has_vm", self.vm)
                self.check("has_vm_after_delete", result is False, f"has_vm after delete_vm: {result!r}")
            self.vm = None

    def summary(self):
        calls = self.caller.calls[self.calls_before :]
        return {
            "start_containers_with_systemd": self.systemd,
            "calls": calls,
            "checks": self.checks,
            "failed_calls": [call["label"] for call in calls if call["outcome"] == "failed"],
            "failed_checks": [c["name"] for c in self.checks if c["required"] and not c["passed"]],
        }


def full_pass(cpi_run, stemcell):
    """systemd false (the job's default): the director's calls for a VM with a persistent disk."""
    if cpi_run.create_vm(stemcell):
        return
    result, _error = cpi_run.call("has_vm", cpi_run.vm)
    cpi_run.check("has_vm", result is True, f"has_vm {cpi_run.vm}: {result!r}")
    cpi_run.inspect_container()
    cpi_run.call(
        "set_vm_metadata",
        cpi_run.vm,
        {"director": "nested-check-director", "deployment": "nested-check", "job": "zookeeper", "index": "0"},
    )
    cpi_run.disk_steps()


def systemd_pass(cpi_run, stemcell):
    """systemd true: the CPI adds the host's /sys/fs/cgroup and only prepares the container (no
    agent start); the rootfs has no systemd, and Garden's init (not /sbin/init) is the container's
    first process, so this shows what the CPI asks of Garden, not a booted systemd."""
    if cpi_run.create_vm(stemcell):
        return
    result, _error = cpi_run.call("has_vm", cpi_run.vm)
    cpi_run.check("has_vm", result is True, f"has_vm {cpi_run.vm}: {result!r}")
    cpi_run.inspect_container()


def what_it_did(summary):
    calls = ", ".join(f"{c['label']} {c['outcome']}" for c in summary["calls"])
    checks = ", ".join(f"{c['name']} {'ok' if c['passed'] else 'NOT ok'}" for c in summary["checks"])
    return (
        f"start_containers_with_systemd={str(summary['start_containers_with_systemd']).lower()}: {calls}"
        + (f"; in the VM's container: {checks}" if checks else "")
    )


def leftovers(work):
    """What the CPI leaves under its directories: stemcells, disks, bind mount dirs, and mounts."""
    left = {}
    for name in ("stemcells", "disks", "ephemeral_bind_mounts_dir", "persistent_bind_mounts_dir"):
        with contextlib.suppress(OSError):
            entries = os.listdir(os.path.join(work, name))
            if entries:
                left[name] = sorted(entries)
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        mounts = [line.split()[4] for line in mountinfo if line.split()[4].startswith(work)]
    if mounts:
        left["mounts"] = mounts
    return left


def remove_bind_mounts(work):
    """The VMs' host bind mounts the CPI left (it makes them before Garden creates the container
    and keeps them when that fails): unmounted and removed, so the step leaves nothing."""
    removed = []
    for name in ("ephemeral_bind_mounts_dir", "persistent_bind_mounts_dir"):
        parent = os.path.join(work, name)
        for entry in sorted(os.listdir(parent)) if os.path.isdir(parent) else []:
            path = os.path.join(parent, entry)
            run(["umount", "--recursive", path], timeout=60)
            shutil.rmtree(path, ignore_errors=True)
            removed.append(f"{name}/{entry}")
    return removed


def start_garden(timeout):
    note = stop_test_containerd()
    code, out, err = run(["start-garden", "--timeout", str(int(timeout))], timeout=timeout + 300)
    said = [line.removeprefix("start-garden: ") for line in (err or out).splitlines()]
    return code == 0, "; ".join(x for x in (note, *said[-3:]) if x)


class Session:
    """What the step holds while it runs, and what its cleanup must undo."""

    def __init__(self, args, binary):
        self.started = time.monotonic()
        self.missing = missing_privileged_caps()
        self.before = host_leftovers()
        os.makedirs(GARDEN_WORK_DIR, exist_ok=True)
        self.work = tempfile.mkdtemp(prefix="nested-check-cpi-", dir=GARDEN_WORK_DIR)
        self.config_paths = {}
        for systemd in (False, True):
            path = os.path.join(self.work, f"cpi-systemd-{str(systemd).lower()}.json")
            with open(path, "w", encoding="utf-8") as config:
                json.dump(cpi_config(self.work, systemd, args.address.removeprefix("tcp:")), config, indent=1)
            self.config_paths[systemd] = path
        self.caller = CpiCaller(binary, self.config_paths[False], timeout=args.timeout)
        self.garden = garden_client.Garden(args.address, timeout=args.timeout)
        self.problems = []
        self.garden_started = False
        self.stemcell = None
        self.left = {}
        self.removed = []

    def calls(self, result):
        """info, create_stemcell, then one pass per start_containers_with_systemd value."""
        _tarball, image = make_stemcell(self.work)
        info, _error = self.caller.call("info", [])
        result["formats"] = (info or {}).get("stemcell_formats", [])
        self.stemcell, error = self.caller.call("create_stemcell", [image, {}])
        if error:
            return
        for systemd, plan in ((False, full_pass), (True, systemd_pass)):
            self.caller.config_path = self.config_paths[systemd]
            cpi_run = CpiRun(self.caller, self.garden, systemd)
            try:
                plan(cpi_run, self.stemcell)
            finally:
                cpi_run.cleanup()
            summary = cpi_run.summary()
            summary["what_it_did"] = what_it_did(summary)
            result["runs"].append(summary)
            if self.missing and summary["failed_calls"] == ["create_vm"]:
                break  # the host refuses privileged containers: the other value is refused the same way

    def teardown(self):
        self.caller.config_path = self.config_paths[False]
        if self.stemcell:
            self.caller.call("delete_stemcell", [self.stemcell])
        if self.garden_started:
            with contextlib.suppress(garden_client.GardenError):
                for handle in self.garden.list():
                    if handle.count("-") == 4:  # a VM cid (a uuid) the CPI did not delete
                        self.garden.destroy(handle)
                        self.problems.append(f"destroyed {handle} left in Garden")
            code, out, err = run(["start-garden", "--stop"], timeout=120)
            if code != 0:
                self.problems.append(f"start-garden --stop: {(err or out).strip()[-300:]}")
        self.removed = remove_bind_mounts(self.work)
        self.left = leftovers(self.work)
        shutil.rmtree(self.work, ignore_errors=True)


def warden_cpi_check(args):
    result = {
        "check": "warden-cpi",
        "passed": True,
        "status": "skipped",
        "reason": "",
        "runs": [],
        "calls": [],
    }
    binary, cpi_sources = cpi_installed()
    layout, garden_sources = garden_installed()
    result.update(cpi=cpi_sources if binary else "", garden=garden_sources if layout else "")
    if binary is None or layout is None:
        result["reason"] = cpi_sources if binary is None else garden_sources
        result["not_covered"] = [
            {"what": "the warden CPI driving the nested Garden", "reason": result["reason"]}
        ]
        return result
    session = Session(args, binary)
    try:
        session.garden_started, result["garden_start"] = start_garden(args.timeout)
        if session.garden_started:
            session.calls(result)
        else:
            session.problems.append(f"start-garden failed: {result['garden_start']}")
    finally:
        session.teardown()
        finish(result, session)
    return result


def finish(result, session):
    calls, problems, missing = session.caller.calls, session.problems, session.missing
    after = host_leftovers()
    before = session.before
    left = {**session.left}
    # The CPI's own leftovers after a refused create_vm are upstream behaviour: reported, removed.
    if session.removed:
        result["cpi_left_behind"] = (
            f"the CPI left the host bind mounts of VMs it did not create: {', '.join(session.removed)} "
            "(removed by nested-check)"
        )
        if not missing:
            problems.append(result["cpi_left_behind"])
    left.update(
        {
            key: sorted(set(after[key]) - set(before[key]))
            for key in after
            if set(after[key]) - set(before[key])
        }
    )
    if left:
        problems.append(f"left behind: {json.dumps(left)}")
    result["calls"] = [{key: call.get(key) for key in ("label", "outcome", "seconds")} for call in calls]
    result["transcript"] = calls
    result["cleanup"] = f"left behind: {json.dumps(left)}" if left else "nothing left behind"
    failed_calls = [call["label"] for call in calls if call["outcome"] == "failed"]
    failed_checks = [
        f"{'systemd' if r['start_containers_with_systemd'] else 'default'}:{name}"
        for r in result["runs"]
        for name in r["failed_checks"]
    ]
    result["seconds"] = round(time.monotonic() - session.started, 2)
    if missing and failed_calls == ["create_vm"] and not failed_checks and not problems:
        create_vm = next(call for call in calls if call["method"] == "create_vm")
        error = create_vm["response"]["error"] or {}
        reason = (
            f"the host refuses privileged containers (missing from the bounding set: {', '.join(missing)}), "
            f"so the CPI's create_vm is refused: {error.get('message', '')}"
        )[:900]
        result.update(
            status="skipped", passed=True, reason=reason + "; info, create_stemcell, delete_stemcell ran"
        )
        result["not_covered"] = [
            {
                "what": "the warden CPI's VM calls (create_vm to delete_vm) through the nested Garden",
                "reason": reason,
            }
        ]
        return
    failed = failed_calls + failed_checks + problems
    result.update(passed=not failed, status="failed" if failed else "passed", failed=failed)
    if failed:
        result["error"] = "; ".join(failed)[:1500]
        result["reason"] = "failed: " + result["error"]
    else:
        result["reason"] = (
            f"{len(calls)} CPI calls succeeded against the nested Garden "
            "(create_vm, attach_disk and delete_vm among them), nothing left behind"
        )
