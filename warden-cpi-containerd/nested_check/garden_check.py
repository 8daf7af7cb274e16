"""nested-check garden and garden-ping: Garden started, containers created, run and destroyed."""

import contextlib
import json
import os
import re
import shutil
import tarfile
import tempfile
import time

from nested_check import garden_client
from nested_check.common import busybox_rootfs, run
from nested_check.garden_preflight import missing_privileged_caps

GARDEN_ADDRESS = "tcp:127.0.0.1:7777"
GARDEN_STATE = "/var/vcap/sys/run/garden"
GARDEN_WORK_DIR = "/var/vcap/data/tmp"  # the job's TMPDIR
TEST_CONTAINERD_PIDFILE = "/run/nested-check-containerd.pid"
PRIVILEGED_HOST_NOTE = (
    "would pass on a host that allows --privileged (CAP_SYS_RESOURCE and the rest of Garden's "
    "privileged capability set in the container's bounding set)"
)
QUOTA_HOST_NOTE = "would pass on a host whose kernel mounts XFS with pquota (XFS quota support)"


def garden_ping(args):
    client = garden_client

    def alive():
        if not args.pid:
            return True
        with contextlib.suppress(OSError), open(f"/proc/{args.pid}/status", encoding="utf-8") as status:
            return "zombie" not in status.read().lower()
        return False

    answered, seconds, error = client.wait_for_ping(client.Garden(args.address), args.timeout, alive)
    if not answered and not alive():
        error = f"Garden (pid {args.pid}) exited before answering /ping: {error}"
    elif not answered:
        error = f"no answer from {args.address}/ping within {args.timeout}s: {error}"
    return {"check": "garden-ping", "passed": answered, "seconds": round(seconds, 2), "error": error}


def garden_installed():
    if os.path.exists("/var/vcap/jobs/garden/bin/garden_ctl"):
        return "job", "the warden stage's garden job"
    if os.path.exists("/var/vcap/packages/guardian/bin/gdn"):
        sources = ""
        with contextlib.suppress(OSError), open("/var/vcap/packages/guardian/SOURCES", encoding="utf-8") as f:
            sources = "; ".join(line.strip() for line in f if line.strip())
        return "binaries", f"garden-bin ({sources or 'sources not recorded'})"
    return None, (
        "the image has no gdn: neither the warden stage's garden job nor Garden binaries "
        "(build them with scripts/build-garden into warden-cpi-containerd/garden-bin, then rebuild the image)"
    )


def make_garden_rootfs(work):
    """The tiny image's busybox as a directory (raw://) and as a tar (GrootFS's tar fetcher)."""
    rootfs = busybox_rootfs(os.path.join(work, "rootfs"))
    archive = os.path.join(work, "rootfs.tar")
    with tarfile.open(archive, "w") as tar:
        tar.add(rootfs, arcname=".")
    # A raw rootfs is used as it is: it must belong to the unprivileged container's root, which
    # Garden maps to the highest uid (maximus). GrootFS maps the tar's owners itself.
    maximus = "/var/vcap/packages/garden-idmapper/bin/maximus"
    code, out, _err = run([maximus if os.path.exists(maximus) else "maximus"])
    if code == 0 and out.isdigit():
        root = int(out)
        for directory, dirs, files in os.walk(rootfs):
            for name in [*dirs, *files]:
                os.lchown(os.path.join(directory, name), root, root)
        os.lchown(rootfs, root, root)
    return rootfs, archive


def host_leftovers():
    """Loop devices bound to files, and mounts under Garden's data: what must not outlive the check."""
    loops = []
    with contextlib.suppress(OSError):
        for name in sorted(os.listdir("/sys/block")):
            backing = f"/sys/block/{name}/loop/backing_file"
            with contextlib.suppress(OSError), open(backing, encoding="utf-8") as source:
                loops.append(f"/dev/{name}={source.read().strip()}")
    mounts = []
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        for line in mountinfo:
            mount_point = line.split()[4]
            if mount_point.startswith(("/var/vcap/data/grootfs", "/var/vcap/data/garden")):
                mounts.append(mount_point)
    return {"loop_devices": loops, "mounts": sorted(mounts), "processes": pids_of("gdn", "containerd")}


