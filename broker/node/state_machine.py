"""The node's Raft state machine: the metadata image, and nothing else.

Why a wrapper around MetadataStateMachine: it keeps the snapshot format the
node has always written (`{"metadata": ...}`; older snapshots also carry
benchmark fields, ignored here) and prefixes the status summary with
`metadata_`. Every NORMAL entry of the metadata log is a metadata record
batch; anything else fails loudly in the record decoder, alike on every
replica. The Raft benchmark runs its own state machine
(broker/node/bench.py), chosen when the node starts.
"""

from __future__ import annotations

from typing import Any

import msgpack

from rafka.broker.metadata.state_machine import MetadataStateMachine


class NodeStateMachine:
    def __init__(self, metadata: MetadataStateMachine | None = None) -> None:
        self.metadata = metadata if metadata is not None else MetadataStateMachine()

    @property
    def image(self):
        return self.metadata.image

    def apply(self, entry: Any) -> Any:
        return self.metadata.apply(entry)

    def snapshot(self) -> bytes:
        return msgpack.packb({"metadata": self.metadata.snapshot()}, use_bin_type=True)

    def restore(self, data: bytes) -> None:
        doc = msgpack.unpackb(data, raw=False)
        self.metadata.restore(doc["metadata"])

    def summary(self) -> dict[str, str]:
        return {f"metadata_{k}": v for k, v in self.metadata.summary().items()}
