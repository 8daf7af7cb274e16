"""nested-check preflight: can containerd run nested here? Each diagnostic has evidence,
consequence and fix; Garden's needs are in garden_preflight."""

import contextlib
import functools
import os
import shutil
import stat
import tempfile

from nested_check.cgroups import check_cgroup_nesting
from nested_check.common import CAP_SYS_RESOURCE, diagnostic, ensure_loop_nodes, mount_of, run
from nested_check.garden_preflight import (
    check_apparmor,
    check_garden_privileged_caps,
    check_garden_rlimits,
    check_host_kernel_writes,
    check_masked_paths,
    check_xfs_quota,
)

# Capabilities containerd needs to run nested containers, by bit number (linux/capability.h).
ESSENTIAL_CAPABILITIES = {"CAP_NET_ADMIN": 12, "CAP_SYS_CHROOT": 18, "CAP_SYS_ADMIN": 21, "CAP_MKNOD": 27}


def check_cgroups():
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        with open("/sys/fs/cgroup/cgroup.controllers", encoding="utf-8") as controllers:
            names = controllers.read().split()
        writable = os.access("/sys/fs/cgroup", os.W_OK)
        return diagnostic(
            "cgroups",
            "ok" if writable else "fail",
            f"cgroup v2, controllers: {' '.join(names)}; "
            f"/sys/fs/cgroup {'writable' if writable else 'read-only'}",
            "" if writable else "containerd cannot create cgroups for its tasks",
            "" if writable else "run privileged, or remount /sys/fs/cgroup read-write",
        )
    mounts, read_only = [], []
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        for line in mountinfo:
            left, _dash, right = line.partition(" - ")
            if right.startswith("cgroup "):
                fields = left.split()
                mounts.append(fields[4])
                if "ro" in fields[5].split(","):
                    read_only.append(fields[4])
    status = "fail" if read_only or not mounts else "ok"
    return diagnostic(
        "cgroups",
        status,
        f"cgroup v1, {len(mounts)} controller mounts; read-only: {', '.join(read_only) or 'none'}",
        "containerd cannot create cgroups for its tasks" if status == "fail" else "",
        "for each cgroup v1 mount: mount -o remount,bind,rw MOUNTPOINT (needs CAP_SYS_ADMIN)"
        if status == "fail"
        else "",
    )


def check_snapshotter_root(root):
    os.makedirs(root, exist_ok=True)
    mount_point, fs_type, _options = mount_of(root)
    if fs_type == "overlay":
        return diagnostic(
            "snapshotter_root",
            "fail",
            f"{root} is on {fs_type} (mount point {mount_point})",
            "the overlayfs snapshotter fails: overlay is not supported as upperdir on overlay",
            f"mount a volume at {root} (docker run -v VOLUME:{root}); ext4 or xfs underneath works",
        )
    return diagnostic("snapshotter_root", "ok", f"{root} is on {fs_type} (mount point {mount_point})")


def check_loop_devices():
    made = ensure_loop_nodes()
    note = f" (created {len(made)} device nodes)" if made else ""
    with tempfile.NamedTemporaryFile(dir="/tmp", prefix="nested-check-loop-") as backing:
        backing.truncate(1 << 20)
        backing.flush()
        code, out, err = run(["losetup", "--find", "--show", backing.name])
        if code == 0:
            run(["losetup", "--detach", out])
            return diagnostic("loop_devices", "ok", f"attached and detached {out}{note}")
    return diagnostic(
        "loop_devices",
        "fail",
        f"losetup --find --show: {err or out or 'exit ' + str(code)}{note}",
        "loop devices cannot be attached: GrootFS init-store (XFS store on a loop device) will fail, "
        "and so will the warden CPI's persistent disks (mount -o loop)",
        "run privileged (or with --device-cgroup-rule 'b 7:* rwm' and 'c 10:237 rwm' and CAP_SYS_ADMIN); "
        "on Noble kernels check kernel.apparmor_restrict_unprivileged_userns on the host",
    )


def check_xfs():
    with open("/proc/filesystems", encoding="utf-8") as filesystems:
        kernel = any(line.split()[-1] == "xfs" for line in filesystems if line.strip())
    mkfs = shutil.which("mkfs.xfs")
    if not mkfs:
        return diagnostic(
            "xfs",
            "fail",
            "mkfs.xfs: not found",
            "GrootFS cannot make its XFS store",
            "install xfsprogs in the image",
        )
    # What GrootFS init-store does: an XFS filesystem in a file, mounted through a loop device.
    workdir = tempfile.mkdtemp(prefix="nested-check-xfs-")
    backing, mount_point = os.path.join(workdir, "store.img"), os.path.join(workdir, "mnt")
    os.mkdir(mount_point)
    try:
        with open(backing, "wb") as image:
            image.truncate(320 << 20)  # sparse; mkfs.xfs wants at least 300 MB
        code, out, err = run(["mkfs.xfs", "-q", backing])
        if code != 0:
            return diagnostic(
                "xfs", "fail", f"mkfs.xfs: {err or out}", "GrootFS cannot make its XFS store", ""
            )
        code, out, err = run(["mount", "-t", "xfs", "-o", "loop", backing, mount_point])
        if code != 0:
            return diagnostic(
                "xfs",
                "fail",
                f"kernel xfs: {'listed' if kernel else 'not listed'}; mount -o loop: {err or out}",
                "GrootFS init-store cannot mount its XFS store",
                "load the xfs module on the host (modprobe xfs) and make loop devices available",
            )
        run(["umount", mount_point])
        return diagnostic("xfs", "ok", "mkfs.xfs and mount -t xfs -o loop of a 320 MB sparse file worked")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def check_apparmor_userns():
    path = "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"
    if not os.path.exists(path):
        return diagnostic("apparmor_userns", "ok", f"{path} absent (kernel without the restriction)")
    with open(path, encoding="utf-8") as setting:
        value = setting.read().strip()
    if value == "1":
        return diagnostic(
            "apparmor_userns",
            "warn",
            "kernel.apparmor_restrict_unprivileged_userns = 1 (Ubuntu Noble default)",
            "inside user-namespaced containers losetup (LOOP_SET_FD) fails with 'Operation not permitted'",
            "on the host: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, "
            "or run the container without a user namespace",
        )
    return diagnostic("apparmor_userns", "ok", f"kernel.apparmor_restrict_unprivileged_userns = {value}")


