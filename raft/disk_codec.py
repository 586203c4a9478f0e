"""Byte formats of DiskStorage (raft/disk_storage.py); it opens no file
(read_entries reads through the PartitionLog it is given).

Why a separate module: the storage class owns the durability contract and
the order of writes; this one owns how entries, snapshots and the small
state files look as bytes, so each is testable on its own.

    entries       Kafka RecordBatch v2, one per same-term run: record i has
                  offset delta i, key = one EntryKind byte, value = data,
                  timestamp 0, no headers; partition leader epoch = the term
    sealed blobs  CRC32C (4 bytes, big-endian) + msgpack payload: hard-state,
                  commit-index and snapshot files; a damaged one fails the CRC
    commit-index  a fixed-size sealed record, so an update overwrites the
                  previous one in place
"""

from __future__ import annotations

import struct

import crc32c
import msgpack

from rafka.log.batch import HEADER_SIZE, LENGTH_OVERHEAD, MAGIC, BatchHeader, pack_header, write_crc
from rafka.log.partition_log import PartitionLog
from rafka.log.records import decode_batch
from rafka.log.varint import write_varint
from rafka.raft.errors import StorageError
from rafka.raft.types import ConfigState, Entry, EntryKind, Snapshot, SnapshotMeta

_CRC = struct.Struct(">I")
# The commit-index payload: msgpack {"commit": uint64}, always 17 bytes, so
# each update overwrites the previous one in place.
_COMMIT_PAYLOAD = struct.Struct(">9sQ")
_COMMIT_PREFIX = b"\x81\xa6commit\xcf"
READ_CHUNK_BYTES = 1 << 20

# Zigzag varints of small numbers (offset deltas, lengths), precomputed: the
# Raft log encodes its records itself, with no per-field function calls.
VARINT_CACHE_MAX = 1 << 12


def _varint(n: int) -> bytes:
    out = bytearray()
    write_varint(out, n)
    return bytes(out)


_VARINTS = [_varint(i) for i in range(VARINT_CACHE_MAX)]
# attributes 0, timestamp delta 0 | offset delta | key: length 1 + EntryKind byte
_RECORD_HEAD = b"\x00\x00"
_KEYS = {kind: b"\x02" + bytes([int(kind)]) for kind in EntryKind}


def encode_entries(run: list[Entry]) -> bytes:
    """One Kafka RecordBatch v2 holding `run` (consecutive entries of one
    term): record i has offset delta i, key = one EntryKind byte, value =
    data, timestamp 0, no headers; partition leader epoch = the term.
    Byte-identical to log.records.build_batch of the same records (a unit
    test checks it), but without its per-field calls: the Raft log's hot path."""
    varints = _VARINTS
    keys = _KEYS
    parts: list[bytes] = []
    append = parts.append
    for delta, e in enumerate(run):
        data = e.data
        n = len(data)
        off = varints[delta] if delta < VARINT_CACHE_MAX else _varint(delta)
        vlen = varints[n] if n < VARINT_CACHE_MAX else _varint(n)
        size = 5 + len(off) + len(vlen) + n  # head 2, key 2, headers count 1
        append(varints[size] if size < VARINT_CACHE_MAX else _varint(size))
        append(_RECORD_HEAD)
        append(off)
        append(keys[e.kind])
        append(vlen)
        append(data)
        append(b"\x00")
    body = b"".join(parts)
    size = HEADER_SIZE + len(body)
    buf = bytearray(size)
    header = BatchHeader(
        base_offset=run[0].index,
        batch_length=size - LENGTH_OVERHEAD,
        partition_leader_epoch=run[0].term,
        magic=MAGIC,
        crc=0,
        attributes=0,
        last_offset_delta=len(run) - 1,
        base_timestamp=0,
        max_timestamp=0,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        record_count=len(run),
    )
    pack_header(buf, 0, header)
    buf[HEADER_SIZE:] = body
    write_crc(buf, 0, size)
    return bytes(buf)


def read_batch_head(plog: PartitionLog, index: int) -> tuple[int, int, list[Entry]]:
    """(base index, term, entries before `index`) of the stored batch holding
    `index`, read from disk (the batch may start below the log start, where
    a snapshot compacted the log: its whole stored content is returned)."""
    buf = plog.read(index, 0)  # at least the whole batch holding `index`
    header, records = decode_batch(buf, 0)
    term = header.partition_leader_epoch
    head = [
        Entry(term, rec.offset, EntryKind(rec.key[0]) if rec.key else EntryKind.NORMAL, rec.value or b"")
        for rec in records
        if rec.offset < index
    ]
    return header.base_offset, term, head


def read_entries(plog: PartitionLog, start: int) -> list[Entry]:
    """Every entry of `plog` from index `start` to its end (the inverse of
    encode_entries: the term is each batch's partition leader epoch)."""
    entries: list[Entry] = []
    offset = start
    while offset < plog.log_end_offset:
        buf = plog.read(offset, READ_CHUNK_BYTES)
        pos = 0
        while pos < len(buf):
            header, records = decode_batch(buf, pos)
            for rec in records:
                if rec.offset >= start:
                    kind = EntryKind(rec.key[0]) if rec.key else EntryKind.NORMAL
                    entries.append(Entry(header.partition_leader_epoch, rec.offset, kind, rec.value or b""))
            pos += header.size
            offset = header.last_offset + 1
    return entries


def _seal(payload: bytes) -> bytes:
    return _CRC.pack(crc32c.crc32c(payload)) + payload


def _unseal(blob: bytes, what: str) -> bytes:
    if len(blob) < _CRC.size:
        raise StorageError(f"{what}: too short")
    (crc,) = _CRC.unpack_from(blob)
    payload = blob[_CRC.size :]
    if crc32c.crc32c(payload) != crc:
        raise StorageError(f"{what}: checksum mismatch")
    return payload


def encode_snapshot(snap: Snapshot) -> bytes:
    meta = snap.meta
    return _seal(
        msgpack.packb(
            {
                "index": meta.index,
                "term": meta.term,
                "voters": sorted(meta.config.voters),
                "learners": sorted(meta.config.learners),
                "data": snap.data,
            }
        )
    )


def decode_snapshot(blob: bytes, what: str = "snapshot") -> Snapshot:
    try:
        obj = msgpack.unpackb(_unseal(blob, what))
        config = ConfigState(frozenset(obj["voters"]), frozenset(obj["learners"]))
        return Snapshot(SnapshotMeta(int(obj["index"]), int(obj["term"]), config), bytes(obj["data"]))
    except StorageError:
        raise
    except Exception as exc:  # msgpack/shape errors on a damaged file
        raise StorageError(f"{what}: undecodable ({exc})") from exc


def encode_commit(commit: int) -> bytes:
    """The sealed commit-index record (the same length for every commit)."""
    return _seal(_COMMIT_PAYLOAD.pack(_COMMIT_PREFIX, commit))


def decode_commit(blob: bytes, what: str = "commit-index") -> int:
    """Raises StorageError (bad CRC) or a msgpack/shape error on a damaged one."""
    return int(msgpack.unpackb(_unseal(blob, what))["commit"])


def encode_hard_state(term: int, vote: int | None) -> bytes:
    return _seal(msgpack.packb({"term": term, "vote": vote}))


def decode_hard_state(blob: bytes, what: str = "hard-state") -> tuple[int, int | None]:
    """(term, vote); StorageError on a damaged blob."""
    try:
        obj = msgpack.unpackb(_unseal(blob, what))
        return int(obj["term"]), obj["vote"]
    except StorageError:
        raise
    except Exception as exc:
        raise StorageError(f"{what}: undecodable ({exc})") from exc
