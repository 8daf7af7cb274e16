# Copyright: (c) 2026, nested-warden developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bring the lab's BOSH jobs to their state on the lab host, as the director and monit would:
install and (re)start each, or stop and remove it (module nested.warden.lab_jobs).

present: creates or corrects what differs (content, mode, owner, group), each file replaced
atomically; stops a running job whose files changed and starts it when it does not run or its
files changed. absent: stops the job if it runs and removes its home. Nothing is done in check
mode; the answer says what would be. The file contents hold the jobs' secrets: they are never
part of an answer or a message.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import tempfile


class LabJobError(Exception):
    """A job could not be brought to its state; the message names the job and says why."""


class MissingAccount(Exception):
    """The owner or group does not exist (yet: check mode does not create the user)."""


class JobFailed(Exception):
    """A command of the job failed; the message has its exit status and output."""


def ids(owner, group, check):
    """(uid, gid); None in check mode when the account is only predicted (so is what it owns)."""
    try:
        return pwd.getpwnam(owner).pw_uid, grp.getgrnam(group).gr_gid
    except KeyError as error:
        if check:
            return None
        raise MissingAccount(f"no user {owner} or group {group} on this host") from error


def run(argv, what, ok=(0,)):
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode not in ok:
        raise JobFailed(f"{what} failed (exit {done.returncode}): {(done.stderr or done.stdout).strip()}")


def ensure_user(user, check):
    """Create the user (a system user without a home, as a stemcell has vcap) when missing."""
    try:
        pwd.getpwnam(user["name"])
        return False
    except KeyError:
        pass
    if not check:
        shell = user.get("shell") or "/usr/sbin/nologin"
        argv = ["useradd", "--system", "--no-create-home", "--shell", shell, user["name"]]
        run(argv, f"creating the user {user['name']}")
    return True


def install_dir(entry, group, check):
    owner = ids(entry["owner"], group, check)
    if owner is None:
        return True
    (uid, gid), mode = owner, int(entry.get("mode") or "0750", 8)
    try:
        found = os.stat(entry["path"])
    except FileNotFoundError:
        if not check:
            os.makedirs(entry["path"], exist_ok=True)
            os.chown(entry["path"], uid, gid)
            os.chmod(entry["path"], mode)
        return True
    if (found.st_uid, found.st_gid, found.st_mode & 0o7777) == (uid, gid, mode):
        return False
    if not check:
        os.chown(entry["path"], uid, gid)
        os.chmod(entry["path"], mode)
    return True


def install_file(entry, check):
    owner = ids(entry["owner"], entry["group"], check)
    if owner is None:
        return True
    (uid, gid), mode = owner, int(entry["mode"], 8)
    data = entry["content"].encode()
    try:
        found = os.stat(entry["path"])
        with open(entry["path"], "rb") as current:
            same = current.read() == data
    except FileNotFoundError:
        found, same = None, False
    if same and (found.st_uid, found.st_gid, found.st_mode & 0o7777) == (uid, gid, mode):
        return False
    if not check:
        handle, temporary = tempfile.mkstemp(dir=os.path.dirname(entry["path"]), prefix=".install-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.chown(temporary, uid, gid)
            os.chmod(temporary, mode)
            os.replace(temporary, entry["path"])
        except BaseException:
            os.unlink(temporary)
            raise
    return True


def job_running(pidfile):
    """What start-stop-daemon --status tells: the process in the pidfile exists."""
    try:
        with open(pidfile, encoding="ascii") as pid_file:
            pid = int(pid_file.read().strip())
    except (OSError, ValueError):
        return False
    return pid > 0 and os.path.exists(f"/proc/{pid}")


def install(spec, check):
    """(changed directories, changed files) of a present job."""
    dirs = [entry["path"] for entry in spec["dirs"] if install_dir(entry, spec["file_group"], check)]
    files = [
        {
            "path": os.path.join(spec["home"], entry["dest"]),
            "mode": entry["mode"],
            "content": entry["content"],
            "owner": spec["file_owner"],
            "group": spec["file_group"],
        }
        for entry in spec["files"]
    ]
    return dirs, [entry["path"] for entry in files if install_file(entry, check)]


def bring_to_state(spec, check):
    """One job: what was (or in check mode would be) done."""
    result = {"dirs": [], "files": [], "stopped": False, "started": False, "removed": False}
    result["running"] = job_running(spec["pidfile"])
    if (spec.get("state") or "present") == "absent":
        result["stopped"] = result["running"]
        result["removed"] = os.path.lexists(spec["home"])
        if not check:
            if result["stopped"]:
                run(spec["stop"], "stopping the job", ok=(0, 1))  # 1: it had already exited
            if result["removed"]:
                shutil.rmtree(spec["home"])
    else:
        result["dirs"], result["files"] = install(spec, check)
        # Only a changed file restarts the job (a corrected directory owner or mode does not).
        result["stopped"] = result["running"] and bool(result["files"])
        result["started"] = not result["running"] or bool(result["files"])
        if not check:
            if result["stopped"]:
                run(spec["stop"], "stopping the job for its new configuration", ok=(0, 1))
            if result["started"]:
                run(spec["start"], "starting the job")
    return result


def lab_jobs(jobs, user=None, check=False, done=None):
    """Every job in order (a proxy after the registry it fronts): {changed, user_created, jobs}.

    ``done`` (a dict) receives each job's answer as it finishes, so a caller still has what the
    jobs before a failing one did. A failure raises LabJobError naming the job."""
    answer = {"user_created": False, "jobs": {} if done is None else done}
    try:
        answer["user_created"] = ensure_user(user, check) if user else False
    except JobFailed as error:
        raise LabJobError(f"lab-job: {error}") from None
    for job in jobs:
        try:
            answer["jobs"][job["name"]] = bring_to_state(job, check)
        except (MissingAccount, JobFailed) as error:
            raise LabJobError(f"lab-job: {job['name']}: {error}") from None
        except (OSError, KeyError, ValueError) as error:  # a disk or spec problem, named too
            raise LabJobError(f"lab-job: {job['name']}: {type(error).__name__}: {error}") from None
    answer["changed"] = answer["user_created"] or any(
        job["dirs"] or job["files"] or job["stopped"] or job["started"] or job["removed"]
        for job in answer["jobs"].values()
    )
    return answer
