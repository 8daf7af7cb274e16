#!/usr/bin/env python3
"""Record the real Garden's protocol for the Garden client's golden transcripts.

Runs INSIDE a container of the runtime image built with Garden binaries (scripts/build-garden),
with Garden running (start-garden), where the image's python3 imports the nested_check package:

    docker cp tests/tools/record_garden.py CONTAINER:/tmp/ && \\
    docker exec CONTAINER python3 /tmp/record_garden.py /tmp/protocol.json

Records, with fixed handles, what the garden check itself does not exercise: a process with
stdin, stdout, stderr and a non-zero exit status; a missing executable; Garden's errors for a
missing container (run, destroy). `nested-check garden --handle-prefix nc --record FILE` records
the check's own steps. Both files go to tests/fixtures/garden/ (see its README for the commits).
"""

import json
import os
import sys
import tempfile

from nested_check import garden_client
from nested_check.garden_check import make_garden_rootfs


def main(output):
    recorder = garden_client.Recorder()
    garden = garden_client.Garden("tcp:127.0.0.1:7777", recorder=recorder)
    steps = []

    def step(name, call):
        try:
            outcome = call()
        except garden_client.GardenError as error:
            outcome = {"error": error.message, "status": error.status, "type": error.error_type}
        steps.append({"step": name, "outcome": outcome, "connections": list(recorder.connections)})
        recorder.connections.clear()
        return outcome

    work = tempfile.mkdtemp(prefix="record-garden-", dir="/var/vcap/data/tmp")
    os.chmod(work, 0o755)  # noqa: S103 (the unprivileged container's root must reach its rootfs)
    rootfs, _ = make_garden_rootfs(work)
    step("ping", lambda: garden.ping() or {})
    handle = step("create", lambda: garden.create({"handle": "nc-protocol", "rootfs": f"raw://{rootfs}"}))
    if not isinstance(handle, str):
        raise SystemExit(f"create failed: {handle}")
    script = 'read line; echo "got $line"; echo to-stderr >&2; exit 7'
    step(
        "run_stdin_stdout_stderr_exit_7",
        lambda: vars(
            garden.run(handle, {"path": "/bin/sh", "args": ["-c", script], "user": "root"}, stdin=b"hello\n")
        ),
    )
    step(
        "run_missing_executable",
        lambda: vars(garden.run(handle, {"path": "/bin/no-such-binary", "args": [], "user": "root"})),
    )
    step("destroy", lambda: garden.destroy(handle) or {})
    step("run_in_missing_container", lambda: vars(garden.run("nc-missing", {"path": "/bin/true"})))
    step("destroy_missing_container", lambda: garden.destroy("nc-missing") or {})
    with open(output, "w", encoding="utf-8") as out:
        json.dump(steps, out, indent=1, default=lambda raw: raw.decode("utf-8", "surrogateescape"))


if __name__ == "__main__":
    main(sys.argv[1])
