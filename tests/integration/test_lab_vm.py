"""nested.warden.lab_vm against the real qemu and the project's VM base disk.

The module runs in-process (AnsibleModule from its JSON arguments). The whole VM lab, boot to
removal, runs in the Molecule scenario site_vm; these are the faults that need a real qemu: a guest
that never answers in time, and what is left after it. No guest forward is given, so the guest
reaches nothing at all (restrict=on); SSH is forwarded on 127.0.0.1 only.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from ansible_collections.nested.warden.plugins.modules import lab_vm
from module_helpers import run_module

PROJECT = Path(__file__).resolve().parents[2]
IMAGE_DIR = PROJECT / ".cache" / "vm-image"

pytestmark = [
    pytest.mark.skipif(
        shutil.which("qemu-system-x86_64") is None, reason="qemu-system-x86_64 is not installed"
    ),
    pytest.mark.skipif(
        not (IMAGE_DIR / "disk.img").is_file(),
        reason="no VM base disk in .cache/vm-image (scripts/bootstrap vm builds it)",
    ),
]


def run(args):
    return run_module(lab_vm, args)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def qemu_processes(name):
    argv = ["pgrep", "-f", "--", f"-name {name} "]
    found = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert found.returncode in (0, 1), found.stderr  # 1: none found
    return found.stdout.split()


def test_a_guest_that_does_not_answer_in_time_fails_with_its_console_and_leaves_nothing(tmp_path):
    name = f"nw-test-lab-vm-{tmp_path.name}"
    port = free_port()
    # Under TCG the guest's SSH answers 30 s or more after power-on (35 s on an idle 2-core
    # machine): 10 s is never enough, and the kernel prints on the console well before.
    args = {
        "name": name,
        "state_dir": str(tmp_path / "vm"),
        "image_dir": str(IMAGE_DIR),
        "ssh_port": port,
        "memory": 1024,
        "cpus": 1,
        "accel": "tcg",
        "boot_timeout": 10,
    }
    try:
        result = run(args)
        assert result.get("failed"), result
        assert "did not answer SSH within 10s (boot_timeout); last console lines:" in result["msg"]
        assert qemu_processes(name) == []
        assert not (tmp_path / "vm" / "overlay.qcow2").exists()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))  # the forward is gone
        # The error quotes what the serial console showed by then.
        console = (tmp_path / "vm" / "console.log").read_text(errors="replace").splitlines()
        shown = [line.strip() for line in console if line.strip()]
        assert not shown or any(line[:40] in result["msg"] for line in shown)
    finally:
        removed = run(dict(args, state="absent"))
    assert removed["changed"]
    assert not (tmp_path / "vm").exists()
    assert qemu_processes(name) == []
