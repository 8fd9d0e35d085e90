"""Reliability report: hostile inputs, load, hot reindex under load, overload, rate-limit
bypass attempts, hostile corpus files, and injected faults.

Everything runs against real `uvicorn api:app` processes on 127.0.0.1 with a
temporary copy of the corpus and a temporary index; counts and outcomes go
to eval/reports/reliability.{json,md}. The same behaviours are asserted by
tests/test_security.py, tests/test_corpus.py, tests/test_reliability.py and tests/test_load.py.

    python eval/bench_reliability.py
    python eval/bench_reliability.py --only overload,bypass,corpus_files --out /tmp/rel   # some sections, elsewhere
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import store  # noqa: E402
from qa.evaluation.loadtest import run_load  # noqa: E402
from qa.evaluation.report import REPORTS, md_table, write_report  # noqa: E402
from qa.evaluation.server import free_port, rss_mb, running_server, wait_healthy  # noqa: E402

ADMIN = "admin-key-for-the-reliability-run"
LETTER = "sheitc-2019-15.txt"
SECTIONS = ("inputs", "load", "rate_limit", "overload", "bypass", "corpus_files", "kill_9", "faults")
NORMAL_QUESTION = "5G覆盖哪些区域"


def hostile_inputs(base: str) -> list[dict]:
    big = b'{"question": "' + b"x" * 20000 + b'"}'

    def chunked():
        yield from (b"x" * 1024 for _ in range(40))

    cases = {
        "empty question": lambda c: c.post("/ask", json={"question": ""}),
        "whitespace only": lambda c: c.post("/ask", json={"question": " \n\t "}),
        "513 characters": lambda c: c.post("/ask", json={"question": "问" * 513}),
        "control characters": lambda c: c.post("/ask", json={"question": "问\x00题\x1b"}),
        "invalid UTF-8 body": lambda c: c.post("/ask", content=b'{"question": "\xff\xfe"}',
                                              headers={"content-type": "application/json"}),
        "invalid JSON": lambda c: c.post("/ask", content=b'{"question": ', headers={"content-type": "application/json"}),
        "wrong types": lambda c: c.post("/ask", json={"question": ["a"], "top_k": "x"}),
        "top_k out of range": lambda c: c.get("/search", params={"q": "5G", "k": 999}),
        "unknown mode": lambda c: c.get("/search", params={"q": "5G", "mode": "magic"}),
        "20 KB body with Content-Length": lambda c: c.post("/ask", content=big,
                                                          headers={"content-type": "application/json"}),
        "40 KB chunked body, no Content-Length": lambda c: c.post("/ask", content=chunked(),
                                                                   headers={"content-type": "application/json"}),
        "punctuation only": lambda c: c.post("/ask", json={"question": "？！。，、……"}),
        "emoji only": lambda c: c.post("/ask", json={"question": "😀🎉👍"}),
        "stop words only": lambda c: c.post("/ask", json={"question": "的了吗呢是"}),
        "script injection text": lambda c: c.post("/ask", json={"question": "<script>alert(1)</script>"}),
        "unknown passage id": lambda c: c.get("/passages/../../etc/passwd"),
        "unknown document id": lambda c: c.get("/documents/nope"),
        "admin without key": lambda c: c.post("/admin/reindex"),
    }
    rows = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for name, send in cases.items():
            r = send(client)
            body = r.text
            rows.append({"input": name, "status": r.status_code,
                         "clean_json_error": r.status_code < 400 or (r.headers.get("content-type", "").startswith(
                             "application/json") and "Traceback" not in body and "/work/" not in body)})
    return rows


def reindex_under_load(base: str, corpus: Path) -> dict:
    versions: list[str] = []
    errors: list[int] = []

    def reindexer() -> None:
        for n in range(3):
            time.sleep(2)
            letter = corpus / LETTER
            letter.write_text(letter.read_text("utf-8") + f"\n补充{n}：城市大脑。\n", "utf-8")
            r = httpx.post(f"{base}/admin/reindex", headers={"X-API-Key": ADMIN}, timeout=120)
            (versions if r.status_code == 200 else errors).append(r.json().get("index_version", r.status_code))

    thread = threading.Thread(target=reindexer)
    thread.start()
    result = asyncio.run(run_load(base, 3000, 16, 180, seed=5))
    thread.join()
    return {"reindexes": len(versions), "reindex_errors": len(errors), **result.summary()}


def kill_builds(corpus: Path, index: Path, attempts: int) -> dict:
    env = {"QA_CORPUS_DIR": str(corpus), "QA_INDEX_DIR": str(index), "HF_HUB_OFFLINE": "1"}
    import os

    full_env = {**os.environ, **env}
    subprocess.run([sys.executable, "-m", "qa.cli", "build"], cwd=ROOT, env=full_env, check=True,
                   capture_output=True)
    rng = random.Random(99)
    outcomes = Counter()
    for n in range(attempts):
        (corpus / LETTER).write_text((corpus / LETTER).read_text("utf-8") + f"\n修改{n}。\n", "utf-8")
        before = store.load(index).manifest.version
        proc = subprocess.Popen([sys.executable, "-m", "qa.cli", "build"], cwd=ROOT, env=full_env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, 4.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        try:
            after = store.load(index).manifest.version
            outcomes["previous index still loads" if after == before else "new index complete before kill"] += 1
        except Exception:  # noqa: BLE001 — any failure to load is what this counts
            outcomes["index unusable"] += 1
    final = subprocess.run([sys.executable, "-m", "qa.cli", "build"], cwd=ROOT, env=full_env, capture_output=True)
    outcomes["next build clean (exit 0, no leftovers)"] = int(final.returncode == 0 and not list(index.glob(".tmp-*")))
    return dict(outcomes)


def fault(name: str, env: dict, cmd: list[str], timeout: float = 120) -> dict:
    import os

    started = time.perf_counter()
    r = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout)
    lines = r.stderr.strip().splitlines()
    telling = [line for line in lines if "error" in line.lower() or "cannot" in line.lower() or "unusable" in line]
    message = telling[-1] if telling else (lines[-1] if lines else "")
    return {"fault": name, "exit_code": r.returncode, "seconds": round(time.perf_counter() - started, 1),
            "message": message[-200:]}


def _ms(seconds: list[float]) -> dict:
    ordered = sorted(seconds) or [0.0]
    return {"p50_ms": round(ordered[len(ordered) // 2] * 1000, 1), "max_ms": round(ordered[-1] * 1000, 1)}


def _random_text(seed: int, alphabet: str | None = None, start: int = 0x4E00, end: int = 0x9FA5, n: int = 512) -> str:
    rng = random.Random(seed)
    if alphabet:
        return "".join(rng.choice(alphabet) for _ in range(n))
    return "".join(chr(rng.randint(start, end)) for _ in range(n))


# 512 characters (the API's limit) of each kind; every repeat is new text, so no cache helps.
WORST_INPUTS: dict[str, Callable[[int], str]] = {
    "512 random CJK ideographs": lambda seed: _random_text(seed),
    "512 digits": lambda seed: _random_text(seed, "0123456789"),
    "512 mixed scripts (CJK, Latin, digits, punctuation)": lambda seed: _random_text(
        seed, "上海智慧城市建设5G网络abcXYZ0123456789，。、（）-_/ "),
    "512 emoji": lambda seed: _random_text(seed, start=0x1F600, end=0x1F64F),
    "512 characters of one repeated question": lambda seed: ("5G覆盖哪些区域" * 60)[: 512 - seed % 7],
    "512 rare CJK (extension A)": lambda seed: _random_text(seed, start=0x3400, end=0x4DB5),
}
def normal_questions(n: int) -> list[str]:
    """Distinct real questions from the letter's labelled set (distinct, so no cache flatters them)."""
    rows = [json.loads(line) for line in (ROOT / "eval" / "datasets" / "letter" / "queries.jsonl").open(encoding="utf-8")]
    return [row["text"] for row in rows if row.get("answerable")][:n]


