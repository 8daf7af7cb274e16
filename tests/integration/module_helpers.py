"""Shared by the integration tests that run the collection's modules in-process and drive the
real Docker engine: a module's main() as Ansible runs it, and the docker CLI."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess

from ansible.module_utils.testing import patch_module_args


class UnhandledError(AssertionError):
    pass


def run_module(module, args, check_mode=False):
    """module's main() as Ansible runs it: its JSON result (failed results included); an
    exception escaping main() (what Ansible reports as "Module failed" with a traceback) fails
    the test."""
    output = io.StringIO()
    arguments = dict(args, _ansible_check_mode=check_mode)
    try:
        with (
            patch_module_args(arguments),
            contextlib.redirect_stdout(output),
            contextlib.suppress(SystemExit),
        ):
            module.main()
    except Exception as err:
        raise UnhandledError(f"{module.__name__} raised {type(err).__name__}: {err}") from err
    return json.loads(output.getvalue())


def docker(*args, check=True):
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=120)


def engine_answers():
    return shutil.which("docker") is not None and docker("version", check=False).returncode == 0
