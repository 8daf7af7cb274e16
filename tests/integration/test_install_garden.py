"""install-garden.rb and its template renderer, run by the real Ruby against a garden release
tarball built here (jobs/garden.tgz with job.MF and ERB templates, compiled_packages/*.tgz)."""

import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[2]
IMAGE_DIR = PROJECT / "warden-cpi-containerd"

pytestmark = pytest.mark.skipif(shutil.which("ruby") is None, reason="ruby is installed by scripts/bootstrap")

JOB_SPEC = {
    "name": "garden",
    "packages": ["guardian", "runc", "containerd"],
    "templates": {
        "config/config.ini.erb": "config/config.ini",
        "bin/garden_start.erb": "bin/garden_start",
    },
    "properties": {
        "garden.containerd_mode": {"default": True},
        "garden.runtime_plugin": {"default": "/var/vcap/packages/runc/bin/runc"},
        "garden.image_plugin": {},
        "garden.no_image_plugin": {"default": False},
        "garden.listen_network": {"default": "unix"},
        "garden.listen_address": {"default": "/var/vcap/data/garden/garden.sock"},
        "garden.allow_host_access": {"default": False},
        "garden.debug_listen_address": {},
        "garden.default_container_grace_time": {"default": 0},
        "garden.destroy_containers_on_start": {"default": False},
        "garden.graph_cleanup_threshold_in_mb": {"default": -1},
        "garden.apparmor_profile": {"default": "garden-default"},
    },
}

# Shaped like the release's config.ini.erb: p() with and without defaults, if_p with else.
CONFIG_INI = """[server]
<% if p("garden.listen_network") == "tcp" -%>
  bind-ip = <%= p("garden.listen_address").split(":")[0] %>
  bind-port = <%= p("garden.listen_address").split(":")[1] %>
<% else -%>
  bind-socket = <%= p("garden.listen_address") %>
<% end -%>
<% if_p("garden.debug_listen_address") do |address| -%>
  debug-bind-ip = <%= address.split(":")[0] %>
<% end.else do -%>
  debug-disabled = true
<% end -%>
  allow-host-access = <%= p("garden.allow_host_access") %>
  destroy-containers-on-startup = <%= p("garden.destroy_containers_on_start") %>
<% if p("garden.no_image_plugin") -%>
  no-image-plugin = true
<% else -%>
  image-plugin = <%= p("garden.image_plugin", "/var/vcap/packages/grootfs/bin/grootfs") %>
<% end -%>
  runtime-plugin=<%= p("garden.runtime_plugin") %>
<% if p("garden.containerd_mode") -%>
  containerd-socket = /var/vcap/sys/run/containerd/containerd.sock
<% end -%>
"""

GARDEN_START = """#!/bin/bash
<% if p("garden.image_plugin", "") == "" -%>
/var/vcap/jobs/garden/bin/overlay-xfs-setup
<% end -%>
exec gdn --config /var/vcap/jobs/garden/config/config.ini server
"""


def add_file(archive, name, data, mode=0o644):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    archive.addfile(info, io.BytesIO(data))


def tgz_bytes(files):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            add_file(archive, name, data, 0o755 if name.startswith("bin/") else 0o644)
    return buffer.getvalue()


@pytest.fixture
def garden_release(tmp_path):
    job = tgz_bytes(
        {
            "job.MF": yaml.safe_dump(JOB_SPEC).encode(),
            "templates/config/config.ini.erb": CONFIG_INI.encode(),
            "templates/bin/garden_start.erb": GARDEN_START.encode(),
        }
    )
    release_files = {
        "release.MF": b"name: garden-runc\nversion: 0.0.0-test\n",
        "jobs/garden.tgz": job,
    }
    for package in JOB_SPEC["packages"]:
        release_files[f"compiled_packages/{package}.tgz"] = tgz_bytes({f"bin/{package}": b"#!/bin/sh\n"})
    path = tmp_path / "garden-runc-compiled.tgz"
    path.write_bytes(tgz_bytes(release_files))
    return path


