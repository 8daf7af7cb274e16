"""fly_cli without fly: the command lines it builds, the token request, the flyrc, the timeout."""

import io
import json
import sys
import textwrap
from urllib.error import HTTPError, URLError

import pytest
from ansible_collections.nested.warden.plugins.module_utils import (
    cli_runner,
    fly_cli,
    fly_login,
    fly_output,
    fly_task,
)
from ansible_collections.nested.warden.plugins.modules import fly_pipeline

PASSWORD = "pw-never-on-argv-51"


class FakeModule:
    """What CliRunner needs of an AnsibleModule; records every command."""

    def __init__(self, check_mode=False, results=None):
        self.check_mode = check_mode
        self.results = list(results or [])
        self.calls = []

    def get_bin_path(self, name, required=False):
        return "/usr/local/bin/fly" if name == "fly" else None

    def run_command(self, argv, environ_update=None, check_rc=False, **kwargs):
        self.calls.append({"argv": argv, "env": environ_update, **kwargs})
        return self.results.pop(0) if self.results else (0, "", "")


def fly(check_mode=False, results=None):
    module = FakeModule(check_mode, results)
    return module, fly_cli.Fly(module, "ci")


def test_set_pipeline_always_passes_n_and_vars_only_as_files():
    module, client = fly(results=[(0, "no changes to apply\n", "")])
    _, output = client.set_pipeline("p", "/c/pipeline.yml", ["/v/lab.yml", "/tmp/fly-vars-x.yml"])
    (call,) = module.calls
    assert call["argv"] == [
        "/usr/local/bin/fly", "-t", "ci", "set-pipeline", "-n", "--no-color", "-p", "p",
        "-c", "/c/pipeline.yml", "-l", "/v/lab.yml", "-l", "/tmp/fly-vars-x.yml",
    ]  # fmt: skip
    assert not {"-v", "--var", "-y", "--yaml-var"} & set(call["argv"])
    assert call["env"]["LC_ALL"] == "C"
    assert output.unchanged


def test_check_mode_sets_with_dry_run_and_check_creds_when_asked():
    module, client = fly(check_mode=True, results=[(0, "Dry-run mode was set, exiting.\n", "")])
    client.set_pipeline("p", "/c.yml", [], dry_run=True, check_creds=True)
    assert module.calls[0]["argv"][-2:] == ["--check-creds", "--dry-run"]


def test_bailing_out_is_an_error_even_with_exit_0():
    _, client = fly(results=[(0, "pipeline name: p\n\nbailing out\n", "")])
    with pytest.raises(fly_output.FlyError, match="did not apply the configuration"):
        client.set_pipeline("p", "/c.yml", [])


def test_validate_pipeline_needs_no_target_and_is_strict():
    module, client = fly(results=[(0, "looks good\n", "")])
    client.validate_pipeline("/c.yml", ["/v.yml"])
    assert module.calls[0]["argv"] == [
        "/usr/local/bin/fly", "validate-pipeline", "-c", "/c.yml", "-l", "/v.yml", "--strict",
    ]  # fmt: skip


def test_pause_expose_and_destroy_are_skipped_in_check_mode():
    module, client = fly(check_mode=True)
    assert client.toggle("unpause-pipeline", "p").skipped
    assert client.toggle("expose-pipeline", "p").cmd[-3:] == ["expose-pipeline", "-p", "p"]
    assert client.destroy_pipeline("p").cmd[-4:] == ["destroy-pipeline", "-n", "-p", "p"]
    assert module.calls == []


def test_trigger_with_watch_runs_under_the_time_limit(monkeypatch):
    seen = {}

    def fake_run(argv, environ, data, timeout):
        seen.update(argv=argv, timeout=timeout, data=data)
        return cli_runner.CliResult(argv, 1, "started p/build #4\n\nboom\nfailed\n", "")

    monkeypatch.setattr(cli_runner, "run_with_timeout", fake_run)
    _, client = fly()
    result, output = client.trigger_job("p", "build", watch=True, timeout=90)
    assert seen["argv"][1:] == ["-t", "ci", "trigger-job", "-j", "p/build", "-w"]
    assert (seen["timeout"], seen["data"]) == (90, None)
    assert (result.rc, output.name, output.status, output.tail()) == (1, "4", "failed", ["boom"])


def test_abort_build_names_the_build_within_its_job_and_is_skipped_in_check_mode():
    module, client = fly(results=[(0, "build successfully aborted\n", "")])
    client.abort_build("p", "build", "4")
    assert module.calls[0]["argv"][1:] == ["-t", "ci", "abort-build", "-j", "p/build", "-b", "4"]
    module, client = fly(check_mode=True)
    assert client.abort_build("p", "build", "4").skipped
    assert module.calls == []


