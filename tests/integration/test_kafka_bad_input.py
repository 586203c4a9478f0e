"""Goal: bad input on the Kafka data path gets Kafka's error and changes
nothing, and the node keeps serving: corrupt CRC, wrong magic, truncated
batch, record count mismatch, oversized batch (CORRUPT_MESSAGE /
MESSAGE_TOO_LARGE), unknown topic or partition, a fetch out of range;
acks=0 gets no response at all; InitProducerId with a transactional id is
refused. Sent as raw kio frames to the partition leader of a real
three-node cluster."""

from __future__ import annotations

import datetime
import struct

import pytest
from kio.schema.fetch.v12.request import FetchPartition, FetchRequest, FetchTopic
from kio.schema.init_producer_id.v4.request import InitProducerIdRequest
from kio.schema.list_offsets.v7.request import ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic
from kio.schema.api_versions.v3.request import ApiVersionsRequest
from kio.schema.offset_for_leader_epoch.v4.request import (
    OffsetForLeaderEpochRequest,
    OffsetForLeaderPartition,
    OffsetForLeaderTopic,
)
from kio.schema.produce.v9.request import PartitionProduceData, ProduceRequest, TopicProduceData

from rafka.broker.testing.local_cluster import LocalCluster
from rafka.log.batch import write_crc
from rafka.log.records import Record, build_batch
from rafka.log.records import decode_batch
from tests.integration.raw_kafka import RawKafka

pytestmark = pytest.mark.integration

TOPIC = "bad"
MAX_MESSAGE_BYTES = 4096
CORRUPT_MESSAGE, UNKNOWN_TOPIC_OR_PARTITION, OFFSET_OUT_OF_RANGE, MESSAGE_TOO_LARGE = 2, 3, 1, 10
TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53
LEADER_NOT_AVAILABLE = 5
FETCH_SESSION_ID_NOT_FOUND = 70


@pytest.fixture(scope="module")
def leader(tmp_path_factory):
    """(cluster, the Kafka address of partition 0's leader)."""
    from confluent_kafka.admin import AdminClient, NewTopic

    c = LocalCluster(tmp_path_factory.mktemp("bad-input"), 3)
    try:
        c.start()
        admin = AdminClient({"bootstrap.servers": c.bootstrap_servers, "log_level": 3})
        admin.create_topics([NewTopic(TOPIC, 1, 3, config={"max.message.bytes": str(MAX_MESSAGE_BYTES)})]
                            )[TOPIC].result(30)
        import time

        deadline = time.monotonic() + 30
        address = None
        while time.monotonic() < deadline and address is None:
            md = admin.list_topics(TOPIC, timeout=5)
            p = md.topics[TOPIC].partitions.get(0)
            if p is not None and p.leader >= 0 and len(p.isrs) == 3:
                address = c.kafka_address(p.leader)
            else:
                time.sleep(0.1)  # wait-ok: bounded by the deadline
        assert address, "partition 0 of the test topic got no leader"
        # the leader's replica manager may follow the image a moment later:
        # one acks=all produce, retried until the leader serves it
        with RawKafka(address) as raw:
            result = produce(raw, good_batch(0))
            while result[0] == 6 and time.monotonic() < deadline:  # NOT_LEADER_OR_FOLLOWER yet
                time.sleep(0.1)  # wait-ok: bounded by the deadline
                result = produce(raw, good_batch(0))
            assert result == (0, 0)
        yield c, address
    finally:
        c.close()


def good_batch(i: int, size: int = 10) -> bytes:
    return build_batch([Record(b"k%d" % i, b"x" * size)], timestamp_ms=1_700_000_000_000 + i)


def produce_request(batch: bytes, topic: str = TOPIC, partition: int = 0, acks: int = -1) -> ProduceRequest:
    return ProduceRequest(transactional_id=None, acks=acks, timeout=datetime.timedelta(seconds=10),
                          topic_data=(TopicProduceData(name=topic, partition_data=(
                              PartitionProduceData(index=partition, records=batch),)),))


def produce(raw: RawKafka, batch: bytes, **kw) -> tuple[int, int]:
    """(error code, base offset) of a one-partition produce."""
    resp = raw.call(produce_request(batch, **kw))
    p = resp.responses[0].partition_responses[0]
    return int(p.error_code), p.base_offset


def latest(raw: RawKafka, topic: str = TOPIC) -> int:
    resp = raw.call(ListOffsetsRequest(replica_id=-1, isolation_level=0, topics=(
        ListOffsetsTopic(name=topic, partitions=(ListOffsetsPartition(partition_index=0, timestamp=-1),)),)))
    p = resp.topics[0].partitions[0]
    assert int(p.error_code) == 0
    return p.offset


def fetch(raw: RawKafka, offset: int, topic: str = TOPIC, **kw):
    resp = raw.call(FetchRequest(max_wait=datetime.timedelta(0), min_bytes=0, topics=(
        FetchTopic(topic=topic, partitions=(FetchPartition(partition=0, fetch_offset=offset,
                                                            partition_max_bytes=1 << 20),)),),
        forgotten_topics_data=(), **kw))
    return resp


