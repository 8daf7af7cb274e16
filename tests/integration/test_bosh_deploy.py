"""bosh_deploy run for real through ansible-playbook.

state=rendered needs no bosh CLI and is tested as it runs in production. state=present and
state=absent need a BOSH director, which cannot run here: they run against tests/doubles/bosh,
a double of the bosh CLI and director that reproduces the real CLI's output (checked below
against output captured from the real CLI in tests/fixtures/bosh/cli-output). So the deploy and
delete paths are covered by the double only.
"""

import importlib.util
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible_collections.nested.warden.plugins.module_utils import bosh_manifest as bm

PROJECT = Path(__file__).resolve().parents[2]
DOUBLE = PROJECT / "tests" / "doubles" / "bosh"
FIXTURES = PROJECT / "tests" / "fixtures" / "bosh"
CAPTURED = FIXTURES / "cli-output"
LAB_MANIFEST = PROJECT / "manifests" / "concourse-lab.yml"
SMALL_MANIFEST = FIXTURES / "manifests" / "concourse-small.yml"
REGISTRY_OPS = PROJECT / "ops-files" / "docker-registry.yml"
OPEN_OPS = PROJECT / "ops-files" / "docker-registry-open.yml"
SEED_OPS = PROJECT / "ops-files" / "seed" / "docker-registry-seed.yml"
LAB_RELEASE = PROJECT / "releases" / "docker-registry"
VENV_BIN = Path(sys.executable).parent
SECRET = "client-secret-3f9a"
VAR_SECRET = "var-secret-77c1"
DIRECTOR = "https://10.244.0.6:25555"  # never contacted: only the double sees it


class Run:
    def __init__(self, result, proc, state):
        self.result = result
        self.proc = proc
        self.state = state

    @property
    def calls(self):
        log = self.state / "invocations.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def deployed(self, name):
        path = self.state / "deployments" / f"{name}.yml"
        return path.read_text() if path.exists() else None


@pytest.fixture
def state(tmp_path):
    folder = tmp_path / "state"
    folder.mkdir()
    (folder / "director.yml").write_text(f"client_secret: {SECRET}\n")
    return folder


def play(tmp_path, state, args, *, check=False, diff=False, with_double=True, env=None):
    out = tmp_path / f"result-{len(list(tmp_path.glob('result-*')))}.json"
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "hosts": "localhost",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "name": "bosh_deploy",
                            "nested.warden.bosh_deploy": args,
                            "register": "result",
                            "ignore_errors": True,
                        },
                        {
                            "name": "keep the result",
                            "ansible.builtin.copy": {"content": "{{ result | to_json }}", "dest": str(out)},
                            "check_mode": False,
                            "diff": False,
                        },
                    ],
                }
            ]
        )
    )
    path = [str(DOUBLE.parent)] if with_double else []
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BOSH_")}
    environ.update(
        PATH=os.pathsep.join([*path, str(VENV_BIN), "/usr/bin", "/bin"]),
        ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"),
        BOSH_DOUBLE_STATE=str(state),
        **(env or {}),
    )
    argv = [
        str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
        "-e", f"ansible_python_interpreter={sys.executable}", str(playbook),
    ]  # fmt: skip
    if check:
        argv.append("--check")
    if diff:
        argv.append("--diff")
    proc = subprocess.run(
        argv, cwd=PROJECT, env=environ, capture_output=True, text=True, timeout=300, check=False
    )
    assert out.exists(), proc.stdout + proc.stderr
    return Run(json.loads(out.read_text()), proc, state)


@pytest.fixture(scope="session")
def generated_store(tmp_path_factory):
    """A vars store for the lab manifest and the registry ops file, generated once (RSA keys are slow)."""
    path = tmp_path_factory.mktemp("store") / "concourse-vars.yml"
    bm.render(
        str(LAB_MANIFEST),
        ops_files=[str(REGISTRY_OPS)],
        variables={"docker_registry_host": "10.0.0.5"},
        vars_store=str(path),
    )
    return path


@pytest.fixture
def prefilled_store(tmp_path, generated_store):
    path = tmp_path / "concourse-vars.yml"
    path.write_text(generated_store.read_text())
    path.chmod(0o600)
    return path