def test_workers_are_read_from_the_json_list():
    module, client = fly(results=[(0, '[{"name": "w", "state": "stalled"}]\n', "")])
    assert client.workers() == [{"name": "w", "state": "stalled"}]
    assert module.calls[0]["argv"][1:] == ["-t", "ci", "workers", "--json"]


def test_trigger_that_starts_no_build_is_an_error_with_flys_message():
    _, client = fly(results=[(1, "", "error: resource not found\n")])
    with pytest.raises(fly_output.FlyError, match=r"^fly trigger-job failed: resource not found$"):
        client.trigger_job("p", "nope")


def test_login_types_the_token_on_stdin_and_never_gets_a_password(monkeypatch):
    seen = {}

    def fake_run(argv, environ, data, timeout):
        seen.update(argv=argv, data=data, timeout=timeout)
        return cli_runner.CliResult(argv, 0, "\rtarget saved\r\n", "")

    monkeypatch.setattr(cli_runner, "run_with_timeout", fake_run)
    _, client = fly()
    client.login("https://ci.example", "main", "bearer", "tok-1", ca_cert="/ca.pem", insecure=False)
    assert seen["argv"] == [
        "/usr/local/bin/fly", "-t", "ci", "login", "-c", "https://ci.example", "-n", "main",
        "--ca-cert", "/ca.pem",
    ]  # fmt: skip
    assert seen["data"] == "bearer tok-1\r"  # fly's prompt needs a carriage return, not a newline
    assert seen["timeout"] == fly_cli.LOGIN_TIMEOUT
    assert "tok-1" in client.secrets


def test_failures_carry_the_command_and_fly_output_without_secrets():
    _, client = fly(results=[(1, "", f"error: forbidden: {PASSWORD}\n")])
    client.add_secrets([PASSWORD])
    with pytest.raises(fly_output.FlyError) as caught:
        client.pipelines()
    err = caught.value
    assert err.msg == "fly pipelines failed: forbidden: ********"
    assert err.details["cmd"] == ["/usr/local/bin/fly", "-t", "ci", "pipelines", "--json"]
    assert err.details["rc"] == 1
    assert PASSWORD not in json.dumps(err.details)


def test_missing_fly_says_where_to_download_it_from_the_server():
    module = FakeModule()
    module.get_bin_path = lambda name, required=False: None
    client = fly_cli.Fly(module, "ci", api_url="https://ci.example/")
    with pytest.raises(
        cli_runner.CliNotFound, match=r"https://ci\.example/api/v1/cli\?arch=amd64&platform=linux"
    ):
        client.pipelines()


# -- the token request ---------------------------------------------------------------------------


class Response(io.BytesIO):
    pass


def test_token_request_is_flys_password_grant():
    seen = {}

    def opener(url, **kwargs):
        seen.update(url=url, **kwargs)
        return Response(json.dumps({"access_token": "tok", "token_type": "bearer"}).encode())

    assert fly_login.fetch_token(opener, "https://ci/", "admin", PASSWORD, ca_cert="/ca.pem") == (
        "bearer",
        "tok",
    )
    assert seen["url"] == "https://ci/sky/issuer/token"
    assert seen["method"] == "POST"
    assert (seen["url_username"], seen["url_password"], seen["force_basic_auth"]) == ("fly", "Zmx5", True)
    assert "grant_type=password" in seen["data"]
    assert "scope=openid+profile+email+federated%3Aid+groups" in seen["data"]
    assert (seen["ca_path"], seen["validate_certs"]) == ("/ca.pem", True)


def test_wrong_password_is_a_rejected_login_that_does_not_repeat_the_password():
    def opener(url, **kwargs):
        body = json.dumps({"error": "access_denied", "error_description": "Invalid username or password"})
        raise HTTPError(url, 401, "Unauthorized", {}, io.BytesIO(body.encode()))

    with pytest.raises(fly_login.LoginRejected) as caught:
        fly_login.fetch_token(opener, "https://ci", "admin", PASSWORD)
    assert (
        caught.value.msg
        == "Concourse at https://ci rejected the login of user 'admin': Invalid username or password"
    )
    assert caught.value.kind == "login_rejected"
    assert PASSWORD not in caught.value.msg


