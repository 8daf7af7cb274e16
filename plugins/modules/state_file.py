#!/usr/bin/python
# Copyright: (c) 2026, nested-warden developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the action plugin nested.warden.state_file (it has no module code)."""

DOCUMENTATION = r"""
---
module: state_file
short_description: Write one of the project's own files on the controller
description:
  - Writes O(content) to O(path) on the Ansible controller, in the controller's own process, for the
    files the project keeps there (its bookkeeping, such as stage results, the report, recorded
    renders and vars files; and the registry CA the controller's Docker engine trusts). It does
    what M(ansible.builtin.copy) with O(content), delegated to C(localhost), does, without starting
    a module process, which costs about a second per file.
  - The file is always written on the controller, whatever host the task runs for.
  - Missing parent directories are created with O(directory_mode); the file is replaced atomically
    (a temporary file in the same directory, then a rename), so a reader never sees half a file.
  - Changed only when the content or the mode differ from what is on disk.
  - Before anything is written, and in check mode too, it refuses a path it could not write (a NUL
    byte, a name longer than 255 bytes, a path under C(/proc) or C(/sys), a parent that is a file,
    a read-only mount or a first existing parent directory the user may not write), so check mode
    fails where the run would.
  - When the write fails after missing directories were created, the directories it created are
    removed again.
version_added: "1.1.0"
author:
  - nested-warden developers (@nested-warden)
extends_documentation_fragment:
  - nested.warden.attributes
options:
  path:
    description:
      - The file to write, on the controller. A relative path is taken from the current directory;
        C(~) is expanded.
    type: path
    required: true
  content:
    description:
      - What the file holds, as text; written as UTF-8.
    type: str
    required: true
  mode:
    description:
      - The file's permissions, as a quoted string of 3 or 4 octal digits (V(0600), V(4755)).
    type: str
    default: "0600"
  directory_mode:
    description:
      - The permissions of the parent directories the plugin creates, as a quoted string of 3 or 4
        octal digits. Existing directories are left as they are.
      - It must give the owner write and search permission (as V(0700) and V(0750) do) when a
        directory is to be created; otherwise the plugin fails before it creates anything.
    type: str
    default: "0700"
attributes:
  action:
    support: full
    description: The work is done by an action plugin on the controller; this file only documents it.
  check_mode:
    support: full
    details:
      - Writes nothing and says whether it would write.
  diff_mode:
    support: full
    details:
      - Shows the file's content before and after (hidden by C(no_log), as for any task).
  platform:
    support: full
    platforms: posix
"""

EXAMPLES = r"""
- name: Keep the stage's result for later runs
  nested.warden.state_file:
    path: "{{ nested_warden_state_dir }}/results/lab.json"
    content: "{{ lab_result | to_nice_json }}\n"
    mode: "0600"
"""

RETURN = r"""
path:
  description: The absolute path of the file.
  returned: always
  type: str
  sample: /home/user/nested-warden/.state/lab/results/lab.json
created_directories:
  description: The parent directories the plugin created (or would create, in check mode).
  returned: always
  type: list
  elements: str
  sample: [/home/user/nested-warden/.state/lab/results]
"""
