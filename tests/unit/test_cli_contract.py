"""The CLI contract: usage errors are one line with a non-zero exit."""

import json
import subprocess
import sys


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "broker.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_help_exits_zero():
    proc = run("--help")
    assert proc.returncode == 0
    assert "rafka" in proc.stdout


def test_unknown_flag_is_one_line_error():
    proc = run("--no-such-flag")
    assert proc.returncode != 0
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_unknown_flag_json_error_shape():
    proc = run("--json", "--no-such-flag")
    assert proc.returncode != 0
    err = json.loads(proc.stderr.strip())
    assert set(err) >= {"error", "message"}
