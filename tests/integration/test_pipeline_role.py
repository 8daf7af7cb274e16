"""The pipeline role in playbooks (no Molecule), and the pipeline template it sets.

With a Concourse the role runs against tests/doubles/fly (a double of fly and of Concourse's token
endpoint; no Concourse or fly can be installed here). Without one, the lab's own inventory is used
and the stage must say it was skipped, and why.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[2]
DOUBLE = PROJECT / "tests" / "doubles" / "fly"
TEMPLATE = PROJECT / "pipelines" / "pipeline-template.yml"
LAB_INVENTORY = PROJECT / "inventory" / "lab"
VENV_BIN = Path(sys.executable).parent
CONCOURSE_PASSWORD = "concourse-Admin-61ad"
REGISTRY_PASSWORD = "registry-Password-2c07"
CA = "-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n"
BUILD = "build-warden-cpi-containerd-image"
DEPLOY = "deploy-zookeeper-on-warden-containerd"
PIPELINE = "nested-bosh-zookeeper"


def run_role(tmp_path, role_vars, *, path_dirs=(), env=None, check=False, inventory=None, verbose=False):
    """Run the role on localhost; returns (pipeline_result or None, ansible-playbook's output)."""
    out = tmp_path / f"result-{len(list(tmp_path.glob('result-*')))}.json"
    playbook = tmp_path / "role.yml"
    play = {
        "hosts": "controller" if inventory else "localhost",
        "gather_facts": False,
        "tasks": [
            {
                "name": "Run the role",
                "block": [{"name": "pipeline", "ansible.builtin.include_role": {"name": "pipeline"}}],
                "rescue": [{"name": "failed", "ansible.builtin.set_fact": {"role_failed": True}}],
                "always": [
                    {
                        "name": "keep the result",
                        "ansible.builtin.copy": {
                            "content": "{{ {'result': pipeline_result | default(none), "
                            "'failed': role_failed | default(false), "
                            "'set_changed': __pipeline_set.changed | default(none)} | to_json }}",
                            "dest": str(out),
                            "mode": "0600",
                        },
                        "check_mode": False,
                        "diff": False,
                    }
                ],
            }
        ],
        "vars": role_vars,
    }
    playbook.write_text(yaml.safe_dump([play]))
    argv = [str(VENV_BIN / "ansible-playbook"), str(playbook), "-e", f"nested_warden_home={PROJECT}"]
    if inventory:
        argv += ["-i", str(inventory)]
    else:
        argv += ["-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}"]
    argv += ["--check"] if check else []
    argv += ["-vvv"] if verbose else []
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("FLY_", "FAKE_FLY"))}
    environ.update(
        PATH=os.pathsep.join([*map(str, path_dirs), str(VENV_BIN), "/usr/bin", "/bin"]),
        ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"),
        ANSIBLE_ROLES_PATH=str(PROJECT / "roles"),
        **(env or {}),
    )
    proc = subprocess.run(
        argv, cwd=PROJECT, env=environ, capture_output=True, text=True, timeout=600, check=False
    )
    assert out.exists(), proc.stdout + proc.stderr
    document = json.loads(out.read_text())
    return document, proc


# -- the lab: no Concourse ---------------------------------------------------------------------------


def test_lab_without_fly_reports_the_stage_skipped_with_the_reason(tmp_path):
    path = os.pathsep.join([str(VENV_BIN), "/usr/bin", "/bin"])
    if shutil.which("fly", path=path):
        pytest.skip("a fly is installed on this machine; the role would validate with it")
    document, proc = run_role(tmp_path, {}, inventory=LAB_INVENTORY)
    result = document["result"]
    assert document["failed"] is False, proc.stdout
    assert result["status"] == "skipped"
    assert result["outputs"]["validation"] == "not run"
    assert result["reason"].startswith("no Concourse target is configured (pipeline_concourse_url is empty;")
    assert "fly is not installed, so the template was not validated either" in result["reason"]
    assert result["outputs"]["fly_version"] == "not installed"


