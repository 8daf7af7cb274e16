import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.nested.warden.plugins.filter.network import (
    in_subnet,
    is_cidr,
    is_ip,
)  # plugins/filter, see conftest


@pytest.mark.parametrize(
    ("address", "subnet", "inside"),
    [
        ("172.30.77.10", "172.30.77.0/24", True),
        ("172.30.78.10", "172.30.77.0/24", False),
        ("fd00::5", "fd00::/64", True),
    ],
)
def test_in_subnet_tells_whether_an_address_is_inside(address, subnet, inside):
    assert in_subnet(address, subnet) is inside


def test_in_subnet_names_the_bad_value():
    with pytest.raises(AnsibleFilterError, match="not-an-ip"):
        in_subnet("not-an-ip", "172.30.77.0/24")


@pytest.mark.parametrize(
    ("value", "valid"),
    [("172.30.77.0/24", True), ("172.30.77.1/24", False), ("172.30.77.0", False), ("garbage", False)],
)
def test_is_cidr_accepts_only_networks_with_zero_host_bits(value, valid):
    assert is_cidr(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"), [("172.30.77.10", True), ("fd00::1", True), ("172.30.77", False)]
)
def test_is_ip_accepts_only_addresses(value, valid):
    assert is_ip(value) is valid
