"""Every filter has its ansible-doc documentation beside it (plugins/filter/<name>.yml) whose
options are exactly the filter's parameters, and nothing else is documented as a filter."""

import importlib
import inspect
from pathlib import Path

import pytest
import yaml

FILTER_DIR = Path(__file__).resolve().parents[2] / "plugins" / "filter"


def filters():
    found = {}
    for source in sorted(FILTER_DIR.glob("*.py")):
        module = importlib.import_module(f"ansible_collections.nested.warden.plugins.filter.{source.stem}")
        found.update(module.FilterModule().filters())
    return found


FILTERS = filters()


def test_every_filter_has_a_doc_file_and_every_doc_file_a_filter():
    assert {path.stem for path in FILTER_DIR.glob("*.yml")} == set(FILTERS)


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_documented_options_are_the_filters_parameters(name):
    doc = yaml.safe_load((FILTER_DIR / f"{name}.yml").read_text())
    assert set(doc) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}
    documentation = doc["DOCUMENTATION"]
    assert documentation["name"] == name
    parameters = list(inspect.signature(FILTERS[name]).parameters)
    assert set(documentation["options"]) == {"_input", *parameters[1:]}
    positional = [item.strip() for item in documentation.get("positional", "").split(",") if item.strip()]
    assert positional == parameters[1 : 1 + len(positional)]
    assert f"nested.warden.{name}" in doc["EXAMPLES"]
    assert "type" in doc["RETURN"]["_value"]