def test_lab_with_a_fly_validates_the_template_offline_and_still_skips(tmp_path):
    state = tmp_path / "double"
    state.mkdir()
    document, proc = run_role(tmp_path, {}, inventory=LAB_INVENTORY, path_dirs=[DOUBLE.parent],
                              env={"FLY_DOUBLE_STATE": str(state)})  # fmt: skip
    result = document["result"]
    assert document["failed"] is False, proc.stdout
    assert (result["status"], result["outputs"]["validation"]) == ("skipped", "passed")
    assert "the template passed fly validate-pipeline --strict (fly 8.2.5)" in result["reason"]
    calls = [json.loads(line) for line in (state / "invocations.jsonl").read_text().splitlines()]
    assert [c["argv"][:4] for c in calls if "validate-pipeline" in c["argv"]] == [
        ["validate-pipeline", "-c", str(TEMPLATE), "--strict"]
    ]
    assert not any(c["argv"][:1] == ["-t"] for c in calls)  # nothing talked to a Concourse


def test_lab_with_an_invalid_template_fails_the_stage(tmp_path):
    state = tmp_path / "double"
    state.mkdir()
    broken = tmp_path / "broken.yml"
    broken.write_text(
        TEMPLATE.read_text().replace("passed: [build-warden-cpi-containerd-image]", "passed: [nope]")
    )
    document, _ = run_role(tmp_path, {"pipeline_config": str(broken)}, inventory=LAB_INVENTORY,
                           path_dirs=[DOUBLE.parent], env={"FLY_DOUBLE_STATE": str(state)})  # fmt: skip
    assert document["failed"] is True
    assert document["result"]["status"] == "failed"
    assert "no matching job(s) for 'nope'" in document["result"]["reason"]


# -- with a Concourse (the double) ------------------------------------------------------------------


@pytest.fixture
def concourse(tmp_path):
    state = tmp_path / "concourse"
    state.mkdir()
    (state / "server.yml").write_text(
        yaml.safe_dump(
            {"version": "8.2.5", "users": {"admin": CONCOURSE_PASSWORD}, "teams": {"main": ["admin"]}}
        )
    )
    web = subprocess.Popen(
        [sys.executable, str(DOUBLE), "double-web", "--port", "0"],
        env={**os.environ, "FLY_DOUBLE_STATE": str(state)},
        stdout=subprocess.PIPE,
        text=True,
    )
    url = web.stdout.readline().strip()
    home = tmp_path / "home"
    home.mkdir()
    yield {"state": state, "url": url, "home": home}
    web.terminate()
    web.wait(timeout=10)


def role_vars(concourse, **extra):
    return {
        "pipeline_concourse_url": concourse["url"],
        "pipeline_target": "ci",
        "pipeline_password": CONCOURSE_PASSWORD,
        "pipeline_git_uri": "https://git.example.com/nested-warden.git",
        "pipeline_base_image": "registry.example.com/bosh-integration:noble",
        "pipeline_registry": {
            "url": "https://10.0.0.5:5000",
            "host_port": "10.0.0.5:5000",
            "scheme": "https",
            "ca_cert": CA,
            "username": "admin",
            "authenticated": True,
        },
        "pipeline_registry_password": REGISTRY_PASSWORD,
        "pipeline_watch_timeout": 60,
        **extra,
    }


def double_env(concourse):
    return {"FLY_DOUBLE_STATE": str(concourse["state"]), "FLY_HOME": str(concourse["home"])}


def pipelines(concourse):
    path = concourse["state"] / "pipelines.json"
    return json.loads(path.read_text()).get("main", {}) if path.exists() else {}


def fly_commands(concourse):
    """The fly subcommand of every call the role made (after the global -t TARGET)."""
    path = concourse["state"] / "invocations.jsonl"
    calls = [json.loads(line)["argv"] for line in path.read_text().splitlines()] if path.exists() else []
    return [argv[2] if argv[:1] == ["-t"] else argv[0] for argv in calls]


TRIGGER_COMMANDS = ["status", "pipelines", "get-pipeline", "trigger-job", "builds"]


def script(concourse, job, **outcome):
    folder = concourse["state"] / "jobs" / PIPELINE
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{job}.yml").write_text(yaml.safe_dump(outcome))


