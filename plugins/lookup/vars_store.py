# Copyright: (c) 2026, nested-warden developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read values from a BOSH vars store (what `bosh interpolate STORE --path /x` prints)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: vars_store
short_description: Read values from a BOSH vars store by path
description:
  - Reads a BOSH vars store (the YAML file C(bosh --vars-store) writes generated passwords and
    certificates into) and returns the value at each path, as C(bosh interpolate STORE --path PATH)
    would print it.
  - Paths are BOSH paths such as V(/docker_registry_password) or V(/docker_registry_ca/ca);
    a list item is addressed by its index (V(/list/0)).
author: nested-warden developers (@nested-warden)
version_added: 1.0.0
options:
  _terms:
    description: Paths to read, each starting with V(/).
    type: list
    elements: str
    required: true
  file:
    description: The vars store file on the controller.
    type: path
    required: true
  default:
    description:
      - Value returned when the file or the path does not exist.
      - Without it, a missing file or path is an error that says which.
    type: raw
"""

EXAMPLES = r"""
- name: Log in with the registry password the concourse stage generated
  community.docker.docker_login:
    registry_url: registry.example:443
    username: admin
    password: "{{ lookup('nested.warden.vars_store', '/docker_registry_password', file=store) }}"
  no_log: true

- name: The registry's CA, or nothing when the store has none
  ansible.builtin.debug:
    msg: "{{ lookup('nested.warden.vars_store', '/docker_registry_ca/ca', file=store, default='') }}"
"""

RETURN = r"""
_raw:
  description: The value at each path (a string, or a mapping such as a certificate's fields).
  type: list
  elements: raw
"""

import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

try:
    import yaml
except ImportError:  # pragma: no cover - ansible-core requires PyYAML on the controller
    yaml = None

_MISSING = object()


def load_store(path):
    """The vars store at path as a mapping; errors say what is wrong with the file."""
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    if not os.path.isfile(path):
        raise AnsibleLookupError(f"vars store {path} is not a file")
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8")
    except UnicodeDecodeError as err:
        raise AnsibleLookupError(f"vars store {path} is not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise AnsibleLookupError(f"vars store {path} cannot be read: {err.strerror}") from None
    try:
        store = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise AnsibleLookupError(f"vars store {path} is not valid YAML: {err}") from None
    if store is None:
        return {}
    if not isinstance(store, dict):
        raise AnsibleLookupError(
            f"vars store {path} holds a {type(store).__name__}, not a mapping of variable names to values"
        )
    return store


def value_at(store, path):
    """The value at a BOSH path such as /name or /name/ca; _MISSING when absent."""
    if not isinstance(path, str) or not path.startswith("/") or path == "/":
        raise AnsibleLookupError(
            f"vars_store path {path!r} must start with / and name a variable, as /name/ca"
        )
    node = store
    for segment in path[1:].split("/"):
        if isinstance(node, dict) and segment in node:
            node = node[segment]
        elif isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
            node = node[int(segment)]
        else:
            return _MISSING
    return node


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        path = self.get_option("file")
        has_default = "default" in kwargs
        default = kwargs.get("default")
        try:
            store = load_store(path)
        except FileNotFoundError:
            if has_default:
                return [default] * len(terms)
            raise AnsibleLookupError(
                f"vars store {path} does not exist: run the concourse stage first (it generates the "
                "deployment's passwords and certificates into it), or point concourse_vars_store at "
                "your deployment's vars store"
            ) from None
        values = []
        for term in terms:
            value = value_at(store, term)
            if value is _MISSING:
                if not has_default:
                    known = ", ".join(sorted(f"/{name}" for name in store)) or "nothing"
                    raise AnsibleLookupError(f"vars store {path} has no {term} (it has: {known})")
                value = default
            values.append(value)
        return values
