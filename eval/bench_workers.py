"""Throughput of `qa serve --workers N`: /ask (hybrid) at concurrency 32 against 1 and 2 workers.

Copies the default corpus into a temp dir, builds its index once, then starts one real server per
configuration on 127.0.0.1 (all alive at once, idle between turns) and measures them in alternating
rounds, so a slow spell of this shared machine hits every configuration alike. Each turn sends a
bounded number of requests after a warm-up; the query-embedding cache is off (every question is
encoded, as in eval/bench.py). The load generator runs on the same machine as the servers.

    python eval/bench_workers.py                       # writes eval/reports/workers.{json,md}
    python eval/bench_workers.py --requests 200 --rounds 1
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))

from bench import load  # noqa: E402

from qa.config import Settings  # noqa: E402
from qa.evaluation.datasets import load_dataset  # noqa: E402
from qa.evaluation.report import md_table, write_report  # noqa: E402
from qa.evaluation.server import rss_mb, server_process  # noqa: E402

# (label, workers, extra environment)
CONFIGS = [
    ("1 worker", 1, {}),
    ("2 workers", 2, {}),
    ("1 worker, QA_THREADS=1", 1, {"QA_THREADS": "1"}),
    ("2 workers, QA_THREADS=1", 2, {"QA_THREADS": "1"}),
]


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the supervisor and its workers), from /proc."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return round(rss_mb(pid) + sum(rss_mb(int(c)) for c in children), 1)


@contextmanager
def serving(env: dict[str, str], workers: int, timeout_s: float = 300) -> Iterator[tuple[str, subprocess.Popen]]:
    """`qa serve --workers N` on a free 127.0.0.1 port; yields once every worker has started."""
    with server_process(["qa.cli", "serve", "--workers", str(workers)], env, timeout_s, workers) as (base, proc, _):
        yield base, proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400, help="measured requests per configuration and round")
    parser.add_argument("--warmup", type=int, default=64, help="requests per configuration before measuring")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120, help="seconds per measurement, at most")
    parser.add_argument("--name", default="workers")
    args = parser.parse_args()

    dataset = load_dataset(ROOT / "eval" / "datasets" / "letter")
    questions = [q.text for q in dataset.queries if q.answerable]
    random.Random(7).shuffle(questions)
    default_corpus = Settings().corpus_dir
    with tempfile.TemporaryDirectory(prefix="qa-bench-workers-") as tmp, ExitStack() as servers:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(default_corpus, corpus)
        env = {
            "QA_CORPUS_DIR": str(corpus),
            "QA_INDEX_DIR": str(Path(tmp) / "index"),
            "QA_QUERY_CACHE_SIZE": "0",
            "HF_HUB_OFFLINE": "1",
        }
        bases = {}
        for label, workers, extra in CONFIGS:  # one at a time: the first builds the index, the rest load it
            base, proc = servers.enter_context(serving({**env, **extra}, workers))
            bases[label] = (base, proc)
        for base, _ in bases.values():
            asyncio.run(load(base, "ask", "hybrid", args.concurrency, args.warmup, questions, args.timeout))
        runs: dict[str, list[dict]] = {label: [] for label in bases}
        for r in range(args.rounds):
            for label, (base, _) in bases.items():
                result = asyncio.run(load(base, "ask", "hybrid", args.concurrency, args.requests, questions, args.timeout))
                runs[label].append(result)
                print({"round": r, "config": label, **{k: v for k, v in result.items() if k != "latencies"}}, flush=True)
        rss = {label: tree_rss_mb(proc.pid) for label, (_, proc) in bases.items()}

    rows = []
    for label, workers, _ in CONFIGS:
        latencies = [x for run in runs[label] for x in run["latencies"]]
        rps = [run["throughput_rps"] for run in runs[label]]
        rows.append(
            {
                "config": label,
                "workers": workers,
                "requests": len(latencies),
                "errors": sum(run["errors"] for run in runs[label]),
                "req_per_s": round(float(np.median(rps)), 1),
                "req_per_s_range": f"{min(rps)}–{max(rps)}",
                "p50_ms": round(float(np.percentile(latencies, 50)), 1),
                "p99_ms": round(float(np.percentile(latencies, 99)), 1),
                "rss_mb": rss[label],
            }
        )
    single = rows[0]["req_per_s"]
    for row in rows:
        row["vs_1_worker"] = f"{row['req_per_s'] / single:.2f}×"
    md = (
        "# `qa serve --workers N`: /ask throughput\n\n"
        f"/ask (mode hybrid, top_k 5) at concurrency {args.concurrency} over HTTP on 127.0.0.1, the default corpus "
        f"({len(questions)} answerable letter questions cycled), query-embedding cache off. {args.rounds} rounds "
        f"alternating the configurations, {args.requests} requests each after {args.warmup} warm-up requests; "
        "req/s is the median over rounds (range beside it), p50/p99 over all measured requests of a configuration. "
        "rss_mb: supervisor plus workers at the end. The load generator (httpx AsyncClient) shares the "
        f"machine ({os.cpu_count()} CPUs) with the servers.\n\n"
        + md_table(
            rows,
            [
                "config",
                "workers",
                "requests",
                "errors",
                "req_per_s",
                "req_per_s_range",
                "vs_1_worker",
                "p50_ms",
                "p99_ms",
                "rss_mb",
            ],
        )
        + "\nQA_THREADS caps each worker's inference threads (default: the library's, one per core), so that "
        "two workers do not each spread one query over every core.\n\n"
        "Regenerate: `python eval/bench_workers.py`\n"
    )
    write_report(args.name, {"rows": rows, "args": vars(args)}, md)
    print(md)


if __name__ == "__main__":
    main()
