"""The node process: everything that wires the subsystems together.

config.py (node.toml, validated), meta_properties.py (a data directory's
identity and `rafka format`), datadir_lock.py (one process per data
directory), logsetup.py (structlog: JSON file, key=value terminal),
node.py (the wiring: storage, Raft driver, listeners, services),
state_machine.py (the metadata state machine the driver applies to),
bench.py (the raft benchmark's state machine and handler, chosen at start),
status.py (quorum status, built from the driver's typed status),
messages.py (node-level request/response messages), address_book.py,
membership.py and voter_policy.py (observers and voter changes),
metadata_services.py (the controller side bundled for the node),
broker_lifecycle.py (register, heartbeat, controlled shutdown),
raft_handle.py (the controller service's view of the driver),
shutdown.py (how a node stops), quorum_*.py (`rafka quorum up`).

May import every other part of rafka; nothing but cli/ imports node/.
"""
