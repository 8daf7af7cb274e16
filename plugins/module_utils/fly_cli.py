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
- fly takes no password on stdin or from the environment; `-p` would put it on the command line.
  The module asks Concourse's token endpoint itself (the password grant fly would use, client
  `fly`) and hands the token to `fly login` on stdin as `bearer TOKEN\\r`, fly's "enter token
  manually" answer; fly then checks the team and saves the target in its flyrc (mode 0600) as
  it always does.
- Secrets (the `vars`) reach fly in a 0600 vars file (`-l`), never as `-v` arguments.
"""

from __future__ import annotations

import json
import os
import platform
import re
from urllib.error import HTTPError
from urllib.parse import urlencode

from ansible_collections.nested.warden.plugins.module_utils.cli_runner import (
    CliRunner,
    as_fixed,
    as_flag,
    as_option,
    as_repeated,
    private_file,
    redact,
)
from ansible_collections.nested.warden.plugins.module_utils.inputs import url_problem
from ansible_collections.nested.warden.plugins.module_utils.secrets import is_secret_name, secret_values

try:
    import yaml

    YAML_IMPORT_ERROR = None
except ImportError as err:  # PyYAML comes with ansible-core; the module reports it if missing
    yaml = None
    YAML_IMPORT_ERROR = err

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
}

# What fly prints (fly/commands and atc/config_diff.go at v8.2.5).
NO_CHANGES = "no changes to apply"
CREATED = "pipeline created!"
UPDATED = "configuration updated"
DRY_RUN = "Dry-run mode was set, exiting."
BAILING_OUT = "bailing out"
PIPELINE_NAME = "pipeline name:"
UNREACHABLE = "could not reach the Concourse server called"
VERSION_DISCREPANCY = "cowardly refusing to run due to significant version discrepancy"
NOT_AUTHORIZED = "not authorized. run the following to log in"
LOGGED_IN = "logged in successfully"
PIPELINE_NOT_FOUND = "error: pipeline not found"
TOKEN_CHECK_FAILED = "token validation failed with error:"  # noqa: S105 -- a message
BUILD_STATUSES = ("succeeded", "failed", "errored", "aborted")
# Exit status of `trigger-job -w` when the build ends with this status and no task set one.
STATUS_EXIT_CODES = {"succeeded": 0, "failed": 1, "errored": 2, "aborted": 3}
EVENT_STREAM_ERROR = 255

# fly's own OAuth client and scopes for the password grant (fly/commands/login.go).
TOKEN_PATH = "/sky/issuer/token"  # noqa: S105 -- a URL path
FLY_CLIENT_ID = "fly"
FLY_CLIENT_SECRET = "Zmx5"  # noqa: S105 -- public, compiled into every fly
TOKEN_SCOPES = "openid profile email federated:id groups"  # noqa: S105

LOGIN_TIMEOUT = 120
LOG_TAIL_LINES = 30

_ESCAPE = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")
_STARTED = re.compile(r"^started (?P<pipeline>[^/\s]+)/(?P<job>\S+) #(?P<name>\S+)$")
_NET_ERROR = re.compile(
    r"dial tcp|connection refused|no such host|i/o timeout|network is unreachable|tls:|x509:"
)
_VERSIONS = re.compile(r"fly version \((?P<fly>[^)]*)\) is out of sync with the target \((?P<server>[^)]*)\)")


# ------------------------------------------------------------------------------------------------
# Output as a terminal shows it


def terminal_text(text):
    """text without escape sequences, with backspaces applied and carriage returns removed."""
    text = _ESCAPE.sub("", text or "")
    lines = []
    for line in text.split("\n"):
        shown = []
        for char in line:
            if char == "\b":
                if shown:
                    shown.pop()
            elif char != "\r":
                shown.append(char)
        lines.append("".join(shown))
    return "\n".join(lines)


def terminal_lines(text):
    return terminal_text(text).splitlines()


class SetPipelineOutput:
    """What `fly set-pipeline` said: the diff and whether it created, updated or changed nothing."""

    def __init__(self, stdout, stderr=""):
        lines = [line.rstrip() for line in terminal_lines(stdout)]
        self.unchanged = NO_CHANGES in lines
        self.created = CREATED in lines
        self.updated = UPDATED in lines
        self.dry_run = DRY_RUN in lines
        self.bailed_out = BAILING_OUT in lines
        end = next((i for i, line in enumerate(lines) if line.startswith(PIPELINE_NAME)), len(lines))
        diff = [] if self.unchanged else lines[:end]
        while diff and not diff[-1].strip():
            diff.pop()
        self.diff_lines = diff
        self.warnings = warning_lines(stderr)

    @property
    def changes(self):
        return not self.unchanged


_DIFF_KEY = re.compile(r"^ *(?P<item>- )?(?P<key>[^\s:#-][^:]*?):(?P<value>( .*)?)$")
_VAR_REFERENCE = re.compile(r"\(\(([^()]+)\)\)")


def secret_keys(template, secret_names):
    """Names of the config keys whose values come from a secret ((var)): the nearest mapping key
    of every ((name)) or ((name.field)) whose name is in secret_names (a list item counts for the
    key holding the list)."""
    keys = set()

    def walk(node, key):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, str(k))
        elif isinstance(node, list):
            for item in node:
                walk(item, key)
        elif isinstance(node, str) and key is not None:
            for reference in _VAR_REFERENCE.findall(node):
                if reference.strip().split(".")[0] in secret_names:
                    keys.add(key)

    walk(template, None)
    return keys


def mask_diff(lines, keys, mask="********"):
    """Diff lines with the values of secret keys masked, and every line of their block values."""
    masked, owner = [], None  # owner: indentation of the masked key whose block value follows
    for line in lines:
        prefix, body = (line[:2], line[2:]) if line[:2] in ("+ ", "- ", "  ") else ("", line)
        indent = len(body) - len(body.lstrip(" "))
        text = body.strip()
        if owner is not None and text and (indent > owner or (indent == owner and text.startswith("- "))):
            masked.append(prefix + " " * indent + mask)
            continue
        owner = None
        match = _DIFF_KEY.match(body)
        if prefix and match and _is_secret_key(match.group("key"), keys):
            owner = indent + (2 if match.group("item") else 0)
            value = match.group("value")
            masked.append(prefix + body[: len(body) - len(value)] + (" " + mask if value.strip() else ""))
            continue
        masked.append(line)
    return masked


def _is_secret_key(key, keys):
    # Masked whatever fed them: the diff shows the config Concourse holds, so a secret set by
    # an earlier run (or by hand) appears on the removed lines.
    key = key.strip().strip("\"'")
    return key in keys or is_secret_name(key)


def warning_lines(stderr):
    """The `  - message` lines fly prints under `DEPRECATION WARNING:` on stderr."""
    warnings, inside = [], False
    for line in terminal_lines(stderr):
        if line.strip() == "DEPRECATION WARNING:":
            inside = True
        elif inside and line.startswith("  - "):
            warnings.append(line[4:])
        elif not line.strip():
            inside = False
    return warnings


def _json_output(stdout, command, expected, what, empty):
    """What `fly COMMAND --json` printed, which must decode to the expected type."""
    try:
        document = json.loads(stdout or empty)
    except ValueError as err:
        raise FlyError(f"fly {command} --json printed something that is not JSON: {err}") from None
    if not isinstance(document, expected):
        raise FlyError(f"fly {command} --json did not print {what}")
    return document


def parse_pipelines(stdout):
    """`fly pipelines --json`: a JSON array of atc.Pipeline."""
    return _json_output(stdout, "pipelines", list, "a list", "[]")


def find_pipeline(pipelines, name):
    """The pipeline called name (without instance vars), or None."""
    for pipeline in pipelines:
        if isinstance(pipeline, dict) and pipeline.get("name") == name and not pipeline.get("instance_vars"):
            return pipeline
    return None


def parse_pipeline_config(stdout):
    """`fly get-pipeline --json`: the pipeline's config as a JSON object (no trailing newline)."""
    return _json_output(stdout, "get-pipeline", dict, "an object", "")


