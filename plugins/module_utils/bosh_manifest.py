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
"""

from __future__ import annotations

import base64
import copy
import datetime
import functools
import hashlib
import ipaddress
import json
import math
import os
import re
import secrets
import tempfile
from decimal import Decimal

import yaml

# ------------------------------------------------------------------------------------------------
# Errors shaped like bosh-utils' ComplexError, printed the way the CLI prints them.


class BoshError(Exception):
    """An error with an optional cause, rendered like bosh's MultilineError."""

    def __init__(self, message, cause=None):
        super().__init__(message)
        self.message = message
        self.cause = cause

    def __str__(self):
        if self.cause is None:
            return self.message
        return f"{self.message}: {self.cause}"

    def multiline(self, prefix=""):
        if self.cause is None:
            return prefix + self.message
        cause = (
            self.cause.multiline(prefix + "  ")
            if isinstance(self.cause, BoshError)
            else (prefix + "  " + str(self.cause))
        )
        return f"{prefix}{self.message}:\n{cause}"


class BoshFileError(BoshError):
    """A file that cannot be read or parsed; names the file and, for YAML, the line."""

    def __init__(self, what, path, problem, line=None, column=None):
        where = f"{what} '{path}'"
        if line is not None:
            where += f" line {line}" + (f" column {column}" if column is not None else "")
        super().__init__(f"{where}: {problem}")
        self.what = what
        self.path = path
        self.problem = problem
        self.line = line


# ------------------------------------------------------------------------------------------------
# YAML with gopkg.in/yaml.v2's scalar resolution (what the bosh CLI uses).

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
_INT64_MIN, _INT64_MAX, _UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1
_TAG = "tag:yaml.org,2002:"


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
    if _INT64_MIN <= value <= _INT64_MAX or (sign != "-" and value <= _UINT64_MAX):
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


class GoYamlLoader(yaml.SafeLoader):
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


for _kind in ("bool", "int", "float", "null"):
    GoYamlLoader.add_constructor(_TAG + _kind, _construct_scalar(_kind))
GoYamlLoader.add_constructor(_TAG + "timestamp", lambda loader, node: loader.construct_scalar(node))


def load_yaml_text(text, what="YAML", path="<string>"):
    """The first YAML document of text (yaml.v2 reads only the first), or BoshFileError."""
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
    except (OSError, UnicodeDecodeError) as err:
        raise BoshFileError(what, path, f"cannot be read: {err}") from None


def load_yaml_file(path, what):
    return load_yaml_text(read_text(path, what), what, path)


# Output close to yaml.v2's Marshal: keys sorted with its ordering, block style, literal
# blocks for multi-line strings, no line folding.

_KIND_ORDER = {bool: 1, int: 2, float: 14, str: 24}


def _go_kind(value):
    return _KIND_ORDER.get(type(value), 25)


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
        if _go_kind(a) != _go_kind(b):
            return -1 if _go_kind(a) < _go_kind(b) else 1
        return (a > b) - (a < b)
    if not (isinstance(a, str) and isinstance(b, str)):
        ka, kb = _go_kind(a), _go_kind(b)
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


def sorted_keys(keys):
    """Map keys in the order yaml.v2 writes them."""
    return sorted(keys, key=functools.cmp_to_key(_compare_keys))


class GoYamlDumper(yaml.SafeDumper):
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


_BASE60_FLOAT = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")


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
        text = _go_float(data)  # yaml.v2 writes floats with strconv 'g': 8.0 is "8", 1e6 is "1e+06"
    return dumper.represent_scalar(_TAG + go_resolve_plain(text)[0], text)


GoYamlDumper.add_representer(dict, _represent_dict)
GoYamlDumper.add_representer(str, _represent_str)
GoYamlDumper.add_representer(float, _represent_float)


def dump_yaml(data):
    """YAML text of data, close to what `bosh interpolate` prints."""
    text = yaml.dump(data, Dumper=GoYamlDumper, default_flow_style=False, allow_unicode=True, width=2**31 - 1)
    return text.removesuffix("...\n") if not isinstance(data, (dict, list)) else text


