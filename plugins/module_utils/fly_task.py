"""The fly_pipeline module's task: validate, log in, set, pause/expose; trigger and watch; or destroy."""

from __future__ import annotations

import os
import re
import time

from ansible_collections.nested.warden.plugins.module_utils.cli_runner import (
    private_file,
    redact,
)
from ansible_collections.nested.warden.plugins.module_utils.fly_cli import Fly
from ansible_collections.nested.warden.plugins.module_utils.fly_login import fetch_token
from ansible_collections.nested.warden.plugins.module_utils.fly_output import (
    BUILD_STATUSES,
    LOGGED_IN,
    FlyError,
    exit_code_meaning,
    explain,
    find_job,
    find_pipeline,
    job_names,
    no_running_worker,
    secret_keys,
    terminal_lines,
)
from ansible_collections.nested.warden.plugins.module_utils.inputs import url_problem
from ansible_collections.nested.warden.plugins.module_utils.secrets import secret_values

try:
    import yaml

    YAML_IMPORT_ERROR = None
except ImportError as err:  # PyYAML comes with ansible-core; the module reports it if missing
    yaml = None
    YAML_IMPORT_ERROR = err


MAX_WATCH_TIMEOUT = 7 * 24 * 3600
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def parameter_problems(params):
    """What is wrong with fly_pipeline's parameters (an empty list when nothing is); checked
    before fly runs at all, so that nothing is half done. (The module checks the files.)"""
    state, job = params["state"], params["trigger"]
    problems = [
        f"{name} must not be empty"
        for name in ("target", "pipeline", "team")
        if not (params[name] or "").strip()
    ]
    problems += [
        f"{name} must not contain control characters such as newlines or tabs (got {params[name]!r})"
        for name in ("target", "pipeline", "team", "trigger")
        if _CONTROL.search(params[name] or "")
    ]
    if "/" in (params["pipeline"] or ""):
        problems.append(f"pipeline must be a pipeline name without '/' (got '{params['pipeline']}')")
    if job is not None and state != "triggered":
        problems.append(
            f"trigger needs state=triggered (got state={state}): set the pipeline with state=present, "
            "then trigger its job in another task with state=triggered"
        )
    elif state == "triggered" and (not (job or "").strip() or "/" in job):
        problems.append(f"state=triggered needs trigger, the name of a job of the pipeline (got '{job}')")
    given = [name for name in ("config", "vars", "vars_files") if params[name]]
    if state == "triggered" and given:
        problems.append(
            f"state=triggered runs a job of the pipeline as Concourse holds it; {', '.join(given)} "
            "belong to state=present (set the pipeline in a task before)"
        )
    if params["watch"] and state != "triggered":
        problems.append("watch needs state=triggered and trigger (the job to run)")
    if not 0 < params["timeout"] <= MAX_WATCH_TIMEOUT:
        problems.append(
            f"timeout must be a positive number of seconds up to {MAX_WATCH_TIMEOUT} (a week), "
            f"got {params['timeout']}"
        )
    if params.get("concourse_url") is not None:
        problem = url_problem(params["concourse_url"], example="https://ci.example.com")
        if problem:
            shown = params["concourse_url"][:200]
            problems.append(f"concourse_url '{shown}' {problem}")
    return problems


# What a build of `fly builds --json` is reported with.
BUILD_FIELDS = ("name", "id", "api_url", "start_time", "end_time", "status")
# How long an aborted build may take to show `aborted`: Concourse stops its steps (a task gets
# SIGTERM, then SIGKILL 10s later), and a pending one is ended by the scheduler's next run.
ABORT_SETTLE_SECONDS = 30
ABORT_POLL_SECONDS = 2


