"""registry_check's DOCUMENTATION, EXAMPLES and RETURN say exactly what its argument spec does."""

import registry_check  # plugins/modules, see conftest
import yaml

DOCUMENTED = yaml.safe_load(registry_check.DOCUMENTATION)["options"]
SPEC = registry_check.ARGUMENT_SPEC


def test_every_option_is_documented_and_every_documented_option_exists():
    assert set(DOCUMENTED) == set(SPEC)


def test_documented_types_and_defaults_match_the_argument_spec():
    for name, spec in SPEC.items():
        assert DOCUMENTED[name]["type"] == spec["type"], name
        assert DOCUMENTED[name].get("default") == spec.get("default"), name
        assert bool(DOCUMENTED[name].get("required")) == bool(spec.get("required")), name


def test_password_is_the_only_no_log_option():
    assert [name for name, spec in SPEC.items() if spec.get("no_log")] == ["password"]


def test_examples_use_only_documented_options():
    for task in yaml.safe_load(registry_check.EXAMPLES):
        if "registry_check" in task:
            assert set(task["registry_check"]) <= set(DOCUMENTED), task["name"]


def test_return_documents_every_fact_the_module_sets():
    returned = yaml.safe_load(registry_check.RETURN)
    facts = {
        "url",
        "reachable",
        "status",
        "api_version",
        "auth",
        "error",
        "catalog",
        "tags",
        "manifest",
        "listen",
    }
    assert set(returned) == facts
    assert set(returned["manifest"]["contains"]) == {"digest", "media_type", "size"}
    assert set(returned["listen"]["contains"]) == {"port", "listening", "addresses", "loopback_only"}
    assert set(returned["error"]["contains"]) == {"kind", "message"}
