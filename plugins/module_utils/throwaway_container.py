"""One command run in a container that exists only for that command, then removed with its
anonymous volumes whatever happened (nested.warden.throwaway_container)."""

from __future__ import annotations

from ansible_collections.nested.warden.plugins.module_utils.docker_cli import (
    DockerError,
    capability_problem,
    label_key_problem,
    labels_of,
    name_problem,
    one_line,
    security_opt_problem,
)

# auto: --privileged where the engine allows it, else caps (the capabilities given instead).
MODES = ("auto", "privileged", "caps")


# How engines refuse --privileged: a kernel whose capability bounding set lacks a capability of
# Docker's privileged set ("unable to apply caps: operation not permitted"), user namespaces.
REFUSALS = ("operation not permitted", "permission denied", "privileged mode is incompatible")


def params_problem(params):
    """Why the module's parameters would make Docker fail, or start something it cannot run or
    clean up (an empty name gets a random one), or None; checked before anything starts."""
    checks = (_count_problem, _name_problem, _argv_problem, _caps_problem, _volume_problem, _label_problem)
    return next((problem for problem in (check(params) for check in checks) if problem), None)


def _count_problem(params):
    for option, unit in (("timeout", "seconds"), ("tail_lines", "lines")):
        if params[option] <= 0:
            return f"{option}={params[option]}: give a number of {unit} above 0"
    return None


def _name_problem(params):
    image = params["image"]
    if not image or image.startswith("-") or image.strip() != image:
        return f"image {image!r} is not an image reference; give one such as debian:bookworm"
    network = params["network"]
    return name_problem("name", params["name"]) or (
        name_problem("network", network) if network is not None else None
    )


def _argv_problem(params):
    if not params["exec"]:
        return "exec is empty: give the command to run in the container, e.g. [nested-check, steps]"
    for option in ("exec", "command"):
        argv = params[option] or []
        if argv and not argv[0].strip():
            return (
                f"{option} starts with an empty program name; give the program first, e.g. [sleep, infinity]"
            )
    tail_path = params["tail_path"]
    if tail_path is not None and not tail_path.startswith("/"):
        return f"tail_path {tail_path!r} is not an absolute path in the container, such as /var/log/x.log"
    return None


def _caps_problem(params):
    caps = params["caps"] or {}
    return (
        capability_problem("caps.cap_add", caps.get("cap_add"))
        or capability_problem("caps.cap_drop", caps.get("cap_drop"))
        or security_opt_problem("caps.security_opts", caps.get("security_opts"))
    )


def _volume_problem(params):
    volume = params["volume"]
    if not volume:
        return None
    if not volume["target"].startswith("/"):
        return f"volume.target {volume['target']!r} is not an absolute path in the container, such as /data"
    return name_problem("volume.source", volume["source"]) if volume.get("source") is not None else None


def _label_problem(params):
    labels = [("labels", key) for key in params["labels"] or {}]
    labels += [("volume.labels", key) for key in (params["volume"] or {}).get("labels") or {}]
    problems = (label_key_problem(f"{where} key", key) for where, key in labels)
    return next((problem for problem in problems if problem), None)


def predict(cli, params):
    """Check mode: every check a run makes before it starts anything (the parameters, the image
    on the engine); DockerError when the run would fail there. Nothing is started."""
    problem = params_problem(params)
    if problem:
        raise DockerError(problem)
    if not cli.inspect("image", [params["image"]]):
        raise DockerError(
            f"the image {params['image']} does not exist on this Docker engine (it is never pulled)"
        )


def probe_privileged(cli, name, image, labels):
    """'' when the engine runs a --privileged container from image, else what it answered;
    DockerError when the probe failed for another reason (no such image, say)."""
    probe = f"{name}-probe"
    remove_leftover(cli, probe, labels)
    argv = [
        "run",
        "--rm",
        "--pull",
        "never",
        "--name",
        probe,
        "--privileged",
        *label_args(labels),
        image,
        "true",
    ]
    result = cli.run(*argv)
    if result.rc == 0:
        return ""
    cli.run("rm", "--force", probe)  # --rm leaves nothing, unless the engine failed midway
    answer = one_line(result.stderr) or f"docker run --privileged exited {result.rc}"
    if not any(marker in answer.lower() for marker in REFUSALS):
        raise DockerError(f"the --privileged probe {probe} failed: {answer}")
    return answer


def remove_leftover(cli, name, labels):
    """Remove a container of this name left by an interrupted run: only one that carries labels."""
    for document in cli.inspect("container", [name]):
        carried = labels_of(document)
        if any(carried.get(key) != str(value) for key, value in (labels or {}).items()) or not labels:
            raise DockerError(
                f"a container named {name} exists and is not one this module left (it lacks the labels "
                f"{label_args(labels)[1::2] or 'given'}); remove it or choose another name"
            )
        cli.check("rm", "--force", "--volumes", name, what=f"leftover container {name}")


def label_args(labels):
    return [part for key, value in sorted((labels or {}).items()) for part in ("--label", f"{key}={value}")]


def run_argv(params, mode):
    argv = ["run", "--detach", "--pull", "never", "--name", params["name"]]
    argv += ["--init"] if params["init"] else []
    if mode == "privileged":
        argv.append("--privileged")
    else:
        caps = params["caps"] or {}
        for flag, key in (
            ("--cap-add", "cap_add"),
            ("--cap-drop", "cap_drop"),
            ("--security-opt", "security_opts"),
            ("--device-cgroup-rule", "device_cgroup_rules"),
        ):
            for value in caps.get(key) or []:
                argv += [flag, value]
    volume = params["volume"]
    if volume:
        spec = [f"type=volume,dst={volume['target']}"] + (
            [f"src={volume['source']}"] if volume.get("source") else []
        )
        spec += [f"volume-label={k}={v}" for k, v in sorted((volume.get("labels") or {}).items())]
        argv += ["--mount", ",".join(spec)]
    argv += ["--network", params["network"]] if params["network"] else []
    return argv + label_args(params["labels"]) + [params["image"], *params["command"]]


def run_in_throwaway(cli, params):
    """Start the container (privileged, or in caps mode when the engine refuses or mode=caps),
    run params['exec'] in it with params['stdin'], read the tail of params['tail_path'], remove it.
    Every parameter is checked before anything starts."""
    problem = params_problem(params)
    if problem:
        raise DockerError(problem)
    mode, refusal = params["mode"], ""
    if mode == "auto":
        refusal = probe_privileged(cli, params["name"], params["image"], params["labels"])
        mode = "caps" if refusal else "privileged"
    name = params["name"]
    remove_leftover(cli, name, params["labels"])
    result = {"mode": mode, "privileged_refusal": refusal, "tail": []}
    try:
        cli.check(*run_argv(params, mode), what=f"container {name} ({mode} mode)")
        stdin = params["stdin"]
        exec_argv = ["exec", *(["--interactive"] if stdin is not None else []), name, *params["exec"]]
        done = cli.run(*exec_argv, data=stdin, timeout=params["timeout"])
        result.update(exit_code=done.rc, stdout=done.stdout, stderr=done.stderr, timed_out=done.timed_out)
        if params["tail_path"]:
            tail = cli.run("exec", name, "tail", "-n", str(params["tail_lines"]), params["tail_path"])
            result["tail"] = tail.stdout.splitlines() if tail.rc == 0 else []
    finally:
        removed = cli.run("rm", "--force", "--volumes", name)
    if removed.rc != 0:
        raise DockerError(f"could not remove the container {name}: {one_line(removed.stderr)}")
    return result
