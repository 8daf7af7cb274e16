"""The real warden CPI (the bosh-warden-cpi archive of NESTED_WARDEN_TOOLS_DIR, unpacked by
scripts/bootstrap into .cache/upstream) answers nested-check's requests as the recorded fixtures
say: the calls that need no Garden run here on the host, in a scratch directory. Skipped, with
the reason, where the archive was not unpacked. The calls through Garden run in the VM lab
(molecule/site_vm/verify.yml asserts the report's warden CPI row)."""

import json
import os
import shutil
import socket
from pathlib import Path

import pytest
from nested_check import cpi_protocol

ROOT = Path(__file__).resolve().parents[2]
CPI_DIR = ROOT / ".cache" / "upstream" / "bosh-warden-cpi-75aa1f6-linux-amd64"
CPI = Path(os.environ.get("NESTED_WARDEN_CPI", CPI_DIR / "cpi"))
RECORDED = json.loads(
    (ROOT / "tests" / "fixtures" / "warden_cpi" / "real-cpi-75aa1f6-caps-mode.json").read_text(
        encoding="utf-8"
    )
)

pytestmark = pytest.mark.skipif(
    not os.access(CPI, os.X_OK),
    reason=f"no warden CPI at {CPI}: set NESTED_WARDEN_TOOLS_DIR and run scripts/bootstrap upstream",
)


def unused_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def caller(tmp_path):
    config = tmp_path / "cpi.json"
    config.write_text(
        json.dumps(cpi_protocol.cpi_config(str(tmp_path), False, f"127.0.0.1:{unused_port()}")),
        encoding="utf-8",
    )
    return cpi_protocol.CpiCaller(str(CPI), str(config), timeout=60, keep_stdout=True)


def test_the_binary_is_the_recorded_commit():
    sources = (CPI.parent / "SOURCES").read_text(encoding="utf-8")
    assert " ".join(sources.split()).startswith(RECORDED["cpi"].split(" go ")[0])


def test_info_answers_as_recorded(caller):
    result, error = caller.call("info")
    assert error is None
    assert result == cpi_protocol.parse_response(RECORDED["calls"][0]["stdout"])[0]


def test_stemcell_is_imported_as_a_tar_and_deleted(caller, tmp_path, monkeypatch):
    which = shutil.which
    stand_in = tmp_path / "busybox"
    stand_in.write_text("#!/bin/sh\n", encoding="utf-8")
    monkeypatch.setattr(cpi_protocol.shutil, "which", lambda name: which(name) or str(stand_in))
    _tarball, image = cpi_protocol.make_stemcell(str(tmp_path))
    stemcell, error = caller.call("create_stemcell", [image, {}])
    assert error is None
    imported = tmp_path / "stemcells" / stemcell
    assert imported.is_file()  # ExpandStemcellTarball false: gunzipped, a tar GrootFS imports
    _result, error = caller.call("delete_stemcell", [stemcell])
    assert error is None
    assert not imported.exists()


@pytest.mark.skipif(
    not os.access("/sbin/mkfs", os.X_OK), reason="no /sbin/mkfs here (the CPI runs mkfs -t ext4)"
)
def test_disk_is_created_and_deleted_without_a_vm(caller, tmp_path):
    disk, error = caller.call("create_disk", [16, {}, "no-such-vm"])
    assert error is None
    assert (tmp_path / "disks" / disk).stat().st_size == 16 << 20
    assert caller.call("has_disk", [disk]) == (True, None)
    assert caller.call("delete_disk", [disk]) == (None, None)
    assert caller.call("has_disk", [disk]) == (False, None)


def test_without_garden_has_vm_is_the_cpis_error_not_a_crash(caller):
    result, error = caller.call("has_vm", ["no-such-vm"])
    assert result is None
    assert error["type"] == "Bosh::Clouds::CloudError"
    assert caller.calls[0]["outcome"] == "failed"
