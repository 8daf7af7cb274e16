"""runtime-configs/registry-dnat.yml: the script it gives os-conf's pre-start-script job, run
for real with iptables in a network namespace the test makes (the VM stands in as that namespace)."""

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest import render

PROJECT = Path(__file__).resolve().parents[2]
RUNTIME_CONFIG = PROJECT / "runtime-configs" / "registry-dnat.yml"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("iptables") is None,
    reason="needs root, iproute2 and iptables (scripts/bootstrap installs them)",
)

VARIABLES = {
    "os_conf_version": "23.0.0",
    "deployment": "concourse",
    "instance_group": "concourse",
    "interface": "eth0",
    "port": 5000,
    "registry_port": 5080,
}


def run(*argv, check=True):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=check)


@pytest.fixture
def vm_namespace():
    """A namespace with an eth0 (one end of a veth pair), as on a BOSH VM."""
    name = f"nw-dnat-{uuid.uuid4().hex[:8]}"
    outside = f"nwd{uuid.uuid4().hex[:6]}"
    run("ip", "netns", "add", name)
    try:
        run("ip", "link", "add", outside, "type", "veth", "peer", "name", "eth0", "netns", name)
        yield name
    finally:
        run("ip", "link", "del", outside, check=False)
        run("ip", "netns", "del", name, check=False)


def pre_start_script():
    manifest = render(str(RUNTIME_CONFIG), variables=VARIABLES).manifest
    addon = manifest["addons"][0]
    assert addon["include"] == {"deployments": ["concourse"], "instance_groups": ["concourse"]}
    job = addon["jobs"][0]
    assert (job["name"], job["release"]) == ("pre-start-script", "os-conf")
    return job["properties"]["script"]


def test_runtime_config_renders_without_unresolved_variables():
    result = render(str(RUNTIME_CONFIG), variables=VARIABLES)
    assert result.unresolved == []
    assert "--to-destination 127.0.0.1:5080" in pre_start_script()


def test_pre_start_script_sets_route_localnet_and_one_dnat_rule_however_often_it_runs(vm_namespace, tmp_path):
    script = tmp_path / "pre-start"
    script.write_text(pre_start_script())
    script.chmod(0o755)
    for _ in range(2):  # a VM restarts; the rule must not pile up
        result = run("ip", "netns", "exec", vm_namespace, str(script), check=False)
        assert result.returncode == 0, result.stderr

    localnet = run("ip", "netns", "exec", vm_namespace, "sysctl", "-n", "net.ipv4.conf.eth0.route_localnet")
    assert localnet.stdout.strip() == "1"
    rules = run("ip", "netns", "exec", vm_namespace, "iptables", "-t", "nat", "-S", "PREROUTING").stdout
    dnat = [line for line in rules.splitlines() if "DNAT" in line]
    assert len(dnat) == 1
    assert "-i eth0" in dnat[0]
    assert "--dport 5000" in dnat[0]
    assert "--to-destination 127.0.0.1:5080" in dnat[0]
    assert "nested-warden registry_fix" in dnat[0]