def question_latency(base: str, repeats: int = 5) -> list[dict]:
    """One client at a time, after a warm-up: each worst-case kind (medians over `repeats` new texts) against
    normal questions."""
    rows = []
    with httpx.Client(base_url=base, timeout=120) as client:
        def measure(texts: list[str]) -> tuple[list[float], set[int]]:
            times, statuses = [], set()
            for text in texts:
                started = time.perf_counter()
                statuses.add(client.post("/ask", json={"question": text}).status_code)
                times.append(time.perf_counter() - started)
            return times, statuses

        questions = normal_questions(20 + 3)
        measure(questions[:3])  # warm-up: first-request costs are not the question's
        normal, statuses = measure(questions[3:])
        base_ms = _ms(normal)
        rows.append({"question": "normal questions (20 different, from the letter's set)", "status": sorted(statuses),
                     "requests": len(normal), **base_ms, "x_normal": 1.0})
        for name, make in WORST_INPUTS.items():
            times, statuses = measure([make(seed) for seed in range(repeats)])
            ms = _ms(times)
            rows.append({"question": name, "status": sorted(statuses), "requests": repeats, **ms,
                         "x_normal": round(ms["p50_ms"] / max(base_ms["p50_ms"], 1e-6), 1)})
    return rows


async def health_under_worst_case(base: str, concurrency: int = 40, time_limit_s: float = 180) -> dict:
    """`concurrency` different worst-case questions (512 random CJK) at once while GET /health is polled every 100 ms."""
    limits = httpx.Limits(max_connections=concurrency + 4)
    async with httpx.AsyncClient(base_url=base, timeout=time_limit_s, limits=limits) as client:
        started = time.perf_counter()

        async def ask(seed: int) -> tuple[int, float, str | None]:
            t0 = time.perf_counter()
            r = await client.post("/ask", json={"question": _random_text(seed)})
            return r.status_code, time.perf_counter() - t0, r.headers.get("retry-after")

        asks = [asyncio.create_task(ask(seed)) for seed in range(concurrency)]
        health: list[float] = []
        while not all(task.done() for task in asks) and time.perf_counter() - started < time_limit_s:
            t0 = time.perf_counter()
            await client.get("/health")
            health.append(time.perf_counter() - t0)
            await asyncio.sleep(0.1)
        replies = await asyncio.gather(*asks)
    statuses = Counter(status for status, _, _ in replies)
    return {
        "questions": concurrency, "ok_200": statuses.get(200, 0), "shed_503": statuses.get(503, 0),
        "other": sum(n for s, n in statuses.items() if s not in (200, 503)),
        "retry_after": ",".join(sorted({r for _, _, r in replies if r})) or "-",
        "slowest_question_s": round(max(t for _, t, _ in replies), 2),
        "health_checks": len(health), **{f"health_{k}": v for k, v in _ms(health).items()},
        "total_s": round(time.perf_counter() - started, 1),
    }


