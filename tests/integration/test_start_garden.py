"""start-garden run for real: the garden job installed by install-garden.rb from a release tarball
built here (a job spec and templates shaped like garden-runc's: garden_ctl, garden_start,
containerd_utils with its `pidof containerd` check, envs), started in its own PID namespace
(`unshare --pid`, so the host's containerd is not seen) under a scratch VCAP_ROOT.

gdn cannot be installed here; the job's "gdn" is the Garden double (tests/doubles/garden)
serving the ping recorded from the real gdn, or a process that fails or never answers."""

import json
import os
import shutil
import socket
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml
from test_install_garden import IMAGE_DIR, PROJECT, tgz_bytes

GARDEN_DOUBLE = PROJECT / "tests/doubles/garden"
PING_TRANSCRIPT = PROJECT / "tests/fixtures/garden/garden-check.json"

pytestmark = [
    pytest.mark.skipif(shutil.which("ruby") is None, reason="ruby is installed by scripts/bootstrap"),
    pytest.mark.skipif(os.geteuid() != 0, reason="unshare --pid needs root"),
    pytest.mark.needs_root,
]

JOB_SPEC = {
    "name": "garden",
    "packages": ["guardian"],
    "templates": {
        "bin/envs.erb": "bin/envs",
        "bin/garden_ctl": "bin/garden_ctl",
        "bin/garden_start.erb": "bin/garden_start",
        "bin/garden_stop.erb": "bin/garden_stop",
        "bin/containerd_utils.erb": "bin/containerd_utils",
        "bin/pre-start": "bin/pre-start",
        "config/config.ini.erb": "config/config.ini",
    },
    "properties": {
        "garden.containerd_mode": {"default": True},
        "garden.runtime_plugin": {"default": "/var/vcap/packages/runc/bin/runc"},
        "garden.listen_network": {"default": "unix"},
        "garden.listen_address": {"default": "/var/vcap/data/garden/garden.sock"},
        "garden.debug_listen_address": {},
        "garden.allow_host_access": {"default": False},
        "garden.default_container_grace_time": {"default": 0},
        "garden.destroy_containers_on_start": {"default": False},
        "garden.graph_cleanup_threshold_in_mb": {"default": -1},
        "garden.apparmor_profile": {"default": "garden-default"},
        "garden.image_plugin": {},
        "garden.no_image_plugin": {"default": False},
    },
}

