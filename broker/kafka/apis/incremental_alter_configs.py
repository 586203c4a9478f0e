"""IncrementalAlterConfigs (key 44), versions 0-1: SET, DELETE, APPEND and
SUBTRACT per key. APPEND/SUBTRACT apply to list configs only (the
effective value, override or default, split on commas); the resulting
values are validated exactly as the CLI's."""

from __future__ import annotations

from rafka.broker.controller.validation import TOPIC_CONFIGS, config_value
from rafka.broker.kafka.apis.alter_common import alter
from rafka.broker.kafka.configs import LIST_CONFIGS
from rafka.broker.kafka.context import RequestContext
from rafka.netproto.errors import ErrorCode, RafkaError

API_KEY = 44
MIN_VERSION = 0
MAX_VERSION = 1

SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3


def _list_op(op: int, key: str, value: str | None, current: dict[str, str]) -> str:
    if key not in TOPIC_CONFIGS:
        raise RafkaError(ErrorCode.INVALID_CONFIG, f"unknown topic config {key!r}")
    if key not in LIST_CONFIGS:
        raise RafkaError(ErrorCode.INVALID_CONFIG,
                         f"{'APPEND' if op == APPEND else 'SUBTRACT'} applies to list configs only, not {key}")
    items = [v for v in config_value(current, key).split(",") if v]
    given = [v.strip() for v in (value or "").split(",") if v.strip()]
    if op == APPEND:
        items += [v for v in given if v not in items]
    else:
        items = [v for v in items if v not in given]
    return ",".join(items)


def _changes(res, topic) -> dict[str, str | None]:
    current = dict(topic.configs) if topic is not None else {}
    out: dict[str, str | None] = {}
    for c in res.configs:
        if c.name in out:
            raise RafkaError(ErrorCode.INVALID_REQUEST, f"config {c.name} given twice")
        if c.config_operation == SET:
            if c.value is None:
                raise RafkaError(ErrorCode.INVALID_CONFIG, f"{c.name}: SET needs a value")
            out[c.name] = c.value
        elif c.config_operation == DELETE:
            out[c.name] = None
        elif c.config_operation in (APPEND, SUBTRACT):
            out[c.name] = _list_op(c.config_operation, c.name, c.value, current)
        else:
            raise RafkaError(ErrorCode.INVALID_REQUEST, f"{c.name}: unknown config operation {c.config_operation}")
    return out


async def handle(ctx: RequestContext, request) -> dict:
    return await alter(ctx, request.resources, request.validate_only, _changes)
