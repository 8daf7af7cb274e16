"""nested-check containerd (start it, wait for its socket) and workload (run an image in it)."""

import argparse
import os
import subprocess
import time

from nested_check.archives import TINY_IMAGE, tiny_image
from nested_check.common import SOCKET, ctr, tail


def containerd_answers():
    # Without its socket ctr waits for one until the timeout: ask only when there is one.
    return os.path.exists(SOCKET) and ctr("version", timeout=5)[0] == 0


def start_containerd(args):
    started = time.monotonic()
    if containerd_answers():
        return {"check": "containerd", "passed": True, "already_running": True, "seconds": 0.0}
    os.makedirs(args.containerd_root, exist_ok=True)
    os.makedirs(os.path.dirname(args.log), exist_ok=True)
    with open(args.log, "ab") as log:
        process = subprocess.Popen(
            [args.containerd_binary, "--root", args.containerd_root, "--address", SOCKET],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    with open("/run/nested-check-containerd.pid", "w", encoding="utf-8") as pid_file:
        pid_file.write(str(process.pid))
    deadline = started + args.timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if containerd_answers():
            return {
                "check": "containerd",
                "passed": True,
                "pid": process.pid,
                "removed_leftovers": remove_leftover_containers(),
                "seconds": round(time.monotonic() - started, 2),
            }
        time.sleep(0.2)
    exited = process.poll()
    reason = (
        f"containerd exited with status {exited}"
        if exited is not None
        else f"containerd's socket {SOCKET} did not answer within {args.timeout}s"
    )
    return {
        "check": "containerd",
        "passed": False,
        "error": reason,
        "seconds": round(time.monotonic() - started, 2),
        "log": args.log,
        "log_tail": tail(args.log),
    }


def remove_leftover_containers():
    """On a root kept from an earlier run (a layer cache), the containers an interrupted run left
    would collide with this run's: remove them (their snapshots go with them)."""
    code, out, _err = ctr("containers", "list", "--quiet")
    leftovers = [name for name in out.split() if name.startswith("nested-check-")] if code == 0 else []
    for name in leftovers:
        ctr("tasks", "kill", "--signal", "SIGKILL", name, timeout=10)
        ctr("tasks", "delete", "--force", name, timeout=30)
        ctr("containers", "delete", name, timeout=30)
    return leftovers


def workload(args):
    started = time.monotonic()
    if not args.no_import and args.archive == TINY_IMAGE and not os.path.exists(TINY_IMAGE):
        # Made here, not at image build time, so the image's layers do not depend on this script.
        tiny_image(argparse.Namespace(output=TINY_IMAGE))
    if not args.no_import:
        code, out, err = ctr("images", "import", "--snapshotter", args.snapshotter, args.archive, timeout=300)
        if code != 0:
            return {"check": "workload", "passed": False, "step": "import", "error": err or out}
    task = f"nested-check-{os.getpid()}"
    code, out, err = ctr(
        "run", "--rm", "--snapshotter", args.snapshotter, args.ref, task, *args.command, timeout=120
    )
    passed = code == 0 and args.expect in out
    return {
        "check": "workload",
        "passed": passed,
        "error": ""
        if passed
        else f"ctr run exited {code}: {err or out or 'expected output ' + repr(args.expect)}",
        "ref": args.ref,
        "snapshotter": args.snapshotter,
        "command": args.command,
        "exit_code": code,
        "output": out,
        "stderr": err,
        "seconds": round(time.monotonic() - started, 2),
    }
