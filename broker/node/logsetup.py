"""Structured logs for a node: JSON lines to a file, key=value on a terminal.

Why both: the JSON file (DATA_DIR/logs/node.jsonl) is what tests, jepsen
runs and operators grep and parse; the key=value stream on stderr is what a
human watching `rafka node start` reads. Every event carries `node_id`, so
lines from several nodes can be merged.

Invariant: the file never grows past `log_file_bytes_max`; when it would, it
is rotated once to node.jsonl.1 (the previous .1 is dropped), so a node's
logs use at most twice that many bytes.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, TextIO

import structlog

LOG_FILE_BYTES_MAX = 64 * 1024 * 1024
LOG_FILE_NAME = "node.jsonl"


class JsonLinesFile:
    """An append-only JSON-lines file with one-step rotation at a size limit."""

    def __init__(self, path: Path, bytes_max: int = LOG_FILE_BYTES_MAX) -> None:
        if bytes_max <= 0:
            raise ValueError("bytes_max must be positive")
        self.path = path
        self.bytes_max = bytes_max
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO = open(path, "a", encoding="utf-8")
        self._size = self._file.tell()

    def write_event(self, event: dict[str, Any]) -> None:
        line = json.dumps(event, default=str, separators=(",", ":")) + "\n"
        if self._size + len(line) > self.bytes_max and self._size > 0:
            self._rotate()
        self._file.write(line)
        self._file.flush()
        self._size += len(line)

    def _rotate(self) -> None:
        self._file.close()
        os.replace(self.path, self.path.with_name(self.path.name + ".1"))
        self._file = open(self.path, "a", encoding="utf-8")
        self._size = 0

    def close(self) -> None:
        self._file.close()


class _Tee:
    """A structlog processor: copy the event to the JSON file, pass it on."""

    def __init__(self, sink: JsonLinesFile) -> None:
        self.sink = sink

    def __call__(self, logger: Any, method_name: str, event_dict: dict) -> dict:
        self.sink.write_event(event_dict)
        return event_dict


def _drop(logger: Any, method_name: str, event_dict: dict) -> dict:
    """Last processor when the terminal is off: the file already has the event."""
    raise structlog.DropEvent


_sink: JsonLinesFile | None = None


def configure_logging(
    *,
    node_id: int | None,
    data_dir: str | Path | None = None,
    level: str = "info",
    stream: TextIO | None = None,
    log_file_bytes_max: int = LOG_FILE_BYTES_MAX,
    terminal: bool = True,
) -> Path | None:
    """Configure structlog for this process; return the JSON file's path.

    Called once per process, by `rafka node start` (with a data_dir) or a CLI
    command (without one: terminal only, warnings and up).
    """
    global _sink
    if _sink is not None:
        _sink.close()
        _sink = None
    level_no = logging.getLevelNamesMapping().get(level.upper())
    if level_no is None:
        raise ValueError(f"unknown log level {level!r}")
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
    ]
    if node_id is not None:
        bound_id = node_id

        def add_node_id(logger: Any, method_name: str, event_dict: dict) -> dict:
            event_dict.setdefault("node_id", bound_id)
            return event_dict

        processors.append(add_node_id)
    processors.append(structlog.processors.format_exc_info)
    path: Path | None = None
    if data_dir is not None:
        path = Path(data_dir) / "logs" / LOG_FILE_NAME
        _sink = JsonLinesFile(path, log_file_bytes_max)
        processors.append(_Tee(_sink))
    if not terminal:
        processors.append(_drop)
    processors.append(
        structlog.processors.KeyValueRenderer(
            key_order=["ts", "level", "event", "node_id"], drop_missing=True
        )
    )
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level_no),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
    return path
