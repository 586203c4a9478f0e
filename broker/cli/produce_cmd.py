"""`rafka produce TOPIC`: one record per stdin line, through librdkafka.

Options: `--key-separator S` (the text before S is the key), `--acks
all|1|0` (all: idempotent, Kafka's and librdkafka's default), `--partition
P` (else the client's partitioner), `--header K=V` (repeatable),
`--compression none|gzip|snappy|lz4|zstd`, `--timeout-s` (how long one
record may wait for its acknowledgement).

Exit 0 once every record was acknowledged; otherwise one line with Kafka's
error name (the first failure) and exit 1. Ctrl-C stops reading stdin and
still waits (bounded) for what was already sent, so what was acknowledged
is reported. `--json` prints {"topic", "records", "failed"} at the end.
"""

from __future__ import annotations

import json
import sys

from rafka.broker.cli.consume_cmd import partitions_of
from rafka.broker.cli.errors import CliError

DEFAULT_TIMEOUT_S = 30.0
QUEUED_RECORDS_MAX = 100_000  # librdkafka's local queue bound (queue.buffering.max.messages)


def register(subparsers, common) -> None:
    p = subparsers.add_parser("produce", parents=[common], help="produce one record per stdin line")
    p.add_argument("topic")
    p.add_argument("--key-separator", default=None, metavar="S", help="split each line into KEY S VALUE")
    p.add_argument("--acks", choices=("all", "1", "0", "-1"), default="all")
    p.add_argument("--partition", type=int, default=None)
    p.add_argument("--header", action="append", default=[], metavar="K=V", help="record header (repeatable)")
    p.add_argument("--compression", choices=("none", "gzip", "snappy", "lz4", "zstd"), default="none")
    p.add_argument("--timeout-s", type=float, default=DEFAULT_TIMEOUT_S,
                   help="how long a record may wait for its acknowledgement")
    p.set_defaults(handler=handle_produce)


class Deliveries:
    """Counts acknowledgements; keeps the first failure."""

    def __init__(self) -> None:
        self.acked = 0
        self.failed = 0
        self.first_error: tuple[str, str] | None = None

    def __call__(self, err, msg) -> None:
        from rafka.broker.client.kafka_clients import error_code_name

        if err is None:
            self.acked += 1
            return
        self.failed += 1
        if self.first_error is None:
            self.first_error = (error_code_name(err), err.str())


def handle_produce(args) -> int:
    from confluent_kafka import KafkaException, Producer

    from rafka.broker.client.kafka_clients import producer_config
    from rafka.broker.client.records import RecordInputError, parse_headers, split_line
    from rafka.netproto.addresses import AddressError

    if args.partition is not None and args.partition < 0:
        raise CliError("INVALID_ARGUMENTS", "--partition must be >= 0", exit_code=2)
    try:
        headers = parse_headers(args.header)
        config = producer_config(args.bootstrap, acks=args.acks, compression=args.compression,
                                 timeout_s=args.timeout_s)
    except (RecordInputError, AddressError) as exc:
        raise CliError("INVALID_ARGUMENTS", str(exc), exit_code=2) from None
    config["queue.buffering.max.messages"] = QUEUED_RECORDS_MAX
    producer = Producer(config)
    # A missing topic or partition fails at once with Kafka's error name
    # (librdkafka alone would wait out the message timeout).
    try:
        partitions = partitions_of(producer, args.topic)
    except KafkaException as exc:
        raise CliError("KAFKA_ERROR", str(exc)) from None
    if args.partition is not None and args.partition not in partitions:
        raise CliError("UNKNOWN_TOPIC_OR_PARTITION", f"{args.topic} has no partition {args.partition}")
    from rafka.broker.cli.progress import Progress

    deliveries = Deliveries()
    progress = Progress("produced")
    sent = 0
    interrupted = False
    try:
        for line in sys.stdin:
            key, value = split_line(line, args.key_separator)
            extra = {} if args.partition is None else {"partition": args.partition}
            while True:
                try:
                    producer.produce(args.topic, value=value, key=key, headers=headers or None,
                                     on_delivery=deliveries, **extra)
                    break
                except BufferError:  # the local queue is full: let deliveries drain it
                    producer.poll(0.1)
            sent += 1
            progress.add(1, len(value) + len(key or b""))
            producer.poll(0)
            if deliveries.first_error is not None:
                break
    except RecordInputError as exc:
        producer.flush(args.timeout_s)
        raise CliError("INVALID_RECORD", str(exc)) from None
    except KafkaException as exc:
        producer.flush(args.timeout_s)
        raise CliError("KAFKA_ERROR", str(exc)) from None
    except KeyboardInterrupt:
        interrupted = True
    left = producer.flush(args.timeout_s + 5)
    progress.done()
    if args.json:
        print(json.dumps({"topic": args.topic, "records": deliveries.acked,
                          "failed": deliveries.failed + left}))
    if deliveries.first_error is not None:
        code, message = deliveries.first_error
        raise CliError(code, f"{deliveries.failed} of {sent} records not produced to {args.topic}: {message}")
    if left:
        raise CliError("REQUEST_TIMED_OUT", f"{left} of {sent} records not acknowledged in time")
    return 130 if interrupted else 0
