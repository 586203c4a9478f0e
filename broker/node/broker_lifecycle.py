"""The broker side of the broker lifecycle: register, heartbeat, shut down.

Why: the active controller fences brokers it does not hear from (session
timeout) and only unfenced brokers lead partitions. Each broker process
therefore registers on start with a fresh incarnation id (so the controller
can tell a restart from a retry), heartbeats every `heartbeat_interval_ms`
with the offset of its own metadata image (the controller unfences it once
it has caught up), and on SIGTERM asks the controller to move its
leaderships away before the process exits (controlled shutdown).

`call_controller(request, timeout_s)` reaches the active controller
wherever it is (the local service when this node leads, else the leader's
peer listener); it raises RafkaError (NOT_CONTROLLER, NETWORK_EXCEPTION,
REQUEST_TIMED_OUT, ...) and this module simply retries with backoff.

Controlled shutdown needs an active controller that can commit. When the
whole cluster stops, the last nodes have none (no Raft leader, or a leader
that hears from no majority): an optional `controller_probe()` names the
reason there is surely no reachable controller (None when there may be
one), and once it has said so for `shutdown_no_controller_grace_ms` in a
row the shutdown gives up at once, logging why, instead of waiting out its
whole bound.

States: UNREGISTERED -> (registration answered) REGISTERED, heartbeating ->
SHUTTING_DOWN (controlled shutdown asked) -> STOPPED. A heartbeat answered
STALE_BROKER_EPOCH (the controller does not know this registration)
sends the broker back to UNREGISTERED: it registers again, same incarnation
(so a registration that was committed but whose answer was lost is reused).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Awaitable, Callable, Protocol

import structlog
import trio

from rafka.broker.controller import requests as rq
from rafka.broker.metadata.image import MetadataImage
from rafka.netproto.errors import ErrorCode, RafkaError
from rafka.netproto.schema import Message

log = structlog.get_logger("rafka.broker_lifecycle")

ControllerCall = Callable[[Message, float], Awaitable[Message | None]]
# () -> why no controller is reachable now, or None when one may be.
ControllerProbe = Callable[[], str | None]


class ImageView(Protocol):
    image: MetadataImage


@dataclass(frozen=True)
class LifecycleConfig:
    heartbeat_interval_ms: int = 1000
    # Per-request deadline for registration/heartbeat/shutdown calls.
    request_timeout_ms: int = 3000
    # Retry backoff (doubling, jittered) for registration and shutdown.
    retry_backoff_initial_ms: int = 50
    retry_backoff_max_ms: int = 1000
    # How often controlled shutdown re-checks the local image (and the
    # controller probe).
    shutdown_poll_ms: int = 50
    # Controlled shutdown gives up once the probe has reported "no
    # reachable controller" this long without a break (about one election:
    # a normal leader change is over by then).
    shutdown_no_controller_grace_ms: int = 500

    def __post_init__(self) -> None:
        for name in ("heartbeat_interval_ms", "request_timeout_ms", "retry_backoff_initial_ms",
                     "retry_backoff_max_ms", "shutdown_poll_ms", "shutdown_no_controller_grace_ms"):
            if getattr(self, name) < 1:
                raise ValueError(f"broker lifecycle {name} must be >= 1")


def new_incarnation_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


class BrokerLifecycle:
    def __init__(
        self,
        node_id: int,
        host: str,
        port: int,
        rack: str | None,
        call_controller: ControllerCall,
        metadata: ImageView,
        rng: random.Random,
        config: LifecycleConfig | None = None,
        controller_probe: ControllerProbe | None = None,
    ) -> None:
        self.node_id = node_id
        self.host = host
        self.port = port
        self.rack = rack
        self.call_controller = call_controller
        self.metadata = metadata
        self.rng = rng
        self.config = config or LifecycleConfig()
        self.controller_probe = controller_probe
        self.shutdown_gave_up: str | None = None  # why controlled shutdown stopped early
        self.incarnation_id = new_incarnation_id(rng)
        self.broker_epoch: int | None = None
        self.fenced = True
        self.caught_up = False
        # Set once the controller first acknowledged this broker's metadata
        # as caught up (it has applied its own registration, so everything
        # committed before it): Kafka's initial catch-up.
        self.initial_catch_up = trio.Event()
        self.state = "unregistered"
        self.heartbeats_ok = 0
        self.registered = trio.Event()

    # ------------------------------------------------------------- helpers
    def _backoff_s(self, attempt: int) -> float:
        c = self.config
        ms = min(c.retry_backoff_max_ms, c.retry_backoff_initial_ms * (2 ** min(attempt, 20)))
        return ms * (0.5 + self.rng.random() / 2) / 1000

    async def _call(self, request: Message) -> Message | None:
        timeout_s = self.config.request_timeout_ms / 1000
        with trio.fail_after(timeout_s + 0.5):  # a hard bound even if the callee ignores its deadline
            return await self.call_controller(request, timeout_s)

    # ----------------------------------------------------------------- run
    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Register, then heartbeat until cancelled or shut down."""
        task_status.started()
        interval_s = self.config.heartbeat_interval_ms / 1000
        while self.state not in ("shutting_down", "stopped"):
            if self.state == "unregistered":
                await self._register()
                continue
            await self._heartbeat()
            await trio.sleep(interval_s)

    async def _register(self) -> None:
        attempt = 0
        request = rq.BrokerRegistrationRequest(self.node_id, self.incarnation_id, self.host, self.port, self.rack)
        while self.state == "unregistered":
            try:
                resp = await self._call(request)
            except (RafkaError, trio.TooSlowError) as exc:
                log.debug("broker.register_retry", node_id=self.node_id, error=repr(exc), attempt=attempt)
                await trio.sleep(self._backoff_s(attempt))
                attempt += 1
                continue
            if not isinstance(resp, rq.BrokerRegistrationResponse):
                raise RafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, f"unexpected registration answer {resp!r:.80}")
            self.broker_epoch = resp.broker_epoch
            self.state = "registered"
            self.registered.set()
            log.info("broker.registered", node_id=self.node_id, broker_epoch=resp.broker_epoch,
                     incarnation_id=self.incarnation_id)

    async def _heartbeat(self) -> None:
        assert self.broker_epoch is not None
        request = rq.BrokerHeartbeatRequest(self.node_id, self.broker_epoch, self.metadata.image.offset)
        try:
            resp = await self._call(request)
        except RafkaError as exc:
            if exc.code == ErrorCode.STALE_BROKER_EPOCH:
                log.warning("broker.registration_lost", node_id=self.node_id,
                            broker_epoch=self.broker_epoch, reason=exc.message)
                self.state = "unregistered"
            else:
                log.debug("broker.heartbeat_failed", node_id=self.node_id, error=exc.code.name)
            return
        except trio.TooSlowError:
            log.debug("broker.heartbeat_failed", node_id=self.node_id, error="timeout")
            return
        if not isinstance(resp, rq.BrokerHeartbeatResponse):
            return
        self.heartbeats_ok += 1
        if resp.is_fenced != self.fenced:
            log.info("broker.fence_state", node_id=self.node_id, fenced=resp.is_fenced,
                     broker_epoch=self.broker_epoch, metadata_offset=request.metadata_offset)
        self.fenced = resp.is_fenced
        self.caught_up = resp.is_caught_up
        if self.caught_up and not self.initial_catch_up.is_set():
            log.info("broker.metadata_caught_up", node_id=self.node_id, broker_epoch=self.broker_epoch,
                     metadata_offset=request.metadata_offset)
            self.initial_catch_up.set()
        if resp.should_shut_down and self.state == "registered":
            log.warning("broker.told_to_shut_down", node_id=self.node_id)
            self.state = "stopped"

    # ------------------------------------------------------------ shutdown
    async def controlled_shutdown(self, timeout_s: float) -> bool:
        """Ask the controller to move this broker's leaderships away, then
        wait until the local image shows none left; stop heartbeating.
        Returns False if that did not finish within `timeout_s`, or as soon
        as the controller probe shows there is no controller to ask (the
        caller shuts down anyway; the session timeout will fence it)."""
        previous = self.state
        self.state = "shutting_down"
        if previous == "unregistered" or self.broker_epoch is None:
            self.state = "stopped"
            return True
        done = False
        with trio.move_on_after(timeout_s):
            async with trio.open_nursery() as nursery:
                if self.controller_probe is not None:
                    nursery.start_soon(self._give_up_without_controller, nursery.cancel_scope)
                await self._shutdown_steps()
                done = True
                nursery.cancel_scope.cancel()
        self.state = "stopped"
        log.info("broker.controlled_shutdown", node_id=self.node_id, done=done,
                 gave_up=self.shutdown_gave_up,
                 still_leading=len(self.metadata.image.partitions_led_by(self.node_id)))
        return done

    async def _shutdown_steps(self) -> None:
        assert self.broker_epoch is not None
        request = rq.ControlledShutdownRequest(self.node_id, self.broker_epoch)
        attempt = 0
        while True:
            try:
                await self._call(request)
                break
            except RafkaError as exc:
                if exc.code == ErrorCode.STALE_BROKER_EPOCH:
                    break  # the controller no longer knows this incarnation
                log.debug("broker.shutdown_retry", node_id=self.node_id, error=exc.code.name)
            except trio.TooSlowError:
                pass
            await trio.sleep(self._backoff_s(attempt))
            attempt += 1
        poll_s = self.config.shutdown_poll_ms / 1000
        while self.metadata.image.partitions_led_by(self.node_id):
            await trio.sleep(poll_s)

    async def _give_up_without_controller(self, scope: trio.CancelScope) -> None:
        """Cancel `scope` once the probe has said "no controller" for the
        whole grace period (any answer of None restarts the count)."""
        assert self.controller_probe is not None
        poll_s = self.config.shutdown_poll_ms / 1000
        grace_s = self.config.shutdown_no_controller_grace_ms / 1000
        since: float | None = None
        while True:
            reason = self.controller_probe()
            now = trio.current_time()
            if reason is None:
                since = None
            elif since is None:
                since = now
            if since is not None and now - since >= grace_s:
                self.shutdown_gave_up = reason
                log.warning("broker.controlled_shutdown_no_controller", node_id=self.node_id,
                            broker_epoch=self.broker_epoch, reason=reason)
                scope.cancel()
                return
            await trio.sleep(poll_s)
