"""A small runner for command-line tools, shared by the project's CLI modules (bosh, fly).

Arguments are declared once as formats: a mapping from option name to a function that turns the
option's value into argv fragments (after community.general's CmdRunner). Commands run as argv
lists (never a shell), in the C locale, with the executable found by `get_bin_path` unless the
`executable` option names one. Calls that change something are skipped in check mode. Secrets
are passed through the environment or 0600 files, and `redact` removes them from anything
returned to the user.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile

from ansible_collections.nested.warden.plugins.module_utils.secrets import REDACTED

C_LOCALE = {"LANGUAGE": "C", "LC_ALL": "C", "LANG": "C"}


# ------------------------------------------------------------------------------------------------
# Argument formats: value -> list of argv strings. None or False means "leave out".


def as_fixed(*args):
    """Always the same arguments, whatever the value."""
    return lambda _value: [str(a) for a in args]


def as_flag(flag):
    """`--flag` when the value is true."""
    return lambda value: [flag] if value else []


def as_option(flag):
    """`--flag VALUE` when a value is given."""
    return lambda value: [] if value is None else [flag, str(value)]


def as_repeated(flag):
    """`--flag V1 --flag V2 ...` for a list."""
    return lambda values: [part for value in (values or []) for part in (flag, str(value))]


def as_positional():
    """The value itself (or each value of a list)."""

    def fmt(value):
        if value is None:
            return []
        if isinstance(value, (list, tuple)):
            return [str(v) for v in value]
        return [str(value)]

    return fmt


# ------------------------------------------------------------------------------------------------


def redact(text, secrets):
    """text with every secret value replaced; works on str, lists and dicts."""
    values = sorted({str(s) for s in secrets if s is not None and str(s) != ""}, key=len, reverse=True)
    if not values:
        return text
    if isinstance(text, str):
        for value in values:
            text = text.replace(value, REDACTED)
        return text
    if isinstance(text, list):
        return [redact(item, values) for item in text]
    if isinstance(text, tuple):
        return tuple(redact(item, values) for item in text)
    if isinstance(text, dict):
        return {redact(k, values): redact(v, values) for k, v in text.items()}
    return text


def secret_strings(value):
    """Every string inside a value (a dict of variables, say): the secrets to redact."""
    if isinstance(value, dict):
        return [s for v in value.values() for s in secret_strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in secret_strings(v)]
    return [value] if isinstance(value, str) else []


class CliNotFound(Exception):
    pass


class CliResult:
    def __init__(self, cmd, rc, stdout, stderr, skipped=False, *, timed_out=False):
        self.cmd = cmd
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.skipped = skipped
        self.timed_out = timed_out

    def as_dict(self, secrets=()):
        return redact({"cmd": self.cmd, "rc": self.rc, "stdout": self.stdout, "stderr": self.stderr}, secrets)


class CliRunner:
    """Build and run one tool's command lines.

    module: anything with get_bin_path(name, required=False), run_command(argv, ...) and
    check_mode, i.e. an AnsibleModule.
    """

    def __init__(self, module, command, arg_formats, executable=None, install_hint=""):
        self.module = module
        self.command = command
        self.arg_formats = dict(arg_formats)
        self.executable = executable
        self.install_hint = install_hint
        self._path = None

    def binary(self):
        if self._path is None:
            if self.executable:
                path = self.executable
                if os.sep not in path:
                    path = self.module.get_bin_path(path, required=False)
                if not path or not (os.path.isfile(path) and os.access(path, os.X_OK)):
                    raise CliNotFound(
                        f"the {self.command} executable '{self.executable}' was not found "
                        "or is not executable" + (f"; {self.install_hint}" if self.install_hint else "")
                    )
            else:
                path = self.module.get_bin_path(self.command, required=False)
                if not path:
                    raise CliNotFound(
                        f"the {self.command} CLI was not found on PATH"
                        + (f"; {self.install_hint}" if self.install_hint else "")
                        + " (or set the 'executable' option)"
                    )
            self._path = path
        return self._path

    def argv(self, order, **values):
        """argv for the arguments named in `order` (a list or a space-separated string)."""
        if isinstance(order, str):
            order = order.split()
        argv = [self.binary()]
        for name in order:
            if name not in self.arg_formats:
                raise KeyError(f"no argument format named '{name}' for {self.command}")
            argv.extend(self.arg_formats[name](values.get(name)))
        return argv

    def run(self, order, mutating=False, env=None, data=None, timeout=None, **values):
        """Run the command; in check mode a mutating call is not run and returns skipped=True.

        With `timeout` (seconds) the command is stopped when it runs longer: SIGTERM first (CLIs
        such as fly detach cleanly on it), SIGKILL after a grace period; the result then has
        timed_out=True and whatever the command printed until then.
        """
        argv = self.argv(order, **values)
        if mutating and getattr(self.module, "check_mode", False):
            return CliResult(argv, 0, "", "", skipped=True)
        environ = dict(C_LOCALE)
        environ.update({k: str(v) for k, v in (env or {}).items() if v is not None})
        if timeout is not None:
            return run_with_timeout(argv, environ, data, timeout)
        extra = {"data": data, "binary_data": True} if data is not None else {}
        rc, stdout, stderr = self.module.run_command(argv, environ_update=environ, check_rc=False, **extra)
        return CliResult(argv, rc, stdout, stderr)


GRACE_SECONDS = 10


def run_with_timeout(argv, environ, data, timeout, grace=GRACE_SECONDS):
    """Run argv with a time limit (AnsibleModule.run_command has none); see CliRunner.run."""
    env = dict(os.environ)
    env.update(environ)
    process = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,  # the whole process group can be stopped, children included
    )
    payload = data.encode() if isinstance(data, str) else data
    timed_out = False
    try:
        stdout, stderr = process.communicate(input=payload, timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        process.send_signal(signal.SIGTERM)
        try:
            stdout, stderr = process.communicate(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
    text = [part.decode("utf-8", errors="replace") if part else "" for part in (stdout, stderr)]
    return CliResult(argv, process.returncode, text[0], text[1], timed_out=timed_out)


def private_file(content, prefix="cli-", suffix=".yml", directory=None):
    """A 0600 temporary file holding content; the caller removes it."""
    handle, path = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=directory)
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(content)
    except BaseException:
        os.unlink(path)
        raise
    return path