# ------------------------------------------------------------------------------------------------
# Go formatting used inside error messages (%T and %v).


def go_type(value):  # noqa: PLR0911 -- one return per Go type name
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "map[interface {}]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    return type(value).__name__


def _go_float(value):  # noqa: PLR0911 -- strconv.FormatFloat's cases
    """strconv.FormatFloat(v, 'g', -1, 64), which %v uses for float64."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    text = "".join(map(str, digits))
    point = len(text) + exponent  # where the decimal point sits within the digits
    stripped = text.lstrip("0")
    point -= len(text) - len(stripped)
    text = stripped.rstrip("0") or "0"
    prefix = "-" if sign else ""
    exp = point - 1
    if exp < -4 or exp >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{text}"
    if point >= len(text):
        return prefix + text + "0" * (point - len(text))
    return f"{prefix}{text[:point]}.{text[point:]}"


def go_value(value):
    """fmt's %v for values decoded from YAML."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, dict):
        keys = sorted(value, key=lambda key: (_go_kind(key), key))  # fmt: by type, then by value
        return "map[" + " ".join(f"{go_value(k)}:{go_value(value[k])}" for k in keys) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_value(item) for item in value) + "]"
    return str(value)


# ------------------------------------------------------------------------------------------------
# go-patch pointers.

_DECODE = {"~0": "~", "~1": "/", "~7": ":"}
_ENCODE = {"~": "~0", "/": "~1", ":": "~7"}
_MODIFIERS = ("prev", "next", "before", "after")
_ATOI = re.compile(r"^[+-]?[0-9]+$")


def _decode(text):
    return re.sub(r"~[017]", lambda m: _DECODE[m.group(0)], text)


def _encode(text):
    return "".join(_ENCODE.get(char, char) for char in text)


class Token:
    kind = "Token"


class RootToken(Token):
    kind = "patch.RootToken"


class IndexToken(Token):
    kind = "patch.IndexToken"

    def __init__(self, index, modifiers=()):
        self.index = index
        self.modifiers = tuple(modifiers)


class AfterLastIndexToken(Token):
    kind = "patch.AfterLastIndexToken"


class MatchingIndexToken(Token):
    kind = "patch.MatchingIndexToken"

    def __init__(self, key, value, optional=False, modifiers=()):
        self.key = key
        self.value = value
        self.optional = optional
        self.modifiers = tuple(modifiers)


class KeyToken(Token):
    kind = "patch.KeyToken"

    def __init__(self, key, optional=False):
        self.key = key
        self.optional = optional


class Pointer:
    def __init__(self, tokens):
        self.tokens = list(tokens)

    @classmethod
    def parse(cls, text):
        tokens = [RootToken()]
        if text == "":
            return cls(tokens)
        if not text.startswith("/"):
            raise BoshError("Expected to start with '/'")
        pieces = text.split("/")[1:]
        optional = False
        for i, raw in enumerate(pieces):
            is_last = i == len(pieces) - 1
            modifiers = []
            tok_pieces = raw.split(":")
            tok = raw
            if len(tok_pieces) > 1:
                tok = tok_pieces[0]
                for piece in tok_pieces[1:]:
                    if piece not in _MODIFIERS:
                        raise BoshError(
                            "Expected to find one of the following modifiers: 'prev', 'next', 'before', "
                            f"or 'after' but found '{tok_pieces[1]}'"
                        )
                    modifiers.append(piece)
            tok = _decode(tok)
            if is_last and tok == "-":
                if modifiers:
                    raise BoshError("Expected not to find any modifiers with after last index token")
                tokens.append(AfterLastIndexToken())
                continue
            if _ATOI.match(tok) and _INT64_MIN <= int(tok) <= _INT64_MAX:
                tokens.append(IndexToken(int(tok), modifiers))
                continue
            if tok.endswith("?"):
                optional = True
            key, sep, value = tok.partition("=")
            if sep:
                tokens.append(MatchingIndexToken(key, value.removesuffix("?"), optional, modifiers))
                continue
            if modifiers:
                raise BoshError("Expected not to find any modifiers with key token")
            tokens.append(KeyToken(tok.removesuffix("?"), optional))
        return cls(tokens)

    def prefix(self, count):
        return Pointer(self.tokens[:count])

    def __str__(self):
        parts = []
        optional = False
        for token in self.tokens:
            if isinstance(token, RootToken):
                parts.append("")
            elif isinstance(token, IndexToken):
                parts.append(f"{token.index}{_modifiers_text(token.modifiers)}")
            elif isinstance(token, AfterLastIndexToken):
                parts.append("-")
            elif isinstance(token, MatchingIndexToken):
                value = _encode(token.value)
                if token.optional and not optional:
                    value += "?"
                    optional = True
                parts.append(f"{_encode(token.key)}={value}{_modifiers_text(token.modifiers)}")
            else:
                key = _encode(token.key)
                if token.optional and not optional:
                    key += "?"
                    optional = True
                parts.append(key)
        return "/".join(parts)