def registry_args(tmp_path, **extra):
    return {
        "deployment": "concourse",
        "manifest": str(LAB_MANIFEST),
        "ops_files": [str(REGISTRY_OPS)],
        "vars": {
            "external_host": "10.0.0.5",
            "docker_registry_host": "10.0.0.5",
            "concourse_version": "7.11.2",
            "admin_password": VAR_SECRET,  # a secret by its name: masked in every output
        },
        "vars_store": str(tmp_path / "concourse-vars.yml"),
        "release_specs": [str(LAB_RELEASE)],
        "environment": DIRECTOR,
        "client": "admin",
        "client_secret": SECRET,
        **extra,
    }


def traceback_free(run):
    assert "Traceback" not in run.proc.stdout + run.proc.stderr
    assert "Traceback" not in json.dumps(run.result)


# ------------------------------------------------------------------------------------------------
# present


def test_new_deployment_is_deployed_with_exact_argv_and_reported_changed(tmp_path, state):
    run = play(tmp_path, state, registry_args(tmp_path))
    assert run.result.get("failed") is not True, run.result
    assert run.result["changed"] is True
    (call,) = run.calls
    argv = call["argv"]
    assert argv[:6] == ["-n", "--json", "-d", "concourse", "deploy", str(LAB_MANIFEST)]
    assert argv[6:8] == ["-o", str(REGISTRY_OPS)]
    assert argv[8] == "-l"
    assert re.fullmatch(r".*/bosh-vars-[^/]+\.yml", argv[9])
    assert argv[10:] == ["--vars-store", str(tmp_path / "concourse-vars.yml")]
    assert call["file_modes"][argv[9]] == "0o600"
    assert not Path(argv[9]).exists()  # the temporary vars file is gone
    assert run.result["cmd"][1:] == argv
    assert run.result["diff_lines"][0].startswith("+ ")
    assert run.result["property_check"]["checked"] == [
        "concourse/registry (docker-registry)",
        "concourse/proxy (docker-registry)",
    ]
    deployed = yaml.safe_load(run.deployed("concourse"))
    jobs = {job["name"]: job for job in deployed["instance_groups"][0]["jobs"]}
    assert jobs["registry"]["properties"]["docker"]["registry"] == {"bind": "127.0.0.1", "port": 5080}
    assert "docker_registry_password" in run.result["generated_variables"]


def test_no_secret_reaches_argv_and_the_client_secret_travels_in_the_environment(
    tmp_path, state, prefilled_store
):
    run = play(tmp_path, state, registry_args(tmp_path))
    assert run.result["changed"] is True  # the double checks the secret: success means it arrived
    (call,) = run.calls
    joined = " ".join(call["argv"])
    store = yaml.safe_load((tmp_path / "concourse-vars.yml").read_text())
    for secret in (SECRET, VAR_SECRET, store["docker_registry_password"]):
        assert secret not in joined
    assert {"BOSH_CLIENT_SECRET", "BOSH_CLIENT", "BOSH_ENVIRONMENT"} <= set(call["env"])
    assert stat.S_IMODE(os.stat(tmp_path / "concourse-vars.yml").st_mode) == 0o600


def test_credentials_default_to_bosh_environment_variables(tmp_path, state, prefilled_store):
    args = registry_args(tmp_path)
    for name in ("environment", "client", "client_secret"):
        del args[name]
    env = {"BOSH_ENVIRONMENT": DIRECTOR, "BOSH_CLIENT": "admin", "BOSH_CLIENT_SECRET": SECRET}
    run = play(tmp_path, state, args, env=env)
    assert run.result["changed"] is True, run.result


def test_wrong_client_secret_is_reported_by_the_director(tmp_path, state, prefilled_store):
    run = play(tmp_path, state, registry_args(tmp_path, client_secret="wrong"))
    assert run.result["failed"] is True
    assert "non-successful status code '401'" in run.result["msg"]
    assert "wrong" not in json.dumps(run.result)


def test_redeploying_the_same_manifest_is_not_a_change(tmp_path, state, prefilled_store):
    play(tmp_path, state, registry_args(tmp_path))
    run = play(tmp_path, state, registry_args(tmp_path))
    assert run.result["changed"] is False
    assert run.result["diff_lines"] == []
    assert len(run.calls) == 2


