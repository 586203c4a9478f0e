"""The shared free-port helper."""

import socket

import pytest

from rafka.netproto.ports import FREE_PORTS_MAX, free_ports


def test_ports_are_distinct_and_bindable():
    """Goal: the ports handed out are distinct (one bind each, held together)
    and can be bound right after."""
    ports = free_ports(20)
    assert len(set(ports)) == 20
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", ports[0]))
    finally:
        s.close()


@pytest.mark.parametrize("n", [-1, FREE_PORTS_MAX + 1, 1.5, True])
def test_bad_counts_are_refused(n):
    """Goal: a nonsensical request is a clear ValueError, not a hang or a leak."""
    with pytest.raises(ValueError):
        free_ports(n)
