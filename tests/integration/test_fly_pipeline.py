"""fly_pipeline run for real through ansible-playbook, against tests/doubles/fly.

No fly and no Concourse web node can be installed where this project is tested (the Go module
proxy refuses github.com/concourse/concourse), so every test here runs the module against the
double of fly and of the web node's token endpoint (`fly double-web`). The double's output is
compared below with what the real fly v8.2.5 printed (tests/unit/test_fly_output.py), and its
validate-pipeline with the real one's, recorded in tests/fixtures/fly/validate-pipeline (and run
live as well where a real fly is available: NESTED_WARDEN_REAL_FLY=path).
What only a real Concourse could prove is listed in tests/doubles/README.md.
"""

import importlib.util
import json
import os
import re
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[2]
DOUBLE = PROJECT / "tests" / "doubles" / "fly"
TEMPLATE = PROJECT / "pipelines" / "pipeline-template.yml"
VENV_BIN = Path(sys.executable).parent
PASSWORD = "concourse-Secret-5c1e"
REGISTRY_SECRET = "registry-Secret-a19f"
PIPELINE = "nested"

_spec = importlib.util.spec_from_file_location(
    "fly_output", PROJECT / "tests" / "unit" / "test_fly_output.py"
)
fly_output = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fly_output)
CAPTURED = fly_output.CAPTURED

_spec = importlib.util.spec_from_file_location("golden", PROJECT / "tests" / "tools" / "golden.py")
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)

CONFIG = """\
resources:
  - name: repo
    type: git
    source: {uri: "https://example.com/repo.git", password: ((repo_password))}
  - name: image
    type: registry-image
    source: {repository: ((registry))/image, password: ((registry_password))}
jobs:
  - name: build
    plan:
      - get: repo
        trigger: true
      - task: compile
        config:
          platform: linux
          rootfs_uri: raw:///rootfs
          run: {path: sh, args: [-c, "echo building"]}
      - put: image
  - name: test
    plan:
      - get: image
        passed: [build]
        trigger: true
"""


