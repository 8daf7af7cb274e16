"""The collection nested.warden as another project gets it: built, installed, used by FQCN.

`ansible-galaxy collection build` packs the checkout (galaxy.yml's build_ignore keeps the
project's tests, caches and state out), `ansible-galaxy collection install --offline` puts the
tarball into a collections path holding only the dependencies galaxy.yml declares, and a
playbook in a directory outside this checkout, with only that path and no ansible.cfg of the
project, runs the installed modules: registry_check against a real distribution registry on
127.0.0.1 (through the action group registry in module_defaults) and bosh_deploy rendering a
manifest with a generated password; and runs an installed role (report) by its FQCN. Then the
whole flow from the installed collection (ansible-playbook nested.warden.site) in a project that
holds only a copy of inventory/lab, against the real container lab, which it removes afterwards.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
import yaml
from module_helpers import docker, engine_answers
from registry_fixtures import Registry, Skopeo, missing_tools, write_htpasswd

PROJECT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
GALAXY = yaml.safe_load((PROJECT / "galaxy.yml").read_text())
TARBALL_NAME = f"{GALAXY['namespace']}-{GALAXY['name']}-{GALAXY['version']}.tar.gz"
USER = "warden"
PASSWORD = "Collection-Pass-3e8b"
WRONG_PASSWORD = "Not-The-Pass-0c4d"
MANIFEST = """\
name: tiny
instance_groups: []
variables:
  - name: registry_password
    type: password
properties:
  registry: {password: ((registry_password))}
"""
# What another project needs from the collection, and what must never ship.
SHIPPED = [
    "MANIFEST.json",
    "FILES.json",
    "README.md",
    "LICENSE",
    "meta/runtime.yml",
    "plugins/modules/bosh_deploy.py",
    "plugins/modules/fly_pipeline.py",
    "plugins/modules/registry_check.py",
    "plugins/module_utils/cli_runner.py",
    "plugins/module_utils/registry_api.py",
    "plugins/module_utils/registry_client.py",
    "plugins/module_utils/registry_protocol.py",
    "plugins/module_utils/secrets.py",
    "plugins/doc_fragments/attributes.py",
    "plugins/filter/network.py",
    "roles/registry_fix/tasks/main.yml",
    "roles/registry_fix/meta/argument_specs.yml",
]
NEVER_SHIPPED = re.compile(
    r"^(tests|\.cache|\.state|\.venv|\.git|molecule|scripts|bench|reports)(/|$)|__pycache__|\.pyc$"
)


def clean_environment(**extra):
    """No ANSIBLE_* of the caller (run-tests sets ANSIBLE_CONFIG to the project's), no proxies."""
    proxies = {"http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_") and k not in proxies}
    env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", "")])
    env.update(extra)
    return env


def ansible(tool, *args, **kwargs):
    """Run ansible-TOOL of the project's venv; it must succeed."""
    argv = [str(VENV_BIN / f"ansible-{tool}"), *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False, **kwargs)
    assert done.returncode == 0, f"{argv}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    output = tmp_path_factory.mktemp("build")
    ansible(
        "galaxy",
        "collection",
        "build",
        "--output-path",
        str(output),
        str(PROJECT),
        cwd=output,
        env=clean_environment(),
    )
    return output / TARBALL_NAME


# What galaxy.yml's dependencies need, as scripts/bootstrap unpacked them from the ansible wheel
# (community.docker needs community.library_inventory_filtering_v1).
DEPENDENCIES = ["community/docker", "ansible/posix", "community/library_inventory_filtering_v1"]


