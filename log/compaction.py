"""Log compaction, the pure part: which records of closed segments survive,
and the rewrite of one segment's bytes (no files, no clock: the cleaner in
broker/replica/cleaner.py reads segments, calls this and swaps the result in
with PartitionLog.replace_segment).

Rules (Kafka's cleanup.policy=compact):
- the latest record per key wins: a record survives if no later record with
  the same key lies in the cleaned range (`build_key_map` records the last
  offset of each key over that range); records without a key survive;
- a tombstone (a keyed record with a null value) is itself removed once its
  batch's max timestamp is older than `delete.retention.ms` (`now_ms -
  delete_retention_ms`): consumers that read the log had that long to see it;
- offsets never change: a rewritten batch keeps its base offset, its
  last_offset_delta (so it still covers exactly the offsets it covered and
  the log's batches stay contiguous), its leader epoch, producer id / epoch /
  base sequence, attributes and timestamps; its records keep their offset
  and timestamp deltas; record_count and the CRC are recomputed. A batch
  left with no record is kept as an empty batch (record_count 0, Kafka's
  form for batches kept for their producer state), so offsets stay dense
  across batches and monotonic for every reader;
- control batches, and batches whose codec cannot be rebuilt here (snappy,
  lz4, zstd), are kept byte for byte.

Invariant of `compact_segment`: the output is a sequence of valid batches
whose (base_offset, last_offset) ranges are exactly the input's, in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from rafka.log.batch import HEADER_SIZE, LENGTH_OVERHEAD, BatchHeader, pack_header, parse_header, write_crc
from rafka.log.compression import compress
from rafka.log.errors import UnsupportedCodecError
from rafka.log.records import Record, _encode_record, decode_records

COMPRESSION_MASK = 0x07
REBUILDABLE_CODECS = (0, 1)  # none and gzip (log/records.build_batch's codecs)


@dataclass(frozen=True, slots=True)
class CompactionStats:
    batches: int
    records_in: int
    records_kept: int
    tombstones_dropped: int
    bytes_in: int
    bytes_out: int


def iter_batches(data):
    """(position, BatchHeader) of each whole batch in `data` (a segment's bytes)."""
    pos = 0
    while pos + HEADER_SIZE <= len(data):
        header = parse_header(data, pos)
        if pos + header.size > len(data):
            break
        yield pos, header
        pos += header.size


def _records(data, pos: int, header: BatchHeader):
    """The decoded records of a batch, or None if they cannot be rebuilt."""
    if header.is_control or header.compression not in REBUILDABLE_CODECS:
        return None
    try:
        return decode_records(data, pos, header)
    except UnsupportedCodecError:
        return None


def build_key_map(segments_data, key_map_entries_max: int) -> tuple[dict[bytes, int], bool]:
    """key -> offset of its last record over the given segments (oldest
    first). Returns (map, complete); complete is False when the map would
    exceed `key_map_entries_max` keys: the map then covers a prefix of the
    range and the caller must clean only what it covers (`covered_end`)."""
    latest: dict[bytes, int] = {}
    for data in segments_data:
        for pos, header in iter_batches(data):
            records = _records(data, pos, header)
            if records is None:
                continue
            for rec in records:
                if rec.key is None:
                    continue
                if rec.key not in latest and len(latest) >= key_map_entries_max:
                    return latest, False
                latest[rec.key] = rec.offset
    return latest, True


def _keep(rec, latest: dict[bytes, int], tombstone_expired: bool) -> tuple[bool, bool]:
    """(kept, dropped as an expired tombstone)."""
    if rec.key is None:
        return True, False
    last = latest.get(rec.key)
    if last is not None and last > rec.offset:
        return False, False
    if rec.value is None and tombstone_expired:
        return False, True
    return True, False


def rebuild_batch(header: BatchHeader, kept) -> bytes:
    """`header`'s batch holding only the decoded records `kept` (offsets and
    timestamps as they were, same last_offset_delta); CRC recomputed."""
    log_append_time = header.timestamp_type == 1
    body = bytearray()
    for rec in kept:
        ts_delta = 0 if log_append_time else rec.timestamp_ms - header.base_timestamp
        _encode_record(body, Record(rec.key, rec.value, rec.headers), rec.offset - header.base_offset, ts_delta)
    attributes = header.attributes
    if kept and header.compression:
        body = compress(header.compression, body)
    elif not kept:
        attributes &= ~COMPRESSION_MASK  # an empty batch is stored uncompressed, as Kafka does
    size = HEADER_SIZE + len(body)
    buf = bytearray(size)
    pack_header(buf, 0, BatchHeader(
        base_offset=header.base_offset, batch_length=size - LENGTH_OVERHEAD,
        partition_leader_epoch=header.partition_leader_epoch, magic=header.magic, crc=0,
        attributes=attributes, last_offset_delta=header.last_offset_delta,
        base_timestamp=header.base_timestamp, max_timestamp=header.max_timestamp,
        producer_id=header.producer_id, producer_epoch=header.producer_epoch,
        base_sequence=header.base_sequence, record_count=len(kept)))
    buf[HEADER_SIZE:] = body
    write_crc(buf, 0, size)
    return bytes(buf)


def compact_segment(data, latest: dict[bytes, int], *, now_ms: int,
                    delete_retention_ms: int) -> tuple[bytes, CompactionStats]:
    """The segment `data` with superseded records (and expired tombstones)
    removed; unchanged batches are copied byte for byte."""
    out = bytearray()
    batches = records_in = records_kept = tombstones = 0
    for pos, header in iter_batches(data):
        batches += 1
        original = data[pos:pos + header.size]
        records = _records(data, pos, header)
        if records is None:
            out += original
            continue
        expired = header.max_timestamp + delete_retention_ms < now_ms
        kept = []
        for rec in records:
            keep, dropped_tombstone = _keep(rec, latest, expired)
            tombstones += dropped_tombstone
            if keep:
                kept.append(rec)
        records_in += len(records)
        records_kept += len(kept)
        out += original if len(kept) == len(records) else rebuild_batch(header, kept)
    return bytes(out), CompactionStats(batches, records_in, records_kept, tombstones, len(data), len(out))


@dataclass(frozen=True, slots=True)
class PassResult:
    segments_cleaned: int
    records_removed: int
    bytes_removed: int
    cleanable_end: int  # the key map covered offsets below this


def dirty_ratio(sealed: list[tuple[int, int, int]], cleaned_end: int) -> float:
    """Bytes of sealed segments at or past `cleaned_end` (not cleaned yet)
    over all sealed bytes: Kafka's min.cleanable.dirty.ratio measure."""
    total = sum(size for _, _, size in sealed)
    dirty = sum(size for base, _, size in sealed if base >= cleaned_end)
    return dirty / total if total else 0.0


def clean_log(plog, *, now_ms: int, delete_retention_ms: int, key_map_entries_max: int,
              segments_per_pass_max: int, log=None) -> PassResult:
    """One bounded cleaning pass over `plog` (a PartitionLog): build the key
    map over its sealed segments (never the active one) as far as
    `key_map_entries_max` keys reach, then rewrite at most
    `segments_per_pass_max` of the segments it covers that hold removable
    records, oldest first, each
    swapped in crash-atomically by `plog.replace_segment`. Blocking file I/O:
    the broker runs it in a worker thread."""
    sealed = plog.sealed_segments()
    covered = []
    latest: dict[bytes, int] = {}
    for base, next_offset, size in sealed:  # one segment in memory at a time
        part, complete = build_key_map([plog.read_segment(base)], key_map_entries_max - len(latest))
        if not complete:
            break
        latest.update(part)
        covered.append((base, next_offset, size))
    cleaned = removed = saved = 0
    for base, _next, size in covered:
        if cleaned >= segments_per_pass_max:
            break
        try:
            data = plog.read_segment(base)
        except ValueError:
            continue  # the segment went (retention, truncation) since the key map was built
        if len(data) != size:
            continue
        new, stats = compact_segment(data, latest, now_ms=now_ms, delete_retention_ms=delete_retention_ms)
        if stats.records_kept == stats.records_in:
            continue
        if plog.replace_segment(base, new, expected_size=size):
            cleaned += 1
            removed += stats.records_in - stats.records_kept
            saved += stats.bytes_in - stats.bytes_out
            if log is not None:
                log.info("segment_compacted", base_offset=base, records_in=stats.records_in,
                         records_kept=stats.records_kept, tombstones_dropped=stats.tombstones_dropped,
                         bytes_in=stats.bytes_in, bytes_out=stats.bytes_out)
    end = covered[-1][1] if covered else (sealed[0][0] if sealed else 0)
    return PassResult(cleaned, removed, saved, end)