def test_changed_property_is_a_change_and_diff_mode_shows_the_director_diff(tmp_path, state, prefilled_store):
    play(tmp_path, state, registry_args(tmp_path))
    args = registry_args(tmp_path, ops_files=[str(OPEN_OPS)])
    run = play(tmp_path, state, args, diff=True)
    assert run.result["changed"] is True
    prepared = run.result["diff"]["prepared"].splitlines()
    assert prepared[:3] == ["  instance_groups:", "  - name: concourse", "    jobs:"]
    assert "-   - name: proxy" in prepared
    assert '+           bind: "<redacted>"' in prepared
    assert run.result["diff_lines"] == prepared


def test_without_diff_mode_no_diff_is_returned(tmp_path, state, prefilled_store):
    run = play(tmp_path, state, registry_args(tmp_path))
    assert "diff" not in run.result


def test_check_mode_deploys_with_dry_run_and_changes_nothing(tmp_path, state, prefilled_store):
    first = play(tmp_path, state, registry_args(tmp_path))
    before = first.deployed("concourse")
    store_before = (tmp_path / "concourse-vars.yml").read_text()
    run = play(tmp_path, state, registry_args(tmp_path, ops_files=[str(OPEN_OPS)]), check=True)
    assert run.result["changed"] is True
    assert run.calls[-1]["argv"][-1] == "--dry-run"
    assert run.deployed("concourse") == before
    assert (tmp_path / "concourse-vars.yml").read_text() == store_before


def test_check_mode_of_a_new_deployment_only_predicts_and_records_nothing(tmp_path, state):
    run = play(tmp_path, state, registry_args(tmp_path), check=True)
    assert run.result["changed"] is True
    assert run.result["new_deployment"] is True
    assert not (tmp_path / "concourse-vars.yml").exists()
    # No dry run: on a real director it would leave an empty deployment record behind.
    assert [call["argv"][-1] for call in run.calls] == ["deployments"]
    assert run.deployed("concourse") is None


def test_failed_deploy_reports_rc_cmd_and_cli_lines_without_secrets(tmp_path, state, prefilled_store):
    (state / "director.yml").write_text(
        f"client_secret: {SECRET}\nfail_tasks: \"'concourse/0' is not running after update ({VAR_SECRET})\"\n"
    )
    run = play(tmp_path, state, registry_args(tmp_path))
    result = run.result
    assert result["failed"] is True
    assert result["msg"] == (
        "bosh deploy failed: Updating deployment:\n  Expected task '1' to succeed but state is 'error'"
    )
    # The jobs' properties (passwords, the proxy's private key) never ride along on a failure.
    assert "job_properties" not in result
    assert result["rc"] == 1
    assert result["cmd"][1:6] == ["-n", "--json", "-d", "concourse", "deploy"]
    assert any("is not running after update" in line for line in result["stdout_lines"])
    assert VAR_SECRET not in json.dumps(result)
    traceback_free(run)


def test_unreachable_director_is_named_with_the_cause(tmp_path, state, prefilled_store):
    (state / "director.yml").write_text("reachable: false\n")
    run = play(tmp_path, state, registry_args(tmp_path))
    assert run.result["failed"] is True
    assert run.result["msg"] == (
        f"bosh deploy failed: the BOSH director at '{DIRECTOR}' is unreachable: "
        f'Retry: Get "{DIRECTOR}/info": dial tcp 10.244.0.6:25555: connect: connection refused'
    )
    traceback_free(run)


def test_missing_bosh_cli_says_how_to_install_it(tmp_path, state, prefilled_store):
    run = play(tmp_path, state, registry_args(tmp_path), with_double=False)
    assert run.result["failed"] is True
    assert run.result["msg"].startswith("the bosh CLI was not found on PATH; install the bosh CLI v7")
    traceback_free(run)


def test_executable_option_selects_the_cli(tmp_path, state, prefilled_store):
    run = play(tmp_path, state, registry_args(tmp_path, executable=str(DOUBLE)), with_double=False)
    assert run.result["changed"] is True, run.result
    assert run.result["cmd"][0] == str(DOUBLE)


