# Copyright: (c) 2026, nested-warden developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nested.warden.state_file: write one of the project's files on the controller, in-process
(see plugins/modules/state_file.py for the documentation)."""

import contextlib
import os
import stat
import tempfile

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.action import ActionBase
from ansible_collections.nested.warden.plugins.module_utils.inputs import (
    kind_of,
    nul_problem,
    octal_mode_problem,
    writable_file_problem,
)

ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "content": {"type": "str", "required": True},
    "mode": {"type": "str", "default": "0600"},
    "directory_mode": {"type": "str", "default": "0700"},
}
# The owner of a directory the plugin creates must be able to make the file in it.
OWNER_WRITE_SEARCH = stat.S_IWUSR | stat.S_IXUSR


def parse_mode(name, value):
    problem = octal_mode_problem(value)
    if problem:
        raise AnsibleActionFail(f"{name} {problem}")
    return int(value, 8)


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
    try:
        with open(path, "rb") as existing:
            return existing.read(), stat.S_IMODE(info.st_mode)
    except OSError as error:
        raise AnsibleActionFail(
            f"cannot read {path} to compare it: {error.strerror}; check that the controller user may read it"
        ) from None


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


def write_with_directories(path, data, mode, directories, directory_mode):
    """Make the missing directories, then write the file; when anything fails, the directories
    this call made are removed again and the error names the path."""
    made = []
    try:
        for directory in directories:
            try:
                os.mkdir(directory, directory_mode)
            except FileExistsError:  # made meanwhile, by this task for another host
                continue
            made.append(directory)
            os.chmod(directory, directory_mode)  # mkdir's mode is filtered by the umask
        write_atomically(path, data, mode)
    except OSError as error:
        for directory in reversed(made):
            with contextlib.suppress(OSError):
                os.rmdir(directory)
        raise AnsibleActionFail(
            f"cannot write {path}: {error.strerror}; check that the controller user may write there"
        ) from None


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        for name in ("mode", "directory_mode"):
            if name in self._task.args:
                parse_mode(name, self._task.args[name])  # before the spec turns 0600 (384) into '384'
        if "content" in self._task.args and not isinstance(self._task.args["content"], str):
            # The argument spec would write a dict as its Python repr, and null as nothing.
            raise AnsibleActionFail(
                f"content must be text, not {kind_of(self._task.args['content'])}: "
                "pipe data through to_json or to_nice_yaml"
            )
        problem = nul_problem(self._task.args.get("path"), "path")
        if problem:
            raise AnsibleActionFail(problem)
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        if not args["path"]:
            raise AnsibleActionFail("path must not be empty: give the file to write")
        path = os.path.abspath(args["path"])
        mode = parse_mode("mode", args["mode"])
        directory_mode = parse_mode("directory_mode", args["directory_mode"])
        data = to_bytes(args["content"], errors="surrogate_or_strict")
        created = missing_directories(os.path.dirname(path))
        before, before_mode = read_existing(path) if not created else (None, None)
        # The probes a write would meet run in check mode too, so check mode predicts the failure.
        problem = writable_file_problem(path)
        if problem:
            raise AnsibleActionFail(f"path {path} {problem}")
        if created and directory_mode & OWNER_WRITE_SEARCH != OWNER_WRITE_SEARCH:
            raise AnsibleActionFail(
                f"directory_mode {args['directory_mode']!r} would leave the new directory {created[0]} "
                "without write and search permission for its owner, so the file could not be made in "
                "it; give a mode such as '0700' or '0750'"
            )
        changed = before != data or before_mode != mode
        if changed and not self._task.check_mode:
            write_with_directories(path, data, mode, created, directory_mode)
        result.update(changed=changed, path=path, created_directories=created)
        if self._task.diff and changed:
            result["diff"] = {
                "before_header": path,
                "after_header": path,
                "before": to_text(before or b"", errors="surrogate_or_replace"),
                "after": args["content"],
            }
        return result
