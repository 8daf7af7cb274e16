#!/usr/bin/env python3
"""Record the real bosh's and fly's outputs as the golden files the parity tests compare with.

    .venv/bin/python tests/tools/record_golden.py --bosh /path/to/bosh [--fly /path/to/fly]

For each tool given, runs its parity tests with NESTED_WARDEN_RECORD_GOLDEN=<tool> and the real
tool: every case runs the real tool, writes its golden file (tests/fixtures/bosh/parity/*.yml,
tests/fixtures/fly/validate-pipeline/*.yml) and is compared with ours as before. Golden files no
case wrote (cases renamed or removed) are then deleted. Last, the same tests run again without
recording and without the real tools, reading only the golden files, as they run in CI.

Nothing of the tools (source, binaries, build scripts) goes into the repository, only their
outputs. After recording, note the tool's version and build in the README next to the files.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
SUITES = {
    "bosh": {
        "env": "NESTED_WARDEN_REAL_BOSH",
        "tests": ["tests/integration/test_bosh_render_parity.py"],
        "golden": PROJECT / "tests" / "fixtures" / "bosh" / "parity",
    },
    "fly": {
        "env": "NESTED_WARDEN_REAL_FLY",
        "tests": ["tests/integration/test_fly_pipeline.py::test_double_validate_pipeline_matches_a_real_fly"],
        "golden": PROJECT / "tests" / "fixtures" / "fly" / "validate-pipeline",
    },
}
TOOL_ENV = ["NESTED_WARDEN_RECORD_GOLDEN", "NESTED_WARDEN_RECORD_LOG"] + [s["env"] for s in SUITES.values()]


def pytest(tests, env):
    argv = [sys.executable, "-m", "pytest", *tests, "-q", "-p", "no:cacheprovider"]
    print("+", " ".join(argv), flush=True)
    return subprocess.call(argv, cwd=PROJECT, env=env)


def without_tools():
    """The environment with no recording and no real tool: no variable, no bosh on PATH."""
    env = {k: v for k, v in os.environ.items() if k not in TOOL_ENV}
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and not (Path(p) / "bosh").exists()]
    env["PATH"] = os.pathsep.join(path)
    return env


def record(tool, binary):
    suite = SUITES[tool]
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    print(f"recording {tool} with {binary}: {version.stdout.strip() or version.stderr.strip()}")
    with tempfile.NamedTemporaryFile("r", suffix=".log") as log:
        env = {
            **without_tools(),
            "NESTED_WARDEN_RECORD_GOLDEN": tool,
            "NESTED_WARDEN_RECORD_LOG": log.name,
            suite["env"]: binary,
        }
        if pytest(suite["tests"], env) != 0:
            print(f"recording {tool} failed: golden files may be partly rewritten (git diff)")
            return False
        written = {Path(line) for line in log.read().splitlines()}
    for path in sorted(suite["golden"].glob("*.yml")):
        if path.resolve() not in written:
            print(f"removing stale {path.relative_to(PROJECT)}")
            path.unlink()
    print(f"{tool}: {len(written)} golden files written")
    return True


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bosh", help="a real bosh CLI (bosh --version prints 'version ...')")
    parser.add_argument("--fly", help="a real fly CLI")
    args = parser.parse_args()
    chosen = {tool: getattr(args, tool) for tool in SUITES if getattr(args, tool)}
    if not chosen:
        parser.error("give --bosh and/or --fly")
    for tool, binary in chosen.items():
        if not os.access(binary, os.X_OK):
            parser.error(f"--{tool} {binary}: not an executable")
        if not record(tool, str(Path(binary).resolve())):
            return 1
    print("checking against the golden files alone, without the real tools:")
    tests = [test for tool in chosen for test in SUITES[tool]["tests"]]
    return 1 if pytest(tests, without_tools()) != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
