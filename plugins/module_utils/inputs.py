"""Checks of user input shared by the modules: what the standard library would otherwise raise
deep inside a request or a file read (an exception, not a message) is found here first and said
in words that name the option and how to fix it.

Every function returns a problem sentence, or None when the value is fine; none raises (but
checked_module, which fails the module run with the sentence).
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import os
from urllib.parse import urlsplit

from ansible.module_utils import basic
from ansible.module_utils.common.validation import check_type_dict

# Pseudo filesystems: root may pass os.access there, and statvfs does not flag them read-only,
# yet a new file cannot be made in them.
PSEUDO_FILESYSTEMS = ("/proc", "/sys")
OCTAL_MODE_DIGITS = "01234567"
# The longest file or directory name (one path component) Linux file systems take, in bytes.
NAME_MAX = 255
# RFC 1035 (and the IDNA codec Python uses to resolve a name): labels of 1-63 octets, 253 in all.
MAX_LABEL = 63
MAX_HOST = 253


def host_problem(host):  # noqa: PLR0911 -- one return per kind of problem
    """Why host cannot be looked up (None when it can): empty or over-long labels, or characters
    that IDNA cannot encode. IP addresses (with or without brackets) are fine."""
    if not host:
        return "names no host"
    try:
        ipaddress.ip_address(host.strip("[]"))
        return None
    except ValueError:
        pass
    try:
        encoded = host.rstrip(".").encode("idna")
    except UnicodeError as err:
        labels = host.rstrip(".").split(".")
        long_labels = [label for label in labels if len(label) > MAX_LABEL]
        if long_labels:
            label = long_labels[0]
            shown = label if len(label) <= 20 else label[:20] + "..."
            return (
                f"has a host name label of {len(label)} characters ('{shown}'); "
                f"DNS allows at most {MAX_LABEL} per label"
            )
        if any(not label for label in labels):
            return "has an empty label in its host name (two dots in a row, or a leading dot)"
        return f"has a host name that cannot be encoded for DNS ({err})"
    if len(encoded) > MAX_HOST:
        return f"has a host name of {len(encoded)} characters; DNS allows at most {MAX_HOST}"
    return None


def url_problem(url, schemes=("http", "https"), example="https://HOST:PORT"):
    """Why url is not an absolute URL with one of schemes and a resolvable host, or None."""
    try:
        parts = urlsplit(url or "")
        port = parts.port
    except ValueError as err:
        return f"is not a valid URL ({err}); expected {example}"
    if parts.scheme not in schemes:
        shown = " or ".join(f"{scheme}://" for scheme in schemes)
        got = f"'{parts.scheme}://'" if parts.scheme and parts.netloc else "no scheme"
        return f"must start with {shown} (it has {got}); expected {example}"
    if port == 0:
        return f"has port 0; expected a TCP port 1-65535 ({example})"
    problem = host_problem(parts.hostname)
    if problem:
        return f"{problem} ({example})"
    return None


def number_problem(value, low, high, unit=""):
    """Why a number is outside [low, high] or not finite, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number between {low} and {high}{unit}, got {value}"
    if not low <= value <= high:
        return f"must be between {low} and {high}{unit}, got {value}"
    return None


