"""The shared input checks of module_utils/inputs and docker_cli, and state_file's clean-up when a
write fails: what the bad-input matrices cannot set up as root (a read-only mount, a directory
the user may not write, a write that fails after the directories were made)."""

import os
import stat

import pytest
from ansible.errors import AnsibleActionFail
from ansible_collections.nested.warden.plugins.action import state_file
from ansible_collections.nested.warden.plugins.module_utils import inputs
from ansible_collections.nested.warden.plugins.module_utils.docker_cli import (
    capability_problem,
    label_key_problem,
    name_problem,
    security_opt_problem,
)


class ReadOnly:
    f_flag = os.ST_RDONLY


def test_a_file_on_a_read_only_mount_is_refused_before_any_write(tmp_path, monkeypatch):
    monkeypatch.setattr(inputs.os, "statvfs", lambda _path: ReadOnly())
    problem = inputs.writable_file_problem(str(tmp_path / "new" / "file.txt"))
    assert problem == f"cannot be written: {tmp_path} is on a read-only filesystem; choose a writable path"


def test_a_parent_the_user_may_not_write_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(inputs.os, "access", lambda _path, _mode: False)
    problem = inputs.writable_file_problem(str(tmp_path / "a" / "b" / "file.txt"))
    assert problem == f"cannot be written: the directory {tmp_path} is not writable by this user"


@pytest.mark.parametrize("path", ["/proc/x/file", "/proc/version", "/sys/x", "/sys"])
def test_kernel_filesystems_are_refused(path):
    assert "kernel filesystem" in inputs.writable_file_problem(path)


def test_a_nul_byte_and_an_over_long_name_are_refused_without_touching_the_disk(tmp_path):
    assert "NUL byte" in inputs.writable_file_problem(f"{tmp_path}/a\x00b")
    assert "255 bytes per name" in inputs.writable_file_problem(f"{tmp_path}/{'x' * 256}")
    assert inputs.writable_file_problem(f"{tmp_path}/{'x' * 255}") is None


@pytest.mark.parametrize("mode", ["0600", "600", "755", "4755", "2750", "1777", "0000"])
def test_three_and_four_digit_octal_modes_are_taken(mode):
    assert inputs.octal_mode_problem(mode) is None


@pytest.mark.parametrize(
    ("mode", "words"),
    [
        ("u=rw", "octal string of 3 or 4 digits"),
        ("0680", "(0-7)"),
        ("10644", "3 or 4 digits"),
        ("", "3 or 4 digits"),
        (420, "quoted octal string such as '0600', not a number"),
    ],
)
def test_other_modes_say_what_a_mode_looks_like(mode, words):
    assert words in inputs.octal_mode_problem(mode)


def test_a_nul_byte_is_found_anywhere_in_an_option_and_named_by_its_place():
    assert (
        inputs.nul_problem({"a": ["x", "y\x00"]}, "caps")
        == "caps.a[1] contains a NUL byte (\\x00); remove it"
    )
    assert inputs.nul_problem(["fine", {"k": "v"}], "hosts") is None


SPEC = {
    "caps": {"type": "dict", "options": {"cap_add": {"type": "list"}}},
    "hosts": {"type": "list", "elements": "dict", "options": {"name": {"type": "str"}}},
}


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"caps": "ALL"}, "caps must be a mapping (with the keys cap_add), not a string"),
        ({"caps": ["ALL"]}, "caps must be a mapping (with the keys cap_add), not a list"),
        ({"hosts": "a"}, "hosts must be a list of mappings, not a string"),
        ({"hosts": [{"name": "a"}, 5]}, "hosts[1] must be a mapping (with the keys name), not a number"),
        ({"caps": '{"cap_add": ["ALL"]}'}, None),  # JSON text: Ansible turns it into a mapping
        ({"caps": "cap_add=ALL"}, None),
        ({"caps": None, "hosts": [{"name": "a"}]}, None),
    ],
)
def test_a_mapping_option_given_something_else_is_named(params, problem):
    assert inputs.mistyped_mapping_problem(SPEC, params) == problem


@pytest.mark.parametrize("name", ["", "-d", "a b", "a/b", "é"])
def test_names_docker_would_refuse_or_randomise_are_refused(name):
    assert "is not a name Docker takes" in name_problem("name", name)


def test_capabilities_and_security_options_are_checked_as_docker_reads_them(tmp_path):
    assert capability_problem("caps", ["net_admin", "CAP_SYS_ADMIN", "ALL"]) is None
    assert "caps[1] 'FOO'" in capability_problem("caps", ["NET_ADMIN", "FOO"])
    profile = tmp_path / "profile.json"
    profile.write_text("{}")
    fine = [
        "no-new-privileges",
        "label=disable",
        "label:disable",
        "apparmor=unconfined",
        f"seccomp={profile}",
    ]
    assert security_opt_problem("opts", fine) is None
    assert "KEY=VALUE" in security_opt_problem("opts", ["apparmor"])
    assert "does not exist" in security_opt_problem("opts", ["seccomp=/no/such/profile.json"])
    assert (
        label_key_problem("label", "a=b")
        and label_key_problem("label", "")
        and not label_key_problem("l", "a.b")
    )


def test_directories_made_for_a_write_that_fails_are_removed(tmp_path, monkeypatch):
    def failing_write(_path, _data, _mode):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(state_file, "write_atomically", failing_write)
    target = tmp_path / "a" / "b" / "file.txt"
    directories = state_file.missing_directories(str(target.parent))
    with pytest.raises(AnsibleActionFail, match=r"cannot write .*file\.txt: No space left on device"):
        state_file.write_with_directories(str(target), b"x", 0o600, directories, 0o700)
    assert sorted(os.listdir(tmp_path)) == []


def test_directories_that_existed_before_are_kept_when_the_write_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(
        state_file, "write_atomically", lambda *_args: (_ for _ in ()).throw(OSError(5, "I/O"))
    )
    (tmp_path / "kept").mkdir()
    with pytest.raises(AnsibleActionFail):
        state_file.write_with_directories(str(tmp_path / "kept" / "f"), b"x", 0o600, [], 0o700)
    assert stat.S_ISDIR(os.stat(tmp_path / "kept").st_mode)
