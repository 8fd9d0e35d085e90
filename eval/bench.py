"""Speed and cost of the service, against floors measured in the same run.

Starts `uvicorn api:app` on 127.0.0.1 (default corpus, a fresh temp index,
query-embedding cache off unless --cache), then measures over real HTTP:
/ask and /search latency p50/p95/p99 and throughput at each concurrency and
mode, plus the server's RSS before and after. In this process, on the same
index and model, it measures the floors: query encoding alone, FAISS search
alone, BM25 alone, and the retriever/answerer in-process, so the report can
state the service's overhead over what it fundamentally has to do.

    python eval/bench.py                     # writes eval/reports/bench.{json,md,png}
    python eval/bench.py --requests 100 --concurrency 1,8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.config import Settings  # noqa: E402
from qa.evaluation.datasets import load_dataset  # noqa: E402
from qa.evaluation.report import REPORTS, md_table, write_report  # noqa: E402
from qa.evaluation.server import rss_mb, running_server  # noqa: E402
from qa.service import QAService  # noqa: E402


def percentiles(values: list[float]) -> dict:
    a = np.array(values)
    return {f"p{q}": round(float(np.percentile(a, q)), 2) for q in (50, 95, 99)}


def timed(fn, repeats: int) -> list[float]:
    out = []
    for i in range(repeats):
        t0 = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def floors(service: QAService, questions: list[str], repeats: int) -> dict:
    """Per-call cost of each stage alone, in this process (no HTTP, no JSON)."""
    state = service.state
    inner = getattr(service.encoder, "inner", service.encoder)  # the model itself, without micro-batching
    vectors = inner.encode_queries(questions)
    terms = [state.terms(q) for q in questions]
    n = len(questions)
    rows = {
        "encode_query": timed(lambda i: inner.encode_queries([questions[i % n]]), repeats),
        "faiss_search": timed(lambda i: state.built.dense.search(vectors[i % n], 50), repeats),
        "bm25_scores": timed(lambda i: state.built.sparse.scores(terms[i % n]), repeats),
        "jieba_terms": timed(lambda i: state.terms(questions[i % n]), repeats),
        "search_in_process": timed(lambda i: service.search(questions[i % n], 5, "hybrid"), repeats),
        "ask_in_process": timed(lambda i: service.ask(questions[i % n], 5, "hybrid"), repeats),
    }
    return {name: percentiles(v)["p50"] for name, v in rows.items()}


def paired_overhead(service: QAService, base: str, questions: list[str], rounds: int, per_round: int) -> dict:
    """The overhead ratio with the noise paired out: each round times the floor (encode + FAISS + BM25,
    in this process) and then /ask hybrid over HTTP on the same questions, back to back, so a slow
    spell of this shared machine hits both sides of the ratio. Reports the median over rounds."""
    state = service.state
    inner = getattr(service.encoder, "inner", service.encoder)

    def floor_call(q: str) -> None:
        vector = inner.encode_queries([q])[0]
        state.built.dense.search(vector, 50)
        state.built.sparse.scores(state.terms(q))

    ratios, http_p50s, floor_p50s, health_p50s = [], [], [], []
    with httpx.Client(base_url=base, timeout=30) as client:
        for r in range(rounds):
            batch = [questions[(r * per_round + i) % len(questions)] for i in range(per_round)]
            floor_ms = timed(lambda i, b=batch: floor_call(b[i]), per_round)
            http_ms = timed(lambda i, b=batch: client.post("/ask", json={"question": b[i], "mode": "hybrid"}), per_round)
            health_ms = timed(lambda i: client.get("/health"), per_round)
            f, h = float(np.median(floor_ms)), float(np.median(http_ms))
            floor_p50s.append(f)
            http_p50s.append(h)
            health_p50s.append(float(np.median(health_ms)))
            ratios.append(h / f)
    return {
        "rounds": rounds,
        "requests_per_round": per_round,
        "ask_hybrid_c1_p50_ms": round(float(np.median(http_p50s)), 2),
        "floor_ms": round(float(np.median(floor_p50s)), 2),
        "health_ms": round(float(np.median(health_p50s)), 2),
        "overhead_ratio": round(float(np.median(ratios)), 2),
        "overhead_ratio_min": round(min(ratios), 2),
        "overhead_ratio_max": round(max(ratios), 2),
    }


async def load(base: str, endpoint: str, mode: str, concurrency: int, total: int, questions: list[str],
               timeout_s: float) -> dict:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))
    deadline = time.perf_counter() + timeout_s

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        for i in counter:
            if time.perf_counter() > deadline:
                return
            q = questions[i % len(questions)]
            t0 = time.perf_counter()
            try:
                if endpoint == "ask":
                    r = await client.post("/ask", json={"question": q, "top_k": 5, "mode": mode})
                else:
                    r = await client.get("/search", params={"q": q, "k": 5, "mode": mode})
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append((time.perf_counter() - t0) * 1000)
            errors += not ok

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return {"requests": len(latencies), "errors": errors, **percentiles(latencies),
            "throughput_rps": round(len(latencies) / wall, 1), "latencies": latencies}


def plot(runs: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    for r in runs:
        if r["concurrency"] == 1 and r["endpoint"] == "ask":
            left.hist(r["latencies"], bins=40, histtype="step", label=f"/ask {r['mode']}")
    left.set_xlabel("latency (ms), concurrency 1")
    left.set_ylabel("requests")
    left.legend()
    left.set_title("/ask latency distribution")
    for endpoint in ("ask", "search"):
        for mode in sorted({r["mode"] for r in runs}):
            pts = sorted((r["concurrency"], r["throughput_rps"]) for r in runs
                         if r["endpoint"] == endpoint and r["mode"] == mode)
            if pts:
                right.plot(*zip(*pts, strict=True), marker="o", label=f"/{endpoint} {mode}")
    right.set_xscale("log", base=2)
    right.set_xlabel("concurrency")
    right.set_ylabel("requests / s")
    right.legend(fontsize=7)
    right.set_title("throughput")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400, help="requests per (endpoint, mode, concurrency)")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--modes", default="dense,bm25,hybrid")
    parser.add_argument("--endpoints", default="ask,search")
    parser.add_argument("--timeout", type=float, default=120, help="seconds per measurement, at most")
    parser.add_argument("--cache", action="store_true", help="keep the query-embedding cache on")
    parser.add_argument("--name", default="bench")
    args = parser.parse_args()
    if not ({"ask"} <= set(args.endpoints.split(",")) and {"hybrid"} <= set(args.modes.split(","))
            and 1 in {int(c) for c in args.concurrency.split(",")}):
        parser.error("the summary compares /ask hybrid at concurrency 1 with its floor: keep ask, hybrid and 1")

    dataset = load_dataset(ROOT / "eval" / "datasets" / "letter")
    questions = [q.text for q in dataset.queries if q.answerable]
    random.Random(7).shuffle(questions)
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp:
        index_dir = Path(tmp) / "index"
        settings = Settings(index_dir=index_dir, query_cache_size=1024 if args.cache else 0)
        started = time.perf_counter()
        service = QAService.start(settings)  # builds the index the server will load
        build_s = time.perf_counter() - started
        built = service.state.built
        floor = floors(service, questions, 200)

        # default logging: the JSON access line per request is part of the service's cost
        env = {"QA_INDEX_DIR": str(index_dir), "QA_QUERY_CACHE_SIZE": str(settings.query_cache_size),
               "HF_HUB_OFFLINE": "1"}
        with running_server(env) as (base, server):
            for q in questions[:20]:  # warm-up: first-call allocations, caches of the answerer
                httpx.post(f"{base}/ask", json={"question": q}, timeout=30)
            rss_start = rss_mb(server.pid)
            paired = paired_overhead(service, base, questions, rounds=10, per_round=40)
            print({"paired": paired}, flush=True)
            runs = []
            for endpoint in args.endpoints.split(","):
                for mode in args.modes.split(","):
                    for c in (int(x) for x in args.concurrency.split(",")):
                        result = asyncio.run(load(base, endpoint, mode, c, args.requests, questions, args.timeout))
                        runs.append({"endpoint": endpoint, "mode": mode, "concurrency": c, **result})
                        print({k: v for k, v in runs[-1].items() if k != "latencies"}, flush=True)
            rss_end = rss_mb(server.pid)

    floor_sum = floor["encode_query"] + floor["faiss_search"] + floor["bm25_scores"]
    ask1 = next(r for r in runs if r["endpoint"] == "ask" and r["mode"] == "hybrid" and r["concurrency"] == 1)
    summary = {
        "index_build_s": round(build_s, 2),
        "passages": len(built.passages),
        "passages_per_s_build": round(len(built.passages) / build_s, 1),
        "server_rss_mb_start": rss_start,
        "server_rss_mb_end": rss_end,
        "ask_hybrid_c1_p50_ms": ask1["p50"],
        "overhead_ratio_vs_floor": paired["overhead_ratio"],
        "overhead_ratio_range": f"{paired['overhead_ratio_min']}–{paired['overhead_ratio_max']}",
        "overhead_ratio_vs_floor_plus_http": round(paired["ask_hybrid_c1_p50_ms"]
                                                   / (paired["floor_ms"] + paired["health_ms"]), 2),
        "unpaired_floor_ms": round(floor_sum, 2),
        "unpaired_ratio": round(ask1["p50"] / floor_sum, 2),
        "unpaired_ratio_vs_in_process_ask": round(ask1["p50"] / floor["ask_in_process"], 2),
        "inference": service.encoder.backend,
        "query_cache": args.cache,
    }
    table = [{k: v for k, v in r.items() if k != "latencies"} for r in runs]
    md = (
        "# Service speed on the default corpus (letter)\n\n"
        f"Server: `uvicorn api:app`, one process, on 127.0.0.1; load generator (httpx, asyncio) on the same "
        f"2-core machine. Query-embedding cache {'on' if args.cache else 'off'}; {len(questions)} distinct "
        f"questions cycled. Up to {args.requests} requests per row.\n\n"
        "## Summary\n\n" + md_table([summary]) + "\n"
        "## Overhead over the floor, paired\n\n"
        "Ten rounds; each times the floor (query encoding + FAISS + BM25, in the benchmark process) and then "
        "/ask hybrid over HTTP at concurrency 1 on the same 40 questions, then GET /health. The ratio is taken "
        "per round and the median reported, so the machine's slow spells hit both sides of it.\n\n"
        + md_table([paired]) + "\n"
        "## Floors (this process, same index and model, p50 ms per call)\n\n" + md_table([floor]) + "\n"
        "`overhead_ratio_vs_floor` (and its range over rounds) is the paired median above; "
        "`overhead_ratio_vs_floor_plus_http` divides by the floor plus GET /health with the same client (what any "
        "request costs: client, loopback, uvicorn, middleware). The `unpaired_*` ratios divide the load table's "
        "/ask p50 by the floors below, measured minutes apart; they swing with the machine's noise.\n\n"
        "## HTTP load\n\n"
        + md_table(table, ["endpoint", "mode", "concurrency", "requests", "errors", "p50", "p95", "p99",
                           "throughput_rps"])
        + f"\n![latency and throughput]({args.name}.png)\n\nRegenerate: `python eval/bench.py`\n"
    )
    data = {"summary": summary, "paired": paired, "floors_ms": floor, "runs": table, "args": vars(args)}
    write_report(args.name, data, md)
    plot(runs, REPORTS / f"{args.name}.png")
    print(md)
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
