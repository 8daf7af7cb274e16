"""Each module runs through Ansible on every Python it declares (3.8 and later) that exists here.

The modules say `Python 3.8 or later` in their DOCUMENTATION and tests/config.yml says
`python_requires: ">=3.8"` for ansible-test. Here each one runs for real through
ansible-playbook with `ansible_python_interpreter` set to each Python 3.8+ found (pyenv's and
the system's), and its result is checked:

- registry_check (standard library only) reports a socket this test listens on;
- bosh_deploy renders a manifest with a password it generates into a new vars store;
- fly_pipeline logs in through the token endpoint and sets a pipeline, against tests/doubles/fly;
- throwaway_container runs a command in a throwaway container of the real Docker engine, and
  docker_lab (state absent, for a label nothing carries) lists what it would remove;
- lab_jobs installs a job's directory and file and starts it (as the current user).

bosh_deploy and fly_pipeline need PyYAML: they run in a small venv per Python with PyYAML from
PyPI (cached under .cache/python-versions/), and on the bare interpreter, where PyYAML is
missing, they must fail with Ansible's missing_required_lib message, not a traceback.
"""

import getpass
import grp
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[2]
COLLECTIONS = PROJECT / ".cache" / "collections"
VENVS = PROJECT / ".cache" / "python-versions"
VENV_BIN = Path(sys.executable).parent
FLY_DOUBLE = PROJECT / "tests" / "doubles" / "fly"
# Every Python ansible-core 2.19 runs modules on.
TARGET_VERSIONS = ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14"]
PYYAML = "PyYAML>=5.1"
FLY_PASSWORD = "concourse-Secret-7d2a"
PIPELINE_CONFIG = """\
jobs:
  - name: hello
    plan:
      - task: say-hello
        config:
          platform: linux
          rootfs_uri: raw:///rootfs
          run: {path: echo, args: [hello]}
"""
MANIFEST = """\
name: tiny
instance_groups: []
variables:
  - name: admin_password
    type: password
properties:
  admin_password: ((admin_password))
"""


def find_pythons():
    """{version: interpreter} for each target version found in pyenv or on PATH."""
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    found = {}
    for version in TARGET_VERSIONS:
        candidates = sorted(pyenv.glob(f"versions/{version}.*/bin/python{version}"), reverse=True)
        on_path = shutil.which(f"python{version}", path="/usr/local/bin:/usr/bin:/bin")
        candidates += [Path(on_path)] if on_path else []
        if candidates:
            found[version] = candidates[0]
    return found


PYTHONS = find_pythons()
DOCKER_IMAGE = "nested-warden/debian-base:bookworm"  # built by scripts/bootstrap
pytestmark = pytest.mark.skipif(not PYTHONS, reason="no Python 3.8 or later found besides the project's")


def has_pyyaml(python):
    return (
        subprocess.run([str(python), "-c", "import yaml"], capture_output=True, check=False).returncode == 0
    )


def pyyaml_venv(version, python):
    """A venv of `python` with PyYAML, made once and kept under .cache/python-versions/."""
    venv = VENVS / version
    marker = venv / ".pyyaml-installed"
    if not marker.exists():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([str(python), "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
        installed = subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                PYYAML,
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if installed.returncode != 0:
            pytest.skip(
                f"cannot install {PYYAML} into a Python {version} venv from PyPI: {installed.stderr[-500:]}"
            )
        marker.touch()
    return venv / "bin" / "python"


class Listener:
    """A TCP socket listening on 127.0.0.1 for registry_check to find."""

    def __enter__(self):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen()
        self.port = self.socket.getsockname()[1]
        return self

    def __exit__(self, *exc):
        self.socket.close()


def run_play(tmp_path, tasks, environment):
    """Run the tasks on localhost; returns {task name: registered result}."""
    results = tmp_path / "results.json"
    keep = {
        "name": "keep the results",
        "ansible.builtin.copy": {
            "content": "{{ results | to_json }}",
            "dest": str(results),
            "mode": "0600",
        },
        "vars": {
            "results": {task["name"]: f"{{{{ {task['register']} }}}}" for task in tasks},
            "ansible_python_interpreter": sys.executable,
        },
    }
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": [*tasks, keep]}])
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith(("ANSIBLE_", "FLY_"))}
    for variable in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env.pop(variable, None)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
        ANSIBLE_PIPELINING="true",
        PATH=os.pathsep.join([str(VENV_BIN), env.get("PATH", "")]),
        **environment,
    )
    played = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert results.exists(), played.stdout[-4000:] + played.stderr[-4000:]
    return json.loads(results.read_text())


