"""In-image nested check: can containerd (and later Garden) run inside this container?

    nested-check preflight [--containerd-root DIR]
    nested-check containerd [--timeout 30] [--containerd-root DIR] [--log FILE]
    nested-check workload [--snapshotter overlayfs] [--archive TAR --ref REF] [--command ...]
    nested-check pull --registry HOST:PORT --repository REPO --tag TAG --auth-file FILE [--scheme http]
    nested-check garden [--timeout 60] [--no-start] [--record FILE]
    nested-check garden-ping [--address tcp:127.0.0.1:7777] [--timeout 60] [--pid PID]
    nested-check warden-cpi [--timeout 300]   (Garden started again; the real warden CPI's calls)
    nested-check scan-logs FILE...
    nested-check cgroup-nesting [--cgroup-root /sys/fs/cgroup]   (cgroup v2: before containerd starts)
    nested-check cgroup-namespace             (a task without a cgroup namespace enters one; in steps)
    nested-check tiny-image --output TAR      (the busybox workload image; workload makes it if missing)
    nested-check steps JSON [--summary]       (several of the above in one exec, see run_steps)

Every subcommand prints one JSON document and exits 0 when its check passed, 1 when it failed,
2 on bad usage; `steps` prints one JSON object per line, one per step it ran. Credentials come
from a file, never from the command line.
"""

import argparse
import json
import os
import socket
import sys

from nested_check.archives import TINY_IMAGE, TINY_REF, tiny_image
from nested_check.cgroups import CGROUP_ROOT, cgroup_namespace, cgroup_nesting
from nested_check.containerd import start_containerd, workload
from nested_check.garden_check import GARDEN_ADDRESS, garden_check, garden_ping
from nested_check.logs import scan_logs
from nested_check.mounts import writable_mounts
from nested_check.preflight import preflight
from nested_check.registry_pull import pull
from nested_check.warden_cpi import warden_cpi_check


def image_stages(args):
    """Which of the image's stages are present: the BOSH stage needs start-bosh."""
    del args
    return {"check": "image-stages", "passed": True, "bosh": os.access("/usr/local/bin/start-bosh", os.X_OK)}


def parser():
    top = argparse.ArgumentParser(prog="nested-check", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="subcommand", required=True)
    pre = sub.add_parser("preflight")
    pre.add_argument("--containerd-root", default="/var/lib/containerd")
    start = sub.add_parser("containerd")
    start.add_argument("--timeout", type=float, default=30.0)
    start.add_argument("--containerd-root", default="/var/lib/containerd")
    start.add_argument("--containerd-binary", default="containerd")
    start.add_argument("--log", default="/var/log/nested-check/containerd.log")
    work = sub.add_parser("workload")
    work.add_argument("--snapshotter", default="overlayfs")
    work.add_argument("--archive", default=TINY_IMAGE)
    work.add_argument("--ref", default=TINY_REF)
    work.add_argument("--expect", default="nested-ok")
    work.add_argument("--command", nargs="+", default=["/bin/busybox", "echo", "nested-ok"])
    work.add_argument("--no-import", action="store_true", help="run an image already in containerd")
    get = sub.add_parser("pull")
    get.add_argument("--registry", required=True)
    get.add_argument("--repository", required=True)
    get.add_argument("--tag", required=True)
    get.add_argument("--auth-file", required=True)
    get.add_argument("--scheme", choices=["http", "https"], default="https")
    get.add_argument("--ca-file", help="CA of the registry's certificate (default: the system CAs)")
    get.add_argument("--work-dir", default="/var/lib/containerd", help="where blobs are kept while importing")
    get.add_argument("--snapshotter", default="overlayfs")
    scan = sub.add_parser("scan-logs")
    scan.add_argument("files", nargs="+")
    scan.add_argument("--tail", type=int, default=0, help="also return the last TAIL lines of each file")
    sub.add_parser("writable-mounts", help="/sys and cgroups read-write, Docker's masks removed")
    for name, purpose in (
        ("cgroup-nesting", "cgroup v2: root's processes to a child, controllers delegated"),
        ("cgroup-namespace", "enter a cgroup namespace rooted at this process's cgroup (privileged tasks)"),
    ):
        sub.add_parser(name, help=purpose).add_argument("--cgroup-root", default=CGROUP_ROOT)
    sub.add_parser("image-stages", help="which stages the image carries (the BOSH stage)")
    ping = sub.add_parser("garden-ping", help="wait until Garden answers /ping (start-garden uses it)")
    ping.add_argument("--address", default=GARDEN_ADDRESS)
    ping.add_argument("--timeout", type=float, default=60.0)
    ping.add_argument("--pid", type=int, default=0, help="give up when this process (Garden) exits")
    gdn = sub.add_parser("garden", help="start Garden, create, run and destroy containers, stop it")
    gdn.add_argument("--address", default=GARDEN_ADDRESS)
    gdn.add_argument("--timeout", type=float, default=60.0)
    gdn.add_argument("--no-start", action="store_true", help="use a Garden that is already running")
    gdn.add_argument("--handle-prefix", default="", help="fixed handles (recording); default adds the pid")
    gdn.add_argument("--record", help="write the protocol transcripts of every step to this JSON file")
    cpi = sub.add_parser("warden-cpi", help="start Garden, drive it with the warden CPI's calls, stop it")
    cpi.add_argument("--address", default=GARDEN_ADDRESS)
    cpi.add_argument(
        "--timeout", type=float, default=300.0, help="seconds for Garden's start and each CPI call"
    )
    tiny = sub.add_parser("tiny-image")
    tiny.add_argument("--output", default=TINY_IMAGE)
    steps = sub.add_parser("steps", help="run several checks in one exec; one JSON object per line")
    steps.add_argument("steps", help='JSON list of {"name", "argv", "env", "continue_on_failure"}')
    steps.add_argument(
        "--summary",
        action="store_true",
        help="end with one line 'nested-check summary: JSON' (each step: passed, seconds, error)",
    )
    steps.add_argument(
        "--auth-stdin",
        metavar="PATH",
        help="first write stdin (the registry credentials, JSON) to PATH, mode 0600: never an argument",
    )
    return top


