"""The controller: pure decisions, and the service that runs them on the
Raft leader.

Pure (no I/O, no clock, injected randomness; may import metadata/ and
netproto's schema types only): controller.py (the facade the service
drives), brokers.py (register, heartbeat, session timeout, controlled
shutdown), topics.py (create, delete, partitions, configs), leadership.py
(elections and ISR rules), elections.py (ElectLeaders, AlterPartition),
assignment.py (replica placement), validation.py (Kafka's rules and error
codes), describe.py (read-only views), requests.py (the messages),
config.py (settings), decision_log.py and reasons.py (why a decision was
taken, for the logs).

Shell (trio, no sockets of its own): service.py (decides when this node may
decide, feeds the controller one request or tick at a time, proposes its
records through Raft) and admin_api.py (the admin request handlers:
forwarding to the active controller, local and linearizable reads).
"""

from rafka.broker.controller.config import ControllerConfig
from rafka.broker.controller.controller import Controller, Decision

__all__ = ["Controller", "ControllerConfig", "Decision"]
