# Copyright: (c) 2026, nested-warden developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The path of a file the collection ships, wherever the collection is installed."""

from __future__ import annotations

DOCUMENTATION = r"""
name: asset
short_description: The path of a file the collection ships (manifests, ops files, releases, pipelines)
description:
  - Returns the absolute path of each term, a path relative to the root of the collection
    C(nested.warden), such as V(manifests/concourse-lab.yml), V(ops-files/docker-registry.yml),
    V(releases/docker-registry), V(pipelines/pipeline-template.yml), V(warden-cpi-containerd),
    or V(.) for the root itself.
  - The root is found from this plugin's own file, with symbolic links resolved, so the roles'
    defaults find the shipped files in an installed collection as in a checkout linked into a
    collections path, whatever the playbook's directory is.
  - Only for what the collection ships; a project's own state (C(.state), reports, unpacked
    upstream binaries) stays where the project keeps it.
  - A term that is absolute, leaves the collection (V(..)) or names nothing the collection holds
    is an error that says which.
author: nested-warden developers (@nested-warden)
version_added: 1.5.0
options:
  _terms:
    description: Paths relative to the collection's root.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Render the lab manifest the collection ships
  nested.warden.bosh_deploy:
    state: rendered
    manifest: "{{ lookup('nested.warden.asset', 'manifests/concourse-lab.yml') }}"
    ops_files:
      - "{{ lookup('nested.warden.asset', 'ops-files/docker-registry.yml') }}"

- name: Every ops file of the registry fix, as a list
  ansible.builtin.debug:
    msg: >-
      {{ query('nested.warden.asset', 'ops-files/docker-registry.yml',
               'ops-files/docker-registry-open.yml') }}
"""

RETURN = r"""
_raw:
  description: The absolute path of each term inside the collection.
  type: list
  elements: path
"""

import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible_collections.nested.warden.plugins.module_utils.collection_root import COLLECTION_ROOT


def asset_path(term, root=COLLECTION_ROOT):
    """The absolute path of term inside root; an error naming the term when it is not there."""
    if not isinstance(term, str) or not term or "\0" in term:
        raise AnsibleLookupError(
            f"asset {term!r} is not a path: give a path relative to the collection's root, "
            "such as manifests/concourse-lab.yml"
        )
    if os.path.isabs(term):
        raise AnsibleLookupError(
            f"asset {term} is absolute: give a path relative to the collection's root ({root}), "
            "or use the absolute path itself without the lookup"
        )
    path = os.path.normpath(os.path.join(root, term))
    if path != root and not path.startswith(root + os.sep):
        raise AnsibleLookupError(f"asset {term} leaves the collection's root ({root})")
    if not os.path.exists(path):
        raise AnsibleLookupError(f"the collection nested.warden ships no {term} (looked for {path})")
    return path


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        return [asset_path(term) for term in terms]
