"""How the module reads bosh's --json output and builds its command lines.

The outputs are real bosh CLI output (tests/fixtures/bosh/cli-output, see its README).
"""

from pathlib import Path

import pytest
from ansible_collections.nested.warden.plugins.module_utils import bosh_cli as bc

OUTPUT = Path(__file__).resolve().parents[1] / "fixtures" / "bosh" / "cli-output"


def captured(name, stream="stdout"):
    return (OUTPUT / f"{name}.{stream}").read_text()


class FakeModule:
    def __init__(self, results=None, check_mode=False):
        self.check_mode = check_mode
        self.results = list(results or [])
        self.calls = []

    def get_bin_path(self, name, required=False):
        return "/usr/local/bin/bosh" if name == "bosh" else None

    def run_command(self, argv, environ_update=None, check_rc=False, **kwargs):
        self.calls.append({"argv": argv, "env": environ_update})
        return self.results.pop(0)


# ------------------------------------------------------------------------------------------------
# Reading output


def test_diff_lines_of_a_new_deployment_are_all_added():
    output = bc.BoshOutput(captured("deploy-new"))
    assert output.diff_lines[0] == "+ instance_groups:"
    assert output.diff_lines[-1] == "+   version: latest"
    assert all(line.startswith("+ ") for line in output.diff_lines)
    assert output.has_changes
    assert output.ran_task


def test_unchanged_deployment_has_no_diff_though_a_task_ran():
    output = bc.BoshOutput(captured("deploy-unchanged"))
    assert output.diff_lines == []
    assert not output.has_changes
    assert output.ran_task


def test_changed_property_shows_context_and_redacted_values():
    output = bc.BoshOutput(captured("deploy-changed"))
    assert output.diff_lines == [
        "  instance_groups:",
        "  - name: concourse",
        "    properties:",
        '-     x: "<redacted>"',
        '+     x: "<redacted>"',
    ]
    assert output.has_changes


def test_context_lines_alone_are_not_a_change():
    assert not bc.BoshOutput('{"Lines": ["  a:\\n", "Succeeded"]}').has_changes


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("task-fails", "Updating deployment:\n  Expected task '47' to succeed but state is 'error'"),
        ("name-mismatch", "Expected manifest to specify deployment name 'other' but was 'concourse'"),
        ("no-environment", "Expected non-empty Director URL"),
    ],
)
def test_error_is_the_last_line_before_exit_code_1(name, error):
    assert bc.BoshOutput(captured(name)).error == error


def test_flag_error_is_read_from_stderr():
    output = bc.BoshOutput(captured("missing-manifest"), captured("missing-manifest", "stderr"))
    assert not output.is_json
    assert output.error.endswith("no such file or directory")
    assert "Exit code 1" not in output.error


def test_deployments_table_rows_carry_the_names():
    rows = list(bc.BoshOutput(captured("deployments")).table_rows("deployments"))
    assert [row["name"] for row in rows] == ["concourse"]


def test_delete_of_a_missing_deployment_runs_no_task():
    assert not bc.BoshOutput(captured("delete-missing")).ran_task
    assert bc.BoshOutput(captured("delete-existing")).ran_task


def test_unreachable_director_is_explained_with_its_cause():
    error = bc.BoshOutput(captured("unreachable")).error
    assert bc.explain_error(error, "https://127.0.0.1:1") == (
        "the BOSH director at 'https://127.0.0.1:1' is unreachable: Retry: Get \"https://127.0.0.1:1/info\": "
        "dial tcp 127.0.0.1:1: connect: connection refused"
    )


def test_director_address_without_scheme_is_explained():
    explained = bc.explain_error("Parsing Director URL '127.0.0.1:1':\n  parse ...", "127.0.0.1:1")
    assert "use https://HOST:PORT" in explained


# ------------------------------------------------------------------------------------------------
# Command lines


def cli(results, **kwargs):
    module = FakeModule(results)
    defaults = {"environment": "https://10.0.0.6:25555", "client": "admin", "client_secret": "top-secret"}
    return module, bc.BoshCli(module, **{**defaults, **kwargs})


def test_deploy_argv_is_non_interactive_json_and_holds_no_secret():
    module, bosh = cli([(0, captured("deploy-new"), "")])
    bosh.deploy(
        "concourse",
        "/m.yml",
        ops_files=["/o1.yml", "/o2.yml"],
        vars_files=["/v.yml", "/tmp/dict.yml"],
        vars_store="/s.yml",
        recreate=True,
        fix=True,
        dry_run=True,
    )
    (call,) = module.calls
    assert call["argv"] == [
        "/usr/local/bin/bosh", "-n", "--json", "-d", "concourse", "deploy", "/m.yml",
        "-o", "/o1.yml", "-o", "/o2.yml", "-l", "/v.yml", "-l", "/tmp/dict.yml",
        "--vars-store", "/s.yml", "--recreate", "--fix", "--dry-run",
    ]  # fmt: skip
    assert "top-secret" not in " ".join(call["argv"])
    assert call["env"]["BOSH_CLIENT_SECRET"] == "top-secret"
    assert call["env"]["BOSH_ENVIRONMENT"] == "https://10.0.0.6:25555"
    assert call["env"]["BOSH_CLIENT"] == "admin"
    assert call["env"]["LC_ALL"] == "C"


def test_unset_credentials_are_left_to_the_environment_of_the_cli():
    module, bosh = cli([(0, captured("deployments"), "")], environment=None, client=None, client_secret=None)
    bosh.deployment_names()
    assert not any(name.startswith("BOSH_") for name in module.calls[0]["env"])


def test_delete_is_skipped_in_check_mode():
    module = FakeModule([], check_mode=True)
    result, _ = bc.BoshCli(module).delete_deployment("zookeeper")
    assert result.skipped
    assert module.calls == []


def test_failure_carries_rc_cmd_and_output_without_secrets():
    stdout = captured("task-fails").replace("registry", "registry top-secret")
    _, bosh = cli([(1, stdout, "")])
    with pytest.raises(bc.BoshCommandError) as caught:
        bosh.deploy("concourse", "/m.yml")
    details = caught.value.details
    assert caught.value.msg == (
        "bosh deploy failed: Updating deployment:\n  Expected task '47' to succeed but state is 'error'"
    )
    assert details["rc"] == 1
    assert details["cmd"][:5] == ["/usr/local/bin/bosh", "-n", "--json", "-d", "concourse"]
    assert "top-secret" not in details["stdout"]
    assert "********" in details["stdout"]
    assert details["stdout_lines"] == details["stdout"].splitlines()


def test_secrets_added_later_are_removed_too():
    _, bosh = cli([(1, '{"Lines": ["Evaluating manifest:\\n  value pw-from-vars", "Exit code 1"]}', "")])
    bosh.add_secrets(["pw-from-vars"])
    with pytest.raises(bc.BoshCommandError) as caught:
        bosh.deploy("concourse", "/m.yml")
    assert "pw-from-vars" not in caught.value.msg
    assert "pw-from-vars" not in str(caught.value.details)
