"""The harness's side of lazyfs: can this machine run it, start one per
node (its own process), send it `drop`, stop it (fusermount3 -u, then by
pid), all bounded."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]


def unavailable_reason() -> str | None:
    """None when lazyfs can run here, else why not (one line)."""
    if os.geteuid() != 0:
        return "lazyfs needs root (it mounts a FUSE file system)"
    if not os.path.exists("/dev/fuse"):
        return "lazyfs needs /dev/fuse, which this machine does not have"
    if shutil.which("fusermount3") is None:
        return "lazyfs needs fusermount3 (apt-get install -y fuse3)"
    try:
        import pyfuse3  # noqa: F401
    except ImportError:
        return ("lazyfs needs pyfuse3 (apt-get install -y libfuse3-dev pkg-config; "
                "pip install -e '.[test]' or '.[jepsen]')")
    return None


class LazyFsError(RuntimeError):
    pass


class LazyFs:
    """One lazyfs process: BACKING mounted at MOUNT."""

    def __init__(self, backing: Path, mount: Path, log_path: Path,
                 passthrough: tuple[str, ...] = ()) -> None:
        self.backing, self.mount, self.log_path = Path(backing), Path(mount), Path(log_path)
        self.passthrough = passthrough
        self.control = f"rafka-lazyfs-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 30.0) -> None:
        self.backing.mkdir(parents=True, exist_ok=True)
        self.mount.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "tests.jepsen.fuse", str(self.backing), str(self.mount),
                "--control", self.control]
        for name in self.passthrough:
            argv += ["--passthrough", name]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True,
                                         cwd=str(REPO_ROOT), env=env)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise LazyFsError(f"lazyfs for {self.mount} exited with {self.proc.returncode}; "
                                  f"see {self.log_path}")
            try:
                if self.command("ping", timeout_s=1.0) == "ok" and os.path.ismount(self.mount):
                    return
            except OSError:
                pass
            time.sleep(0.05)  # wait-ok: poll interval, bounded by the deadline above
        self.stop()
        raise LazyFsError(f"lazyfs for {self.mount} not ready after {timeout_s}s; see {self.log_path}")

    def command(self, cmd: str, timeout_s: float = 30.0) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout_s)
            s.connect("\0" + self.control)
            s.sendall(cmd.encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        return data.decode().strip()

    def drop(self, torn_seed: int | None = None) -> dict:
        """Lose everything not fsynced (with `torn_seed`: a random part of
        it, as a kernel may have written some back); returns what was lost."""
        reply = self.command("drop" if torn_seed is None else f"drop torn {int(torn_seed)}")
        try:
            return json.loads(reply)
        except ValueError:
            raise LazyFsError(f"lazyfs drop failed: {reply!r}") from None

    def stop(self, timeout_s: float = 10.0) -> None:
        """Unmount and end the process (by pid); safe to call twice."""
        if os.path.ismount(self.mount):
            subprocess.run(["fusermount3", "-u", str(self.mount)], capture_output=True,
                           timeout=timeout_s)
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if os.path.ismount(self.mount):
            subprocess.run(["fusermount3", "-u", "-z", str(self.mount)], capture_output=True,
                           timeout=timeout_s)