class World:
    """One Concourse (the double's state), one flyrc home, and a way to run plays against them."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.state = tmp_path / "concourse"
        self.home = tmp_path / "home"
        self.state.mkdir()
        self.home.mkdir()
        self.server({"version": "8.2.5", "users": {"admin": PASSWORD}, "teams": {"main": ["admin"]}})
        self.config = tmp_path / "pipeline.yml"
        self.config.write_text(CONFIG)
        self.vars_file = tmp_path / "vars.yml"
        self.vars_file.write_text("registry: 10.0.0.5:5000\n")
        self.web = None
        self.url = None

    def server(self, settings):
        path = self.state / "server.yml"
        current = yaml.safe_load(path.read_text()) if path.exists() else {}
        path.write_text(yaml.safe_dump({**(current or {}), **settings}))

    def start_web(self):
        self.web = subprocess.Popen(
            [sys.executable, str(DOUBLE), "double-web", "--port", "0"],
            env={**os.environ, "FLY_DOUBLE_STATE": str(self.state)},
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = self.web.stdout.readline().strip()
        assert self.url.startswith("http://127.0.0.1:"), self.url

    def stop_web(self):
        if self.web is not None:
            self.web.terminate()
            self.web.wait(timeout=10)

    def env(self, **extra):
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("FLY_", "FAKE_FLY"))}
        environ.update(
            PATH=os.pathsep.join([str(DOUBLE.parent), str(VENV_BIN), "/usr/bin", "/bin"]),
            ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"),
            FLY_DOUBLE_STATE=str(self.state),
            FLY_HOME=str(self.home),
            **extra,
        )
        return environ

    def args(self, **extra):
        args = {
            "concourse_url": self.url,
            "target": "ci",
            "username": "admin",
            "password": PASSWORD,
            "pipeline": PIPELINE,
            "config": str(self.config),
            "vars": {"registry_password": REGISTRY_SECRET, "repo_password": REGISTRY_SECRET + "-repo"},
            "vars_files": [str(self.vars_file)],
        }
        args.update(extra)
        return {k: v for k, v in args.items() if v is not None}

    def trigger_args(self, job, **extra):
        """A task that triggers job of the pipeline: the connection, and nothing about its config."""
        return self.args(config=None, vars=None, vars_files=None, state="triggered", trigger=job, **extra)

    def play(self, args, *, check=False, diff=False, verbose=False, env=None, defaults=None):
        """Run one fly_pipeline task; `defaults` go to module_defaults of the group fly."""
        out = self.tmp / f"result-{len(list(self.tmp.glob('result-*')))}.json"
        playbook = self.tmp / "play.yml"
        tasks = [
            {
                "name": "fly_pipeline",
                "nested.warden.fly_pipeline": args,
                "register": "result",
                "ignore_errors": True,
            },
            {
                "name": "keep the result",
                "ansible.builtin.copy": {
                    "content": "{{ result | to_json }}",
                    "dest": str(out),
                    "mode": "0600",
                },
                "check_mode": False,
                "diff": False,
            },
        ]
        play = {"hosts": "localhost", "gather_facts": False, "tasks": tasks}
        if defaults:
            play["module_defaults"] = {"group/nested.warden.fly": defaults}
        playbook.write_text(yaml.safe_dump([play]))
        argv = [
            str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
            "-e", f"ansible_python_interpreter={sys.executable}", str(playbook),
        ]  # fmt: skip
        argv += ["--check"] if check else []
        argv += ["--diff"] if diff else []
        argv += ["-vvv"] if verbose else []
        proc = subprocess.run(
            argv,
            cwd=PROJECT,
            env=self.env(**(env or {})),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert out.exists(), proc.stdout + proc.stderr
        return json.loads(out.read_text()), proc

    # -- what the "server" holds and what fly was asked ------------------------------------------

    def pipelines(self):
        path = self.state / "pipelines.json"
        return json.loads(path.read_text()).get("main", {}) if path.exists() else {}

    def calls(self):
        log = self.state / "invocations.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def commands(self):
        """The fly subcommand of every call (after the global -t TARGET)."""
        names = []
        for call in self.calls():
            argv = call["argv"]
            names.append(argv[2] if argv[:1] == ["-t"] else argv[0])
        return names

    def builds(self):
        path = self.state / "builds.json"
        return json.loads(path.read_text()) if path.exists() else []

    def script_job(self, job, **script):
        folder = self.state / "jobs" / PIPELINE
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{job}.yml").write_text(yaml.safe_dump(script))


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    w.start_web()
    yield w
    w.stop_web()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- set, rerun, update --------------------------------------------------------------------------


def test_first_run_validates_logs_in_sets_and_unpauses_the_pipeline(world):
    result, _ = world.play(world.args())
    assert result["changed"] is True, result
    assert (result["created"], result["config_changed"], result["validation"]) == (True, True, "passed")
    assert result["logged_in"] is True
    assert result["state"] == {"exists": True, "paused": False, "public": False}
    assert world.commands() == [
        "validate-pipeline", "login", "pipelines", "set-pipeline", "unpause-pipeline", "pipelines",
    ]  # fmt: skip
    pipeline = world.pipelines()[PIPELINE]
    assert pipeline["paused"] is False
    # The secrets reached Concourse through the vars file...
    assert pipeline["config"]["resources"][1]["source"]["password"] == REGISTRY_SECRET
    assert pipeline["config"]["resources"][1]["source"]["repository"] == "10.0.0.5:5000/image"


def test_secrets_never_reach_a_command_line_and_the_vars_file_is_private_and_removed(world):
    world.play(world.args())
    calls = world.calls()
    everything = json.dumps([c["argv"] for c in calls])
    assert PASSWORD not in everything
    assert REGISTRY_SECRET not in everything
    for token in json.loads((world.state / "tokens.json").read_text()):
        assert token not in everything
    (login,) = [c for c in calls if "login" in c["argv"]]
    assert not {"-p", "--password", "-u", "--username"} & set(login["argv"])
    assert not {"-v", "--var", "-y", "--yaml-var"} & {arg for c in calls for arg in c["argv"]}
    assert login["stdin"] == "pipe"  # the token was typed in at fly's prompt
    (set_call,) = [c for c in calls if "set-pipeline" in c["argv"]]
    assert "-n" in set_call["argv"]
    secret_files = [p for p in set_call["file_modes"] if p != str(world.vars_file)]
    assert len(secret_files) == 1
    assert set_call["file_modes"][secret_files[0]] == "0o600"
    assert not Path(secret_files[0]).exists()
    assert stat.S_IMODE((world.home / ".flyrc").stat().st_mode) == 0o600
    web = [json.loads(line) for line in (world.state / "web.jsonl").read_text().splitlines()]
    assert [w["path"] for w in web] == ["/sky/issuer/token"]
    assert web[0]["form"] == ["grant_type", "password", "scope", "username"]


def test_rerun_without_change_reports_no_change_and_touches_nothing(world):
    world.play(world.args())
    before = len(world.calls())
    result, _ = world.play(world.args())
    assert result["changed"] is False, result
    assert (result["config_changed"], result["created"], result["logged_in"]) == (False, False, False)
    assert result["diff_lines"] == []
    assert world.commands()[before:] == ["validate-pipeline", "status", "pipelines", "set-pipeline"]


def test_update_reports_the_change_with_flys_diff_and_masks_the_secrets(world):
    world.play(world.args())
    world.vars_file.write_text("registry: 10.0.0.6:5000\n")
    result, proc = world.play(world.args(vars={"registry_password": REGISTRY_SECRET + "-new"}), diff=True)
    assert result["changed"] is True
    assert (result["config_changed"], result["created"]) == (True, False)
    assert "  resource image has changed:" in result["diff_lines"]
    assert "-   repository: 10.0.0.5:5000/image" in result["diff_lines"]
    assert "+   repository: 10.0.0.6:5000/image" in result["diff_lines"]
    prepared = result["diff"][0]["prepared"]
    assert "+   repository: 10.0.0.6:5000/image" in prepared
    assert "\x1b" not in prepared and "\b" not in prepared
    assert REGISTRY_SECRET not in proc.stdout + json.dumps(result)
    assert "+   password: ********" in result["diff_lines"]


def test_check_mode_reports_a_new_pipeline_and_applies_nothing(world):
    result, _ = world.play(world.args(), check=True)
    assert result["changed"] is True
    assert result["created"] is True
    assert result["state"] == {"exists": True, "paused": False, "public": False}
    assert world.pipelines() == {}
    (set_call,) = [c for c in world.calls() if "set-pipeline" in c["argv"]]
    assert "--dry-run" in set_call["argv"]
    assert "unpause-pipeline" not in world.commands()


def test_check_mode_on_an_unchanged_pipeline_reports_no_change(world):
    world.play(world.args())
    result, _ = world.play(world.args(), check=True)
    assert result["changed"] is False, result


# -- pause, expose, destroy -------------------------------------------------------------------------


def test_pause_unpause_and_expose_are_idempotent(world):
    world.play(world.args())
    paused, _ = world.play(world.args(paused=True))
    assert paused["changed"] is True and world.pipelines()[PIPELINE]["paused"] is True
    again, _ = world.play(world.args(paused=True))
    assert again["changed"] is False
    exposed, _ = world.play(world.args(paused=True, exposed=True))
    assert exposed["changed"] is True and world.pipelines()[PIPELINE]["public"] is True
    before = len(world.calls())
    same, _ = world.play(world.args(paused=True, exposed=True))
    assert same["changed"] is False
    assert not {"pause-pipeline", "expose-pipeline"} & set(world.commands()[before:])
    hidden, _ = world.play(world.args(paused=False, exposed=False))
    assert hidden["changed"] is True
    assert (world.pipelines()[PIPELINE]["paused"], world.pipelines()[PIPELINE]["public"]) == (False, False)


def test_destroy_twice_is_changed_then_unchanged_without_error(world):
    world.play(world.args())
    first, _ = world.play(world.args(state="absent", config=None), diff=True)
    assert first["changed"] is True, first
    assert first["diff"]["before"] == "paused: false\npublic: false\n"
    assert world.pipelines() == {}
    second, _ = world.play(world.args(state="absent", config=None))
    assert second["changed"] is False
    assert second.get("failed") is not True
    assert world.commands().count("destroy-pipeline") == 1


# -- logging in and failing clearly ---------------------------------------------------------------


def test_wrong_password_fails_without_showing_the_password_even_at_vvv(world):
    wrong = "Wrong-Password-0d3b"
    result, proc = world.play(world.args(password=wrong), verbose=True)
    assert result["failed"] is True
    assert result["error_kind"] == "login_rejected"
    assert result["msg"] == (
        f"Concourse at {world.url} rejected the login of user 'admin': Invalid username or password"
    )
    assert wrong not in proc.stdout + proc.stderr
    assert "login" not in world.commands()


def test_valid_token_in_the_flyrc_means_no_new_login(world):
    world.play(world.args())
    result, _ = world.play(world.args(username=None, password=None))
    assert result["logged_in"] is False
    assert result.get("failed") is not True


def test_expired_token_without_credentials_says_what_to_set(world):
    world.play(world.args())
    (world.state / "tokens.json").write_text("{}")
    result, _ = world.play(world.args(username=None, password=None))
    assert result["error_kind"] == "not_logged_in"
    assert result["msg"] == (
        "target 'ci' has no valid token (please login again. token validation failed with error: "
        "not authorized); set username and password so the module can log in"
    )


def test_unreachable_concourse_is_a_clear_error(world):
    url = f"http://127.0.0.1:{free_port()}"
    result, _ = world.play(world.args(concourse_url=url))
    assert result["error_kind"] == "unreachable"
    assert result["msg"].startswith(f"Concourse at {url} is unreachable: ")
    assert "Connection refused" in result["msg"]


def test_unreachable_server_of_a_saved_target_is_reported_from_flys_message(world):
    world.play(world.args())
    world.server({"reachable": False})
    result, _ = world.play(world.args(username=None, password=None))
    assert result["error_kind"] == "unreachable"
    assert result["msg"].startswith(
        f"fly status failed: the Concourse server of target 'ci' ({world.url}) is unreachable"
    )


def test_version_mismatch_names_the_matching_fly_download(world):
    world.server({"version": "7.14.0"})
    result, _ = world.play(world.args())
    assert result["error_kind"] == "version_mismatch"
    assert "fly 8.2.5 and Concourse 7.14.0 differ in their major or minor version" in result["msg"]
    assert f"{world.url}/api/v1/cli?arch=amd64&platform=linux" in result["msg"]
    assert world.pipelines() == {}


def test_invalid_config_fails_with_flys_message_before_anything_is_set(world):
    world.config.write_text(CONFIG.replace("- get: image\n", "- get: imag\n"))
    result, _ = world.play(world.args())
    assert result["error_kind"] == "invalid_config"
    assert "jobs.test.plan.do[0].get(imag): unknown resource 'imag'" in result["msg"]
    assert "configuration invalid" in result["msg"]
    assert world.commands() == ["validate-pipeline"]


def test_missing_fly_says_where_to_download_it(world, tmp_path):
    result, _ = world.play(world.args(executable=str(tmp_path / "no-fly")))
    assert result["error_kind"] == "not_installed"
    assert "was not found or is not executable" in result["msg"]


# -- trigger and watch ------------------------------------------------------------------------------

CONNECTION = ("concourse_url", "target", "username", "password")


@pytest.mark.parametrize(
    ("status", "exit_status", "code"),
    [("succeeded", 0, 0), ("failed", 0, 1), ("failed", 5, 5), ("errored", 0, 2), ("aborted", 0, 3)],
)
def test_trigger_and_watch_map_the_build_outcome(world, status, exit_status, code):
    world.play(world.args())
    world.script_job(
        "build", status=status, exit_status=exit_status, log="step one\nstep two\n", error="no worker"
    )
    result, _ = world.play(world.trigger_args("build", watch=True, timeout=60))
    build = result["build"]
    assert (build["status"], build["exit_code"], build["triggered"], build["name"]) == (
        status,
        code,
        True,
        "1",
    )
    assert isinstance(build["id"], int)
    assert build["log_tail"][-2:] == (
        ["step one", "step two"] if status != "errored" else ["step two", "no worker"]
    )
    if status == "succeeded":
        assert result.get("failed") is not True
        assert build["exit_code_meaning"] == "fly exits 0 for a build that succeeds"
    else:
        assert result["failed"] is True
        assert result["error_kind"] == f"build_{status}"
        assert result["msg"].startswith(
            f"build {PIPELINE}/build #1 {status} (fly exit code {code}); last lines"
        )
        assert "step two" in result["msg"]


def test_trigger_runs_no_set_pipeline_pause_or_expose(world):
    world.play(world.args(exposed=True))
    before = len(world.calls())
    result, _ = world.play(world.trigger_args("build", watch=True))
    assert result["changed"] is True, result
    assert result["state"] == {"exists": True, "paused": False, "public": True}
    assert "validation" not in result and "diff_lines" not in result
    assert world.commands()[before:] == ["status", "pipelines", "get-pipeline", "trigger-job", "builds"]
    (get,) = [c["argv"] for c in world.calls()[before:] if "get-pipeline" in c["argv"]]
    assert get == ["-t", "ci", "get-pipeline", "-p", PIPELINE, "--json"]
    (trigger,) = [c["argv"] for c in world.calls()[before:] if "trigger-job" in c["argv"]]
    assert trigger == ["-t", "ci", "trigger-job", "-j", f"{PIPELINE}/build", "-w"]


ABORT_ARGV = ["-t", "ci", "abort-build", "-j", f"{PIPELINE}/build", "-b", "1"]


def test_watch_timeout_aborts_the_build_and_says_so(world):
    world.play(world.args())
    world.script_job("build", hold=True, log="compiling\n")
    before = len(world.calls())
    result, _ = world.play(world.trigger_args("build", watch=True, timeout=3))
    assert result["failed"] is True
    assert result["error_kind"] == "timeout"
    build = result["build"]
    assert (build["timed_out"], build["aborted"], build["status"]) == (True, True, "aborted")
    assert isinstance(build["end_time"], int)
    assert "exit_code" not in build
    assert result["msg"] == (
        f"build {PIPELINE}/build #1 was still started after the timeout of 3s and was aborted "
        f"(fly -t ci abort-build -j {PIPELINE}/build -b 1)"
    )
    assert build["log_tail"][-1] == "compiling"
    # Aborted as fly aborts one, then re-read; a started build needs no look at the workers.
    assert world.commands()[before:] == ["status", "pipelines", "get-pipeline", "trigger-job", "builds",
                                         "abort-build", "builds"]  # fmt: skip
    (abort,) = [c["argv"] for c in world.calls() if "abort-build" in c["argv"]]
    assert abort == ABORT_ARGV
    assert [b["status"] for b in world.builds()] == ["aborted"]


def test_watch_timeout_without_abort_detaches_and_says_the_build_is_still_running(world):
    world.play(world.args())
    world.script_job("build", hold=True, log="compiling\n")
    result, _ = world.play(world.trigger_args("build", watch=True, timeout=3, abort_on_timeout=False))
    assert result["error_kind"] == "timeout"
    assert (result["build"]["timed_out"], result["build"]["aborted"]) == (True, False)
    assert result["build"]["status"] == "started"
    assert result["msg"] == (
        f"stopped watching build {PIPELINE}/build #1 after the timeout of 3s; the build is still started in "
        f"Concourse (re-attach with: fly -t ci watch -j {PIPELINE}/build -b 1)"
    )
    assert result["build"]["log_tail"][-1] == "compiling"
    assert "abort-build" not in world.commands()
    assert [b["status"] for b in world.builds()] == ["started"]


def test_check_mode_aborts_nothing(world):
    world.play(world.args())
    world.script_job("build", hold=True)
    world.play(world.trigger_args("build", watch=True, timeout=2, abort_on_timeout=False))
    before = len(world.calls())
    result, _ = world.play(world.trigger_args("build", watch=True, timeout=2), check=True)
    assert result["changed"] is True
    assert result.get("failed") is not True
    assert result["build"] == {"job": "build", "triggered": False, "watched": True}
    assert world.commands()[before:] == ["status", "pipelines", "get-pipeline"]
    assert [b["status"] for b in world.builds()] == ["started"]  # the build left running stays so


def test_trigger_without_watch_returns_the_pending_or_finished_build(world):
    world.play(world.args())
    result, _ = world.play(world.trigger_args("build"))
    assert result["changed"] is True
    assert result["build"]["triggered"] is True
    assert result["build"]["status"] == "succeeded"
    assert "exit_code" not in result["build"]
    assert "-w" not in next(c["argv"] for c in world.calls() if "trigger-job" in c["argv"])


@pytest.mark.parametrize("watch", [True, False])
def test_trigger_of_a_paused_pipeline_is_refused_instead_of_leaving_a_pending_build(world, watch):
    world.play(world.args(paused=True))
    before = world.pipelines()
    result, _ = world.play(world.trigger_args("build", watch=watch))
    assert result["failed"] is True
    assert result["error_kind"] == "paused"
    assert result["msg"] == (
        f"pipeline {PIPELINE} is paused, so a build of build would stay pending until the pipeline is "
        f"unpaused{' and watching it would only wait for the timeout' if watch else ''}; unpause it first "
        f"(state=present with paused: false, or fly -t ci unpause-pipeline -p {PIPELINE}); "
        "nothing was triggered"
    )
    assert result["state"] == {"exists": True, "paused": True, "public": False}
    assert "trigger-job" not in world.commands()
    assert (world.builds(), world.pipelines()) == ([], before)


@pytest.mark.parametrize("check", [False, True])
def test_trigger_of_a_missing_job_fails_naming_the_jobs_and_changes_nothing(world, check):
    world.play(world.args())
    before = world.pipelines()
    result, _ = world.play(world.trigger_args("deploy", watch=True), check=check)
    assert result["failed"] is True
    assert result["error_kind"] == "job_not_found"
    assert (
        result["msg"]
        == f"pipeline {PIPELINE} has no job deploy (its jobs: build, test); nothing was triggered"
    )
    assert "trigger-job" not in world.commands()
    assert (world.builds(), world.pipelines()) == ([], before)


@pytest.mark.parametrize("check", [False, True])
def test_trigger_of_a_missing_pipeline_fails_and_changes_nothing(world, check):
    result, _ = world.play(world.trigger_args("build", watch=True), check=check)
    assert result["failed"] is True
    assert result["error_kind"] == "pipeline_not_found"
    assert result["msg"] == (
        f"pipeline {PIPELINE} does not exist in team main of {world.url}, so there is no job build to "
        "trigger; set it first (state=present with its config)"
    )
    assert result["state"] == {"exists": False}
    assert world.commands() == ["login", "pipelines"]
    assert (world.builds(), world.pipelines()) == ([], {})


def test_trigger_of_a_job_closed_to_manual_triggers_is_refused(world):
    world.config.write_text(
        CONFIG.replace("  - name: test\n", "  - name: test\n    disable_manual_trigger: true\n")
    )
    world.play(world.args())
    result, _ = world.play(world.trigger_args("test"))
    assert result["error_kind"] == "manual_trigger_disabled"
    assert result["msg"] == (
        f"job test of pipeline {PIPELINE} has disable_manual_trigger: true, so Concourse refuses to trigger "
        "it by hand; nothing was triggered"
    )
    assert world.builds() == []


def test_check_mode_predicts_the_trigger_and_triggers_nothing(world):
    world.play(world.args())
    before = len(world.calls())
    result, _ = world.play(world.trigger_args("build", watch=True), check=True)
    assert result["changed"] is True
    assert result.get("failed") is not True
    assert result["build"] == {"job": "build", "triggered": False, "watched": True}
    assert world.commands()[before:] == ["status", "pipelines", "get-pipeline"]
    assert world.builds() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            {"trigger": "build"},
            "trigger needs state=triggered (got state=present): set the pipeline with state=present, then "
            "trigger its job in another task with state=triggered",
        ),
        (
            {"state": "triggered", "trigger": "build"},
            "state=triggered runs a job of the pipeline as Concourse holds it; config, vars, vars_files "
            "belong to state=present (set the pipeline in a task before)",
        ),
        (
            {"state": "triggered", "config": None, "vars": None, "vars_files": None, "trigger": " "},
            "state=triggered needs trigger, the name of a job of the pipeline (got ' ')",
        ),
        ({"pipeline": ""}, "pipeline must not be empty"),
        ({"watch": True}, "watch needs state=triggered and trigger (the job to run)"),
    ],
)
def test_parameters_are_checked_before_fly_runs_at_all(world, args, message):
    result, _ = world.play(world.args(**args))
    assert result["failed"] is True
    assert result["msg"] == message
    assert world.calls() == []


def test_connection_given_once_through_module_defaults_keeps_the_password_masked(world):
    connection = {key: value for key, value in world.args().items() if key in CONNECTION}
    set_result, proc = world.play(
        {k: v for k, v in world.args().items() if k not in CONNECTION}, defaults=connection, verbose=True
    )
    assert set_result["changed"] is True and set_result["logged_in"] is True, set_result
    (world.state / "tokens.json").write_text("{}")  # the trigger has to log in again, from the defaults
    result, proc2 = world.play(
        {k: v for k, v in world.trigger_args("build").items() if k not in CONNECTION},
        defaults=connection,
        verbose=True,
    )
    assert (result["changed"], result["logged_in"], result["build"]["triggered"]) == (True, True, True), (
        result
    )
    for output in (proc, proc2):
        assert PASSWORD not in output.stdout + output.stderr
        assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in output.stdout  # the invocation shows it masked


# -- the double, compared with the real fly ---------------------------------------------------------


def double(state, home, *args, stdin=subprocess.DEVNULL, env=None):
    return subprocess.run(
        [sys.executable, str(DOUBLE), *args],
        env={**os.environ, "FLY_DOUBLE_STATE": str(state), "FLY_HOME": str(home), **(env or {})},
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def logged_in_double(tmp_path, target, url, server=""):
    """The double's state (server.yml: url, then server's lines) and a flyrc home whose target is
    logged in to it as admin (token tok)."""
    state, home = tmp_path / "state", tmp_path / "home"
    state.mkdir()
    home.mkdir()
    (state / "server.yml").write_text(f"url: {url}\n{server}")
    (state / "tokens.json").write_text('{"tok": "admin"}')
    (home / ".flyrc").write_text(
        f"targets:\n  {target}:\n    api: {url}\n    team: main\n    token: {{type: bearer, value: tok}}\n"
    )
    return state, home


def normalise(text, url):
    text = text.replace("/tmp/realfly/fly", "FLY").replace(str(DOUBLE), "FLY")
    text = re.sub(r"fly_port=\d+", "fly_port=N", text)
    return text.replace(url, "URL")


@pytest.fixture
def replay(tmp_path):
    """A double with the same server URL, user and token as the captures."""
    state, home = tmp_path / "state", tmp_path / "home"
    state.mkdir()
    home.mkdir()
    (state / "server.yml").write_text("url: http://127.0.0.1:18200\nusers: {admin: good}\n")
    (state / "tokens.json").write_text('{"tok-abc123": "admin"}')
    for name, text in {
        "p4.yml": "resources:\n- name: img\n  type: registry-image\n  source: {repository: x}\n"
        "jobs:\n- name: build\n"
        "  plan:\n  - get: img\n  - put: img\n- name: test\n  plan:\n  - get: img\n    passed: [build]\n"
        "    trigger: true\n",
        "badres.yml": "resources:\n- name: repo\n  type: git\n  source: {uri: x}\n"
        "jobs:\n- name: build\n  plan:\n"
        "  - get: nope\n  - put: other\n- name: empty\n",
        "unknownkey.yml": "resources:\n- name: repo\n  type: git\n  source: {uri: x}\n  bogus_key: 1\njobs:\n"
        "- name: build\n  plan:\n  - get: repo\nextra_top: 1\n",
    }.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "p4b.yml").write_text(
        (tmp_path / "p4.yml").read_text().replace("repository: x", "repository: other")
    )
    return state, home, tmp_path


@pytest.mark.parametrize(
    "sequence",
    [
        [
            "login_token",
            "set_dry_run_new",
            "set_without_n",
            "set_created",
            "set_unchanged",
            "set_updated_no_color",
        ],
        ["login_token", "pause_missing", "trigger_missing", "destroy_missing", "unknown_target"],
        ["login_token", "set_created", "trigger"],
        ["login_token", "set_created", "get_pipeline", "get_pipeline_missing", "get_pipeline_slash"],
        ["login_bad_token"],
        ["validate_invalid", "validate_unknown_key"],
    ],
)
def test_double_prints_what_the_real_fly_printed(replay, sequence):
    state, home, folder = replay
    url = "http://127.0.0.1:18200"
    for key in sequence:
        capture = CAPTURED[key]
        data = None
        if "login" in capture["argv"]:
            data = "bearer tok-abc123\r" if key == "login_token" else "bearer wrong\r"
        proc = subprocess.run(
            [sys.executable, str(DOUBLE), *capture["argv"]],
            env={**os.environ, "FLY_DOUBLE_STATE": str(state), "FLY_HOME": str(home)},
            input=data.encode() if data else None,
            stdin=subprocess.DEVNULL if data is None else None,
            capture_output=True,
            timeout=60,
            check=False,
            cwd=folder,
        )
        assert proc.returncode == capture["rc"], key
        assert normalise(proc.stdout.decode(), url) == normalise(capture["stdout"], url), key
        assert normalise(proc.stderr.decode(), url) == normalise(capture["stderr"], url), key


@pytest.mark.parametrize("name", sorted(fly_output.GET_PIPELINE_CONFIGS))
def test_double_get_pipeline_json_matches_the_real_fly(replay, name):
    """The config a Concourse holds, as the real fly printed it: Go's field order and escaping."""
    state, home, _ = replay
    (home / ".flyrc").write_text(
        "targets:\n  ci:\n    api: http://127.0.0.1:18200\n    team: main\n"
        "    token: {type: bearer, value: tok-abc123}\n"
    )
    config = yaml.safe_load(fly_output.GET_PIPELINE_CONFIGS[name])
    held = {"id": 1, "config": config, "paused": False, "public": False, "archived": False}
    (state / "pipelines.json").write_text(json.dumps({"main": {name: held}}))
    capture = CAPTURED[f"get_pipeline_{name}"]
    proc = double(state, home, *capture["argv"])
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        capture["rc"],
        capture["stdout"],
        capture["stderr"],
    )


