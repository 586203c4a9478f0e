"""Which __consumer_offsets partition owns a group: Kafka's
Utils.abs(groupId.hashCode) % numPartitions, with Java's String.hashCode
over UTF-16 code units; Utils.abs maps Integer.MIN_VALUE to 0."""

from __future__ import annotations

OFFSETS_TOPIC = "__consumer_offsets"


def java_string_hashcode(s: str) -> int:
    h = 0
    data = s.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for(group_id: str, num_partitions: int) -> int:
    assert num_partitions > 0
    h = java_string_hashcode(group_id)
    return (0 if h == -(1 << 31) else abs(h)) % num_partitions
