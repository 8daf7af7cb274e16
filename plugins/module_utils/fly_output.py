"""What fly prints, read as the fly_pipeline module needs it (fly v8): set-pipeline's diff and
its verdict, the JSON of pipelines, get-pipeline and workers, trigger-job's watch, and fly's errors
explained."""

from __future__ import annotations

import json
import platform
import re

from ansible_collections.nested.warden.plugins.module_utils.secrets import is_secret_name

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
# A worker's states (atc/db/worker.go); only a running one is given builds.
WORKER_RUNNING = "running"
# Exit status of `trigger-job -w` when the build ends with this status and no task set one.
STATUS_EXIT_CODES = {"succeeded": 0, "failed": 1, "errored": 2, "aborted": 3}
EVENT_STREAM_ERROR = 255
LOG_TAIL_LINES = 30
_ESCAPE = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")
_STARTED = re.compile(r"^started (?P<pipeline>[^/\s]+)/(?P<job>\S+) #(?P<name>\S+)$")
_NET_ERROR = re.compile(
    r"dial tcp|connection refused|no such host|i/o timeout|network is unreachable|tls:|x509:"
)
_VERSIONS = re.compile(r"fly version \((?P<fly>[^)]*)\) is out of sync with the target \((?P<server>[^)]*)\)")


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


def parse_workers(stdout):
    """`fly workers --json`: a JSON array of atc.Worker (name, state, platform, tags, team, ...)."""
    return _json_output(stdout, "workers", list, "a list", "[]")


def no_running_worker(workers):
    """Why no build can start when no worker of `fly workers --json` is running (with the fix),
    or None when one is."""
    workers = [w for w in workers if isinstance(w, dict)]
    if any(w.get("state") == WORKER_RUNNING for w in workers):
        return None
    named = ", ".join(f"{w.get('name') or '(no name)'} ({w.get('state') or 'no state'})" for w in workers)
    return f"no running worker: {named or 'none'}; start a worker (or fix it) and run again"


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
