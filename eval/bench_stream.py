"""Streaming: time to the first passage and to the first answer token on /ask/stream, against /ask.

Two real `uvicorn api:app` servers on 127.0.0.1 over the default corpus: one extractive, one with
the LLM option pointed at the scripted OpenAI-compatible server (qa.evaluation.scripted_llm), which
waits `--llm-delay` s before its first byte and `--chunk-delay` s between its pieces. Those scripted
waits are subtracted, so the LLM rows show what the service itself adds. One client, questions
asked one after another, after a warm-up.

    python eval/bench_stream.py              # writes eval/reports/stream.{json,md}
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.evaluation.datasets import load_dataset  # noqa: E402
from qa.evaluation.report import md_table, write_report  # noqa: E402
from qa.evaluation.scripted_llm import Script, ScriptedLLM, split_reply  # noqa: E402
from qa.evaluation.server import running_server  # noqa: E402

REPLY = "本市已建成5G百站规模试验网，覆盖虹桥商务区、虹口北外滩、徐汇滨江等区域[1]。4G用户达3252万号[2]。"


def ask(client: httpx.Client, base: str, question: str) -> float:
    started = time.perf_counter()
    client.post(f"{base}/ask", json={"question": question}).raise_for_status()
    return (time.perf_counter() - started) * 1000


def stream(client: httpx.Client, base: str, question: str) -> dict[str, float]:
    """Milliseconds from sending to each event's first arrival (passages, token, answer)."""
    started = time.perf_counter()
    seen: dict[str, float] = {}
    with client.stream("POST", f"{base}/ask/stream", json={"question": question}) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith("event: "):
                seen.setdefault(line[7:], (time.perf_counter() - started) * 1000)
    assert "answer" in seen, seen
    return seen


def p50(values: list[float]) -> float:
    return round(statistics.median(values), 2)


def measure(base: str, questions: list[str], repeats: int, scripted_first: float, scripted_total: float) -> list[dict]:
    with httpx.Client(timeout=60) as client:
        for q in questions[:10]:
            ask(client, base, q)
            stream(client, base, q)
        asks, passages, tokens, answers = [], [], [], []
        for _ in range(repeats):
            for q in questions:
                asks.append(ask(client, base, q) - scripted_total)
                seen = stream(client, base, q)
                passages.append(seen["passages"])
                if "token" in seen:
                    tokens.append(seen["token"] - scripted_first)
                answers.append(seen["answer"] - scripted_total)
    rows = [{"measure": "/ask, whole response", "p50 ms": p50(asks), "× /ask": 1.0},
            {"measure": "/ask/stream, first passage", "p50 ms": p50(passages),
             "× /ask": round(p50(passages) / p50(asks), 3)}]
    if tokens:
        rows.append({"measure": "/ask/stream, first answer token", "p50 ms": p50(tokens),
                     "× /ask": round(p50(tokens) / p50(asks), 3)})
    rows.append({"measure": "/ask/stream, final answer event", "p50 ms": p50(answers),
                 "× /ask": round(p50(answers) / p50(asks), 3)})
    return [{**r, "requests": len(asks)} for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--questions", type=int, default=30)
    parser.add_argument("--llm-delay", type=float, default=0.2, help="scripted seconds before the LLM's first byte")
    parser.add_argument("--chunk-delay", type=float, default=0.01)
    parser.add_argument("--chunks", type=int, default=12)
    args = parser.parse_args()
    letter = load_dataset(ROOT / "eval" / "datasets" / "letter")
    questions = [q.text for q in letter.queries if q.answerable][: args.questions]
    # No query-embedding cache: the questions repeat, and a cache hit would hide the model.
    env = {"HF_HUB_OFFLINE": "1", "QA_LOG_LEVEL": "WARNING", "QA_QUERY_CACHE_SIZE": "0"}
    results = {}
    with running_server(env) as (base, _):
        results["extractive"] = measure(base, questions, args.repeats, 0.0, 0.0)
    script = Script(reply=REPLY, chunks=args.chunks, delay=args.llm_delay, chunk_delay=args.chunk_delay)
    pieces = len(split_reply(REPLY, args.chunks))
    # The scripted server sleeps `delay`, then `chunk_delay` between its events (role, pieces, stop).
    first_ms = 1000 * (args.llm_delay + args.chunk_delay)
    total_ms = 1000 * (args.llm_delay + (pieces + 1) * args.chunk_delay)
    with ScriptedLLM(script) as llm:
        llm_env = {**env, "QA_LLM_BASE_URL": llm.base_url, "QA_LLM_MODEL": "scripted"}
        with running_server(llm_env) as (base, _):
            results["llm"] = measure(base, questions, args.repeats, first_ms, total_ms)
            calls = llm.calls
    tables = []
    for name, rows in results.items():
        tables += [f"## {name}", "", md_table(rows), ""]
    md = "\n".join([
        "# Streaming: /ask/stream against /ask", "",
        "Regenerate: `python eval/bench_stream.py`. Two `uvicorn api:app` servers on 127.0.0.1 over the default "
        f"corpus, query-embedding cache off, one client, {len(questions)} letter questions × {args.repeats} after "
        "a warm-up. The LLM rows use "
        f"the scripted OpenAI-compatible server ({args.llm_delay} s before its first byte, {pieces} pieces "
        f"{args.chunk_delay} s apart); those scripted waits ({first_ms:.0f} ms to the first piece, {total_ms:.0f} ms "
        f"in all) are subtracted. The scripted server answered {calls} generations.", "", *tables,
    ])
    write_report("stream", {"results": results, "args": vars(args)}, md)
    print(md)


if __name__ == "__main__":
    main()