def _modifiers_text(modifiers):
    return "".join(":" + modifier for modifier in modifiers)


_MODIFIER_TYPES = {
    "prev": "patch.PrevModifier",
    "next": "patch.NextModifier",
    "before": "patch.BeforeModifier",
    "after": "patch.AfterModifier",
}


def _missing_key_error(key, path, obj):
    keys = sorted(k for k in obj if isinstance(k, str))
    siblings = "found map keys: '" + "', '".join(keys) + "'" if obj else "found no other map keys"
    return BoshError(f"Expected to find a map key '{key}' for path '{path}' ({siblings})")


def _mismatch_error(expected, path, obj):
    return BoshError(f"Expected to find {expected} at path '{path}' but found '{go_type(obj)}'")


def _array_index(index, modifiers, array, path):
    result = index
    for modifier in modifiers:
        if modifier == "prev":
            result -= 1
        elif modifier == "next":
            result += 1
        else:
            raise BoshError(
                "Expected to find one of the following modifiers: 'prev', 'next', but found modifier "
                f"'{_MODIFIER_TYPES[modifier]}'"
            )
    if result >= len(array) or (-result) - 1 >= len(array):
        raise BoshError(
            f"Expected to find array index '{result}' but found array of length '{len(array)}' "
            f"for path '{path}'"
        )
    return result + len(array) if result < 0 else result


def _array_insertion(index, modifiers, array, path):
    """(position, insert?) for the last token of a replace."""
    plain = []
    before = after = False
    for modifier in modifiers:
        if before or after:
            which = "before" if before else "after"
            raise BoshError(
                f"Expected to not find any modifiers after '{which}' modifier, but found modifier "
                f"'{_MODIFIER_TYPES[modifier]}'"
            )
        if modifier == "before":
            before = True
        elif modifier == "after":
            after = True
        else:
            plain.append(modifier)
    number = _array_index(index, plain, array, path)
    if after and number != len(array):
        number += 1
    return number, before or after


def _insert(array, position, value):
    number, insert = position
    if insert:
        return [*array[:number], value, *array[number:]]
    array[number] = value
    return array


def _matching(token, array):
    return [
        i
        for i, item in enumerate(array)
        if isinstance(item, dict) and _go_equal(item.get(token.key, _MISSING), token.value)
    ]


_MISSING = object()


def _go_equal(found, wanted):
    return isinstance(found, str) and found == wanted


def _one_match(path, idxs):
    if len(idxs) != 1:
        return BoshError(
            f"Expected to find exactly one matching array item for path '{path}' but found {len(idxs)}"
        )
    return None