def test_seed_ops_file_fails_the_property_check_before_bosh_runs(tmp_path, state, prefilled_store):
    run = play(tmp_path, state, registry_args(tmp_path, ops_files=[str(SEED_OPS)]))
    assert run.result["failed"] is True
    assert run.calls == []
    msg = run.result["msg"]
    assert msg.startswith("property check failed: 4 problem(s) in the rendered manifest")
    assert (
        "- instance group 'concourse', job 'registry' (release 'docker-registry'): property "
        "'docker_registry.http.addr' is not declared by job 'registry'; did you mean "
        "'docker.registry.bind' / 'docker.registry.port'?"
    ) in msg
    problems = run.result["property_check"]["problems"]
    assert {p["property"] for p in problems} >= {"docker_registry.http.addr", "docker_registry.auth.password"}
    # A failed deploy never carries the jobs' properties (they hold secrets).
    assert "job_properties" not in run.result


def test_rendering_the_seed_shows_what_the_director_would_give_the_registry_job(
    tmp_path, state, prefilled_store
):
    args = registry_args(tmp_path, ops_files=[str(SEED_OPS)], state="rendered")
    run = play(tmp_path, state, args)
    assert run.result["failed"] is True
    assert run.calls == []
    # The default loopback address: the seed's docker_registry.http.addr was dropped.
    registry = run.result["job_properties"]["concourse"]["registry"]["docker"]["registry"]
    assert (registry["bind"], registry["port"]) == ("127.0.0.1", 5000)


def test_manifest_name_must_match_the_deployment(tmp_path, state, prefilled_store):
    run = play(tmp_path, state, registry_args(tmp_path, deployment="other"))
    assert run.result["failed"] is True
    assert run.result["msg"] == "the rendered manifest names deployment 'concourse' but deployment is 'other'"
    assert run.calls == []


@pytest.mark.parametrize(
    ("field", "content", "expected"),
    [
        ("ops_files", None, "ops file '{path}': no such file"),
        ("ops_files", "- type: replace\n  path: /x\n   value: 1\n", "ops file '{path}' line 3"),
        ("vars_files", "a: [1\n", "vars file '{path}' line 1"),
    ],
)
def test_missing_or_invalid_files_are_named_with_the_line(tmp_path, state, field, content, expected):
    path = tmp_path / "input.yml"
    if content is not None:
        path.write_text(content)
    run = play(tmp_path, state, registry_args(tmp_path, **{field: [str(path)]}))
    assert run.result["failed"] is True
    assert expected.format(path=path) in run.result["msg"]
    assert run.calls == []
    traceback_free(run)


# ------------------------------------------------------------------------------------------------
# rendered


def test_rendered_needs_no_bosh_cli_and_generates_the_vars_store_once(tmp_path, state):
    args = registry_args(tmp_path, state="rendered")
    del args["deployment"]
    run = play(tmp_path, state, args, with_double=False)
    assert run.result.get("failed") is not True, run.result
    assert run.result["changed"] is True
    store = yaml.safe_load((tmp_path / "concourse-vars.yml").read_text())
    proxy = next(j for j in run.result["manifest"]["instance_groups"][0]["jobs"] if j["name"] == "proxy")
    docker = proxy["properties"]["docker"]["proxy"]
    assert docker["auth_basic"] == {"admin": "{PLAIN}" + store["docker_registry_password"]}
    assert docker["ssl"]["cert"] == store["docker_registry_certificate"]["certificate"]
    assert docker["port"] == 5000
    assert docker["backend"] == {"hosts": ["127.0.0.1"], "port": 5080}
    assert "docker_registry_ca" in run.result["generated_variables"]
    again = play(tmp_path, state, args, with_double=False)
    assert again.result["changed"] is False
    assert again.result["generated_variables"] == []


def test_rendered_path_reads_one_secret_from_the_vars_store(tmp_path, state):
    store = tmp_path / "vars.yml"
    store.write_text("docker_registry_password: s3cr3t\nother: x\n")
    run = play(
        tmp_path,
        state,
        {"state": "rendered", "manifest": str(store), "path": "/docker_registry_password"},
        with_double=False,
    )
    assert run.result["value"] == "s3cr3t"
    assert "manifest" not in run.result
    assert run.result["changed"] is False


def test_rendered_check_mode_reports_the_store_change_without_writing_it(tmp_path, state):
    args = {"state": "rendered", "manifest": str(SMALL_MANIFEST), "vars_store": str(tmp_path / "s.yml")}
    run = play(tmp_path, state, args, check=True, with_double=False)
    assert run.result["changed"] is True
    assert run.result["generated_variables"] == ["docker_registry_password"]
    assert not (tmp_path / "s.yml").exists()