def corrupt_crc(b: bytes) -> bytes:
    buf = bytearray(b)
    buf[-1] ^= 0xFF
    return bytes(buf)


def wrong_magic(b: bytes) -> bytes:
    buf = bytearray(b)
    buf[16] = 1
    return bytes(buf)


def truncated(b: bytes) -> bytes:
    return b[:-5]


def count_mismatch(b: bytes) -> bytes:
    buf = bytearray(b)
    struct.pack_into(">i", buf, 57, 3)  # record_count 3, last_offset_delta 0
    write_crc(buf, 0, len(buf))  # a valid CRC: the count check itself must refuse it
    return bytes(buf)


@pytest.mark.parametrize("mangle,code", [
    (corrupt_crc, CORRUPT_MESSAGE),
    (wrong_magic, CORRUPT_MESSAGE),
    (truncated, CORRUPT_MESSAGE),
    (count_mismatch, CORRUPT_MESSAGE),
    (lambda b: good_batch(1, size=2 * MAX_MESSAGE_BYTES), MESSAGE_TOO_LARGE),
    (lambda b: b"", CORRUPT_MESSAGE),
])
def test_bad_batch_refused_and_nothing_appended(leader, mangle, code):
    _c, address = leader
    with RawKafka(address) as raw:
        before = latest(raw)
        assert produce(raw, mangle(good_batch(7)))[0] == code
        assert latest(raw) == before
        # the same connection keeps serving, and the next good batch lands right after
        err, base = produce(raw, good_batch(8))
        assert (err, base) == (0, before)


def test_unknown_topic_or_partition(leader):
    _c, address = leader
    with RawKafka(address) as raw:
        # auto_create_topics is on by default: the Produce creates the topic and asks for a retry
        assert produce(raw, good_batch(1), topic="no-such-topic")[0] == LEADER_NOT_AVAILABLE
        assert produce(raw, good_batch(1), partition=5)[0] == UNKNOWN_TOPIC_OR_PARTITION
        resp = fetch(raw, 0, topic="never-produced")  # a Fetch creates nothing
        assert int(resp.responses[0].partitions[0].error_code) == UNKNOWN_TOPIC_OR_PARTITION
        assert produce(raw, good_batch(2))[0] == 0


def test_fetch_out_of_range_and_read_back(leader):
    _c, address = leader
    with RawKafka(address) as raw:
        end = latest(raw)
        resp = fetch(raw, end + 1000)
        p = resp.responses[0].partitions[0]
        assert int(p.error_code) == OFFSET_OUT_OF_RANGE and not p.records
        p = fetch(raw, 0).responses[0].partitions[0]
        assert int(p.error_code) == 0 and p.high_watermark == end and p.last_stable_offset == end
        header, records = decode_batch(bytes(p.records), 0)
        assert header.base_offset == 0 and records[0].key == b"k0"
        assert fetch(raw, end).responses[0].partitions[0].records in (b"", None)


def test_fetch_session_not_found(leader):
    _c, address = leader
    with RawKafka(address) as raw:
        resp = fetch(raw, 0, session_id=12345, session_epoch=1)
        assert int(resp.error_code) == FETCH_SESSION_ID_NOT_FOUND
        assert fetch(raw, 0).session_id == 0  # no sessions: full fetches answered with id 0


def test_acks_zero_gets_no_response(leader):
    """The next response on the connection answers the request after the acks=0 produce."""
    _c, address = leader
    with RawKafka(address) as raw:
        before = latest(raw)
        raw.send(produce_request(good_batch(3), acks=0))
        cid = raw.send(ApiVersionsRequest(client_software_name="raw", client_software_version="1"))
        got, _resp = raw.receive(18, 3)
        assert got == cid
        assert latest(raw) == before + 1  # and it was appended


def test_offset_for_leader_epoch_and_init_producer_id(leader):
    _c, address = leader
    with RawKafka(address) as raw:
        end = latest(raw)
        resp = raw.call(OffsetForLeaderEpochRequest(topics=(OffsetForLeaderTopic(topic=TOPIC, partitions=(
            OffsetForLeaderPartition(partition=0, leader_epoch=0),)),)))
        p = resp.topics[0].partitions[0]
        assert int(p.error_code) == 0 and p.leader_epoch == 0 and p.end_offset >= end
        a = raw.call(InitProducerIdRequest(transactional_id=None, transaction_timeout=datetime.timedelta(0)))
        b = raw.call(InitProducerIdRequest(transactional_id=None, transaction_timeout=datetime.timedelta(0)))
        assert int(a.error_code) == int(b.error_code) == 0 and a.producer_id != b.producer_id >= 0
        t = raw.call(InitProducerIdRequest(transactional_id="tx", transaction_timeout=datetime.timedelta(0)))
        assert int(t.error_code) == TRANSACTIONAL_ID_AUTHORIZATION_FAILED and t.producer_id == -1
