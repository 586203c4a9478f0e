"""Pure controller decisions: the active controller reads the MetadataImage
and a request (or a tick with now_ms) and returns the records to append in
one Raft entry plus the response. No I/O, no clock, injected randomness.

Modules: controller.py (the facade the node drives), brokers.py (register,
heartbeat, session timeout, controlled shutdown), topics.py (create, delete,
partitions, configs), leadership.py (elections and ISR rules),
elections.py (ElectLeaders, AlterPartition), assignment.py (replica
placement), validation.py (Kafka's rules and error codes), describe.py
(read-only views), requests.py (the messages), config.py (settings).
"""

from broker.controller.config import ControllerConfig
from broker.controller.controller import Controller, Decision

__all__ = ["Controller", "ControllerConfig", "Decision"]
