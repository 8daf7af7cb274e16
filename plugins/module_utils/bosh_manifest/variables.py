"""Variables: static values, the vars store (with generation), and ((variable)) interpolation.

A port of bosh-cli's director/template: whole-value and inline interpolation, `((!name))`,
`((name.key))`, values from `-v`/`-l` first, then from the vars store, where a `variables:`
entry with a type is generated and written back to the store file.
"""

from __future__ import annotations

import copy
import os
import re
import tempfile

from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.errors import (
    BoshError,
    BoshFileError,
)
from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.generators import (
    generate_certificate,
    generate_password,
    generate_rsa,
    generate_ssh,
    parse_certificate_and_key,
)
from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.go_values import (
    go_type,
    go_value,
    yaml_kind,
)
from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.gopatch import FindOp, RemoveOp
from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.pointer import (
    IndexToken,
    KeyToken,
    MatchingIndexToken,
    Pointer,
    RootToken,
)
from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.yaml_compat import (
    dump_yaml,
    load_yaml_file,
)
from ansible_collections.nested.warden.plugins.module_utils.inputs import writable_file_problem


def static_vars_processed(values):
    """StaticVariables.processed(): dotted names become nested maps (bosh's own quirks kept)."""
    processed = {}
    for name, value in values.items():
        pieces = str(name).split(".")
        if len(pieces) == 1:
            processed[name] = value
            continue
        ref = processed
        for piece in pieces[:-1]:
            if piece not in processed:
                ref[piece] = {}
            ref = ref[piece]
        ref[pieces[-1]] = value
    return processed


class StaticVars:
    def __init__(self, values):
        self.values = static_vars_processed(values)

    def get(self, definition):
        if definition["name"] in self.values:
            return self.values[definition["name"]], True
        return None, False


class VarsStore:
    """`--vars-store PATH`: values read from a YAML file; declared variables generated into it.

    With save=False (check mode) generated values stay in memory and the file is left alone.
    """

    def __init__(self, path, save=True, lookup=None):
        self.path = os.path.abspath(os.path.expanduser(path))
        self.save_enabled = save
        self.generated = []
        self.lookup = lookup
        self._values = None

    def load(self):
        if self._values is None:
            values = {}
            if os.path.exists(self.path):
                values = load_yaml_file(self.path, "vars store") or {}
                if not isinstance(values, dict):
                    raise BoshFileError(
                        "vars store", self.path, f"expected a map of variables, found {yaml_kind(values)}"
                    )
            self._values = values
        return copy.deepcopy(self._values)

    def get(self, definition):
        values = self.load()
        name = definition["name"]
        if name in values:
            return values[name], True
        kind = definition.get("type") or ""
        if not kind:
            return None, False
        # Checked before generating, in check mode too, so that check mode predicts the failure
        # and a real run fails before it writes anything.
        problem = writable_file_problem(self.path)
        if problem:
            raise BoshError(
                f"Writing variables to file store '{self.path}'",
                BoshError(f"the vars store {problem} (variable '{name}' must be generated into it)"),
            )
        try:
            value = self._generate(kind, definition.get("options"))
        except BoshError as err:
            raise BoshError(f"Generating variable '{name}'", err) from None
        self._values[name] = value
        self.generated.append(name)
        if self.save_enabled:
            self._write()
        return copy.deepcopy(value), True

    def _generate(self, kind, options):
        if kind == "password":
            return generate_password(options)
        if kind == "certificate":
            return generate_certificate(options, self._load_ca)
        if kind == "rsa":
            return generate_rsa(options)
        if kind == "ssh":
            return generate_ssh(options)
        raise BoshError(f"Unsupported value type: {kind}")

    def _load_ca(self, name):
        value, found = self.lookup({"name": name}) if self.lookup else self.get({"name": name})
        if not found:
            raise BoshError(f"Expected to find variable '{name}' with a certificate")
        if not isinstance(value, dict):
            raise BoshError(f"Expected variable '{name}' to be deserializable")
        return parse_certificate_and_key(value)

    def save(self):
        """Write the store now (after a render with save=False whose result was accepted)."""
        if self.generated:
            self._write()

    def _write(self):
        directory = os.path.dirname(self.path)
        try:
            os.makedirs(directory, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".vars-store-", dir=directory)
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    out.write(dump_yaml(self._values))
                os.chmod(temporary, 0o600)
                os.replace(temporary, self.path)
            except BaseException:
                if os.path.exists(temporary):
                    os.unlink(temporary)
                raise
        except OSError as err:
            raise BoshError(f"Writing variables to file store '{self.path}'", BoshError(str(err))) from None

    @property
    def values(self):
        return self.load()


class MultiVars:
    def __init__(self, sources):
        self.sources = sources

    def get(self, definition):
        for source in self.sources:
            value, found = source.get(definition)
            if found:
                return value, True
        return None, False


_VAR_NAME = r"!?[-/.\w]+"
INTERPOLATION = re.compile(r"\(\( ?(" + _VAR_NAME + r") ?\)\)")
INTERPOLATION_ANCHORED = re.compile(r"\A\(\( ?(" + _VAR_NAME + r") ?\)\)\Z")


