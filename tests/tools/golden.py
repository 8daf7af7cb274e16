"""Golden files: what a real tool printed, recorded once, compared with on every run.

The parity tests (tests/integration/test_bosh_render_parity.py, the validate-pipeline test in
tests/integration/test_fly_pipeline.py) compare this project's code with the real bosh and fly.
Neither can be installed where the project is tested, so their outputs are recorded as YAML files
under tests/fixtures/ by tests/tools/record_golden.py and compared with on every run; where the
real tool is present the tests compare with it live as well.

NESTED_WARDEN_RECORD_GOLDEN selects recording: `1` or `all` for every tool, else a comma list of
tool names (`bosh`, `fly`). While recording, a test runs the real tool, writes its golden file and
appends the file's path to the file named by NESTED_WARDEN_RECORD_LOG (when set), so that the
recorder can remove golden files no test wrote.
"""

import hashlib
import os
from pathlib import Path

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[2]
RECORD_ENV = "NESTED_WARDEN_RECORD_GOLDEN"
RECORD_LOG_ENV = "NESTED_WARDEN_RECORD_LOG"
RECORDER = "tests/tools/record_golden.py"

HEADER = """\
---
# yamllint disable rule:line-length
# Golden file: {what}.
# Written by {recorder}; do not edit by hand, re-record (see {readme}).
"""


def recording(tool):
    """Whether this run records `tool`'s golden files instead of reading them."""
    value = os.environ.get(RECORD_ENV, "").strip()
    if value in ("", "0"):
        return False
    return value in ("1", "all") or tool in {part.strip() for part in value.split(",")}


def how_to_record(tool, real_env):
    return (
        f"record it with a real {tool}: .venv/bin/python {RECORDER} --{tool} /path/to/{tool} "
        f"(or {RECORD_ENV}={tool} {real_env}=/path/to/{tool} .venv/bin/python -m pytest ...)"
    )


def relative(path):
    path = Path(path)
    try:
        return str(path.resolve().relative_to(PROJECT))
    except ValueError:
        return str(path)


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def file_input(path):
    """How a golden file names an input that is a file of the project: path and content hash."""
    return {"file": relative(path), "sha256": sha256(path)}


class Normaliser:
    """Replaces machine-specific paths by placeholders, longest first, and notes which it used."""

    def __init__(self, replacements):
        pairs = {}
        for raw, placeholder in replacements:
            for variant in {str(raw), str(Path(raw).resolve())}:
                pairs[variant] = placeholder
        self.pairs = sorted(pairs.items(), key=lambda item: -len(item[0]))

    def __call__(self, text):
        for raw, placeholder in self.pairs:
            text = text.replace(raw, placeholder)
        return text

    def used(self, text):
        return sorted({placeholder for raw, placeholder in self.pairs if raw in text})


class _Dumper(yaml.SafeDumper):
    pass


def _represent_str(dumper, data):
    # Literal blocks for text with line breaks (PyYAML falls back to a quoted style where a block
    # cannot hold the text exactly: trailing spaces, control characters); only line breaks, "\n".
    style = None
    if "\n" in data:
        style = "|" if data.strip("\n") else '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _represent_str)


def dump(data):
    """YAML text of plain data, keys in the order given, multi-line text as literal blocks."""
    return yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1 << 16
    )


def write(path, record, what):
    path = Path(path)
    readme = relative(path.parent / "README.md")
    text = HEADER.format(what=what, recorder=RECORDER, readme=readme) + dump(record)
    if yaml.safe_load(text) != record:
        raise AssertionError(f"{path}: the golden YAML does not read back as what was recorded")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    log = os.environ.get(RECORD_LOG_ENV)
    if log:
        with open(log, "a", encoding="utf-8") as out:
            out.write(f"{path.resolve()}\n")


def load(path, inputs, hint):
    """The recorded golden file at `path`; fails the test when it is missing or was recorded for
    other inputs than `inputs` (then the recording is stale)."""
    path = Path(path)
    if not path.exists():
        pytest.fail(f"no golden file {relative(path)}: {hint}", pytrace=False)
    record = yaml.safe_load(path.read_text(encoding="utf-8"))
    recorded = record.get("inputs") or {}
    if recorded != inputs:
        changed = sorted(key for key in {*recorded, *inputs} if recorded.get(key) != inputs.get(key))
        details = "; ".join(
            f"{key}: recorded {recorded.get(key)!r}, now {inputs.get(key)!r}" for key in changed
        )
        pytest.fail(
            f"golden file {relative(path)} is stale, recorded for other inputs than the test has now "
            f"({', '.join(changed)} changed); {hint}\n{details}",
            pytrace=False,
        )
    return record
