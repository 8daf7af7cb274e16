"""Import the project as Ansible does: as the collection nested.warden, through the link that
scripts/bootstrap makes at .cache/collections/ansible_collections/nested/warden."""

import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
COLLECTIONS = PROJECT / ".cache" / "collections"
COLLECTION_LINK = COLLECTIONS / "ansible_collections" / "nested" / "warden"

if not COLLECTION_LINK.is_dir() or COLLECTION_LINK.resolve() != PROJECT:
    raise SystemExit(
        f"{COLLECTION_LINK} does not point at this checkout; run 'scripts/bootstrap collections'"
    )
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
