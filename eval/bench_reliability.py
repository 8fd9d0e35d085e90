"""Reliability report: hostile inputs, load, hot reindex under load, and injected faults.

Everything runs against real `uvicorn api:app` processes on 127.0.0.1 with a
temporary copy of the corpus and a temporary index; counts and outcomes go
to eval/reports/reliability.{json,md}. The same behaviours are asserted by
tests/test_security.py, tests/test_reliability.py and tests/test_load.py.

    python eval/bench_reliability.py
"""

from __future__ import annotations

import asyncio
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import store  # noqa: E402
from qa.evaluation.loadtest import run_load  # noqa: E402
from qa.evaluation.report import md_table, write_report  # noqa: E402
from qa.evaluation.server import rss_mb, running_server  # noqa: E402

ADMIN = "admin-key-for-the-reliability-run"
LETTER = "sheitc-2019-15.txt"


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


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="qa-reliability-"))
    corpus = work / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    env = {"QA_CORPUS_DIR": str(corpus), "QA_INDEX_DIR": str(work / "index"), "QA_ADMIN_KEYS": f'["{ADMIN}"]'}
    report: dict = {}
    with running_server(env) as (base, proc):
        report["inputs"] = hostile_inputs(base)
        asyncio.run(run_load(base, 300, 8, 60, seed=1))
        rss_start = rss_mb(proc.pid)
        load = asyncio.run(run_load(base, 5000, 32, 300, seed=2)).summary()
        report["load"] = {**load, "rss_start_mb": rss_start, "rss_end_mb": rss_mb(proc.pid)}
        report["reindex_under_load"] = reindex_under_load(base, corpus)
    with running_server({**env, "QA_RATE_LIMIT": "5/minute", "QA_INDEX_DIR": str(work / "index-rl")}) as (base, _):
        statuses = Counter(httpx.get(f"{base}/search", params={"q": "5G"}).status_code for _ in range(8))
        r = httpx.get(f"{base}/search", params={"q": "5G"})
        report["rate_limit"] = {"statuses": dict(statuses), "retry_after": r.headers.get("retry-after")}
    report["kill_9_builds"] = kill_builds(corpus, work / "index-kill", attempts=5)
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
    version = store.current_version(work / "index-kill")
    (version / "dense.faiss").write_bytes(b"\0" * 64)
    report["faults"].append(fault("truncated dense.faiss (qa ask)", {**env, "QA_INDEX_DIR": str(work / "index-kill"),
                                                                      "QA_LOG_LEVEL": "INFO"},
                                  [sys.executable, "-m", "qa.cli", "ask", "5G覆盖哪些区域"]))
    shutil.rmtree(work, ignore_errors=True)

    md = (
        "# Reliability: hostile input, load, hot reindex, faults\n\n"
        "Real `uvicorn api:app` servers on 127.0.0.1, temporary corpus and index.\n\n"
        "## Hostile and odd inputs\n\n" + md_table(report["inputs"])
        + "\n## Load: 5,000 mixed requests (valid /ask and /search with checked answers, bad inputs) at "
        "concurrency 32\n\n" + md_table([{k: v for k, v in report["load"].items() if k != "mix"}])
        + f"\nMix: {report['load']['mix']}\n\n## Reindex three times during 3,000 requests at concurrency 16\n\n"
        + md_table([{k: v for k, v in report["reindex_under_load"].items() if k != "mix"}])
        + f"\n## Rate limit 5/minute, 9 requests\n\n{report['rate_limit']}\n\n"
        "## kill -9 at a random point of `qa build` (5 times)\n\n" + md_table([report["kill_9_builds"]])
        + "\n## Faults\n\n" + md_table(report["faults"]) + "\nRegenerate: `python eval/bench_reliability.py`\n"
    )
    write_report("reliability", report, md)
    print(md)


if __name__ == "__main__":
    main()
