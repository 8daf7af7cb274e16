"""nested.warden.state_file through ansible-playbook: the action plugin writes on the controller.

Each test runs a play on localhost with the json stdout callback, so the registered results
are read from ansible-playbook's own output, and checks the files on disk next to them.
"""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
CONTENT = 'état: "prêt"\n{"stage": "lab", "status": "passed"}\nno newline at the end'
DAY = 24 * 3600


def play(tasks):
    return [{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]


def run_playbook(directory, playbook, *options, callback="ansible.posix.json"):
    """Run playbook (a list of plays, or YAML text); returns ({task name: result}, the process).

    The process runs with umask 077, so modes wider than 0700 must come from the plugin's chmod.
    """
    path = directory / f"playbook-{len(list(directory.glob('playbook-*.yml')))}.yml"
    path.write_text(playbook if isinstance(playbook, str) else yaml.safe_dump(playbook), encoding="utf-8")
    argv = [str(VENV_BIN / "ansible-playbook"), str(path), "-i", "localhost,", "-c", "local"]
    argv += ["-e", f"ansible_python_interpreter={sys.executable}", *options]
    environ = dict(os.environ, ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK=callback)
    # Only the one callback: another (make test enables profile_tasks) would print into the JSON.
    environ.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    environ["PATH"] = os.pathsep.join([str(VENV_BIN), environ.get("PATH", "")])
    proc = subprocess.run(
        argv,
        cwd=PROJECT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        preexec_fn=lambda: os.umask(0o077),
    )
    assert "Traceback (most recent call last)" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    if callback != "ansible.posix.json":
        return None, proc
    assert proc.stdout.lstrip().startswith("{"), proc.stdout + proc.stderr
    document = json.loads(proc.stdout)
    results = {
        task["task"]["name"]: task["hosts"]["localhost"]
        for one_play in document["plays"]
        for task in one_play["tasks"]
    }
    return results, proc


def write_task(name, path, content=CONTENT, **options):
    return {"name": name, "nested.warden.state_file": {"path": str(path), "content": content, **options}}


def mode_of(path):
    return stat.S_IMODE(path.lstat().st_mode)


def age(path, seconds=DAY):
    """Move path's times into the past, so that a rewrite cannot keep them by accident."""
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns - seconds * 10**9, info.st_mtime_ns - seconds * 10**9))


# -- writing -------------------------------------------------------------------------------------


def test_first_write_creates_the_parents_with_directory_mode_and_the_file_with_mode(tmp_path):
    root = tmp_path / "state"
    target = root / "results" / "lab" / "lab.json"
    results, proc = run_playbook(
        tmp_path, play([write_task("write", target, mode="0644", directory_mode="0751")])
    )
    result = results["write"]
    assert proc.returncode == 0, proc.stdout
    assert result["changed"] is True
    assert result.get("failed") is not True
    assert result["path"] == str(target)
    assert result["created_directories"] == [str(root), str(root / "results"), str(root / "results" / "lab")]
    for directory in result["created_directories"]:
        assert Path(directory).is_dir()
        assert mode_of(Path(directory)) == 0o751, directory
    assert target.read_bytes() == CONTENT.encode("utf-8")
    assert stat.S_ISREG(target.lstat().st_mode)
    assert mode_of(target) == 0o644
    assert os.listdir(target.parent) == ["lab.json"]  # no temporary file left behind


def test_defaults_are_0600_and_0700_and_existing_directories_keep_their_mode(tmp_path):
    existing = tmp_path / "existing"
    existing.mkdir()
    existing.chmod(0o755)
    target = existing / "new" / "file.txt"
    results, proc = run_playbook(tmp_path, play([write_task("write", target)]))
    assert proc.returncode == 0, proc.stdout
    assert results["write"]["changed"] is True
    assert results["write"]["created_directories"] == [str(existing / "new")]
    assert (mode_of(existing), mode_of(existing / "new"), mode_of(target)) == (0o755, 0o700, 0o600)
    assert target.read_text(encoding="utf-8") == CONTENT


