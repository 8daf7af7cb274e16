"""The shared CLI runner: argument formats, argv lists, C locale, check mode, redaction."""

import os
import stat

import pytest
from ansible_collections.nested.warden.plugins.module_utils import cli_runner as cr


class FakeModule:
    """Just what CliRunner uses of an AnsibleModule; records every command it is asked to run."""

    def __init__(self, check_mode=False, bins=None, results=None):
        self.check_mode = check_mode
        self.bins = bins if bins is not None else {"tool": "/usr/bin/tool"}
        self.results = list(results or [])
        self.calls = []

    def get_bin_path(self, name, required=False):
        return self.bins.get(name)

    def run_command(self, argv, environ_update=None, check_rc=False, **kwargs):
        self.calls.append({"argv": argv, "env": environ_update, "check_rc": check_rc, **kwargs})
        return self.results.pop(0) if self.results else (0, "out", "")


FORMATS = {
    "global": cr.as_fixed("-n", "--json"),
    "name": cr.as_option("-d"),
    "verb": cr.as_fixed("deploy"),
    "file": cr.as_positional(),
    "ops": cr.as_repeated("-o"),
    "force": cr.as_flag("--force"),
}


def test_formats_turn_values_into_argv_fragments():
    assert cr.as_fixed("a", 1)(None) == ["a", "1"]
    assert cr.as_flag("--x")(True) == ["--x"]
    assert cr.as_flag("--x")(False) == []
    assert cr.as_option("-d")("n") == ["-d", "n"]
    assert cr.as_option("-d")(None) == []
    assert cr.as_repeated("-o")(["a", "b"]) == ["-o", "a", "-o", "b"]
    assert cr.as_repeated("-o")(None) == []
    assert cr.as_positional()(["a", "b"]) == ["a", "b"]
    assert cr.as_positional()("a") == ["a"]


def test_argv_follows_the_order_asked_for_and_leaves_out_unset_values():
    runner = cr.CliRunner(FakeModule(), "tool", FORMATS)
    argv = runner.argv("global name verb file ops force", name="d", file="m.yml", ops=["o1.yml"])
    assert argv == ["/usr/bin/tool", "-n", "--json", "-d", "d", "deploy", "m.yml", "-o", "o1.yml"]


def test_unknown_argument_name_is_a_programming_error():
    with pytest.raises(KeyError, match="no argument format named 'bogus'"):
        cr.CliRunner(FakeModule(), "tool", FORMATS).argv(["bogus"])


def test_commands_run_as_argv_lists_in_the_c_locale_with_extra_environment():
    module = FakeModule()
    result = cr.CliRunner(module, "tool", FORMATS).run("verb", env={"TOOL_SECRET": "s", "UNSET": None})
    (call,) = module.calls
    assert call["argv"] == ["/usr/bin/tool", "deploy"]
    assert call["env"] == {"LANGUAGE": "C", "LC_ALL": "C", "LANG": "C", "TOOL_SECRET": "s"}
    assert call["check_rc"] is False
    assert (result.rc, result.stdout, result.skipped) == (0, "out", False)


def test_mutating_calls_are_skipped_in_check_mode_but_reads_still_run():
    module = FakeModule(check_mode=True)
    runner = cr.CliRunner(module, "tool", FORMATS)
    skipped = runner.run("verb force", mutating=True, force=True)
    assert skipped.skipped
    assert skipped.cmd == ["/usr/bin/tool", "deploy", "--force"]
    assert module.calls == []
    runner.run("verb")
    assert len(module.calls) == 1


def test_executable_option_overrides_the_path_lookup(tmp_path):
    tool = tmp_path / "my-tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    runner = cr.CliRunner(FakeModule(bins={}), "tool", FORMATS, executable=str(tool))
    assert runner.argv("verb") == [str(tool), "deploy"]


def test_missing_cli_says_how_to_install_it():
    runner = cr.CliRunner(FakeModule(bins={}), "tool", FORMATS, install_hint="install tool from example.org")
    with pytest.raises(cr.CliNotFound) as caught:
        runner.argv("verb")
    assert str(caught.value) == (
        "the tool CLI was not found on PATH; install tool from example.org (or set the 'executable' option)"
    )


def test_executable_that_does_not_exist_is_named(tmp_path):
    runner = cr.CliRunner(FakeModule(), "tool", FORMATS, executable=str(tmp_path / "nope"))
    with pytest.raises(cr.CliNotFound, match=r"executable '.*/nope' was not found or is not executable"):
        runner.argv("verb")


def test_redact_removes_secrets_everywhere_longest_first():
    data = {"cmd": ["tool", "secret-long"], "stdout": "a secret-long b secret", "n": 1}
    assert cr.redact(data, ["secret", "secret-long", "", None]) == {
        "cmd": ["tool", "********"],
        "stdout": "a ******** b ********",
        "n": 1,
    }


def test_result_dict_has_the_failure_fields_without_secrets():
    result = cr.CliResult(["tool", "x"], 1, "got pw123", "err pw123")
    assert result.as_dict(["pw123"]) == {
        "cmd": ["tool", "x"],
        "rc": 1,
        "stdout": "got ********",
        "stderr": "err ********",
    }


def test_private_file_is_readable_by_its_owner_only(tmp_path):
    path = cr.private_file("a: 1\n", directory=str(tmp_path))
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with open(path) as handle:
            assert handle.read() == "a: 1\n"
    finally:
        os.unlink(path)
