"""The Docker CLI for the project's modules that batch several Docker calls into one module run.

A module run costs ~0.5 s of its own; a `docker` call ~50 ms. The lab's network and hosts, and
the nested test's throwaway container, are each one unit of work, so one module runs the few
docker commands that unit needs (community.docker would take a module run per object).
The CLI honours DOCKER_HOST and the CLI context like community.docker honours DOCKER_HOST.
"""

from __future__ import annotations

import json
import os
import re

from ansible_collections.nested.warden.plugins.module_utils.cli_runner import CliRunner, as_positional

INSTALL_HINT = "install the Docker CLI (Debian/Ubuntu: docker.io or docker-ce-cli)"
# What the CLI prints when no engine answers (socket missing, dockerd down, DOCKER_HOST wrong).
NO_ENGINE = ("Cannot connect to the Docker daemon", "error during connect", "Is the docker daemon running")
# What Docker takes as a container name (and what the lab takes as a network name): it would give
# a container with an empty name a random one, and read a name that starts with '-' as an option.
DOCKER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
# The Linux capabilities (capabilities(7)), without the CAP_ prefix; Docker takes them in any case,
# with or without the prefix, and ALL. An engine older than the kernel may still refuse the newest.
CAPABILITIES = frozenset(
    [
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "IPC_OWNER",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_CHROOT",
        "SYS_PTRACE",
        "SYS_PACCT",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_NICE",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "MKNOD",
        "LEASE",
        "AUDIT_WRITE",
        "AUDIT_CONTROL",
        "SETFCAP",
        "MAC_OVERRIDE",
        "MAC_ADMIN",
        "SYSLOG",
        "WAKE_ALARM",
        "BLOCK_SUSPEND",
        "AUDIT_READ",
        "PERFMON",
        "BPF",
        "CHECKPOINT_RESTORE",
        "ALL",
    ]
)
# The --security-opt keys the docker CLI takes (KEY=VALUE or KEY:VALUE; no-new-privileges alone).
SECURITY_OPTS = ("apparmor", "seccomp", "label", "no-new-privileges", "systempaths", "writable-cgroups")
# How `docker inspect` says that an object does not exist: "Error: No such image: x", or from
# some engines "Error response from daemon: network x not found".
NOT_FOUND = re.compile(r"No such |\b(network|volume|container|image) \S+ not found")


class DockerError(Exception):
    """A docker command failed; the message says which one and what the engine answered."""


class DockerCli:
    def __init__(self, module, executable=None):
        self.module = module
        self.runner = CliRunner(module, "docker", {"args": as_positional()}, executable, INSTALL_HINT)

    def run(self, *args, mutating=False, data=None, timeout=None):
        """The CliResult of `docker ARGS`; in check mode a mutating call is skipped."""
        return self.runner.run("args", mutating=mutating, data=data, timeout=timeout, args=list(args))

    def check(self, *args, what="", mutating=False, data=None):
        """stdout of `docker ARGS`, or DockerError naming `what` it was for, the command and the
        engine's answer."""
        result = self.run(*args, mutating=mutating, data=data)
        if result.rc != 0:
            raise DockerError(failure_message(args, result.stderr, what))
        return result.stdout

    def inspect(self, kind, names):
        """The inspect documents of the `kind` objects (container, image, network) that exist."""
        if not names:
            return []
        result = self.run(kind, "inspect", *names)
        answers = [line for line in result.stderr.splitlines() if line.strip()]
        if result.rc != 0 and not (answers and all(is_not_found(line) for line in answers)):
            raise DockerError(failure_message((kind, "inspect"), result.stderr, ", ".join(names)))
        try:
            documents = json.loads(result.stdout or "[]")
        except ValueError as exc:
            raise DockerError(
                f"docker {kind} inspect printed no JSON ({exc}): {result.stdout[:200]}"
            ) from exc
        return documents if isinstance(documents, list) else []

    def listed(self, kind, label):
        """Names of the `kind` objects (container, network, volume) that carry label (k=v)."""
        fmt = "{{.Names}}" if kind == "container" else "{{.Name}}"
        extra = ["--all"] if kind == "container" else []
        out = self.check(kind, "ls", *extra, "--filter", f"label={label}", "--format", fmt)
        return sorted(line.strip() for line in out.splitlines() if line.strip())


def name_problem(option, value):
    """Why value cannot name a Docker container or network, or None."""
    if not isinstance(value, str) or not DOCKER_NAME.fullmatch(value):
        return (
            f"{option} {value!r} is not a name Docker takes: give letters, digits, '_', '.' and '-', "
            "starting with a letter or digit"
        )
    return None


def capability_problem(option, values):
    """Why a capability of values is not one Docker can add or drop, or None."""
    for index, value in enumerate(values or []):
        upper = str(value).upper()
        bare = upper[len("CAP_") :] if upper.startswith("CAP_") else upper
        if bare not in CAPABILITIES:
            return (
                f"{option}[{index}] {value!r} is not a Linux capability; give a name of capabilities(7) "
                "such as NET_ADMIN or SYS_ADMIN (or ALL)"
            )
    return None


def security_opt_problem(option, values):
    """Why a security option of values is not one the docker CLI takes, or None; a seccomp
    profile file must exist where the CLI runs (the CLI reads it)."""
    for index, value in enumerate(values or []):
        key, setting = (*re.split(r"[=:]", str(value), maxsplit=1), "")[:2]
        if key not in SECURITY_OPTS or (not setting and key != "no-new-privileges"):
            return (
                f"{option}[{index}] {value!r} is not a Docker security option; give KEY=VALUE with KEY one "
                f"of {', '.join(SECURITY_OPTS)} (for example apparmor=unconfined, seccomp=unconfined)"
            )
        if key == "seccomp" and setting not in ("unconfined", "builtin") and not os.path.isfile(setting):
            return (
                f"{option}[{index}]: the seccomp profile {setting} does not exist; give unconfined or a file"
            )
    return None


def label_key_problem(option, key):
    """Why key cannot be a Docker label key, or None."""
    if not isinstance(key, str) or not key or "=" in key or any(c.isspace() for c in key):
        return f"{option} {key!r} is not a label key: give one without '=' or spaces, e.g. nested-warden.lab"
    return None


def labels_of(document):
    """The labels of an inspect document: a container's or an image's under Config, a network's
    or a volume's at the top."""
    return (document.get("Config") or document).get("Labels") or {}


def one_line(text):
    """An engine's answer (stderr) on one line, its whitespace runs folded."""
    return " ".join((text or "").split())


def is_not_found(text):
    return NOT_FOUND.search(text) is not None


def failure_message(args, stderr, what=""):
    """What failed: the object it was for, the docker subcommand (never its other arguments,
    which may be long) and the engine's answer; or that no engine answers."""
    answer = one_line(stderr) or "no output"
    if any(marker in answer for marker in NO_ENGINE):
        return (
            f"no Docker engine answers ({answer}). Start one: 'make bootstrap' starts dockerd when run "
            "as root; otherwise start the Docker service, or point DOCKER_HOST at an engine."
        )
    command = " ".join(str(a) for a in args[:2] if not str(a).startswith("-"))
    return f"{what + ': ' if what else ''}'docker {command}' failed: {answer}"
