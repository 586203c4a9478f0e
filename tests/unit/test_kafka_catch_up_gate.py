"""Goal: a broker answers no client request from a metadata image that has
not caught up with the quorum: such requests wait for the catch-up, while
version negotiation (and the quorum's own APIs) are answered at once."""

from __future__ import annotations

import trio
import trio.testing
from kio.schema.api_versions.v3.request import ApiVersionsRequest
from kio.schema.metadata.v12.request import MetadataRequest

from rafka.broker.kafka import dispatch, registry
from rafka.broker.kafka.schemas import response_header_version
from tests.unit.kafka_support.fake_broker import FakeBroker, parse_response, request_frame


class CatchingUpBroker(FakeBroker):
    def __init__(self) -> None:
        super().__init__()
        self.caught_up = trio.Event()

    async def wait_caught_up(self) -> None:
        await self.caught_up.wait()


async def test_requests_wait_for_the_catch_up_but_api_versions_does_not(nursery):
    broker = CatchingUpBroker()
    answers: dict[str, object] = {}

    async def ask(name, key, version, body):
        _, resp = await dispatch.respond(request_frame(key, version, body, 1)[4:], broker)
        answers[name] = parse_response(key, version, resp[4:], response_header_version(key, version))[1]

    nursery.start_soon(ask, "metadata", 3, 12, MetadataRequest(
        topics=None, allow_auto_topic_creation=False, include_topic_authorized_operations=False))
    await ask("versions", 18, 3, ApiVersionsRequest(client_software_name="t", client_software_version="1"))
    await trio.testing.wait_all_tasks_blocked()  # the Metadata request is parked on the gate
    assert "versions" in answers and "metadata" not in answers
    broker.caught_up.set()
    with trio.fail_after(10):
        while "metadata" not in answers:
            await trio.sleep(0.01)  # wait-ok: a poll bounded by fail_after
    assert [t.name for t in answers["metadata"].topics] == ["orders"]


def test_only_negotiation_and_quorum_apis_skip_the_gate():
    assert registry.BEFORE_CATCH_UP_KEYS == {18, 55, 80, 81}
