"""Shared by the group API modules: the coordinator service from the view,
typed errors to Kafka codes, kio durations to ms."""

from __future__ import annotations

import datetime

from rafka.broker.group.errors import GroupErrorCode
from rafka.broker.kafka.context import RequestContext
from rafka.broker.kafka.errors import KafkaApiError, kafka_error


def service(ctx: RequestContext):
    """The node's GroupService; COORDINATOR_NOT_AVAILABLE until it runs."""
    svc = getattr(ctx.broker, "groups", None)
    if svc is None:
        raise KafkaApiError(kafka_error(GroupErrorCode.COORDINATOR_NOT_AVAILABLE), "group coordinator not started")
    return svc


def ms(value) -> int:
    if isinstance(value, datetime.timedelta):
        return int(value.total_seconds() * 1000)
    return int(value)


def code(value: int):
    return kafka_error(int(value))