def test_path_is_refused_outside_rendered(tmp_path, state, prefilled_store):
    run = play(tmp_path, state, registry_args(tmp_path, path="/name"))
    assert run.result["msg"] == "'path' is only used with state=rendered"


def release_spec_paths(form, tmp_path):
    if form == "tree":
        return [str(LAB_RELEASE)]
    if form == "spec files":
        return [str(LAB_RELEASE / "jobs" / job / "spec") for job in ("registry", "proxy")]
    spec = importlib.util.spec_from_file_location(
        "unit_specs", PROJECT / "tests/unit/test_bosh_release_specs.py"
    )
    unit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(unit)
    return [str(unit.build_release_tarball(LAB_RELEASE, tmp_path / "docker-registry-3.5.2.tgz"))]


@pytest.mark.parametrize("form", ["tree", "tarball", "spec files"])
def test_release_specs_in_every_form_pass_the_fix_and_stop_the_seed(tmp_path, state, prefilled_store, form):
    specs = release_spec_paths(form, tmp_path)
    args = {
        "state": "rendered",
        "manifest": str(LAB_MANIFEST),
        "release_specs": specs,
        "vars_store": str(prefilled_store),
    }
    good = play(tmp_path, state, {**args, "ops_files": [str(REGISTRY_OPS)]}, with_double=False)
    assert good.result.get("failed") is not True, good.result["msg"]
    assert "concourse/proxy (docker-registry)" in good.result["property_check"]["checked"]
    bad = play(tmp_path, state, {**args, "ops_files": [str(SEED_OPS)]}, with_double=False)
    assert bad.result["failed"] is True
    assert "'docker_registry.http.addr' is not declared by job 'registry'" in bad.result["msg"]


def test_rendered_diff_mode_names_generated_variables_without_values(tmp_path, state):
    store = tmp_path / "s.yml"
    args = {"state": "rendered", "manifest": str(SMALL_MANIFEST), "vars_store": str(store)}
    run = play(tmp_path, state, args, diff=True, with_double=False)
    assert run.result["diff"]["after"] == "docker_registry_password: (generated)\n"
    assert yaml.safe_load(store.read_text())["docker_registry_password"] not in json.dumps(run.result)


def test_check_properties_without_release_specs_is_refused(tmp_path, state):
    args = {"state": "rendered", "manifest": str(SMALL_MANIFEST), "check_properties": True}
    run = play(tmp_path, state, args, with_double=False)
    assert run.result["failed"] is True
    assert run.result["msg"].startswith("check_properties needs release_specs")


# ------------------------------------------------------------------------------------------------
# absent


def absent_args(**extra):
    return {
        "deployment": "concourse",
        "state": "absent",
        "environment": DIRECTOR,
        "client": "admin",
        "client_secret": SECRET,
        **extra,
    }


def test_absent_deletes_an_existing_deployment(tmp_path, state, prefilled_store):
    play(tmp_path, state, registry_args(tmp_path))
    run = play(tmp_path, state, absent_args())
    assert run.result["changed"] is True
    assert [c["argv"] for c in run.calls[1:]] == [
        ["-n", "--json", "deployments"],
        ["-n", "--json", "-d", "concourse", "delete-deployment"],
    ]
    assert run.deployed("concourse") is None


def test_absent_of_a_missing_deployment_is_not_a_change(tmp_path, state):
    run = play(tmp_path, state, absent_args())
    assert run.result["changed"] is False
    assert [c["argv"] for c in run.calls] == [["-n", "--json", "deployments"]]


def test_absent_in_check_mode_only_looks(tmp_path, state, prefilled_store):
    play(tmp_path, state, registry_args(tmp_path))
    run = play(tmp_path, state, absent_args(), check=True, diff=True)
    assert run.result["changed"] is True
    assert run.result["diff"] == {"before": "deployment: concourse\n", "after": ""}
    assert [c["argv"] for c in run.calls[1:]] == [["-n", "--json", "deployments"]]
    assert run.deployed("concourse") is not None


# ------------------------------------------------------------------------------------------------
# The double against output captured from the real CLI

