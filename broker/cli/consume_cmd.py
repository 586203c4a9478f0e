"""`rafka consume TOPIC`: print records, through librdkafka.

- `--group G`: consume as a member of group G (subscribe; offsets
  committed); without it, a standalone reader that assigns the partitions
  itself and commits nothing.
- `--from-beginning` (else only new records), `--partition P` and
  `--offset O` (start there; O may be `earliest` or `latest`),
  `--max-messages N` (stop after N), `--timeout-ms T` (stop once nothing
  arrived for T ms; default: run until Ctrl-C).
- Output: the value per line (`--print-key` adds KEY<sep>), or with
  `--json` one object per record, DESIGN.md's shape
  {"topic", "partition", "offset", "timestamp", "key", "value", "headers"}.
Errors (unknown topic, unreachable cluster) are one line with Kafka's
error name and exit 1.
"""

from __future__ import annotations

import json
import time

from rafka.broker.cli.errors import CliError

POLL_S = 0.2
METADATA_TIMEOUT_S = 15.0


def register(subparsers, common) -> None:
    p = subparsers.add_parser("consume", parents=[common], help="print a topic's records")
    p.add_argument("topic")
    p.add_argument("--group", default=None)
    p.add_argument("--from-beginning", action="store_true")
    p.add_argument("--partition", type=int, default=None)
    p.add_argument("--offset", default=None, help="start offset (a number, earliest or latest); needs --partition")
    p.add_argument("--max-messages", type=int, default=None)
    p.add_argument("--timeout-ms", type=int, default=None, help="stop after this long without a record")
    p.add_argument("--print-key", action="store_true")
    p.add_argument("--key-separator", default="\t")
    p.set_defaults(handler=handle_consume)


def start_offset(args) -> int:
    from confluent_kafka import OFFSET_BEGINNING, OFFSET_END

    if args.offset is None:
        return OFFSET_BEGINNING if args.from_beginning else OFFSET_END
    if args.offset == "earliest":
        return OFFSET_BEGINNING
    if args.offset == "latest":
        return OFFSET_END
    try:
        value = int(args.offset)
    except ValueError:
        raise CliError("INVALID_ARGUMENTS", f"--offset {args.offset!r}: a number, earliest or latest",
                       exit_code=2) from None
    if value < 0:
        raise CliError("INVALID_ARGUMENTS", "--offset must be >= 0", exit_code=2)
    return value


def check_args(args) -> None:
    if args.offset is not None and args.partition is None:
        raise CliError("INVALID_ARGUMENTS", "--offset needs --partition", exit_code=2)
    if args.group is not None and args.partition is not None:
        raise CliError("INVALID_ARGUMENTS", "--group and --partition exclude each other", exit_code=2)
    for name in ("partition", "max_messages", "timeout_ms"):
        value = getattr(args, name)
        if value is not None and value < 0:
            raise CliError("INVALID_ARGUMENTS", f"--{name.replace('_', '-')} must be >= 0", exit_code=2)


def partitions_of(consumer, topic: str) -> list[int]:
    from rafka.broker.client.kafka_clients import error_code_name

    meta = consumer.list_topics(topic, timeout=METADATA_TIMEOUT_S)
    t = meta.topics.get(topic)
    if t is None or t.error is not None:
        err = t.error if t is not None else None
        code = error_code_name(err) if err is not None else "UNKNOWN_TOPIC_OR_PARTITION"
        raise CliError(code, f"topic {topic!r}: {err.str() if err is not None else 'not found'}")
    return sorted(t.partitions)


def handle_consume(args) -> int:
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    from rafka.broker.client.kafka_clients import consumer_config, error_code_name
    from rafka.broker.client.records import record_to_json
    from rafka.netproto.addresses import AddressError

    check_args(args)
    offset = start_offset(args)
    try:
        config = consumer_config(args.bootstrap, group=args.group, from_beginning=args.from_beginning)
    except AddressError as exc:
        raise CliError("INVALID_ARGUMENTS", str(exc), exit_code=2) from None
    from rafka.broker.cli.progress import Progress

    consumer = Consumer(config)
    progress = Progress("consumed")
    seen = 0
    try:
        partitions = partitions_of(consumer, args.topic)
        if args.group is not None:
            consumer.subscribe([args.topic])
        else:
            wanted = partitions if args.partition is None else [args.partition]
            if args.partition is not None and args.partition not in partitions:
                raise CliError("UNKNOWN_TOPIC_OR_PARTITION", f"{args.topic} has no partition {args.partition}")
            consumer.assign([TopicPartition(args.topic, p, offset) for p in wanted])
        last_record = time.monotonic()
        while args.max_messages is None or seen < args.max_messages:
            msg = consumer.poll(POLL_S)
            if msg is None:
                if args.timeout_ms is not None and (time.monotonic() - last_record) * 1000 >= args.timeout_ms:
                    break
                continue
            if msg.error() is not None:
                err = msg.error()
                if err.retriable():
                    continue
                raise CliError(error_code_name(err), err.str())
            last_record = time.monotonic()
            seen += 1
            print_record(args, msg, record_to_json)
            progress.add(1, len(msg.value() or b"") + len(msg.key() or b""))
    except KafkaException as exc:
        err = exc.args[0] if exc.args else None
        raise CliError(error_code_name(err) if err is not None else "KAFKA_ERROR", str(exc)) from None
    except KeyboardInterrupt:
        return 130
    finally:
        progress.done()
        consumer.close()
    return 0


def print_record(args, msg, record_to_json) -> None:
    if args.json:
        _kind, ts = msg.timestamp()
        print(json.dumps(record_to_json(msg.topic(), msg.partition(), msg.offset(), ts, msg.key(), msg.value(),
                                        msg.headers())), flush=True)
        return
    value = (msg.value() or b"").decode("utf-8", errors="replace")
    if args.print_key:
        key = (msg.key() or b"").decode("utf-8", errors="replace")
        print(f"{key}{args.key_separator}{value}", flush=True)
    else:
        print(value, flush=True)