@contextmanager
def qa_serve(env: dict[str, str], timeout_s: float = 300) -> Iterator[str]:
    """`qa serve` (which hands QA_TRUSTED_PROXIES to uvicorn) on a free port; yields its URL."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([sys.executable, "-m", "qa.cli", "serve", "--port", str(port)], cwd=ROOT,
                                env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=log)
        try:
            wait_healthy(f"http://127.0.0.1:{port}", proc, timeout_s)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(timeout=30)


BYPASS_ATTEMPTS = {
    "X-API-Key: junk<i> (no keys configured)": lambda i: {"X-API-Key": f"junk{i}"},
    "X-Forwarded-For: 203.0.113.<i>": lambda i: {"X-Forwarded-For": f"203.0.113.{i}"},
}


def bypass_attempt(base: str, headers: Callable[[int], dict[str, str]], requests: int = 12) -> dict:
    """`requests` from 127.0.0.1, each with a fresh invented key or X-Forwarded-For."""
    with httpx.Client(base_url=base, timeout=30) as client:
        statuses = Counter(client.get("/search", params={"q": "5G"}, headers=headers(i)).status_code
                           for i in range(requests))
    return {"requests": requests, "ok_200": statuses.get(200, 0), "limited_429": statuses.get(429, 0)}


def hostile_corpus_files(base: str, corpus: Path) -> list[dict]:
    """Reindex with one hostile file at a time; the previous index must keep serving."""
    bomb = "---\ntitle: 炸弹\nl0: &l0 [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"l{i}: &l{i} [{','.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 10)) + "---\n正文。\n"

    def symlink() -> list[Path]:
        (corpus / "env.txt").symlink_to("/proc/self/environ")
        (corpus / "env.meta.json").write_text(json.dumps({"title": "环境"}), "utf-8")
        return [corpus / "env.txt", corpus / "env.meta.json"]

    def yaml_bomb() -> list[Path]:
        (corpus / "bomb.md").write_text(bomb, "utf-8")
        return [corpus / "bomb.md"]

    cases = {"env.txt -> /proc/self/environ (+ sidecar)": symlink,
             f"YAML alias bomb, {len(bomb.encode())} bytes (9^10 strings expanded)": yaml_bomb}
    rows = []
    with httpx.Client(base_url=base, timeout=120, headers={"X-API-Key": ADMIN}) as client:
        version = client.get("/health").json()["index_version"]
        for name, plant in cases.items():
            planted = plant()
            started = time.perf_counter()
            r = client.post("/admin/reindex")
            seconds = time.perf_counter() - started
            for path in planted:
                path.unlink()
            rows.append({"file": name, "reindex_status": r.status_code, "seconds": round(seconds, 2),
                         "message": r.json().get("message", "")[:90].replace("\n", " "),
                         "secret_in_reply": ADMIN in r.text or str(corpus) in r.text,
                         "GET /documents/env": client.get("/documents/env").status_code,
                         "still_serving_previous_index": client.get("/health").json()["index_version"] == version})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections of {SECTIONS}")
    parser.add_argument("--out", type=Path, default=REPORTS, help="report folder (default eval/reports)")
    args = parser.parse_args()
    only = set(args.only.split(","))
    if only - set(SECTIONS):
        parser.error(f"unknown sections {sorted(only - set(SECTIONS))}; choose from {SECTIONS}")
    work = Path(tempfile.mkdtemp(prefix="qa-reliability-"))
    corpus = work / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    env = {"QA_CORPUS_DIR": str(corpus), "QA_INDEX_DIR": str(work / "index"), "QA_ADMIN_KEYS": f'["{ADMIN}"]'}
    report: dict = {}
    md = ("# Reliability: hostile input, load, hot reindex, overload, rate-limit bypass, hostile files, faults\n\n"
          "Real `uvicorn api:app` servers on 127.0.0.1, temporary corpus and index.\n\n")
    if only & {"inputs", "load", "overload", "corpus_files"}:
        with running_server(env) as (base, proc):
            if "inputs" in only:
                report["inputs"] = hostile_inputs(base)
                md += "## Hostile and odd inputs\n\n" + md_table(report["inputs"])
            if "load" in only:
                asyncio.run(run_load(base, 300, 8, 60, seed=1))
                rss_start = rss_mb(proc.pid)
                load = asyncio.run(run_load(base, 5000, 32, 300, seed=2)).summary()
                report["load"] = {**load, "rss_start_mb": rss_start, "rss_end_mb": rss_mb(proc.pid)}
                report["reindex_under_load"] = reindex_under_load(base, corpus)
                md += ("\n## Load: 5,000 mixed requests (valid /ask and /search with checked answers, bad inputs) at "
                       "concurrency 32\n\n" + md_table([{k: v for k, v in report["load"].items() if k != "mix"}])
                       + f"\nMix: {report['load']['mix']}\n\n## Reindex three times during 3,000 requests at "
                       "concurrency 16\n\n"
                       + md_table([{k: v for k, v in report["reindex_under_load"].items() if k != "mix"}]))
            if "overload" in only:
                report["question_latency"] = question_latency(base)
                report["health_under_worst_case"] = asyncio.run(health_under_worst_case(base))
                md += ("\n## Worst-case questions\n\n512 characters (the limit) of each kind, a new text each "
                       "request (no cache helps), one at a time; `x_normal` = p50 over the normal questions' p50.\n\n"
                       + md_table(report["question_latency"])
                       + "\n## GET /health during 40 concurrent worst-case questions\n\n"
                       "Expensive routes run at most `QA_MAX_CONCURRENT` at once (2 x cores), `QA_MAX_QUEUE` wait "
                       "up to `QA_QUEUE_TIMEOUT` s, the rest get 503 + Retry-After; /health is `async def` and "
                       "never waits for them.\n\n" + md_table([report["health_under_worst_case"]]))
            if "corpus_files" in only:
                report["corpus_files"] = hostile_corpus_files(base, corpus)
                md += "\n## Hostile corpus files, then POST /admin/reindex\n\n" + md_table(report["corpus_files"])
    if "rate_limit" in only:
        with running_server({**env, "QA_RATE_LIMIT": "5/minute", "QA_INDEX_DIR": str(work / "index-rl")}) as (base, _):
            statuses = Counter(httpx.get(f"{base}/search", params={"q": "5G"}).status_code for _ in range(8))
            r = httpx.get(f"{base}/search", params={"q": "5G"})
            report["rate_limit"] = {"statuses": dict(statuses), "retry_after": r.headers.get("retry-after")}
        md += f"\n## Rate limit 5/minute, 9 requests\n\n{report['rate_limit']}\n\n"
    if "bypass" in only:
        limited = {**env, "QA_RATE_LIMIT": "5/minute", "QA_INDEX_DIR": str(work / "index-rl")}
        report["rate_limit_bypass"] = []
        for server, start in (("uvicorn api:app (uvicorn's defaults)", lambda: running_server(limited)),
                              ("qa serve, QA_TRUSTED_PROXIES unset", lambda: qa_serve(limited))):
            for attempt, headers in BYPASS_ATTEMPTS.items():
                with start() as served:  # a fresh server: a fresh limiter
                    base = served[0] if isinstance(served, tuple) else served
                    row = bypass_attempt(base, headers)
                report["rate_limit_bypass"].append({"server": server, "attempt": attempt, "limit": "5/minute", **row,
                                                    "bypassed": row["ok_200"] > 5})
        md += ("\n## Rate-limit bypass attempts (5/minute, from 127.0.0.1)\n\n"
               + md_table(report["rate_limit_bypass"]))
    if "kill_9" in only:
        report["kill_9_builds"] = kill_builds(corpus, work / "index-kill", attempts=5)
        md += "\n## kill -9 at a random point of `qa build` (5 times)\n\n" + md_table([report["kill_9_builds"]])
    if "faults" in only:
        blocker = work / "a-file"
        blocker.write_text("x")
        report["faults"] = [
            fault("missing model directory (qa build)", {**env, "QA_MODEL_CACHE_DIR": str(work / "none")},
                  [sys.executable, "-m", "qa.cli", "build"]),
            fault("missing model directory (uvicorn api:app)", {**env, "QA_MODEL_CACHE_DIR": str(work / "none")},
                  [sys.executable, "-m", "uvicorn", "api:app", "--port", "0"]),
            fault("unwritable index directory (qa build)", {**env, "QA_INDEX_DIR": str(blocker / "index")},
                  [sys.executable, "-m", "qa.cli", "build"]),
        ]
        index = work / "index-kill"
        if not store.current_version(index):
            subprocess.run([sys.executable, "-m", "qa.cli", "build"], cwd=ROOT, check=True, capture_output=True,
                           env={**os.environ, **env, "QA_INDEX_DIR": str(index)})
        (store.current_version(index) / "dense.faiss").write_bytes(b"\0" * 64)
        report["faults"].append(fault("truncated dense.faiss (qa ask)", {**env, "QA_INDEX_DIR": str(index),
                                                                          "QA_LOG_LEVEL": "INFO"},
                                      [sys.executable, "-m", "qa.cli", "ask", "5G覆盖哪些区域"]))
        md += "\n## Faults\n\n" + md_table(report["faults"])
    shutil.rmtree(work, ignore_errors=True)
    md += "\nRegenerate: `python eval/bench_reliability.py`\n"
    write_report("reliability", report, md, directory=args.out)
    print(md)


if __name__ == "__main__":
    main()
