"""Reading a partition for a fetch, ListOffsets and OffsetForLeaderEpoch
(header-only; whole batches, never split)."""

from __future__ import annotations

from rafka.broker.replica.partition import Partition
from rafka.broker.replica.produce_validation import iter_headers
from rafka.broker.replica.types import FetchPartition, FetchResult
from rafka.log.errors import OffsetOutOfRangeError
from rafka.netproto.errors import ErrorCode, RafkaError

EARLIEST = -2
LATEST = -1
MAX_TIMESTAMP = -3


def cut_batches(data: bytes, upper: int, budget: int, min_one: bool) -> bytes:
    """Whole batches of `data` below offset `upper`, at most `budget` bytes
    unless `min_one` (then at least the first batch)."""
    end = 0
    for h in iter_headers(data):
        if h.base_offset >= upper:
            break
        if end + h.size > budget and not (min_one and end == 0):
            break
        end += h.size
    return data[:end] if end != len(data) else data


def read_partition(p: Partition, fp: FetchPartition, *, follower: bool, budget: int, min_one: bool) -> FetchResult:
    """One partition of a fetch. Consumers see only offsets below the HW;
    followers read up to the log end. Raises RafkaError for errors."""
    p.check_leader(fp.current_leader_epoch)
    log = p.log
    hw = p.high_watermark
    upper = log.log_end_offset if follower else hw
    res = FetchResult(fp.topic, fp.partition, high_watermark=hw, log_start_offset=log.log_start_offset,
                      log_end_offset=log.log_end_offset, leader_epoch=p.role.leader_epoch)
    if fp.fetch_offset < log.log_start_offset or fp.fetch_offset > log.log_end_offset:
        raise RafkaError(ErrorCode.OFFSET_OUT_OF_RANGE,
                         f"offset {fp.fetch_offset} outside [{log.log_start_offset}, {log.log_end_offset}]")
    if fp.fetch_offset >= upper:
        return res
    max_bytes = min(fp.partition_max_bytes, budget) if not min_one else fp.partition_max_bytes
    try:
        data = log.read(fp.fetch_offset, max(max_bytes, 1))
    except OffsetOutOfRangeError as exc:  # retention moved the start meanwhile
        raise RafkaError(ErrorCode.OFFSET_OUT_OF_RANGE, str(exc)) from None
    res.records = cut_batches(data, upper, min(fp.partition_max_bytes, budget), min_one)
    return res


def list_offset(p: Partition, timestamp: int, current_leader_epoch: int = -1,
                scan_bytes_max: int = 64 * 1024 * 1024) -> tuple[int, int]:
    """(offset, timestamp) for ListOffsets: earliest, latest (the HW), max
    timestamp, or the first batch with max_timestamp >= `timestamp` below
    the HW; (-1, -1) when none (Kafka's answer)."""
    p.check_leader(current_leader_epoch)
    log = p.log
    hw = p.high_watermark
    if timestamp == EARLIEST:
        return log.log_start_offset, -1
    if timestamp == LATEST:
        return hw, -1
    if timestamp == MAX_TIMESTAMP:
        best = (-1, -1)
        offset, budget = log.log_start_offset, scan_bytes_max
        while offset < hw and budget > 0:
            chunk = log.read(offset, min(budget, 4 * 1024 * 1024))
            last = None
            for h in iter_headers(chunk):
                if h.base_offset >= hw:
                    break
                if h.max_timestamp > best[1]:
                    best = (h.last_offset, h.max_timestamp)
                last = h
            if last is None:
                break
            offset = last.next_offset
            budget -= len(chunk)
        return best
    if timestamp < 0:
        raise RafkaError(ErrorCode.INVALID_REQUEST, f"timestamp {timestamp}")
    off = log.offset_for_timestamp(timestamp)
    if off is None or off >= hw:
        return -1, -1
    h = next(iter_headers(log.read(off, 1)), None)
    return off, (h.max_timestamp if h is not None else -1)


def offset_for_leader_epoch(p: Partition, leader_epoch: int, current_leader_epoch: int = -1) -> tuple[int, int]:
    """(largest epoch <= leader_epoch, its end offset) from the leader's
    epoch cache (KIP-101/279); (-1, -1) when unknown."""
    p.check_leader(current_leader_epoch)
    return p.log.leader_epochs.end_offset_for(leader_epoch)
