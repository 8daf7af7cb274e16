"""The whole of `bosh interpolate`: manifest, ops files, variables and the vars store."""

from __future__ import annotations

from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.gopatch import FindOp, apply_ops
from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.ops_files import load_ops_file
from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.pointer import Pointer
from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.variables import (
    MultiVars,
    StaticVars,
    VarsStore,
    VarsTracker,
    find_variable_names,
    interpolate,
    load_vars_files,
)
from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.yaml_compat import load_yaml_file


class RenderResult:
    def __init__(self, manifest, value, generated, unresolved, store_values, *, store=None):
        self.store = store  # the VarsStore: render(save_store=False), then store.save() when accepted
        self.manifest = manifest
        self.value = value
        self.generated = generated
        self.unresolved = unresolved
        self.store_values = store_values


def render(
    manifest_path,
    *,
    ops_files=(),
    vars_files=(),
    variables=None,
    vars_store=None,
    path=None,
    save_store=True,
):
    """Render like `bosh interpolate MANIFEST -o OPS... -l VARS... [--vars-store S] [--path P]`.

    `variables` (a dict) wins over `vars_files`, as `-v` wins over `-l`. Raises BoshError or
    BoshFileError with bosh's wording. The manifest is what bosh prints; with `path`, `value` is
    the one value found there.
    """
    document = load_yaml_file(manifest_path, "manifest")
    ops = []
    for ops_path in ops_files:
        ops.extend(load_ops_file(ops_path))
    static = {**load_vars_files(vars_files), **{str(k): v for k, v in (variables or {}).items()}}
    sources = [StaticVars(static)]
    store = None
    if vars_store:
        store = VarsStore(vars_store, save=save_store)
        sources.append(store)
    multi = MultiVars(sources)
    if store is not None:
        store.lookup = lambda definition: multi.get({"name": definition["name"]})
    pointer = Pointer.parse(path) if path else None

    document = apply_ops(document, ops)
    tracker = VarsTracker(multi)
    tracker.extract_definitions(document)
    document = interpolate(document, tracker)
    document = tracker.remove_found(document)
    unresolved = sorted(find_variable_names(document))
    value = FindOp(pointer).apply(document) if pointer is not None else None
    return RenderResult(
        manifest=document,
        value=value,
        generated=list(store.generated) if store else [],
        unresolved=unresolved,
        store_values=store.values if store else None,
        store=store,
    )