def pids_of(*names):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry}/comm", encoding="utf-8") as comm:
                name = comm.read().strip()
                if name in names:
                    found.append(f"{name}:{entry}")
    return sorted(found)


def stop_test_containerd():
    """The containerd nested-check started (the containerd check) must go before Garden's starts."""
    with contextlib.suppress(OSError, ValueError), open(TEST_CONTAINERD_PIDFILE, encoding="utf-8") as f:
        pid = int(f.read().strip())
        os.kill(pid, 15)
        for _attempt in range(100):
            if not os.path.exists(f"/proc/{pid}"):
                break
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.1)
        os.unlink(TEST_CONTAINERD_PIDFILE)
        return f"stopped the test's containerd (pid {pid}) so that Garden starts its own"
    return ""


def garden_error_summary(error):
    """Garden passes its plugins' JSON logs through in error messages: keep the message and the
    last error the logs name ("setting quota limit for projid 2: function not implemented")."""
    text = str(error)
    logged = re.findall(r'"error":"([^"]+)"', text)
    head = text.split(" {", 1)[0].split("\n", 1)[0].strip().rstrip(":")
    return f"{head}: {logged[-1]}" if logged else " ".join(text.split())[:600]


class GardenSteps:
    """Runs the garden check's steps; every step passes, fails, is refused by the host, or skips."""

    def __init__(self, client, garden, recorder, prefix):
        self.client = client
        self.garden = garden
        self.recorder = recorder
        # Fixed handles when recording (a prefix was given); else unique per run.
        self.prefix = prefix or "nested-check"
        self.suffix = "" if prefix else f"-{os.getpid()}"
        self.steps = []
        self.transcripts = []
        self.attempted = []  # handles asked for: destroyed at the end whatever Garden answered
        self.destroyed = []

    def handle_for(self, name):
        return f"{self.prefix}-{name}{self.suffix}"

    def record(self, name, status, evidence, consequence="", fix="", **extra):
        step = {"name": name, "status": status, "evidence": evidence, "consequence": consequence, "fix": fix}
        step.update(extra)
        self.steps.append(step)
        if self.recorder is not None:
            self.transcripts.append({"step": name, "connections": list(self.recorder.connections)})
            self.recorder.connections.clear()
        return step

    def container(self, name, spec, command, expect):
        """Create, run a process, read its output and exit status; the caller destroys it."""
        self.attempted.append(spec["handle"])
        try:
            handle = self.garden.create(spec)
        except self.client.GardenError as error:
            return None, f"create: {garden_error_summary(error)}"
        try:
            result = self.garden.run(handle, {"path": command[0], "args": command[1:], "user": "root"})
        except self.client.GardenError as error:
            return handle, f"run: {garden_error_summary(error)}"
        evidence = (
            f"created {handle}; ran {' '.join(command)}: exit status {result.exit_status}, "
            f"stdout {result.stdout.strip()!r}, stderr {result.stderr.strip()[:200]!r}"
        )
        if result.exit_status == 0 and expect in result.stdout:
            self.record(name, "passed", evidence, handle=handle, process_id=result.process_id)
            return handle, ""
        return handle, evidence + (f"; error {result.error}" if result.error else "")

    def destroy(self, handle):
        try:
            self.garden.destroy(handle)
            self.destroyed.append(handle)
            return ""
        except self.client.GardenError as error:
            return str(error)


class GardenStepsEnd(Exception):
    """A step failed that the steps after it need."""


def start_step(steps, args, origin):
    note = stop_test_containerd()
    code, out, err = run(["start-garden", "--timeout", str(args.timeout)], timeout=args.timeout + 300)
    said = [line.removeprefix("start-garden: ") for line in (err or out).splitlines()]
    evidence = "; ".join(x for x in (note, origin, *said[-4:]) if x)
    if code == 0:
        steps.record("start", "passed", evidence)
        return
    steps.record(
        "start",
        "failed",
        f"start-garden exited {code}: {evidence}",
        "Garden does not run: the warden CPI cannot create any container",
        "see the log tail; nested-check preflight names what the host lacks",
        log_tail=(err or out).splitlines()[-30:],
    )
    raise GardenStepsEnd