def test_a_second_identical_run_is_unchanged_and_leaves_the_file_alone(tmp_path):
    target = tmp_path / "state" / "record.json"
    tasks = play([write_task("write", target, mode="0640")])
    first, proc = run_playbook(tmp_path, tasks)
    assert proc.returncode == 0, proc.stdout
    assert first["write"]["changed"] is True
    age(target)
    before = target.stat()

    second, proc = run_playbook(tmp_path, tasks)
    assert proc.returncode == 0, proc.stdout
    assert second["write"]["changed"] is False
    assert second["write"]["created_directories"] == []
    after = target.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert target.read_bytes() == CONTENT.encode("utf-8")
    assert mode_of(target) == 0o640
    assert json.loads(proc.stdout)["stats"]["localhost"]["changed"] == 0


def test_a_mode_or_a_content_change_alone_is_changed_and_applied(tmp_path):
    only_mode, only_content, same = tmp_path / "mode.txt", tmp_path / "content.txt", tmp_path / "same.txt"
    for path in (only_mode, only_content, same):
        path.write_text(CONTENT, encoding="utf-8")
        path.chmod(0o600)
    only_content.write_text("old content\n", encoding="utf-8")
    results, proc = run_playbook(
        tmp_path,
        play(
            [
                write_task("mode", only_mode, mode="0644"),
                write_task("content", only_content, mode="0600"),
                write_task("same", same, mode="600"),  # the leading zero is optional
            ]
        ),
    )
    assert proc.returncode == 0, proc.stdout
    assert {name: result["changed"] for name, result in results.items()} == {
        "mode": True,
        "content": True,
        "same": False,
    }
    assert (mode_of(only_mode), only_mode.read_text(encoding="utf-8")) == (0o644, CONTENT)
    assert (mode_of(only_content), only_content.read_text(encoding="utf-8")) == (0o600, CONTENT)
    assert (mode_of(same), same.read_text(encoding="utf-8")) == (0o600, CONTENT)


# -- check and diff modes --------------------------------------------------------------------------


def test_check_mode_writes_nothing_but_predicts_the_change_and_the_directories(tmp_path):
    missing = tmp_path / "missing"
    existing = tmp_path / "existing.txt"
    existing.write_text("old content\n", encoding="utf-8")
    existing.chmod(0o600)
    age(existing)
    before = existing.stat()
    same = tmp_path / "same.txt"
    same.write_text(CONTENT, encoding="utf-8")
    same.chmod(0o600)
    results, proc = run_playbook(
        tmp_path,
        play(
            [
                write_task("new", missing / "deeper" / "file.json", directory_mode="0755"),
                write_task("existing", existing, mode="0644"),
                write_task("same", same),
            ]
        ),
        "--check",
    )
    assert proc.returncode == 0, proc.stdout
    assert results["new"]["changed"] is True
    assert results["new"]["created_directories"] == [str(missing), str(missing / "deeper")]
    assert not missing.exists()
    assert results["existing"]["changed"] is True
    assert results["existing"]["created_directories"] == []
    after = existing.stat()
    assert existing.read_text(encoding="utf-8") == "old content\n"
    assert (after.st_ino, after.st_mtime_ns, mode_of(existing)) == (before.st_ino, before.st_mtime_ns, 0o600)
    assert results["same"]["changed"] is False
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("playbook-")) == [
        "existing.txt",
        "same.txt",
    ]


def test_diff_mode_returns_the_content_before_and_after(tmp_path):
    existing = tmp_path / "existing.txt"
    existing.write_text("old line\nkept line\n", encoding="utf-8")
    new = tmp_path / "dir" / "new.txt"
    same = tmp_path / "same.txt"
    same.write_text("same\n", encoding="utf-8")
    same.chmod(0o600)
    tasks = play(
        [
            write_task("existing", existing, content="new line\nkept line\n"),
            write_task("new", new, content="fresh\n"),
            write_task("same", same, content="same\n"),
        ]
    )
    results, proc = run_playbook(tmp_path, tasks, "--diff")
    assert proc.returncode == 0, proc.stdout
    assert results["existing"]["diff"] == {
        "before_header": str(existing),
        "after_header": str(existing),
        "before": "old line\nkept line\n",
        "after": "new line\nkept line\n",
    }
    assert (results["new"]["diff"]["before"], results["new"]["diff"]["after"]) == ("", "fresh\n")
    assert "diff" not in results["same"]
    assert existing.read_text(encoding="utf-8") == "new line\nkept line\n"

    # What a user sees: the default callback renders it as a unified diff.
    existing.write_text("old line\nkept line\n", encoding="utf-8")
    first = play(tasks[0]["tasks"][:1])
    _, proc = run_playbook(tmp_path, first, "--diff", "--check", callback="ansible.builtin.default")
    assert proc.returncode == 0, proc.stdout
    assert "-old line\n+new line\n kept line" in proc.stdout, proc.stdout
    assert existing.read_text(encoding="utf-8") == "old line\nkept line\n"  # --check wrote nothing