@pytest.mark.parametrize("outcome", ["succeeded_0", "failed_0", "failed_7", "errored_0", "aborted_0"])
def test_double_watch_output_and_exit_code_match_the_real_fly(tmp_path, outcome):
    status, exit_status = outcome.rsplit("_", 1)
    state, home = logged_in_double(tmp_path, "w", "http://127.0.0.1:18201")
    (state / "jobs" / "demo").mkdir(parents=True)
    (tmp_path / "pw.yml").write_text(
        "jobs:\n- name: build\n  plan:\n  - task: t\n    config:\n      platform: linux\n"
        "      rootfs_uri: raw:///x\n      run: {path: sh, args: [-c, echo hi]}\n"
    )
    (state / "jobs" / "demo" / "build.yml").write_text(
        yaml.safe_dump(
            {
                "status": status,
                "exit_status": int(exit_status),
                "log": "hello from the task\nline two\n",
                "error": "something broke",
            }
        )
    )
    assert (
        double(
            state, home, "-t", "w", "set-pipeline", "-n", "-p", "demo", "-c", str(tmp_path / "pw.yml")
        ).returncode
        == 0
    )
    assert double(state, home, "-t", "w", "unpause-pipeline", "-p", "demo").returncode == 0
    proc = double(state, home, "-t", "w", "trigger-job", "-j", "demo/build", "-w")
    capture = CAPTURED[f"watch_{outcome}"]
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        capture["rc"],
        capture["stdout"],
        capture["stderr"],
    )


