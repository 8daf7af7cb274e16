"""What Garden needs beyond containerd.

These are "warn", not "fail": containerd runs nested without them; the garden check then names
the Garden features the host refuses. start-garden and the garden check act on them."""

import contextlib
import os
import re
import shutil
import tempfile

from nested_check.common import CAP_SYS_RESOURCE, diagnostic, ensure_loop_nodes, mount_of, run

# The capabilities of a privileged Garden container (guardian's privilegedMaxCaps), by bit number.
GARDEN_PRIVILEGED_CAPS = {
    "CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3, "CAP_FSETID": 4,
    "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8, "CAP_LINUX_IMMUTABLE": 9,
    "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11, "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13,
    "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15, "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17,
    "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19, "CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21,
    "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23, "CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25,
    "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27, "CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29,
    "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31, "CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33,
    "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35, "CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37,
}  # fmt: skip


# Docker's default masked and read-only paths (moby's oci defaults). While anything is mounted
# over parts of /proc or /sys, the kernel refuses new proc and sysfs mounts in user namespaces
# (mount_too_revealing): runc cannot set up Garden's unprivileged containers.
DOCKER_MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
    "/sys/devices/virtual/powercap", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
    "/proc/sysrq-trigger",
)  # fmt: skip


GARDEN_KERNEL_SETTINGS = (
    "/proc/sys/kernel/pid_max",
    "/proc/sys/kernel/dmesg_restrict",
    "/sys/kernel/mm/transparent_hugepage/enabled",
)


GARDEN_PROPERTIES = "/usr/local/lib/install-garden/garden-properties.yml"
GARDEN_CONFIG = "/var/vcap/jobs/garden/config/config.ini"


def capability_bounding_set():
    with open("/proc/self/status", encoding="utf-8") as status_file:
        return int(next(line.split()[1] for line in status_file if line.startswith("CapBnd:")), 16)


def missing_privileged_caps(bounding=None):
    bounding = capability_bounding_set() if bounding is None else bounding
    with open("/proc/sys/kernel/cap_last_cap", encoding="utf-8") as last:
        last_cap = int(last.read())
    return [
        name for name, bit in GARDEN_PRIVILEGED_CAPS.items() if bit <= last_cap and not bounding & (1 << bit)
    ]


def check_garden_privileged_caps():
    bounding = capability_bounding_set()
    missing = missing_privileged_caps(bounding)
    evidence = f"CapBnd {bounding:016x}; missing from Garden's privileged set: {', '.join(missing) or 'none'}"
    if not missing:
        return diagnostic("garden_privileged_caps", "ok", evidence)
    return diagnostic(
        "garden_privileged_caps",
        "warn",
        evidence,
        "Garden cannot create PRIVILEGED containers (runc: unable to apply caps: operation not permitted); "
        "the warden CPI creates every VM container privileged, so no BOSH VM can be created",
        "run on a host whose Docker grants --privileged (its kernel's bounding set has "
        f"{', '.join(missing)}); the explicit-capability mode cannot add what the host lacks",
    )


def check_xfs_quota():
    """What GrootFS init-store does: mount its XFS store with loop,pquota,noatime."""
    if not shutil.which("mkfs.xfs"):
        return diagnostic("xfs_quota", "warn", "mkfs.xfs: not found", "GrootFS cannot make its store",
                          "install xfsprogs in the image")  # fmt: skip
    ensure_loop_nodes()
    workdir = tempfile.mkdtemp(prefix="nested-check-pquota-")
    backing, mount_point = os.path.join(workdir, "store.img"), os.path.join(workdir, "mnt")
    os.mkdir(mount_point)
    try:
        with open(backing, "wb") as image:
            image.truncate(320 << 20)
        code, out, err = run(["mkfs.xfs", "-q", backing])
        if code != 0:
            return diagnostic(
                "xfs_quota", "warn", f"mkfs.xfs: {err or out}", "GrootFS cannot make its store", ""
            )
        code, out, err = run(["mount", "-t", "xfs", "-o", "loop,pquota,noatime", backing, mount_point])
        if code == 0:
            run(["umount", mount_point])
            return diagnostic(
                "xfs_quota", "ok", "mount -t xfs -o loop,pquota,noatime worked (GrootFS's mount)"
            )
        kernel_says = ""
        dmesg = run(["dmesg"])[1].splitlines()
        quota_lines = [line for line in dmesg if "quota" in line.lower()]
        if quota_lines:
            kernel_says = f"; kernel: {quota_lines[-1].strip()}"
        return diagnostic(
            "xfs_quota",
            "warn",
            f"mount -t xfs -o loop,pquota,noatime: {' '.join((err or out).split())}{kernel_says}",
            "GrootFS init-store cannot mount its store with project quota: the garden job's start fails; "
            "start-garden (GARDEN_XFS_QUOTA=auto) mounts the store without pquota, so containers work "
            "but any disk limit fails",
            "a host kernel with XFS quota support (CONFIG_XFS_QUOTA), e.g. a Concourse worker with one",
        )
    finally:
        with contextlib.suppress(OSError):
            if os.path.ismount(mount_point):
                run(["umount", mount_point])
        shutil.rmtree(workdir, ignore_errors=True)


