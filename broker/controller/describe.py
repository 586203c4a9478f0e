"""Read-only views of the image for DescribeTopic, ListTopics, ListBrokers.

Any node can answer these from its own image (it may lag the controller by
the entries it has not applied yet); only the active controller knows last
heartbeat times, so others pass `sessions=None` (and the admin API asks the
active controller for them).
"""

from __future__ import annotations

from rafka.broker.controller.brokers import BrokerSessions
from rafka.broker.controller.requests import (
    BrokerDescription,
    DescribeTopicRequest,
    DescribeTopicResponse,
    ListBrokersResponse,
    ListTopicsResponse,
    PartitionDescription,
)
from rafka.broker.metadata.image import MetadataImage
from rafka.netproto.errors import ErrorCode, RafkaError


def describe_topic(image: MetadataImage, req: DescribeTopicRequest) -> DescribeTopicResponse:
    t = image.topic(req.name)
    if t is None:
        raise RafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"topic {req.name} does not exist")
    return DescribeTopicResponse(
        name=t.name,
        topic_id=t.topic_id,
        configs=dict(sorted(t.configs.items())),
        partitions=[
            PartitionDescription(
                partition=s.partition,
                leader=s.leader,
                leader_epoch=s.leader_epoch,
                replicas=list(s.replicas),
                isr=list(s.isr),
                partition_epoch=s.partition_epoch,
            )
            for s in t.partitions
        ],
    )


def list_topics(image: MetadataImage) -> ListTopicsResponse:
    return ListTopicsResponse(names=sorted(image.topics_by_name))


def list_brokers(
    image: MetadataImage, sessions: BrokerSessions | None = None, now_ms: int | None = None
) -> ListBrokersResponse:
    out = []
    for node_id in sorted(image.brokers):
        b = image.brokers[node_id]
        ago = None
        if sessions is not None and now_ms is not None:
            last = sessions.last_contact_ms(node_id)
            ago = None if last is None else max(0, now_ms - last)
        out.append(
            BrokerDescription(
                node_id=b.node_id,
                host=b.host,
                port=b.port,
                rack=b.rack,
                fenced=b.fenced,
                in_controlled_shutdown=b.in_controlled_shutdown,
                broker_epoch=b.broker_epoch,
                last_heartbeat_ms=ago,
            )
        )
    return ListBrokersResponse(brokers=out)

