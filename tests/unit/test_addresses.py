"""netproto.addresses: the one host:port and bootstrap parser every caller uses."""

import pytest

from rafka.netproto.addresses import AddressError, HostPort, as_addr, parse_bootstrap, parse_host_port


def test_host_port_forms():
    """Goal: names, IPv4 and bracketed IPv6 parse; str() round-trips."""
    assert parse_host_port("localhost:9092") == HostPort("localhost", 9092)
    assert parse_host_port("[::1]:9092") == HostPort("::1", 9092)
    assert str(HostPort("::1", 9092)) == "[::1]:9092"
    assert parse_host_port(str(HostPort("::1", 1))) == HostPort("::1", 1)


@pytest.mark.parametrize("bad", ["", "nohost", ":9092", "h:", "h:x", "h:99999", "h:-1", "h:0", None, 5])
def test_bad_addresses_refused(bad):
    """Goal: every malformed address, out-of-range port (99999 used to pass
    the admin client) and port 0 for a peer to connect to is an AddressError."""
    with pytest.raises(AddressError):
        as_addr(bad)


def test_port_zero_only_for_listeners():
    """Goal: a listener may ask for any free port; nothing connects to 0."""
    assert parse_host_port("127.0.0.1:0", port_zero_ok=True).port == 0
    with pytest.raises(AddressError):
        parse_host_port("127.0.0.1:0")
    with pytest.raises(AddressError):
        as_addr(("127.0.0.1", 0))


def test_bootstrap_lists():
    """Goal: comma lists dedupe in order, ignore blanks, and refuse empty or bad lists."""
    assert parse_bootstrap(" a:1, b:2,a:1 ,") == [HostPort("a", 1), HostPort("b", 2)]
    assert parse_bootstrap([("a", 1), "b:2"]) == [HostPort("a", 1), HostPort("b", 2)]
    for bad in (" , ", "a:1,b", "a:1,b:70000"):
        with pytest.raises(AddressError):
            parse_bootstrap(bad)
