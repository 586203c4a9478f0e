"""Idempotent producer state: duplicates, gaps, epochs, rebuild from the log."""

import pytest

from rafka.broker.replica.producer_state import INT32_MAX, ProducerStateTable
from rafka.log.batch import parse_header
from rafka.log.records import Record, build_batch
from rafka.netproto.errors import ErrorCode, RafkaError


def hdr(seq, n=2, pid=7, epoch=0, base=0):
    return parse_header(build_batch([Record(None, b"x")] * n, timestamp_ms=1, producer_id=pid,
                                    producer_epoch=epoch, base_sequence=seq, base_offset=base))


def append(t, h, offset):
    assert t.check(h) is None
    t.record(h, offset)


def code(t, h):
    with pytest.raises(RafkaError) as e:
        t.check(h)
    return e.value.code


def test_in_order_then_duplicate_returns_original_offsets():
    """Goal: a retried batch gets its original offsets and is not appended again."""
    t = ProducerStateTable()
    append(t, hdr(0), 100)
    append(t, hdr(2), 102)
    dup = t.check(hdr(0))
    assert (dup.first_offset, dup.last_offset) == (100, 101)
    assert t.check(hdr(2)).first_offset == 102


def test_gap_and_unknown_producer_nonzero_seq():
    """Goal: a sequence gap or a new producer not starting at 0 is OUT_OF_ORDER_SEQUENCE_NUMBER."""
    t = ProducerStateTable()
    assert code(t, hdr(5)) == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
    append(t, hdr(0), 0)
    assert code(t, hdr(3)) == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER


def test_epochs():
    """Goal: an older epoch is fenced; a newer epoch must restart at 0."""
    t = ProducerStateTable()
    append(t, hdr(0, epoch=2), 0)
    assert code(t, hdr(2, epoch=1)) == ErrorCode.INVALID_PRODUCER_EPOCH
    assert code(t, hdr(2, epoch=3)) == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
    append(t, hdr(0, epoch=3), 2)
    assert t.entry(7).epoch == 3


def test_only_last_five_batches_are_duplicates():
    """Goal: the sixth-latest batch is no longer recognised (Kafka keeps five)."""
    t = ProducerStateTable()
    for i in range(6):
        append(t, hdr(2 * i), 2 * i)
    assert t.check(hdr(2)) is not None
    assert code(t, hdr(0)) == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER


def test_sequence_wraps():
    """Goal: after int32 max the next sequence is 0."""
    t = ProducerStateTable()
    append(t, hdr(0), 0)
    t.entry(7).batches.clear()
    from rafka.broker.replica.producer_state import BatchRange
    t.entry(7).batches.append(BatchRange(INT32_MAX - 1, INT32_MAX, 5, 6))
    assert t.check(hdr(0)) is None


def test_rebuild_from_log_headers_and_truncate():
    """Goal: the table rebuilt from the log's batch headers recognises the same duplicates."""
    hs = [hdr(0, base=0), hdr(0, pid=9, base=2), hdr(2, base=4)]
    t = ProducerStateTable()
    t.rebuild(hs)
    assert t.check(hdr(2)).first_offset == 4
    assert t.check(hdr(0, pid=9)).first_offset == 2
    t.truncate_to(4)
    assert t.check(hdr(2)) is None  # gone with the truncated tail: appendable again


def test_producers_bounded():
    """Goal: producers_max bounds the table."""
    t = ProducerStateTable(producers_max=2)
    for pid in (1, 2, 3):
        append(t, hdr(0, pid=pid), pid)
    assert len(t) == 2 and t.entry(1) is None
