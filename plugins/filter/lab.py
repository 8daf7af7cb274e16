"""The lab's settings: the lab role's hosts (from the inventory to nested.warden.docker_lab's
hosts option), and the concourse role's jobs on the lab host (nested.warden.lab_jobs' jobs)."""

import posixpath

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean


def lab_host(name, hostvars, command, writable_sysctls_command):
    """The container of lab host `name`: its ansible_host, lab_address, lab_capabilities, and with
    lab_writable_sysctls the rights to remount /proc/sys read-write (SYS_ADMIN, no AppArmor)."""
    try:
        host = hostvars[name]
        writable = boolean(host.get("lab_writable_sysctls", False), strict=False)
        capabilities = list(host.get("lab_capabilities") or [])
        return {
            "name": host["ansible_host"],
            "hostname": name,
            "address": host["lab_address"],
            "command": list(writable_sysctls_command if writable else command),
            "capabilities": capabilities
            + (["SYS_ADMIN"] if writable and "SYS_ADMIN" not in capabilities else []),
            "security_opts": ["apparmor=unconfined"] if writable else [],
        }
    except (KeyError, TypeError) as error:
        raise AnsibleFilterError(
            f"lab_host: lab host {name} lacks {error} (set it in the lab inventory)"
        ) from error


def lab_vm_summary(results):
    """The lab's VMs as the lab stage hands them on (the report names where the tests ran): per
    VM its action and, once booted, kernel, cgroup version, AppArmor, Docker and accelerator."""
    if not isinstance(results, list):
        raise AnsibleFilterError(
            f"lab_vm_summary: expected the lab_vm task's results list, got {type(results).__name__}"
        )
    summary = {}
    for result in results:
        if not isinstance(result, dict) or "item" not in result:
            raise AnsibleFilterError("lab_vm_summary: each result needs the item (the VM's inventory name)")
        entry = {"action": result.get("action", "skipped")}
        guest = result.get("guest") or {}
        for key in ("kernel", "cgroup", "apparmor", "docker"):
            if key in guest:
                entry[key] = guest[key]
        for key in ("accel", "accel_reason", "seconds_to_ready"):
            if key in result:
                entry[key] = result[key]
        summary[result["item"]] = entry
    return summary


def lab_job(
    name,
    properties,
    home,
    pidfile,
    start,
    stop,
    templates=(),
    contents=(),
    run_dir="/var/vcap/sys/run",
    log_dir="/var/vcap/sys/log",
    data_dirs=(),
    file_owner="root",
    runs_as="vcap",
):
    """One job of nested.warden.lab_jobs' jobs: absent when the deployment no longer renders it
    (properties is none), else its directories as a BOSH job has them (files belong to
    file_owner and are read by runs_as; what the job writes belongs to runs_as) and its files,
    one rendered content per template (dest, mode)."""
    job = {"name": name, "home": home, "pidfile": pidfile, "start": list(start), "stop": list(stop)}
    if properties is None:
        return {**job, "state": "absent"}
    templates, contents = list(templates or []), list(contents or [])
    if len(templates) != len(contents):
        raise AnsibleFilterError(
            f"lab_job: {name}: one rendered content per template expected "
            f"({len(templates)} templates, {len(contents)} contents)"
        )
    owned = [home] + [posixpath.join(home, sub) for sub in ("config", "config/auth", "tls")]
    written = [posixpath.join(run_dir, name), posixpath.join(log_dir, name), *data_dirs]
    return {
        **job,
        "state": "present",
        "file_owner": file_owner,
        "file_group": runs_as,
        "dirs": [{"path": path, "owner": file_owner} for path in owned]
        + [{"path": path, "owner": runs_as} for path in written],
        "files": [
            {"dest": template["dest"], "mode": template["mode"], "content": content}
            for template, content in zip(templates, contents, strict=True)
        ],
    }


class FilterModule:
    def filters(self):
        return {"lab_host": lab_host, "lab_vm_summary": lab_vm_summary, "lab_job": lab_job}
