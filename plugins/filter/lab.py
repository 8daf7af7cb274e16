"""The lab role's host settings, from the inventory to nested.warden.docker_lab's hosts option."""

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


class FilterModule:
    def filters(self):
        return {"lab_host": lab_host}
