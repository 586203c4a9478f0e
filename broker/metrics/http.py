"""`/metrics` over HTTP on the node's `listeners.metrics` address (trio).

Deliberately small: one GET per connection (HTTP/1.0 style, the response
closes the connection, as Prometheus' scraper is happy with), a bounded
request head, a read deadline, and any other path or method answered with
404 or 405. A broken scraper closes only its own connection.
"""

from __future__ import annotations

import structlog
import trio
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

log = structlog.get_logger("rafka.metrics")

REQUEST_HEAD_BYTES_MAX = 8192
READ_TIMEOUT_S = 5.0
CONNECTIONS_MAX = 64


async def serve_metrics(registry, host: str, port: int, *, node_id: int,
                        task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Serve until cancelled; reports the bound port through task_status."""
    listeners = await trio.open_tcp_listeners(port, host=host)
    bound = listeners[0].socket.getsockname()[1]
    log.info("metrics_listening", node_id=node_id, host=host, port=bound)
    limit = trio.CapacityLimiter(CONNECTIONS_MAX)

    async def handler(stream: trio.SocketStream) -> None:
        async with limit:
            try:
                await answer(stream, registry)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass
            finally:
                await stream.aclose()

    async with trio.open_nursery() as nursery:
        task_status.started(bound)
        await trio.serve_listeners(handler, listeners, handler_nursery=nursery)


async def answer(stream, registry) -> None:
    head = await read_head(stream)
    if head is None:
        return
    method, _, rest = head.partition(b" ")
    path = rest.split(b" ", 1)[0].split(b"?", 1)[0]
    if method not in (b"GET", b"HEAD"):
        await respond(stream, b"405 Method Not Allowed", b"text/plain", b"only GET\n")
    elif path != b"/metrics":
        await respond(stream, b"404 Not Found", b"text/plain", b"see /metrics\n")
    else:
        body = generate_latest(registry)
        await respond(stream, b"200 OK", CONTENT_TYPE_LATEST.encode(), b"" if method == b"HEAD" else body)


async def read_head(stream) -> bytes | None:
    """The request line, or None when the client sends nothing sensible in time."""
    data = b""
    with trio.move_on_after(READ_TIMEOUT_S):
        while b"\r\n\r\n" not in data and b"\n\n" not in data:
            chunk = await stream.receive_some(1024)
            if not chunk:
                break
            data += chunk
            if len(data) > REQUEST_HEAD_BYTES_MAX:
                return None
    line = data.split(b"\n", 1)[0].strip()
    return line or None


async def respond(stream, status: bytes, content_type: bytes, body: bytes) -> None:
    head = (b"HTTP/1.1 " + status + b"\r\nContent-Type: " + content_type
            + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n")
    await stream.send_all(head + body)
