"""The group coordinator (Kafka's classic group protocol).

Pure parts (no trio, no sockets, time passed in): errors.py, config.py,
member.py, group.py (one group's state machine data), coordinator.py
(join/sync/heartbeat/leave/expiry over the groups of one __consumer_offsets
partition), offsets.py (commit validation, fetch, expiry), records.py (the
documented record format in __consumer_offsets), consumer_protocol.py,
partitioner.py. The trio shell is service.py (loading on leadership,
acks=all writes through the ReplicaManager); node/ wires it.
"""