def test_role_sets_unpauses_and_runs_the_jobs_in_order(tmp_path, concourse):
    script(concourse, BUILD, status="succeeded", log="pushed\n")
    script(concourse, DEPLOY, status="succeeded", log="zookeeper running\n")
    document, proc = run_role(
        tmp_path, role_vars(concourse, pipeline_trigger_jobs=[BUILD, DEPLOY]),
        path_dirs=[DOUBLE.parent], env=double_env(concourse), verbose=True,
    )  # fmt: skip
    result = document["result"]
    assert document["failed"] is False, proc.stdout + proc.stderr
    assert result["status"] == "passed"
    # Set once; each job is then only checked and triggered: no set-pipeline, pause or expose again.
    assert fly_commands(concourse) == [
        "--version", "validate-pipeline", "login", "pipelines", "set-pipeline", "unpause-pipeline",
        "pipelines", *TRIGGER_COMMANDS, *TRIGGER_COMMANDS,
    ]  # fmt: skip
    outputs = result["outputs"]
    assert (outputs["created"], outputs["state"]["paused"]) == (True, False)
    assert [(b["job"], b["status"], b["exit_code"]) for b in outputs["builds"]] == [
        (BUILD, "succeeded", 0),
        (DEPLOY, "succeeded", 0),
    ]
    config = pipelines(concourse)[PIPELINE]["config"]
    image = next(r for r in config["resources"] if r["name"] == "warden-cpi-containerd-image")
    assert image["source"]["password"] == REGISTRY_PASSWORD  # through the module's 0600 vars file
    assert image["source"]["ca_certs"] == [CA]
    assert image["source"]["repository"] == "10.0.0.5:5000/warden-cpi-containerd"
    assert image["source"]["insecure"] is False
    for secret in (REGISTRY_PASSWORD, CONCOURSE_PASSWORD):  # -vvv, the password from module_defaults
        assert secret not in proc.stdout + proc.stderr
    calls = (concourse["state"] / "invocations.jsonl").read_text()
    assert REGISTRY_PASSWORD not in calls and CONCOURSE_PASSWORD not in calls


def test_second_run_sets_nothing(tmp_path, concourse):
    run_role(tmp_path, role_vars(concourse), path_dirs=[DOUBLE.parent], env=double_env(concourse))
    document, _ = run_role(
        tmp_path, role_vars(concourse), path_dirs=[DOUBLE.parent], env=double_env(concourse)
    )
    assert document["result"]["status"] == "passed"
    assert document["set_changed"] is False
    assert document["result"]["outputs"]["config_changed"] is False


def test_failed_build_fails_the_stage_with_the_builds_last_lines(tmp_path, concourse):
    script(concourse, BUILD, status="failed", exit_status=1, log="step 1\nno space left on device\n")
    document, _ = run_role(
        tmp_path, role_vars(concourse, pipeline_trigger_jobs=[BUILD, DEPLOY]),
        path_dirs=[DOUBLE.parent], env=double_env(concourse),
    )  # fmt: skip
    result = document["result"]
    assert document["failed"] is True
    assert (result["status"], result["outputs"]["error_kind"]) == ("failed", "build_failed")
    assert "no space left on device" in result["reason"]
    assert [b["job"] for b in result["outputs"]["builds"]] == [BUILD]  # the deploy job was not triggered


# The put's error as the real registry-image resource logged it on the real Concourse in the VM lab
# (seed's deployment), with this test's registry address.
SEED_PUT_ERROR = (
    'ERRO[0007] failed to set repo/auth options: initialize transport: Get "https://10.0.0.5:5000/v2/": EOF'
)


@pytest.mark.parametrize("bind", ["127.0.0.1", "0.0.0.0"])
def test_a_push_the_worker_could_not_make_names_the_registry_and_a_loopback_bind(tmp_path, concourse, bind):
    script(concourse, BUILD, status="errored", log=f"selected worker: worker-0\n{SEED_PUT_ERROR}\n")
    deployment = {"registry": {"bind": bind, "port": 5000}, "proxy": None}
    settings = role_vars(concourse, pipeline_trigger_jobs=[BUILD], pipeline_registry_deployment=deployment)
    document, _ = run_role(tmp_path, settings, path_dirs=[DOUBLE.parent], env=double_env(concourse))
    result = document["result"]
    assert document["failed"] is True
    assert f"the worker could not reach the registry at 10.0.0.5:5000 ({SEED_PUT_ERROR})" in result["reason"]
    loopback = "the registry job listens on 127.0.0.1:5000 only (loopback) and no proxy job serves the port"
    assert (loopback in result["reason"]) is (bind == "127.0.0.1")


def test_check_mode_sets_nothing(tmp_path, concourse):
    document, _ = run_role(
        tmp_path, role_vars(concourse, pipeline_trigger_jobs=[BUILD]),
        path_dirs=[DOUBLE.parent], env=double_env(concourse), check=True,
    )  # fmt: skip
    assert document["result"]["status"] == "passed"
    assert document["result"]["outputs"]["builds"] == [{"job": BUILD, "triggered": False}]
    assert pipelines(concourse) == {}


