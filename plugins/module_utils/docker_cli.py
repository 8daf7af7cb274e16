"""The Docker CLI for the project's modules that batch several Docker calls into one module run.

A module run costs ~0.5 s of its own; a `docker` call ~50 ms. The lab's network and hosts, and
the nested test's throwaway container, are each one unit of work, so one module runs the few
docker commands that unit needs (community.docker would take a module run per object).
The CLI honours DOCKER_HOST and the CLI context like community.docker honours DOCKER_HOST.
"""

from __future__ import annotations

import json
import re

from ansible_collections.nested.warden.plugins.module_utils.cli_runner import CliRunner, as_positional

INSTALL_HINT = "install the Docker CLI (Debian/Ubuntu: docker.io or docker-ce-cli)"
# What the CLI prints when no engine answers (socket missing, dockerd down, DOCKER_HOST wrong).
NO_ENGINE = ("Cannot connect to the Docker daemon", "error during connect", "Is the docker daemon running")
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