def test_double_version_mismatch_matches_the_real_fly(tmp_path):
    state, home = tmp_path / "state", tmp_path / "home"
    state.mkdir()
    home.mkdir()
    (state / "server.yml").write_text("url: http://127.0.0.1:18202\nversion: 7.14.0\n")
    (home / ".flyrc").write_text("targets:\n  v:\n    api: http://127.0.0.1:18202\n    team: main\n")
    proc = double(state, home, "-t", "v", "pipelines", "--json", env={"FAKE_FLY_VERSION": "8.2.5"})
    capture = CAPTURED["version_mismatch"]
    assert proc.returncode == capture["rc"]
    assert normalise(proc.stderr, "") == normalise(capture["stderr"], "")


REAL_FLY = os.environ.get("NESTED_WARDEN_REAL_FLY", "")
REAL_FLY = REAL_FLY if REAL_FLY and os.access(REAL_FLY, os.X_OK) else ""
FLY_GOLDEN = PROJECT / "tests" / "fixtures" / "fly" / "validate-pipeline"
VALIDATE_CONFIGS = {
    "template.yml": TEMPLATE,
    "module.yml": CONFIG,
    "unknown-resource.yml": CONFIG.replace("- get: image\n", "- get: imag\n"),
    "unknown-key.yml": CONFIG + "extra: 1\n",
    "no-jobs.yml": "resources: []\n",
    "nested.yml": "resources:\n- name: r\n  type: git\n  source: {}\njobs:\n- name: j\n  plan:\n"
    "  - in_parallel:\n    - get: r\n    - get: x\n  - try: {put: out}\n  - do: [{task: t}]\n",
}


