"""Start one real rafka node (combined roles) with a Kafka listener, for
scripts that need a running broker (the Kafka fuzzer, the kafka-requests
benchmark). The caller stops it by pid (`stop_node`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import trio

from rafka.broker.client.kio_client import KioConnection
from rafka.broker.node.config import render_config
from rafka.broker.node.meta_properties import format_dir
from rafka.netproto.ports import free_ports


def start_node(root: Path, kafka_settings: dict[str, int | bool] | None = None) -> tuple[subprocess.Popen, int]:
    """Format root/node-1 and start `rafka node start` there; returns the
    process and the Kafka port."""
    node_dir = root / "node-1"
    format_dir(node_dir, 1)
    peer, kafka = free_ports(2)
    text = render_config(node_id=1, data_dir=str(node_dir),
                         peer=f"127.0.0.1:{peer}", voters={1: f"127.0.0.1:{peer}"},
                         kafka=f"127.0.0.1:{kafka}")
    if kafka_settings:
        text += "\n[kafka]\n" + "".join(
            f"{k} = {str(v).lower() if isinstance(v, bool) else v}\n" for k, v in kafka_settings.items())
    (node_dir / "node.toml").write_text(text)
    out = open(node_dir / "node.out", "ab")
    try:
        proc = subprocess.Popen([sys.executable, "-m", "rafka.broker.cli", "node", "start", "--config",
                                 str(node_dir / "node.toml")], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    finally:
        out.close()
    return proc, kafka


async def wait_ready(port: int, timeout_s: float = 60.0) -> None:
    """Until Metadata from the node lists broker 1 (registered, unfenced)."""
    from kio.schema.metadata.v12.request import MetadataRequest

    req = MetadataRequest(topics=None, allow_auto_topic_creation=False, include_topic_authorized_operations=False)
    with trio.fail_after(timeout_s):
        while True:
            try:
                conn = await KioConnection.connect("127.0.0.1", port)
                try:
                    if [b.node_id for b in (await conn.request(req)).brokers] == [1]:
                        return
                finally:
                    await conn.aclose()
            except (OSError, Exception):  # noqa: BLE001 - not up yet
                pass
            await trio.sleep(0.1)


def stop_node(proc: subprocess.Popen, timeout_s: float = 15.0) -> int:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            return proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            return proc.wait(timeout=timeout_s)
    return proc.returncode
