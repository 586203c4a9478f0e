"""MetadataStateMachine: the Raft driver's view of the metadata image.

The Raft driver calls `apply(entry)` for every committed entry in index
order, `snapshot()` when compacting and `restore(data)` on start-up or
snapshot install. A NORMAL entry carries a batch of records
(`records.encode_records`) that is applied atomically at the entry's index;
CONFIG and NOOP entries carry Raft's own data and only advance the offset.

Pure: no I/O, no clock. Errors are loud: an undecodable record raises
UnknownRecordError / CorruptRecordError and a record that does not fit the
image raises MetadataApplyError (every replica of the log raises the same,
so the driver should stop the node rather than skip).
"""

from __future__ import annotations

from typing import Any, Callable

from rafka.broker.metadata.image import MetadataImage
from rafka.broker.metadata.records import Record, decode_records

NORMAL_KIND = 0  # raft.types.EntryKind.NORMAL (not imported: broker/ reads raft/ by duck type)

Listener = Callable[[int, list[Record]], None]


class MetadataStateMachine:
    def __init__(self, image: MetadataImage | None = None) -> None:
        self.image = image if image is not None else MetadataImage()
        self.applied_entries = 0
        # Called after each applied batch with (offset, records); the broker
        # uses this to react to leadership changes. Must not raise.
        self.listeners: list[Listener] = []

    def apply(self, entry: Any) -> list[Record]:
        """Apply one committed Raft entry; returns the records it carried."""
        records: list[Record] = []
        if int(entry.kind) == NORMAL_KIND and entry.data:
            records = decode_records(entry.data)
            self.image.apply_batch(records, entry.index)
        else:
            self.image.advance(entry.index)
        self.applied_entries += 1
        for listener in self.listeners:
            listener(entry.index, records)
        return records

    def snapshot(self) -> bytes:
        return self.image.to_snapshot()

    def restore(self, data: bytes) -> None:
        self.image = MetadataImage.from_snapshot(data)

    def summary(self) -> dict[str, str]:
        """For QuorumStatusResponse.state_machine: compare replicas."""
        return {
            "offset": str(self.image.offset),
            "digest": self.image.digest(),
            "topics": str(len(self.image.topics_by_name)),
            "partitions": str(self.image.partition_count),
            "brokers": str(len(self.image.brokers)),
        }