@pytest.mark.parametrize("strict", [False, True])
def test_double_validate_pipeline_matches_a_real_fly(tmp_path, strict):
    """validate-pipeline on several configs, the pipeline template included: the double prints
    what the real fly printed (the golden file), and what a real fly prints live where one is given
    (NESTED_WARDEN_REAL_FLY). $TMP stands for the test's temporary directory in both."""
    inputs = {}
    for name, spec in VALIDATE_CONFIGS.items():
        if isinstance(spec, Path):
            (tmp_path / name).write_text(spec.read_text())
            inputs[name] = golden.file_input(spec)
        else:
            (tmp_path / name).write_text(spec)
            inputs[name] = spec
    flags = ["--strict"] if strict else []
    normalise = golden.Normaliser([(tmp_path, "$TMP"), (PROJECT, "$PROJECT")])

    def run(fly):
        results = {}
        for name in VALIDATE_CONFIGS:
            proc = fly("validate-pipeline", "-c", str(tmp_path / name), *flags)
            results[name] = {
                "exit_code": proc.returncode,
                "stdout": normalise(proc.stdout),
                "stderr": normalise(proc.stderr),
            }
            used = {key: normalise.used(getattr(proc, key)) for key in ("stdout", "stderr")}
            if any(used.values()):
                results[name]["normalised"] = {key: value for key, value in used.items() if value}
        return results

    def live():
        def real(*argv):
            return subprocess.run([REAL_FLY, *argv], capture_output=True, text=True, timeout=60, check=False)

        return {"argv": ["fly", "validate-pipeline", "-c", "$TMP/<config>", *flags], "results": run(real)}

    path = FLY_GOLDEN / f"{'strict' if strict else 'default'}.yml"
    where = golden.relative(path)
    if golden.recording("fly"):
        if not REAL_FLY:
            pytest.fail("recording golden files needs a real fly: set NESTED_WARDEN_REAL_FLY")
        record = live()
        what = f"the real `fly validate-pipeline{' --strict' if strict else ''}` on each config below"
        golden.write(path, {"inputs": inputs, **record}, what)
        refs = [(f"the real fly {REAL_FLY}, recorded into {where}", record)]
    else:
        recorded = golden.load(path, inputs, golden.how_to_record("fly", "NESTED_WARDEN_REAL_FLY"))
        refs = [(f"golden file {where}", recorded)]
        if REAL_FLY:
            refs.append((f"the real fly {REAL_FLY}, live", live()))
    mine = run(lambda *argv: double(tmp_path, tmp_path, *argv))
    fields = ("exit_code", "stdout", "stderr")
    for source, reference in refs:
        for name in VALIDATE_CONFIGS:
            expected = {key: reference["results"][name][key] for key in fields}
            assert {key: mine[name][key] for key in fields} == expected, f"{name}: {source}"


