"""Each module's DOCUMENTATION, EXAMPLES and RETURN say exactly what its argument spec does
(what ansible-doc shows is what the module accepts)."""

from pathlib import Path

import pytest
import yaml
from ansible_collections.nested.warden.plugins.module_utils.secrets import secret_values
from ansible_collections.nested.warden.plugins.modules import (
    bosh_deploy,
    docker_lab,
    fly_pipeline,
    lab_jobs,
    lab_vm,
    registry_check,
    throwaway_container,
)

MODULES = {
    "bosh_deploy": bosh_deploy,
    "docker_lab": docker_lab,
    "fly_pipeline": fly_pipeline,
    "lab_jobs": lab_jobs,
    "lab_vm": lab_vm,
    "registry_check": registry_check,
    "throwaway_container": throwaway_container,
}
# Options that are secrets as a whole. `vars` is not one: no_log on a dict masks every value
# everywhere (a value `a` garbles every message); the modules mask its secret values by name.
SECRETS = {
    "bosh_deploy": ["client_secret"],
    "fly_pipeline": ["password"],
    "registry_check": ["password"],
    "docker_lab": [],
    "lab_jobs": [],  # the files' contents are no_log (a suboption): see below
    "lab_vm": [],
    "throwaway_container": ["stdin"],
}
# check_mode and diff_mode support; every module runs on any POSIX platform.
SUPPORT = {
    "bosh_deploy": ("full", "full"),
    "docker_lab": ("full", "none"),
    "fly_pipeline": ("full", "full"),
    "lab_jobs": ("full", "none"),
    "registry_check": ("full", "none"),
    # Nothing it creates outlives the task, so check mode runs nothing; it fails where a run would
    # fail before starting anything (bad parameters, a missing image), else reports skipped.
    "throwaway_container": ("partial", "none"),
    "lab_vm": ("full", "none"),
}
# Return values each module must document (every one a fact the module sets).
RETURNED = {
    "lab_vm": {
        "action",
        "pid",
        "accel",
        "accel_reason",
        "seconds_to_ready",
        "ssh_port",
        "ssh_key",
        "known_hosts",
        "console_log",
        "recipe",
        "guest",
    },
    "bosh_deploy": {
        "manifest",
        "value",
        "generated_variables",
        "diff_lines",
        "cmd",
        "rc",
        "stdout",
        "stderr",
    },
    "fly_pipeline": {
        "pipeline",
        "diff_lines",
        "config_changed",
        "config_warnings",
        "created",
        "state",
        "build",
    },
    "docker_lab": {"network", "hosts", "removed"},
    "lab_jobs": {"user_created", "jobs"},
    "throwaway_container": {
        "mode",
        "privileged_refusal",
        "exit_code",
        "stdout",
        "stderr",
        "timed_out",
        "tail",
    },
    "registry_check": {
        "url",
        "reachable",
        "status",
        "api_version",
        "auth",
        "error",
        "catalog",
        "tags",
        "manifest",
        "anonymous",
    },
}
by_name = pytest.mark.parametrize("name", sorted(MODULES))


def documented_options(name):
    return yaml.safe_load(MODULES[name].DOCUMENTATION)["options"]


@by_name
def test_every_option_is_documented_and_every_documented_option_exists(name):
    assert set(documented_options(name)) == set(MODULES[name].argument_spec())


@by_name
def test_documented_types_defaults_choices_and_elements_match_the_spec(name):
    documented = documented_options(name)
    for option, spec in MODULES[name].argument_spec().items():
        doc = documented[option]
        assert doc["type"] == spec["type"], option
        for key in ("default", "choices", "elements"):
            assert doc.get(key) == spec.get(key), f"{option}: {key}"
        assert bool(doc.get("required")) == bool(spec.get("required")), option


@by_name
def test_each_module_states_its_attributes_author_and_python(name):
    doc = yaml.safe_load(MODULES[name].DOCUMENTATION)
    assert doc["extends_documentation_fragment"] == ["nested.warden.attributes"]
    assert {attribute: value["support"] for attribute, value in doc["attributes"].items()} == {
        "check_mode": SUPPORT[name][0],
        "diff_mode": SUPPORT[name][1],
        "platform": "full",
    }
    assert doc["author"] == ["nested-warden developers (@nested-warden)"]
    # The same floor that tests/config.yml gives ansible-test (and test_python_versions runs).
    assert doc["requirements"][0].startswith("python >= 3.8")
    config = yaml.safe_load((Path(__file__).parents[1] / "config.yml").read_text())
    assert config["modules"]["python_requires"] == ">=3.8"