class ReplaceOp:
    def __init__(self, path, value):
        self.path = path
        self.value = value

    def apply(self, doc):  # noqa: PLR0912, PLR0915 -- mirrors go-patch ReplaceOp.Apply
        value = copy.deepcopy(self.value)
        tokens = self.path.tokens
        if len(tokens) == 1:
            return value
        holder = {"doc": doc}
        obj = doc
        prev_update = functools.partial(holder.__setitem__, "doc")
        for i, token in enumerate(tokens[1:]):
            is_last = i == len(tokens) - 2
            curr = self.path.prefix(i + 2)
            if isinstance(token, IndexToken):
                if not isinstance(obj, list):
                    raise _mismatch_error("an array", curr, obj)
                if is_last:
                    position = _array_insertion(token.index, token.modifiers, obj, curr)
                    prev_update(_insert(obj, position, value))
                else:
                    idx = _array_index(token.index, token.modifiers, obj, curr)
                    array = obj
                    obj = array[idx]
                    prev_update = functools.partial(array.__setitem__, idx)
            elif isinstance(token, AfterLastIndexToken):
                if not isinstance(obj, list):
                    raise _mismatch_error("an array", curr, obj)
                if not is_last:
                    raise BoshError(f"Expected after last index token to be last in path '{self.path}'")
                prev_update([*obj, value])
            elif isinstance(token, MatchingIndexToken):
                if not isinstance(obj, list):
                    raise _mismatch_error("an array", curr, obj)
                idxs = _matching(token, obj)
                if token.optional and not idxs:
                    if is_last:
                        prev_update([*obj, value])
                    else:
                        item = {token.key: token.value}
                        prev_update([*obj, item])
                        obj = item
                else:
                    err = _one_match(curr, idxs)
                    if err:
                        raise err
                    if is_last:
                        position = _array_insertion(idxs[0], token.modifiers, obj, curr)
                        prev_update(_insert(obj, position, value))
                    else:
                        obj = obj[_array_index(idxs[0], token.modifiers, obj, curr)]
            elif isinstance(token, KeyToken):
                if not isinstance(obj, dict):
                    raise _mismatch_error("a map", curr, obj)
                mapping = obj
                found = token.key in mapping
                obj = mapping.get(token.key)
                if not found and not token.optional:
                    raise _missing_key_error(token.key, curr, mapping)
                if is_last:
                    mapping[token.key] = value
                else:
                    prev_update = functools.partial(mapping.__setitem__, token.key)
                    if not found:
                        following = tokens[i + 2]
                        if isinstance(following, (AfterLastIndexToken, MatchingIndexToken)):
                            obj = []
                        elif isinstance(following, KeyToken):
                            obj = {}
                        else:
                            raise BoshError(
                                "Expected to find key, matching index or after last index token at path "
                                f"'{self.path.prefix(i + 3)}'"
                            )
                        mapping[token.key] = obj
            else:
                raise BoshError(f"Expected to not find token '{token.kind}' at path '{curr}'")
        return holder["doc"]


class RemoveOp:
    def __init__(self, path):
        self.path = path

    def apply(self, doc):  # noqa: PLR0912 -- mirrors go-patch RemoveOp.Apply
        tokens = self.path.tokens
        if len(tokens) == 1:
            raise BoshError("Cannot remove entire document")
        holder = {"doc": doc}
        obj = doc
        prev_update = functools.partial(holder.__setitem__, "doc")
        for i, token in enumerate(tokens[1:]):
            is_last = i == len(tokens) - 2
            curr = self.path.prefix(i + 2)
            if isinstance(token, IndexToken):
                if not isinstance(obj, list):
                    raise _mismatch_error("an array", curr, obj)
                idx = _array_index(token.index, token.modifiers, obj, curr)
                if is_last:
                    prev_update([*obj[:idx], *obj[idx + 1 :]])
                else:
                    array = obj
                    obj = array[idx]
                    prev_update = functools.partial(array.__setitem__, idx)
            elif isinstance(token, MatchingIndexToken):
                if not isinstance(obj, list):
                    raise _mismatch_error("an array", curr, obj)
                idxs = _matching(token, obj)
                if token.optional and not idxs:
                    return holder["doc"]
                err = _one_match(curr, idxs)
                if err:
                    raise err
                idx = _array_index(idxs[0], token.modifiers, obj, curr)
                if is_last:
                    prev_update([*obj[:idx], *obj[idx + 1 :]])
                else:
                    obj = obj[idx]
            elif isinstance(token, KeyToken):
                if not isinstance(obj, dict):
                    raise _mismatch_error("a map", curr, obj)
                mapping = obj
                if token.key not in mapping:
                    if token.optional:
                        return holder["doc"]
                    raise _missing_key_error(token.key, curr, mapping)
                obj = mapping[token.key]
                if is_last:
                    del mapping[token.key]
                else:
                    prev_update = functools.partial(mapping.__setitem__, token.key)
            else:
                raise BoshError(f"Expected to not find token '{token.kind}' at path '{curr}'")
        return holder["doc"]


