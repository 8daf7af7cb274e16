"""nested-check cgroup-nesting and preflight's cgroup_nesting diagnostic.

cgroup v2 lets a cgroup either hold processes or delegate domain controllers to children, not
both: while the container's processes sit in its root cgroup, runc fails containerd's tasks
("cannot enter cgroupv2 ... it is in an invalid state"). Moving them to a child fixes it."""

import contextlib
import ctypes
import errno
import os

from nested_check.common import diagnostic, run

CGROUP_ROOT = "/sys/fs/cgroup"
CGROUP_INIT = "init"  # the child the container's own processes move to (as moby's dind does)
NESTING_CONTROLLERS = ("cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc")


def read_words(path):
    with open(path, encoding="utf-8") as source:
        return source.read().split()


def own_cgroup(proc_cgroup="/proc/self/cgroup"):
    """This process's cgroup v2 path inside its cgroup namespace ("/" at the namespace's root)."""
    with contextlib.suppress(OSError), open(proc_cgroup, encoding="utf-8") as source:
        for line in source:
            if line.startswith("0::"):
                return line[3:].strip()
    return ""


def cgroup_nesting_state(root):
    """None on cgroup v1; else the pids in the root cgroup, its available controllers (those
    nesting wants, in a fixed order) and those already delegated to children."""
    if not os.path.exists(os.path.join(root, "cgroup.controllers")):
        return None
    available = set(read_words(os.path.join(root, "cgroup.controllers")))
    return {
        "pids": read_words(os.path.join(root, "cgroup.procs")),
        "available": [name for name in NESTING_CONTROLLERS if name in available],
        "delegated": read_words(os.path.join(root, "cgroup.subtree_control")),
    }


def move_root_processes(root):
    """Every process of the root cgroup into ROOT/init, one write per pid as the kernel wants;
    a process that exited meanwhile is not an error. Returns how many moved."""
    child = os.path.join(root, CGROUP_INIT)
    os.makedirs(child, exist_ok=True)
    moved = 0
    # O_CREAT only matters off cgroupfs (the tests), where mkdir makes no cgroup.procs.
    descriptor = os.open(os.path.join(child, "cgroup.procs"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        for pid in read_words(os.path.join(root, "cgroup.procs")):
            try:
                os.write(descriptor, f"{pid}\n".encode())
                moved += 1
            except ProcessLookupError:
                pass
    finally:
        os.close(descriptor)
    return moved


def enable_cgroup_nesting(root=CGROUP_ROOT, proc_cgroup="/proc/self/cgroup"):
    result = {
        "check": "cgroup-nesting",
        "passed": True,
        "moved_pids": 0,
        "enabled_controllers": [],
        "error": "",
    }
    state = cgroup_nesting_state(root)
    if state is None:
        return {**result, "cgroup": "v1", "done": "nothing: cgroup v1 has no internal-process rule"}
    result["cgroup"] = "v2"
    missing = [name for name in state["available"] if name not in state["delegated"]]
    if not state["pids"] and not missing:
        return {
            **result,
            "done": f"nothing: {root} holds no process and delegates {' '.join(state['delegated'])}",
        }
    where = own_cgroup(proc_cgroup)
    if state["pids"] and where not in ("/", f"/{CGROUP_INIT}"):
        # With the host's cgroup namespace the root here is the host's: its processes stay.
        error = (
            f"this process is in cgroup {where or 'unknown'}, not at the root of {root} "
            "(the host's cgroup namespace?): run with --cgroupns=private"
        )
        return {**result, "passed": False, "error": error}
    try:
        if state["pids"]:
            result["moved_pids"] = move_root_processes(root)
        if missing:
            with open(os.path.join(root, "cgroup.subtree_control"), "w", encoding="utf-8") as control:
                control.write(" ".join(f"+{name}" for name in missing))
            result["enabled_controllers"] = missing
    except OSError as error:
        why = (
            f"a process is still in {root} (the kernel refuses to delegate controllers then)"
            if error.errno == errno.EBUSY
            else f"{root} must be writable: run privileged (writable-mounts remounts only cgroup v1)"
        )
        return {**result, "passed": False, "error": f"{error}: {why}"}
    result["done"] = (
        f"moved {result['moved_pids']} processes to {root}/{CGROUP_INIT}; "
        f"delegated {' '.join(missing) or 'no new controllers'}"
    )
    return result


CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000


def unshare(flags):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(flags) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"unshare: {os.strerror(code)}")


def enter_cgroup_namespace(root=CGROUP_ROOT, proc_cgroup="/proc/self/cgroup"):
    """A privileged Concourse task (containerd runtime) has no cgroup namespace of its own: it
    sees the host's whole tree, and cgroup-nesting would act on the host's root. Enter one rooted
    at this process's cgroup and mount cgroup2 afresh in a private mount namespace; the steps
    after it (and their processes) then see the task's cgroup as the root."""
    result = {"check": "cgroup-namespace", "passed": True, "evidence": "", "error": ""}
    before = own_cgroup(proc_cgroup)
    if not before:
        result["evidence"] = "no cgroup v2 line in /proc/self/cgroup (cgroup v1): nothing to do"
        return result
    if before == "/":
        result["evidence"] = "already at the root of its own cgroup namespace"
        return result
    try:
        unshare(CLONE_NEWCGROUP | CLONE_NEWNS)
        for argv in (
            ["mount", "--make-rprivate", "/"],
            ["umount", "-l", root],
            ["mount", "-t", "cgroup2", "cgroup2", root],
        ):
            code, out, err = run(argv)
            if code != 0:
                raise OSError(errno.EIO, f"{' '.join(argv)}: {(err or out).strip()}")
    except OSError as error:
        result.update(
            passed=False, error=f"{error.strerror or error}; the task stays in the host's cgroup tree"
        )
        return result
    after = own_cgroup(proc_cgroup)
    result["passed"] = after == "/"
    result["evidence"] = (
        f"entered a cgroup namespace rooted at {before} (now {after}); cgroup2 mounted afresh at {root}"
    )
    return result


def cgroup_namespace(args):
    return enter_cgroup_namespace(args.cgroup_root)


def cgroup_nesting(args):
    return enable_cgroup_nesting(args.cgroup_root)


def check_cgroup_nesting(root=CGROUP_ROOT):
    state = cgroup_nesting_state(root)
    if state is None:
        return diagnostic("cgroup_nesting", "ok", "cgroup v1: no internal-process rule")
    evidence = (
        f"{len(state['pids'])} processes in {root}; delegated to children: "
        f"{' '.join(state['delegated']) or 'none'}"
    )
    if state["pids"] and not state["delegated"]:
        return diagnostic(
            "cgroup_nesting",
            "warn",
            evidence,
            "containerd's tasks will fail with 'cannot enter cgroupv2 ... invalid state' (cgroup v2 lets a "
            "cgroup hold processes or delegate controllers, not both)",
            "the cgroup-nesting step moves them (nested-check cgroup-nesting, before containerd starts)",
        )
    return diagnostic("cgroup_nesting", "ok", evidence)
