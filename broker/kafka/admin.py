"""The admin path from a Kafka handler to the active controller.

Every write goes through the node's controller route (broker/controller/
admin_api.py: decided locally on the active controller, else forwarded
over the peer listener to the Raft leader), so the Kafka listener and the
CLI share one path and one validation. A failure of the whole route
(NOT_CONTROLLER, REQUEST_TIMED_OUT: nothing surely happened, the client
retries) becomes that error on every item of the request.
"""

from __future__ import annotations

from rafka.broker.kafka.context import RequestContext
from rafka.netproto.errors import RafkaError


async def controller_call(ctx: RequestContext, msg):
    """(response, None) on an answer, (None, RafkaError) when the route failed."""
    try:
        return await ctx.broker.route_to_controller(msg), None
    except RafkaError as exc:
        return None, exc


def results_by_name(resp, error: RafkaError | None, names) -> dict[str, tuple[int, str | None, str | None]]:
    """name -> (error_code, error_message, topic_id) from a per-topic
    controller response, or `error` for every name."""
    if resp is None:
        return {n: (int(error.code), error.message, None) for n in names}
    return {r.name: (r.error_code, r.error_message, r.topic_id) for r in resp.results}


def ordered_results(resp, error: RafkaError | None, count: int) -> list[tuple[int, str | None, str | None]]:
    """Per item, in request order (names may repeat)."""
    if resp is None:
        return [(int(error.code), error.message, None)] * count
    return [(r.error_code, r.error_message, r.topic_id) for r in resp.results]
