"""fly_pipeline's DOCUMENTATION, EXAMPLES and RETURN agree with its argument_spec."""

import fly_pipeline  # plugins/modules, see conftest
import yaml

DOC = yaml.safe_load(fly_pipeline.DOCUMENTATION)
SPEC = fly_pipeline.argument_spec()
ISSUE_OPTIONS = {
    "concourse_url", "target", "team", "username", "password", "ca_cert", "insecure", "pipeline", "config",
    "vars", "vars_files", "state", "paused", "exposed", "validate", "check_creds", "trigger", "watch",
    "timeout", "executable",
}  # fmt: skip


def test_the_options_are_exactly_the_ones_the_issue_names():
    assert set(SPEC) == ISSUE_OPTIONS


def test_every_option_is_documented_and_every_documented_option_exists():
    assert set(DOC["options"]) == set(SPEC)


def test_documented_types_defaults_choices_and_elements_match_the_spec():
    for name, spec in SPEC.items():
        doc = DOC["options"][name]
        assert doc["type"] == spec["type"], name
        assert doc.get("default") == spec.get("default"), name
        assert doc.get("choices") == spec.get("choices"), name
        assert doc.get("elements") == spec.get("elements"), name
        assert bool(doc.get("required")) == bool(spec.get("required")), name


def test_secrets_are_no_log_and_nothing_else_is():
    assert sorted(name for name, spec in SPEC.items() if spec.get("no_log")) == ["password", "vars"]


def test_examples_use_only_documented_options():
    for task in yaml.safe_load(fly_pipeline.EXAMPLES):
        assert set(task["fly_pipeline"]) <= set(SPEC), task["name"]


def test_return_values_are_documented_with_types():
    returned = yaml.safe_load(fly_pipeline.RETURN)
    documented = {"pipeline", "diff_lines", "config_changed", "config_warnings", "created", "state", "build"}
    assert documented | {"error_kind", "cmd"} <= set(returned)
    assert "warnings" not in returned  # Ansible reads a module's `warnings` as its own
    assert all("type" in value and "description" in value for value in returned.values())
    assert {"id", "name", "status", "exit_code", "timed_out", "log_tail"} <= set(
        returned["build"]["contains"]
    )