def utf8_problem(path):
    """Why the file at path is not UTF-8 text, or None (also None when it cannot be read at all;
    the caller then reports the OSError its own way)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        return decode_problem(err)
    return None


def decode_problem(err):
    """A sentence for a UnicodeDecodeError while reading UTF-8 text."""
    byte = err.object[err.start : err.start + 1]
    return (
        f"is not UTF-8 text (byte 0x{byte.hex() if byte else '??'} at offset {err.start}); save it as UTF-8"
    )


def writable_file_problem(path):  # noqa: PLR0911 -- one return per kind of problem
    """Why a file cannot be created or replaced at path (None when it can): a directory there,
    a parent that is a file, a parent directory that cannot be written (permissions of the first
    existing one, a read-only mount, /proc or /sys), or a NUL byte. Probes only: check mode
    predicts with it what the write would meet."""
    if "\x00" in path:
        return "contains a NUL byte (\\x00); remove it"
    path = os.path.abspath(path)
    real = os.path.realpath(path)
    pseudo = [top for top in PSEUDO_FILESYSTEMS if real == top or real.startswith(top + "/")]
    if pseudo:
        return f"is under {pseudo[0]}, a kernel filesystem where no file can be created; choose another path"
    if os.path.isdir(path):
        return "is a directory; give the path of a file"
    long_names = [part for part in path.split("/") if len(part.encode("utf-8", "surrogateescape")) > NAME_MAX]
    if long_names:
        return f"has a name of {len(long_names[0])} characters; file systems take {NAME_MAX} bytes per name"
    parent = os.path.dirname(path)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        return f"cannot be created: {parent} is a file, not a directory"
    if _read_only_filesystem(parent):
        return f"cannot be written: {parent} is on a read-only filesystem; choose a writable path"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot be written: the directory {parent} is not writable by this user"
    return None


def _read_only_filesystem(path):
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


def nul_problem(value, name):
    """Why a string option (or a string anywhere in a list or mapping option) cannot be handed to
    the operating system: a NUL byte, which no path, argument or environment value may hold."""
    if isinstance(value, str):
        return f"{name} contains a NUL byte (\\x00); remove it" if "\x00" in value else None
    if isinstance(value, (list, tuple)):
        items = ((f"{name}[{index}]", item) for index, item in enumerate(value))
    elif isinstance(value, dict):
        items = ((f"{name}.{key}", item) for key, item in value.items())
    else:
        return None
    for label, item in items:
        problem = nul_problem(item, label)
        if problem:
            return problem
    return None


def octal_mode_problem(value):
    """Why value is not a file mode written as 3 or 4 octal digits ('0600', '755', '4755'), or None."""
    if not isinstance(value, str):
        return f"must be a quoted octal string such as '0600', not {kind_of(value)} (YAML reads 0600 as 384)"
    if not 3 <= len(value) <= 4 or any(digit not in OCTAL_MODE_DIGITS for digit in value):
        return f"must be an octal string of 3 or 4 digits (0-7) such as '0600' or '4755', not {value!r}"
    return None


def kind_of(value):
    """A YAML-ish name for a value's type (Ansible wraps mappings and lists in its own types)."""
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    return "a number" if isinstance(value, (int, float)) else type(value).__name__


def mistyped_mapping_problem(argument_spec, params, prefix=""):
    """Which option with sub-options (a mapping, or a list of mappings) got something else, said with
    the option's name (ansible-core says only 'dictionary requested, could not parse JSON or
    key=value'); None when every one is a mapping or a string Ansible turns into one."""
    for name, spec in argument_spec.items():
        value = params.get(name)
        if "options" not in spec or value is None:
            continue
        if spec.get("type") == "list":
            if not isinstance(value, list):
                return f"{prefix}{name} must be a list of mappings, not {kind_of(value)}"
            items = [(f"{prefix}{name}[{index}]", item) for index, item in enumerate(value)]
        else:
            items = [(f"{prefix}{name}", value)]
        for label, given in items:
            item = given
            if isinstance(item, str):
                with contextlib.suppress(TypeError):
                    item = check_type_dict(item)
            if not isinstance(item, dict):
                keys = ", ".join(sorted(spec["options"]))
                return f"{label} must be a mapping (with the keys {keys}), not {kind_of(item)}"
            problem = mistyped_mapping_problem(spec["options"], item, prefix=f"{label}.")
            if problem:
                return problem
    return None


def checked_module(module_class, argument_spec, **kwargs):
    """module_class (AnsibleModule) for argument_spec; a mistyped mapping option or a NUL byte in
    any option fails first, naming the option (and never echoing a no_log value)."""
    params = basic._load_params()  # ansible-test's validate-modules fakes it (None)
    problem = None
    if isinstance(params, dict):
        nul = (nul_problem(params.get(name), name) for name in argument_spec)
        problem = mistyped_mapping_problem(argument_spec, params) or next((p for p in nul if p), None)
    if problem:
        # Every option taken as it is, so that nothing else is checked before the message.
        loose = {
            name: {"type": "raw", "no_log": spec.get("no_log", False)} for name, spec in argument_spec.items()
        }
        module_class(argument_spec=loose, supports_check_mode=True).fail_json(msg=problem)
    return module_class(argument_spec=argument_spec, **kwargs)


def option_type_problem(plugin, options, types):
    """Why an option given to a lookup is not of its type (types: name -> type), naming the
    plugin and the option; the value itself is never shown (it may be a secret put in the wrong
    place). None when every one given is fine."""
    for name, wanted in types.items():
        if name in options and not isinstance(options[name], wanted):
            wanted_kind = kind_of(wanted())
            return (
                f"{plugin}: {name} must be {wanted_kind}, not {kind_of(options[name])}; "
                f"give {name}= one {wanted_kind.split()[-1]}"
            )
    return None
