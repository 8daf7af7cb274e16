"""The bosh CLI as the bosh_deploy module drives it: director operations only.

Every call is `bosh -n --json ...`: `--json` because non-TTY output (as under Ansible) hides the
diff, and `-n` because `--json` without it panics at the confirmation prompt. The JSON document
is `{"Tables": [...], "Blocks": [...], "Lines": [...]}` (null for an empty list); the manifest
diff is in `Lines`, one element per line, prefixed `+ `, `- ` or two spaces. Errors are the last
`Lines` element before `Exit code 1`. Flag errors (a missing manifest or ops file) are printed
as plain text on stderr with an empty stdout. Exit codes are 0 and 1 only.

Credentials travel in the environment (BOSH_ENVIRONMENT, BOSH_CLIENT, BOSH_CLIENT_SECRET,
BOSH_CA_CERT), never on the command line.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from ansible_collections.nested.warden.plugins.module_utils.cli_runner import (
    CliRunner,
    as_fixed,
    as_flag,
    as_option,
    as_positional,
    as_repeated,
    redact,
)
from ansible_collections.nested.warden.plugins.module_utils.inputs import host_problem, url_problem

INSTALL_HINT = (
    "install the bosh CLI v7 (a release binary from github.com/cloudfoundry/bosh-cli, or "
    "`go install github.com/cloudfoundry/bosh-cli/v7@v7.10.6` and copy the resulting `bosh-cli` "
    "binary to a directory on PATH as `bosh`)"
)

BOSH_ARGS = {
    "json": as_fixed("-n", "--json"),
    "deployment": as_option("-d"),
    "deploy": as_fixed("deploy"),
    "delete_deployment": as_fixed("delete-deployment"),
    "deployments": as_fixed("deployments"),
    "manifest": as_positional(),
    "ops_files": as_repeated("-o"),
    "vars_files": as_repeated("-l"),
    "vars_store": as_option("--vars-store"),
    "recreate": as_flag("--recreate"),
    "fix": as_flag("--fix"),
    "dry_run": as_flag("--dry-run"),
}

ENVIRONMENT_VARIABLES = {
    "environment": "BOSH_ENVIRONMENT",
    "client": "BOSH_CLIENT",
    "client_secret": "BOSH_CLIENT_SECRET",
    "ca_cert": "BOSH_CA_CERT",
}

DIFF_PREFIXES = ("+ ", "- ", "  ")
_TASK_LINE = re.compile(r"^Task \d+$")


class BoshOutput:
    """The parsed `--json` document of one bosh call (or the plain text of a flag error)."""

    def __init__(self, stdout, stderr=""):
        self.stdout = stdout or ""
        self.stderr = stderr or ""
        self.tables = []
        self.blocks = []
        self.lines = []
        self.is_json = False
        text = self.stdout.strip()
        if text.startswith("{"):
            try:
                document = json.loads(text)
            except ValueError:
                document = None
            if isinstance(document, dict):
                self.is_json = True
                self.tables = document.get("Tables") or []
                self.blocks = document.get("Blocks") or []
                self.lines = document.get("Lines") or []

    @property
    def diff_lines(self):
        """The manifest diff, one string per line, prefixes kept, newline removed."""
        return [line[:-1] for line in self.lines if line.endswith("\n") and line.startswith(DIFF_PREFIXES)]

    @property
    def has_changes(self):
        return any(line.startswith(("+ ", "- ")) for line in self.diff_lines)

    @property
    def ran_task(self):
        return any(_TASK_LINE.match(line) for line in self.lines)

    @property
    def error(self):
        """The CLI's error text: its last Lines entry before `Exit code 1`, or stderr."""
        if self.is_json and self.lines and self.lines[-1] == "Exit code 1":
            before = [line for line in self.lines[:-1] if not line.startswith("Using ")]
            if before:
                return before[-1]
        text = "\n".join(line for line in self.stderr.splitlines() if line != "Exit code 1").strip()
        if text:
            return text
        return "\n".join(self.lines).strip() or self.stdout.strip()

    def table_rows(self, content=None):
        for table in self.tables:
            if content is None or table.get("Content") == content:
                yield from table.get("Rows") or []