# -- the double's server side: what a real Concourse does with a config and a build ---------------

NORMALIZED_CONFIG = """\
resources:
  - name: repo
    type: git
    source: {uri: "https://example.com/repo.git"}
jobs:
  - name: build
    plan:
      - in_parallel:
          - get: repo
      - task: compile
        config:
          platform: linux
          image_resource: {type: registry-image, source: {repository: busybox}}
          run:
            path: sh
            args:
              - -c
              - |
                echo one
                echo two
"""


def test_diff_shows_the_config_as_the_server_normalizes_it(world):
    world.config.write_text(NORMALIZED_CONFIG)
    result, _ = world.play(world.args(vars=None, vars_files=None))
    assert result["created"] is True, result
    lines = [line.lstrip("\b ").removeprefix("+ ").strip() for line in result["diff_lines"]]
    assert "- in_parallel:" in lines, lines  # the list form, as {steps: [...]}
    assert "steps:" in lines
    assert 'name: ""' in lines, "\n".join(lines)  # an image_resource without a name
    assert "- |" in lines  # a block scalar stays a block scalar
    # The same pipeline with in_parallel written as {steps: [...]} is no change to the server.
    world.config.write_text(
        NORMALIZED_CONFIG.replace(
            "- in_parallel:\n          - get: repo\n", "- in_parallel: {steps: [{get: repo}]}\n"
        )
    )
    result, _ = world.play(world.args(vars=None, vars_files=None))
    assert result.get("config_changed") is False, result


