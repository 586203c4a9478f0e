"""Goal: incremental fetch sessions (KIP-227) on a real node. A raw client
sees the protocol (epoch 0 opens a session and lists every partition; an
incremental fetch lists only partitions with news; forgotten partitions
leave the session; a wrong epoch is refused). kafka-python (which uses
sessions when offered) reads every record back over many polls through one
session per connection; librdkafka (always sessionless) still reads
everything; aiokafka (sessionless too: session_id 0, epoch -1 on every
Fetch v7+) gets full answers, no session, every record once in order."""

from __future__ import annotations

import datetime
import json
import time

import pytest
from kio.schema.fetch.v12.request import FetchPartition, FetchRequest, FetchTopic, ForgottenTopic

from rafka.broker.testing.local_cluster import LocalCluster
from tests.integration import data_clients as dc
from tests.integration.raw_kafka import RawKafka
from tests.integration.test_produce_auto_create import raw_produce

pytestmark = pytest.mark.integration

INVALID_FETCH_SESSION_EPOCH = 71
RECORDS = 3000
PARTITIONS = 3


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    c = LocalCluster(tmp_path_factory.mktemp("fetch-sessions"), 1)
    try:
        c.start()
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": c.bootstrap_servers, "log_level": 3})
        admin.create_topics([NewTopic("s", 2, 1), NewTopic("many", PARTITIONS, 1)])["many"].result(30)
        yield c
    finally:
        c.close()


def fetch(raw, session_id: int, epoch: int, parts: dict[int, int], forgotten=()):
    topics = (FetchTopic(topic="s", partitions=tuple(
        FetchPartition(partition=p, fetch_offset=o, partition_max_bytes=1 << 20) for p, o in parts.items())),
    ) if parts else ()
    forgotten_data = (ForgottenTopic(topic="s", partitions=tuple(forgotten)),) if forgotten else ()
    return raw.call(FetchRequest(max_wait=datetime.timedelta(0), min_bytes=0, session_id=session_id,
                                 session_epoch=epoch, topics=topics, forgotten_topics_data=forgotten_data))


def listed(resp) -> dict[int, tuple[int, bool]]:
    return {p.partition_index: (p.high_watermark, bool(p.records)) for t in resp.responses for p in t.partitions}


