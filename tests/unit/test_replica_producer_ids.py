"""Broker-side producer id allocator over the controller's blocks."""

from rafka.broker.controller.controller import Controller
from rafka.broker.metadata import records as r
from rafka.broker.metadata.image import MetadataImage
from rafka.broker.replica.producer_ids import ProducerIdAllocator


async def test_ids_unique_across_brokers_and_blocks():
    """Goal: two brokers' allocators never hand out the same id, across several blocks."""
    img = MetadataImage()
    img.apply_batch([r.RegisterBrokerRecord(n, f"i{n}", n, "h", 1, None, False) for n in (1, 2)], 1)
    c = Controller(1)
    c.activate(img, 0)
    calls = []

    async def route(req, timeout_s=None):
        d = c.handle(img, req, 0)
        img.apply_batch(d.records, img.offset + 1)
        calls.append(req.node_id)
        return d.response

    a, b = ProducerIdAllocator(1, route, lambda: 1), ProducerIdAllocator(2, route, lambda: 2)
    ids = [await a.next_id() for _ in range(1500)] + [await b.next_id() for _ in range(1200)]
    assert len(set(ids)) == len(ids) == 2700
    assert calls == [1, 1, 2, 2]