def test_diff_is_left_out_without_diff_mode(tmp_path):
    results, proc = run_playbook(tmp_path, play([write_task("write", tmp_path / "file.txt")]))
    assert proc.returncode == 0, proc.stdout
    assert results["write"]["changed"] is True
    assert "diff" not in results["write"]


# -- errors ----------------------------------------------------------------------------------------

# Written as YAML text: `mode: 0644` must reach the plugin as YAML reads it, the number 420,
# whose digits would pass for the octal string "420"; the same for 0711 (457).
ERROR_CASES = {
    "mode as a YAML number": ("mode: 0644", "{dir}/numeric/file.txt", "mode must be a quoted octal string"),
    "directory_mode as a YAML number": (
        "directory_mode: 0711",
        "{dir}/numeric-dir/file.txt",
        "directory_mode must be a quoted octal string",
    ),
    "mode that is not octal": ("mode: u=rw", "{dir}/symbolic/file.txt", "mode must be an octal string"),
    "parent is a regular file": ("", "{dir}/plain-file/file.txt", "plain-file exists and is not a directory"),
    "path is a directory": ("", "{dir}/a-directory", "a-directory exists and is not a regular file"),
    "content that is data, not text": (
        "content: {a: 1}",
        "{dir}/data/file.txt",
        "content must be text, not a mapping: pipe data through to_json",
    ),
    "content that is null": ("content: null", "{dir}/null/file.txt", "content must be text, not null"),
    "empty path": ("", "", "path must not be empty"),
    "unknown option": (
        "owner: root",
        "{dir}/unknown/file.txt",
        "Invalid options for nested.warden.state_file: owner",
    ),
}


@pytest.fixture(scope="module")
def error_run(tmp_path_factory):
    """One play with every error case, each task ignoring its error; (results, proc, directory)."""
    directory = tmp_path_factory.mktemp("state-file-errors")
    (directory / "plain-file").write_text("a file, not a directory\n", encoding="utf-8")
    (directory / "a-directory").mkdir()
    (directory / "a-directory" / "inside.txt").write_text("kept\n", encoding="utf-8")
    tasks = "".join(
        f"    - name: {json.dumps(name)}\n"
        f"      nested.warden.state_file:\n"
        f"        path: {json.dumps(path.format(dir=directory))}\n"
        + ("" if extra.startswith("content:") else '        content: "content\\n"\n')
        + (f"        {extra}\n" if extra else "")
        + "      ignore_errors: true\n"
        for name, (extra, path, _) in ERROR_CASES.items()
    )
    playbook = f"- hosts: localhost\n  gather_facts: false\n  tasks:\n{tasks}"
    results, proc = run_playbook(directory, playbook)
    return results, proc, directory


@pytest.mark.parametrize("case", ERROR_CASES)
def test_errors_are_one_clean_line_and_change_nothing(error_run, case):
    results, proc, directory = error_run
    result = results[case]
    assert result.get("failed") is True, result
    assert result["changed"] is False
    message = result["msg"]
    assert ERROR_CASES[case][2] in message
    assert "\n" not in message.strip()
    assert not message.startswith(("Unexpected failure", "An unhandled exception"))
    assert "Traceback" not in json.dumps(result)
    target = Path(ERROR_CASES[case][1].format(dir=directory))
    if case == "parent is a regular file":
        assert (directory / "plain-file").read_text(encoding="utf-8") == "a file, not a directory\n"
    elif case == "path is a directory":
        assert sorted(os.listdir(target)) == ["inside.txt"]
    elif case == "empty path":
        assert not (Path.cwd() / "content").exists()
    else:
        assert not target.parent.exists()
    assert proc.returncode == 0, proc.stdout  # every case is ignored: the play itself ends well


def test_the_error_cases_all_ran(error_run):
    results, _, _ = error_run
    assert set(ERROR_CASES) <= set(results)
