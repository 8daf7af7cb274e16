"""nested-check's small steps: scan-logs --tail (the last lines of each log) and image-stages
(whether the image carries the BOSH stage), run as the one-exec `steps` runs them."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from nested_check import cli
from nested_check import mounts as mounts_step

ROOT = Path(__file__).resolve().parents[2]
NESTED_CHECK = ROOT / "warden-cpi-containerd" / "nested-check"
START_BOSH = "/usr/local/bin/start-bosh"


def run_one(argv):
    emitted = []
    passed = cli.run_steps([{"name": "step", "argv": argv}], emitted.append)
    assert len(emitted) == 1
    return passed, emitted[0]


# -- scan-logs --tail ---------------------------------------------------------------------------------


def test_scan_logs_tail_returns_the_last_lines_of_each_file_and_still_scans_all_of_it(tmp_path):
    long_log, short_log, missing = tmp_path / "long.log", tmp_path / "short.log", tmp_path / "missing.log"
    long_log.write_text(
        "mkfs.xfs: error on line 1\n" + "".join(f"line {n}\n" for n in range(2, 51)), encoding="utf-8"
    )
    short_log.write_text("only\ntwo\n", encoding="utf-8")
    passed, result = run_one(["scan-logs", str(long_log), str(short_log), str(missing), "--tail", "3"])
    assert result["tails"] == {
        str(long_log): ["line 48", "line 49", "line 50"],
        str(short_log): ["only", "two"],
        str(missing): [],
    }
    # The problem is on line 1, outside the tail: the scan still reads the whole file.
    assert (passed, result["passed"]) == (False, False)
    assert [(f["file"], f["line"]) for f in result["findings"]] == [(str(long_log), 1)]


def test_scan_logs_without_tail_returns_no_tails(tmp_path):
    log = tmp_path / "clean.log"
    log.write_text("all good\n", encoding="utf-8")
    passed, result = run_one(["scan-logs", str(log)])
    assert passed is True
    assert "tails" not in result
    assert result["findings"] == []


def test_scan_logs_tail_on_the_command_line_prints_it_as_json(tmp_path):
    log = tmp_path / "containerd.log"
    log.write_text("".join(f"entry {n}\n" for n in range(10)), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(NESTED_CHECK), "scan-logs", str(log), "--tail", "2"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["tails"] == {str(log): ["entry 8", "entry 9"]}


# -- image-stages -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("present", "mode", "bosh"),
    [(True, 0o755, True), (True, 0o644, False), (False, None, False)],
    ids=["executable", "not-executable", "absent"],
)
def test_image_stages_reports_the_bosh_stage_only_when_start_bosh_is_executable(
    monkeypatch, tmp_path, *, present, mode, bosh
):
    start_bosh = tmp_path / "start-bosh"
    if present:
        start_bosh.write_text("#!/bin/sh\n", encoding="utf-8")
        start_bosh.chmod(mode)
    real_access = os.access
    asked = []

    def access(path, wanted, *args, **kwargs):
        # The image's path stands for the file in tmp_path; every other path is the real one.
        if path == START_BOSH:
            asked.append(wanted)
            path = start_bosh
        return real_access(path, wanted, *args, **kwargs)

    monkeypatch.setattr(cli.os, "access", access)
    passed, result = run_one(["image-stages"])
    assert asked == [os.X_OK]
    assert result["bosh"] is bosh
    assert (passed, result["passed"], result["check"]) == (True, True, "image-stages")


MOUNTS_CAPS = """overlay / overlay rw,relatime 0 0
sysfs /sys sysfs ro,nosuid,nodev,noexec,relatime 0 0
tmpfs /sys/fs/cgroup tmpfs rw,nosuid,nodev,noexec,relatime,mode=755 0 0
cgroup /sys/fs/cgroup/memory cgroup ro,nosuid,nodev,noexec,relatime,memory 0 0
cgroup /sys/fs/cgroup/pids cgroup rw,nosuid,nodev,noexec,relatime,pids 0 0
proc /proc/bus proc ro,nosuid,nodev,noexec,relatime 0 0
"""
MOUNTS_PRIVILEGED = MOUNTS_CAPS.replace("sysfs ro,", "sysfs rw,").replace("cgroup ro,", "cgroup rw,")


@pytest.mark.parametrize(
    ("mounts", "masked", "expected"),
    [
        # caps mode: what is read-only is remounted, what is masked unmounted, the rest left alone
        (MOUNTS_CAPS, ["/proc/bus"], [["mount", "-o", "remount,rw", "/sys"],
                                      ["mount", "-o", "remount,bind,rw", "/sys/fs/cgroup/memory"],
                                      ["umount", "/proc/bus"]]),
        # privileged: nothing is read-only or masked, so nothing is done
        (MOUNTS_PRIVILEGED, [], []),
    ],
)  # fmt: skip
def test_writable_mounts_changes_only_what_is_read_only_or_masked(
    monkeypatch, tmp_path, *, mounts, masked, expected
):
    proc_mounts = tmp_path / "mounts"
    proc_mounts.write_text(mounts, encoding="utf-8")
    real_open = open
    ran = []
    monkeypatch.setattr(mounts_step, "open", lambda path, *a, **k: real_open(
        proc_mounts if path == "/proc/mounts" else path, *a, **k), raising=False)  # fmt: skip
    monkeypatch.setattr(mounts_step, "masked_paths", lambda: masked)
    monkeypatch.setattr(mounts_step, "run", lambda argv, **_: ran.append(argv) or (0, "", ""))
    passed, result = run_one(["writable-mounts"])
    assert ran == expected
    assert passed and result["passed"] and result["done"] == [" ".join(argv) for argv in expected]
