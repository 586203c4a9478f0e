"""Each partition's log start offset, high watermark and log end offset, as
`rafka topics describe` shows them, asked over the Kafka protocol the way a
Kafka tool would.

- log start and high watermark: confluent-kafka's AdminClient.list_offsets
  (ListOffsets, read_uncommitted: OffsetSpec.earliest answers the log start,
  OffsetSpec.latest the high watermark);
- log end: OffsetForLeaderEpoch v4 (replica_id -1, as a consumer) asked of
  each partition's leader for its current leader epoch; Kafka answers the
  leader's log end offset for that epoch (KIP-101/279). confluent-kafka
  does not expose this request, so the small kio client sends it.

A figure the cluster cannot give (no leader, a stale leader epoch, a leader
whose epoch cache does not know its current epoch) is None: describe still
shows the rest. At most one connection per leader, requests pipelined.
"""

from __future__ import annotations

from functools import partial

import trio
from kio.schema.metadata.v12.request import MetadataRequest
from kio.schema.offset_for_leader_epoch.v4.request import (OffsetForLeaderEpochRequest, OffsetForLeaderPartition,
                                                           OffsetForLeaderTopic)
from kio.schema.types import BrokerId, TopicName
from kio.static.primitive import i32

from rafka.broker.client.kio_client import WIRE_ERRORS, KioConnection, ask_first

CONSUMER_REPLICA_ID = -1
OFFSET_FIELDS = ("log_start_offset", "high_watermark", "log_end_offset")


def list_offsets(admin, topic: str, partitions: list[int], spec: str, timeout_s: float) -> dict[int, int | None]:
    """ListOffsets of one topic's partitions through a confluent-kafka
    AdminClient: `spec` "earliest" (log start) or "latest" (high
    watermark); a partition whose answer is an error maps to None."""
    from confluent_kafka import IsolationLevel, KafkaException, TopicPartition
    from confluent_kafka.admin import OffsetSpec

    if not partitions:
        return {}
    make = OffsetSpec.latest if spec == "latest" else OffsetSpec.earliest
    futures = admin.list_offsets({TopicPartition(topic, p): make() for p in partitions},
                                 isolation_level=IsolationLevel.READ_UNCOMMITTED, request_timeout=timeout_s)
    out: dict[int, int | None] = {}
    for tp, future in futures.items():
        try:
            out[tp.partition] = future.result(timeout=timeout_s).offset
        except (KafkaException, TimeoutError):
            out[tp.partition] = None
    return out


async def broker_addresses(bootstrap: list[str], client_id: str) -> dict[int, tuple[str, int]]:
    """node id -> (host, port) of every broker, from a Metadata request to
    the first bootstrap address that answers; {} if none does."""
    answer = await ask_first(bootstrap, [MetadataRequest(topics=(), allow_auto_topic_creation=False,
                                                         include_topic_authorized_operations=False)],
                             client_id=client_id, errors=[])
    if answer is None:
        return {}
    (md,) = answer[1]
    return {int(b.node_id): (b.host, int(b.port)) for b in md.brokers}


async def _ask_leader(address: tuple[str, int], topic: str, asks: list[tuple[int, int]], client_id: str,
                      out: dict[int, int | None]) -> None:
    """OffsetForLeaderEpoch for (partition, current leader epoch) pairs led
    by the broker at `address`; fills `out` with each log end (or None)."""
    request = OffsetForLeaderEpochRequest(
        replica_id=BrokerId(CONSUMER_REPLICA_ID),
        topics=(OffsetForLeaderTopic(topic=TopicName(topic), partitions=tuple(
            OffsetForLeaderPartition(partition=i32(p), current_leader_epoch=i32(epoch), leader_epoch=i32(epoch))
            for p, epoch in asks)),))
    try:
        conn = await KioConnection.connect(*address, client_id=client_id)
    except OSError:
        return
    try:
        response = await conn.request(request)
    except WIRE_ERRORS:
        return
    finally:
        await conn.aclose()
    asked = dict(asks)
    for t in response.topics:
        for p in t.partitions:
            # Only the answer for the epoch asked is the log end; an older
            # epoch's answer is where the next epoch starts.
            if (int(p.error_code) == 0 and p.partition in asked and p.end_offset >= 0
                    and p.leader_epoch == asked[p.partition]):
                out[int(p.partition)] = int(p.end_offset)


async def log_end_offsets(bootstrap: list[str], topic: str, partitions: list[dict], *, client_id: str,
                          timeout_s: float) -> dict[int, int | None]:
    """Log end offset of each partition (dicts with "partition", "leader",
    "leader_epoch", as KafkaAdmin.describe_topic gives them), asked of its
    leader; None where unknown."""
    out: dict[int, int | None] = {p["partition"]: None for p in partitions}
    by_leader: dict[int, list[tuple[int, int]]] = {}
    for p in partitions:
        if p["leader"] is not None:
            by_leader.setdefault(p["leader"], []).append((p["partition"], p["leader_epoch"]))
    if not by_leader:
        return out
    with trio.move_on_after(timeout_s):
        brokers = await broker_addresses(bootstrap, client_id)
        async with trio.open_nursery() as nursery:
            for leader, asks in sorted(by_leader.items()):
                if leader in brokers:
                    nursery.start_soon(_ask_leader, brokers[leader], topic, asks, client_id, out)
    return out


def add_partition_offsets(admin, bootstrap: list[str], described: dict, *, client_id: str,
                          timeout_s: float) -> dict:
    """`described` (KafkaAdmin.describe_topic's dict) with log_start_offset,
    high_watermark and log_end_offset added to every partition."""
    topic = described["name"]
    parts = described["partitions"]
    numbers = [p["partition"] for p in parts if p["leader"] is not None]  # none to ask for the rest
    starts = list_offsets(admin, topic, numbers, "earliest", timeout_s)
    hws = list_offsets(admin, topic, numbers, "latest", timeout_s)
    ends = trio.run(partial(log_end_offsets, bootstrap, topic, parts, client_id=client_id, timeout_s=timeout_s))
    for p in parts:
        n = p["partition"]
        p["log_start_offset"], p["high_watermark"], p["log_end_offset"] = starts.get(n), hws.get(n), ends.get(n)
    return described