def masked_paths():
    masked = []
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        for line in mountinfo:
            mount_point = line.split()[4]
            if mount_point in DOCKER_MASKED_PATHS:
                masked.append(mount_point)
    return sorted(set(masked))


def check_masked_paths():
    masked = masked_paths()
    if not masked:
        return diagnostic("masked_paths", "ok", "no masked /proc or /sys paths")
    return diagnostic(
        "masked_paths",
        "warn",
        f"masked by the outer runtime: {', '.join(masked)}",
        "gdn exits at start while /proc/sys is read-only (it enables net.ipv4.ip_forward, in this "
        "container's network namespace); runc cannot mount proc and sysfs for Garden's unprivileged "
        "containers while parts of /proc and /sys are masked ('operation not permitted')",
        "docker run --privileged or --security-opt systempaths=unconfined, or unmount the masks inside "
        "the container before starting Garden (the nested_test role does, in caps mode)",
    )


def garden_apparmor_profile():
    """The profile Garden will load: config.ini (installed job) else garden-properties.yml."""
    for path, pattern in (
        (GARDEN_CONFIG, r"^\s*apparmor\s*=\s*(\S+)"),
        (GARDEN_PROPERTIES, r"^\s+apparmor_profile:\s*(.*)$"),
    ):
        with contextlib.suppress(OSError), open(path, encoding="utf-8") as source:
            for line in source:
                found = re.match(pattern, line)
                if found:
                    return found.group(1).strip().strip("'\""), path
            if path == GARDEN_CONFIG:
                return "", path
    return "garden-default", "the job's default"


def check_apparmor():
    profile, source = garden_apparmor_profile()
    available = os.path.isdir("/sys/kernel/security/apparmor") or os.path.exists("/sys/module/apparmor")
    state = "available" if available else "not in this kernel"
    evidence = f"garden.apparmor_profile {profile or '(empty)'} ({source}); AppArmor {state}"
    if not profile or available:
        return diagnostic("apparmor", "ok", evidence)
    return diagnostic(
        "apparmor",
        "warn",
        evidence,
        "garden_start runs apparmor_parser for the profile and fails: Garden does not start",
        'set garden.apparmor_profile to "" (garden-properties.yml) on kernels without AppArmor',
    )


def check_garden_rlimits():
    """garden_start raises the open files limit to 65536 and processes to unlimited, with set -e."""
    import resource  # noqa: PLC0415 (Linux only; the other checks do not need it)

    files = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    procs = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    with open("/proc/self/status", encoding="utf-8") as status_file:
        effective = int(next(line.split()[1] for line in status_file if line.startswith("CapEff:")), 16)
    can_raise = bool(effective & (1 << CAP_SYS_RESOURCE))
    unlimited = resource.RLIM_INFINITY
    short = [
        name
        for name, hard, wanted in (("nofile", files, 65536), ("nproc", procs, unlimited))
        if hard != unlimited and (wanted == unlimited or hard < wanted)
    ]
    evidence = (
        f"hard limits: nofile {'unlimited' if files == unlimited else files}, "
        f"nproc {'unlimited' if procs == unlimited else procs}; "
        f"CAP_SYS_RESOURCE {'held' if can_raise else 'not held'}"
    )
    if can_raise or not short:
        return diagnostic("garden_rlimits", "ok", evidence)
    return diagnostic(
        "garden_rlimits",
        "warn",
        evidence,
        "the garden job's garden_start runs `ulimit -n 65536` and `ulimit -u unlimited` under set -e: "
        "it stops there; start-garden (binaries layout) goes on with the hard limits and says so",
        "raise the container's hard limits (docker run --ulimit nofile=65536:65536 --ulimit nproc=-1:-1); "
        "a daemon without CAP_SYS_RESOURCE cannot, as on hosts that refuse --privileged",
    )


def check_host_kernel_writes():
    mode = os.environ.get("GARDEN_HOST_KERNEL_WRITES", "shield")
    values = []
    for path in GARDEN_KERNEL_SETTINGS:
        with contextlib.suppress(OSError), open(path, encoding="utf-8") as setting:
            values.append(f"{os.path.basename(path)}={setting.read().strip()}")
    writable = [
        path
        for path in GARDEN_KERNEL_SETTINGS
        if os.access(path, os.W_OK) and "rw" in mount_of(path)[2].split(",")
    ]
    evidence = (
        f"GARDEN_HOST_KERNEL_WRITES={mode}; now {', '.join(values)}; writable here: {len(writable)} of 3"
    )
    if mode == "apply" and writable:
        return diagnostic(
            "host_kernel_writes",
            "warn",
            evidence,
            "garden_start writes kernel.pid_max, kernel.dmesg_restrict and transparent hugepages: from a "
            "privileged container these are the HOST's settings, changed for every other tenant",
            "GARDEN_HOST_KERNEL_WRITES=shield (the default) keeps the writes inside this container",
        )
    return diagnostic(
        "host_kernel_writes", "ok", evidence + ("; start-garden shields them" if mode == "shield" else "")
    )