_TIME = re.compile(r"\d\d:\d\d:\d\d")
_DATE = re.compile(r"[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d UTC \d{4}")
_TASK = re.compile(r"Task \d+|task '\d+'")
_INSTANCE = re.compile(r"concourse/[0-9a-z-]+ \(0\)")
_URL = re.compile(r"https://127\.0\.0\.1:\d+")


def normalized(text):
    for pattern, replacement in (
        (_DATE, "DATE"),
        (_TIME, "TIME"),
        (_TASK, "Task N"),
        (_INSTANCE, "concourse/ID (0)"),
        (_URL, "URL"),
    ):
        text = pattern.sub(replacement, text)
    return text


def double(state, *argv, env=None):
    """Run the double. Deploys get --no-redact: the stand-in director used for the capture did not
    redact property values (a real director does, and so does the double by default)."""
    if "deploy" in argv:
        argv = (*argv, "--no-redact")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BOSH_")}
    environ.update(
        PATH=os.pathsep.join([str(VENV_BIN), "/usr/bin", "/bin"]),
        BOSH_DOUBLE_STATE=str(state),
        BOSH_ENVIRONMENT="https://127.0.0.1:25599",
        BOSH_CLIENT="admin",
        BOSH_CLIENT_SECRET=SECRET,
    )
    environ.update(env or {})
    return subprocess.run(
        [str(DOUBLE), *argv], env=environ, capture_output=True, text=True, cwd=CAPTURED, check=False
    )


@pytest.fixture
def captured_inputs(tmp_path):
    (tmp_path / "v.yml").write_text("bind: 127.0.0.1\n")
    return tmp_path


def same_shape(proc, name, rc):
    real = (CAPTURED / f"{name}.stdout").read_text()
    assert proc.returncode == rc
    assert not proc.stdout.endswith("\n")
    assert normalized(proc.stdout) == normalized(real)


def test_double_prints_a_new_deployment_like_the_real_cli(state, captured_inputs):
    proc = double(
        state,
        "-n",
        "--json",
        "-d",
        "concourse",
        "deploy",
        "input-manifest.yml",
        "-l",
        str(captured_inputs / "v.yml"),
    )
    same_shape(proc, "deploy-new", 0)
    proc = double(
        state,
        "-n",
        "--json",
        "-d",
        "concourse",
        "deploy",
        "input-manifest.yml",
        "-l",
        str(captured_inputs / "v.yml"),
    )
    same_shape(proc, "deploy-unchanged", 0)
    proc = double(state, "-n", "--json", "-d", "concourse", "delete-deployment")
    same_shape(proc, "delete-existing", 0)
    same_shape(double(state, "-n", "--json", "-d", "concourse", "delete-deployment"), "delete-missing", 0)


def test_double_reports_task_failure_like_the_real_cli(state, captured_inputs):
    (state / "director.yml").write_text(
        "fail_tasks: \"'concourse/abc (0)' is not running after update. "
        'Review logs for failed jobs: registry"\n'
    )
    (state / "next-task").write_text("47")  # the error block's indent depends on the task id's width
    proc = double(
        state,
        "-n",
        "--json",
        "-d",
        "concourse",
        "deploy",
        "input-manifest.yml",
        "-l",
        str(captured_inputs / "v.yml"),
    )
    same_shape(proc, "task-fails", 1)


def test_double_lists_deployments_in_the_real_table_shape(state, captured_inputs):
    double(
        state,
        "-n",
        "--json",
        "-d",
        "concourse",
        "deploy",
        "input-manifest.yml",
        "-l",
        str(captured_inputs / "v.yml"),
    )
    proc = double(state, "-n", "--json", "deployments")
    ours, real = json.loads(proc.stdout), json.loads((CAPTURED / "deployments.stdout").read_text())
    assert ours["Lines"] == real["Lines"]
    assert ours["Blocks"] is real["Blocks"] is None
    (table,), (real_table,) = ours["Tables"], real["Tables"]
    assert {k: v for k, v in table.items() if k != "Rows"} == {
        k: v for k, v in real_table.items() if k != "Rows"
    }
    assert [set(row) for row in table["Rows"]] == [set(row) for row in real_table["Rows"]]