def test_check_mode_on_a_set_pipeline_predicts_each_trigger_and_triggers_none(tmp_path, concourse):
    run_role(tmp_path, role_vars(concourse), path_dirs=[DOUBLE.parent], env=double_env(concourse))
    before = len(fly_commands(concourse))
    document, proc = run_role(
        tmp_path, role_vars(concourse, pipeline_trigger_jobs=[BUILD, DEPLOY]),
        path_dirs=[DOUBLE.parent], env=double_env(concourse), check=True,
    )  # fmt: skip
    assert document["result"]["status"] == "passed", proc.stdout
    assert document["result"]["outputs"]["builds"] == [
        {"job": BUILD, "triggered": False},
        {"job": DEPLOY, "triggered": False},
    ]
    predicted = fly_commands(concourse)[before:]
    assert predicted.count("get-pipeline") == 2  # each job was checked against the pipeline
    assert not {"trigger-job", "unpause-pipeline"} & set(predicted)  # set-pipeline ran --dry-run
    assert not (concourse["state"] / "builds.json").exists()  # no build was ever started


def test_a_job_the_pipeline_lacks_fails_the_stage_naming_its_jobs(tmp_path, concourse):
    document, _ = run_role(
        tmp_path, role_vars(concourse, pipeline_trigger_jobs=["deploy-zookeeper"]),
        path_dirs=[DOUBLE.parent], env=double_env(concourse),
    )  # fmt: skip
    result = document["result"]
    assert document["failed"] is True
    assert (result["status"], result["outputs"]["error_kind"]) == ("failed", "job_not_found")
    assert result["reason"] == (
        f"pipeline {PIPELINE} has no job deploy-zookeeper (its jobs: {BUILD}, {DEPLOY}, "
        "test-warden-containerd-local); nothing was triggered"
    )
    assert "trigger-job" not in fly_commands(concourse)


def test_missing_settings_are_named_before_anything_runs(tmp_path, concourse):
    document, proc = run_role(
        tmp_path,
        role_vars(concourse, pipeline_git_uri=""),
        path_dirs=[DOUBLE.parent],
        env=double_env(concourse),
    )
    assert document["failed"] is True
    assert "set pipeline_git_uri" in proc.stdout, proc.stdout[-3000:]
    assert not (concourse["state"] / "invocations.jsonl").exists()


