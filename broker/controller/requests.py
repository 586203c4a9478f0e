"""Admin and broker-lifecycle messages served by the active controller.

Conventions:
- Requests about one subject (BrokerRegistration, BrokerHeartbeat,
  ControlledShutdown, AlterPartition, DescribeTopic) fail as a whole: the
  handler raises RafkaError and the client sees {"error": NAME, ...}.
- Requests about many topics (CreateTopics, DeleteTopics, CreatePartitions,
  AlterConfigs, ElectLeaders) answer per item, like Kafka: `error_code` 0
  (NONE) or a Kafka ErrorCode number with `error_message`; items that fail
  add no records, items that pass commit together in one entry.
- Read-only requests (DescribeTopic, ListTopics, ListBrokers) can be served
  by any node from its own image; with `consistent=True` the node first
  waits until its image holds everything committed before the request
  (a ReadIndex barrier), making the read linearizable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rafka.netproto.schema import Message, register


# -------------------------------------------------------------------- topics
@register
@dataclass(frozen=True)
class CreatableTopic(Message):
    TYPE = "controller.CreatableTopic"
    name: str
    num_partitions: int
    replication_factor: int
    configs: dict[str, str] = field(default_factory=dict)
    # Manual placement (Kafka's replica assignments): one replica list per
    # partition, in partition order; then num_partitions and
    # replication_factor must be -1 (they follow from the lists).
    assignments: list[list[int]] | None = None


@register
@dataclass(frozen=True)
class TopicResult(Message):
    TYPE = "controller.TopicResult"
    name: str
    error_code: int = 0
    error_message: str | None = None
    topic_id: str | None = None


@register
@dataclass(frozen=True)
class CreateTopicsRequest(Message):
    TYPE = "controller.CreateTopicsRequest"
    topics: list[CreatableTopic]
    validate_only: bool = False


@register
@dataclass(frozen=True)
class CreateTopicsResponse(Message):
    TYPE = "controller.CreateTopicsResponse"
    results: list[TopicResult]


@register
@dataclass(frozen=True)
class DeleteTopicsRequest(Message):
    TYPE = "controller.DeleteTopicsRequest"
    names: list[str]


@register
@dataclass(frozen=True)
class DeleteTopicsResponse(Message):
    TYPE = "controller.DeleteTopicsResponse"
    results: list[TopicResult]


@register
@dataclass(frozen=True)
class PartitionCountUpdate(Message):
    """Grow topic `name` to `count` partitions in total (never shrink),
    placed by the controller or by `assignments`."""

    TYPE = "controller.PartitionCountUpdate"
    name: str
    count: int
    # Manual placement of the new partitions (Kafka's CreatePartitions
    # assignments): one replica list per new partition, in partition order.
    assignments: list[list[int]] | None = None


@register
@dataclass(frozen=True)
class CreatePartitionsRequest(Message):
    TYPE = "controller.CreatePartitionsRequest"
    topics: list[PartitionCountUpdate]
    validate_only: bool = False


@register
@dataclass(frozen=True)
class CreatePartitionsResponse(Message):
    TYPE = "controller.CreatePartitionsResponse"
    results: list[TopicResult]


@register
@dataclass(frozen=True)
class AlterableTopicConfigs(Message):
    """Incremental: a str value sets the key, None deletes the override."""

    TYPE = "controller.AlterableTopicConfigs"
    name: str
    configs: dict[str, str | None]


@register
@dataclass(frozen=True)
class AlterConfigsRequest(Message):
    TYPE = "controller.AlterConfigsRequest"
    topics: list[AlterableTopicConfigs]
    validate_only: bool = False


@register
@dataclass(frozen=True)
class AlterConfigsResponse(Message):
    TYPE = "controller.AlterConfigsResponse"
    results: list[TopicResult]


@register
@dataclass(frozen=True)
class DescribeTopicRequest(Message):
    TYPE = "controller.DescribeTopicRequest"
    name: str
    consistent: bool = False  # linearizable: answer after a ReadIndex barrier


@register
@dataclass(frozen=True)
class PartitionDescription(Message):
    TYPE = "controller.PartitionDescription"
    partition: int
    leader: int | None
    leader_epoch: int
    replicas: list[int]
    isr: list[int]
    partition_epoch: int = 0


@register
@dataclass(frozen=True)
class DescribeTopicResponse(Message):
    """`configs` holds the topic's overrides only (defaults are implied)."""

    TYPE = "controller.DescribeTopicResponse"
    name: str
    topic_id: str
    configs: dict[str, str]
    partitions: list[PartitionDescription]


@register
@dataclass(frozen=True)
class ListTopicsRequest(Message):
    TYPE = "controller.ListTopicsRequest"
    consistent: bool = False  # linearizable: answer after a ReadIndex barrier


@register
@dataclass(frozen=True)
class ListTopicsResponse(Message):
    TYPE = "controller.ListTopicsResponse"
    names: list[str]


# ------------------------------------------------------------------- brokers
@register
@dataclass(frozen=True)
class ListBrokersRequest(Message):
    TYPE = "controller.ListBrokersRequest"
    consistent: bool = False  # linearizable: answer after a ReadIndex barrier


