"""Start a real `uvicorn api:app` on 127.0.0.1 in a subprocess, for benchmarks and load tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from qa.config import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def wait_healthy(base: str, proc: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise TimeoutError(f"server at {base} not healthy after {timeout_s} s")


@contextmanager
def running_server(env: dict[str, str], timeout_s: float = 300) -> Iterator[tuple[str, subprocess.Popen]]:
    """Yield (base URL, process) of a server started with `env` added to this environment.

    The server's log goes to a temporary file, not a pipe: nobody reads a pipe
    while the benchmark runs, and once its buffer fills with access-log lines
    the server blocks on its next log write.
    """
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "api:app", "--host", "127.0.0.1", "--port", str(port),
           "--log-level", "warning", "--no-access-log"]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env={**os.environ, **env},
                                stdout=subprocess.DEVNULL, stderr=log)
        base = f"http://127.0.0.1:{port}"
        try:
            try:
                wait_healthy(base, proc, timeout_s)
            except (RuntimeError, TimeoutError) as exc:
                log.seek(0)
                tail = log.read().decode("utf-8", "replace")[-2000:]
                raise RuntimeError(f"{exc}; server log ends with:\n{tail}") from None
            yield base, proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
