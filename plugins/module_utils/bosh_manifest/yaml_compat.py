"""YAML read and written as gopkg.in/yaml.v2 (what the bosh CLI uses) reads and writes it.

Plain scalars resolve with yaml.v2's rules (`y`/`n` are booleans, `1:30` is a string, `08` is a
number, timestamps stay strings), and output is close to yaml.v2's Marshal: keys in its order,
block style, literal blocks for multi-line strings, no line folding.

PyYAML is imported here only; without it the rest of the package still imports, and
YAML_IMPORT_ERROR says why reading or writing YAML cannot work.
"""

from __future__ import annotations

import functools
import math
import re

from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.errors import (
    BoshError,
    BoshFileError,
)
from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.go_values import (
    INT64_MAX,
    INT64_MIN,
    UINT64_MAX,
    go_float,
    go_kind,
)
from ansible_collections.nested.warden.plugins.module_utils.inputs import decode_problem

try:
    import yaml
except ImportError as err:  # the module reports it through missing_required_lib
    yaml = None
    YAML_IMPORT_ERROR = err
    _SafeLoader = _SafeDumper = object
else:
    YAML_IMPORT_ERROR = None
    _SafeLoader, _SafeDumper = yaml.SafeLoader, yaml.SafeDumper

_BOOL_VALUES = {
    **dict.fromkeys(["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"], True),
    **dict.fromkeys(["n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"], False),
}
_NULL_VALUES = {"", "~", "null", "Null", "NULL"}
_SPECIAL_FLOATS = {
    ".nan": math.nan,
    ".NaN": math.nan,
    ".NAN": math.nan,
    **dict.fromkeys([".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"], math.inf),
    **dict.fromkeys(["-.inf", "-.Inf", "-.INF"], -math.inf),
}
_YAML_STYLE_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_DOT_FLOAT = re.compile(r"^\.[0-9]+([eE][-+]?[0-9]+)?$")
_GO_INT = re.compile(r"^([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$")
_TAG = "tag:yaml.org,2002:"
_DOCUMENT_END = "...\n"


def _require_yaml():
    if yaml is None:
        raise BoshError(
            "Reading and writing YAML needs the Python package 'PyYAML' (pip install PyYAML)",
            YAML_IMPORT_ERROR,
        )


def _go_parse_int(text):
    """strconv.ParseInt(s, 0, 64) then ParseUint: None when Go would not read an integer."""
    match = _GO_INT.match(text)
    if not match:
        return None
    sign, digits = match.groups()
    lowered = digits.lower()
    if lowered.startswith("0x"):
        value = int(lowered[2:], 16)
    elif lowered.startswith("0o"):
        value = int(lowered[2:], 8)
    elif lowered.startswith("0b"):
        value = int(lowered[2:], 2)
    elif len(lowered) > 1 and lowered.startswith("0"):
        value = int(lowered[1:], 8)
    else:
        value = int(lowered)
    if sign == "-":
        value = -value
    if INT64_MIN <= value <= INT64_MAX or (sign != "-" and value <= UINT64_MAX):
        return value
    return None


def go_resolve_plain(text):  # noqa: PLR0911 -- one return per YAML type, as in yaml.v2 resolve()
    """The tag yaml.v2 gives a plain scalar, and its value."""
    if text in _BOOL_VALUES:
        return "bool", _BOOL_VALUES[text]
    if text in _NULL_VALUES:
        return "null", None
    if text in _SPECIAL_FLOATS:
        return "float", _SPECIAL_FLOATS[text]
    if text == "<<":
        return "merge", text
    hint = text[0]
    if hint == ".":
        if _DOT_FLOAT.match(text):
            return "float", float(text)
    elif hint in "+-0123456789":
        # Timestamps stay strings when decoded into interface{} (yaml.v2 decode.go).
        plain = text.replace("_", "")
        value = _go_parse_int(plain)
        if value is not None:
            return "int", value
        if _YAML_STYLE_FLOAT.match(plain):
            return "float", float(plain)
    return "str", text


# ------------------------------------------------------------------------------------------------
# Reading


class GoYamlLoader(_SafeLoader):
    """SafeLoader whose plain scalars resolve as in gopkg.in/yaml.v2."""

    def resolve(self, kind, value, implicit):
        if kind is yaml.ScalarNode and implicit[0]:
            return _TAG + go_resolve_plain(value)[0]
        return super().resolve(kind, value, implicit)


def _construct_scalar(kind):
    def construct(loader, node):
        text = loader.construct_scalar(node)
        tag, value = go_resolve_plain(text)
        if tag == kind or (kind == "float" and tag == "int"):
            return float(value) if kind == "float" else value
        if kind == "str":
            return text
        raise yaml.constructor.ConstructorError(
            None, None, f"cannot decode !!{tag} `{text}` as a !!{kind}", node.start_mark
        )

    return construct


if yaml is not None:
    for _kind in ("bool", "int", "float", "null"):
        GoYamlLoader.add_constructor(_TAG + _kind, _construct_scalar(_kind))
    GoYamlLoader.add_constructor(_TAG + "timestamp", lambda loader, node: loader.construct_scalar(node))


