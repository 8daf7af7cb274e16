"""nested-check cgroup-nesting and its preflight diagnostic, against a directory that imitates a
container's cgroup v2 root (cgroup.controllers, cgroup.procs, cgroup.subtree_control)."""

import argparse
import errno

import pytest
from nested_check import cgroups, cli, common, preflight

AT_NAMESPACE_ROOT = "0::/\n"


def cgroup_root(tmp_path, *, controllers="cpuset cpu io memory pids perf_event", pids=(), delegated=""):
    root = tmp_path / "cgroup"
    root.mkdir()
    (root / "cgroup.controllers").write_text(controllers + "\n", encoding="utf-8")
    (root / "cgroup.procs").write_text("".join(f"{pid}\n" for pid in pids), encoding="utf-8")
    (root / "cgroup.subtree_control").write_text(delegated + "\n" if delegated else "", encoding="utf-8")
    return root


def own_cgroup_file(tmp_path, content=AT_NAMESPACE_ROOT):
    path = tmp_path / "self-cgroup"
    path.write_text(content, encoding="utf-8")
    return str(path)


def test_root_processes_move_to_init_and_available_controllers_are_delegated(tmp_path):
    root = cgroup_root(tmp_path, pids=(1, 7, 42))
    result = cgroups.enable_cgroup_nesting(str(root), own_cgroup_file(tmp_path))
    assert (root / "init" / "cgroup.procs").read_text(encoding="utf-8") == "1\n7\n42\n"
    # perf_event is available but not wanted; hugetlb, rdma and misc are wanted but not available.
    assert (root / "cgroup.subtree_control").read_text(encoding="utf-8") == "+cpuset +cpu +io +memory +pids"
    assert result["passed"] is True
    assert result["cgroup"] == "v2"
    assert result["moved_pids"] == 3
    assert result["enabled_controllers"] == ["cpuset", "cpu", "io", "memory", "pids"]


def test_a_process_that_exited_before_its_move_is_not_an_error(monkeypatch, tmp_path):
    root = cgroup_root(tmp_path, pids=(1, 7, 42))
    real_write = cgroups.os.write

    def write(descriptor, data):
        if data == b"7\n":
            raise ProcessLookupError(errno.ESRCH, "No such process")
        return real_write(descriptor, data)

    monkeypatch.setattr(cgroups.os, "write", write)
    result = cgroups.enable_cgroup_nesting(str(root), own_cgroup_file(tmp_path))
    assert (root / "init" / "cgroup.procs").read_text(encoding="utf-8") == "1\n42\n"
    assert (result["passed"], result["moved_pids"]) == (True, 2)


def test_a_second_run_after_the_kernel_moved_them_does_nothing(tmp_path):
    root = cgroup_root(tmp_path, pids=(1, 7))
    self_cgroup = own_cgroup_file(tmp_path)
    first = cgroups.enable_cgroup_nesting(str(root), self_cgroup)
    (root / "cgroup.procs").write_text("", encoding="utf-8")  # the kernel moved them, and reads back
    (root / "init" / "cgroup.procs").write_text("1\n7\n", encoding="utf-8")
    (root / "cgroup.subtree_control").write_text("cpuset cpu io memory pids\n", encoding="utf-8")
    second = cgroups.enable_cgroup_nesting(str(root), self_cgroup)
    assert first["moved_pids"] == 2
    assert (second["passed"], second["moved_pids"], second["enabled_controllers"]) == (True, 0, [])
    assert second["done"].startswith("nothing:")
    assert (root / "init" / "cgroup.procs").read_text(encoding="utf-8") == "1\n7\n"


def test_an_already_delegated_root_is_left_alone(tmp_path):
    root = cgroup_root(tmp_path, delegated="cpuset cpu io memory pids")
    result = cgroups.enable_cgroup_nesting(str(root), own_cgroup_file(tmp_path))
    assert result["passed"] is True
    assert result["done"] == f"nothing: {root} holds no process and delegates cpuset cpu io memory pids"
    assert not (root / "init").exists()


def test_cgroup_v1_is_left_alone(tmp_path):
    root = tmp_path / "cgroup"
    (root / "memory").mkdir(parents=True)
    result = cgroups.enable_cgroup_nesting(str(root), own_cgroup_file(tmp_path))
    assert (result["passed"], result["cgroup"], result["moved_pids"]) == (True, "v1", 0)
    assert "cgroup v1" in result["done"]
    assert sorted(path.name for path in root.iterdir()) == ["memory"]


def test_processes_are_not_moved_outside_the_cgroup_namespace_root(tmp_path):
    root = cgroup_root(tmp_path, pids=(1, 7))
    result = cgroups.enable_cgroup_nesting(
        str(root), own_cgroup_file(tmp_path, "0::/system.slice/docker-0123.scope\n")
    )
    assert result["passed"] is False
    assert "/system.slice/docker-0123.scope" in result["error"]
    assert "--cgroupns=private" in result["error"]
    assert not (root / "init").exists()
    assert (root / "cgroup.subtree_control").read_text(encoding="utf-8") == ""


@pytest.mark.parametrize(
    ("error_number", "explanation"),
    [(errno.EBUSY, "a process is still in"), (errno.EROFS, "must be writable")],
    ids=["busy", "read-only"],
)
def test_a_refused_delegation_is_explained(monkeypatch, tmp_path, *, error_number, explanation):
    root = cgroup_root(tmp_path)
    real_open = open

    def refusing_open(path, *args, **kwargs):
        if str(path).endswith("cgroup.subtree_control") and args[:1] == ("w",):
            raise OSError(error_number, "refused")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(cgroups, "open", refusing_open, raising=False)
    result = cgroups.enable_cgroup_nesting(str(root), own_cgroup_file(tmp_path))
    assert result["passed"] is False
    assert explanation in result["error"]
    assert result["enabled_controllers"] == []


