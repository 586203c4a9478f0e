"""A stand-in node for testing the harness itself (never the system).

`python -m tests.jepsen.fake_node --config node.toml` reads a real node
config and serves, on its peer listener, the tool API subset the metadata
workload uses. Node 1
owns the state (a JSON file in its data dir, rewritten atomically on every
change, so kill -9 loses nothing acknowledged); every other node forwards
each request to node 1 through its voters-table address, i.e. through the
harness's proxy. So partitions, pauses and kills change what clients see
while the fake stays linearizable, and the harness's verdict must be valid.
Optional fault: `--lose-creates` acknowledges every 5th create without
storing it, so the harness must flag lost writes.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import sys

import trio

from rafka.broker.node.config import load_config
from rafka.broker.controller import requests as rq
from rafka.broker.node.meta_properties import read as read_identity
from rafka.broker.metadata.messages import MetadataStatusRequest, MetadataStatusResponse
from rafka.broker.node.messages import QuorumStatusRequest, QuorumStatusResponse
from rafka.netproto.cluster_client import open_cluster_client
from rafka.netproto.errors import ErrorCode, RafkaError
from rafka.netproto.server import serve

OWNER = 1
FORWARD_TIMEOUT_S = 2.0
SERVED = (rq.CreateTopicsRequest, rq.DeleteTopicsRequest, rq.ListTopicsRequest,
          rq.AlterConfigsRequest, rq.DescribeTopicRequest, QuorumStatusRequest,
          MetadataStatusRequest)


class Store:
    def __init__(self, path, lose_creates: bool) -> None:
        self.path = path
        self.lose_creates = lose_creates
        self.creates = 0
        self.state = {"offset": 0, "topics": {}}
        if os.path.exists(path):
            with open(path) as fh:
                self.state = json.load(fh)

    def save(self) -> None:
        self.state["offset"] += 1
        tmp = f"{self.path}.tmp"
        with open(tmp, "w") as fh:
            json.dump(self.state, fh)
        os.replace(tmp, self.path)

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.state["topics"], sort_keys=True).encode()).hexdigest()

    def handle(self, req):
        topics = self.state["topics"]
        if isinstance(req, rq.CreateTopicsRequest):
            results = []
            for t in req.topics:
                if t.name in topics:
                    results.append(rq.TopicResult(t.name, int(ErrorCode.TOPIC_ALREADY_EXISTS)))
                    continue
                self.creates += 1
                if not (self.lose_creates and self.creates % 5 == 0):
                    topics[t.name] = {}
                    self.save()
                results.append(rq.TopicResult(t.name))
            return rq.CreateTopicsResponse(results)
        if isinstance(req, rq.DeleteTopicsRequest):
            results = []
            for name in req.names:
                if topics.pop(name, None) is None:
                    results.append(rq.TopicResult(name, int(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)))
                else:
                    self.save()
                    results.append(rq.TopicResult(name))
            return rq.DeleteTopicsResponse(results)
        if isinstance(req, rq.AlterConfigsRequest):
            results = []
            for t in req.topics:
                if t.name not in topics:
                    results.append(rq.TopicResult(t.name, int(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)))
                    continue
                topics[t.name].update({k: v for k, v in t.configs.items() if v is not None})
                self.save()
                results.append(rq.TopicResult(t.name))
            return rq.AlterConfigsResponse(results)
        if isinstance(req, rq.ListTopicsRequest):
            return rq.ListTopicsResponse(sorted(topics))
        if isinstance(req, rq.DescribeTopicRequest):
            if req.name not in topics:
                raise RafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, req.name)
            return rq.DescribeTopicResponse(req.name, "id", dict(topics[req.name]), [])
        raise RafkaError(ErrorCode.INVALID_REQUEST, type(req).__name__)


async def main_async(args) -> None:
    config = load_config(args.config)
    cluster_id = read_identity(config.data_dir).cluster_id
    store = Store(os.path.join(config.data_dir, "fake-state.json"), args.lose_creates) \
        if config.node_id == OWNER else None
    owner_addr = str(config.voters[OWNER])

    async with open_cluster_client([owner_addr], cluster_id=cluster_id) as forward:
        async def status(reachable: dict | None) -> QuorumStatusResponse:
            sm = reachable or {}
            return QuorumStatusResponse(
                cluster_id=cluster_id, node_id=config.node_id,
                role="leader" if config.node_id == OWNER else "follower",
                leader_id=OWNER, term=1, commit_index=int(sm.get("offset", 0)),
                applied_index=int(sm.get("offset", 0)), log_end_offset=0,
                state_machine={k: str(v) for k, v in sm.items()})

        async def handler(msg, ctx):
            if isinstance(msg, MetadataStatusRequest):
                if store is None:  # a follower's copy is the owner's (may fail)
                    owner = await forward.call(msg, FORWARD_TIMEOUT_S)
                    return MetadataStatusResponse(config.node_id, owner.metadata_offset,
                                                  owner.digest, owner.topics, 0, 0)
                return MetadataStatusResponse(config.node_id, store.state["offset"],
                                              store.digest(), len(store.state["topics"]), 0, 0)
            if store is not None:
                if isinstance(msg, QuorumStatusRequest):
                    return await status({"offset": store.state["offset"], "digest": store.digest()})
                return store.handle(msg)
            if isinstance(msg, QuorumStatusRequest):
                try:
                    owner = await forward.call(QuorumStatusRequest(), FORWARD_TIMEOUT_S)
                    return await status(dict(owner.state_machine))
                except RafkaError:
                    return await status(None)
            return await forward.call(msg, FORWARD_TIMEOUT_S)

        async with trio.open_nursery() as nursery:
            # Like a real node: one peer listener, tools naming the cluster id.
            await nursery.start(functools.partial(
                serve, handler, host=config.peer_listener.host, port=config.peer_listener.port,
                cluster_id=cluster_id, node_id=config.node_id, accepts=SERVED,
                clients_need_cluster_id=True))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="fake_node")
    p.add_argument("--config", required=True)
    p.add_argument("--lose-creates", action="store_true")
    args = p.parse_args(argv)
    trio.run(main_async, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
