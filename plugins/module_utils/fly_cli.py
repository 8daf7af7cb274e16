"""fly, the Concourse CLI, as the fly_pipeline module drives it (fly v8, docs/upstream-contracts.md sec. 5).

What the module relies on, and why:
- `set-pipeline -n` always: without -n fly asks for confirmation, and when it cannot ask it prints
  `bailing out` and exits 0 WITHOUT applying. `no changes to apply` is the only sign that nothing
  changed; `--dry-run` prints the same diff and `Dry-run mode was set, exiting.` (check mode).
- The diff is written with colours and backspaces even without a terminal (`  \\b\\b+ line`):
  `terminal_text` renders it as a terminal would (escape sequences dropped, backspaces applied).
- pause/unpause/expose/hide print the same line whether or not anything changed, and fail with
  `pipeline 'P' not found`: the module reads `pipelines --json` first.
- `get-pipeline -p P --json` prints the config Concourse holds as one line of JSON (atc.Config
  marshalled by Go), or `error: pipeline not found` (exit 1): the jobs a trigger may name.
- `trigger-job` of a paused pipeline starts nothing: the build stays pending, and `-w` waits for
  events that never come. The module refuses to trigger a job of a paused pipeline.
- `trigger-job -w` exits with the build's outcome: succeeded -> the last task's status (0),
  failed -> the task's status or 1, errored -> 2, aborted -> 3, event stream errors -> 255.
  SIGTERM detaches (`detached, build is still running...`, exit 2).
- `abort-build -j P/J -b NAME` prints `build successfully aborted` (also for a build that had
  already ended, which stays as it was), or `error: build does not exist` (exit 1). Concourse
  ends the build afterwards: `builds --json` shows `aborted` once its steps have stopped (a
  pending one once the scheduler has run).
- `workers --json` lists atc.Worker: `name`, `state` (running, stalled, landing, landed,
  retiring), `platform`, `tags`, `team`, `version`, `active_containers`...; only a running worker
  gets builds, so a build stays pending while none is running.
- fly takes no password on stdin or from the environment; `-p` would put it on the command line.
  The module asks Concourse's token endpoint itself (the password grant fly would use, client
  `fly`) and hands the token to `fly login` on stdin as `bearer TOKEN\\r`, fly's "enter token
  manually" answer; fly then checks the team and saves the target in its flyrc (mode 0600) as
  it always does.
- Secrets (the `vars`) reach fly in a 0600 vars file (`-l`), never as `-v` arguments.

Here the commands (Fly); what fly prints is read in fly_output, the token is asked for in
fly_login, and the module's task (validate, log in, set, trigger, destroy) is fly_task.
"""

from __future__ import annotations

import json

from ansible_collections.nested.warden.plugins.module_utils.cli_runner import (
    CliRunner,
    as_fixed,
    as_flag,
    as_option,
    as_repeated,
    redact,
)
from ansible_collections.nested.warden.plugins.module_utils.fly_output import (
    PIPELINE_NOT_FOUND,
    FlyError,
    SetPipelineOutput,
    WatchOutput,
    explain,
    mask_diff,
    parse_pipeline_config,
    parse_pipelines,
    parse_workers,
    terminal_lines,
    terminal_text,
    warning_lines,
)

INSTALL_HINT = (
    "download fly from your own Concourse (CONCOURSE_URL/api/v1/cli?arch=amd64&platform=linux), "
    "make it executable and put it on PATH"
)

FLY_ARGS = {
    "target": as_option("-t"),
    "validate_pipeline": as_fixed("validate-pipeline"),
    "set_pipeline": as_fixed("set-pipeline"),
    "pipelines": as_fixed("pipelines"),
    "get_pipeline": as_fixed("get-pipeline"),
    "pause_pipeline": as_fixed("pause-pipeline"),
    "unpause_pipeline": as_fixed("unpause-pipeline"),
    "expose_pipeline": as_fixed("expose-pipeline"),
    "hide_pipeline": as_fixed("hide-pipeline"),
    "destroy_pipeline": as_fixed("destroy-pipeline"),
    "trigger_job": as_fixed("trigger-job"),
    "builds": as_fixed("builds"),
    "abort_build": as_fixed("abort-build"),
    "workers": as_fixed("workers"),
    "login": as_fixed("login"),
    "status": as_fixed("status"),
    "non_interactive": as_fixed("-n"),
    "no_color": as_fixed("--no-color"),
    "json": as_fixed("--json"),
    "pipeline": as_option("-p"),
    "config": as_option("-c"),
    "vars_files": as_repeated("-l"),
    "strict": as_flag("--strict"),
    "dry_run": as_flag("--dry-run"),
    "check_creds": as_flag("--check-creds"),
    "concourse_url": as_option("-c"),
    "team_name": as_option("-n"),
    "ca_cert": as_option("--ca-cert"),
    "insecure": as_flag("-k"),
    "job": as_option("-j"),
    "watch": as_flag("-w"),
    "count": as_option("-c"),
    "build": as_option("-b"),
}


LOGIN_TIMEOUT = 120