class PipelineTask:
    """Does what fly_pipeline's parameters ask; `run()` returns the result or raises FlyError.

    module: an AnsibleModule (params, check_mode, _diff, run_command, get_bin_path).
    opener: ansible.module_utils.urls.open_url (for the token request).
    """

    def __init__(self, module, opener):
        self.module = module
        self.params = module.params
        self.opener = opener
        self.check_mode = bool(getattr(module, "check_mode", False))
        self.diff_mode = bool(getattr(module, "_diff", False))
        self.fly = Fly(
            module,
            self.params["target"],
            executable=self.params["executable"],
            api_url=self.params["concourse_url"],
        )
        self.fly.add_secrets([*secret_values(self.params.get("vars") or {}), self.params.get("password")])
        self.result = {
            "changed": False,
            "pipeline": self.params["pipeline"],
            "target": self.params["target"],
            "team": self.params["team"],
            "logged_in": False,
        }
        self.temporary = []

    def run(self):
        try:
            state = self.params["state"]
            if state == "present":
                self.present()
            elif state == "triggered":
                self.triggered()
            else:
                self.absent()
        finally:
            for path in self.temporary:
                if os.path.exists(path):
                    os.unlink(path)
        return self.result

    # -- phases ----------------------------------------------------------------------------------

    def vars_files(self):
        files = list(self.params["vars_files"])
        if self.params["vars"]:
            path = private_file(
                yaml.safe_dump(self.params["vars"], default_flow_style=False), prefix="fly-vars-"
            )
            self.temporary.append(path)
            files.append(path)
        return files

    def validate(self, vars_files):
        if not self.params["validate"]:
            self.result["validation"] = "skipped"
            return
        result, warnings = self.fly.validate_pipeline(self.params["config"], vars_files, strict=True)
        self.result["config_warnings"] = warnings
        if result.rc != 0:
            lines = [line for line in terminal_lines(redact(result.stderr, self.fly.secrets)) if line.strip()]
            detail = "\n".join(lines)
            if detail.startswith("error: "):
                detail = detail[len("error: ") :]
            details = result.as_dict(self.fly.secrets)
            details["stderr_lines"] = details["stderr"].splitlines()
            raise FlyError(
                f"the pipeline config {self.params['config']} is invalid "
                f"(fly validate-pipeline --strict): {detail}",
                details,
                kind="invalid_config",
            )
        self.result["validation"] = "passed"

    def login(self):
        """Make sure the target has a valid token for concourse_url and team; log in if not."""
        params = self.params
        path = flyrc_path()
        entry = read_flyrc_target(path, params["target"])
        api_url = params["concourse_url"] or (entry or {}).get("api")
        self.fly.api_url = api_url
        self.result["concourse_url"] = api_url
        if not api_url:
            raise FlyError(
                f"fly has no target '{params['target']}' in {path}; set concourse_url (with username and "
                "password) so the module can log in",
                kind="unknown_target",
            )
        reason = None
        if entry is None:
            reason = f"no target '{params['target']}' in {path}"
        elif not same_url(entry.get("api"), api_url):
            reason = f"target '{params['target']}' points at {entry.get('api')}"
        elif (entry.get("team") or "main") != params["team"]:
            reason = f"target '{params['target']}' is for team '{entry.get('team')}'"
        else:
            status = self.fly.status()
            if status.rc == 0 and LOGGED_IN in status.stdout:
                return
            kind, _hint = explain(status.stderr, params["target"], api_url)
            if kind == "unreachable":
                raise self.fly.error("status", status)
            text = " ".join(line.strip() for line in terminal_lines(status.stderr) if line.strip())
            reason = f"target '{params['target']}' has no valid token ({text or 'fly status failed'})"
        if not (params["username"] and params["password"]):
            raise FlyError(
                f"{reason}; set username and password so the module can log in", kind="not_logged_in"
            )
        token_type, token = fetch_token(
            self.opener,
            api_url,
            params["username"],
            params["password"],
            ca_cert=params["ca_cert"],
            insecure=params["insecure"],
        )
        self.fly.add_secrets([token])
        self.fly.login(
            api_url, params["team"], token_type, token, ca_cert=params["ca_cert"], insecure=params["insecure"]
        )
        self.result["logged_in"] = True

    def present(self):
        params = self.params
        vars_files = self.vars_files()
        secret_names = {name for name in params["vars"] if secret_values({name: params["vars"][name]})}
        self.fly.diff_keys = secret_keys(load_yaml_file(params["config"]), secret_names)
        self.validate(vars_files)
        self.login()
        before = find_pipeline(self.fly.pipelines(), params["pipeline"])
        _set_result, output = self.fly.set_pipeline(
            params["pipeline"],
            params["config"],
            vars_files,
            dry_run=self.check_mode,
            check_creds=params["check_creds"],
        )
        created = before is None and output.changes
        self.result.update(
            config_changed=output.changes,
            created=created,
            diff_lines=output.diff_lines,
        )
        known = self.result.setdefault("config_warnings", [])
        known += [w for w in output.warnings if w not in known]
        if output.changes:
            self.result["changed"] = True

        # New pipelines start paused and hidden.
        current = {
            "paused": bool(before["paused"]) if before else True,
            "public": bool(before["public"]) if before else False,
        }
        wanted = {
            "paused": params["paused"],
            "public": current["public"] if params["exposed"] is None else params["exposed"],
        }
        commands = {("paused", True): "pause-pipeline", ("paused", False): "unpause-pipeline",
                    ("public", True): "expose-pipeline", ("public", False): "hide-pipeline"}  # fmt: skip
        for key in ("paused", "public"):
            if wanted[key] != current[key]:
                self.fly.toggle(commands[(key, wanted[key])], params["pipeline"])
                self.result["changed"] = True

        state = {"exists": True, **wanted}
        if self.result["changed"] and not self.check_mode:
            found = find_pipeline(self.fly.pipelines(), params["pipeline"])
            if found is not None:
                state = {"exists": True, "paused": bool(found["paused"]), "public": bool(found["public"])}
        self.result["state"] = state

        if self.diff_mode:
            diffs = []
            if output.diff_lines:
                diffs.append({"prepared": "\n".join(output.diff_lines) + "\n"})
            if wanted != current or before is None:
                diffs.append(
                    {
                        "before_header": f"pipeline {params['pipeline']}",
                        "after_header": f"pipeline {params['pipeline']}",
                        "before": "" if before is None else _state_text(current),
                        "after": _state_text(wanted),
                    }
                )
            self.result["diff"] = diffs

    def triggered(self):
        """Trigger (and watch) a job of the pipeline Concourse holds; set-pipeline is not run.

        Everything that would keep the build from starting is checked first, also in check mode:
        the pipeline exists, is not paused, and has the job, which may be triggered by hand."""
        params = self.params
        pipeline, job = params["pipeline"], params["trigger"]
        build = {"job": job, "triggered": False, "watched": bool(params["watch"])}
        self.result["build"] = build
        self.login()
        found = find_pipeline(self.fly.pipelines(), pipeline)
        config = self.fly.pipeline_config(pipeline) if found is not None else None
        if config is None:
            self.result["state"] = {"exists": False}
            raise FlyError(
                f"pipeline {pipeline} does not exist in team {params['team']} of "
                f"{self.result['concourse_url']}, so there is no job {job} to trigger; set it first "
                "(state=present with its config)",
                kind="pipeline_not_found",
            )
        self.result["state"] = {
            "exists": True,
            "paused": bool(found["paused"]),
            "public": bool(found["public"]),
        }
        definition = find_job(config, job)
        if definition is None:
            names = ", ".join(job_names(config)) or "none"
            raise FlyError(
                f"pipeline {pipeline} has no job {job} (its jobs: {names}); nothing was triggered",
                kind="job_not_found",
            )
        if definition.get("disable_manual_trigger"):
            raise FlyError(
                f"job {job} of pipeline {pipeline} has disable_manual_trigger: true, so Concourse refuses "
                "to trigger it by hand; nothing was triggered",
                kind="manual_trigger_disabled",
            )
        if found["paused"]:
            waiting = " and watching it would only wait for the timeout" if params["watch"] else ""
            raise FlyError(
                f"pipeline {pipeline} is paused, so a build of {job} would stay pending until the pipeline "
                f"is unpaused{waiting}; unpause it first (state=present with paused: false, or "
                f"fly -t {params['target']} unpause-pipeline -p {pipeline}); nothing was triggered",
                kind="paused",
            )
        if not params["rerun"] and self._reuse_succeeded(pipeline, job, build):
            return
        self.result["changed"] = True
        if self.check_mode:
            return
        result, output = self.fly.trigger_job(pipeline, job, watch=params["watch"], timeout=params["timeout"])
        build.update(triggered=True, name=output.name)
        self._read_build(pipeline, job, build)
        if not params["watch"]:
            return
        build.update(timed_out=output.timed_out, log_tail=output.tail())
        if output.timed_out:
            # fly's exit code for "detached" (2, the same as an errored build's) says nothing about
            # the build, so none is reported.
            raise self._watch_timed_out(pipeline, job, build)
        build["exit_code"] = result.rc
        reattach = f"fly -t {params['target']} watch -j {pipeline}/{job} -b {output.name}"
        if output.status is None:
            raise FlyError(
                f"fly lost the event stream of build {pipeline}/{job} #{output.name} "
                f"(exit code {result.rc}); "
                f"follow it with: {reattach}",
                {"build": build, **result.as_dict(self.fly.secrets)},
                kind="watch_failed",
            )
        build["status"] = output.status
        build["exit_code_meaning"] = exit_code_meaning(output.status, result.rc)
        if output.status != "succeeded":
            tail = "\n".join(build["log_tail"])
            raise FlyError(
                f"build {pipeline}/{job} #{output.name} {output.status} (fly exit code {result.rc}); "
                f"last lines of its log:\n{tail}",
                {"build": build},
                kind=f"build_{output.status}",
            )

    def _read_build(self, pipeline, job, build):
        """Update build (which has its name) from `fly builds --json`; its status, or None."""
        found = next(
            (b for b in self.fly.job_builds(pipeline, job) if str(b.get("name")) == str(build["name"])), None
        )
        if found:
            build.update({key: found.get(key) for key in BUILD_FIELDS if key != "name"})
        return found.get("status") if found else None

    def _watch_timed_out(self, pipeline, job, build):
        """The error of a watch stopped at the timeout. The build is aborted (abort_on_timeout) or
        left as it is; one still pending is explained when no worker is running to take it."""
        params = self.params
        name, timeout = build["name"], params["timeout"]
        status = build["status"] = build.get("status") or "started"
        build["aborted"] = False
        no_worker = self._no_running_worker() if status == "pending" else None
        details = {}
        abort = f"fly -t {params['target']} abort-build -j {pipeline}/{job} -b {name}"
        if not params["abort_on_timeout"]:
            reattach = f"fly -t {params['target']} watch -j {pipeline}/{job} -b {name}"
            msg = (
                f"stopped watching build {pipeline}/{job} #{name} after the timeout of {timeout}s; "
                f"the build is still {status} in Concourse (re-attach with: {reattach})"
            )
        else:
            try:
                self.fly.abort_build(pipeline, job, name)
            except FlyError as err:
                details = err.details
                msg = (
                    f"stopped watching build {pipeline}/{job} #{name} after the timeout of {timeout}s and "
                    f"could not abort it ({err.msg}); the build is still {status} in Concourse (abort it "
                    f"with: {abort})"
                )
            else:
                build["aborted"] = True
                after = self._status_after_abort(pipeline, job, build)
                msg = (
                    f"build {pipeline}/{job} #{name} was still {status} after the timeout of {timeout}s "
                    f"and was aborted ({abort})"
                )
                if after in BUILD_STATUSES and after != "aborted":
                    msg += f"; it had ended {after} before the abort"
                elif after != "aborted":
                    msg += f"; Concourse still reports it {after or status} (it ends once its steps stop)"
        if no_worker:
            return FlyError(f"{msg}; {no_worker}", {"build": build, **details}, kind="no_worker")
        return FlyError(msg, {"build": build, **details}, kind="timeout")

    def _status_after_abort(self, pipeline, job, build):
        """The build's status once it has ended, or as Concourse reports it ABORT_SETTLE_SECONDS on."""
        deadline = time.monotonic() + ABORT_SETTLE_SECONDS
        while True:
            status = self._read_build(pipeline, job, build)
            if status in BUILD_STATUSES or time.monotonic() >= deadline:
                return status
            time.sleep(ABORT_POLL_SECONDS)

    def _no_running_worker(self):
        """Why a pending build found no worker (`fly workers --json`), or None when one is running
        (or the workers cannot be listed: the timeout is then reported as it is)."""
        try:
            workers = self.fly.workers()
        except FlyError:
            return None
        problem = no_running_worker(workers)
        return redact(problem, self.fly.secrets) if problem else None

    def _reuse_succeeded(self, pipeline, job, build):
        """Report the job's latest build instead of a new one when it succeeded (rerun=false)."""
        builds = self.fly.job_builds(pipeline, job, count=1)
        latest = max(builds, key=lambda b: b.get("id") or 0, default=None)
        if not latest or latest.get("status") != "succeeded":
            return False
        build.update({key: latest.get(key) for key in BUILD_FIELDS}, reused=True, watched=False)
        return True

    def absent(self):
        params = self.params
        self.login()
        before = find_pipeline(self.fly.pipelines(), params["pipeline"])
        self.result["state"] = {"exists": False}
        if before is None:
            return
        self.result["changed"] = True
        if self.diff_mode:
            state = {"paused": bool(before.get("paused")), "public": bool(before.get("public"))}
            self.result["diff"] = {
                "before_header": f"pipeline {params['pipeline']}",
                "after_header": f"pipeline {params['pipeline']}",
                "before": _state_text(state),
                "after": "",
            }
        self.fly.destroy_pipeline(params["pipeline"])