def load_yaml_text(text, what="YAML", path="<string>"):
    """The first YAML document of text (yaml.v2 reads only the first), or BoshFileError."""
    _require_yaml()
    loader = GoYamlLoader(text)
    try:
        if not loader.check_node():
            return None
        return loader.construct_document(loader.get_node())
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        if err.context_mark is not None and "<stream end>" in (err.problem or ""):
            mark = err.context_mark  # an unclosed bracket or quote: point at where it opened
        problem = err.problem or str(err)
        if err.context:
            problem = f"{problem} ({err.context})"
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        raise BoshFileError(what, path, f"not valid YAML: {problem}", line, column) from None
    except yaml.YAMLError as err:
        raise BoshFileError(what, path, f"not valid YAML: {err}") from None
    finally:
        loader.dispose()


def read_text(path, what):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        raise BoshFileError(what, path, "no such file") from None
    except IsADirectoryError:
        raise BoshFileError(what, path, "is a directory, expected a file") from None
    except UnicodeDecodeError as err:
        raise BoshFileError(what, path, decode_problem(err)) from None
    except OSError as err:
        raise BoshFileError(what, path, f"cannot be read: {err.strerror or err}") from None


def load_yaml_file(path, what):
    return load_yaml_text(read_text(path, what), what, path)


# ------------------------------------------------------------------------------------------------
# Writing


def _key_number(value):
    if isinstance(value, bool):
        return float(value), True
    if isinstance(value, (int, float)):
        return float(value), True
    return 0.0, False


def _compare_keys(a, b):  # noqa: PLR0911, PLR0912 -- a port of yaml.v2 keyList.Less
    af, aok = _key_number(a)
    bf, bok = _key_number(b)
    if aok and bok:
        if af != bf:
            return -1 if af < bf else 1
        if go_kind(a) != go_kind(b):
            return -1 if go_kind(a) < go_kind(b) else 1
        return (a > b) - (a < b)
    if not (isinstance(a, str) and isinstance(b, str)):
        ka, kb = go_kind(a), go_kind(b)
        if ka == kb:
            return (str(a) > str(b)) - (str(a) < str(b))
        return -1 if ka < kb else 1
    for i in range(min(len(a), len(b))):
        if a[i] == b[i]:
            continue
        al, bl = a[i].isalpha(), b[i].isalpha()
        if al and bl:
            return -1 if a[i] < b[i] else 1
        if al or bl:
            return -1 if bl else 1
        an = bn = 0
        if a[i] == "0" or b[i] == "0":
            j = i - 1
            while j >= 0 and a[j].isdigit():
                if a[j] != "0":
                    an = bn = 1
                    break
                j -= 1
        ai = i
        while ai < len(a) and a[ai].isdigit():
            an = an * 10 + int(a[ai])
            ai += 1
        bi = i
        while bi < len(b) and b[bi].isdigit():
            bn = bn * 10 + int(b[bi])
            bi += 1
        if an != bn:
            return -1 if an < bn else 1
        if ai != bi:
            return -1 if ai < bi else 1
        return -1 if a[i] < b[i] else 1
    return (len(a) > len(b)) - (len(a) < len(b))


# The forms yaml.v2 parses as timestamps (and so quotes when they are strings).
_TIMESTAMP_LIKE = re.compile(
    r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(([Tt]| )[0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?)?$"
)
_BASE60_FLOAT = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")


def sorted_keys(keys):
    """Map keys in the order yaml.v2 writes them."""
    return sorted(keys, key=functools.cmp_to_key(_compare_keys))


class GoYamlDumper(_SafeDumper):
    """Quotes exactly the strings that yaml.v2 would otherwise read as something else."""

    def ignore_aliases(self, data):
        return True

    def resolve(self, kind, value, implicit):
        if kind is yaml.ScalarNode and implicit[0]:
            if _TIMESTAMP_LIKE.match(value):
                return _TAG + "timestamp"
            return _TAG + go_resolve_plain(value)[0]
        return super().resolve(kind, value, implicit)


def _represent_dict(dumper, data):
    items = sorted(data.items(), key=functools.cmp_to_key(lambda x, y: _compare_keys(x[0], y[0])))
    return dumper.represent_mapping(_TAG + "map", items, flow_style=False)


def _represent_str(dumper, data):
    # yaml.v2 double-quotes strings that would read back as another type, uses literal blocks
    # for multi-line text, and leaves the rest to the emitter (plain, or single quotes).
    if "\n" in data:
        style = "|"
    elif go_resolve_plain(data)[0] != "str" or _TIMESTAMP_LIKE.match(data) or _BASE60_FLOAT.match(data):
        style = '"'
    else:
        style = None
    return dumper.represent_scalar(_TAG + "str", data, style=style)


def _represent_float(dumper, data):
    if math.isnan(data):
        text = ".nan"
    elif math.isinf(data):
        text = ".inf" if data > 0 else "-.inf"
    else:
        text = go_float(data)  # yaml.v2 writes floats with strconv 'g': 8.0 is "8", 1e6 is "1e+06"
    return dumper.represent_scalar(_TAG + go_resolve_plain(text)[0], text)


if yaml is not None:
    GoYamlDumper.add_representer(dict, _represent_dict)
    GoYamlDumper.add_representer(str, _represent_str)
    GoYamlDumper.add_representer(float, _represent_float)


def dump_yaml(data):
    """YAML text of data, close to what `bosh interpolate` prints."""
    _require_yaml()
    text = yaml.dump(data, Dumper=GoYamlDumper, default_flow_style=False, allow_unicode=True, width=2**31 - 1)
    if not isinstance(data, (dict, list)) and text.endswith(_DOCUMENT_END):
        text = text[: -len(_DOCUMENT_END)]  # a lone scalar: yaml.v2 writes no document end marker
    return text