def test_unreachable_token_endpoint_and_certificate_problems_are_explained():
    def refused(url, **kwargs):
        raise URLError(ConnectionRefusedError(111, "Connection refused"))

    with pytest.raises(
        fly_output.FlyError, match=r"^Concourse at https://ci is unreachable: .*Connection refused"
    ) as caught:
        fly_login.fetch_token(refused, "https://ci", "admin", PASSWORD)
    assert caught.value.kind == "unreachable"

    def bad_cert(url, **kwargs):
        raise URLError("certificate verify failed: self-signed certificate")

    with pytest.raises(fly_output.FlyError, match="check ca_cert, or set insecure"):
        fly_login.fetch_token(bad_cert, "https://ci", "admin", PASSWORD)


def test_token_answer_without_a_token_is_an_error():
    with pytest.raises(fly_output.FlyError, match="returned no access token"):
        fly_login.fetch_token(lambda url, **kw: Response(b"{}"), "https://ci", "admin", PASSWORD)


# -- flyrc ----------------------------------------------------------------------------------------


def test_flyrc_is_under_fly_home_else_home():
    assert fly_task.flyrc_path({"FLY_HOME": "/f", "HOME": "/h"}) == "/f/.flyrc"
    assert fly_task.flyrc_path({"HOME": "/h"}) == "/h/.flyrc"


def test_flyrc_target_is_read_and_a_missing_file_means_no_target(tmp_path):
    path = tmp_path / ".flyrc"
    assert fly_task.read_flyrc_target(str(path), "ci") is None
    path.write_text(
        "targets:\n  ci:\n    api: https://ci\n    team: main\n    token: {type: bearer, value: t}\n"
    )
    assert fly_task.read_flyrc_target(str(path), "ci")["api"] == "https://ci"
    assert fly_task.read_flyrc_target(str(path), "other") is None
    path.write_text("targets: [\n")
    with pytest.raises(fly_output.FlyError, match="is not valid YAML"):
        fly_task.read_flyrc_target(str(path), "ci")


# -- the time limit --------------------------------------------------------------------------------


def script(tmp_path, body):
    path = tmp_path / "cli"
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return str(path)


def test_run_with_timeout_stops_a_command_with_sigterm_and_keeps_its_output(tmp_path):
    cli = script(
        tmp_path,
        """
        import signal, sys, time
        def detach(*_):
            sys.stderr.write("detached\\n")
            sys.exit(2)
        signal.signal(signal.SIGTERM, detach)
        print("started p/j #1", flush=True)
        time.sleep(60)
        """,
    )
    result = cli_runner.run_with_timeout([cli], {"LC_ALL": "C"}, None, 1)
    assert (result.timed_out, result.rc, result.stdout, result.stderr) == (
        True,
        2,
        "started p/j #1\n",
        "detached\n",
    )


def test_run_with_timeout_kills_what_ignores_sigterm(tmp_path):
    cli = script(
        tmp_path,
        """
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(60)
        """,
    )
    result = cli_runner.run_with_timeout([cli], {}, None, 0.5, grace=0.5)
    assert result.timed_out
    assert result.rc == -9


def test_run_with_timeout_feeds_stdin_and_passes_the_environment(tmp_path):
    cli = script(
        tmp_path,
        """
        import os, sys
        print(sys.stdin.read().replace("\\r", "<CR>"), os.environ["LC_ALL"])
        """,
    )
    result = cli_runner.run_with_timeout([cli], {"LC_ALL": "C"}, "bearer t\r", 30)
    assert (result.timed_out, result.rc, result.stdout) == (False, 0, "bearer t<CR> C\n")


# -- secrets in fly's diff --------------------------------------------------------------------------


def test_keys_fed_by_secret_vars_are_found_in_the_template():
    template = {
        "resources": [
            {
                "name": "img",
                "source": {"password": "((pw))", "ca_certs": ["((ca.ca))"], "repository": "((host))/x"},
            }
        ]
    }
    assert fly_output.secret_keys(template, {"pw", "ca"}) == {"password", "ca_certs"}
    assert fly_output.secret_keys(template, set()) == set()
    assert fly_output.secret_keys(None, {"pw"}) == set()


def test_diff_masks_old_and_new_secret_values_and_their_blocks():
    lines = [
        "resources:",
        "  resource img has changed:",
        "  name: img",
        "  source:",
        "-   password: the-old-secret",
        "+   password: the-new-secret",
        "+   ca_certs:",
        "+   - |",
        "+     -----BEGIN CERTIFICATE-----",
        "+   insecure: false",
        "-   private_key: |",
        "-     KEY LINE",
        "    repository: 10.0.0.5:5000/img",
    ]
    assert fly_output.mask_diff(lines, {"ca_certs"}) == [
        "resources:",
        "  resource img has changed:",
        "  name: img",
        "  source:",
        "-   password: ********",
        "+   password: ********",
        "+   ca_certs:",
        "+   ********",
        "+     ********",
        "+   insecure: false",
        "-   private_key: ********",
        "-     ********",
        "    repository: 10.0.0.5:5000/img",
    ]


