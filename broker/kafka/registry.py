"""The served API keys: key -> module. Each module has API_KEY,
MIN_VERSION, MAX_VERSION and `async handle(ctx, request) -> dict | entity`.
ApiVersions answers from this table, so it is the one source of truth."""

from __future__ import annotations

from types import ModuleType

from rafka.broker.kafka.apis import (
    add_raft_voter,
    alter_configs,
    api_versions,
    create_partitions,
    create_topics,
    delete_groups,
    delete_topics,
    describe_cluster,
    describe_configs,
    describe_groups,
    describe_quorum,
    fetch,
    find_coordinator,
    heartbeat,
    incremental_alter_configs,
    init_producer_id,
    join_group,
    leave_group,
    list_groups,
    list_offsets,
    metadata,
    offset_commit,
    offset_delete,
    offset_fetch,
    offset_for_leader_epoch,
    produce,
    remove_raft_voter,
    sync_group,
)

MODULES: tuple[ModuleType, ...] = (
    produce,
    fetch,
    list_offsets,
    offset_for_leader_epoch,
    init_producer_id,
    api_versions,
    metadata,
    create_topics,
    delete_topics,
    create_partitions,
    describe_configs,
    alter_configs,
    incremental_alter_configs,
    describe_cluster,
    describe_quorum,
    add_raft_voter,
    remove_raft_voter,
    find_coordinator,
    join_group,
    sync_group,
    heartbeat,
    leave_group,
    offset_commit,
    offset_fetch,
    list_groups,
    describe_groups,
    delete_groups,
    offset_delete,
)

API_TABLE: dict[int, ModuleType] = {m.API_KEY: m for m in MODULES}

# Keys whose encoded answers may be reused (answer_cache.py): their module
# has `cache_stamp(broker)` and `cacheable(answer)`.
CACHED_KEYS: frozenset[int] = frozenset(m.API_KEY for m in MODULES if hasattr(m, "cache_stamp"))

# Keys served before the broker's metadata has caught up with the quorum:
# version negotiation and the quorum's own APIs (a node that cannot catch
# up must still say what its quorum looks like). Every other request waits
# for the catch-up (Kafka processes no client request before it), so no
# client is answered from an image that may be far behind.
BEFORE_CATCH_UP_KEYS: frozenset[int] = frozenset(
    m.API_KEY for m in (api_versions, describe_quorum, add_raft_voter, remove_raft_voter))


def served(api_key: int, version: int) -> ModuleType | None:
    m = API_TABLE.get(api_key)
    if m is None or not m.MIN_VERSION <= version <= m.MAX_VERSION:
        return None
    return m


def version_ranges() -> list[dict]:
    return [
        {"api_key": m.API_KEY, "min_version": m.MIN_VERSION, "max_version": m.MAX_VERSION}
        for m in sorted(MODULES, key=lambda m: m.API_KEY)
    ]