def test_the_subcommand_runs_as_a_step_on_the_given_root(tmp_path):
    root = cgroup_root(tmp_path, controllers="cpu memory")
    emitted = []
    passed = cli.run_steps(
        [{"name": "cgroup_nesting", "argv": ["cgroup-nesting", "--cgroup-root", str(root)]}], emitted.append
    )
    assert passed is True
    assert emitted[0]["step"] == "cgroup_nesting"
    assert emitted[0]["check"] == "cgroup-nesting"
    assert emitted[0]["enabled_controllers"] == ["cpu", "memory"]
    assert (root / "cgroup.subtree_control").read_text(encoding="utf-8") == "+cpu +memory"


# -- the preflight diagnostic ----------------------------------------------------------------------


def test_preflight_warns_when_the_root_cgroup_holds_processes_and_delegates_nothing(tmp_path):
    root = cgroup_root(tmp_path, pids=(1, 7))
    item = cgroups.check_cgroup_nesting(str(root))
    assert (item["name"], item["status"]) == ("cgroup_nesting", "warn")
    assert "2 processes" in item["evidence"]
    assert "cannot enter cgroupv2" in item["consequence"]
    assert "cgroup-nesting step" in item["fix"]


@pytest.mark.parametrize(
    ("pids", "delegated"),
    [((), ""), ((), "cpu memory"), ((1,), "cpu memory")],
    ids=["empty", "empty-delegated", "delegated"],
)
def test_preflight_is_content_when_the_root_is_empty_or_already_delegates(tmp_path, *, pids, delegated):
    root = cgroup_root(tmp_path, pids=pids, delegated=delegated)
    assert cgroups.check_cgroup_nesting(str(root))["status"] == "ok"


def test_preflight_is_content_on_cgroup_v1(tmp_path):
    item = cgroups.check_cgroup_nesting(str(tmp_path))
    assert (item["status"], item["evidence"]) == ("ok", "cgroup v1: no internal-process rule")


def test_preflight_runs_the_cgroup_nesting_diagnostic_without_failing_on_its_warning(monkeypatch):
    warning = common.diagnostic("cgroup_nesting", "warn", "2 processes", "tasks fail", "the step")
    monkeypatch.setattr(preflight, "check_cgroup_nesting", lambda: warning)
    others = [name for name in dir(preflight) if name.startswith("check_") and name != "check_cgroup_nesting"]
    for name in others:
        monkeypatch.setattr(preflight, name, lambda *_, name=name: common.diagnostic(name[6:], "ok", ""))
    result = preflight.preflight(argparse.Namespace(containerd_root="/unused"))
    assert warning in result["diagnostics"]
    assert (result["passed"], result["failed"]) == (True, [])


@pytest.mark.parametrize(("mode", "status"), [(0o700, "fail"), (0o750, "fail"), (0o755, "ok"), (0o711, "ok")])
def test_a_root_directory_others_cannot_pass_fails_garden_s_user_namespaces(tmp_path, mode, status):
    root = tmp_path / "rootfs"
    root.mkdir()
    root.chmod(mode)
    result = preflight.check_root_directory(str(root))
    assert result["status"] == status
    assert f"is {mode:04o}" in result["evidence"]
    if status == "fail":
        assert "open /proc/self/mountinfo: permission denied" in result["consequence"]


def test_entering_a_cgroup_namespace_is_a_no_op_at_its_root(tmp_path):
    proc_cgroup = tmp_path / "cgroup"
    proc_cgroup.write_text("0::/\n")
    result = cgroups.enter_cgroup_namespace(str(tmp_path), str(proc_cgroup))
    assert result["passed"] and result["evidence"] == "already at the root of its own cgroup namespace"
    proc_cgroup.write_text("12:pids:/docker/abc\n")
    assert "cgroup v1" in cgroups.enter_cgroup_namespace(str(tmp_path), str(proc_cgroup))["evidence"]


def test_a_refused_unshare_leaves_the_task_in_the_host_tree_and_says_so(tmp_path, monkeypatch):
    proc_cgroup = tmp_path / "cgroup"
    proc_cgroup.write_text("0::/system.slice/abc\n")

    def refuse(flags):
        raise OSError(errno.EPERM, "unshare: Operation not permitted")

    monkeypatch.setattr(cgroups, "unshare", refuse)
    result = cgroups.enter_cgroup_namespace(str(tmp_path), str(proc_cgroup))
    assert not result["passed"]
    assert result["error"] == "unshare: Operation not permitted; the task stays in the host's cgroup tree"


def test_the_steps_summary_is_one_line_per_step_with_its_outcome():
    results = [
        {"step": "containerd", "passed": True, "seconds": 1.5},
        {
            "step": "garden",
            "passed": False,
            "seconds": 30,
            "error": "x" * 400,
            "failed": ["unprivileged_raw"],
        },
    ]
    summary = cli.summary_of(results, False)
    assert summary["passed"] is False
    assert summary["steps"][0] == {"step": "containerd", "passed": True, "seconds": 1.5, "error": ""}
    assert summary["steps"][1]["failed"] == ["unprivileged_raw"]
    assert len(summary["steps"][1]["error"]) == 300
