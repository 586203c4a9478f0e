"""The node: everything that turns the Raft quorum, the segment log and
netproto into a Kafka-style broker. One subpackage per subsystem:

- node/        the process: config, data-dir lock, format, wiring, shutdown, quorum up
- metadata/    typed metadata records, MetadataImage, snapshots, state machine
- controller/  pure controller decisions + the service that runs them on the Raft leader
- client/      the CLI's clients for the cluster
- cli/         `rafka` argument parsing and one module per command

Dependency rule: metadata/ and the pure parts of controller/ import no trio
and no sockets; node/ is the only place that wires subsystems together;
cli/ talks to a cluster only through client/.
"""