def pipeline_name(label, version):
    return f"hello-{label}-py{version.replace('.', '')}"


def module_tasks(label, interpreter, world):
    """Every module (and the interpreter's version) on one interpreter, failures kept."""

    def task(name, module, args, **extra):
        return {
            "name": f"{label} {name}",
            module: args,
            "register": f"{label}_{name}".replace("-", "_"),
            "ignore_errors": True,
            "vars": {"ansible_python_interpreter": str(interpreter)},
            **extra,
        }

    return [
        task("python", "ansible.builtin.setup", {"gather_subset": ["!all", "!min", "python"]}),
        task("registry_check", "nested.warden.registry_check", {"listen_port": world["port"]}),
        task(
            "bosh_deploy",
            "nested.warden.bosh_deploy",
            {
                "state": "rendered",
                "manifest": str(world["manifest"]),
                "vars_store": str(world["tmp"] / f"{label}-vars-store.yml"),
            },
        ),
        task(
            "throwaway_container",
            "nested.warden.throwaway_container",
            {
                "name": f"{world['docker_name']}-{label}",
                "image": DOCKER_IMAGE,
                "mode": "caps",
                "labels": {"nested-warden.test": world["docker_name"]},
                "exec": ["echo", "ran"],
            },
        ),
        # Reads only: nothing carries this label, so there is nothing to remove.
        task(
            "docker_lab",
            "nested.warden.docker_lab",
            {"network": f"{world['docker_name']}-{label}", "label": "nested-warden.test", "state": "absent"},
        ),
        task(
            "lab_jobs",
            "nested.warden.lab_jobs",
            {
                "jobs": [
                    {
                        "name": "hello",
                        "home": str(world["tmp"] / f"{label}-job"),
                        "pidfile": str(world["tmp"] / f"{label}-job.pid"),
                        "start": ["sh", "-c", f"echo started > {world['tmp']}/{label}-job.started"],
                        "stop": ["true"],
                        "file_owner": world["user"],
                        "file_group": world["group"],
                        "dirs": [{"path": str(world["tmp"] / f"{label}-job"), "owner": world["user"]}],
                        "files": [{"dest": "job.conf", "mode": "0640", "content": "secret-Content-41\n"}],
                    }
                ]
            },
        ),
        task(
            "fly_pipeline",
            "nested.warden.fly_pipeline",
            {
                "concourse_url": world["fly_url"],
                "target": f"ci-{label}",
                "username": "admin",
                "password": FLY_PASSWORD,
                "pipeline": pipeline_name(label, world["version"]),
                "config": str(world["pipeline"]),
                "executable": str(FLY_DOUBLE),
            },
        ),
    ]


@pytest.fixture(scope="module")
def fly_web(tmp_path_factory):
    """The fly double's server: the token endpoint fly_pipeline logs in through."""
    state = tmp_path_factory.mktemp("concourse")
    (state / "server.yml").write_text(
        yaml.safe_dump({"version": "8.2.5", "users": {"admin": FLY_PASSWORD}, "teams": {"main": ["admin"]}})
    )
    web = subprocess.Popen(
        [sys.executable, str(FLY_DOUBLE), "double-web", "--port", "0"],
        env={**os.environ, "FLY_DOUBLE_STATE": str(state)},
        stdout=subprocess.PIPE,
        text=True,
    )
    url = web.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), url
    yield state, url
    web.terminate()
    web.wait(timeout=10)


