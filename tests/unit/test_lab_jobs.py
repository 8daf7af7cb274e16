"""The lab jobs the concourse role runs on the lab host (module nested.warden.lab_jobs, its logic
in plugins/module_utils/lab_jobs.py, and the filter nested.warden.lab_job that builds its jobs):
files installed once then unchanged, a job started once and restarted only when a file changed,
check mode only reports, absent stops and removes, several jobs in one call in order, and a
failing job named with the ones before it left done."""

import getpass
import grp
import os
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.nested.warden.plugins.filter.lab import lab_job as lab_job_filter
from ansible_collections.nested.warden.plugins.module_utils.lab_jobs import LabJobError
from ansible_collections.nested.warden.plugins.module_utils.lab_jobs import lab_jobs as run_lab_jobs
from ansible_collections.nested.warden.plugins.modules import lab_jobs as lab_jobs_module


def lab_jobs(jobs, *, check=False, expect_failure=False):
    """The whole answer of one call for these job specs (or the error message), after the
    module's argument spec has validated them as Ansible would."""
    validated = ArgumentSpecValidator(lab_jobs_module.argument_spec()).validate({"jobs": jobs})
    assert not validated.error_messages, validated.error_messages
    if expect_failure:
        with pytest.raises(LabJobError) as error:
            run_lab_jobs(validated.validated_parameters["jobs"], check=check)
        return str(error.value)
    return run_lab_jobs(validated.validated_parameters["jobs"], check=check)


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
        "files": [{"dest": "config/nginx.conf", "mode": "0640", "content": "events {}\n"}],
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
    job.spec["files"] = [{**job.spec["files"][0], "content": "events { }\n"}]
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
        "files": [{"dest": "job.conf", "mode": "0640", "content": f"{name}\n"}],
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


def test_the_jobs_done_before_a_failing_one_are_handed_back(job):
    failing = second_job(job, "registry", ["sh", "-c", "exit 4"])
    done = {}
    with pytest.raises(LabJobError):
        run_lab_jobs([job.spec, failing], check=False, done=done)
    assert done["proxy"]["started"] is True and "registry" not in done


def test_the_filter_builds_a_present_job_as_bosh_lays_it_out():
    spec = lab_job_filter(
        "registry",
        {"docker": {"registry": {"root": "/var/vcap/store/registry"}}},
        "/var/vcap/jobs/registry",
        "/var/vcap/sys/run/registry/registry.pid",
        ["start"],
        ["stop"],
        templates=[{"src": "tls_key.j2", "dest": "tls/key.pem", "mode": "0640", "secret": True}],
        contents=["KEY"],
        data_dirs=["/var/vcap/store/registry"],
    )
    assert [(entry["path"], entry["owner"]) for entry in spec["dirs"]] == [
        ("/var/vcap/jobs/registry", "root"),
        ("/var/vcap/jobs/registry/config", "root"),
        ("/var/vcap/jobs/registry/config/auth", "root"),
        ("/var/vcap/jobs/registry/tls", "root"),
        ("/var/vcap/sys/run/registry", "vcap"),
        ("/var/vcap/sys/log/registry", "vcap"),
        ("/var/vcap/store/registry", "vcap"),
    ]
    assert spec["files"] == [{"dest": "tls/key.pem", "mode": "0640", "content": "KEY"}]
    assert (spec["state"], spec["file_owner"], spec["file_group"]) == ("present", "root", "vcap")
    validated = ArgumentSpecValidator(lab_jobs_module.argument_spec()).validate({"jobs": [spec]})
    assert not validated.error_messages
    assert "KEY" in validated._no_log_values


def test_the_filter_makes_a_job_the_deployment_no_longer_renders_absent():
    spec = lab_job_filter("proxy", None, "/var/vcap/jobs/proxy", "/run/proxy.pid", ["start"], ["stop"])
    assert spec == {
        "name": "proxy",
        "home": "/var/vcap/jobs/proxy",
        "pidfile": "/run/proxy.pid",
        "start": ["start"],
        "stop": ["stop"],
        "state": "absent",
    }


def test_the_filter_wants_one_content_per_template():
    with pytest.raises(AnsibleFilterError, match="one rendered content per template"):
        lab_job_filter("proxy", {}, "/h", "/p", [], [], templates=[{"dest": "a", "mode": "0640"}])