@pytest.fixture(scope="module")
def collections_path(tarball, tmp_path_factory):
    """A collections path with only the declared dependencies, the built collection installed
    into it offline (so the dependencies resolve from the path itself)."""
    path = tmp_path_factory.mktemp("collections")
    unpacked = PROJECT / ".cache" / "collections" / "ansible_collections"
    if not all((unpacked / name / "MANIFEST.json").is_file() for name in DEPENDENCIES):
        pytest.skip("the dependencies are not unpacked: run scripts/bootstrap")
    for name in DEPENDENCIES:
        shutil.copytree(unpacked / name, path / "ansible_collections" / name)
    env = clean_environment(ANSIBLE_COLLECTIONS_PATH=str(path))
    ansible("galaxy", "collection", "install", "--offline", "-p", str(path), str(tarball), cwd=path, env=env)
    return path


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A real distribution registry with basic auth on 127.0.0.1, holding tiny:1.0."""
    if missing_tools():
        pytest.skip(f"missing tools: {missing_tools()}")
    directory = tmp_path_factory.mktemp("registry")
    htpasswd = write_htpasswd(directory / "htpasswd", {USER: PASSWORD})
    with Registry(directory / "registry", htpasswd=htpasswd) as started:
        skopeo = Skopeo(started, directory / "skopeo", USER, PASSWORD)
        skopeo.push("tiny", "1.0")
        yield started, skopeo


def test_the_tarball_holds_the_collection_and_none_of_the_project_state(tarball):
    with tarfile.open(tarball) as archive:
        names = [member.name.rstrip("/") for member in archive.getmembers()]
        manifest = json.load(archive.extractfile("MANIFEST.json"))
    assert [name for name in SHIPPED if name not in names] == []
    assert [name for name in names if NEVER_SHIPPED.search(name)] == []
    assert any(name.startswith("plugins/module_utils/bosh_manifest") for name in names)
    # The image context's binary directories ship empty (the Dockerfile copies them), never with
    # Garden or the CPI in them.
    for binaries in ("warden-cpi-containerd/garden-bin", "warden-cpi-containerd/cpi-bin"):
        assert binaries in names
        assert [name for name in names if name.startswith(binaries + "/")] == []
    info = manifest["collection_info"]
    assert (info["namespace"], info["name"], info["version"]) == ("nested", "warden", GALAXY["version"])


def test_the_collection_declares_its_dependencies_and_installs_offline_beside_them(collections_path):
    assert set(GALAXY["dependencies"]) == {"community.docker", "ansible.posix"}
    env = clean_environment(ANSIBLE_COLLECTIONS_PATH=str(collections_path))
    listed = ansible("galaxy", "collection", "list", "--format", "json", "-p", str(collections_path), env=env)
    in_path = json.loads(listed.stdout)[str(collections_path / "ansible_collections")]
    assert in_path["nested.warden"] == {"version": GALAXY["version"]}
    assert set(in_path) == {"nested.warden", *(name.replace("/", ".") for name in DEPENDENCIES)}
    installed = collections_path / "ansible_collections" / "nested" / "warden"
    assert (installed / "plugins" / "modules" / "registry_check.py").is_file()
    assert not installed.is_symlink()


def test_installed_modules_run_from_a_playbook_outside_the_project(collections_path, registry, tmp_path):
    started, skopeo = registry
    workdir = tmp_path / "another-project"
    workdir.mkdir()
    assert PROJECT not in workdir.parents
    (workdir / "manifest.yml").write_text(MANIFEST)
    results = workdir / "results.json"
    registry_defaults = {"url": started.url, "username": USER, "password": PASSWORD}
    play = {
        "hosts": "localhost",
        "gather_facts": False,
        "module_defaults": {"group/nested.warden.registry": registry_defaults},
        "tasks": [
            {
                "name": "Check the registry with the group's url and credentials",
                "nested.warden.registry_check": {"repository": "tiny", "tag": "1.0", "catalog": True},
                "register": "checked",
            },
            {
                "name": "A task's own password wins over the group's",
                "nested.warden.registry_check": {"password": WRONG_PASSWORD, "probe": True},
                "register": "rejected",
            },
            {
                "name": "Render a manifest with a generated password",
                "nested.warden.bosh_deploy": {
                    "state": "rendered",
                    "manifest": "{{ playbook_dir }}/manifest.yml",
                    "vars_store": "{{ playbook_dir }}/vars-store.yml",
                },
                "register": "rendered",
            },
            {
                "name": "Keep the results",
                "ansible.builtin.copy": {
                    "content": "{{ dict(checked=checked, rejected=rejected, rendered=rendered) | to_json }}",
                    "dest": str(results),
                    "mode": "0600",
                },
            },
        ],
    }
    (workdir / "site.yml").write_text(yaml.safe_dump([play], sort_keys=False))
    env = clean_environment(
        ANSIBLE_COLLECTIONS_PATH=str(collections_path), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false"
    )
    interpreter = f"ansible_python_interpreter={sys.executable}"
    ansible(
        "playbook", "-i", "localhost,", "-c", "local", "-e", interpreter, "site.yml", cwd=workdir, env=env
    )

    outcome = json.loads(results.read_text())
    checked = outcome["checked"]
    assert checked["url"] == started.url
    assert (checked["reachable"], checked["status"], checked["auth"]) == (True, 200, "basic")
    assert checked["catalog"] == ["tiny"]
    assert checked["tags"] == ["1.0"]
    assert checked["manifest"]["digest"] == skopeo.inspect("tiny", "1.0")["Digest"]
    assert checked["error"] is None

    rejected = outcome["rejected"]
    assert rejected["reachable"] is False
    assert rejected["error"]["kind"] == "unauthorized"

    rendered = outcome["rendered"]
    password = rendered["manifest"]["properties"]["registry"]["password"]
    assert rendered["generated_variables"] == ["registry_password"]
    assert re.fullmatch(r"[a-z0-9]{20}", password)
    assert yaml.safe_load((workdir / "vars-store.yml").read_text()) == {"registry_password": password}


def test_ansible_doc_reads_the_installed_module(collections_path, tmp_path):
    env = clean_environment(
        ANSIBLE_COLLECTIONS_PATH=str(collections_path), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false"
    )
    shown = ansible("doc", "--json", "nested.warden.registry_check", cwd=tmp_path, env=env)
    doc = json.loads(shown.stdout)["nested.warden.registry_check"]["doc"]
    assert Path(doc["filename"]).is_relative_to(collections_path)
    assert doc["attributes"]["check_mode"]["support"] == "full"
    assert "nested-warden developers (@nested-warden)" in doc["author"]


def test_an_installed_role_runs_from_a_playbook_outside_the_project(collections_path, tmp_path):
    """The report role, called by FQCN from the installed collection, writes its summary where
    the other project's playbook is (nothing of this checkout is read), showing the values."""
    workdir = tmp_path / "another-project"
    workdir.mkdir()
    digest = "sha256:" + "c" * 64
    results = {
        "registry_fix": {
            "status": "fixed",
            "reason": "fixed with the bind method",
            "evidence": ["the registry listens on 127.0.0.1:5000 only"],
            "outputs": {
                "endpoint": {"url": "https://10.0.0.5:5000", "authenticated": True, "username": "admin"},
                "method": "bind",
            },
        },
        "image_build": {
            "status": "passed",
            "outputs": {"image": "10.0.0.5:5000/warden:latest", "digest": digest},
        },
    }
    play = {
        "hosts": "localhost",
        "gather_facts": False,
        "vars": {"nested_warden_state_dir": "{{ playbook_dir }}/.state"},
        "tasks": [
            {
                "name": "Report",
                "ansible.builtin.include_role": {"name": "nested.warden.report"},
                "vars": {"report_results": results, "report_stages": ["registry_fix", "image_build"]},
            }
        ],
    }
    (workdir / "site.yml").write_text(yaml.safe_dump([play], sort_keys=False))
    env = clean_environment(
        ANSIBLE_COLLECTIONS_PATH=str(collections_path), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false"
    )
    interpreter = f"ansible_python_interpreter={sys.executable}"
    ansible(
        "playbook", "-i", "localhost,", "-c", "local", "-e", interpreter, "site.yml", cwd=workdir, env=env
    )
    summary = (workdir / "reports" / "summary.md").read_text()
    assert "- registry URL: https://10.0.0.5:5000" in summary
    assert "- method: bind" in summary
    assert f"- digest: {digest}" in summary
    assert "the registry listens on 127.0.0.1:5000 only" in summary
    assert json.loads((workdir / "reports" / "summary.json").read_text())["overall"] == "passed"


