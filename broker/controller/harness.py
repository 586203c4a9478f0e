"""An in-process controller with a committed log, for tests and benchmarks.

`LocalController` plays the node's driver without Raft: each decision's
records are encoded into one entry, "committed" at the next offset, decoded
and applied to the image, exactly as every node would apply the metadata
log. Time is the caller's `now_ms`; nothing here sleeps or does I/O.
"""

from __future__ import annotations

import random

from rafka.broker.controller import requests as rq
from rafka.broker.controller.config import ControllerConfig
from rafka.broker.controller.controller import Controller
from rafka.broker.metadata.image import MetadataImage
from rafka.broker.metadata.records import Record, decode_records, encode_records
from rafka.netproto.schema import Message


class LocalController:
    def __init__(self, config: ControllerConfig | None = None, seed: int = 0, term: int = 1) -> None:
        self.image = MetadataImage()
        self.controller = Controller(1, config, random.Random(seed))
        self.controller.activate(self.image, 0, term=term)
        self.now_ms = 0
        self.entries: list[bytes] = []  # the committed "log", one batch per entry

    def commit(self, records: list[Record]) -> int:
        """Append one entry holding `records` and apply it; returns its offset."""
        data = encode_records(records)
        self.entries.append(data)
        offset = len(self.entries)
        self.image.apply_batch(decode_records(data), offset)
        return offset

    def handle(self, req: Message) -> Message | None:
        d = self.controller.handle(self.image, req, self.now_ms)
        if d.records:
            self.commit(d.records)
        return d.response

    def tick(self) -> list[Record]:
        records = self.controller.tick(self.image, self.now_ms)
        if records:
            self.commit(records)
        return records

    def replay(self) -> MetadataImage:
        """A fresh image built from the committed entries (another node)."""
        image = MetadataImage()
        for i, data in enumerate(self.entries, start=1):
            image.apply_batch(decode_records(data), i)
        return image

    # ------------------------------------------------------------ shortcuts
    def register(self, node_id: int, rack: str | None = None, incarnation: str | None = None) -> int:
        resp = self.handle(rq.BrokerRegistrationRequest(
            node_id, incarnation or f"inc-{node_id}", "127.0.0.1", 9000 + node_id, rack))
        return resp.broker_epoch

    def heartbeat(self, node_id: int, metadata_offset: int | None = None) -> rq.BrokerHeartbeatResponse:
        b = self.image.brokers[node_id]
        offset = self.image.offset if metadata_offset is None else metadata_offset
        return self.handle(rq.BrokerHeartbeatRequest(node_id, b.broker_epoch, offset))

    def add_brokers(self, node_ids, racks=None) -> None:
        """Register and unfence brokers (racks: node_id -> rack)."""
        for n in node_ids:
            self.register(n, (racks or {}).get(n))
        for n in node_ids:
            self.heartbeat(n)

    def create_topic(self, name: str, partitions: int, rf: int, configs=None) -> rq.TopicResult:
        resp = self.handle(rq.CreateTopicsRequest([rq.CreatableTopic(name, partitions, rf, configs or {})]))
        return resp.results[0]