class FindOp:
    def __init__(self, path):
        self.path = path

    def apply(self, doc):  # noqa: PLR0912 -- mirrors go-patch FindOp.Apply
        tokens = self.path.tokens
        if len(tokens) == 1:
            return doc
        obj = doc
        for i, token in enumerate(tokens[1:]):
            is_last = i == len(tokens) - 2
            curr = self.path.prefix(i + 2)
            if isinstance(token, IndexToken):
                if not isinstance(obj, list):
                    raise _mismatch_error("an array", curr, obj)
                obj = obj[_array_index(token.index, token.modifiers, obj, curr)]
                if is_last:
                    return obj
            elif isinstance(token, AfterLastIndexToken):
                raise BoshError(
                    f"Expected not to find after last index token in path '{self.path}' "
                    "(not supported in find operations)"
                )
            elif isinstance(token, MatchingIndexToken):
                if not isinstance(obj, list):
                    raise _mismatch_error("an array", curr, obj)
                idxs = _matching(token, obj)
                if token.optional and not idxs:
                    obj = {token.key: token.value}
                    if is_last:
                        return obj
                else:
                    err = _one_match(curr, idxs)
                    if err:
                        raise err
                    obj = obj[_array_index(idxs[0], token.modifiers, obj, curr)]
                    if is_last:
                        return obj
            elif isinstance(token, KeyToken):
                if not isinstance(obj, dict):
                    raise _mismatch_error("a map", curr, obj)
                mapping = obj
                found = token.key in mapping
                obj = mapping.get(token.key)
                if not found and not token.optional:
                    raise _missing_key_error(token.key, curr, mapping)
                if is_last:
                    return obj
                if not found:
                    following = tokens[i + 2]
                    if isinstance(following, MatchingIndexToken):
                        obj = []
                    elif isinstance(following, KeyToken):
                        obj = {}
                    else:
                        raise BoshError(
                            "Expected to find key or matching index token at path "
                            f"'{self.path.prefix(i + 3)}'"
                        )
            else:
                raise BoshError(f"Expected to not find token '{token.kind}' at path '{curr}'")
        return doc


class TestOp:
    def __init__(self, path, value=None, absent=False):
        self.path = path
        self.value = value
        self.absent = absent

    def apply(self, doc):
        if self.absent:
            try:
                FindOp(self.path).apply(doc)
            except BoshError as err:
                text = str(err)
                for prefix in ("Expected to find array index", "Expected to find a map key"):
                    if text.startswith(prefix) and f"for path '{self.path}'" in text:
                        return doc
                raise
            raise BoshError(f"Expected to not find '{self.path}'")
        found = FindOp(self.path).apply(doc)
        if not _deep_equal(found, self.value):
            raise BoshError("Found value does not match expected value")
        return doc


def _deep_equal(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_deep_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_deep_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b


class DescriptiveOp:
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
            "ops file", path, f"expected a list of operations, found {_yaml_kind(definitions)}"
        )
    checked = []
    for i, definition in enumerate(definitions):
        if not isinstance(definition, dict):
            raise BoshFileError(
                "ops file",
                path,
                f"operation [{i}] is {_yaml_kind(definition)}, expected a map with type and path",
            )
        checked.append({**definition, "error": f"operation [{i}] in {path} failed"})
    try:
        return ops_from_definitions(checked)
    except BoshError as err:
        raise BoshError("Building ops", err) from None


def _yaml_kind(value):
    if isinstance(value, dict):
        return "a map"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"a {go_type(value)} ({value!r})"