# -- the whole flow from the installed collection ------------------------------------------------
# The container lab as inventory/lab describes it (its network, its label, the images
# scripts/bootstrap builds), and the stages site.yml runs, in order.
LAB_NETWORK = "nested-warden-lab"
LAB_LABEL = f"nested-warden.lab={LAB_NETWORK}"
LAB_IMAGES = ["nested-warden/lab-host:bookworm", "nested-warden/debian-base:bookworm"]
STAGES = ["lab", "concourse", "registry_fix", "image_build", "pipeline", "nested_test"]
# Another project's own ansible.cfg: its inventory, the collections path it installed into, and
# nothing of this checkout (no roles_path: the roles come from the collection).
PROJECT_CFG = """\
[defaults]
inventory = inventory/lab
collections_path = {collections_path}
collections_scan_sys_path = false
interpreter_python = auto_silent
retry_files_enabled = false
forks = 10

[connection]
pipelining = true
"""
# What playbooks/lab-down.yml does, from the installed collection (a collection playbook's name
# must be an identifier, so lab-down cannot be run as nested.warden.lab-down).
LAB_DOWN = [
    {
        "name": "Remove the lab",
        "hosts": "docker_host",
        "gather_facts": False,
        "roles": [{"role": "nested.warden.lab", "vars": {"lab_state": "absent"}}],
    }
]


def lab_objects():
    """The containers, volumes and networks labelled as the lab's."""
    found = []
    for kind, extra in (("container", ["-a"]), ("volume", []), ("network", [])):
        listed = docker(kind, "ls", *extra, "-q", "--filter", f"label={LAB_LABEL}")
        found += [f"{kind} {name}" for name in listed.stdout.split()]
    return found


def checkout_paths(text):
    """Paths into this checkout named in text (its venv aside: the test runs Ansible from it)."""
    return sorted(set(re.findall(re.escape(str(PROJECT)) + r"/(?!\.venv/)[^\s'\",]*", text)))