def explain_error(error, environment):
    """A sentence for the user, naming the likely cause, from bosh's error text."""
    if error.startswith("Expected non-empty Director URL"):
        return "no BOSH director is configured: set the 'environment' option or BOSH_ENVIRONMENT"
    if error.startswith("Parsing Director URL"):
        return (
            f"the BOSH director address '{environment}' is not valid; "
            "use https://HOST:PORT (the port defaults to 25555)"
        )
    if error.startswith("Fetching info:"):
        cause = error.strip().splitlines()[-1].strip()
        where = f" at '{environment}'" if environment else ""
        return f"the BOSH director{where} is unreachable: {cause}"
    return None


def director_address_problem(address):  # noqa: PLR0911 -- one return per kind of problem
    """Why the bosh CLI would refuse address as its director URL (None when it would take it).

    The CLI (director.NewConfigFromURL) parses it with Go's url.Parse: an address without a
    scheme must not have a colon in it (`10.0.0.6:25555` is refused; `10.0.0.6` or
    `https://10.0.0.6:25555` are fine), a port must be digits, the host must not be empty. A
    name without a scheme may also be an alias from `bosh alias-env`.
    """
    how = "use https://HOST:PORT (the port defaults to 25555)"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in address):
        return f"has a control character; {how}"
    if "://" not in address:
        if ":" in address.split("/", 1)[0] and not re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", address):
            return f"has a port but no scheme, which the bosh CLI cannot parse; {how}"
        problem = host_problem(address.split("/", 1)[0].split(":", 1)[0])
        return f"{problem}; {how}" if problem else None
    problem = url_problem(address, schemes=("https", "http"), example="https://HOST:PORT")
    if problem:
        return problem
    netloc = urlsplit(address).netloc.rsplit("@", 1)[-1]
    if netloc.startswith("[") and not re.search(r"\]:[0-9]+$", netloc):
        return f"has an IPv6 address without a port, which the bosh CLI cannot split; {how}"
    if netloc.endswith(":"):
        return f"has an empty port; {how}"
    return None


class BoshCommandError(Exception):
    def __init__(self, msg, details):
        super().__init__(msg)
        self.msg = msg
        self.details = details


class BoshCli:
    def __init__(
        self, module, *, executable=None, environment=None, client=None, client_secret=None, ca_cert=None
    ):
        self.runner = CliRunner(module, "bosh", BOSH_ARGS, executable=executable, install_hint=INSTALL_HINT)
        self.environment = environment
        self.credentials = {
            "environment": environment,
            "client": client,
            "client_secret": client_secret,
            "ca_cert": ca_cert,
        }
        self.secrets = [client_secret] if client_secret else []

    def add_secrets(self, values):
        self.secrets.extend(v for v in values if v)

    def env(self):
        return {ENVIRONMENT_VARIABLES[k]: v for k, v in self.credentials.items() if v}

    def _run(self, what, order, mutating=False, **values):
        result = self.runner.run(order, mutating=mutating, env=self.env(), **values)
        output = BoshOutput(result.stdout, result.stderr)
        if not result.skipped and result.rc != 0:
            error = redact(output.error, self.secrets)
            explained = explain_error(error, self.environment)
            msg = f"bosh {what} failed: " + (explained or error)
            details = result.as_dict(self.secrets)
            details["error"] = error
            details["stdout_lines"] = details["stdout"].splitlines()
            details["stderr_lines"] = details["stderr"].splitlines()
            raise BoshCommandError(msg, details)
        return result, output

    def deploy(
        self,
        deployment,
        manifest,
        *,
        ops_files=(),
        vars_files=(),
        vars_store=None,
        recreate=False,
        fix=False,
        dry_run=False,
    ):
        return self._run(
            "deploy",
            "json deployment deploy manifest ops_files vars_files vars_store recreate fix dry_run",
            deployment=deployment,
            manifest=manifest,
            ops_files=list(ops_files),
            vars_files=list(vars_files),
            vars_store=vars_store,
            recreate=recreate,
            fix=fix,
            dry_run=dry_run,
        )

    def delete_deployment(self, deployment):
        return self._run(
            "delete-deployment", "json deployment delete_deployment", mutating=True, deployment=deployment
        )

    def deployment_names(self):
        _result, output = self._run("deployments", "json deployments")
        return [row.get("name") for row in output.table_rows("deployments")]
