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
  - Errors name the option and the file and never quote the file's content (a store that is not
    valid YAML is reported by line and column).
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
import re

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.errors import BoshFileError
from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.yaml_compat import (
    load_yaml_text,
    read_text,
)
from ansible_collections.nested.warden.plugins.module_utils.inputs import (
    kind_of,
    nul_problem,
    option_type_problem,
)

_MISSING = object()
QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
WHAT = "vars_store: file"


def load_store(path):
    """The vars store at path as a mapping; errors name the option and the file and say what is
    wrong, never quoting the file's content (a YAML error gives line and column, as the modules do)."""
    if not path:
        raise AnsibleLookupError("vars_store: file is empty; give the path of the vars store file")
    problem = nul_problem(path, f"{WHAT}={path!r}")
    if problem:
        raise AnsibleLookupError(problem)
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    if not os.path.isfile(path):
        raise AnsibleLookupError(f"{WHAT} '{path}' is not a file: give the path of the vars store file")
    try:
        store = load_yaml_text(read_text(path, WHAT), WHAT, path)
    except BoshFileError as err:
        # Where, never what: the parser quotes what it found (an alias, a character), which may
        # be part of a secret.
        where = f" line {err.line}" if err.line is not None else ""
        where += f" column {err.column}" if err.column is not None else ""
        raise AnsibleLookupError(
            f"{WHAT} '{path}'{where}: {QUOTED.sub('(...)', err.problem)}; fix the file or point file= "
            "at the deployment's vars store"
        ) from None
    if store is None:
        return {}
    if not isinstance(store, dict):
        raise AnsibleLookupError(
            f"{WHAT} '{path}' holds {kind_of(store)}, not a mapping of variable names to values; "
            "point file= at the deployment's vars store"
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
        problem = option_type_problem("vars_store", kwargs, {"file": str})
        if not problem and kwargs.get("file") == "":  # the path type would make it the current directory
            problem = "vars_store: file is empty; give the path of the vars store file"
        if problem:
            raise AnsibleLookupError(problem)
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