@pytest.fixture(scope="module", params=sorted(PYTHONS, key=lambda v: tuple(map(int, v.split(".")))))
def played(request, tmp_path_factory, fly_web):
    """Every module on one Python: bare, and in a venv with PyYAML; yields the results."""
    version = request.param
    bare = PYTHONS[version]
    venv = pyyaml_venv(version, bare)
    tmp = tmp_path_factory.mktemp(f"python{version}")
    (tmp / "manifest.yml").write_text(MANIFEST)
    (tmp / "pipeline.yml").write_text(PIPELINE_CONFIG)
    (tmp / "fly-home").mkdir()
    state, url = fly_web
    with Listener() as listener:
        world = {
            "version": version,
            "tmp": tmp,
            "port": listener.port,
            "manifest": tmp / "manifest.yml",
            "pipeline": tmp / "pipeline.yml",
            "fly_url": url,
            "docker_name": f"nw-pyv{version.replace('.', '')}-{os.getpid()}",
            "user": getpass.getuser(),
            "group": grp.getgrgid(os.getgid()).gr_name,
        }
        results = run_play(
            tmp,
            module_tasks("bare", bare, world) + module_tasks("pyyaml", venv, world),
            {"FLY_DOUBLE_STATE": str(state), "FLY_HOME": str(tmp / "fly-home")},
        )
    return {"version": version, "bare_has_pyyaml": has_pyyaml(bare), "tmp": tmp, "state": state, **results}


def test_each_module_ran_on_the_python_it_was_given(played):
    for label in ("bare", "pyyaml"):
        facts = played[f"{label} python"]["ansible_facts"]["ansible_python"]["version"]
        assert f"{facts['major']}.{facts['minor']}" == played["version"], label


def test_registry_check_reports_the_listening_socket_on_every_python(played):
    for label in ("bare", "pyyaml"):
        result = played[f"{label} registry_check"]
        assert not result.get("failed"), result
        listen = result["listen"]
        assert listen["listening"] is True
        assert listen["addresses"] == ["127.0.0.1"]
        assert listen["loopback_only"] is True
        assert result["changed"] is False


def test_the_docker_cli_modules_run_on_every_python(played):
    for label in ("bare", "pyyaml"):
        ran = played[f"{label} throwaway_container"]
        assert not ran.get("failed"), ran.get("msg")
        assert (ran["mode"], ran["exit_code"], ran["stdout"].strip()) == ("caps", 0, "ran")
        lab = played[f"{label} docker_lab"]
        assert not lab.get("failed"), lab.get("msg")
        assert lab["changed"] is False and lab["removed"] == {"containers": [], "volumes": [], "networks": []}


def test_lab_jobs_installs_and_starts_a_job_on_every_python(played):
    for label in ("bare", "pyyaml"):
        result = played[f"{label} lab_jobs"]
        assert not result.get("failed"), result
        job = result["jobs"]["hello"]
        assert result["changed"] is True and job["started"] is True
        assert job["files"] == [str(played["tmp"] / f"{label}-job" / "job.conf")]
        assert (played["tmp"] / f"{label}-job" / "job.conf").read_text() == "secret-Content-41\n"
        assert (played["tmp"] / f"{label}-job.started").read_text() == "started\n"
        assert "secret-Content-41" not in json.dumps(result)


def test_bosh_deploy_renders_a_generated_password_into_the_vars_store(played):
    result = played["pyyaml bosh_deploy"]
    assert not result.get("failed"), result.get("msg")
    assert result["generated_variables"] == ["admin_password"]
    password = result["manifest"]["properties"]["admin_password"]
    assert re.fullmatch(r"[a-z0-9]{20}", password)
    store = played["tmp"] / "pyyaml-vars-store.yml"
    assert yaml.safe_load(store.read_text()) == {"admin_password": password}
    assert store.stat().st_mode & 0o777 == 0o600
    assert result["changed"] is True


def test_fly_pipeline_logs_in_and_sets_the_pipeline_through_the_double(played):
    result = played["pyyaml fly_pipeline"]
    assert not result.get("failed"), result.get("msg")
    assert result["logged_in"] is True
    assert result["created"] is True
    assert result["state"]["exists"] is True
    assert result["state"]["paused"] is False
    pipelines = json.loads((played["state"] / "pipelines.json").read_text())["main"]
    assert pipelines[pipeline_name("pyyaml", played["version"])]["paused"] is False


def test_modules_needing_pyyaml_say_so_on_a_python_without_it(played):
    if played["bare_has_pyyaml"]:
        pytest.skip(f"the Python {played['version']} found here has PyYAML")
    for module in ("bosh_deploy", "fly_pipeline"):
        result = played[f"bare {module}"]
        assert result["failed"] is True, module
        assert "Failed to import the required Python library (PyYAML)" in result["msg"], result["msg"]
        assert "Traceback" not in result.get("module_stderr", ""), module
