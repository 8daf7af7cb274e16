"""Address filters the roles need, without depending on the ansible.utils collection."""

import ipaddress

from ansible.errors import AnsibleFilterError


def in_subnet(address, subnet):
    """True when the IP address lies inside the CIDR subnet."""
    try:
        return ipaddress.ip_address(str(address)) in ipaddress.ip_network(str(subnet), strict=False)
    except ValueError as error:
        raise AnsibleFilterError(f"in_subnet: {error}") from error


def is_cidr(value):
    """True when the value is a CIDR network such as 172.30.77.0/24."""
    try:
        ipaddress.ip_network(str(value), strict=True)
    except ValueError:
        return False
    return "/" in str(value)


def is_ip(value):
    """True when the value is an IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(str(value))
    except ValueError:
        return False
    return True


class FilterModule:
    def filters(self):
        return {"in_subnet": in_subnet, "is_cidr": is_cidr, "is_ip": is_ip}
