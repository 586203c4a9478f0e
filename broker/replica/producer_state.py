"""Idempotent producer state of one partition (pure): Kafka's
ProducerStateManager without transactions.

Per producer id: its epoch and the sequence/offset ranges of its last
`BATCHES_KEPT` (5, Kafka's max.in.flight for idempotence) batches. The
leader checks each idempotent batch before appending (`check`) and records
it after (`record`); a follower and a new leader rebuild the table from the
batch headers in the log (`rebuild`), so a duplicate retried to a new leader
still gets its original offsets.

Rules (Kafka's, for a batch with producer_id >= 0):
- epoch below the known epoch: INVALID_PRODUCER_EPOCH;
- epoch above the known epoch (or an unknown producer): the first sequence
  must be 0, else OUT_OF_ORDER_SEQUENCE_NUMBER;
- same epoch: a batch equal to a kept one (same first and last sequence)
  is a duplicate: its original offsets are returned and nothing is appended;
  otherwise the first sequence must follow the last kept one (int32 wraps
  to 0), else OUT_OF_ORDER_SEQUENCE_NUMBER.

Bounded: at most `producers_max` producer ids; the least recently used is
forgotten first (Kafka expires idle producer ids by time instead).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import NamedTuple

from rafka.log.batch import BatchHeader
from rafka.netproto.errors import ErrorCode, RafkaError

BATCHES_KEPT = 5
INT32_MAX = 2**31 - 1


class BatchRange(NamedTuple):
    first_seq: int
    last_seq: int
    first_offset: int
    last_offset: int


@dataclass
class ProducerEntry:
    epoch: int
    batches: deque = field(default_factory=lambda: deque(maxlen=BATCHES_KEPT))

    @property
    def last_seq(self) -> int | None:
        return self.batches[-1].last_seq if self.batches else None


def last_sequence(h: BatchHeader) -> int:
    """Sequences wrap at int32 max to 0 (Kafka's DefaultRecordBatch rule)."""
    last = h.base_sequence + h.last_offset_delta
    return last - INT32_MAX - 1 if last > INT32_MAX else last


def _next_seq(seq: int) -> int:
    return 0 if seq == INT32_MAX else seq + 1


class ProducerStateTable:
    def __init__(self, producers_max: int = 10_000) -> None:
        assert producers_max >= 1
        self.producers_max = producers_max
        self._entries: OrderedDict[int, ProducerEntry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, producer_id: int) -> ProducerEntry | None:
        return self._entries.get(producer_id)

    def check(self, h: BatchHeader) -> BatchRange | None:
        """Before an append: None to append, a BatchRange (the original
        offsets) for a duplicate, or RafkaError. Never changes the table."""
        if h.producer_id < 0:
            return None
        e = self._entries.get(h.producer_id)
        first, last = h.base_sequence, last_sequence(h)
        if e is not None and h.producer_epoch < e.epoch:
            raise RafkaError(ErrorCode.INVALID_PRODUCER_EPOCH,
                             f"producer {h.producer_id} epoch {h.producer_epoch} is older than {e.epoch}")
        if e is None or h.producer_epoch > e.epoch or e.last_seq is None:
            if first != 0:
                raise RafkaError(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
                                 f"producer {h.producer_id} epoch {h.producer_epoch}: first sequence {first}, "
                                 "expected 0")
            return None
        for b in e.batches:
            if b.first_seq == first and b.last_seq == last:
                return b
        expected = _next_seq(e.last_seq)
        if first != expected:
            raise RafkaError(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
                             f"producer {h.producer_id}: sequence {first}, expected {expected}")
        return None

    def record(self, h: BatchHeader, first_offset: int) -> None:
        """After the batch was appended at `first_offset` (also used by
        `rebuild`, which trusts the log and checks nothing)."""
        if h.producer_id < 0:
            return
        e = self._entries.get(h.producer_id)
        if e is None or h.producer_epoch > e.epoch:
            e = ProducerEntry(h.producer_epoch)
            self._entries[h.producer_id] = e
        elif h.producer_epoch < e.epoch:
            return  # an older epoch's batch in the log: already fenced
        e.batches.append(BatchRange(h.base_sequence, last_sequence(h), first_offset,
                                    first_offset + h.last_offset_delta))
        self._entries.move_to_end(h.producer_id)
        while len(self._entries) > self.producers_max:
            self._entries.popitem(last=False)

    def rebuild(self, headers) -> None:
        """Replace the table with what the log's batch headers say (each
        header's base_offset is its offset in the log)."""
        self._entries.clear()
        for h in headers:
            if h.producer_id >= 0 and not h.is_control:
                self.record(h, h.base_offset)

    def truncate_to(self, offset: int) -> None:
        """Forget batches at or after `offset` (the log was truncated)."""
        for pid in list(self._entries):
            e = self._entries[pid]
            kept = [b for b in e.batches if b.last_offset < offset]
            if len(kept) != len(e.batches):
                e.batches = deque(kept, maxlen=BATCHES_KEPT)
                if not kept:
                    del self._entries[pid]
