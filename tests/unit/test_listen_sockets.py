"""The /proc/net/tcp reader, against tables captured from a real kernel.

tests/fixtures/registry/proc_net_tcp and proc_net_tcp6 come from an x86_64 (little-endian) host,
in a fresh network namespace with listeners on 127.0.0.1:5000, 0.0.0.0:5001, 127.0.0.2:5004,
[::1]:5000, [::]:5002 and [::ffff:127.0.0.1]:5003, plus established connections on port 5000.
"""

import ipaddress
import socket
from pathlib import Path

import pytest
from ansible_collections.nested.warden.plugins.module_utils.listen_sockets import (
    binding_summary,
    decode_address,
    describe_port,
    format_address,
    listen_port_facts,
    parse_listening,
    read_listening,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "registry"
TCP4 = (FIXTURES / "proc_net_tcp").read_text()
TCP6 = (FIXTURES / "proc_net_tcp6").read_text()


def captured_sockets():
    return parse_listening(TCP4, "little") + parse_listening(TCP6, "little")


def test_ipv4_rows_decode_to_addresses_and_ports():
    assert {(str(address), port) for address, port in parse_listening(TCP4, "little")} == {
        ("0.0.0.0", 5001),
        ("127.0.0.1", 5000),
        ("127.0.0.2", 5004),
    }


def test_ipv6_rows_decode_including_any_loopback_and_mapped_ipv4():
    assert {(format_address(address), port) for address, port in parse_listening(TCP6, "little")} == {
        ("::", 5002),
        ("::1", 5000),
        ("::ffff:127.0.0.1", 5003),
    }


def test_established_connections_are_not_listeners():
    ports = {port for _, port in captured_sockets()}
    # 0xA31C and 0x8AB6 are the client ends of the established connections in the fixtures.
    assert "01" in TCP4.split()
    assert 0xA31C not in ports
    assert 0x8AB6 not in ports


@pytest.mark.parametrize(
    ("port", "addresses", "loopback_only"),
    [
        (5000, ["127.0.0.1", "::1"], True),
        (5001, ["0.0.0.0"], False),
        (5002, ["::"], False),
        (5003, ["::ffff:127.0.0.1"], True),
        (5004, ["127.0.0.2"], True),
    ],
)
def test_port_report_lists_bound_addresses_and_whether_only_loopback(port, addresses, loopback_only):
    report = describe_port(port, captured_sockets())
    assert report == {"port": port, "listening": True, "addresses": addresses, "loopback_only": loopback_only}


def test_port_bound_to_loopback_and_any_address_is_not_loopback_only():
    sockets = [(ipaddress.ip_address("127.0.0.1"), 5000), (ipaddress.ip_address("0.0.0.0"), 5000)]
    assert describe_port(5000, sockets)["loopback_only"] is False


def test_port_nobody_listens_on_is_not_loopback_only():
    assert describe_port(6000, captured_sockets()) == {
        "port": 6000,
        "listening": False,
        "addresses": [],
        "loopback_only": False,
    }


@pytest.mark.parametrize(
    ("port", "summary"),
    [
        (5000, "On this host port 5000 is bound to 127.0.0.1, ::1 (loopback only)."),
        (5002, "On this host port 5002 is bound to ::."),
        (6000, "On this host nothing listens on port 6000."),
    ],
)
def test_binding_summary_says_where_the_port_listens(port, summary):
    assert binding_summary(describe_port(port, captured_sockets())) == summary


def test_big_endian_hosts_print_addresses_in_network_order():
    assert str(decode_address("7F000001", "big")) == "127.0.0.1"
    assert str(decode_address("00000000000000000000000000000001", "big")) == "::1"


def test_address_of_unexpected_length_is_refused():
    with pytest.raises(ValueError, match="not a /proc/net/tcp address"):
        decode_address("7F0001")


def test_missing_tcp6_table_means_no_ipv6_sockets(tmp_path):
    (tmp_path / "tcp").write_text(TCP4)
    sockets = read_listening((tmp_path / "tcp", tmp_path / "tcp6"))
    assert len(sockets) == 3


def test_live_listener_on_loopback_is_reported_loopback_only():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        report = listen_port_facts(port)
    assert report["addresses"] == ["127.0.0.1"]
    assert report["loopback_only"] is True
