"""A bounded mixed-traffic load test against a running server (127.0.0.1 only).

Traffic: /ask and /search with known questions (their answers are checked),
plus bad inputs (empty, too long, bad mode, invalid JSON, oversized body)
whose exact error status is checked. Counts 5xx, wrong answers, wrong error
codes and dropped connections; reports latency percentiles.

A request that fails on a kept-alive connection before any response byte
(the server closed the connection as the request went out: HTTP/1.1's
keep-alive race) is sent once more (the pool drops the dead connection), as
browsers do, and counted in `retried_after_disconnect`; only a request that
fails again counts as dropped. About 1 in 10,000 mixed requests hit it here
(2026-12-07), never with /ask and /search alone; its cause is not found yet.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import numpy as np

# (question, a string the top passage must contain)
KNOWN = [
    ("5G覆盖哪些区域", "虹桥商务区"),
    ("4G用户占全市移动电话的比例是多少", "87%"),
    ("全市家庭光纤宽带用户有多少户", "644万户"),
    ("沪经信建〔2019〕15号", "沪经信建〔2019〕15号"),
    ("i-Shanghai覆盖多少公共场所", "2600处"),
    ("3252万", "3252万"),
]


@dataclass(frozen=True)
class Probe:
    kind: str
    send: Callable[[httpx.AsyncClient], object]
    check: Callable[[httpx.Response], bool]


def _top_contains(expected: str) -> Callable[[httpx.Response], bool]:
    def check(r: httpx.Response) -> bool:
        if r.status_code != 200:
            return False
        passages = r.json()["passages"]
        return bool(passages) and expected in passages[0]["text"]

    return check


def _status(code: int) -> Callable[[httpx.Response], bool]:
    return lambda r: r.status_code == code


def _ask(question: str) -> Callable[[httpx.AsyncClient], object]:
    return lambda client: client.post("/ask", json={"question": question})


def _search(question: str) -> Callable[[httpx.AsyncClient], object]:
    return lambda client: client.get("/search", params={"q": question, "k": 3})


def probes() -> list[Probe]:
    out = []
    for q, expected in KNOWN:
        out.append(Probe("ask", _ask(q), _top_contains(expected)))
        out.append(Probe("search", _search(q), _top_contains(expected)))
    out += [
        Probe("bad:empty", lambda c: c.post("/ask", json={"question": "  "}), _status(422)),
        Probe("bad:too-long", lambda c: c.post("/ask", json={"question": "问" * 600}), _status(422)),
        Probe("bad:mode", lambda c: c.get("/search", params={"q": "5G", "mode": "x"}), _status(422)),
        Probe("bad:json", lambda c: c.post("/ask", content=b"{not json", headers={"content-type": "application/json"}),
              _status(422)),
        Probe("bad:oversized", lambda c: c.post("/ask", content=b"x" * 40000, headers={"content-type": "application/json"}),
              _status(413)),
        Probe("bad:unknown-id", lambda c: c.get("/passages/nope"), _status(404)),
    ]
    return out


@dataclass
class LoadResult:
    requests: int = 0
    by_kind: Counter = field(default_factory=Counter)
    server_errors: int = 0
    wrong: int = 0
    dropped: int = 0
    retried: int = 0
    # what each dropped or retried request was and how it failed, so a failed run says where to look
    dropped_by: Counter = field(default_factory=Counter)
    retried_by: Counter = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> dict:
        lat = np.array(self.latencies_ms or [0.0])
        return {
            "requests": self.requests,
            "server_errors_5xx": self.server_errors,
            "wrong_or_unexpected": self.wrong,
            "dropped_connections": self.dropped,
            "retried_after_disconnect": self.retried,
            "p50_ms": round(float(np.percentile(lat, 50)), 1),
            "p99_ms": round(float(np.percentile(lat, 99)), 1),
            "throughput_rps": round(self.requests / self.seconds, 1) if self.seconds else 0.0,
            "mix": dict(self.by_kind),
        }


def _failure(probe: Probe, exc: Exception) -> str:
    """What a dropped or retried request was and how it failed ("ask: ReadError: ...")."""
    return f"{probe.kind}: {type(exc).__name__}: {exc}"


async def run_load(base: str, total: int, concurrency: int, time_limit_s: float, seed: int = 0,
                   between: Callable[[int], None] | None = None) -> LoadResult:
    """Send `total` mixed requests with `concurrency` workers, stopping at `time_limit_s`."""
    if not base.startswith(("http://127.0.0.1", "http://localhost")):
        raise ValueError("load tests run against 127.0.0.1 only")
    rng = random.Random(seed)
    pool = probes()
    plan = [rng.choice(pool) for _ in range(total)]
    result = LoadResult()
    queue = iter(enumerate(plan))
    deadline = time.perf_counter() + time_limit_s

    async def worker(client: httpx.AsyncClient) -> None:
        for i, probe in queue:
            if time.perf_counter() > deadline:
                return
            if between is not None:
                between(i)
            t0 = time.perf_counter()
            try:
                try:
                    response = await probe.send(client)  # type: ignore[misc]
                except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                    result.retried += 1
                    result.retried_by[_failure(probe, exc)] += 1
                    response = await probe.send(client)  # type: ignore[misc]
            except httpx.HTTPError as exc:
                result.dropped += 1
                result.dropped_by[_failure(probe, exc)] += 1
                continue
            finally:
                result.requests += 1
                result.by_kind[probe.kind] += 1
            result.latencies_ms.append((time.perf_counter() - t0) * 1000)
            if response.status_code >= 500:
                result.server_errors += 1
            elif not probe.check(response):
                result.wrong += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        result.seconds = time.perf_counter() - started
    return result
