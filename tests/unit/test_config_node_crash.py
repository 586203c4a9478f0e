"""A node that crashes says why: `main_node` digs the root cause out of
trio's nested exception groups, logs a `node_crashed` event (type, message,
traceback) to node.jsonl, and the CLI prints one NODE_CRASHED line."""

from __future__ import annotations

import json
import sys

import pytest
import structlog
import trio

import rafka.broker.node.node as node_module
from rafka.broker.node import logsetup
from rafka.broker.cli.main import main
from rafka.broker.node.config import parse_config, render_config
from rafka.broker.node.meta_properties import format_dir
from rafka.broker.node.node import NodeCrashedError, NodeStartError, main_node


class MetadataApplyError(Exception):
    pass


def _crash_deep(*causes: BaseException):
    """A fake run_node whose failure is wrapped like a real one: a task two
    nurseries deep raises; each cause in its own task."""

    async def run_node(config, identity, *, bench, exit_with_parent):
        async def fail(exc):
            raise exc  # no checkpoint first: every cause is raised

        async with trio.open_nursery() as outer:
            async with trio.open_nursery() as inner:
                for exc in causes:
                    inner.start_soon(fail, exc)
                outer.start_soon(trio.sleep_forever)
        return 0

    return run_node


@pytest.fixture
def node_setup(tmp_path):
    """A formatted node (config + identity) logging to tmp_path; the
    process-wide logging and GIL settings are put back afterwards."""
    interval = sys.getswitchinterval()
    data = tmp_path / "data"
    identity, _ = format_dir(data, 1)
    text = render_config(
        node_id=1, data_dir="data", peer="127.0.0.1:2",
        voters={1: "127.0.0.1:2"},
    )  # fmt: skip
    (tmp_path / "node.toml").write_text(text)
    import tomllib

    config = parse_config(tomllib.loads(text), tmp_path)
    yield config, identity, data
    if logsetup._sink is not None:
        logsetup._sink.close()
        logsetup._sink = None
    structlog.reset_defaults()
    sys.setswitchinterval(interval)


def _events(data):
    path = data / "logs" / logsetup.LOG_FILE_NAME
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_crash_names_the_root_cause_and_logs_it_with_a_traceback(node_setup, monkeypatch):
    """Goal: the error names `MetadataApplyError: ...`, not `ExceptionGroup:
    Exceptions from Trio nursery`, and node.jsonl's last event is an error
    `node_crashed` with type, message and traceback."""
    config, identity, data = node_setup
    logsetup.configure_logging(node_id=1, data_dir=data, terminal=False)
    cause = MetadataApplyError("orders-2: leader 3 not in isr (1,)")
    monkeypatch.setattr(node_module, "run_node", _crash_deep(cause))
    with pytest.raises(NodeCrashedError) as info:
        main_node(config, identity)
    assert info.value.code == "NODE_CRASHED"
    assert info.value.message == "MetadataApplyError: orders-2: leader 3 not in isr (1,)"
    last = _events(data)[-1]
    assert last["event"] == "node_crashed" and last["level"] == "error"
    assert last["node_id"] == 1
    assert last["error_type"] == "MetadataApplyError"
    assert last["error"] == "orders-2: leader 3 not in isr (1,)"
    assert "in fail" in last["traceback"] and "MetadataApplyError" in last["traceback"]


def test_several_root_causes_are_all_named(node_setup, monkeypatch):
    """Goal: when two tasks fail together, both causes reach the one line
    and each gets its own node_crashed event."""
    config, identity, data = node_setup
    logsetup.configure_logging(node_id=1, data_dir=data, terminal=False)
    monkeypatch.setattr(
        node_module, "run_node", _crash_deep(ValueError("bad\nframe"), KeyError("orders"))
    )
    with pytest.raises(NodeCrashedError) as info:
        main_node(config, identity)
    # trio runs the two tasks in either order
    assert sorted(info.value.message.split("; ")) == ["KeyError: 'orders'", "ValueError: bad frame"]
    crashed = [e for e in _events(data) if e["event"] == "node_crashed"]
    assert sorted(e["error_type"] for e in crashed) == ["KeyError", "ValueError"]


def test_start_refusal_inside_groups_stays_a_start_error(node_setup, monkeypatch):
    """Goal: a NodeStartError (port in use) keeps its own code, however
    deep trio wrapped it, and is not reported as a crash."""
    config, identity, _ = node_setup
    monkeypatch.setattr(
        node_module, "run_node", _crash_deep(NodeStartError("PORT_IN_USE", "cannot listen"))
    )
    with pytest.raises(NodeStartError) as info:
        main_node(config, identity)
    assert info.value.code == "PORT_IN_USE"


def test_cli_prints_one_node_crashed_line_and_exits_non_zero(node_setup, monkeypatch, capsys, tmp_path):
    """Goal: `rafka node start` on a crash prints exactly one line
    `error: NODE_CRASHED: <Type>: <message>` and exits 1, and node.jsonl
    holds the node_crashed event."""
    _, _, data = node_setup
    cause = MetadataApplyError("orders-2: leader 3 not in isr (1,)")
    monkeypatch.setattr(node_module, "run_node", _crash_deep(cause))
    code = main(["node", "start", "--config", str(tmp_path / "node.toml"), "--no-terminal-log"])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err == "error: NODE_CRASHED: MetadataApplyError: orders-2: leader 3 not in isr (1,)"
    assert any(e["event"] == "node_crashed" for e in _events(data))
