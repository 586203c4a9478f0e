"""Transitional: the rafka client protocol on the Kafka port.

Why: the `rafka` CLI still speaks rafka's msgpack client protocol while
`quorum up` puts the Kafka listener on the well-known ports (9092...). A
Kafka request's first body byte is the high byte of its API key, always 0;
a netproto frame's payload starts with a msgpack map or array, never 0.
So a connection whose first frame does not start with 0 is relayed, bytes
unchanged, to this node's own client listener. This module goes away when
the CLI moves onto the Kafka listener and the client listener retires.
"""

from __future__ import annotations

import trio

# Bytes read per relay step, in each direction.
RELAY_CHUNK_BYTES_MAX = 64 * 1024


def is_legacy(prefix: bytes) -> bool:
    """Decided from the first 5 bytes of a connection (size + 1 byte)."""
    return len(prefix) >= 5 and prefix[4] != 0


async def _pump(src: trio.abc.ReceiveStream, dst: trio.abc.SendStream, scope: trio.CancelScope) -> None:
    try:
        while True:
            data = await src.receive_some(RELAY_CHUNK_BYTES_MAX)
            if not data:
                break
            await dst.send_all(data)
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass
    scope.cancel()


async def relay(client: trio.SocketStream, prefix: bytes, target: tuple[str, int]) -> None:
    """Relay `client` (whose first bytes, `prefix`, were already read) to
    `target` until either side closes."""
    try:
        upstream = await trio.open_tcp_stream(*target)
    except OSError:
        return
    async with upstream:
        try:
            await upstream.send_all(prefix)
        except (trio.BrokenResourceError, OSError):
            return
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_pump, client, upstream, nursery.cancel_scope)
            nursery.start_soon(_pump, upstream, client, nursery.cancel_scope)
