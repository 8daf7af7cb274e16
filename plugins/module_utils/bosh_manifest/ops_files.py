"""Ops files: go-patch operation definitions read from YAML and checked as the bosh CLI does."""

from __future__ import annotations

import json

from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.errors import (
    BoshError,
    BoshFileError,
)
from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.go_values import yaml_kind
from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.gopatch import (
    RemoveOp,
    ReplaceOp,
    TestOp,
)
from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.pointer import Pointer
from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.yaml_compat import load_yaml_file


class DescriptiveOp:
    """An operation whose failure is reported with the definition's `error` text."""

    def __init__(self, op, error_message):
        self.op = op
        self.error_message = error_message

    def apply(self, doc):
        try:
            return self.op.apply(doc)
        except BoshError as err:
            raise BoshError(f"Error '{self.error_message}': {err}") from None


def _format_op_definition(definition):
    shown = {}
    for field in ("Type", "Path", "Value", "Absent", "Error"):
        key = field.lower()
        if key not in definition:
            continue
        value = definition[key]
        if field == "Type" and not value:
            continue
        if field != "Type" and value is None:
            continue
        shown[field] = "<redacted>" if field == "Value" else value
    return json.dumps(shown, indent=2, ensure_ascii=False).replace("&", "\\u0026")


def ops_from_definitions(definitions):  # noqa: PLR0912 -- go-patch NewOpsFromDefinitions checks
    """go-patch NewOpsFromDefinitions: Op objects from the decoded list, or BoshError."""
    ops = []
    for i, definition in enumerate(definitions):
        shown = _format_op_definition(definition)
        kind = definition.get("type") or ""
        path_text = definition.get("path")
        has_value = definition.get("value") is not None
        try:
            if kind in ("replace", "remove", "test"):
                if path_text is None:
                    raise BoshError("Missing path")
                if kind == "replace" and not has_value:
                    raise BoshError("Missing value")
                if kind == "remove" and has_value:
                    raise BoshError("Cannot specify value")
                if kind == "test" and not has_value and definition.get("absent") is None:
                    raise BoshError("Missing value or absent")
                try:
                    pointer = Pointer.parse(str(path_text))
                except BoshError as err:
                    raise BoshError(f"Invalid path: {err}") from None
        except BoshError as err:
            raise BoshError(f"{kind.capitalize()} operation [{i}]: {err} within\n{shown}") from None
        if kind == "replace":
            op = ReplaceOp(pointer, definition["value"])
        elif kind == "remove":
            op = RemoveOp(pointer)
        elif kind == "test":
            op = TestOp(pointer, definition.get("value"), bool(definition.get("absent")))
        else:
            raise BoshError(f"Unknown operation [{i}] with type '{kind}' within\n{shown}")
        if definition.get("error") is not None:
            op = DescriptiveOp(op, str(definition["error"]))
        ops.append(op)
    return ops


def load_ops_file(path):
    """The operations of one ops file, each reporting failures as the bosh CLI does."""
    definitions = load_yaml_file(path, "ops file")
    if definitions is None:
        return []
    if not isinstance(definitions, list):
        raise BoshFileError(
            "ops file", path, f"expected a list of operations, found {yaml_kind(definitions)}"
        )
    checked = []
    for i, definition in enumerate(definitions):
        if not isinstance(definition, dict):
            raise BoshFileError(
                "ops file",
                path,
                f"operation [{i}] is {yaml_kind(definition)}, expected a map with type and path",
            )
        checked.append({**definition, "error": f"operation [{i}] in {path} failed"})
    try:
        return ops_from_definitions(checked)
    except BoshError as err:
        raise BoshError("Building ops", err) from None
