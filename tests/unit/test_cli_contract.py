"""The CLI contract: usage errors are one line with a non-zero exit."""

import json
import subprocess
import sys


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "rafka.broker.cli", *args], capture_output=True, text=True, timeout=60
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


def test_global_flags_before_the_command_are_honoured(tmp_path):
    """Goal: `rafka --bootstrap X topics list` talks to X (seen: the
    command's default silently replaced it), and `rafka --json ...` gives
    JSON. A bootstrap nobody listens on must fail as unreachable, naming it."""
    proc = run("--json", "--bootstrap", "127.0.0.1:1", "topics", "list", "--timeout-s", "1")
    assert proc.returncode != 0
    err = json.loads(proc.stderr.strip())
    assert err["error"] == "NETWORK_EXCEPTION"
    assert "127.0.0.1:1" in err["message"]


def test_global_flags_after_the_command_still_work():
    """Goal: the same flags placed after the command keep working."""
    proc = run("topics", "list", "--bootstrap", "127.0.0.1:1", "--json", "--timeout-s", "1")
    assert proc.returncode != 0
    assert json.loads(proc.stderr.strip())["error"] == "NETWORK_EXCEPTION"
