"""The bootstrap's refusals, run for real: each must say what is wrong and how to fix it."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
BOOTSTRAP = PROJECT / "scripts" / "bootstrap"


def bootstrap(*steps, env=None, user=None):
    argv = [str(BOOTSTRAP), *steps]
    if user:
        argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *argv]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, check=False)


def test_warm_bootstrap_reports_every_step_as_done():
    result = bootstrap()
    assert result.returncode == 0, result.stderr
    for step in ("packages", "docker", "venv", "collections", "tools", "images", "total"):
        assert f"  {step}" in result.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to an unprivileged user")
def test_no_engine_and_not_root_says_how_to_get_one(tmp_path):
    env = dict(os.environ, DOCKER_HOST=f"unix://{tmp_path}/no-engine.sock", HOME=str(tmp_path))
    result = bootstrap("docker", env=env, user="65534")
    assert result.returncode == 1
    assert "no Docker engine answers and this is not root" in result.stderr
    assert "fix:" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_go_is_named_and_the_optional_tools_are_skipped(tmp_path):
    # A copy of the project's scripts with an empty tools cache forces a build attempt.
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    shutil.copy(BOOTSTRAP, project / "scripts" / "bootstrap")
    shutil.copy(PROJECT / "versions.env", project / "versions.env")
    env = dict(os.environ, PATH="/usr/bin:/bin")
    result = subprocess.run(
        [str(project / "scripts" / "bootstrap"), "tools"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "bosh unavailable: Go is not installed" in result.stdout
    assert "fly unavailable: Go is not installed" in result.stdout
    assert "install Go 1.22+" in result.stdout
    assert not (project / ".cache" / "tools" / ".bosh-unavailable").exists(), "a later run with Go must retry"


@pytest.mark.skipif(os.geteuid() != 0, reason="installing packages needs root")
def test_failed_package_install_names_the_package():
    env = dict(os.environ, BOOTSTRAP_EXTRA_PACKAGES="nested-warden-no-such-package")
    result = bootstrap("packages", env=env)
    assert result.returncode == 1
    assert "installing the Debian package 'nested-warden-no-such-package' failed" in result.stderr
    assert "apt-cache policy nested-warden-no-such-package" in result.stderr