# Shaped like the release's: paths under $VCAP_ROOT so the test needs no /var/vcap.
TEMPLATES = {
    "bin/envs.erb": """#!/usr/bin/env bash
export VCAP=${VCAP_ROOT:-/var/vcap}
export LOG_DIR=$VCAP/sys/log/garden RUN_DIR=$VCAP/sys/run/garden
export PIDFILE=$RUN_DIR/garden.pid
export GARDEN_CONFIG_PATH=$VCAP/jobs/garden/config/config.ini
""",
    "bin/garden_ctl": """#!/bin/bash
set -e
source "${VCAP_ROOT:-/var/vcap}/jobs/garden/bin/envs"
exec 1>> "${LOG_DIR}/garden_ctl.stdout.log"
exec 2>> "${LOG_DIR}/garden_ctl.stderr.log"
case $1 in
  start) exec "$VCAP/jobs/garden/bin/garden_start" ;;
  stop) exec "$VCAP/jobs/garden/bin/garden_stop" ;;
esac
""",
    "bin/garden_start.erb": """#!/usr/bin/env bash
set -e
source "${VCAP_ROOT:-/var/vcap}/jobs/garden/bin/envs"
echo "garden_start: preparing system"
# As greenskeeper's system-preparation writes kernel settings (the test gives the value).
if [ -n "${TEST_DMESG_RESTRICT:-}" ]; then
  echo "$TEST_DMESG_RESTRICT" > /proc/sys/kernel/dmesg_restrict
  cat /proc/sys/kernel/dmesg_restrict > "$RUN_DIR/dmesg_restrict.seen"
fi
<% if p("garden.containerd_mode") -%>
source "$VCAP/jobs/garden/bin/containerd_utils"
start_containerd
<% end -%>
echo $$ > "$PIDFILE"
exec "$VCAP/packages/guardian/bin/gdn" --config "$GARDEN_CONFIG_PATH" server
""",
    "bin/garden_stop.erb": """#!/usr/bin/env bash
source "${VCAP_ROOT:-/var/vcap}/jobs/garden/bin/envs"
kill -TERM "$(cat "$PIDFILE")" && rm -f "$PIDFILE"
""",
    # The release's check: any containerd running means Garden's own is not started.
    "bin/containerd_utils.erb": """#!/usr/bin/env bash
start_containerd() {
  if pidof containerd; then
    echo "containerd already running"
    return
  fi
  echo "would start Garden's containerd"
}
""",
    "bin/pre-start": """#!/bin/bash
source "${VCAP_ROOT:-/var/vcap}/jobs/garden/bin/envs"
echo "pre-start ran" > "$RUN_DIR/pre-start.ran"
""",
    "config/config.ini.erb": """[server]
<% if p("garden.listen_network") == "tcp" -%>
  bind-ip = <%= p("garden.listen_address").split(":")[0] %>
  bind-port = <%= p("garden.listen_address").split(":")[1] %>
<% end -%>
<% unless p("garden.apparmor_profile").empty? -%>
  apparmor = <%= p("garden.apparmor_profile") %>
<% end -%>
""",
}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def release_with_gdn(tmp_path, gdn_script):
    job = tgz_bytes(
        {"job.MF": yaml.safe_dump(JOB_SPEC).encode()}
        | {f"templates/{name}": text.encode() for name, text in TEMPLATES.items()}
    )
    release = tmp_path / "garden-runc-compiled.tgz"
    release.write_bytes(
        tgz_bytes(
            {
                "release.MF": b"name: garden-runc\nversion: 0.0.0-test\n",
                "jobs/garden.tgz": job,
                "compiled_packages/guardian.tgz": tgz_bytes({"bin/gdn": gdn_script.encode()}),
            }
        )
    )
    return release