def test_unreachable_server_seen_by_fly_status_is_explained():
    kind, text = fly_output.explain(fly_output_status_unreachable(), "ci", "http://127.0.0.1:18200")
    assert kind == "unreachable"
    assert text.endswith("dial tcp 127.0.0.1:18200: connect: connection refused")


def fly_output_status_unreachable():
    return (
        "please login again.\n\ntoken validation failed with error: "
        'Get "http://127.0.0.1:18200/api/v1/user": dial tcp 127.0.0.1:18200: connect: connection refused\n'
    )


# -- state=triggered: checks before anything is triggered --------------------------------------------


def module_params(**given):
    params = {name: spec.get("default") for name, spec in fly_pipeline.argument_spec().items()}
    params.update(target="ci", pipeline="p", state="triggered", trigger="build")
    params.update(given)
    return params


def triggering(tmp_path, monkeypatch, results, *, check_mode=False, **given):
    """A PipelineTask for state=triggered whose target has a token (fly status answers first)."""
    monkeypatch.setenv("FLY_HOME", str(tmp_path))
    (tmp_path / ".flyrc").write_text(
        "targets:\n  ci:\n    api: https://ci\n    team: main\n    token: {type: bearer, value: t}\n"
    )
    module = FakeModule(check_mode, [(0, "logged in successfully\n", ""), *results])
    module.params = module_params(**given)
    module._diff = False
    return module, fly_task.PipelineTask(module, opener=None)


def pipelines_json(paused=False):
    return json.dumps([{"id": 1, "name": "p", "paused": paused, "public": False, "team_name": "main"}])


CONFIG_JSON = '{"jobs":[{"name":"build","plan":[{"get":"repo"}]},{"name":"test","plan":[]}]}'


def subcommands(module):
    return [call["argv"][3] for call in module.calls]


def test_check_mode_predicts_the_trigger_from_the_pipeline_and_its_config_and_triggers_nothing(
    tmp_path, monkeypatch
):
    module, task = triggering(
        tmp_path, monkeypatch, [(0, pipelines_json(), ""), (0, CONFIG_JSON, "")], check_mode=True, watch=True
    )
    result = task.run()
    assert (result["changed"], result["build"]) == (
        True,
        {"job": "build", "triggered": False, "watched": True},
    )
    assert subcommands(module) == ["status", "pipelines", "get-pipeline"]
    assert module.calls[2]["argv"][1:] == ["-t", "ci", "get-pipeline", "-p", "p", "--json"]


@pytest.mark.parametrize("check_mode", [False, True])
def test_a_job_the_pipeline_lacks_is_named_with_the_jobs_it_has(tmp_path, monkeypatch, check_mode):
    module, task = triggering(
        tmp_path, monkeypatch, [(0, pipelines_json(), ""), (0, CONFIG_JSON, "")], check_mode=check_mode,
        trigger="deploy",
    )  # fmt: skip
    with pytest.raises(fly_output.FlyError) as caught:
        task.run()
    assert caught.value.kind == "job_not_found"
    assert caught.value.msg == "pipeline p has no job deploy (its jobs: build, test); nothing was triggered"
    assert "trigger-job" not in subcommands(module)


def test_a_paused_pipeline_is_refused_before_trigger_job(tmp_path, monkeypatch):
    module, task = triggering(
        tmp_path, monkeypatch, [(0, pipelines_json(paused=True), ""), (0, CONFIG_JSON, "")]
    )
    with pytest.raises(
        fly_output.FlyError, match=r"^pipeline p is paused, so a build of build would stay pending"
    ):
        task.run()
    assert task.result["changed"] is False
    assert subcommands(module) == ["status", "pipelines", "get-pipeline"]


def test_a_missing_pipeline_is_not_asked_for_its_config(tmp_path, monkeypatch):
    module, task = triggering(tmp_path, monkeypatch, [(0, "[]\n", "")])
    with pytest.raises(fly_output.FlyError) as caught:
        task.run()
    assert caught.value.kind == "pipeline_not_found"
    assert task.result["state"] == {"exists": False}
    assert subcommands(module) == ["status", "pipelines"]