def install(release, properties, vcap_root):
    return subprocess.run(
        ["ruby", str(IMAGE_DIR / "install-garden.rb"), str(release), str(properties)],
        capture_output=True,
        text=True,
        env={"VCAP_ROOT": str(vcap_root), "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )


def test_project_properties_render_containerd_mode_with_the_runc_runtime(garden_release, tmp_path):
    vcap = tmp_path / "vcap"
    result = install(garden_release, IMAGE_DIR / "garden-properties.yml", vcap)
    assert result.returncode == 0, result.stderr

    config = (vcap / "jobs/garden/config/config.ini").read_text()
    assert "containerd-socket = /var/vcap/sys/run/containerd/containerd.sock" in config
    assert "runtime-plugin=/var/vcap/packages/runc/bin/runc" in config
    assert "bind-ip = 127.0.0.1" in config
    assert "bind-port = 7777" in config
    assert "debug-bind-ip = 127.0.0.1" in config
    assert "allow-host-access = true" in config
    assert "image-plugin = /var/vcap/packages/grootfs/bin/grootfs" in config

    summary = json.loads(result.stdout)
    assert summary["containerd_mode"] is True
    assert summary["runtime_plugin"] == "/var/vcap/packages/runc/bin/runc"
    assert summary["listen"] == "tcp:127.0.0.1:7777"


def test_compiled_packages_and_executable_scripts_are_installed(garden_release, tmp_path):
    vcap = tmp_path / "vcap"
    assert install(garden_release, IMAGE_DIR / "garden-properties.yml", vcap).returncode == 0
    for package in JOB_SPEC["packages"]:
        assert (vcap / "packages" / package / "bin" / package).is_file()
    start = vcap / "jobs/garden/bin/garden_start"
    assert start.stat().st_mode & 0o111
    # The image plugin stays GrootFS, so the release's XFS setup still runs at start.
    assert "overlay-xfs-setup" in start.read_text()


def test_seed_runtime_plugin_is_refused_with_the_reason(garden_release, tmp_path):
    vcap = tmp_path / "vcap"
    result = install(garden_release, IMAGE_DIR / "seed-garden-properties.yml", vcap)
    assert result.returncode == 1
    assert "garden.runtime_plugin=/usr/bin/containerd is not a runc-compatible runtime" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (vcap / "jobs").exists(), "nothing may be half-installed"


def test_seed_settings_render_the_broken_config_when_not_checked(garden_release, tmp_path):
    # What the seed's image got: the renderer alone writes containerd as Garden's runtime.
    script = (
        "require_relative ARGV[0]; require 'yaml';"
        "ctx = TemplateContext.new(YAML.safe_load(ARGV[1]), YAML.safe_load(File.read(ARGV[2])));"
        "print ctx.render(File.read(ARGV[3]), 'config.ini.erb')"
    )
    template = tmp_path / "config.ini.erb"
    template.write_text(CONFIG_INI)
    defaults = {name: spec.get("default") for name, spec in JOB_SPEC["properties"].items()}
    result = subprocess.run(
        [
            "ruby",
            "-e",
            script,
            str(IMAGE_DIR / "template-renderer.rb"),
            yaml.safe_dump(defaults),
            str(IMAGE_DIR / "seed-garden-properties.yml"),
            str(template),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "runtime-plugin=/usr/bin/containerd" in result.stdout


def test_containerd_mode_off_is_refused(garden_release, tmp_path):
    properties = tmp_path / "off.yml"
    properties.write_text("garden:\n  containerd_mode: false\n")
    result = install(garden_release, properties, tmp_path / "vcap")
    assert result.returncode == 1
    assert "garden.containerd_mode is false" in result.stderr


def test_undeclared_property_names_the_nearest_declared_ones(garden_release, tmp_path):
    properties = tmp_path / "typo.yml"
    properties.write_text("garden:\n  containerd_mod: true\n")
    result = install(garden_release, properties, tmp_path / "vcap")
    assert result.returncode == 1
    assert "property garden.containerd_mod is not declared by the garden job" in result.stderr
    assert "garden.containerd_mode" in result.stderr


def test_a_source_release_without_compiled_packages_is_refused(tmp_path):
    job = tgz_bytes(
        {
            "job.MF": yaml.safe_dump(JOB_SPEC).encode(),
            "templates/config/config.ini.erb": CONFIG_INI.encode(),
            "templates/bin/garden_start.erb": GARDEN_START.encode(),
        }
    )
    release = tmp_path / "garden-runc-source.tgz"
    release.write_bytes(tgz_bytes({"release.MF": b"name: garden-runc\n", "jobs/garden.tgz": job}))
    result = install(release, IMAGE_DIR / "garden-properties.yml", tmp_path / "vcap")
    assert result.returncode == 1
    assert "has no compiled_packages/guardian.tgz: use a compiled release" in result.stderr


def test_template_errors_name_the_template_and_the_property(garden_release, tmp_path):
    broken = tmp_path / "broken.erb"
    broken.write_text('<%= p("garden.no_such_property") %>\n')
    script = (
        "require_relative ARGV[0];"
        "begin; TemplateContext.new({}, {}).render(File.read(ARGV[1]), 'broken.erb');"
        "rescue => e; print e.message; end"
    )
    result = subprocess.run(
        ["ruby", "-e", script, str(IMAGE_DIR / "template-renderer.rb"), str(broken)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Error filling in template 'broken.erb'" in result.stdout
    assert "Can't find property 'garden.no_such_property'" in result.stdout