def installed_job(tmp_path, gdn_script, port):
    vcap = tmp_path / "vcap"
    properties = yaml.safe_load((IMAGE_DIR / "garden-properties.yml").read_text())
    properties["garden"]["listen_address"] = f"127.0.0.1:{port}"
    properties_file = tmp_path / "properties.yml"
    properties_file.write_text(yaml.safe_dump(properties))
    result = subprocess.run(
        [
            "ruby",
            str(IMAGE_DIR / "install-garden.rb"),
            str(release_with_gdn(tmp_path, gdn_script)),
            str(properties_file),
        ],
        capture_output=True,
        text=True,
        env={"VCAP_ROOT": str(vcap), "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return vcap


def in_own_pid_namespace(script, vcap, timeout=60):
    """bash -c SCRIPT in a new PID and mount namespace: pidof sees only what the test starts."""
    env = {
        "VCAP_ROOT": str(vcap),
        "PATH": f"{IMAGE_DIR}:/usr/sbin:/usr/bin:/sbin:/bin",
        "GARDEN_HOST_KERNEL_WRITES": "apply",  # nothing is written: the job here writes no settings
        "GARDEN_PREFLIGHT": "skip",  # preflight mounts XFS on loop devices: the real one runs in the image
    }
    return subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", "bash", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def double_gdn(port):
    return textwrap.dedent(f"""\
        #!/bin/bash
        echo "gdn double serving the recorded ping"
        exec python3 {GARDEN_DOUBLE} --listen tcp:127.0.0.1:{port} --transcript {PING_TRANSCRIPT}
        """)


def test_start_garden_waits_for_ping_and_stop_leaves_nothing_running(tmp_path):
    port = free_port()
    vcap = installed_job(tmp_path, double_gdn(port), port)
    result = in_own_pid_namespace(
        f"start-garden --timeout 20 && pgrep -fa garden >{tmp_path}/running;"
        f" start-garden --stop; pgrep -fa 'doubles/[g]arden' >{tmp_path}/after; true",
        vcap,
    )
    assert "Garden answers /ping (job layout" in result.stderr, result.stderr
    assert "doubles/garden" in (tmp_path / "running").read_text()
    assert (tmp_path / "after").read_text() == "", "the stopped Garden is still running"
    # The agent's directories exist before the job starts, and the job's pre-start ran.
    for directory in ("sys/log/garden", "sys/run/garden", "data/garden", "data/tmp"):
        assert (vcap / directory).is_dir(), directory
    assert (vcap / "sys/run/garden/pre-start.ran").is_file()
    ping = json.loads((vcap / "sys/run/garden/ping.json").read_text())
    assert ping["passed"] is True


def test_start_garden_fails_with_the_log_tail_when_garden_exits(tmp_path):
    port = free_port()
    gdn = "#!/bin/bash\necho 'gdn: failed to set up the store: quota support not available' >&2\nexit 1\n"
    vcap = installed_job(tmp_path, gdn, port)
    result = in_own_pid_namespace("start-garden --timeout 30", vcap)
    assert result.returncode == 1
    assert "Garden did not answer /ping" in result.stderr
    assert "exited before answering" in result.stderr
    assert "quota support not available" in result.stderr, "the log tail must be shown"


def test_start_garden_gives_up_after_the_timeout_and_stops_what_it_started(tmp_path):
    port = free_port()
    vcap = installed_job(tmp_path, "#!/bin/bash\nexec sleep 300\n", port)
    result = in_own_pid_namespace(
        f"start-garden --timeout 2; echo rc=$?; pgrep -fa 'sleep [3]00' >{tmp_path}/left; true", vcap
    )
    assert "rc=1" in result.stdout
    assert "within 2" in result.stderr
    assert (tmp_path / "left").read_text() == "", "a Garden that never answered is left running"


def test_start_garden_refuses_while_another_containerd_runs(tmp_path):
    port = free_port()
    vcap = installed_job(tmp_path, double_gdn(port), port)
    fake = tmp_path / "bin" / "containerd"
    fake.parent.mkdir()
    shutil.copy("/bin/sleep", fake)
    result = in_own_pid_namespace(
        f"{fake} 300 & sleep 0.2; start-garden --timeout 10; echo rc=$?; kill %1", vcap
    )
    assert "rc=1" in result.stdout
    assert "containerd (pid" in result.stderr
    assert "is already running" in result.stderr
    assert not (vcap / "sys/run/garden/garden.pid").exists(), "Garden must not be started"


def test_start_garden_without_garden_says_how_to_get_it(tmp_path):
    result = in_own_pid_namespace("start-garden", tmp_path / "empty")
    assert result.returncode == 1
    assert "no Garden in this image" in result.stderr
    assert "scripts/build-garden" in result.stderr


def test_apparmor_profile_is_off_in_the_image_properties():
    properties = yaml.safe_load((IMAGE_DIR / "garden-properties.yml").read_text())
    assert properties["garden"]["apparmor_profile"] == ""


def test_host_kernel_writes_are_shielded_by_default(tmp_path):
    """shield: the job's writes land in private copies while it starts; the host's values stay,
    and nothing stays mounted over /proc or /sys once Garden answers."""
    port = free_port()
    vcap = installed_job(tmp_path, double_gdn(port), port)
    setting = Path("/proc/sys/kernel/dmesg_restrict")
    before = setting.read_text()
    flipped = "0" if before.strip() == "1" else "1"
    script = (
        f"export GARDEN_HOST_KERNEL_WRITES=shield TEST_DMESG_RESTRICT={flipped};"
        f" start-garden --timeout 20 || exit 1; grep -c ' /proc/sys/kernel/' /proc/self/mountinfo"
        f" > {tmp_path}/mounted; start-garden --stop"
    )
    try:
        result = in_own_pid_namespace(script, vcap)
        assert result.returncode == 0, result.stderr
        assert (vcap / "sys/run/garden/dmesg_restrict.seen").read_text().strip() == flipped
        assert setting.read_text() == before, "the job's write reached the host"
        assert (tmp_path / "mounted").read_text().strip() == "0"
    finally:
        if setting.read_text() != before:
            setting.write_text(before)


def test_the_installed_job_loads_no_apparmor_profile(tmp_path):
    vcap = installed_job(tmp_path, "#!/bin/sh\n", free_port())
    config = (vcap / "jobs/garden/config/config.ini").read_text()
    assert "apparmor" not in config
    assert "bind-ip = 127.0.0.1" in config