def check_user_namespaces():
    code, _out, err = run(["unshare", "--user", "--map-root-user", "true"])
    if code == 0:
        return diagnostic("user_namespaces", "ok", "unshare --user --map-root-user succeeded")
    return diagnostic(
        "user_namespaces",
        "warn",
        f"unshare --user: {err or 'exit ' + str(code)}",
        "Garden's unprivileged containers (uid mapping) cannot be created",
        "allow user namespaces on the host (user.max_user_namespaces > 0) and in the seccomp profile",
    )


def check_root_directory(path="/"):
    """Garden's unprivileged containers map root to an unprivileged host uid: runc init in that
    user namespace must pass through /, so a 0700 / (an image whose first layer says so) stops
    it at its first open (open /proc/self/mountinfo: permission denied)."""
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o001:
        return diagnostic("root_directory", "ok", f"{path} is {mode:04o}: other users may pass through it")
    return diagnostic(
        "root_directory",
        "fail",
        f"{path} is {mode:04o}: other users may not pass through it",
        "Garden's unprivileged containers (and the warden CPI's VMs) fail to start: runc, as a user "
        "namespace's root mapped to an unprivileged uid, gets 'open /proc/self/mountinfo: permission denied'",
        "build the image from a base whose / is 0755 (the first layer's '.' entry), or chmod 0755 / "
        "in the container before Garden starts",
    )


def check_privileges():
    with open("/proc/self/status", encoding="utf-8") as status_file:
        cap_eff = next(line.split()[1] for line in status_file if line.startswith("CapEff:"))
    with open("/proc/sys/kernel/cap_last_cap", encoding="utf-8") as last:
        full = (1 << (int(last.read()) + 1)) - 1
    held = int(cap_eff, 16)
    missing = full & ~held
    sys_writable = "rw" in mount_of("/sys")[2].split(",")
    devices = "unknown (cgroup v2)"
    with (
        contextlib.suppress(OSError),
        open("/sys/fs/cgroup/devices/devices.list", encoding="utf-8") as listing,
    ):
        devices = "all devices allowed" if "a *:* rwm" in listing.read() else "restricted device list"
    if any(not held & (1 << bit) for bit in ESSENTIAL_CAPABILITIES.values()):
        mode = "unprivileged"
    elif held & (1 << CAP_SYS_RESOURCE):
        mode = "privileged"
    else:
        mode = "caps"  # --cap-add ALL --cap-drop SYS_RESOURCE, where --privileged is refused
    status = "ok" if mode != "unprivileged" and sys_writable else "fail"
    lacking = [name for name, bit in ESSENTIAL_CAPABILITIES.items() if not held & (1 << bit)]
    evidence = (
        f"mode {mode}; CapEff {cap_eff} ({missing.bit_count()} of the kernel's capabilities missing"
        f"{'; lacking ' + ', '.join(lacking) if lacking else ''}); "
        f"/sys {'rw' if sys_writable else 'ro'}; {devices}"
    )
    if status == "ok":
        return diagnostic("privileges", status, evidence)
    return diagnostic(
        "privileges",
        status,
        evidence,
        "containerd cannot set up nested containers without full privileges",
        "docker run --privileged, or --cap-add ALL --cap-drop SYS_RESOURCE with seccomp, apparmor and "
        "systempaths unconfined and --device-cgroup-rule 'a *:* rwm'; then remount /sys rw",
    )


def preflight(args):
    checks = [
        check_cgroups,
        check_cgroup_nesting,
        functools.partial(check_snapshotter_root, args.containerd_root),
        check_loop_devices,
        check_xfs,
        check_apparmor_userns,
        check_user_namespaces,
        check_root_directory,
        check_privileges,
        check_xfs_quota,
        check_garden_privileged_caps,
        check_masked_paths,
        check_apparmor,
        check_garden_rlimits,
        check_host_kernel_writes,
    ]
    results = []
    for check in checks:
        try:
            results.append(check())
        except OSError as error:
            name = getattr(check, "__name__", None) or check.func.__name__
            results.append(diagnostic(name.removeprefix("check_"), "fail", str(error)))
    failed = [item["name"] for item in results if item["status"] == "fail"]
    return {"check": "preflight", "passed": not failed, "failed": failed, "diagnostics": results}