@pytest.mark.parametrize(
    ("workers", "named"),
    [
        ([], "none"),
        (
            [
                {"name": "worker-0", "state": "stalled"},
                {"name": "worker-1", "state": "landed", "tags": ["x"]},
            ],
            "worker-0 (stalled), worker-1 (landed)",
        ),
    ],
)
def test_a_build_pending_at_the_timeout_without_a_running_worker_is_aborted_naming_the_workers(
    world, workers, named
):
    world.play(world.args())
    world.server({"workers": workers})
    before = len(world.calls())
    result, _ = world.play(world.trigger_args("build", watch=True, timeout=2))
    assert result["failed"] is True
    assert result["error_kind"] == "no_worker"
    build = result["build"]
    assert (build["timed_out"], build["aborted"], build["status"]) == (True, True, "aborted")
    assert "exit_code" not in build  # fly's 2 on detaching says nothing about the build
    assert result["msg"] == (
        f"build {PIPELINE}/build #1 was still pending after the timeout of 2s and was aborted "
        f"(fly -t ci abort-build -j {PIPELINE}/build -b 1); no running worker: {named}; start a worker "
        "(or fix it) and run again"
    )
    assert world.commands()[before:][-4:] == ["builds", "workers", "abort-build", "builds"]
    (listed,) = [c["argv"] for c in world.calls() if "workers" in c["argv"]]
    assert listed == ["-t", "ci", "workers", "--json"]
    assert [b["status"] for b in world.builds()] == ["aborted"]


def test_a_build_pending_without_a_running_worker_is_left_pending_without_abort(world):
    world.play(world.args())
    world.server({"workers": [{"name": "worker-0", "state": "stalled"}]})
    result, _ = world.play(world.trigger_args("build", watch=True, timeout=2, abort_on_timeout=False))
    assert result["error_kind"] == "no_worker"
    assert (result["build"]["status"], result["build"]["aborted"]) == ("pending", False)
    assert result["msg"] == (
        f"stopped watching build {PIPELINE}/build #1 after the timeout of 2s; the build is still pending in "
        f"Concourse (re-attach with: fly -t ci watch -j {PIPELINE}/build -b 1); no running worker: "
        "worker-0 (stalled); start a worker (or fix it) and run again"
    )
    assert "abort-build" not in world.commands()
    assert [b["status"] for b in world.builds()] == ["pending"]


def test_worker_names_in_the_message_keep_secrets_out(world):
    world.play(world.args())
    world.server({"workers": [{"name": f"w-{PASSWORD}", "state": "stalled"}]})
    result, proc = world.play(world.trigger_args("build", watch=True, timeout=2), verbose=True)
    assert result["error_kind"] == "no_worker"
    assert "no running worker: w-******** (stalled)" in result["msg"]
    assert PASSWORD not in json.dumps(result) + proc.stdout + proc.stderr


def test_double_abort_build_and_workers_follow_fly(tmp_path):
    """abort-build and workers --json as fly/commands/abort_build.go and workers.go print them."""
    state, home = logged_in_double(
        tmp_path, "a", "http://127.0.0.1:18203",
        "users: {admin: pw}\nworkers:\n- {name: w1, state: landed, team: main}\n"
        "- {name: w0, state: running, tags: [nested]}\n- {name: other, state: running, team: other}\n",
    )  # fmt: skip
    job = {"team_name": "main", "job_name": "build", "pipeline_name": "p"}
    builds = [
        {"id": 7, "name": "1", "status": "started", **job},
        {"id": 8, "name": "2", "status": "succeeded", **job},
    ]
    (state / "builds.json").write_text(json.dumps(builds))
    proc = double(state, home, "-t", "a", "abort-build", "-j", "p/build", "-b", "1")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "build successfully aborted\n", "")
    proc = double(state, home, "-t", "a", "ab", "-b", "8")  # by id; an ended build stays as it was
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "build successfully aborted\n", "")
    assert [b["status"] for b in json.loads((state / "builds.json").read_text())] == ["aborted", "succeeded"]
    for argv in (["-j", "p/build", "-b", "9"], ["-j", "q/build", "-b", "1"], ["-b", "99"]):
        proc = double(state, home, "-t", "a", "abort-build", *argv)
        assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", "error: build does not exist\n")
    proc = double(state, home, "-t", "a", "abort-build", "-j", "p/build")
    assert (proc.returncode, proc.stderr) == (1, "error: the required flag `-b, --build' was not specified\n")

    proc = double(state, home, "-t", "a", "workers", "--json")
    assert proc.returncode == 0, proc.stderr
    workers = json.loads(proc.stdout)
    assert [(w["name"], w["state"], w["team"], w["tags"]) for w in workers] == [
        ("w1", "landed", "main", None),
        ("w0", "running", "", ["nested"]),
    ]  # the other team's worker is not visible to main
    assert list(workers[0]) == [
        "addr", "baggageclaim_url", "active_containers", "active_volumes", "active_tasks", "resource_types",
        "platform", "tags", "team", "name", "version", "start_time", "ephemeral", "state",
    ]  # fmt: skip
    assert (workers[0]["addr"], workers[1]["addr"]) == ("", "127.0.0.1:7777")  # a landed worker has none


# Recorded from the real fly 8.2.5 against the real Concourse 8.2.5 in the VM lab (probe pipeline:
# one job whose only input never has a version, so its build stays pending until aborted); see
# tests/fixtures/fly/real-concourse/README.md.
REAL_CONCOURSE = PROJECT / "tests" / "fixtures" / "fly" / "real-concourse"
REAL_FAILURES = json.loads((REAL_CONCOURSE / "failure-paths.json").read_text())
REAL_RESULTS = json.loads((REAL_CONCOURSE / "fly-pipeline-results.json").read_text())
PROBE_PIPELINE = (
    "jobs:\n- name: waits\n  plan:\n  - task: t\n"
    "    config: {platform: linux, rootfs_uri: raw:///x, run: {path: x}}\n"
)


@pytest.fixture
def probe_concourse(tmp_path):
    """The double as the real Concourse was: its URL, user admin, pipeline probe with job waits
    and build 1 ended (aborted), logged in as target probe."""
    state, home = logged_in_double(tmp_path, "probe", "http://127.0.0.1:8078", "users: {admin: good}\n")
    (state / "jobs" / "probe").mkdir(parents=True)
    (tmp_path / "probe.yml").write_text(PROBE_PIPELINE)
    for argv in (
        ["set-pipeline", "-n", "-p", "probe", "-c", str(tmp_path / "probe.yml")],
        ["unpause-pipeline", "-p", "probe"],
    ):
        assert double(state, home, "-t", "probe", *argv).returncode == 0
    (state / "jobs" / "probe" / "waits.yml").write_text("status: aborted\n")
    assert double(state, home, "-t", "probe", "trigger-job", "-j", "probe/waits").returncode == 0
    return state, home