def ping_step(steps, args):
    try:
        steps.garden.ping(timeout=10)
    except steps.client.GardenError as error:
        steps.record("ping", "failed", str(error), "Garden does not answer", "see Garden's log")
        raise GardenStepsEnd from error
    steps.record("ping", "passed", f"GET /ping on {args.address} answered")


def unprivileged_steps(steps, rootfs, archive, handles):
    """A process in an unprivileged container from a raw rootfs and from a tar through GrootFS."""
    cases = [
        ("unprivileged_raw", {"rootfs": f"raw://{rootfs}"}, "garden-raw-ok"),
        ("unprivileged_grootfs", {"rootfs": archive}, "garden-grootfs-ok"),
    ]
    for name, spec, expect in cases:
        handle, error = steps.container(
            name,
            {"handle": steps.handle_for(name.replace("_", "-")), **spec},
            ["/bin/busybox", "echo", expect],
            expect,
        )
        if handle:
            handles.append(handle)
        if error:
            steps.record(
                name,
                "failed",
                error,
                "Garden cannot run unprivileged containers here, nor the warden CPI's VMs",
                unprivileged_fix(error),
            )
    for handle in list(handles):
        error = steps.destroy(handle)
        handles.remove(handle)
        steps.record(
            f"destroy_{handle.removeprefix(steps.prefix + '-').removesuffix(steps.suffix)}",
            "failed" if error else "passed",
            error or f"destroyed {handle}",
            "a container is left behind" if error else "",
        )


def garden_check(args):
    started = time.monotonic()
    layout, origin = garden_installed()
    result = {"check": "garden", "passed": True, "status": "skipped", "reason": "", "steps": []}
    if layout is None and not args.no_start:
        result["reason"] = origin
        result["not_covered"] = [{"what": "garden check (Garden in the image)", "reason": origin}]
        return result
    client = garden_client
    recorder = client.Recorder() if args.record else None
    garden = client.Garden(args.address, timeout=args.timeout, recorder=recorder)
    steps = GardenSteps(client, garden, recorder, args.handle_prefix)
    before = host_leftovers()
    os.makedirs(GARDEN_WORK_DIR, exist_ok=True)
    work = tempfile.mkdtemp(prefix="nested-check-garden-", dir=GARDEN_WORK_DIR)
    os.chmod(work, 0o755)  # noqa: S103 (the unprivileged containers' root must reach the rootfs)
    handles = []
    try:
        if not args.no_start:
            start_step(steps, args, origin)
        ping_step(steps, args)
        rootfs, archive = make_garden_rootfs(work)
        unprivileged_steps(steps, rootfs, archive, handles)
        quota_step(steps, archive, handles)
        privileged_step(steps, archive, handles)
    except GardenStepsEnd:
        pass  # a step failed that the next ones need; stop and cleanup still run
    finally:
        for handle in dict.fromkeys(handles + steps.attempted):
            if handle not in steps.destroyed:
                steps.destroy(handle)
        if not args.no_start:
            code, out, err = run(["start-garden", "--stop"], timeout=120)
            steps.record(
                "stop",
                "passed" if code == 0 else "failed",
                (err or out).splitlines()[-1] if (err or out) else f"exit {code}",
            )
        shutil.rmtree(work, ignore_errors=True)
    return garden_result(result, steps, before, started)


def unprivileged_fix(error):
    if "sysfs" in error or ("proc" in error and "operation not permitted" in error.lower()):
        return "lift the masked /proc and /sys paths: docker run --security-opt systempaths=unconfined"
    return "see Garden's log (/var/vcap/sys/log/garden) and nested-check preflight"


