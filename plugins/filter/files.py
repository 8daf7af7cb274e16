# Copyright: (c) 2026, nested-warden developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A digest of input files on the controller, to skip work whose inputs did not change."""

from __future__ import annotations

import fnmatch
import hashlib
import os

from ansible.errors import AnsibleFilterError
from ansible_collections.nested.warden.plugins.module_utils.collection_root import COLLECTION_ROOT


def _files(path, exclude):
    if os.path.isdir(path):
        for root, dirs, names in os.walk(path):
            dirs.sort()
            for name in sorted(names):
                if not any(fnmatch.fnmatch(name, pattern) for pattern in exclude):
                    yield os.path.join(root, name)
    else:
        yield path


def files_digest(paths, exclude=("*.pyc",), relative_to=None):
    """sha256 over the names and contents of the files at paths (directories walked in
    order); a missing path counts as missing, so creating it changes the digest. With
    relative_to, names count relative to that directory (a moved tree keeps its digest)."""
    if isinstance(paths, str) or not isinstance(paths, (list, tuple)):
        raise AnsibleFilterError(f"files_digest: paths must be a list, got {type(paths).__name__}")
    digest = hashlib.sha256()
    for path in paths:
        for name in _files(str(path), exclude):
            counted = os.path.relpath(name, relative_to) if relative_to else name
            digest.update(counted.encode("utf-8", "surrogateescape") + b"\0")
            try:
                with open(name, "rb") as handle:
                    for block in iter(lambda handle=handle: handle.read(1 << 20), b""):
                        digest.update(block)
            except FileNotFoundError:
                digest.update(b"missing\0")
            except OSError as err:
                raise AnsibleFilterError(f"files_digest: cannot read {name}: {err.strerror}") from None
            digest.update(b"\0")
    return digest.hexdigest()


def collection_files_digest(paths, exclude=("*.pyc",)):
    """files_digest of paths inside this collection (relative to its root, such as
    plugins/modules/bosh_deploy.py): a role digests the collection code it depends on without
    reaching out of its own directory."""
    if isinstance(paths, str) or not isinstance(paths, (list, tuple)):
        raise AnsibleFilterError(f"collection_files_digest: paths must be a list, got {type(paths).__name__}")
    inside = []
    for path in paths:
        full = os.path.normpath(os.path.join(COLLECTION_ROOT, str(path)))
        if os.path.isabs(str(path)) or not full.startswith(COLLECTION_ROOT + os.sep):
            raise AnsibleFilterError(
                f"collection_files_digest: {path!r} is not a path inside the collection (plugins/...)"
            )
        inside.append(full)
    return files_digest(inside, exclude, relative_to=COLLECTION_ROOT)


class FilterModule:
    def filters(self):
        return {"files_digest": files_digest, "collection_files_digest": collection_files_digest}