def test_get_pipeline_not_found_is_none_and_other_failures_are_errors():
    _, client = fly(results=[(1, "", "error: pipeline not found\n")])
    assert client.pipeline_config("p") is None
    _, client = fly(
        results=[(1, "", "not authorized. run the following to log in:\n\n    fly -t ci login\n\n")]
    )
    with pytest.raises(fly_output.FlyError) as caught:
        client.pipeline_config("p")
    assert caught.value.kind == "not_authorized"


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ({}, None),
        ({"state": "present", "config": "/c.yml", "trigger": None}, None),
        ({"state": "present", "config": "/c.yml"}, "trigger needs state=triggered (got state=present)"),
        ({"state": "absent", "trigger": None, "watch": True}, "watch needs state=triggered"),
        ({"trigger": ""}, "state=triggered needs trigger, the name of a job of the pipeline (got '')"),
        ({"trigger": "p/build"}, "state=triggered needs trigger"),
        ({"config": "/c.yml", "vars": {"k": "v"}}, "config, vars belong to state=present"),
        ({"pipeline": " "}, "pipeline must not be empty"),
        ({"pipeline": "a/b"}, "pipeline must be a pipeline name without '/'"),
        ({"target": ""}, "target must not be empty"),
        ({"timeout": 0}, "timeout must be a positive number of seconds"),
    ],
)
def test_parameters_that_cannot_work_are_named_before_fly_runs(given, problem):
    problems = fly_task.parameter_problems(module_params(**given))
    if problem is None:
        assert problems == []
    else:
        assert any(problem in text for text in problems), problems


# -- state=triggered: a watch that reaches the timeout ----------------------------------------------


def watch_until_timeout(monkeypatch):
    def fake_run(argv, environ, data, timeout):
        return cli_runner.CliResult(argv, 2, "started p/build #3\n\ncompiling\n", "", timed_out=True)

    monkeypatch.setattr(cli_runner, "run_with_timeout", fake_run)


def builds_json(status):
    return json.dumps([{"id": 9, "name": "3", "status": status, "job_name": "build", "pipeline_name": "p"}])


def timing_out(tmp_path, monkeypatch, results, **given):
    watch_until_timeout(monkeypatch)
    found = [(0, pipelines_json(), ""), (0, CONFIG_JSON, "")]
    module, task = triggering(tmp_path, monkeypatch, found + results, watch=True, timeout=5, **given)
    with pytest.raises(fly_output.FlyError) as caught:
        task.run()
    return module, caught.value


def test_an_abort_that_fails_keeps_the_timeout_with_flys_reason_and_the_command_to_abort(
    tmp_path, monkeypatch
):
    _, err = timing_out(
        tmp_path, monkeypatch, [(0, builds_json("started"), ""), (1, "", "error: build does not exist\n")]
    )
    assert err.kind == "timeout"
    assert err.msg == (
        "stopped watching build p/build #3 after the timeout of 5s and could not abort it (fly abort-build "
        "failed: build does not exist); the build is still started in Concourse (abort it with: "
        "fly -t ci abort-build -j p/build -b 3)"
    )
    assert (err.details["build"]["aborted"], err.details["rc"]) == (False, 1)
    assert err.details["cmd"][1:] == ["-t", "ci", "abort-build", "-j", "p/build", "-b", "3"]


def test_a_build_not_yet_ended_by_the_abort_is_reported_as_concourse_has_it(tmp_path, monkeypatch):
    monkeypatch.setattr(fly_task, "ABORT_SETTLE_SECONDS", 0)
    _, err = timing_out(
        tmp_path,
        monkeypatch,
        [
            (0, builds_json("started"), ""),
            (0, "build successfully aborted\n", ""),
            (0, builds_json("started"), ""),
        ],
    )
    assert err.kind == "timeout"
    assert (err.details["build"]["aborted"], err.details["build"]["status"]) == (True, "started")
    assert err.msg.endswith("; Concourse still reports it started (it ends once its steps stop)")


@pytest.mark.parametrize(
    "workers",
    [(0, '[{"name": "w", "state": "running"}]', ""), (1, "", "error: forbidden\n")],
    ids=["a worker is running", "workers cannot be listed"],
)
def test_a_pending_build_is_a_plain_timeout_unless_no_worker_is_seen_running(tmp_path, monkeypatch, workers):
    module, err = timing_out(
        tmp_path,
        monkeypatch,
        [
            (0, builds_json("pending"), ""),
            workers,
            (0, "build successfully aborted\n", ""),
            (0, builds_json("aborted"), ""),
        ],
    )
    assert err.kind == "timeout"
    assert err.msg == (
        "build p/build #3 was still pending after the timeout of 5s and was aborted "
        "(fly -t ci abort-build -j p/build -b 3)"
    )
    assert subcommands(module)[-4:] == ["builds", "workers", "abort-build", "builds"]
