"""Pool, ClusterClient and Backoff: reconnects, one-way delivery, failover.

Network tests use real sockets on 127.0.0.1 with the real clock and small
deadlines, each bounded by trio.fail_after; Backoff is pure and seeded."""

from __future__ import annotations

import random

import pytest
import trio

from rafka.netproto.backoff import Backoff
from rafka.netproto.cluster_client import open_cluster_client, parse_bootstrap
from rafka.netproto.connection import HandshakeRefusedError, NotSentError
from rafka.netproto.errors import ErrorCode, RafkaError
from rafka.netproto.pool import open_pool, parse_addr
from rafka.netproto.ports import free_ports

from .test_netproto_helpers import CLUSTER, LIMITS, Echo, FakeVote, running_server


def free_port() -> int:
    return free_ports(1)[0]


def test_backoff_grows_with_jitter_and_resets():
    """Goal: delays double up to the cap, stay within [ceiling/2, ceiling],
    are reproducible from the seed, and reset after success."""
    a = Backoff(100, 1000, random.Random(7))
    b = Backoff(100, 1000, random.Random(7))
    delays = [a.next_delay_ms() for _ in range(8)]
    assert delays == [b.next_delay_ms() for _ in range(8)]
    for i, d in enumerate(delays):
        ceiling = min(100 * 2**i, 1000)
        assert ceiling / 2 <= d <= ceiling
    a.reset()
    assert 50 <= a.next_delay_ms() <= 100


def test_parse_addresses():
    """Goal: HOST:PORT strings and tuples parse; malformed ones are refused."""
    assert parse_addr("127.0.0.1:9192") == ("127.0.0.1", 9192)
    assert parse_addr(("h", 1)) == ("h", 1)
    assert parse_bootstrap("a:1, b:2,a:1") == [("a", 1), ("b", 2)]
    for bad in ("nohost", "h:", ":1", "h:x", "h:70000"):
        with pytest.raises(ValueError):
            parse_addr(bad)
    with pytest.raises(ValueError):
        parse_bootstrap(" , ")


async def test_pool_oneway_delivery_in_order():
    """Goal: send_oneway_nowait delivers every queued message, in order,
    over the pool's connection, identified as the pool's node."""
    got: list[int] = []
    done = trio.Event()

    async def handler(msg, ctx):
        assert ctx.oneway and ctx.node_id == 2
        got.append(msg.term)
        if len(got) == 100:
            done.set()

    with trio.fail_after(10):
        async with running_server(handler) as port:
            async with open_pool(cluster_id=CLUSTER, kind="peer", node_id=2, limits=LIMITS,
                                 rng=random.Random(1)) as pool:
                for term in range(100):
                    assert pool.send_oneway_nowait(("127.0.0.1", port), FakeVote(term=term))
                await done.wait()
                assert pool.stats()[f"127.0.0.1:{port}"]["dropped"] == 0
    assert got == list(range(100))


async def test_pool_queue_is_bounded_and_drops_oldest():
    """Goal: with no server, the per-destination queue never exceeds
    pool_queue_max; the oldest messages are dropped and counted."""
    limits = LIMITS.__class__(**{**LIMITS.__dict__, "pool_queue_max": 3})
    addr = f"127.0.0.1:{free_port()}"
    with trio.fail_after(10):
        async with open_pool(cluster_id=CLUSTER, kind="peer", node_id=2, limits=limits,
                             rng=random.Random(1)) as pool:
            results = [pool.send_oneway_nowait(addr, FakeVote(term=t)) for t in range(5)]
            assert results == [True, True, True, False, False]
            stats = pool.stats()[addr]
            assert (stats["queued"], stats["dropped"]) == (3, 2)


