"""Install a job's directories and rendered files in one exec (run on the lab host by python3 -c).

Reads on stdin: {"check": bool, "dirs": [{"path", "owner", "mode"}], "home": DIR,
"file_owner": USER, "file_group": GROUP, "files": [{"dest", "mode"}] (dest relative to home),
"contents": [str, ...]} (in the order of files); directories get file_group too. Creates or
corrects what differs (content, mode, owner, group), each file replaced atomically, nothing
written in check mode. Prints {"dirs": [changed paths], "files": [changed
paths]}. The contents hold the job's secrets: they are never printed.
"""

import grp
import json
import os
import pwd
import sys
import tempfile


def ids(owner, group):
    return pwd.getpwnam(owner).pw_uid, grp.getgrnam(group).gr_gid


def install_dir(entry, group, check):
    uid, gid, mode = *ids(entry["owner"], group), int(entry.get("mode", "0750"), 8)
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
    uid, gid, mode = *ids(entry["owner"], entry["group"]), int(entry["mode"], 8)
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


def main():
    spec = json.load(sys.stdin)
    if len(spec["files"]) != len(spec["contents"]):
        sys.exit("install-job-files: one content per file expected")
    files = [
        {
            "path": os.path.join(spec["home"], entry["dest"]),
            "mode": entry["mode"],
            "owner": spec["file_owner"],
            "group": spec["file_group"],
        }
        for entry in spec["files"]
    ]
    changed = {
        "dirs": [
            entry["path"] for entry in spec["dirs"] if install_dir(entry, spec["file_group"], spec["check"])
        ],
        "files": [
            entry["path"]
            for entry, content in zip(files, spec["contents"], strict=True)
            if install_file(entry, content, spec["check"])
        ],
    }
    print(json.dumps(changed))


main()
