"""bosh_deploy's DOCUMENTATION, EXAMPLES and RETURN agree with its argument_spec."""

import bosh_deploy
import yaml

DOC = yaml.safe_load(bosh_deploy.DOCUMENTATION)
SPEC = bosh_deploy.argument_spec()


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


def test_secrets_are_no_log():
    assert SPEC["vars"]["no_log"] is True
    assert SPEC["client_secret"]["no_log"] is True


def test_credentials_default_to_the_bosh_environment_variables():
    fallbacks = {
        name: SPEC[name]["fallback"][1] for name in ("environment", "client", "client_secret", "ca_cert")
    }
    assert fallbacks == {
        "environment": ["BOSH_ENVIRONMENT"],
        "client": ["BOSH_CLIENT"],
        "client_secret": ["BOSH_CLIENT_SECRET"],
        "ca_cert": ["BOSH_CA_CERT"],
    }


def test_examples_use_only_documented_options():
    for task in yaml.safe_load(bosh_deploy.EXAMPLES):
        assert set(task["bosh_deploy"]) <= set(SPEC), task["name"]


def test_return_values_are_documented_with_types():
    returned = yaml.safe_load(bosh_deploy.RETURN)
    assert {"manifest", "value", "generated_variables", "diff_lines", "cmd", "rc", "stdout", "stderr"} <= set(
        returned
    )
    assert all("type" in value and "description" in value for value in returned.values())
