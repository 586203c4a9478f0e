"""A stable content hash of a MetadataImage.

Two nodes that applied the same committed records hold images with the same
digest, whatever order their dicts were filled in: everything is encoded in
a canonical order (brokers by node id, topics by name, configs by key,
partitions by number) with msgpack, then hashed with sha256. The image's
offset is *not* hashed, so an image restored from a snapshot and one built
by replay compare equal. Topic digests are cached on the TopicImage and
dropped when that topic changes, so re-hashing after a change costs the
touched topics plus one pass over the topic names. The topic encodings are
cached too and reused by snapshots.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import msgpack

if TYPE_CHECKING:
    from rafka.broker.metadata.image import MetadataImage, TopicImage

DIGEST_FORMAT = 1


def partition_row(s) -> list:
    return [s.partition, list(s.replicas), list(s.isr), s.leader, s.leader_epoch, s.partition_epoch]


def broker_row(b) -> list:
    return [b.node_id, b.incarnation_id, b.broker_epoch, b.host, b.port, b.rack,
            b.fenced, b.in_controlled_shutdown, b.registered_offset]


def topic_blob(t: TopicImage) -> bytes:
    """The canonical msgpack encoding of one topic (cached until it changes):
    [name, topic_id, [[key, value]...] sorted, [partition rows]]. Shared by
    the digest and snapshots, so both cost only the touched topics."""
    if t.blob_cache is None:
        body = [t.name, t.topic_id, sorted(t.configs.items()), [partition_row(s) for s in t.partitions]]
        t.blob_cache = msgpack.packb(body, use_bin_type=True)
    return t.blob_cache


def topic_digest(t: TopicImage) -> bytes:
    if t.digest_cache is None:
        t.digest_cache = hashlib.sha256(topic_blob(t)).digest()
    return t.digest_cache


def image_digest(image: MetadataImage) -> bytes:
    body = [
        DIGEST_FORMAT,
        image.last_broker_epoch,
        [broker_row(image.brokers[n]) for n in sorted(image.brokers)],
        [[name, topic_digest(image.topics_by_name[name])] for name in sorted(image.topics_by_name)],
    ]
    if image.next_producer_id:  # absent until used: older digests unchanged
        body.append(image.next_producer_id)
    return hashlib.sha256(msgpack.packb(body, use_bin_type=True)).digest()