# -- the template -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab_vars(tmp_path_factory):
    """The template's values as the role computes them from the lab inventory, plus the secrets."""
    folder = tmp_path_factory.mktemp("lab-vars")
    out = folder / "lab-vars.yml"
    playbook = folder / "render.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "hosts": "controller",
                    "gather_facts": False,
                    "tasks": [
                        {
                            # What site.yml passes: the endpoint registry_fix hands on in the lab
                            # (a set_fact wins over the role defaults included next).
                            "name": "the lab's registry endpoint",
                            "ansible.builtin.set_fact": {
                                "pipeline_registry": {
                                    "url": "https://{{ registry_address }}:{{ registry_port }}",
                                    "host_port": "{{ registry_address }}:{{ registry_port }}",
                                    "scheme": "https",
                                    "username": "admin",
                                    "authenticated": True,
                                }
                            },
                        },
                        {
                            "name": "defaults",
                            "ansible.builtin.include_vars": str(PROJECT / "roles/pipeline/defaults/main.yml"),
                        },
                        {
                            "name": "vars",
                            "ansible.builtin.include_vars": str(PROJECT / "roles/pipeline/vars/main.yml"),
                        },
                        {
                            "name": "write",
                            "ansible.builtin.copy": {
                                "content": "{{ __pipeline_template_vars | to_nice_yaml }}",
                                "dest": str(out),
                                "mode": "0600",
                            },
                        },
                    ],
                }
            ]
        )
    )
    proc = subprocess.run(
        [
            str(VENV_BIN / "ansible-playbook"),
            "-i",
            str(LAB_INVENTORY),
            str(playbook),
            "-e",
            f"nested_warden_home={PROJECT}",
        ],
        cwd=PROJECT,
        env={**os.environ, "ANSIBLE_CONFIG": str(PROJECT / "ansible.cfg")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    values = yaml.safe_load(out.read_text())
    values.update(docker_registry_password="secret", docker_registry_ca=CA)
    out.write_text(yaml.safe_dump(values))
    return out


def validate(tmp_path, *args):
    return subprocess.run(
        [sys.executable, str(DOUBLE), "validate-pipeline", *args],
        env={**os.environ, "FLY_DOUBLE_STATE": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_template_passes_strict_validation_with_the_lab_values(tmp_path, lab_vars):
    assert yaml.safe_load(lab_vars.read_text())["docker_registry_host"] == "172.30.77.10:5000"
    proc = validate(tmp_path, "-c", str(TEMPLATE), "--strict", "-l", str(lab_vars))
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "looks good\n", "")


def test_the_lab_values_resolve_every_template_variable(tmp_path, lab_vars):
    proc = validate(tmp_path, "-c", str(TEMPLATE), "-l", str(lab_vars), "-o")
    assert proc.returncode == 0, proc.stderr
    assert "((" not in proc.stdout


def steps(plan):
    for step in plan or []:
        yield step
        for key in ("do", "try", "ensure", "on_success", "on_failure", "on_error", "on_abort"):
            inner = step.get(key)
            yield from steps(inner if isinstance(inner, list) else [inner] if isinstance(inner, dict) else [])
        parallel = step.get("in_parallel")
        yield from steps(parallel.get("steps") if isinstance(parallel, dict) else parallel)


def pipeline_problems(config):
    """Structural problems fly does not report: unknown resources, jobs without a plan, and jobs
    that get a resource they put themselves (the circular get that stuck the seed's build #1)."""
    problems = []
    resources = {r["name"] for r in config["resources"]}
    for job in config["jobs"]:
        if not job.get("plan"):
            problems.append(f"job {job['name']} has no plan")
        puts = {s.get("resource", s["put"]) for s in steps(job.get("plan")) if "put" in s}
        for step in steps(job.get("plan")):
            for kind in ("get", "put"):
                if kind in step and step.get("resource", step[kind]) not in resources:
                    problems.append(f"job {job['name']}: {kind} of undeclared resource {step[kind]}")
            if "get" in step and step.get("resource", step["get"]) in puts:
                problems.append(f"job {job['name']} gets {step['get']}, which it puts itself")
            if "get" in step and job["name"] in step.get("passed", []):
                problems.append(f"job {job['name']} gets {step['get']} passed by itself")
    return problems


def test_template_declares_every_resource_it_uses_and_has_no_circular_get():
    config = yaml.safe_load(TEMPLATE.read_text())
    assert pipeline_problems(config) == []
    jobs = {job["name"]: job for job in config["jobs"]}
    assert set(jobs) == {BUILD, DEPLOY, "test-warden-containerd-local"}
    deploy_image = next(
        s for s in steps(jobs[DEPLOY]["plan"]) if s.get("get") == "warden-cpi-containerd-image"
    )
    assert deploy_image["passed"] == [BUILD]
    option1 = [s for s in steps(jobs["test-warden-containerd-local"]["plan"]) if "task" in s]
    assert len(option1) == 1 and option1[0]["privileged"] is True
    script_text = option1[0]["config"]["run"]["args"][-1]
    for check in ("nested-check preflight", "nested-check containerd", "nested-check workload"):
        assert check in script_text


def test_the_circular_get_of_the_seeds_build_1_is_caught():
    config = yaml.safe_load(TEMPLATE.read_text())
    build = next(job for job in config["jobs"] if job["name"] == BUILD)
    build["plan"].append({"get": "warden-cpi-containerd-image", "trigger": True})
    assert pipeline_problems(config) == [
        f"job {BUILD} gets warden-cpi-containerd-image, which it puts itself"
    ]


def test_registry_settings_come_from_variables_and_insecure_only_from_its_own():
    config = yaml.safe_load(TEMPLATE.read_text())
    image = next(r for r in config["resources"] if r["name"] == "warden-cpi-containerd-image")
    assert image["type"] == "registry-image"
    assert image["source"]["password"] == "((docker_registry_password))"
    assert image["source"]["ca_certs"] == ["((docker_registry_ca))"]
    assert image["source"]["insecure"] == "((docker_registry_insecure))"
    insecure = [
        line
        for line in TEMPLATE.read_text().splitlines()
        if "insecure" in line and not line.strip().startswith("#")
    ]
    assert insecure == ["      insecure: ((docker_registry_insecure))"]
