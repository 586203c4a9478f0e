"""Cluster metadata: typed records (records.py), the MetadataImage built by
applying them in log order (image.py), its digest and snapshots, the Raft
state-machine adapter (state_machine.py), the node-level metadata messages
(messages.py) and the readable dump of the metadata log (dump.py).

Imports only rafka.raft types, rafka.netproto schema types and the standard
library: no trio, no sockets, no files except dump.py reading a segment
directory for `rafka dump-log`."""

from rafka.broker.metadata.image import (
    BrokerRegistration,
    MetadataApplyError,
    MetadataImage,
    PartitionState,
    TopicImage,
)
from rafka.broker.metadata.records import (
    CorruptRecordError,
    Record,
    RecordError,
    UnknownRecordError,
    decode_record,
    decode_records,
    encode_record,
    encode_records,
)
from rafka.broker.metadata.snapshot import SnapshotError
from rafka.broker.metadata.state_machine import MetadataStateMachine

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