async def test_pool_reconnects_after_server_restart():
    """Goal: after the server stops and restarts on the same port, the pool
    reconnects by itself: calls work again and one-way messages queued while
    it was down are delivered."""
    got: list[int] = []
    delivered = trio.Event()

    async def handler(msg, ctx):
        if isinstance(msg, FakeVote):
            got.append(msg.term)
            delivered.set()
            return None
        return Echo(msg.text)

    with trio.fail_after(20):
        async with open_pool(cluster_id=CLUSTER, kind="peer", node_id=2, limits=LIMITS,
                             rng=random.Random(3)) as pool:
            async with running_server(handler) as port:
                assert (await pool.call(("127.0.0.1", port), Echo("one"), 5)).text == "one"
            # Server gone: calls fail fast as NotSent (connect refused) or lost.
            with pytest.raises(RafkaError) as err:
                await pool.call(("127.0.0.1", port), Echo("down"), 5)
            assert err.value.code == ErrorCode.NETWORK_EXCEPTION
            pool.send_oneway_nowait(("127.0.0.1", port), FakeVote(term=9))
            async with running_server(handler, port=port):
                while True:  # wait on the condition, bounded by fail_after
                    try:
                        reply = await pool.call(("127.0.0.1", port), Echo("two"), 5)
                        break
                    except NotSentError:
                        await trio.sleep(0.02)  # wait-ok: a reconnect retry bounded by the loop
                assert reply.text == "two"
                await delivered.wait()
    assert got == [9]


async def test_cluster_client_fails_over_and_learns_cluster_id():
    """Goal: with a dead address first in the bootstrap list, the client
    reaches the live node, learns its cluster id and node id, and raises
    NotSentError only when no node is reachable."""
    dead = free_port()
    with trio.fail_after(10):
        async with running_server(lambda m, c: _echo(m), node_id=5) as port:
            async with open_cluster_client(f"127.0.0.1:{dead},127.0.0.1:{port}", limits=LIMITS,
                                           rng=random.Random(5)) as client:
                assert client.cluster_id is None
                assert (await client.call(Echo("hi"), 5)).text == "hi"
                assert (client.cluster_id, client.last_node_id) == (CLUSTER, 5)
        async with open_cluster_client(f"127.0.0.1:{dead}", limits=LIMITS, rng=random.Random(5)) as client:
            with pytest.raises(NotSentError):
                await client.call(Echo("nobody"), 5)


async def test_cluster_client_with_wrong_cluster_id_is_refused():
    """Goal: a client that names a cluster id is refused by another cluster
    with INCONSISTENT_CLUSTER_ID (not silently connected)."""
    with trio.fail_after(10):
        async with running_server(lambda m, c: _echo(m)) as port:
            async with open_cluster_client(f"127.0.0.1:{port}", cluster_id="other", limits=LIMITS,
                                           rng=random.Random(5)) as client:
                with pytest.raises(RafkaError) as err:
                    await client.call(Echo("x"), 5)
                assert err.value.code == ErrorCode.INCONSISTENT_CLUSTER_ID


async def test_cluster_client_skips_a_refusing_listener():
    """Goal: a node that refuses the handshake (here: a peer-only listener)
    does not stop the client from reaching the next bootstrap address; with
    only refusing addresses the refusal itself is raised, code intact."""
    with trio.fail_after(10):
        async with running_server(lambda m, c: _echo(m), kinds=frozenset({"peer"})) as refusing:
            async with running_server(lambda m, c: _echo(m), node_id=4) as port:
                async with open_cluster_client(f"127.0.0.1:{refusing},127.0.0.1:{port}", limits=LIMITS,
                                               rng=random.Random(5)) as client:
                    assert (await client.call(Echo("hi"), 5)).text == "hi"
                    assert client.last_node_id == 4
            async with open_cluster_client(f"127.0.0.1:{refusing}", limits=LIMITS,
                                           rng=random.Random(5)) as client:
                with pytest.raises(HandshakeRefusedError) as err:
                    await client.call(Echo("x"), 5)
                assert err.value.code == ErrorCode.INVALID_REQUEST


async def _echo(msg):
    return Echo(msg.text)


async def test_errors_in_the_body_propagate_unwrapped():
    """Goal: a RafkaError raised inside `async with open_cluster_client(...)`
    (or a connection) reaches the caller as itself, not an ExceptionGroup,
    so `except RafkaError` works for the CLI."""
    with trio.fail_after(10):
        async with running_server(lambda m, c: _refuse(m)) as port:
            with pytest.raises(RafkaError) as err:
                async with open_cluster_client(f"127.0.0.1:{port}", limits=LIMITS, rng=random.Random(5)) as client:
                    await client.call(Echo("x"), 5)
            assert err.value.code == ErrorCode.TOPIC_ALREADY_EXISTS


async def _refuse(msg):
    raise RafkaError(ErrorCode.TOPIC_ALREADY_EXISTS, "exists")
