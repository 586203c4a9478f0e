"""Addresses: the one parser for "host:port" and for bootstrap lists.

Why one: the node config, the peer pool, the membership address book, the
CLI's --bootstrap and every client must agree on what an address is (IPv6
in brackets, a port in 1..65535, port 0 only where a listener may ask the
OS for one). Every caller goes through `parse_host_port`, `as_addr` or
`parse_bootstrap`; they raise `AddressError` (a ValueError) naming what was
wrong, and callers turn it into their own typed error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

PORT_MAX = 65535
BOOTSTRAP_ADDRESSES_MAX = 1024

Addr = tuple[str, int]


class AddressError(ValueError):
    """A malformed address or address list; the message says what was wrong."""


@dataclass(frozen=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def addr(self) -> Addr:
        return (self.host, self.port)


def parse_host_port(text: object, *, what: str = "address", port_zero_ok: bool = False) -> HostPort:
    """"host:port" (IPv6 as "[::1]:port") -> HostPort. Port 0 ("any free
    port") only when `port_zero_ok`, for listeners."""
    if not isinstance(text, str) or ":" not in text:
        raise AddressError(f"{what}: expected 'host:port', got {text!r}")
    host, _, port_text = text.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise AddressError(f"{what}: missing host in {text!r}")
    if not port_text.isdigit():
        raise AddressError(f"{what}: bad port in {text!r}")
    return _checked(host, int(port_text), text, what, port_zero_ok)


def _checked(host: str, port: int, text: object, what: str, port_zero_ok: bool) -> HostPort:
    low = 0 if port_zero_ok else 1
    if not low <= port <= PORT_MAX:
        raise AddressError(f"{what}: port out of range ({low}..{PORT_MAX}) in {text!r}")
    return HostPort(host, port)


def as_addr(value: str | Addr | HostPort, *, what: str = "address") -> Addr:
    """A connectable (host, port) from "host:port", a (host, port) tuple or
    a HostPort, with the same rules as `parse_host_port` (no port 0)."""
    if isinstance(value, HostPort):
        value = value.addr
    if isinstance(value, tuple):
        if len(value) != 2 or not isinstance(value[0], str) or not value[0] or type(value[1]) is not int:
            raise AddressError(f"{what}: bad address {value!r}")
        return _checked(value[0].strip("[]"), value[1], value, what, False).addr
    return parse_host_port(value, what=what).addr


def parse_bootstrap(value: str | Iterable[str | Addr | HostPort], *, what: str = "bootstrap") -> list[HostPort]:
    """"h:p,h:p" (or a list of addresses) -> distinct HostPorts in order;
    AddressError when empty, malformed or longer than BOOTSTRAP_ADDRESSES_MAX."""
    items = [s for s in value.split(",") if s.strip()] if isinstance(value, str) else list(value)
    if len(items) > BOOTSTRAP_ADDRESSES_MAX:
        raise AddressError(f"{what}: more than {BOOTSTRAP_ADDRESSES_MAX} addresses")
    out = list(dict.fromkeys(HostPort(*as_addr(item, what=what)) for item in items))
    if not out:
        raise AddressError(f"{what}: no address given")
    return out
