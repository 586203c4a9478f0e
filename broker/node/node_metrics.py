"""The node's metrics: instruments, the scrape-time source, the endpoint.

Why here: broker/metrics knows how to count and what to show, not how the
node is wired. `NodeMetrics(node)` reads the node at scrape time (its Raft
driver, metadata image and ReplicaManager, any of which may not exist yet),
is the ReplicaManager's observer (bytes in/out, fsync latency) and the
Kafka listener's `observe_request` hook (via the Kafka view).
"""

from __future__ import annotations

from rafka.broker.metrics.cluster import ClusterCollector, GroupOffset, HostedPartition
from rafka.broker.metrics.http import serve_metrics
from rafka.broker.metrics.instruments import NodeInstruments
from rafka.broker.replica.manager import ReplicaObserver

# Error names found in a response are looked for this deep (topics ->
# partitions); record bytes are never walked.
ERROR_SCAN_DEPTH = 3


class NodeMetrics(ReplicaObserver):
    def __init__(self, node) -> None:
        self.node = node
        self.instruments = NodeInstruments()
        self.instruments.registry.register(ClusterCollector(self))
        # api -> (requests counter, latency histogram) children and (api,
        # code) -> error counter child: labels() costs more than the count
        # itself, on every request.
        self._request_children: dict[str, tuple] = {}
        self._error_children: dict[tuple[str, int], object] = {}

    # ------------------------------------------------------------ source
    def raft_status(self):
        driver = self.node.driver
        return None if driver is None else driver.status()

    def image(self):
        return getattr(self.node.state_machine, "image", None)

    def partitions(self):
        replicas = self.node.replicas
        if replicas is None:
            return []
        out = []
        for p in list(replicas.partitions.values()):
            out.append(HostedPartition(
                topic=p.topic, index=p.index, is_leader=p.leader is not None,
                log_start_offset=p.log.log_start_offset, log_end_offset=p.log.log_end_offset,
                high_watermark=p.high_watermark, isr_size=len(p.leader.isr) if p.leader is not None else 0,
            ))
        return out

    def group_offsets(self):
        groups, replicas = self.node.groups, self.node.replicas
        if groups is None:
            return []
        ends = {}
        if replicas is not None:
            ends = {(p.topic, p.index): p.log.log_end_offset for p in list(replicas.partitions.values())}
        out = []
        for shard in groups.loaded_shards():
            for g in list(shard.core.groups.values()):
                for (topic, partition), co in list(g.offsets.items()):
                    end = ends.get((topic, partition))
                    out.append(GroupOffset(g.group_id, topic, partition, co.offset,
                                           None if end is None else max(0, end - co.offset)))
        return out

    def on_metadata(self, offset: int, records) -> None:
        """Every applied metadata record counts as a controller event of its type."""
        for record in records:
            self.instruments.controller_events.labels(type(record).__name__).inc()

    # ------------------------------------------------------------ hooks
    def observe_request(self, api: str, seconds: float, response) -> None:
        self.observe_requests(api, 1, seconds, response)

    def observe_requests(self, api: str, count: int, seconds: float, response) -> None:
        """`count` requests of `api` answered alike: `seconds` each, the
        error codes of `response` each."""
        errors = sorted(set(error_codes(response, ERROR_SCAN_DEPTH)))
        children = self._request_children.get(api)
        if children is None:
            children = self._request_children[api] = (self.instruments.requests.labels(api),
                                                       self.instruments.request_seconds.labels(api))
        children[0].inc(count)
        for _ in range(count):
            children[1].observe(seconds)
        for code in errors:
            child = self._error_children.get((api, code))
            if child is None:
                child = self._error_children[(api, code)] = self.instruments.request_errors.labels(
                    api, error_name(code))
            child.inc(count)

    def bytes_in(self, topic: str, n: int) -> None:
        self.instruments.bytes_in.labels(topic).inc(n)

    def bytes_out(self, topic: str, n: int) -> None:
        self.instruments.bytes_out.labels(topic).inc(n)

    def fsync_seconds(self, seconds: float) -> None:
        self.instruments.fsync_seconds.observe(seconds)

    async def serve(self, host: str, port: int, *, task_status) -> None:
        await serve_metrics(self.instruments.registry, host, port, node_id=self.node.node_id,
                            task_status=task_status)


def error_codes(data, depth: int):
    """Non-zero `error_code` values in a response body (dicts and lists)."""
    if depth < 0:
        return
    if isinstance(data, dict):
        code = data.get("error_code")
        if isinstance(code, int) and code != 0:
            yield code
        elif code is not None and not isinstance(code, int) and getattr(code, "value", 0):
            yield int(code.value)
        for value in data.values():
            if isinstance(value, (dict, list, tuple)):
                yield from error_codes(value, depth - 1)
    elif isinstance(data, (list, tuple)):
        for item in data:
            yield from error_codes(item, depth)


def error_name(code: int) -> str:
    from rafka.netproto.errors import ErrorCode

    try:
        return ErrorCode(code).name
    except ValueError:
        return f"ERROR_{code}"