@pytest.fixture
def lab_project(collections_path, tmp_path):
    """A project outside this checkout with a copy of inventory/lab and its own ansible.cfg; the lab
    it brings up is removed afterwards, whatever the test's outcome."""
    if not engine_answers():
        pytest.skip("no Docker engine answers (make test starts one)")
    missing = [image for image in LAB_IMAGES if docker("image", "inspect", image, check=False).returncode]
    if missing:
        pytest.skip(f"the lab images are not built: {missing} (run scripts/bootstrap images)")
    if lab_objects():
        pytest.skip(
            f"a lab is up ({', '.join(lab_objects())}): this test brings up its own and removes it; "
            "run make lab-down first"
        )
    project = tmp_path / "another-project"
    shutil.copytree(PROJECT / "inventory" / "lab", project / "inventory" / "lab", symlinks=True)
    (project / "ansible.cfg").write_text(PROJECT_CFG.format(collections_path=collections_path))
    (project / "lab-down.yml").write_text(yaml.safe_dump(LAB_DOWN, sort_keys=False))
    env = clean_environment()  # no ANSIBLE_CONFIG: the project's ansible.cfg in its directory
    assert PROJECT not in project.parents
    try:
        yield project, env
    finally:
        subprocess.run(
            [str(VENV_BIN / "ansible-playbook"), "lab-down.yml"],
            cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert lab_objects() == []


def test_the_installed_collection_runs_the_whole_flow_from_another_project(lab_project, collections_path):
    """ansible-playbook nested.warden.site in a project holding only a copy of inventory/lab: every
    stage's role runs from the installed collection on the container lab (the seed's loopback
    registry reproduced and fixed, the image built, pushed and tested nested); the state and the
    report are the project's, and the shipped files are the installed collection's."""
    project, env = lab_project
    installed = collections_path / "ansible_collections" / "nested" / "warden"
    started = time.monotonic()
    done = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "nested.warden.site"],
        cwd=project, env=env, capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    seconds = time.monotonic() - started
    report = project / "reports" / "summary.json"
    failed = [
        (stage["stage"], stage.get("reason"))
        for stage in (json.loads(report.read_text())["stages"] if report.is_file() else [])
        if stage["status"] == "failed"
    ]
    assert done.returncode == 0, (
        f"after {seconds:.0f} s, failed: {failed}\n{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
    )

    summary = json.loads(report.read_text())
    stages = {stage["stage"]: stage for stage in summary["stages"]}
    assert summary["overall"] == "passed", summary
    assert [stage for stage in STAGES if stage not in stages] == []
    assert {name: stages[name]["status"] for name in STAGES} == {
        "lab": "passed",
        "concourse": "passed",
        "registry_fix": "fixed",  # the seed's ops file: the registry on 127.0.0.1:5000 only
        "image_build": "passed",
        "pipeline": "skipped",  # the container lab runs no Concourse
        "nested_test": "passed",
    }
    assert "Concourse" in stages["pipeline"]["reason"]
    assert [cause["cause"] for cause in summary["root_causes"] if "127.0.0.1:5000 only" in cause["cause"]]

    results = project / ".state" / "lab" / "results"
    recorded = {stage: json.loads((results / f"{stage}.json").read_text()) for stage in STAGES}
    endpoint = recorded["registry_fix"]["outputs"]["endpoint"]
    assert (endpoint["url"], endpoint["authenticated"]) == ("https://172.30.77.10:5000", True)
    image = recorded["image_build"]["outputs"]
    assert image["image"] == "172.30.77.10:5000/warden-cpi-containerd:latest"
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", image["digest"])
    assert stages["image_build"]["outputs"]["digest"] == image["digest"]
    assert recorded["nested_test"]["outputs"]["checks"]["registry_run"]["passed"]
    summary_md = (project / "reports" / "summary.md").read_text()
    assert "- registry URL: https://172.30.77.10:5000" in summary_md
    assert f"- digest: {image['digest']}" in summary_md

    # The shipped files came from the installed collection, the state went to the project, and
    # nothing names this checkout.
    assert f"included: {installed}/playbooks/tasks/stage.yml" in done.stdout
    ops_files = yaml.safe_load((project / ".state" / "lab" / "concourse-ops-files.yml").read_text())
    assert ops_files == {"ops_files": ["ops-files/docker-registry.yml"]}  # relative to the collection
    assert all((installed / path).is_file() for path in recorded["concourse"]["outputs"]["ops_files"])
    written = [done.stdout, summary_md, json.dumps(summary), *map(json.dumps, recorded.values())]
    assert checkout_paths("\n".join(written)) == []
    print(f"the whole flow from the installed collection: {seconds:.1f} s")