def find_job(config, name):
    """The job called name in a pipeline config, or None."""
    for job in config.get("jobs") or []:
        if isinstance(job, dict) and job.get("name") == name:
            return job
    return None


def job_names(config):
    return [job["name"] for job in config.get("jobs") or [] if isinstance(job, dict) and job.get("name")]


class WatchOutput:
    """`fly trigger-job [-w]` output: the build started, and with -w its log and final status."""

    def __init__(self, stdout, rc, timed_out=False):
        lines = terminal_lines(stdout)
        self.pipeline = self.job = self.name = None
        start = 0
        for index, line in enumerate(lines):
            match = _STARTED.match(line.strip())
            if match:
                self.pipeline, self.job, self.name = match.group("pipeline", "job", "name")
                start = index + 1
                break
        body = lines[start:]
        if body and not body[0].strip():
            body = body[1:]  # fly prints a blank line before the event stream
        self.status = None
        if body and body[-1].strip() in BUILD_STATUSES and not timed_out:
            self.status = body[-1].strip()
            body = body[:-1]
        self.log_lines = body
        self.rc = rc
        self.timed_out = timed_out

    def tail(self, count=LOG_TAIL_LINES):
        return self.log_lines[-count:]


def exit_code_meaning(status, rc):
    """A sentence on how fly's exit code relates to the build status (docs/upstream-contracts.md sec. 5)."""
    if status is None:
        return "fly could not follow the build's events" if rc == EVENT_STREAM_ERROR else ""
    expected = STATUS_EXIT_CODES[status]
    if status in ("succeeded", "failed") and rc not in (expected, 0):
        return f"exit code {rc} is the last task's exit status"
    return f"fly exits {expected} for a build that {status if status != 'succeeded' else 'succeeds'}"


