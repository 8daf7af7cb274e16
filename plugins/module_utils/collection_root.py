# Copyright: (c) 2026, nested-warden developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the collection nested.warden is, for the controller-side plugins that read what it ships
(the lookup nested.warden.asset, the filter nested.warden.collection_files_digest)."""

from __future__ import annotations

import os

# plugins/module_utils/collection_root.py -> the collection's root, wherever it is installed;
# symbolic links resolved, so a checkout linked into a collections path gives the checkout's paths.
COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
