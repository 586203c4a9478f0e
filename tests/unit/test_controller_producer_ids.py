"""Producer id blocks: allocated by the controller through ProducerIdsRecord,
never handed out twice, kept across snapshots."""

import pytest

from rafka.broker.controller import requests as rq
from rafka.broker.controller.controller import Controller
from rafka.broker.controller.producer_ids import PRODUCER_ID_BLOCK_SIZE
from rafka.broker.metadata import records as r
from rafka.broker.metadata.image import MetadataApplyError, MetadataImage
from rafka.netproto.errors import ErrorCode, RafkaError


def image():
    img = MetadataImage()
    img.apply_batch([r.RegisterBrokerRecord(n, f"i{n}", n, "h", 1, None, False) for n in (1, 2)], 1)
    return img


def test_blocks_are_disjoint_and_survive_snapshot():
    """Goal: consecutive allocations get disjoint blocks; the image (and its snapshot) remembers the next id."""
    img = image()
    c = Controller(1)
    c.activate(img, 0)
    starts = []
    for i, node in enumerate((1, 2, 1)):
        d = c.handle(img, rq.AllocateProducerIdsRequest(node, node), 0)
        starts.append(d.response.producer_id_start)
        assert d.response.producer_id_len == PRODUCER_ID_BLOCK_SIZE
        img.apply_batch(d.records, 2 + i)
    assert starts == [0, 1000, 2000]
    assert img.next_producer_id == 3000
    back = MetadataImage.from_snapshot(img.to_snapshot())
    assert back.next_producer_id == 3000 and back.digest() == img.digest()
    assert r.decode_records(r.encode_records([r.ProducerIdsRecord(1, 1, 5)])) == [r.ProducerIdsRecord(1, 1, 5)]


def test_stale_broker_and_backwards_record_refused():
    """Goal: a stale broker epoch is refused; a record moving the next id backwards cannot apply."""
    img = image()
    c = Controller(1)
    c.activate(img, 0)
    with pytest.raises(RafkaError) as e:
        c.handle(img, rq.AllocateProducerIdsRequest(1, 7), 0)
    assert e.value.code == ErrorCode.STALE_BROKER_EPOCH
    img.apply(r.ProducerIdsRecord(1, 1, 1000), 2)
    with pytest.raises(MetadataApplyError):
        img.apply(r.ProducerIdsRecord(1, 1, 1000), 3)