@register
@dataclass(frozen=True)
class BrokerDescription(Message):
    TYPE = "controller.BrokerDescription"
    node_id: int
    host: str
    port: int
    rack: str | None
    fenced: bool
    in_controlled_shutdown: bool = False
    broker_epoch: int = 0
    # Milliseconds since the active controller last heard from it (a
    # heartbeat or registration). None when unknown: no session (fenced or
    # shut down), or the answering node could not ask the active controller.
    last_heartbeat_ms: int | None = None

    @property
    def last_heartbeat_ms_ago(self) -> int | None:
        """Former name of `last_heartbeat_ms` (kept for old callers)."""
        return self.last_heartbeat_ms


@register
@dataclass(frozen=True)
class ListBrokersResponse(Message):
    TYPE = "controller.ListBrokersResponse"
    brokers: list[BrokerDescription]


@register
@dataclass(frozen=True)
class BrokerRegistrationRequest(Message):
    """A broker (re)starting: `incarnation_id` is new for each process start."""

    TYPE = "controller.BrokerRegistrationRequest"
    node_id: int
    incarnation_id: str
    host: str
    port: int
    rack: str | None = None


@register
@dataclass(frozen=True)
class BrokerRegistrationResponse(Message):
    TYPE = "controller.BrokerRegistrationResponse"
    broker_epoch: int


@register
@dataclass(frozen=True)
class BrokerHeartbeatRequest(Message):
    """`metadata_offset`: the offset of the broker's own metadata image."""

    TYPE = "controller.BrokerHeartbeatRequest"
    node_id: int
    broker_epoch: int
    metadata_offset: int
    want_fence: bool = False


@register
@dataclass(frozen=True)
class BrokerHeartbeatResponse(Message):
    TYPE = "controller.BrokerHeartbeatResponse"
    is_caught_up: bool
    is_fenced: bool
    should_shut_down: bool = False


@register
@dataclass(frozen=True)
class ControlledShutdownRequest(Message):
    TYPE = "controller.ControlledShutdownRequest"
    node_id: int
    broker_epoch: int


@register
@dataclass(frozen=True)
class ControlledShutdownResponse(Message):
    """`leaderless_partitions`: partitions it led that had no other eligible
    ISR member and so are now leaderless until it (or unclean) returns."""

    TYPE = "controller.ControlledShutdownResponse"
    leaderless_partitions: int = 0


# ---------------------------------------------------------------- leadership
@register
@dataclass(frozen=True)
class TopicPartition(Message):
    TYPE = "controller.TopicPartition"
    topic: str
    partition: int


@register
@dataclass(frozen=True)
class ElectLeadersRequest(Message):
    """`election_type`: "preferred" or "unclean". `partitions` None: all."""

    TYPE = "controller.ElectLeadersRequest"
    election_type: str = "preferred"
    partitions: list[TopicPartition] | None = None


@register
@dataclass(frozen=True)
class ElectionResult(Message):
    TYPE = "controller.ElectionResult"
    topic: str
    partition: int
    error_code: int = 0
    error_message: str | None = None


@register
@dataclass(frozen=True)
class ElectLeadersResponse(Message):
    TYPE = "controller.ElectLeadersResponse"
    results: list[ElectionResult]


@register
@dataclass(frozen=True)
class AlterPartitionRequest(Message):
    """A partition leader shrinking or expanding its ISR (Kafka's
    AlterPartition); the epochs fence a stale leader or a stale view."""

    TYPE = "controller.AlterPartitionRequest"
    node_id: int
    broker_epoch: int
    topic: str
    partition: int
    leader_epoch: int
    partition_epoch: int
    new_isr: list[int]


@register
@dataclass(frozen=True)
class AlterPartitionResponse(Message):
    TYPE = "controller.AlterPartitionResponse"
    leader: int | None
    leader_epoch: int
    isr: list[int]
    partition_epoch: int


@register
@dataclass(frozen=True)
class AllocateProducerIdsRequest(Message):
    """A broker asking for a block of producer ids (KRaft's AllocateProducerIds)."""

    TYPE = "controller.AllocateProducerIdsRequest"
    node_id: int
    broker_epoch: int


@register
@dataclass(frozen=True)
class AllocateProducerIdsResponse(Message):
    TYPE = "controller.AllocateProducerIdsResponse"
    producer_id_start: int
    producer_id_len: int


CONTROLLER_REQUESTS = (
    CreateTopicsRequest,
    DeleteTopicsRequest,
    CreatePartitionsRequest,
    AlterConfigsRequest,
    DescribeTopicRequest,
    ListTopicsRequest,
    ListBrokersRequest,
    BrokerRegistrationRequest,
    BrokerHeartbeatRequest,
    ControlledShutdownRequest,
    ElectLeadersRequest,
    AlterPartitionRequest,
    AllocateProducerIdsRequest,
)
READ_ONLY_REQUESTS = (DescribeTopicRequest, ListTopicsRequest, ListBrokersRequest)
