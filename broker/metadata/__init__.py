"""Cluster metadata: typed records (records.py), the MetadataImage built by
applying them in log order (image.py), its digest and snapshots, and the
Raft state-machine adapter (state_machine.py)."""

from broker.metadata.image import (
    BrokerRegistration,
    MetadataApplyError,
    MetadataImage,
    PartitionState,
    TopicImage,
)
from broker.metadata.records import (
    CorruptRecordError,
    Record,
    RecordError,
    UnknownRecordError,
    decode_record,
    decode_records,
    encode_record,
    encode_records,
)
from broker.metadata.snapshot import SnapshotError
from broker.metadata.state_machine import MetadataStateMachine

__all__ = [
    "BrokerRegistration",
    "CorruptRecordError",
    "MetadataApplyError",
    "MetadataImage",
    "MetadataStateMachine",
    "PartitionState",
    "Record",
    "RecordError",
    "SnapshotError",
    "TopicImage",
    "UnknownRecordError",
    "decode_record",
    "decode_records",
    "encode_record",
    "encode_records",
]
