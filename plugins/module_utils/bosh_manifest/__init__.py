"""Render BOSH manifests the way `bosh interpolate` does, without the bosh CLI.

The bosh CLI cannot be installed everywhere this project runs, so the renderer is a port of the
parts of bosh-cli v7 that `bosh interpolate` uses:

- YAML is read with gopkg.in/yaml.v2's scalar rules (`y`/`n` are booleans, `1:30` is a string,
  `08` is a number, timestamps stay strings), so a value means here what it means to the CLI.
- Ops files follow github.com/cppforlife/go-patch v0.2.0 (the version bosh-cli vendors):
  `replace`, `remove` and `test` operations, pointer tokens (keys, indexes, `key=value`
  selectors, `-`, `?`, `:prev`/`:next`/`:before`/`:after`), and the same error texts.
- `((variables))` follow director/template: whole-value and inline interpolation, `((!name))`,
  `((name.key))`, then variables from the vars store, generated when a `variables:` entry has a
  type (password, certificate, rsa, ssh) and written back to the store file.

Error messages keep bosh's wording so that a failure reads the same with or without the CLI.

The parts, each importable on its own:

- errors: BoshError and BoshFileError.
- go_values: Go's %T and %v of decoded values, for error texts.
- yaml_compat: YAML read and written as yaml.v2 does (the only user of PyYAML).
- pointer, gopatch, ops_files: go-patch pointers, operations, and ops files.
- generators: password, certificate, rsa and ssh values (certificates and keys need
  `cryptography`).
- variables: static values, the vars store, ((variable)) interpolation.
- render: all of it, as `bosh interpolate`.

Without PyYAML the package still imports; YAML_IMPORT_ERROR is then the ImportError, and
reading or writing YAML raises BoshError.
"""

from __future__ import annotations

from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.errors import (
    BoshError,
    BoshFileError,
)
from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.generators import (
    generate_certificate,
    generate_password,
    generate_rsa,
    generate_ssh,
)
from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.go_values import go_type, go_value
from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.gopatch import (
    FindOp,
    RemoveOp,
    ReplaceOp,
    TestOp,
    apply_ops,
    find,
)
from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.ops_files import (
    DescriptiveOp,
    load_ops_file,
    ops_from_definitions,
)
from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.pointer import (
    AfterLastIndexToken,
    IndexToken,
    KeyToken,
    MatchingIndexToken,
    Pointer,
    RootToken,
    Token,
)
from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.render import RenderResult, render
from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.variables import (
    INTERPOLATION,
    INTERPOLATION_ANCHORED,
    MultiVars,
    StaticVars,
    VarsStore,
    VarsTracker,
    find_variable_names,
    interpolate,
    load_vars_files,
    static_vars_processed,
)
from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.yaml_compat import (
    YAML_IMPORT_ERROR,
    GoYamlDumper,
    GoYamlLoader,
    dump_yaml,
    go_resolve_plain,
    load_yaml_file,
    load_yaml_text,
    read_text,
    sorted_keys,
)

__all__ = [
    "INTERPOLATION",
    "INTERPOLATION_ANCHORED",
    "YAML_IMPORT_ERROR",
    "AfterLastIndexToken",
    "BoshError",
    "BoshFileError",
    "DescriptiveOp",
    "FindOp",
    "GoYamlDumper",
    "GoYamlLoader",
    "IndexToken",
    "KeyToken",
    "MatchingIndexToken",
    "MultiVars",
    "Pointer",
    "RemoveOp",
    "RenderResult",
    "ReplaceOp",
    "RootToken",
    "StaticVars",
    "TestOp",
    "Token",
    "VarsStore",
    "VarsTracker",
    "apply_ops",
    "dump_yaml",
    "find",
    "find_variable_names",
    "generate_certificate",
    "generate_password",
    "generate_rsa",
    "generate_ssh",
    "go_resolve_plain",
    "go_type",
    "go_value",
    "interpolate",
    "load_ops_file",
    "load_vars_files",
    "load_yaml_file",
    "load_yaml_text",
    "ops_from_definitions",
    "read_text",
    "render",
    "sorted_keys",
    "static_vars_processed",
]
