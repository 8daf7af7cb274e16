"""What every check uses: running a command, a diagnostic's shape, mounts, containerd's ctr."""

import contextlib
import os
import shutil
import stat
import subprocess

NAMESPACE = "nested-warden"
SOCKET = "/run/containerd/containerd.sock"
CAP_SYS_RESOURCE = 24


def run(argv, timeout=60, env=None):
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, check=False)
        return done.returncode, done.stdout.strip(), done.stderr.strip()
    except FileNotFoundError:
        return 127, "", f"{argv[0]}: not installed"
    except subprocess.TimeoutExpired:
        return 124, "", f"{argv[0]}: no answer within {timeout}s"


def diagnostic(name, status, evidence, consequence="", fix=""):
    return {"name": name, "status": status, "evidence": evidence, "consequence": consequence, "fix": fix}


def mount_of(path):
    """The mountinfo entry (mount point, fs type, options) of the filesystem holding path."""
    path = os.path.realpath(path)
    best = ("/", "unknown", "")
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        for line in mountinfo:
            left, _dash, right = line.partition(" - ")
            fields = left.split()
            mount_point = fields[4].replace("\\040", " ")
            fs_type = right.split()[0]
            inside = path == mount_point or path.startswith(mount_point.rstrip("/") + "/")
            if inside and len(mount_point) >= len(best[0]):
                best = (mount_point, fs_type, fields[5])
    return best


def tail(path, lines=20):
    with contextlib.suppress(OSError), open(path, encoding="utf-8", errors="replace") as log:
        return log.read().splitlines()[-lines:]
    return []


def ctr(*argv, timeout=120):
    return run(["ctr", "--address", SOCKET, "--namespace", NAMESPACE, *argv], timeout=timeout)


def ensure_loop_nodes(count=8):
    """Docker creates no loop device nodes without --privileged; make the first few."""
    made = []
    with contextlib.suppress(OSError):
        if not os.path.exists("/dev/loop-control"):
            os.mknod("/dev/loop-control", 0o660 | stat.S_IFCHR, os.makedev(10, 237))
            made.append("/dev/loop-control")
        for number in range(count):
            path = f"/dev/loop{number}"
            if not os.path.exists(path):
                os.mknod(path, 0o660 | stat.S_IFBLK, os.makedev(7, number))
                made.append(path)
    return made


def busybox_rootfs(rootfs, directories=(), applets=("sh",), users=(("root", 0),)):
    """A root filesystem made of the image's busybox: the base directories and directories, the
    applets as links, /etc/passwd and /etc/group for users ((name, id) pairs), empty hosts,
    resolv.conf and hostname, and /tmp sticky."""
    for directory in ("bin", "etc", "proc", "sys", "dev", "tmp", "root", *directories):
        os.makedirs(os.path.join(rootfs, directory), exist_ok=True)
    shutil.copy2(shutil.which("busybox") or "/bin/busybox", os.path.join(rootfs, "bin", "busybox"))
    for applet in applets:
        with contextlib.suppress(FileExistsError):
            os.symlink("busybox", os.path.join(rootfs, "bin", applet))
    with open(os.path.join(rootfs, "etc", "passwd"), "w", encoding="utf-8") as passwd:
        for name, uid in users:
            home = "/root" if uid == 0 else f"/home/{name}"
            passwd.write(f"{name}:x:{uid}:{uid}::{home}:/bin/sh\n")
    with open(os.path.join(rootfs, "etc", "group"), "w", encoding="utf-8") as group:
        group.writelines(f"{name}:x:{uid}:\n" for name, uid in users)
    for name in ("hosts", "resolv.conf", "hostname"):
        with open(os.path.join(rootfs, "etc", name), "a", encoding="utf-8"):
            pass
    os.chmod(os.path.join(rootfs, "tmp"), 0o1777)  # noqa: S103 (a rootfs's /tmp)
    return rootfs