def cli_download_url(api_url, machine=None, system=None):
    """Where a Concourse serves the fly that matches it, for this machine."""
    machine = (machine or platform.machine()).lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    system = (system or platform.system()).lower()
    return f"{api_url.rstrip('/')}/api/v1/cli?arch={arch}&platform={system}"


# ------------------------------------------------------------------------------------------------
# Errors


class FlyError(Exception):
    def __init__(self, msg, details=None, kind="fly"):
        super().__init__(msg)
        self.msg = msg
        self.details = details or {}
        self.kind = kind


def explain(stderr, target, api_url=None):
    """(kind, sentence) for the user from fly's stderr, or (None, None)."""
    lines = terminal_lines(stderr)
    text = "\n".join(lines)
    where = f" ({api_url})" if api_url else ""
    if TOKEN_CHECK_FAILED in text and _NET_ERROR.search(text):
        cause = text.split(TOKEN_CHECK_FAILED, 1)[1].strip()
        return "unreachable", f"the Concourse server of target '{target}'{where} is unreachable: {cause}"
    if UNREACHABLE in text:
        cause = next((line.strip() for line in lines if line.startswith("    ")), "")
        return "unreachable", (
            f"the Concourse server of target '{target}'{where} is unreachable"
            + (f": {cause}" if cause else "")
        )
    if VERSION_DISCREPANCY in text:
        match = _VERSIONS.search(text)
        versions = (
            f"fly {match.group('fly')} and Concourse {match.group('server')} differ in their major or "
            "minor version"
            if match
            else "fly and Concourse differ in their major or minor version"
        )
        download = (
            cli_download_url(api_url) if api_url else "CONCOURSE_URL/api/v1/cli?arch=amd64&platform=linux"
        )
        return "version_mismatch", (
            f"{versions}, so fly refuses to run. Get the matching fly from the server: {download} "
            f"(or run `fly -t {target} sync`), and point the 'executable' option at it"
        )
    if NOT_AUTHORIZED in text:
        return "not_authorized", (
            f"Concourse did not accept the token of target '{target}' (expired or revoked); give "
            "username and password so the module logs in again"
        )
    if "error: unknown target:" in text:
        return "unknown_target", (
            f"fly has no target '{target}'; give concourse_url, username and password so the module logs in"
        )
    return None, None