@by_name
def test_secrets_are_no_log_and_nothing_else_is(name):
    spec = MODULES[name].argument_spec()
    assert sorted(option for option, value in spec.items() if value.get("no_log")) == SECRETS[name]


@by_name
def test_examples_call_the_module_by_fqcn_with_only_documented_options(name):
    fqcn = f"nested.warden.{name}"
    examples = yaml.safe_load(MODULES[name].EXAMPLES)
    assert not [task["name"] for task in examples if name in task], "examples use the FQCN"
    calls = [task for task in examples if fqcn in task]
    assert calls
    for task in calls:
        assert set(task[fqcn]) <= set(documented_options(name)), task["name"]


@by_name
def test_return_values_are_documented_with_types(name):
    returned = yaml.safe_load(MODULES[name].RETURN)
    assert RETURNED[name] <= set(returned)
    assert "warnings" not in returned  # Ansible reads a module's `warnings` as its own
    assert all("type" in value and "description" in value for value in returned.values())


def test_fly_pipeline_options_are_exactly_the_ones_the_issue_names():
    assert set(fly_pipeline.argument_spec()) == {
        "concourse_url", "target", "team", "username", "password", "ca_cert", "insecure", "pipeline",
        "config", "vars", "vars_files", "state", "paused", "exposed", "validate", "check_creds", "trigger",
        "watch", "rerun", "timeout", "abort_on_timeout", "executable",
    }  # fmt: skip


def test_bosh_credentials_default_to_the_bosh_environment_variables():
    spec = bosh_deploy.argument_spec()
    fallbacks = {
        name: spec[name]["fallback"][1] for name in ("environment", "client", "client_secret", "ca_cert")
    }
    assert fallbacks == {
        "environment": ["BOSH_ENVIRONMENT"],
        "client": ["BOSH_CLIENT"],
        "client_secret": ["BOSH_CLIENT_SECRET"],
        "ca_cert": ["BOSH_CA_CERT"],
    }


def test_registry_check_return_values_describe_their_parts():
    returned = yaml.safe_load(registry_check.RETURN)
    assert set(returned) == RETURNED["registry_check"] | {"listen"}
    assert set(returned["manifest"]["contains"]) == {"digest", "media_type", "size", "config_digest"}
    assert set(returned["listen"]["contains"]) == {"port", "listening", "addresses", "loopback_only"}
    assert set(returned["error"]["contains"]) == {"kind", "message"}


def test_fly_pipeline_build_result_has_its_fields():
    build = yaml.safe_load(fly_pipeline.RETURN)["build"]["contains"]
    assert {"id", "name", "status", "exit_code", "timed_out", "aborted", "log_tail"} <= set(build)


def test_secret_values_of_a_vars_dict_are_chosen_by_name_at_any_depth():
    variables = {
        "external_host": "10.0.0.5",
        "concourse_version": "7.11.2",
        "admin_password": "pw-1",
        "registry_tls": {"ca": "CA-PEM", "certificate": "CERT-PEM", "private_key": "KEY-PEM"},
        "github_token": "tok-2",
        "aws_secret_access_key": "aws-3",
        "ssh_key": {"public_key": "ssh-rsa AAA", "private_key": "PRIV-4"},
        "credentials": ["c-5", "c-6"],
        "monkey": "not-a-secret",
        "enabled_password": True,
        "port_password": 1234,
    }
    assert sorted(secret_values(variables)) == sorted(
        ["pw-1", "KEY-PEM", "tok-2", "aws-3", "ssh-rsa AAA", "PRIV-4", "c-5", "c-6", "1234"]
    )


def suboptions_documented(documented, spec, where):
    """Every suboption documented with the spec's type, default, choices, elements and
    required, at any depth."""
    assert set(documented) == set(spec), where
    for option, value in spec.items():
        doc = documented[option]
        assert doc["type"] == value["type"], f"{where}.{option}"
        for key in ("default", "choices", "elements"):
            assert doc.get(key) == value.get(key), f"{where}.{option}: {key}"
        assert bool(doc.get("required")) == bool(value.get("required")), f"{where}.{option}"
        if "options" in value:
            suboptions_documented(doc["suboptions"], value["options"], f"{where}.{option}")


def test_lab_jobs_suboptions_are_documented_and_only_file_contents_are_no_log():
    spec = lab_jobs.argument_spec()
    suboptions_documented(documented_options("lab_jobs"), spec, "lab_jobs")
    job = spec["jobs"]["options"]
    assert job["files"]["options"]["content"]["no_log"] is True
    no_log = [
        f"{name}.{option}"
        for name in ("dirs", "files")
        for option, value in job[name]["options"].items()
        if value.get("no_log")
    ] + [option for option, value in job.items() if value.get("no_log")]
    assert no_log == ["files.content"]