ACTIONS = {
    "preflight": preflight,
    "containerd": start_containerd,
    "workload": workload,
    "pull": pull,
    "scan-logs": scan_logs,
    "writable-mounts": writable_mounts,
    "cgroup-nesting": cgroup_nesting,
    "cgroup-namespace": cgroup_namespace,
    "image-stages": image_stages,
    "tiny-image": tiny_image,
    "garden-ping": garden_ping,
    "garden": garden_check,
    "warden-cpi": warden_cpi_check,
}


def check(args):
    """Run one subcommand; its result carries the hostname, and its transcripts go to --record."""
    try:
        result = ACTIONS[args.subcommand](args)
    except OSError as error:
        result = {"check": args.subcommand, "passed": False, "error": str(error)}
    transcripts = result.pop("transcripts", None)
    if transcripts is not None and getattr(args, "record", None):
        with open(args.record, "w", encoding="utf-8") as record:
            json.dump(
                transcripts, record, indent=1, default=lambda raw: raw.decode("utf-8", "surrogateescape")
            )
    result["hostname"] = socket.gethostname()
    return result


def run_steps(steps, emit):
    """Run checks in order in this one process: steps is a list of {"name", "argv", "env" (optional),
    "continue_on_failure" (optional)}. A failed step stops the steps after it (they need what it set
    up) unless it continues on failure. emit gets each step's result, named by "step"; the return
    value says whether every step that ran passed."""
    top = parser()
    passed = True
    for step in steps:
        args = top.parse_args(step["argv"])
        if args.subcommand == "steps":
            raise SystemExit("nested-check steps: a step cannot be another steps call")
        saved = {name: os.environ.get(name) for name in step.get("env", {})}
        os.environ.update({name: str(value) for name, value in step.get("env", {}).items()})
        try:
            result = check(args)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        emit({"step": step["name"], **result})
        passed = passed and result["passed"]
        if not result["passed"] and not step.get("continue_on_failure", False):
            break
    return passed


def summary_of(results, passed):
    """One line for a log's last lines (a Concourse build's): each step's outcome, short."""
    return {
        "passed": passed,
        "hostname": socket.gethostname(),
        "steps": [
            {
                "step": result.get("step"),
                "passed": bool(result.get("passed")),
                "seconds": result.get("seconds"),
                "error": str(result.get("error") or "")[:300],
                **({"failed": result["failed"]} if result.get("failed") else {}),
            }
            for result in results
        ],
    }


def write_private(path, content):
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(content)


def main(argv):
    args = parser().parse_args(argv)
    if args.subcommand == "steps":
        if args.auth_stdin:
            write_private(args.auth_stdin, sys.stdin.read())

        ran = []

        def emit(result):
            ran.append(result)
            print(json.dumps(result), flush=True)

        passed = run_steps(json.loads(args.steps), emit)
        if args.summary:
            print("nested-check summary: " + json.dumps(summary_of(ran, passed)), flush=True)
        return 0 if passed else 1
    result = check(args)
    print(json.dumps(result, indent=2))
    return 0 if result["passed"] else 1