@pytest.mark.parametrize("name", ["abort_build_ended", "abort_build_missing", "login_wrong_password"])
def test_double_failure_paths_print_what_the_real_concourse_printed(probe_concourse, name):
    state, home = probe_concourse
    real = REAL_FAILURES[name]
    proc = double(state, home, *real["argv"])
    assert (proc.returncode, proc.stdout, proc.stderr) == (real["rc"], real["stdout"], real["stderr"])


def test_double_watch_of_a_build_aborted_meanwhile_prints_what_the_real_fly_printed(probe_concourse):
    state, home = probe_concourse
    real = REAL_FAILURES["trigger_job_watch_aborted"]
    # Pending, as the real one was (its input never had a version): here, no running worker.
    (state / "server.yml").write_text("url: http://127.0.0.1:8078\nusers: {admin: good}\nworkers: []\n")
    (state / "jobs" / "probe" / "waits.yml").write_text("hold: true\n")
    watch = subprocess.Popen(
        [sys.executable, str(DOUBLE), *real["argv"]],
        env={**os.environ, "FLY_DOUBLE_STATE": str(state), "FLY_HOME": str(home)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watch.stdout.readline() == "started probe/waits #2\n"
        assert (
            double(state, home, "-t", "probe", "abort-build", "-j", "probe/waits", "-b", "2").returncode == 0
        )
        watch.wait(timeout=60)
        rest, stderr = watch.stdout.read(), watch.stderr.read()  # after readline's buffer, not beside it
    finally:
        watch.kill()
    # The real build was #4 (three had run before it); the rest is fly's, byte for byte.
    assert ("started probe/waits #2\n" + rest, stderr, watch.returncode) == (
        real["stdout"].replace("#4", "#2"),
        real["stderr"],
        real["rc"],
    )
    # The aborted build as `builds --json` shows it: the real one had never started (no start_time).
    listed = double(state, home, "-t", "probe", "builds", "-j", "probe/waits", "--json", "-c", "1")
    (real_build,) = json.loads((REAL_CONCOURSE / "builds-aborted.json").read_text())
    (double_build,) = json.loads(listed.stdout)
    assert (sorted(double_build), double_build["status"]) == (sorted(real_build), "aborted")


def test_the_real_stalled_worker_makes_the_module_report_what_it_reported_against_the_real_concourse(world):
    """fly_pipeline against the double holding the real `workers --json` of a stopped worker says
    what it said against the real Concourse (there: job probe/waits, build #2, timeout 45s)."""
    real = REAL_RESULTS["timeout_stalled_worker"]
    world.play(world.args())
    world.server({"workers": json.loads((REAL_CONCOURSE / "workers-stalled.json").read_text())})
    result, _ = world.play(world.trigger_args("build", watch=True, timeout=2))
    expected = (
        real["msg"].replace("probe/waits", f"{PIPELINE}/build").replace("-t probe", "-t ci")
        .replace("#2", "#1").replace("-b 2", "-b 1").replace("45s", "2s")
    )  # fmt: skip
    assert (result["error_kind"], result["msg"]) == (real["error_kind"], expected)
    assert set(result["build"]) == set(real["build"])
    assert {k: result["build"][k] for k in ("status", "aborted", "timed_out")} == {
        k: real["build"][k] for k in ("status", "aborted", "timed_out")
    }


def test_a_wrong_password_reads_as_it_did_against_the_real_concourse(world):
    real = REAL_RESULTS["wrong_password"]
    result, _ = world.play(world.trigger_args("build", password="Wr0ng-pass"))
    assert (result["error_kind"], result["msg"]) == (
        real["error_kind"],
        real["msg"].replace("http://127.0.0.1:8078", world.url),
    )


@pytest.mark.parametrize("check", [False, True])
def test_without_rerun_a_job_whose_latest_build_succeeded_is_reported_not_built_again(world, check):
    world.play(world.args())
    world.play(world.trigger_args("build", watch=True))
    before = len(world.calls())
    result, _ = world.play(world.trigger_args("build", watch=True, rerun=False), check=check)
    assert result["changed"] is False, result
    build = result["build"]
    assert (build["reused"], build["name"], build["status"], build["triggered"]) == (
        True,
        "1",
        "succeeded",
        False,
    )
    assert "trigger-job" not in world.commands()[before:]
    (builds,) = [c["argv"] for c in world.calls()[before:] if "builds" in c["argv"]]
    assert builds == ["-t", "ci", "builds", "-j", f"{PIPELINE}/build", "--json", "-c", "1"]


def test_without_rerun_a_job_whose_latest_build_failed_is_built_again(world):
    world.play(world.args())
    world.script_job("build", status="failed", exit_status=1, log="boom\n")
    world.play(world.trigger_args("build", watch=True))
    world.script_job("build", status="succeeded", exit_status=0, log="fixed\n")
    result, _ = world.play(world.trigger_args("build", watch=True, rerun=False))
    assert result["changed"] is True
    assert (result["build"]["name"], result["build"]["status"]) == ("2", "succeeded")
    assert "reused" not in result["build"]


def test_the_double_s_builds_and_pipelines_have_the_fields_the_real_concourse_printed(world):
    """fly builds --json and fly pipelines --json of the real Concourse 8.2.5 in the VM lab
    (tests/fixtures/fly/real-concourse): the double's records carry the same fields."""
    world.play(world.args())
    world.play(world.trigger_args("build", watch=True))
    ran = double(
        world.state, world.home, "-t", "ci", "builds", "-j", f"{PIPELINE}/build", "--json", "-c", "1"
    )
    assert ran.returncode == 0, ran.stderr
    (real_build,) = json.loads((REAL_CONCOURSE / "builds-job.json").read_text())
    (double_build,) = json.loads(ran.stdout)
    assert set(double_build) == set(real_build)
    ran = double(world.state, world.home, "-t", "ci", "pipelines", "--json")
    (real_pipeline,) = json.loads((REAL_CONCOURSE / "pipelines.json").read_text())
    assert [sorted(p) for p in json.loads(ran.stdout)] == [sorted(real_pipeline)]
