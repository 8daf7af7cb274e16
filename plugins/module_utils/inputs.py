"""Checks of user input shared by the modules: what the standard library would otherwise raise
deep inside a request or a file read (an exception, not a message) is found here first and said
in words that name the option and how to fix it.

Every function returns a problem sentence, or None when the value is fine; none raises.
"""

from __future__ import annotations

import ipaddress
import math
import os
from urllib.parse import urlsplit

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


def writable_file_problem(path):
    """Why a file cannot be created or replaced at path (None when it can): a directory there,
    a parent that is a file, or a parent directory that cannot be written."""
    path = os.path.abspath(path)
    if os.path.isdir(path):
        return "is a directory; give the path of a file"
    parent = os.path.dirname(path)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        return f"cannot be created: {parent} is a file, not a directory"
    if not os.access(parent, os.W_OK | os.X_OK) or _read_only_filesystem(parent):
        return f"cannot be written: the directory {parent} is not writable by this user"
    return None


def _read_only_filesystem(path):
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False
