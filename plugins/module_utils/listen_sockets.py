"""Listening TCP sockets of this host's network namespace, read from /proc/net/tcp and tcp6.

Answers the question behind "the registry is unreachable": which addresses is the port bound to,
and is it only loopback (the docker-registry release's default bind is 127.0.0.1)?
"""

import ipaddress
import sys

PROC_NET_TCP = ("/proc/net/tcp", "/proc/net/tcp6")
# include/net/tcp_states.h: TCP_LISTEN = 10, printed as two hex digits.
TCP_LISTEN = "0A"


def decode_address(hex_address, byteorder=sys.byteorder):
    """Turn the kernel's hex address into an IP address.

    The kernel prints each 32-bit word of the network-order address as a host-order integer,
    so on little-endian machines every 4-byte group reads reversed.
    """
    if len(hex_address) not in (8, 32):
        raise ValueError(f"not a /proc/net/tcp address: {hex_address!r}")
    packed = b"".join(
        int(hex_address[start : start + 8], 16).to_bytes(4, byteorder)
        for start in range(0, len(hex_address), 8)
    )
    return ipaddress.ip_address(packed)


def is_loopback(address):
    """True for 127.0.0.0/8, ::1 and IPv4-mapped loopback (::ffff:127.0.0.1)."""
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def format_address(address):
    """The usual text form; IPv4-mapped as ::ffff:127.0.0.1 (Python before 3.13 prints hex)."""
    mapped = getattr(address, "ipv4_mapped", None)
    return f"::ffff:{mapped}" if mapped else str(address)


def parse_listening(text, byteorder=sys.byteorder):
    """(address, port) of every LISTEN row in the text of /proc/net/tcp or /proc/net/tcp6."""
    sockets = []
    for line in text.splitlines()[1:]:  # the first line is the column header
        fields = line.split()
        if len(fields) < 4 or fields[3] != TCP_LISTEN:
            continue
        hex_address, _colon, hex_port = fields[1].partition(":")
        sockets.append((decode_address(hex_address, byteorder), int(hex_port, 16)))
    return sockets


def read_listening(paths=PROC_NET_TCP):
    """Every listening socket in the given files; a missing file (IPv6 disabled) has none."""
    sockets = []
    for path in paths:
        try:
            with open(path, encoding="ascii") as table:
                sockets.extend(parse_listening(table.read()))
        except FileNotFoundError:
            continue
    return sockets


def describe_port(port, sockets):
    """What listens on the port: its bound addresses and whether they are all loopback.

    loopback_only is true only when something listens and every bound address is loopback:
    such a port cannot be reached from any other host.
    """
    bound = []
    for address, socket_port in sockets:
        if socket_port == port and address not in bound:
            bound.append(address)
    return {
        "port": port,
        "listening": bool(bound),
        "addresses": [format_address(address) for address in bound],
        "loopback_only": bool(bound) and all(is_loopback(address) for address in bound),
    }


def binding_summary(report):
    """One sentence about a describe_port report, to put next to a refused connection."""
    if not report["listening"]:
        return f"On this host nothing listens on port {report['port']}."
    scope = " (loopback only)" if report["loopback_only"] else ""
    return f"On this host port {report['port']} is bound to {', '.join(report['addresses'])}{scope}."


def listen_port_facts(port, paths=PROC_NET_TCP):
    """describe_port for the live sockets of the network namespace this process runs in."""
    return describe_port(port, read_listening(paths))
