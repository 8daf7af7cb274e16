"""nested-check writable-mounts: what --privileged would give, in caps mode."""

from nested_check.common import run
from nested_check.garden_preflight import masked_paths


def writable_mounts(args):
    """/sys and the cgroup mounts read-write and Docker's masks unmounted, as --privileged has
    them: in caps mode this remounts them; where they already are (privileged) it does nothing."""
    del args
    done, errors = [], []

    def attempt(*argv):
        code, _out, err = run(list(argv))
        (done if code == 0 else errors).append(" ".join(argv) + ("" if code == 0 else f": {err}"))

    with open("/proc/mounts", encoding="utf-8") as mounts:
        entries = [line.split() for line in mounts]
    read_only = {fields[1] for fields in entries if "ro" in fields[3].split(",")}
    if "/sys" in read_only:
        attempt("mount", "-o", "remount,rw", "/sys")
    for point in (fields[1] for fields in entries if fields[2] == "cgroup" and fields[1] in read_only):
        attempt("mount", "-o", "remount,bind,rw", point)
    for path in masked_paths():
        attempt("umount", path)
    return {
        "check": "writable-mounts",
        "passed": not errors,
        "done": done,
        "error": "; ".join(errors),
    }
