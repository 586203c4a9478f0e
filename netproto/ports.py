"""Free TCP ports for tests, benchmarks and local clusters.

Why one helper: every harness that starts real nodes needs a few ports on
loopback before the nodes exist (they go into each node's config), and the
copies of this function had drifted apart (one port at a time could hand out
the same port twice).
"""

from __future__ import annotations

import socket

# More than any local cluster needs; a bigger request is a caller's bug.
FREE_PORTS_MAX = 256


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """`n` distinct TCP ports on `host` (an IPv4 address) that were free a moment ago.

    All `n` sockets are bound (port 0, the kernel picks) and held open
    together, so the ports are distinct, then all are closed before
    returning. That is inherently racy: between the close and the caller's
    own bind, another process may take a port. Callers must tolerate a bind
    failure (e.g. treat "address in use" as a retryable start failure), and
    must not assume the ports stay free.

    Raises ValueError when `n` is not in 0..FREE_PORTS_MAX.
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= FREE_PORTS_MAX:
        raise ValueError(f"free_ports: n must be an int in 0..{FREE_PORTS_MAX}, got {n!r}")
    socks: list[socket.socket] = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind((host, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()