def apply_ops(doc, ops):
    for op in ops:
        doc = op.apply(doc)
    return doc


def find(doc, path_text):
    """The value at a go-patch path (what `bosh interpolate --path` prints)."""
    return FindOp(Pointer.parse(path_text)).apply(doc)


# ------------------------------------------------------------------------------------------------
# Value generators (github.com/cloudfoundry/config-server/types).

_PASSWORD_LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789"  # noqa: S105 -- an alphabet, not a password
_CERT_PARAMS = (
    "common_name",
    "organization",
    "alternative_names",
    "is_ca",
    "ca",
    "extended_key_usage",
    "duration",
    "key_length",
)


def _parameters(options, supported, integers=()):
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise BoshError(
            "Expected input to be deserializable",
            BoshError(f"cannot unmarshal {go_type(options)} into a map"),
        )
    for key in options:
        if key not in supported:
            raise BoshError(f"Unsupported parameter '{key}'")
    for key in integers:
        value = options.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise BoshError(
                "Expected input to be deserializable",
                BoshError(f"cannot unmarshal {go_type(value)} `{go_value(value)}` into int for '{key}'"),
            )
    return options


def generate_password(options):
    try:
        params = _parameters(options, ("length",), integers=("length",))
    except BoshError as err:
        raise BoshError("Failed to generate password, parameters are invalid", err) from None
    length = params.get("length") or 0
    if length < 0:
        raise BoshError("Failed to generate password, 'length' param cannot be negative")
    length = length or 20
    return "".join(secrets.choice(_PASSWORD_LETTERS) for _ in range(length))


def _crypto():
    try:
        from cryptography import x509  # noqa: PLC0415 -- optional: only certificates need it
        from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: PLC0415
    except ImportError:
        raise BoshError(
            "Generating keys and certificates needs the Python package 'cryptography' "
            "(pip install cryptography)"
        ) from None
    return x509, hashes, serialization, rsa, ExtendedKeyUsageOID, NameOID


def _rsa_key(bits):
    _, _, _, rsa, _, _ = _crypto()
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _private_pem(key):
    _, _, serialization, _, _, _ = _crypto()
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def generate_rsa(options):
    _, _, serialization, _, _, _ = _crypto()
    key = _rsa_key(2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {"private_key": _private_pem(key), "public_key": public.decode()}


def generate_ssh(options):
    _, _, serialization, _, _, _ = _crypto()
    key = _rsa_key(2048)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    blob = base64.b64decode(public.split()[1])
    fingerprint = ":".join(f"{byte:02x}" for byte in hashlib.md5(blob).digest())  # noqa: S324 -- bosh's format
    return {
        "private_key": _private_pem(key),
        "public_key": public.decode() + "\n",
        "public_key_fingerprint": fingerprint,
    }


def generate_certificate(options, load_ca):  # noqa: PLR0912, PLR0915 -- one certificate template
    x509, hashes, serialization, _, eku_oid, name_oid = _crypto()
    try:
        params = _parameters(options, _CERT_PARAMS, integers=("duration", "key_length"))
    except BoshError as err:
        raise BoshError("Failed to generate certificate, parameters are invalid", err) from None
    key_length = params.get("key_length") or 3072
    if key_length not in (2048, 3072, 4096):
        raise BoshError(f"Invalid key_length: {key_length}.  Must be one of: [2048 3072 4096]")
    key = _rsa_key(key_length)
    ca_name = params.get("ca") or ""
    is_ca = bool(params.get("is_ca"))
    ca_cert = ca_key = None
    if ca_name:
        try:
            ca_cert, ca_key = load_ca(ca_name)
        except BoshError as err:
            raise BoshError("Loading certificates", err) from None
    now = datetime.datetime.now(datetime.timezone.utc)
    duration = params.get("duration") or 0
    not_after = now + datetime.timedelta(days=duration if duration > 0 else 365)
    attributes = [
        x509.NameAttribute(name_oid.COUNTRY_NAME, "US"),
        x509.NameAttribute(name_oid.ORGANIZATION_NAME, str(params.get("organization") or "Cloud Foundry")),
    ]
    if params.get("common_name"):
        attributes.append(x509.NameAttribute(name_oid.COMMON_NAME, str(params["common_name"])))
    subject = x509.Name(attributes)
    ski = hashlib.sha1(  # noqa: S324 -- bosh derives the key id this way
        key.public_key().public_numbers().n.to_bytes((key.key_size + 7) // 8, "big").lstrip(b"\0")
    ).digest()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .public_key(key.public_key())
        .serial_number(secrets.randbits(128) or 1)
        .not_valid_before(now)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier(ski), critical=False)
    )
    if is_ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        signing_key, issuer = (ca_key, ca_cert) if ca_name else (key, None)
        issuer_name = issuer.subject if issuer is not None else subject
        issuer_ski = _ski(issuer, x509) if issuer is not None else ski
    else:
        if not ca_name:
            raise BoshError("Missing required CA name")
        builder = builder.add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True
        )
        usages = []
        for usage in params.get("extended_key_usage") or ["server_auth"]:
            if usage == "client_auth":
                usages.append(eku_oid.CLIENT_AUTH)
            elif usage == "server_auth":
                usages.append(eku_oid.SERVER_AUTH)
            else:
                raise BoshError(f"Unsupported extended key usage value: {usage}")
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        names = []
        for alt in params.get("alternative_names") or []:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(str(alt))))
            except ValueError:
                names.append(x509.DNSName(str(alt)))
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        signing_key, issuer_name, issuer_ski = ca_key, ca_cert.subject, _ski(ca_cert, x509)
    if issuer_ski:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier(issuer_ski, None, None), critical=False)
    certificate = builder.issuer_name(issuer_name).sign(signing_key, hashes.SHA256())
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM).decode() if ca_name else cert_pem
    return {"certificate": cert_pem, "private_key": _private_pem(key), "ca": ca_pem}


