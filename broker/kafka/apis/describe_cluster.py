"""DescribeCluster (key 60), versions 0-2: the unfenced brokers at their
advertised Kafka addresses (v2 with include_fenced_brokers: every
registered broker, with is_fenced), the cluster id and a live controller
id (the same as Metadata's). Only the broker endpoint type is served. A
client id ending in "+consistent" (the rafka CLI's --consistent) first
passes a ReadIndex barrier (broker/kafka/consistency.py)."""

from __future__ import annotations

from rafka.broker.kafka.apis.metadata import controller_id, live_brokers
from rafka.broker.kafka.consistency import barrier_if_asked
from rafka.broker.kafka.context import RequestContext
from rafka.broker.kafka.shape import get
from rafka.netproto.errors import RafkaError

API_KEY = 60
MIN_VERSION = 0
MAX_VERSION = 2

BROKERS_ENDPOINT = 1
UNSUPPORTED_ENDPOINT_TYPE = 115


async def handle(ctx: RequestContext, request) -> dict:
    endpoint_type = get(request, "endpoint_type", BROKERS_ENDPOINT)
    try:
        await barrier_if_asked(ctx)
    except RafkaError as exc:  # a failed consistent read: the error, no brokers
        return {"throttle_time": 0, "endpoint_type": endpoint_type, "cluster_id": ctx.broker.cluster_id,
                "controller_id": -1, "brokers": [], "cluster_authorized_operations": -2147483648,
                "error_code": exc.code, "error_message": exc.message}
    image = ctx.broker.image
    if get(request, "include_fenced_brokers", False):
        brokers = sorted(image.brokers.values(), key=lambda b: b.node_id)
    else:
        brokers = live_brokers(image)
    body = {
        "throttle_time": 0,
        "endpoint_type": endpoint_type,
        "cluster_id": ctx.broker.cluster_id,
        "controller_id": controller_id(image, ctx.broker.leader_id(), ctx.broker.node_id),
        "brokers": [{"broker_id": b.node_id, "host": b.host, "port": b.port, "rack": b.rack,
                     "is_fenced": b.fenced} for b in brokers],
        "cluster_authorized_operations": -2147483648,
    }
    if endpoint_type != BROKERS_ENDPOINT:
        body.update(error_code=UNSUPPORTED_ENDPOINT_TYPE,
                    error_message=f"endpoint type {endpoint_type} is not served (brokers only)", brokers=[])
    return body
