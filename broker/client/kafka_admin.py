"""The CLI's topic administration over the Kafka protocol.

Writes (create, delete, add partitions, alter configs) go through
confluent-kafka's AdminClient (librdkafka: controller discovery, retries);
reads use the small kio client, because the CLI shows what librdkafka does
not expose (leader epochs, topic ids, config sources) and can ask for a
linearizable read (client id suffix, broker/kafka/consistency.py).
Failures raise netproto's RafkaError with Kafka's error code, so the CLI
prints the same one-line errors as before.
"""

from __future__ import annotations

import trio
from kio.schema.api_versions.v3.request import ApiVersionsRequest
from kio.schema.describe_configs.v4.request import DescribeConfigsRequest, DescribeConfigsResource
from kio.schema.metadata.v12.request import MetadataRequest, MetadataRequestTopic

from rafka.broker.client.kafka_clients import QUIET_LOG_LEVEL
from rafka.broker.client.kio_client import WIRE_ERRORS, ask_first, connect, error_code
from rafka.broker.kafka.consistency import CONSISTENT_SUFFIX
from rafka.broker.kafka.topic_ids import from_uuid
from rafka.netproto.errors import ErrorCode, RafkaError

CLIENT_ID = "rafka-cli"
TOPIC_RESOURCE = 2
DYNAMIC_TOPIC_CONFIG = 1
_code = error_code  # Kafka's code as ours


async def speaks_kafka(bootstrap: list[str], timeout_s: float) -> bool:
    """Whether the first reachable bootstrap address is a Kafka listener."""
    with trio.move_on_after(timeout_s):
        for address in bootstrap:
            try:
                conn = await connect(address, CLIENT_ID)
            except OSError:
                continue
            try:
                await conn.request(ApiVersionsRequest(client_software_name="rafka-cli",
                                                      client_software_version="1"))
                return True
            except WIRE_ERRORS:
                return False
            finally:
                await conn.aclose()
    return False


class KafkaAdmin:
    def __init__(self, bootstrap: list[str], timeout_s: float) -> None:
        self.bootstrap = bootstrap
        self.timeout_s = timeout_s
        self._client = None  # held: librdkafka fails pending requests of a freed handle

    # ---------------------------------------------------------- writes
    def _admin(self):
        from confluent_kafka.admin import AdminClient

        if self._client is None:
            self._client = AdminClient({"bootstrap.servers": ",".join(self.bootstrap), "client.id": CLIENT_ID,
                                        "log_level": QUIET_LOG_LEVEL})
        return self._client

    def confluent_admin(self):
        """The held confluent-kafka AdminClient, for the reads it exposes
        (ListOffsets: broker/client/partition_offsets.py)."""
        return self._admin()

    def _wait(self, future) -> None:
        from confluent_kafka import KafkaException

        try:
            future.result(timeout=self.timeout_s)
        except KafkaException as exc:
            err = exc.args[0]
            code = err.code()
            if code > 0:
                raise RafkaError(_code(code), err.str()) from None
            if err.name() in ("_TIMED_OUT", "_MSG_TIMED_OUT"):
                raise RafkaError(ErrorCode.REQUEST_TIMED_OUT, err.str()) from None
            raise RafkaError(ErrorCode.NETWORK_EXCEPTION, f"{err.name()}: {err.str()}") from None
        except TimeoutError:
            raise RafkaError(ErrorCode.REQUEST_TIMED_OUT, f"no answer within {self.timeout_s}s") from None

    def create_topic(self, name: str, partitions: int, replication_factor: int, configs: dict[str, str]) -> None:
        from confluent_kafka.admin import NewTopic

        fs = self._admin().create_topics([NewTopic(name, partitions, replication_factor, config=configs)],
                                         request_timeout=self.timeout_s, operation_timeout=self.timeout_s)
        self._wait(fs[name])

    def delete_topic(self, name: str) -> None:
        fs = self._admin().delete_topics([name], request_timeout=self.timeout_s, operation_timeout=self.timeout_s)
        self._wait(fs[name])

    def create_partitions(self, name: str, count: int, validate_only: bool = False) -> None:
        from confluent_kafka.admin import NewPartitions

        fs = self._admin().create_partitions([NewPartitions(name, count)], validate_only=validate_only,
                                             request_timeout=self.timeout_s, operation_timeout=self.timeout_s)
        self._wait(fs[name])

    def alter_configs(self, name: str, changes: dict[str, str | None], validate_only: bool = False) -> None:
        from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

        entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) if v is not None
                   else ConfigEntry(k, None, incremental_operation=AlterConfigOpType.DELETE)
                   for k, v in sorted(changes.items())]
        res = ConfigResource(ResourceType.TOPIC, name, incremental_configs=entries)
        fs = self._admin().incremental_alter_configs([res], validate_only=validate_only,
                                                     request_timeout=self.timeout_s)
        for future in fs.values():
            self._wait(future)

    # ----------------------------------------------------------- reads
    async def _read(self, consistent: bool, requests: list) -> list:
        client_id = CLIENT_ID + (CONSISTENT_SUFFIX if consistent else "")
        errors: list[str] = []
        with trio.move_on_after(self.timeout_s):
            answer = await ask_first(self.bootstrap, requests, client_id=client_id, errors=errors)
            if answer is not None:
                return answer[1]
            raise RafkaError(ErrorCode.NETWORK_EXCEPTION, f"no broker answered; last: {errors[-1] if errors else None}")
        raise RafkaError(ErrorCode.REQUEST_TIMED_OUT, f"no answer within {self.timeout_s}s")

    async def list_topics(self, consistent: bool = False) -> list[str]:
        (md,) = await self._read(consistent, [MetadataRequest(
            topics=None, allow_auto_topic_creation=False, include_topic_authorized_operations=False)])
        _check_whole(md)
        return sorted(t.name for t in md.topics if t.error_code == 0)

    async def describe_topic(self, name: str, consistent: bool = False) -> dict:
        md, configs = await self._read(consistent, [
            MetadataRequest(topics=(MetadataRequestTopic(topic_id=None, name=name),),
                            allow_auto_topic_creation=False, include_topic_authorized_operations=False),
            DescribeConfigsRequest(resources=(DescribeConfigsResource(
                resource_type=TOPIC_RESOURCE, resource_name=name, configuration_keys=None),),
                include_synonyms=False, include_documentation=False),
        ])
        _check_whole(md)
        (t,) = md.topics
        if t.error_code != 0:
            raise RafkaError(_code(t.error_code), f"topic {name}: {_code(t.error_code).name}")
        (res,) = configs.results
        if res.error_code != 0:
            raise RafkaError(_code(res.error_code), res.error_message or _code(res.error_code).name)
        return {
            "name": t.name,
            "topic_id": from_uuid(t.topic_id),
            "configs": {c.name: c.value for c in res.configs if c.config_source == DYNAMIC_TOPIC_CONFIG},
            "partitions": [
                {"partition": p.partition_index, "leader": None if p.leader_id < 0 else p.leader_id,
                 "leader_epoch": p.leader_epoch, "replicas": list(p.replica_nodes), "isr": list(p.isr_nodes)}
                for p in sorted(t.partitions, key=lambda p: p.partition_index)
            ],
        }


def _check_whole(md) -> None:
    """A failed consistent read comes back as a Metadata without brokers
    whose one, nameless topic carries the error (broker/kafka/apis/metadata.py)."""
    if not md.brokers and len(md.topics) == 1 and md.topics[0].name == "" and md.topics[0].error_code:
        code = _code(md.topics[0].error_code)
        raise RafkaError(code, f"consistent read failed: {code.name}")