def vars_file_problem(path):
    """Why fly could not take path as a `-l` vars file (a map of variables), or None."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as err:
        return f"is not valid YAML: {err}"
    if document is not None and not isinstance(document, dict):
        return f"must hold a map of variables (name: value), not a {type(document).__name__}"
    return None


def load_yaml_file(path):
    """The YAML document at path, or None when it cannot be read (fly then says why)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except (OSError, yaml.YAMLError):
        return None


def _state_text(state):
    return f"paused: {str(state['paused']).lower()}\npublic: {str(state['public']).lower()}\n"


def flyrc_path(environ=None):
    """$FLY_HOME/.flyrc, else $HOME/.flyrc (fly/rc/targets.go)."""
    environ = os.environ if environ is None else environ
    home = environ.get("FLY_HOME") or environ.get("HOME") or os.path.expanduser("~")
    return os.path.join(home, ".flyrc")


def read_flyrc_target(path, target):
    """The flyrc entry of target as a dict, or None."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle) or {}
    except OSError:
        return None
    except yaml.YAMLError as err:
        raise FlyError(f"{path} is not valid YAML: {err}", kind="flyrc") from None
    targets = document.get("targets") if isinstance(document, dict) else None
    entry = targets.get(target) if isinstance(targets, dict) else None
    return entry if isinstance(entry, dict) else None


def same_url(a, b):
    return (a or "").rstrip("/") == (b or "").rstrip("/")
