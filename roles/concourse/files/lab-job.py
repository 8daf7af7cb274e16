"""Bring the lab's jobs to their state in one exec (run on the lab host by python3 -c), as the
director and monit would: install and (re)start each, or stop and remove it.

Reads on stdin: {"check": bool, "user": {"name", "shell"} (created as a system user without a
home when missing, as a stemcell has vcap), "jobs": [JOB, ...]} with, per JOB: "name", "state":
"present" | "absent", "home": DIR, "pidfile": PATH, "stop": argv, "start": argv, and for
present: "dirs": [{"path", "owner", "mode"}], "file_owner": USER, "file_group": GROUP,
"files": [{"dest", "mode"}] (dest relative to home), "contents": [str, ...] (in the order of
files). Directories get file_group too. Jobs are handled in order (a proxy after the registry
it fronts).

present: creates or corrects what differs (content, mode, owner, group), each file replaced
atomically; stops a running job whose files changed and starts it when it does not run or its
files changed. absent: stops the job if it runs and removes home. Nothing is done in check mode;
the answer says what would be. Prints {"changed", "user_created", "jobs": {NAME: {"dirs", "files"
(changed paths), "running" (before), "stopped", "started", "removed"}}}. The contents hold the jobs'
secrets: they are never printed. A failed command exits non-zero with the job's name and the
command's output on stderr; the jobs before it stay done.
"""

import grp
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile


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
    try:
        pwd.getpwnam(user["name"])
        return False
    except KeyError:
        pass
    if not check:
        run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                user.get("shell", "/usr/sbin/nologin"),
                user["name"],
            ],
            f"creating the user {user['name']}",
        )
    return True


def install_dir(entry, group, check):
    owner = ids(entry["owner"], group, check)
    if owner is None:
        return True
    (uid, gid), mode = owner, int(entry.get("mode", "0750"), 8)
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


def install_file(entry, content, check):
    owner = ids(entry["owner"], entry["group"], check)
    if owner is None:
        return True
    (uid, gid), mode = owner, int(entry["mode"], 8)
    data = content.encode()
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
    if len(spec["files"]) != len(spec["contents"]):
        raise JobFailed("one content per file expected")
    files = [
        {
            "path": os.path.join(spec["home"], entry["dest"]),
            "mode": entry["mode"],
            "owner": spec["file_owner"],
            "group": spec["file_group"],
        }
        for entry in spec["files"]
    ]
    dirs = [entry["path"] for entry in spec["dirs"] if install_dir(entry, spec["file_group"], check)]
    changed = [
        entry["path"]
        for entry, content in zip(files, spec["contents"], strict=True)
        if install_file(entry, content, check)
    ]
    return dirs, changed


def main():
    spec = json.load(sys.stdin)
    check = spec["check"]
    try:
        result = {"user_created": ensure_user(spec["user"], check) if spec.get("user") else False, "jobs": {}}
    except JobFailed as error:
        sys.exit(f"lab-job: {error}")
    for job in spec["jobs"]:
        try:
            result["jobs"][job["name"]] = bring_to_state(job, check)
        except (MissingAccount, JobFailed) as error:
            sys.exit(f"lab-job: {job['name']}: {error}")
        except (OSError, KeyError, ValueError) as error:  # a disk or spec problem, named too
            sys.exit(f"lab-job: {job['name']}: {type(error).__name__}: {error}")
    result["changed"] = result["user_created"] or any(
        done["dirs"] or done["files"] or done["stopped"] or done["started"] or done["removed"]
        for done in result["jobs"].values()
    )
    print(json.dumps(result))


def bring_to_state(spec, check):
    result = {"dirs": [], "files": [], "stopped": False, "started": False, "removed": False}
    result["running"] = job_running(spec["pidfile"])
    if spec.get("state", "present") == "absent":
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


main()
