"""Data partitions on a broker: which partitions it leads or follows, the
leader's replica bookkeeping (high watermark, ISR), produce validation,
idempotent producer state, the ReplicaManager and the replica fetchers.

Pure cores (no trio, no sockets, time passed in): `leader_state.py`,
`produce_validation.py`, `producer_state.py`, `roles.py`. Shells (trio, files):
the ReplicaManager and the fetchers. May import log/, netproto/ and
broker/metadata; never broker/kafka or broker/node.
"""
