# Copyright: (c) 2026, nested-warden developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nested.warden.state_file: write one of the project's files on the controller, in-process
(see plugins/modules/state_file.py for the documentation)."""

import os
import re
import stat
import tempfile
from collections.abc import Mapping

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.action import ActionBase

OCTAL_MODE = re.compile(r"^0?[0-7]{3}$")

ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "content": {"type": "str", "required": True},
    "mode": {"type": "str", "default": "0600"},
    "directory_mode": {"type": "str", "default": "0700"},
}


def parse_mode(name, value):
    if not OCTAL_MODE.match(value):
        raise AnsibleActionFail(
            f"{name} must be an octal string such as '0600' (quote it in YAML), not {value!r}"
        )
    return int(value, 8)


def kind_of(value):
    """A YAML-ish name for a value's type (Ansible wraps dicts and lists in its own types)."""
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    return "a number" if isinstance(value, (int, float)) else type(value).__name__


def missing_directories(directory):
    """The directories from the nearest existing ancestor down to directory, outermost first."""
    missing = []
    while not os.path.isdir(directory):
        if os.path.lexists(directory):
            raise AnsibleActionFail(
                f"{directory} exists and is not a directory: move it away or choose another path"
            )
        missing.append(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return list(reversed(missing))


def read_existing(path):
    """(content bytes, mode) of the file at path, or (None, None) when there is none."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None, None
    if not stat.S_ISREG(info.st_mode):
        raise AnsibleActionFail(
            f"{path} exists and is not a regular file: move it away or choose another path"
        )
    with open(path, "rb") as existing:
        return existing.read(), stat.S_IMODE(info.st_mode)


def write_atomically(path, data, mode):
    descriptor, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=os.path.dirname(path))
    try:
        with os.fdopen(descriptor, "wb") as out:
            os.fchmod(out.fileno(), mode)
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        for name in ("mode", "directory_mode"):
            if not isinstance(self._task.args.get(name, ""), str):
                # YAML reads 0600 as the number 384: the mode would silently be another one.
                raise AnsibleActionFail(f"{name} must be a quoted octal string such as '0600', not a number")
        if "content" in self._task.args and not isinstance(self._task.args["content"], str):
            # The argument spec would write a dict as its Python repr, and null as nothing.
            raise AnsibleActionFail(
                f"content must be text, not {kind_of(self._task.args['content'])}: "
                "pipe data through to_json or to_nice_yaml"
            )
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        if not args["path"]:
            raise AnsibleActionFail("path must not be empty: give the file to write")
        path = os.path.abspath(args["path"])
        mode = parse_mode("mode", args["mode"])
        directory_mode = parse_mode("directory_mode", args["directory_mode"])
        data = to_bytes(args["content"], errors="surrogate_or_strict")
        try:
            created = missing_directories(os.path.dirname(path))
            before, before_mode = read_existing(path) if not created else (None, None)
            changed = before != data or before_mode != mode
            if changed and not self._task.check_mode:
                for directory in created:
                    try:
                        os.mkdir(directory, directory_mode)
                    except FileExistsError:  # made meanwhile, by this task for another host
                        continue
                    os.chmod(directory, directory_mode)  # mkdir's mode is filtered by the umask
                write_atomically(path, data, mode)
        except OSError as error:
            raise AnsibleActionFail(
                f"cannot write {path}: {error.strerror}; check that the controller user may write there"
            ) from None
        result.update(changed=changed, path=path, created_directories=created)
        if self._task.diff and changed:
            result["diff"] = {
                "before_header": path,
                "after_header": path,
                "before": to_text(before or b"", errors="surrogate_or_replace"),
                "after": args["content"],
            }
        return result
