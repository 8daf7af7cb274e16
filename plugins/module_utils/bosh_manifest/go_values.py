"""Decoded YAML values as Go sees them: type names (%T), printing (%v), kinds and int64 range.

Error messages quote values this way, so they read as the bosh CLI's do.
"""

from __future__ import annotations

import math
from decimal import Decimal

INT64_MIN, INT64_MAX, UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1

# reflect.Kind numbers, which yaml.v2 and fmt use to order map keys of different types.
_KIND_ORDER = {bool: 1, int: 2, float: 14, str: 24}


def go_kind(value):
    return _KIND_ORDER.get(type(value), 25)


def go_type(value):  # noqa: PLR0911 -- one return per Go type name
    """fmt's %T for values decoded from YAML."""
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


def go_float(value):  # noqa: PLR0911 -- strconv.FormatFloat's cases
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
        return go_float(value)
    if isinstance(value, dict):
        keys = sorted(value, key=lambda key: (go_kind(key), key))  # fmt: by type, then by value
        return "map[" + " ".join(f"{go_value(k)}:{go_value(value[k])}" for k in keys) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_value(item) for item in value) + "]"
    return str(value)


def yaml_kind(value):
    """What a file held where something else was expected, for our own error messages."""
    if isinstance(value, dict):
        return "a map"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"a {go_type(value)} ({value!r})"
