"""Make the project's module_utils and modules importable as Ansible would at run time."""

import sys
from pathlib import Path

import ansible.module_utils

PROJECT = Path(__file__).resolve().parents[1]
MODULE_UTILS = PROJECT / "plugins" / "module_utils"
MODULES = PROJECT / "plugins" / "modules"
FILTERS = PROJECT / "plugins" / "filter"

# Ansible merges configured module_utils directories into ansible.module_utils when it builds a
# module; tests import them the same way.
if str(MODULE_UTILS) not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(str(MODULE_UTILS))
for path in (MODULES, FILTERS):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
