# Copyright: (c) 2026, nested-warden developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the attributes of nested.warden's modules mean; each module states its support."""


class ModuleDocFragment:
    # The descriptions of the attributes every module of the collection states.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check mode and predict whether it would change anything, without changing it.
  diff_mode:
    description: Returns what changed (or would change, in check mode) when run in diff mode.
  platform:
    description: The target platforms the module runs on.
"""