def _variable_name(match):
    """The name in an INTERPOLATION match, without the `!` that marks an absolute name."""
    name = match.group(1)
    return name[1:] if name.startswith("!") else name


class VarsTracker:
    def __init__(self, variables, definitions=None, visited=()):
        self.variables = variables
        self.definitions = definitions or []
        self.missing = set()
        self.visited = set(visited)

    def find_definition(self, name):
        for definition in self.definitions:
            if definition.get("name") == name:
                return dict(definition)
        return {"name": name}

    def get(self, name):
        if name in self.visited:
            raise BoshError("Detected recursion")
        scoped = VarsTracker(self.variables, self.definitions, {*self.visited, name})
        definition = self.find_definition(name)
        try:
            definition["options"] = interpolate(definition.get("options"), scoped)
        except BoshError as err:
            raise BoshError(f"Interpolating variable '{name}' definition options", err) from None
        if scoped.missing:
            return None, False
        value, found = self.variables.get(definition)
        if not found:
            self.missing.add(name)
        return value, found

    def lookup(self, name):
        """varsLookup.Get: `name.key.sub` finds `/key/sub` inside the value of `name`."""
        pieces = name.split(".")
        value, found = self.get(pieces[0])
        if not found or len(pieces) == 1:
            return value, found
        pointer = Pointer.parse("/" + "/".join(pieces[1:]))
        try:
            return FindOp(pointer).apply(value), True
        except BoshError:
            keys = Pointer(
                [KeyToken(str(t.index)) if isinstance(t, IndexToken) else t for t in pointer.tokens]
            )
            return FindOp(keys).apply(value), True

    def extract_definitions(self, doc):
        if isinstance(doc, dict):
            definitions = doc.get("variables")
            if definitions is None:
                definitions = []
            if not isinstance(definitions, list):
                raise BoshError(
                    "Expected 'variables' to be a list of variable definitions, "
                    f"found {yaml_kind(definitions)}"
                )
            self.definitions = [_definition(item) for item in definitions]
        for definition in self.definitions:
            if definition.get("type"):
                try:
                    self.get(definition["name"])
                except BoshError as err:
                    raise BoshError("Getting all variables from variable definitions sections", err) from None

    def remove_found(self, doc):
        found = []
        for definition in self.definitions:
            try:
                _value, was_found = self.get(definition["name"])
            except BoshError as err:
                raise BoshError("Getting all variables from variable definitions sections", err) from None
            if was_found:
                found.append(definition["name"])
        for name in found:
            doc = RemoveOp(
                Pointer([RootToken(), KeyToken("variables"), MatchingIndexToken("name", name)])
            ).apply(doc)
        return doc


def _definition(item):
    if not isinstance(item, dict):
        raise BoshError(f"Expected each variable definition to be a map, found {yaml_kind(item)}")
    return {
        "name": "" if item.get("name") is None else str(item.get("name")),
        "type": "" if item.get("type") is None else str(item.get("type")),
        "options": item.get("options"),
    }


def interpolate(node, tracker):
    """director/template interpolator.Interpolate over a decoded YAML value."""
    if isinstance(node, dict):
        result = {}
        for key, value in node.items():
            new_value = interpolate(value, tracker)
            new_key = interpolate(key, tracker)
            result[_hashable(new_key)] = new_value
        return result
    if isinstance(node, list):
        return [interpolate(item, tracker) for item in node]
    if isinstance(node, str):
        text = node
        for match in INTERPOLATION.finditer(node):
            name = _variable_name(match)
            try:
                value, found = tracker.lookup(name)
            except BoshError as err:
                raise BoshError(f"Finding variable '{name}'", err) from None
            if not found:
                continue
            if INTERPOLATION_ANCHORED.match(text):
                return value
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                raise BoshError(
                    f"Invalid type '{go_type(value)}' for value '{go_value(value)}' and variable '{name}'. "
                    "Supported types for interpolation within a string are integers and strings."
                )
            text = text.replace(f"(({name}))", str(value)).replace(f"((!{name}))", str(value))
        return text
    return node


def _hashable(key):
    if isinstance(key, (dict, list)):
        raise BoshError(f"Expected a map key to be a scalar but a variable made it {yaml_kind(key)}")
    return key


def find_variable_names(node, names=None):
    """Names of the ((variables)) still left in a rendered value."""
    names = set() if names is None else names
    if isinstance(node, dict):
        for key, value in node.items():
            find_variable_names(key, names)
            find_variable_names(value, names)
    elif isinstance(node, list):
        for item in node:
            find_variable_names(item, names)
    elif isinstance(node, str):
        names.update(_variable_name(m) for m in INTERPOLATION.finditer(node))
    return names


def load_vars_files(paths):
    values = {}
    for path in paths:
        loaded = load_yaml_file(path, "vars file")
        if loaded is None:
            continue
        if not isinstance(loaded, dict):
            raise BoshFileError("vars file", path, f"expected a map of variables, found {yaml_kind(loaded)}")
        values.update({str(k): v for k, v in loaded.items()})
    return values
