# Copyright: (c) 2026, nested-warden developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one rule for which names hold secrets, used by every module, the fly diff and the report.

A name is a secret's when it ends in password, passphrase, passwd, secret, token or
credential(s), or when its last word (after `_` or `-`, or the whole name) is pass, key or
private: admin_password, db_pass, client_secret, github_token, ssh_key, access_key,
private_key, private. Not: bypass, monkey, ca_cert, certificate, host, version. A public key
(public_key) counts as a key: masking it costs nothing, telling key kinds apart would.
"""

from __future__ import annotations

import re

REDACTED = "********"
SECRET_NAME = re.compile(
    r"(password|passphrase|passwd|secret|token|credentials?|(^|[_-])(pass|key|private))$",
    re.IGNORECASE,
)


def is_secret_name(name):
    return bool(SECRET_NAME.search(str(name).strip().strip("\"'")))


def secret_values(variables):
    """The strings of a variables dict that are secrets, by name: every string under a key that
    names a secret (at any depth; all of a secret certificate, say). What is not named a secret
    (a host, a version) stays visible, so that it can be registered with module.no_log_values
    without masking unrelated output."""
    found = []

    def walk(node, secret):
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, secret or is_secret_name(key))
        elif isinstance(node, (list, tuple)):
            for item in node:
                walk(item, secret)
        elif secret and node is not None and not isinstance(node, bool):
            text = str(node)
            if text:
                found.append(text)

    walk(variables, False)
    return found


def mask_secrets(node, mask=REDACTED):
    """A copy of node with every value under a secret's name replaced by mask (whole, at any
    depth); the names stay, so a reader sees that a secret was there."""
    if isinstance(node, dict):
        return {
            key: mask if is_secret_name(key) and value not in (None, "") else mask_secrets(value, mask)
            for key, value in node.items()
        }
    if isinstance(node, (list, tuple)):
        return [mask_secrets(item, mask) for item in node]
    return node
