"""The CLI's record formats: stdin lines into records, records into
DESIGN.md's `consume --json` shape, and librdkafka settings per option."""

from __future__ import annotations

import base64

import pytest

from rafka.broker.client.kafka_clients import consumer_config, error_code_name, producer_config
from rafka.broker.client.records import (
    LINE_BYTES_MAX,
    RecordInputError,
    parse_headers,
    record_to_json,
    split_line,
)
from rafka.netproto.addresses import AddressError


def test_lines_split_into_key_and_value():
    """Goal: without a separator the line is the value; with one, the text
    before its first occurrence is the key; a line without it is refused."""
    assert split_line("hello\n", None) == (None, b"hello")
    assert split_line("k:v:w\n", ":") == (b"k", b"v:w")
    assert split_line("k:\n", ":") == (b"k", b"")
    with pytest.raises(RecordInputError):
        split_line("no separator\n", ":")
    with pytest.raises(RecordInputError):
        split_line("x" * (LINE_BYTES_MAX + 1), None)


def test_headers_keep_order_and_repeats():
    """Goal: headers keep their order, may repeat, and need KEY=VALUE."""
    assert parse_headers(["a=1", "a=2", "b="]) == [("a", b"1"), ("a", b"2"), ("b", b"")]
    for bad in ("novalue", "=x"):
        with pytest.raises(RecordInputError):
            parse_headers([bad])


def test_record_json_shape_text_and_base64():
    """Goal: DESIGN.md's shape; UTF-8 as text, anything else as base64, null kept."""
    raw = b"\xff\x00"
    out = record_to_json("t", 2, 41, 1700000000000, None, raw, [("h", b"v"), ("bin", raw), ("n", None)])
    assert out == {
        "topic": "t", "partition": 2, "offset": 41, "timestamp": 1700000000000, "key": None,
        "value": {"base64": base64.b64encode(raw).decode()},
        "headers": [{"key": "h", "value": "v"}, {"key": "bin", "value": {"base64": "/wA="}},
                    {"key": "n", "value": None}],
    }
    assert record_to_json("t", 0, 0, None, b"k", b"v", None)["key"] == "k"


def test_client_settings_per_option():
    """Goal: acks=all is idempotent, acks 0/1 cannot be; a standalone reader
    commits nothing; a bad bootstrap is refused before any client starts."""
    all_ = producer_config("127.0.0.1:9092", acks="all", compression="zstd", timeout_s=2)
    assert all_["enable.idempotence"] is True and all_["acks"] == "all" and all_["message.timeout.ms"] == 2000
    assert producer_config("a:1,b:2", acks="1", compression="none", timeout_s=1)["enable.idempotence"] is False
    assert producer_config("a:1,b:2", acks="1", compression="none", timeout_s=1)["bootstrap.servers"] == "a:1,b:2"
    assert consumer_config("a:1", group=None, from_beginning=True)["enable.auto.commit"] is False
    assert consumer_config("a:1", group="g", from_beginning=False)["auto.offset.reset"] == "latest"
    with pytest.raises(AddressError):
        producer_config("a:99999", acks="all", compression="none", timeout_s=1)


def test_librdkafka_error_names_become_kafka_names():
    """Goal: the one-line error names Kafka's error, not librdkafka's spelling."""
    from confluent_kafka import KafkaError

    assert error_code_name(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART)) == "UNKNOWN_TOPIC_OR_PARTITION"
    assert error_code_name(KafkaError(KafkaError._MSG_TIMED_OUT)) == "REQUEST_TIMED_OUT"
    assert error_code_name(KafkaError(KafkaError.NOT_ENOUGH_REPLICAS)) == "NOT_ENOUGH_REPLICAS"