def _ski(certificate, x509):
    try:
        return certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None


# ------------------------------------------------------------------------------------------------
# Variables: static values, the vars store, and interpolation.


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
                        "vars store", self.path, f"expected a map of variables, found {_yaml_kind(values)}"
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
        x509, _, serialization, _, _, _ = _crypto()
        value, found = self.lookup({"name": name}) if self.lookup else self.get({"name": name})
        if not found:
            raise BoshError(f"Expected to find variable '{name}' with a certificate")
        if not isinstance(value, dict):
            raise BoshError(f"Expected variable '{name}' to be deserializable")
        try:
            certificate = x509.load_pem_x509_certificate(str(value.get("certificate") or "").encode())
        except ValueError:
            raise BoshError("Certificate did not contain PEM formatted block") from None
        try:
            key = serialization.load_pem_private_key(str(value.get("private_key") or "").encode(), None)
        except (ValueError, TypeError):
            raise BoshError("Private key did not contain PEM formatted block") from None
        return certificate, key

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
                    f"found {_yaml_kind(definitions)}"
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
                _, was_found = self.get(definition["name"])
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
        raise BoshError(f"Expected each variable definition to be a map, found {_yaml_kind(item)}")
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
            name = match.group(1).removeprefix("!")
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
        raise BoshError(f"Expected a map key to be a scalar but a variable made it {_yaml_kind(key)}")
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
        names.update(m.group(1).removeprefix("!") for m in INTERPOLATION.finditer(node))
    return names


# ------------------------------------------------------------------------------------------------
# The whole of `bosh interpolate`.


class RenderResult:
    def __init__(self, manifest, value, generated, unresolved, store_values):
        self.manifest = manifest
        self.value = value
        self.generated = generated
        self.unresolved = unresolved
        self.store_values = store_values


def load_vars_files(paths):
    values = {}
    for path in paths:
        loaded = load_yaml_file(path, "vars file")
        if loaded is None:
            continue
        if not isinstance(loaded, dict):
            raise BoshFileError("vars file", path, f"expected a map of variables, found {_yaml_kind(loaded)}")
        values.update({str(k): v for k, v in loaded.items()})
    return values


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
    )