@pytest.mark.parametrize(
    ("name", "argv", "env"),
    [
        ("name-mismatch", ["-n", "--json", "-d", "other", "deploy", "input-manifest.yml", "-l", "{v}"], None),
        (
            "no-environment",
            ["-n", "--json", "-d", "concourse", "delete-deployment"],
            {"BOSH_ENVIRONMENT": ""},
        ),
        (
            "wrong-secret",
            ["-n", "--json", "-d", "concourse", "deploy", "input-manifest.yml", "-l", "{v}"],
            {"BOSH_CLIENT_SECRET": "wrong"},
        ),
    ],
)
def test_double_fails_like_the_real_cli(state, captured_inputs, name, argv, env):
    (state / "director.yml").write_text(f"client_secret: {SECRET}\n")
    proc = double(state, *[a.format(v=captured_inputs / "v.yml") for a in argv], env=env)
    same_shape(proc, name, 1)


def test_double_names_an_unreachable_director_like_the_real_cli(state):
    (state / "director.yml").write_text("reachable: false\n")
    proc = double(
        state,
        "-n",
        "--json",
        "-d",
        "concourse",
        "deploy",
        "input-manifest.yml",
        env={"BOSH_ENVIRONMENT": "https://127.0.0.1:1"},
    )
    assert proc.returncode == 1
    assert json.loads(proc.stdout) == json.loads((CAPTURED / "unreachable.stdout").read_text())


@pytest.mark.parametrize(
    ("name", "argv"),
    [
        ("no-n", ["--json", "-d", "concourse", "deploy", "input-manifest.yml", "-l", "{v}"]),
        ("delete-no-n", ["--json", "-d", "concourse", "delete-deployment"]),
    ],
)
def test_double_panics_without_non_interactive_in_json_mode(state, captured_inputs, name, argv):
    if name == "no-n":
        double(
            state,
            "-n",
            "--json",
            "-d",
            "concourse",
            "deploy",
            "input-manifest.yml",
            "-l",
            str(captured_inputs / "v.yml"),
        )
        (captured_inputs / "v.yml").write_text("bind: 0.0.0.0\n")
    proc = double(state, *[a.format(v=captured_inputs / "v.yml") for a in argv])
    real_err = (CAPTURED / f"{name}.stderr").read_text()
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0].split(" ERROR - ")[1] == real_err.splitlines()[0].split(" ERROR - ")[1]
    assert proc.stderr.endswith("********************\nExit code 1\n") == real_err.endswith(
        "********************\nExit code 1\n"
    )
    assert (
        json.loads(proc.stdout)["Lines"][:2]
        == json.loads((CAPTURED / f"{name}.stdout").read_text())["Lines"][:2]
    )
    assert "Exit code 1" not in proc.stdout


@pytest.mark.parametrize(
    ("name", "flag", "captured_path"),
    [
        ("missing-ops", "-o", "/tmp/fakedir/nope-ops.yml"),
        ("missing-vars", "-l", "/tmp/fakedir/nope-vars.yml"),
        ("unknown-flag", "--bogus", None),
    ],
)
def test_double_prints_flag_errors_as_plain_text_like_the_real_cli(
    state, tmp_path, name, flag, captured_path
):
    missing = str(tmp_path / "nope.yml")
    argv = ["-n", "--json", "-d", "concourse", "deploy", "input-manifest.yml", flag]
    proc = double(state, *argv, *([missing] if captured_path else []))
    real = (CAPTURED / f"{name}.stderr").read_text()
    if captured_path:
        real = real.replace(captured_path, missing)
    assert (proc.returncode, proc.stdout, proc.stderr) == (1, "\n", real)


def test_double_reports_a_missing_manifest_with_its_absolute_path(state, tmp_path):
    proc = double(state, "-n", "--json", "-d", "concourse", "deploy", str(tmp_path / "nope.yml"))
    real = (
        (CAPTURED / "missing-manifest.stderr")
        .read_text()
        .replace("/tmp/fakedir/nope.yml", str(tmp_path / "nope.yml"))
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (1, "\n", real)


def test_double_records_argv_and_environment_names_but_no_values(state):
    double(state, "-n", "--json", "deployments")
    (call,) = [json.loads(line) for line in (state / "invocations.jsonl").read_text().splitlines()]
    assert call["argv"] == ["-n", "--json", "deployments"]
    assert "BOSH_CLIENT_SECRET" in call["env"]
    assert SECRET not in (state / "invocations.jsonl").read_text()
