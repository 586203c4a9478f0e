"""`rafka dump-log PATH [--records]`: decode segment files or the metadata log.

PATH is one segment file (`NNNNNNNNNNNNNNNNNNNN.log`) or a directory (a data
partition such as `topic-0/`, or a node's `metadata/` Raft log), whose
segments are dumped in base-offset order. The metadata log (a directory
named `__cluster_metadata-0`, a segment inside it, or a node's `metadata/`
directory; `--metadata` forces it) is decoded by broker/metadata_dump.py:
each batch gains `term`, each record its `entry_kind` (metadata, config,
noop, bench, normal) and the decoded `records`/`config`/`bench_bytes`, or a
`decode_error` beside the raw base64 value.

Output: with --json one object per line per batch (DESIGN.md's shape plus
`segment`, `position` and a few header fields); an unreadable tail ends that
segment with {"segment", "error", "position"}. Without --json, one readable
line per batch (records indented below it with --records).

Exit code: 0 when PATH is a segment (or a directory of them) and was walked
to its end, even if the dump reports a torn tail or a CRC-invalid batch:
those are findings shown in the output (a torn tail is the normal result of
a crash, which recovery truncates), not failures of the command. Non-zero,
with a one-line error, when PATH is not a segment or cannot be read.
"""

from __future__ import annotations

import json

from rafka.broker.metadata import dump as metadata_dump
from rafka.broker.cli.errors import CliError
from rafka.log.dump import dump_log
from rafka.log.errors import LogDirError, NotASegmentError


def register(subparsers, common) -> None:
    p = subparsers.add_parser(
        "dump-log",
        parents=[common],
        help="decode segment files (a .log file, a partition directory or the metadata log)",
    )
    p.add_argument("path", metavar="PATH", help="a segment .log file or a directory of segments")
    p.add_argument("--records", action="store_true", help="also print every record")
    p.add_argument("--metadata", action="store_true",
                   help="decode records as Raft metadata-log entries (auto-detected by directory name)")
    p.set_defaults(handler=handle)


def _text(value) -> str:
    if isinstance(value, dict):
        return "base64:" + value["base64"]
    return json.dumps(value, ensure_ascii=False)


def format_text(item: dict, metadata: bool = False) -> list[str]:
    """The human form of one dump item: a batch line, then record lines."""
    where = f"{item['segment']}@{item['position']}"
    if "error" in item:
        return [f"{where} error: {item['error']}"]
    line = (
        f"{where} offsets={item['base_offset']}..{item['last_offset']} count={item['count']} "
        f"epoch={item['partition_leader_epoch']} size={item['size']} "
        f"crc_valid={str(item['crc_valid']).lower()} compression={item['compression']}"
    )
    if item["is_control"]:
        line += " control"
    lines = [line]
    for rec in item.get("records", ()):
        if metadata:
            lines.append("  " + metadata_dump.format_entry_text(rec))
        else:
            lines.append(f"  offset={rec['offset']} key={_text(rec['key'])} value={_text(rec['value'])}")
    if "records_error" in item:
        lines.append(f"  records: {item['records_error']}")
    return lines


def handle(args) -> int:
    try:
        metadata = args.metadata or metadata_dump.is_metadata_log(args.path)
        path = metadata_dump.resolve_metadata_path(args.path) if metadata else args.path
        items = dump_log(path, records=args.records)
        if metadata:
            items = metadata_dump.decode_dump_items(items)
        for item in items:
            if args.json:
                print(json.dumps(item))
            else:
                print("\n".join(format_text(item, metadata)))
    except NotASegmentError as exc:
        raise CliError("NOT_A_SEGMENT", str(exc)) from None
    except BrokenPipeError:
        raise  # the reader went away (e.g. `| head`): not a storage error
    except (LogDirError, OSError) as exc:
        raise CliError("KAFKA_STORAGE_ERROR", f"cannot read {args.path}: {exc}") from None
    return 0
