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
from typing import IO

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


def startups(log: IO[bytes]) -> int:
    """How many server processes have logged that their application started (uvicorn, INFO level)."""
    log.seek(0)
    return log.read().decode("utf-8", "replace").count("Application startup complete")


@contextmanager
def server_process(
    module_args: list[str], env: dict[str, str], timeout_s: float = 300, workers: int = 0
) -> Iterator[tuple[str, subprocess.Popen, IO[bytes]]]:
    """Run `python -m <module_args> --host 127.0.0.1 --port <free port>` with `env` added to this
    environment; yield (base URL, process, its log) once /health answers and, with `workers`, that many
    processes have logged their start-up (one worker can answer /health before the others are up).

    The log goes to a temporary file, not a pipe: nobody reads a pipe while a benchmark runs, and once
    its buffer fills with log lines the server blocks on its next write.
    """
    port = free_port()
    cmd = [sys.executable, "-m", *module_args, "--host", "127.0.0.1", "--port", str(port)]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env={**os.environ, **env},
                                stdout=subprocess.DEVNULL, stderr=log)
        base = f"http://127.0.0.1:{port}"
        try:
            try:
                wait_healthy(base, proc, timeout_s)
                deadline = time.time() + timeout_s
                while startups(log) < workers and time.time() < deadline:
                    time.sleep(0.2)
                if startups(log) < workers:
                    raise TimeoutError(f"{workers} workers not started after {timeout_s} s")
            except (RuntimeError, TimeoutError) as exc:
                log.seek(0)
                tail = log.read().decode("utf-8", "replace")[-2000:]
                raise RuntimeError(f"{exc}; server log ends with:\n{tail}") from None
            yield base, proc, log
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextmanager
def running_server(env: dict[str, str], timeout_s: float = 300) -> Iterator[tuple[str, subprocess.Popen]]:
    """Yield (base URL, process) of `uvicorn api:app` started with `env` added to this environment."""
    args = ["uvicorn", "api:app", "--log-level", "warning", "--no-access-log"]
    with server_process(args, env, timeout_s) as (base, proc, _log):
        yield base, proc
