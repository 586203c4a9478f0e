"""Goal: a running node survives random and mutated Kafka frames (valid
headers with corrupted bodies, hostile lengths, truncated frames, garbage,
slow senders) and keeps answering a liveness probe and a real client
throughout. A short run of scripts/fuzz_kafka.py (the full run sends
100,000+ frames: `python scripts/fuzz_kafka.py`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import subprocess_env

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fuzz_kafka.py"


def test_fuzz_short_run_node_survives_and_answers():
    out = subprocess.run([sys.executable, str(SCRIPT), "--frames", "3000", "--seed", "7"],
                         capture_output=True, text=True, timeout=240, env=subprocess_env())
    last = out.stdout.strip().splitlines()[-1]
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert last.startswith("kafka-fuzz: ") and "node alive, crashes 0" in last
