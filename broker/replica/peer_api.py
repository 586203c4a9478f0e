"""The leader's side of replication on the peer listener: serves
`replica.FetchRequest` and `replica.OffsetForLeaderEpochRequest` from the
ReplicaManager (the same fetch path consumers use)."""

from __future__ import annotations

from rafka.broker.replica import messages as m
from rafka.broker.replica.types import FetchPartition
from rafka.netproto.errors import ErrorCode, RafkaError


class ReplicaPeerApi:
    def __init__(self, manager, partitions_max: int = 10_000) -> None:
        self.manager = manager
        self.partitions_max = partitions_max

    def peer_handlers(self) -> dict:
        return {m.FetchRequest.TYPE: self.fetch, m.OffsetForLeaderEpochRequest.TYPE: self.offset_for_leader_epoch}

    def _check(self, replica_id: int, count: int, ctx) -> None:
        if replica_id < 0:
            raise RafkaError(ErrorCode.INVALID_REQUEST, "replica_id must be a broker id")
        peer = getattr(ctx, "node_id", None)
        if peer is not None and peer != replica_id:
            raise RafkaError(ErrorCode.INVALID_REQUEST, f"node {peer} fetching as replica {replica_id}")
        if count > self.partitions_max:
            raise RafkaError(ErrorCode.INVALID_REQUEST, f"{count} partitions, at most {self.partitions_max}")

    async def fetch(self, req: m.FetchRequest, ctx) -> m.FetchResponse:
        self._check(req.replica_id, len(req.partitions), ctx)
        parts = [FetchPartition(p.topic, p.partition, p.fetch_offset, p.partition_max_bytes,
                                p.current_leader_epoch, p.durable_log_end_offset) for p in req.partitions]
        results = await self.manager.fetch(parts, replica_id=req.replica_id, max_wait_ms=req.max_wait_ms,
                                           min_bytes=req.min_bytes, max_bytes=req.max_bytes)
        return m.FetchResponse([
            m.ReplicaFetchResult(r.topic, r.partition, r.error_code, r.high_watermark, r.log_start_offset,
                                 r.log_end_offset, bytes(r.records), r.error_message)
            for r in results])

    async def offset_for_leader_epoch(self, req: m.OffsetForLeaderEpochRequest, ctx) -> m.OffsetForLeaderEpochResponse:
        self._check(req.replica_id, len(req.partitions), ctx)
        out = []
        for q in req.partitions:
            try:
                epoch, end = self.manager.offset_for_leader_epoch(q.topic, q.partition, q.leader_epoch,
                                                                  q.current_leader_epoch)
                out.append(m.EpochAnswer(q.topic, q.partition, 0, epoch, end))
            except RafkaError as exc:
                out.append(m.EpochAnswer(q.topic, q.partition, int(exc.code)))
        return m.OffsetForLeaderEpochResponse(out)
