"""Readable decoding of the Raft metadata log for `rafka dump-log`.

Why here and not in log/: log/dump.py walks any segment directory and knows
nothing of what the records mean (log/ imports nothing else of the
project). The metadata log's records are Raft entries written by
raft/disk_storage.py: key = one EntryKind byte, value = the entry data,
partition leader epoch of the batch = the term. What the data means is the
broker's business (broker/metadata/state_machine.py), so decoding lives here.

`decode_entry(key, value)` classifies one entry exactly as the node would:

- CONFIG: data is an encoded ConfigState            -> entry_kind "config"
- NOOP: a new leader's empty entry                  -> entry_kind "noop"
- NORMAL, a msgpack array of metadata records       -> entry_kind "metadata"
- NORMAL, empty data                                -> entry_kind "normal"
- NORMAL, anything else (e.g. a `--bench` node's
  opaque entries)                                   -> "normal" with a decode_error

Invariant: decoding never raises. Anything that does not decode (unknown
kind byte, corrupt msgpack, an unknown record type) yields a dict with a
"decode_error" string; the caller keeps the raw base64 form beside it.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any, Iterable, Iterator

from rafka.broker.metadata.records import RecordError, decode_records, record_to_json
from rafka.raft.disk_storage import LOG_DIR_NAME
from rafka.raft.types import ConfigState, EntryKind

_ARRAY_FIRST_BYTES = frozenset(range(0x90, 0xA0)) | {0xDC, 0xDD}


def raw_bytes(rendered: Any) -> bytes | None:
    """Invert log.dump.render_bytes: text back to UTF-8, {"base64"} decoded."""
    if rendered is None:
        return None
    if isinstance(rendered, dict):
        return base64.b64decode(rendered["base64"])
    return str(rendered).encode("utf-8")


def is_metadata_log(path: str | Path) -> bool:
    """True for the metadata log directory, a segment inside it, or a node's
    `metadata/` directory holding it (recognised by name: the Raft storage
    always names its log directory LOG_DIR_NAME)."""
    p = Path(path)
    if p.name == LOG_DIR_NAME:
        return True
    if p.is_file() and p.parent.name == LOG_DIR_NAME:
        return True
    return p.is_dir() and (p / LOG_DIR_NAME).is_dir()


def resolve_metadata_path(path: str | Path) -> Path:
    """A node's `metadata/` directory stands for the log directory inside it."""
    p = Path(path)
    if p.is_dir() and p.name != LOG_DIR_NAME and (p / LOG_DIR_NAME).is_dir():
        return p / LOG_DIR_NAME
    return p


def decode_entry(key: bytes | None, value: bytes | None) -> dict:
    """{"entry_kind", ...decoded fields} or {"entry_kind", "decode_error"}."""
    data = value or b""
    if key is None or len(key) != 1:
        return {"entry_kind": "unknown", "decode_error": f"entry kind key is not one byte: {key!r:.40}"}
    try:
        kind = EntryKind(key[0])
    except ValueError:
        return {"entry_kind": "unknown", "decode_error": f"unknown entry kind byte 0x{key[0]:02x}"}
    if kind == EntryKind.NOOP:
        out: dict = {"entry_kind": "noop"}
        if data:
            out["decode_error"] = f"no-op entry carries {len(data)} bytes"
        return out
    if kind == EntryKind.CONFIG:
        try:
            config = ConfigState.decode(data)
        except Exception as exc:  # msgpack and shape errors alike: report, never raise
            return {"entry_kind": "config", "decode_error": f"bad config entry: {exc}"}
        return {"entry_kind": "config",
                "config": {"voters": sorted(config.voters), "learners": sorted(config.learners)}}
    if not data:
        return {"entry_kind": "normal"}
    if data[0] not in _ARRAY_FIRST_BYTES:
        return {"entry_kind": "normal",
                "decode_error": f"not a metadata record batch (first byte 0x{data[0]:02x})"}
    try:
        records = decode_records(data)
    except RecordError as exc:
        return {"entry_kind": "metadata", "decode_error": str(exc)}
    return {"entry_kind": "metadata", "records": [record_to_json(r) for r in records]}


def decode_dump_record(rec: dict) -> dict:
    """One record dict of log.dump (key/value as rendered) with the entry
    decoded: the contract's keys stay, the decoding is added beside them."""
    out = dict(rec)
    try:
        out.update(decode_entry(raw_bytes(rec.get("key")), raw_bytes(rec.get("value"))))
    except Exception as exc:  # a malformed rendered form: report, never raise
        out.update({"entry_kind": "unknown", "decode_error": f"undecodable record: {exc}"})
    return out


def decode_dump_items(items: Iterable[dict]) -> Iterator[dict]:
    """log.dump items of the metadata log, each batch with its `term` (the
    batch's partition leader epoch) and its records decoded."""
    for item in items:
        if "error" in item:
            yield item
            continue
        item = dict(item)
        item["term"] = item["partition_leader_epoch"]
        if "records" in item:
            item["records"] = [decode_dump_record(r) for r in item["records"]]
        yield item


def _short(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ",".join(map(str, value)) + "]"
    return "-" if value is None else str(value)


def format_entry_text(rec: dict) -> str:
    """The compact one-line human form of one decoded record."""
    line = f"offset={rec['offset']} {rec['entry_kind']}"
    if "records" in rec:
        parts = []
        for r in rec["records"]:
            fields = " ".join(f"{k}={_short(v)}" for k, v in r.items() if k not in ("type", "version"))
            parts.append(f"{r['type']}({fields})")
        line += " " + "; ".join(parts)
    elif "config" in rec:
        c = rec["config"]
        line += f" voters={_short(c['voters'])} learners={_short(c['learners'])}"
    if "decode_error" in rec:
        value = rec.get("value")
        shown = "base64:" + value["base64"] if isinstance(value, dict) else repr(value)
        line += f" value={shown} decode_error={rec['decode_error']}"
    return line