def quota_step(steps, archive, handles):
    quota = ""
    with contextlib.suppress(OSError), open(os.path.join(GARDEN_STATE, "xfs-quota"), encoding="utf-8") as f:
        quota = f.read().strip()
    spec = {
        "handle": steps.handle_for("grootfs-quota"),
        "rootfs": archive,
        "limits": {"disk_limits": {"byte_hard": 64 << 20}},
    }
    steps.attempted.append(spec["handle"])
    try:
        handle = steps.garden.create(spec)
    except steps.client.GardenError as error:
        refused = quota == "none" or "quota" in str(error).lower()
        steps.record(
            "grootfs_disk_limit",
            "refused" if refused else "failed",
            f"create with a 64 MiB disk limit: {garden_error_summary(error)}; GrootFS store mounted with "
            f"{'no pquota' if quota == 'none' else quota or 'unknown options'}",
            "disk limits (and the warden CPI's ephemeral disk sizes) cannot be enforced",
            "a host kernel with XFS quota support (CONFIG_XFS_QUOTA): GrootFS mounts its store with pquota",
            would_pass=QUOTA_HOST_NOTE if refused else "",
        )
        return
    handles.append(handle)
    error = steps.destroy(handle)
    if not error:
        handles.remove(handle)
    steps.record("grootfs_disk_limit", "passed", f"created {handle} with a 64 MiB disk limit (pquota store)")


def privileged_step(steps, archive, handles):
    """As the warden CPI creates a VM: privileged, from an image (its stemcell) through GrootFS."""
    missing = missing_privileged_caps()
    spec = {
        "handle": steps.handle_for("privileged"),
        "rootfs": archive,
        "privileged": True,
        "properties": {"nested-check": "warden-cpi"},
    }
    steps.attempted.append(spec["handle"])
    try:
        handle = steps.garden.create(spec)
    except steps.client.GardenError as error:
        refused = bool(missing) and ("caps" in str(error) or "operation not permitted" in str(error).lower())
        steps.record(
            "privileged",
            "refused" if refused else "failed",
            f"create privileged: {garden_error_summary(error)}; "
            f"missing from the bounding set: {', '.join(missing) or 'none'}",
            "the warden CPI creates every VM as a privileged container: no BOSH VM can be created here",
            "run where Docker grants --privileged (CAP_SYS_RESOURCE in the host kernel's bounding set)"
            if refused
            else "see Garden's log (/var/vcap/sys/log/garden)",
            would_pass=PRIVILEGED_HOST_NOTE if refused else "",
        )
        return
    handles.append(handle)
    try:
        result = steps.garden.run(handle, {"path": "/bin/busybox", "args": ["echo", "garden-privileged-ok"]})
        ok = result.exit_status == 0 and "garden-privileged-ok" in result.stdout
        evidence = (
            f"created {handle} privileged; exit status {result.exit_status}, stdout {result.stdout.strip()!r}"
        )
    except steps.client.GardenError as error:
        ok, evidence = False, f"created {handle} privileged; run: {error}"
    error = steps.destroy(handle)
    if not error:
        handles.remove(handle)
    steps.record("privileged", "passed" if ok else "failed", evidence)


def garden_result(result, steps, before, started):
    after = host_leftovers()
    left = {
        key: sorted(set(after[key]) - set(before[key])) for key in after if set(after[key]) - set(before[key])
    }
    if left:
        steps.record("cleanup", "failed", f"left behind: {json.dumps(left)}", "host resources leak", "")
    else:
        steps.record("cleanup", "passed", "no container, loop device, mount or process left behind")
    failed = [step["name"] for step in steps.steps if step["status"] == "failed"]
    refused = [step for step in steps.steps if step["status"] == "refused"]
    result.update(
        passed=not failed,
        status="failed" if failed else "passed",
        failed=failed,
        not_covered=[
            {"what": f"garden {step['name']}", "reason": step["evidence"] + "; " + step["would_pass"]}
            for step in refused
        ],
        steps=steps.steps,
        seconds=round(time.monotonic() - started, 2),
    )
    if failed:
        result["error"] = " | ".join(
            f"{step['name']}: {step['evidence']}; {step['consequence']}; fix: {step['fix']}"
            for step in steps.steps
            if step["status"] == "failed"
        )
        result["log_tail"] = next((step["log_tail"] for step in steps.steps if "log_tail" in step), [])
    if steps.transcripts:
        result["transcripts"] = steps.transcripts
    return result
