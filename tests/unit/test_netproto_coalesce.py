"""Write coalescing: one-way messages queued in a burst leave the pool's
connection in far fewer socket writes than messages, and still arrive
complete and in order (real sockets on 127.0.0.1, bounded)."""

from __future__ import annotations

import random

import trio

from rafka.netproto.pool import open_pool

from .test_netproto_helpers import CLUSTER, LIMITS, FakeVote, running_server


async def test_burst_of_oneway_messages_is_coalesced_and_ordered(monkeypatch):
    """Goal: 200 one-way messages queued without yielding arrive in order,
    written with fewer send_all calls than messages (frames are joined)."""
    writes: list[int] = []
    real_send_all = trio.SocketStream.send_all

    async def counting_send_all(self, data):
        writes.append(len(data))
        await real_send_all(self, data)

    monkeypatch.setattr(trio.SocketStream, "send_all", counting_send_all)
    got: list[int] = []
    first = trio.Event()
    done = trio.Event()

    async def handler(msg, ctx):
        got.append(msg.term)
        if len(got) == 1:
            first.set()
        if len(got) == 201:
            done.set()

    with trio.fail_after(10):
        async with running_server(handler) as port:
            async with open_pool(cluster_id=CLUSTER, kind="peer", node_id=2, limits=LIMITS,
                                 rng=random.Random(1)) as pool:
                addr = ("127.0.0.1", port)
                pool.send_oneway_nowait(addr, FakeVote(term=-1))
                await first.wait()  # connected and handshaken
                writes.clear()
                for term in range(200):
                    assert pool.send_oneway_nowait(addr, FakeVote(term=term))
                await done.wait()
    assert got == [-1] + list(range(200))
    assert 1 <= len(writes) < 200
