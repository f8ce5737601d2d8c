"""Loopback port and address helpers shared by the local stack and the tests."""

import ipaddress
import socket


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on `host` that was free a moment ago.

    Another process can take the port between this call and the caller's bind, so callers that
    start a server on it should report a bind failure with the port in the message.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def client_host(bind_host: str) -> str:
    """Return the address a local client uses to reach a server bound to `bind_host`.

    A wildcard bind address (0.0.0.0 or ::) is replaced by the matching loopback address, and an
    IPv6 address is put in brackets so that it can appear in a URL.
    """
    wildcard_to_loopback = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}
    host = wildcard_to_loopback.get(bind_host, bind_host)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6:
        return f"[{host}]"
    return host
