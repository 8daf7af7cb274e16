"""The concourse role's lab job helper (roles/concourse/files/lab-job.py), run as the role runs it
(python3 -c with the jobs on stdin): files installed once then unchanged, a job started once and
restarted only when a file changed, check mode only reports, absent stops and removes, several
jobs in one call in order, and a failing job named with the ones before it left done."""

import getpass
import grp
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAB_JOB = ROOT / "roles" / "concourse" / "files" / "lab-job.py"


def lab_jobs(jobs, *, check=False, expect_failure=False):
    """The whole answer of one call for these job specs."""
    done = subprocess.run(
        [sys.executable, "-c", LAB_JOB.read_text()],
        input=json.dumps({"check": check, "jobs": jobs}),
        capture_output=True,
        text=True,
        check=False,
    )
    if expect_failure:
        assert done.returncode != 0
        return done.stderr
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def lab_job(spec, *, check=False, expect_failure=False):
    """One job's answer (or the error), with the call's overall changed flag in it."""
    answer = lab_jobs([spec], check=check, expect_failure=expect_failure)
    if expect_failure:
        return answer
    return {**answer["jobs"][spec["name"]], "changed": answer["changed"]}


@pytest.fixture
def job(tmp_path):
    """A job whose program is a sleep started with start-stop-daemon-like argv in plain sh."""
    user, group = getpass.getuser(), grp.getgrgid(os.getgid()).gr_name
    home, pidfile = tmp_path / "jobs" / "proxy", tmp_path / "run" / "proxy.pid"
    pidfile.parent.mkdir()
    starts = tmp_path / "starts"
    spec = {
        "name": "proxy",
        "state": "present",
        "home": str(home),
        "pidfile": str(pidfile),
        # The start writes its own pidfile, as start-stop-daemon --make-pidfile does.
        "start": ["sh", "-c", f"sleep 60 >/dev/null 2>&1 & echo $! > {pidfile}; echo start >> {starts}"],
        "stop": ["sh", "-c", f"kill $(cat {pidfile}) && rm -f {pidfile}"],
        "dirs": [{"path": str(home), "owner": user}, {"path": str(home / "config"), "owner": user}],
        "file_owner": user,
        "file_group": group,
        "files": [{"dest": "config/nginx.conf", "mode": "0640", "src": "nginx.conf.j2", "secret": False}],
        "contents": ["events {}\n"],
    }
    yield SimpleNamespace(spec=spec, home=home, pidfile=pidfile, starts=starts)
    if pidfile.exists():
        subprocess.run(["sh", "-c", f"kill $(cat {pidfile})"], check=False)


def test_check_mode_reports_and_changes_nothing(job):
    result = lab_job(job.spec, check=True)
    assert result["files"] == [str(job.home / "config" / "nginx.conf")]
    assert result["started"] is True and result["changed"] is True
    assert not job.home.exists() and not job.pidfile.exists() and not job.starts.exists()


def test_installed_and_started_once_then_unchanged(job):
    first = lab_job(job.spec)
    assert first["dirs"] == [str(job.home), str(job.home / "config")]
    assert first["started"] is True and first["running"] is False
    assert (job.home / "config" / "nginx.conf").read_text() == "events {}\n"
    assert oct((job.home / "config" / "nginx.conf").stat().st_mode & 0o7777) == "0o640"
    second = lab_job(job.spec)
    assert second["running"] is True and second["changed"] is False
    assert (second["dirs"], second["files"], second["stopped"], second["started"]) == ([], [], False, False)
    assert job.starts.read_text().count("start") == 1


def test_changed_file_restarts_a_running_job(job):
    lab_job(job.spec)
    old_pid = job.pidfile.read_text().strip()
    job.spec["contents"] = ["events { }\n"]
    result = lab_job(job.spec)
    assert result["files"] == [str(job.home / "config" / "nginx.conf")]
    assert result["stopped"] is True and result["started"] is True
    assert job.pidfile.read_text().strip() != old_pid
    assert (job.home / "config" / "nginx.conf").read_text() == "events { }\n"


def test_a_mode_change_alone_does_not_restart_the_job(job):
    lab_job(job.spec)
    (job.home / "config").chmod(0o700)
    result = lab_job(job.spec)
    assert result["dirs"] == [str(job.home / "config")] and result["changed"] is True
    assert result["stopped"] is False and result["started"] is False


def test_absent_stops_the_job_and_removes_its_files(job):
    lab_job(job.spec)
    pid = int(job.pidfile.read_text())
    result = lab_job({**job.spec, "state": "absent"})
    assert result["stopped"] is True and result["removed"] is True
    assert not job.home.exists()
    for _ in range(50):  # the killed sleep is reaped by its parent shell's exit
        if not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]:
            break
        time.sleep(0.05)
    assert lab_job({**job.spec, "state": "absent"})["removed"] is False


def test_a_failing_start_fails_with_the_command_output(job):
    job.spec["start"] = ["sh", "-c", "echo cannot bind 0.0.0.0:5000 >&2; exit 3"]
    message = lab_job(job.spec, expect_failure=True)
    assert "starting the job failed (exit 3): cannot bind 0.0.0.0:5000" in message


def second_job(job, name, start):
    """Another job like the fixture's, in its own home, with its own start command."""
    home = job.home.parent / name
    return {
        **job.spec,
        "name": name,
        "home": str(home),
        "pidfile": str(job.pidfile.parent / f"{name}.pid"),
        "start": start,
        "dirs": [{"path": str(home), "owner": job.spec["file_owner"]}],
        "files": [{"dest": "job.conf", "mode": "0640"}],
        "contents": [f"{name}\n"],
    }


def test_several_jobs_in_one_call_in_order(job):
    order = job.home.parent.parent / "order"
    registry = second_job(job, "registry", ["sh", "-c", f"echo registry >> {order}"])
    job.spec["start"][-1] += f"; echo proxy >> {order}"
    answer = lab_jobs([registry, job.spec])
    assert sorted(answer["jobs"]) == ["proxy", "registry"] and answer["changed"] is True
    assert order.read_text().split() == ["registry", "proxy"]
    assert (job.home.parent / "registry" / "job.conf").read_text() == "registry\n"


def test_a_failing_job_is_named_and_the_jobs_before_it_stay_done(job):
    failing = second_job(job, "registry", ["sh", "-c", "echo no storage >&2; exit 4"])
    message = lab_jobs([job.spec, failing], expect_failure=True)
    assert "lab-job: registry: starting the job failed (exit 4): no storage" in message
    assert (job.home / "config" / "nginx.conf").read_text() == "events {}\n" and job.pidfile.exists()


def test_a_disk_error_names_the_job(job, tmp_path):
    (tmp_path / "blocker").write_text("a file where a directory should be\n")
    job.spec["dirs"] = [{"path": str(tmp_path / "blocker" / "proxy"), "owner": job.spec["file_owner"]}]
    message = lab_jobs([job.spec], expect_failure=True)
    assert message.startswith("lab-job: proxy: NotADirectoryError:") and "Traceback" not in message
