"""The node's Raft state machine: the metadata image plus benchmark entries.

Why: the metadata log carries two kinds of NORMAL entries. Metadata record
batches (written only by the active controller) build the MetadataImage;
opaque benchmark entries (BenchAppend, only on nodes started with --bench)
must never reach the record decoder, which rightly fails loudly on bytes it
does not understand. The kinds are told apart by the first byte, a pure
function of the entry, so every node classifies every entry the same way:

- a record batch is a msgpack array: first byte 0x90-0x9f, 0xdc or 0xdd;
- a benchmark entry is `BENCH_TAG + data` (0x00, a msgpack positive fixint,
  never an array).

Anything else is a corrupt entry and raises (every replica raises alike).
Benchmark entries only advance the metadata offset and feed a sha256 chain
(d' = sha256(d + data)) over their data, so tests can compare replicas
(`summary()["entries_applied"]`, `["digest"]`).
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgpack

from rafka.broker.metadata.records import CorruptRecordError
from rafka.broker.metadata.state_machine import MetadataStateMachine

BENCH_TAG = b"\x00"
NORMAL_KIND = 0
_ARRAY_FIRST_BYTES = frozenset(range(0x90, 0xA0)) | {0xDC, 0xDD}


def bench_entry(data: bytes) -> bytes:
    """The entry data a BenchAppend of `data` proposes."""
    return BENCH_TAG + bytes(data)


class NodeStateMachine:
    def __init__(self, metadata: MetadataStateMachine | None = None) -> None:
        self.metadata = metadata if metadata is not None else MetadataStateMachine()
        self.entries_applied = 0  # benchmark entries
        self.digest = bytes(32)

    @property
    def image(self):
        return self.metadata.image

    def apply(self, entry: Any) -> Any:
        data = entry.data
        if int(entry.kind) != NORMAL_KIND or not data:
            return self.metadata.apply(entry)
        first = data[0]
        if first == BENCH_TAG[0]:
            self.digest = hashlib.sha256(self.digest + bytes(data[1:])).digest()
            self.entries_applied += 1
            self.metadata.image.advance(entry.index)
            return entry.index
        if first in _ARRAY_FIRST_BYTES:
            return self.metadata.apply(entry)
        raise CorruptRecordError(f"entry {entry.index}: neither a record batch nor a benchmark entry "
                                 f"(first byte 0x{first:02x})")

    def snapshot(self) -> bytes:
        return msgpack.packb({"metadata": self.metadata.snapshot(), "bench_entries": self.entries_applied,
                              "bench_digest": self.digest}, use_bin_type=True)

    def restore(self, data: bytes) -> None:
        doc = msgpack.unpackb(data, raw=False)
        self.metadata.restore(doc["metadata"])
        self.entries_applied = int(doc["bench_entries"])
        self.digest = bytes(doc["bench_digest"])

    def summary(self) -> dict[str, str]:
        s = {f"metadata_{k}": v for k, v in self.metadata.summary().items()}
        s["entries_applied"] = str(self.entries_applied)
        s["digest"] = self.digest.hex()
        return s
