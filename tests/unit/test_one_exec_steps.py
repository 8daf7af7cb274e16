"""The one-exec helper nested-check `steps` (several checks, one JSON line each); the concourse
role's lab jobs are tested in test_lab_jobs.py."""

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from nested_check import archives, cli

ROOT = Path(__file__).resolve().parents[2]


def test_steps_stop_after_a_failed_step_unless_it_continues_on_failure(tmp_path):
    clean, dirty = tmp_path / "clean.log", tmp_path / "dirty.log"
    clean.write_text("all good\n")
    dirty.write_text("mkfs.xfs: error\n")
    emitted = []
    passed = cli.run_steps(
        [
            {"name": "first", "argv": ["scan-logs", str(dirty)], "continue_on_failure": True},
            {"name": "second", "argv": ["scan-logs", str(clean)]},
            {"name": "third", "argv": ["scan-logs", str(dirty)]},
            {"name": "never", "argv": ["scan-logs", str(clean)]},
        ],
        emitted.append,
    )
    assert not passed
    assert [(item["step"], item["passed"]) for item in emitted] == [
        ("first", False),
        ("second", True),
        ("third", False),
    ]


def test_steps_set_a_step_environment_only_for_that_step(monkeypatch, tmp_path):
    monkeypatch.delenv("GARDEN_HOST_KERNEL_WRITES", raising=False)
    seen = []
    monkeypatch.setitem(
        cli.ACTIONS,
        "scan-logs",
        lambda args: (
            seen.append(os.environ.get("GARDEN_HOST_KERNEL_WRITES")) or {"check": "x", "passed": True}
        ),
    )
    log = tmp_path / "a.log"
    log.write_text("")
    steps = [
        {"name": "with", "argv": ["scan-logs", str(log)], "env": {"GARDEN_HOST_KERNEL_WRITES": "apply"}},
        {"name": "without", "argv": ["scan-logs", str(log)]},
    ]
    assert cli.run_steps(steps, lambda result: None)
    assert seen == ["apply", None]


def test_steps_command_prints_one_json_object_per_step(tmp_path):
    log = tmp_path / "a.log"
    log.write_text("fine\n")
    steps = json.dumps([{"name": "scan_logs", "argv": ["scan-logs", str(log)]}] * 2)
    done = subprocess.run(
        [sys.executable, str(ROOT / "warden-cpi-containerd" / "nested-check"), "steps", steps],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [json.loads(line)["step"] for line in lines] == ["scan_logs", "scan_logs"]


def test_oci_archive_names_the_image_and_carries_the_blobs_as_given(tmp_path):
    blob = tmp_path / "layer"
    blob.write_bytes(b"\x1f\x8bcompressed")
    descriptor = {"mediaType": "m", "digest": "sha256:" + "a" * 64, "size": 2, "annotations": {"n": "r"}}
    archives.write_oci_archive(
        str(tmp_path / "image.tar"), b"{}", descriptor, {"sha256:" + "b" * 64: str(blob)}
    )
    with tarfile.open(tmp_path / "image.tar") as archive:
        index = json.load(archive.extractfile("index.json"))
        assert archive.extractfile("blobs/sha256/" + "b" * 64).read() == b"\x1f\x8bcompressed"
        assert archive.extractfile("blobs/sha256/" + "a" * 64).read() == b"{}"
    assert index["manifests"] == [descriptor]