class Fly:
    """fly's commands as the module uses them; every failure raises FlyError with redacted details."""

    def __init__(self, module, target, *, executable=None, api_url=None):
        hint = INSTALL_HINT.replace("CONCOURSE_URL", api_url.rstrip("/")) if api_url else INSTALL_HINT
        self.runner = CliRunner(module, "fly", FLY_ARGS, executable=executable, install_hint=hint)
        self.target = target
        self.api_url = api_url
        self.secrets = []
        self.diff_keys = set()  # config keys whose values are masked in fly's diff

    def add_secrets(self, values):
        self.secrets.extend(str(v) for v in values if v not in (None, ""))

    def _run(self, what, order, *, mutating=False, data=None, timeout=None, ok=(0,), **values):
        result = self.runner.run(order, mutating=mutating, data=data, timeout=timeout, **values)
        if result.skipped or result.rc in ok or result.timed_out:
            return result
        raise self.error(what, result)

    def error(self, what, result):
        stderr = redact(result.stderr or "", self.secrets)
        kind, explained = explain(stderr, self.target, self.api_url)
        if explained is None:
            text = "\n".join(line for line in terminal_lines(stderr) if line.strip()).strip()
            text = text[len("error: ") :] if text.startswith("error: ") else text
            explained = text or terminal_text(redact(result.stdout or "", self.secrets)).strip()
        details = result.as_dict(self.secrets)
        if what == "set-pipeline":  # its stdout is the config diff, with the values Concourse holds
            details["stdout"] = "\n".join(mask_diff(terminal_lines(details["stdout"]), self.diff_keys))
        details["stdout_lines"] = details["stdout"].splitlines()
        details["stderr_lines"] = details["stderr"].splitlines()
        return FlyError(f"fly {what} failed: {explained}", details, kind=kind or "fly")

    # -- commands --------------------------------------------------------------------------------

    def validate_pipeline(self, config, vars_files, strict=True):
        result = self._run(
            "validate-pipeline",
            "validate_pipeline config vars_files strict",
            ok=(0, 1),
            config=config,
            vars_files=vars_files,
            strict=strict,
        )
        return result, warning_lines(result.stderr)

    def status(self):
        return self.runner.run("target status", target=self.target)

    def login(self, api_url, team, token_type, token, *, ca_cert=None, insecure=False):
        """`fly login` with the token typed in on stdin, as a person would at fly's prompt."""
        self.add_secrets([token])
        result = self._run(
            "login",
            "target login concourse_url team_name ca_cert insecure",
            data=f"{token_type} {token}\r",
            timeout=LOGIN_TIMEOUT,
            target=self.target,
            concourse_url=api_url,
            team_name=team,
            ca_cert=ca_cert,
            insecure=insecure,
        )
        if result.timed_out:
            raise FlyError(
                f"fly login did not finish within {LOGIN_TIMEOUT}s",
                result.as_dict(self.secrets),
                kind="login_failed",
            )
        return result

    def pipelines(self):
        result = self._run("pipelines", "target pipelines json", target=self.target)
        return parse_pipelines(result.stdout)

    def pipeline_config(self, pipeline):
        """The config Concourse holds for pipeline (`get-pipeline --json`), or None without one."""
        result = self._run(
            "get-pipeline",
            "target get_pipeline pipeline json",
            ok=(0, 1),
            target=self.target,
            pipeline=pipeline,
        )
        if result.rc == 1 and PIPELINE_NOT_FOUND in [line.strip() for line in terminal_lines(result.stderr)]:
            return None
        if result.rc != 0:
            raise self.error("get-pipeline", result)
        return parse_pipeline_config(result.stdout)

    def set_pipeline(self, pipeline, config, vars_files, *, dry_run=False, check_creds=False):
        result = self._run(
            "set-pipeline",
            "target set_pipeline non_interactive no_color pipeline config vars_files check_creds dry_run",
            target=self.target,
            pipeline=pipeline,
            config=config,
            vars_files=vars_files,
            check_creds=check_creds,
            dry_run=dry_run,
        )
        output = SetPipelineOutput(redact(result.stdout, self.secrets), redact(result.stderr, self.secrets))
        output.diff_lines = mask_diff(output.diff_lines, self.diff_keys)
        if output.bailed_out:
            raise FlyError(
                "fly set-pipeline did not apply the configuration (it printed 'bailing out')",
                result.as_dict(self.secrets),
            )
        return result, output

    def toggle(self, command, pipeline):
        """pause-pipeline, unpause-pipeline, expose-pipeline or hide-pipeline."""
        name = command.replace("-", "_")
        return self._run(
            command, f"target {name} pipeline", mutating=True, target=self.target, pipeline=pipeline
        )

    def destroy_pipeline(self, pipeline):
        return self._run(
            "destroy-pipeline",
            "target destroy_pipeline non_interactive pipeline",
            mutating=True,
            target=self.target,
            pipeline=pipeline,
        )

    def trigger_job(self, pipeline, job, *, watch=False, timeout=None):
        """(result, WatchOutput); a build's failure is not an error here, the caller judges it."""
        result = self._run(
            "trigger-job",
            "target trigger_job job watch",
            mutating=True,
            ok=range(256),
            timeout=timeout if watch else None,
            target=self.target,
            job=f"{pipeline}/{job}",
            watch=watch,
        )
        output = WatchOutput(redact(result.stdout, self.secrets), result.rc, result.timed_out)
        if output.name is None and not result.skipped:
            raise self.error("trigger-job", result)
        return result, output

    def job_builds(self, pipeline, job, count=5):
        result = self._run(
            "builds", "target builds job json count", target=self.target, job=f"{pipeline}/{job}", count=count
        )
        try:
            builds = json.loads(result.stdout or "[]")
        except ValueError:
            return []
        return builds if isinstance(builds, list) else []

    def abort_build(self, pipeline, job, name):
        """`abort-build -j P/J -b NAME` (skipped in check mode); a build that does not exist is an error."""
        return self._run(
            "abort-build",
            "target abort_build job build",
            mutating=True,
            target=self.target,
            job=f"{pipeline}/{job}",
            build=name,
        )

    def workers(self):
        """The workers Concourse knows (`workers --json`), as a list of atc.Worker."""
        result = self._run("workers", "target workers json", target=self.target)
        return parse_workers(result.stdout)