def wait_for(probe, what: str, timeout_s: float = 30.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = probe()
        if got:
            return got
        time.sleep(0.05)  # wait-ok: bounded by the deadline
    raise AssertionError(f"timed out waiting for {what}")


def test_incremental_session_protocol(node):
    address = node.kafka_address(1)
    wait_for(lambda: raw_produce(address, "s", b"a")[0] == 0, "topic s writable")
    with RawKafka(address) as raw:
        full = fetch(raw, 0, 0, {0: 0, 1: 0})
        sid = full.session_id
        assert int(full.error_code) == 0 and sid != 0
        assert set(listed(full)) == {0, 1}
        hw = {p: v[0] for p, v in listed(full).items()}
        # nothing changed: an incremental fetch lists nothing
        assert listed(fetch(raw, sid, 1, {p: hw[p] for p in hw})) == {}
        assert listed(fetch(raw, sid, 2, {})) == {}
        # an append to partition 1 (offset hw[1]): only it is listed, with its record and new HW
        code, base = raw_produce_to(address, 1)
        assert code == 0 and base == hw[1]
        got = listed(fetch(raw, sid, 3, {}))
        assert got == {1: (hw[1] + 1, True)}
        # the client moves its position; the same data is not listed again
        assert listed(fetch(raw, sid, 4, {1: hw[1] + 1})) == {}
        # forget partition 1: its news no longer shows up
        assert listed(fetch(raw, sid, 5, {}, forgotten=[1])) == {}
        raw_produce_to(address, 1)
        assert listed(fetch(raw, sid, 6, {})) == {}
        # a replayed or skipped epoch is refused; the client then starts over
        assert int(fetch(raw, sid, 6, {}).error_code) == INVALID_FETCH_SESSION_EPOCH
        assert int(fetch(raw, sid, 9, {}).error_code) == INVALID_FETCH_SESSION_EPOCH


def raw_produce_to(address: str, partition: int) -> tuple[int, int]:
    from kio.schema.produce.v9.request import PartitionProduceData, ProduceRequest, TopicProduceData

    from rafka.log.records import Record, build_batch

    req = ProduceRequest(transactional_id=None, acks=-1, timeout=datetime.timedelta(seconds=10), topic_data=(
        TopicProduceData(name="s", partition_data=(PartitionProduceData(
            index=partition, records=build_batch([Record(b"k", b"v")], timestamp_ms=1000)),)),))
    with RawKafka(address) as raw:
        p = raw.call(req).responses[0].partition_responses[0]
    return int(p.error_code), int(p.base_offset)


def session_events(c: LocalCluster, event: str) -> list[dict]:
    path = c.node_dir(1) / "logs" / "node.jsonl"
    out = []
    for line in path.read_text(errors="replace").splitlines():
        if event in line:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return [e for e in out if e.get("event") == event]


def test_clients_read_everything_over_many_polls(node):
    """kafka-python polls through an incremental session; confluent-kafka fetches sessionless."""
    acked = dc.produce_confluent(node.bootstrap_servers, "many", RECORDS)
    before = len(session_events(node, "kafka.fetch_session_created"))
    from kafka import KafkaConsumer, TopicPartition

    # small fetches: many polls, each an incremental fetch of the same session
    c = KafkaConsumer(bootstrap_servers=node.bootstrap_servers, enable_auto_commit=False,
                      max_partition_fetch_bytes=4096, fetch_max_bytes=8192)
    got, polls = [], 0
    try:
        tps = [TopicPartition("many", p) for p in range(PARTITIONS)]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        deadline = time.monotonic() + 60
        while len(got) < RECORDS and time.monotonic() < deadline:
            polls += 1
            for _tp, msgs in c.poll(timeout_ms=500, max_records=50).items():
                got.extend((m.partition, m.offset, m.key, m.value) for m in msgs)
    finally:
        c.close()
    dc.check_read_back(acked, got, RECORDS)
    created = session_events(node, "kafka.fetch_session_created")[before:]
    assert polls >= 20, polls
    assert 1 <= len(created) <= 2, created  # one session (a retry at most), not one per poll
    got = dc.read_confluent(node.bootstrap_servers, "many", PARTITIONS, RECORDS)
    dc.check_read_back(acked, got, RECORDS)


def record_aiokafka_fetches(monkeypatch) -> list[tuple]:
    """(request struct as encoded, response struct) of every Fetch aiokafka
    sends: the request from FetchRequest.prepare, the answer from the client."""
    from aiokafka.client import AIOKafkaClient
    from aiokafka.protocol.fetch import FetchRequest as AioFetchRequest

    fetches: list[tuple] = []
    prepare, send = AioFetchRequest.prepare, AIOKafkaClient.send

    def prepare_and_keep(self, versions):
        self.rafka_sent = prepare(self, versions)
        return self.rafka_sent

    async def send_and_keep(self, node_id, request, **kwargs):
        response = await send(self, node_id, request, **kwargs)
        if isinstance(request, AioFetchRequest):
            fetches.append((request.rafka_sent, response))
        return response

    monkeypatch.setattr(AioFetchRequest, "prepare", prepare_and_keep)
    monkeypatch.setattr(AIOKafkaClient, "send", send_and_keep)
    return fetches


def test_aiokafka_reads_sessionless_over_many_polls(node, monkeypatch):
    """aiokafka (0.14) never opens a fetch session: each Fetch (v7+) carries
    session_id 0 / epoch -1 (FINAL_EPOCH) and no forgotten topics; the broker
    answers session_id 0 with every asked partition listed (a full answer,
    not an incremental one), opens no session, and every record is read
    exactly once, in order, over many small polls."""
    import asyncio

    from aiokafka import AIOKafkaConsumer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": node.bootstrap_servers, "log_level": 3})
    admin.create_topics([NewTopic("aio", PARTITIONS, 1)])["aio"].result(30)
    # batches of 25 records (~600 bytes): a 1 KiB partition fetch holds one
    # or two, so reading back takes dozens of Fetches
    acked = dc.produce_confluent(node.bootstrap_servers, "aio", RECORDS, **{"batch.num.messages": 25})
    session_event_names = ("kafka.fetch_session_created", "kafka.fetch_session_closed",
                           "kafka.fetch_session_evicted")
    before = {e: len(session_events(node, e)) for e in session_event_names}
    fetches = record_aiokafka_fetches(monkeypatch)

    async def read() -> list:
        # small fetches: many Fetch requests, each asking only for what it may hold
        c = AIOKafkaConsumer(bootstrap_servers=node.bootstrap_servers, enable_auto_commit=False,
                             max_partition_fetch_bytes=1024, fetch_max_bytes=2048)
        await c.start()
        out = []
        try:
            tps = [TopicPartition("aio", p) for p in range(PARTITIONS)]
            c.assign(tps)
            await c.seek_to_beginning(*tps)
            deadline = time.monotonic() + 60
            while len(out) < RECORDS and time.monotonic() < deadline:
                for _tp, msgs in (await c.getmany(timeout_ms=500, max_records=50)).items():
                    out.extend((m.partition, m.offset, m.key, m.value) for m in msgs)
        finally:
            await c.stop()
        return out

    got = asyncio.run(read())
    dc.check_read_back(acked, got, RECORDS)
    assert len(fetches) >= 20, len(fetches)
    print(f"aiokafka: {len(got)} records in {len(fetches)} sessionless fetches")
    for sent, answer in fetches:
        assert sent.API_VERSION >= 7, sent.API_VERSION  # the session fields are on the wire
        assert (sent.session_id, sent.session_epoch) == (0, -1), sent
        assert list(sent.forgotten_topics_data) == [], sent
        assert (answer.error_code, answer.session_id) == (0, 0), answer
        asked = {(t, part[0]) for t, parts in sent.topics for part in parts}
        listed_ = {(t, part[0]) for t, parts in answer.topics for part in parts}
        assert listed_ == asked, (sent, answer)  # full: every asked partition, with or without news
        assert all(part[1] == 0 for _t, parts in answer.topics for part in parts), answer
    after = {e: len(session_events(node, e)) for e in session_event_names}
    assert after == before, (before, after)  # no session opened, closed or evicted