# ------------------------------------------------------------------------------------------------
# Logging in without the password on fly's command line


class LoginRejected(FlyError):
    pass


def fetch_token(opener, api_url, username, password, *, ca_cert=None, insecure=False, timeout=30):
    """(token_type, access_token) from Concourse's token endpoint, the password grant fly uses.

    opener: ansible.module_utils.urls.open_url or a stand-in with the same signature.
    """
    url = api_url.rstrip("/") + TOKEN_PATH
    body = urlencode(
        {"grant_type": "password", "username": username, "password": password, "scope": TOKEN_SCOPES}
    )
    try:
        response = opener(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
            url_username=FLY_CLIENT_ID,
            url_password=FLY_CLIENT_SECRET,
            force_basic_auth=True,
            validate_certs=not insecure,
            ca_path=ca_cert,
            timeout=timeout,
        )
        document = json.loads(response.read().decode("utf-8"))
    except HTTPError as err:
        reason = _oauth_error(err)
        if err.code in (400, 401, 403):
            raise LoginRejected(
                f"Concourse at {api_url} rejected the login of user '{username}': {reason}",
                kind="login_rejected",
            ) from None
        raise FlyError(
            f"Concourse at {api_url} answered {err.code} to the token request: {reason}", kind="login_failed"
        ) from None
    except ValueError as err:
        raise FlyError(
            f"Concourse at {api_url} answered the token request with something that is not JSON: {err}",
            kind="login_failed",
        ) from None
    except Exception as err:  # URLError, SSL and socket errors all mean "cannot reach"
        reason = getattr(err, "reason", None) or err
        hint = (
            " (check ca_cert, or set insecure for a self-signed certificate)"
            if "certificate" in str(reason).lower()
            else ""
        )
        raise FlyError(f"Concourse at {api_url} is unreachable: {reason}{hint}", kind="unreachable") from None
    token = document.get("access_token") if isinstance(document, dict) else None
    if not token:
        raise FlyError(f"Concourse at {api_url} returned no access token", kind="login_failed")
    return (document.get("token_type") or "bearer"), token


def _oauth_error(err):
    try:
        document = json.loads(err.read().decode("utf-8"))
    except Exception:  # any unreadable body: fall back to the status line
        document = None
    if isinstance(document, dict) and (document.get("error") or document.get("error_description")):
        return document.get("error_description") or document.get("error")
    return f"HTTP {err.code} {getattr(err, 'reason', '')}".strip()


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


# ------------------------------------------------------------------------------------------------


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


# ------------------------------------------------------------------------------------------------
# The module's task: validate, log in, set, pause/expose; trigger and watch; or destroy


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
        self.result["changed"] = True
        if self.check_mode:
            return
        result, output = self.fly.trigger_job(pipeline, job, watch=params["watch"], timeout=params["timeout"])
        build.update(triggered=True, name=output.name)
        found = next(
            (b for b in self.fly.job_builds(pipeline, job) if str(b.get("name")) == str(output.name)), None
        )
        if found:
            build.update(
                id=found.get("id"),
                api_url=found.get("api_url"),
                start_time=found.get("start_time"),
                end_time=found.get("end_time"),
            )
            build["status"] = found.get("status")
        if not params["watch"]:
            return
        build.update(timed_out=output.timed_out, log_tail=output.tail())
        if not output.timed_out:
            # A watch stopped at the timeout ends with fly's exit code for "detached" (2, the same as
            # an errored build's): it says nothing about the build, so none is reported.
            build["exit_code"] = result.rc
        reattach = f"fly -t {params['target']} watch -j {pipeline}/{job} -b {output.name}"
        if output.timed_out:
            build["status"] = build.get("status") or "started"
            raise FlyError(
                f"stopped watching build {pipeline}/{job} #{output.name} after the timeout of "
                f"{params['timeout']}s; "
                f"the build is still {build['status']} in Concourse (re-attach with: {reattach})",
                {"build": build},
                kind="timeout",
            )
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
