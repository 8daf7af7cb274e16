#!/usr/bin/env python3
"""Record the real warden CPI's answers for the CPI protocol tests' fixtures.

Runs INSIDE a container of the runtime image built with Garden and the CPI (cpi-bin/), after
`nested-check writable-mounts`, where the image's python3 imports the nested_check package:

    docker cp tests/tools/record_warden_cpi.py CONTAINER:/tmp/ && \\
    docker exec CONTAINER python3 /tmp/record_warden_cpi.py > tests/fixtures/warden_cpi/NAME.json

Starts Garden (start-garden), then makes the calls a host allows: info, create_stemcell,
create_vm (refused where the host has no CAP_SYS_RESOURCE: the caps mode here), has_vm and
delete_vm of a VM that does not exist, create_disk, delete_disk, delete_stemcell; stops Garden
and removes what the CPI left. Every call keeps the CPI's stdout (masked) as it answered.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from nested_check.cpi_protocol import (
    CpiCaller,
    cpi_config,
    cpi_installed,
    director_env,
    director_networks,
    make_stemcell,
    vm_cid_of,
)
from nested_check.garden_check import garden_installed
from nested_check.warden_cpi import remove_bind_mounts


def main():
    binary, cpi_sources = cpi_installed()
    _layout, garden_sources = garden_installed()
    if binary is None:
        sys.exit(cpi_sources)
    os.makedirs("/var/vcap/data/tmp", exist_ok=True)
    work = tempfile.mkdtemp(prefix="record-cpi-", dir="/var/vcap/data/tmp")
    config = os.path.join(work, "cpi.json")
    with open(config, "w", encoding="utf-8") as out:
        json.dump(cpi_config(work, False), out)
    started = subprocess.run(
        ["start-garden", "--timeout", "120"], capture_output=True, text=True, check=False
    )
    caller = CpiCaller(binary, config, timeout=120, keep_stdout=True)
    try:
        _tarball, image = make_stemcell(work)
        caller.call("info")
        stemcell, _error = caller.call("create_stemcell", [image, {}])
        result, _error = caller.call(
            "create_vm", ["nested-check-agent", stemcell, {}, director_networks(), [], director_env()]
        )
        missing_vm = vm_cid_of(result) if result else "00000000-0000-4000-8000-000000000000"
        caller.call("has_vm", [missing_vm], label="has_vm (no such VM)")
        disk, _error = caller.call("create_disk", [64, {}, missing_vm])
        caller.call("has_disk", [disk])
        caller.call("delete_disk", [disk])
        caller.call("has_disk", [disk], label="has_disk (deleted)")
        caller.call("delete_vm", [missing_vm], label="delete_vm (no such VM)")
        caller.call("delete_stemcell", [stemcell])
        caller.call("no_such_method", [], label="an unknown method")
    finally:
        removed = remove_bind_mounts(work)
        subprocess.run(["start-garden", "--stop"], capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)
    for call in caller.calls:  # paths and ids of this recording are not what the tests compare
        call.pop("seconds", None)
    json.dump(
        {
            "cpi": cpi_sources,
            "garden": garden_sources,
            "host": f"{socket.gethostname()}: the container lab's caps mode (no CAP_SYS_RESOURCE)",
            "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "garden_start_exit": started.returncode,
            "cpi_left_behind": removed,
            "calls": caller.calls,
        },
        sys.stdout,
        indent=1,
    )
    print()


if __name__ == "__main__":
    main()
