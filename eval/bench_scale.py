"""Scale curve: build time, memory and query latency at 10k and 100k passages, flat vs HNSW.

The corpus is grown from real documents: the CMRC 2018 contexts (or the
letter when CMRC is absent) are chunked and embedded once with the real
model; larger corpora repeat those passages with their vectors perturbed
(Gaussian noise, re-normalised, so no two are identical and HNSW faces a
realistic neighbourhood structure) and their BM25 terms resampled from the
real vocabulary distribution. Embedding 100k passages for real would take
hours on this machine; its cost is reported as a projection from the
measured passages/s, clearly marked as such.

    python eval/bench_scale.py            # writes eval/reports/scale.{json,md,png}
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import dense  # noqa: E402
from qa.chunking import chunk_corpus  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.embedding import load_encoder  # noqa: E402
from qa.evaluation.datasets import load_cmrc, load_dataset  # noqa: E402
from qa.evaluation.report import REPORTS, md_table, write_report  # noqa: E402
from qa.indexer import chunk_settings, make_terms  # noqa: E402
from qa.sparse import SparseIndex  # noqa: E402


def grow(vectors: np.ndarray, terms: list[list[str]], size: int, rng: np.random.Generator) -> tuple:
    picks = rng.integers(0, len(vectors), size)
    grown = vectors[picks] + rng.normal(0, 0.02, (size, vectors.shape[1])).astype(np.float32)
    grown /= np.linalg.norm(grown, axis=1, keepdims=True)
    vocab = [t for doc in terms for t in doc]
    py_rng = random.Random(int(rng.integers(1 << 30)))
    grown_terms = [py_rng.sample(vocab, k=min(len(vocab), max(5, len(terms[i])))) for i in picks]
    return grown.astype(np.float32), grown_terms


def p50_ms(fn, queries, repeats: int = 200) -> float:
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        fn(queries[i % len(queries)])
        times.append((time.perf_counter() - t0) * 1000)
    return round(float(np.percentile(times, 50)), 3)


def measure(size: int, kind: str, vectors: np.ndarray, terms: list[list[str]], qvecs: np.ndarray,
            qterms: list[list[str]], settings: Settings) -> dict:
    t0 = time.perf_counter()
    index = dense.build(vectors, kind, settings.hnsw_m)
    dense.configure(index, settings.hnsw_ef_search)
    faiss_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    sparse = SparseIndex.build(terms)
    bm25_build = time.perf_counter() - t0
    row = {
        "passages": size,
        "index": kind,
        "faiss_build_s": round(faiss_build, 2),
        "bm25_build_s": round(bm25_build, 2),
        "faiss_mb": round(dense_bytes(index) / 2**20, 1),
        "faiss_search_ms_p50": p50_ms(lambda q: dense.search(index, q, 50), list(qvecs)),
        "bm25_ms_p50": p50_ms(lambda t: sparse.scores(t), qterms),
    }
    if kind == "hnsw":
        exact = dense.build(vectors, "flat")
        hits = [len(set(dense.search(index, q, 10)[0]) & set(dense.search(exact, q, 10)[0])) / 10 for q in qvecs]
        row["hnsw_recall@10_vs_flat"] = round(float(np.mean(hits)), 4)
    return row


def dense_bytes(index) -> int:
    import faiss

    return len(faiss.serialize_index(index))


def plot(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for kind in ("flat", "hnsw"):
        sub = [r for r in rows if r["index"] == kind]
        xs = [r["passages"] for r in sub]
        axes[0].plot(xs, [r["faiss_build_s"] for r in sub], marker="o", label=f"FAISS {kind}")
        axes[1].plot(xs, [r["faiss_mb"] for r in sub], marker="o", label=f"FAISS {kind}")
        axes[2].plot(xs, [r["faiss_search_ms_p50"] for r in sub], marker="o", label=f"FAISS {kind} search")
    flat = [r for r in rows if r["index"] == "flat"]
    axes[0].plot([r["passages"] for r in flat], [r["bm25_build_s"] for r in flat], marker="s", label="BM25")
    axes[2].plot([r["passages"] for r in flat], [r["bm25_ms_p50"] for r in flat], marker="s", label="BM25 scores")
    for ax, title in zip(axes, ("build time (s)", "index size (MB)", "per-query latency p50 (ms)"), strict=True):
        ax.set_xscale("log")
        ax.set_xlabel("passages")
        ax.set_title(title)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--name", default="scale")
    args = parser.parse_args()

    settings = Settings()
    source = load_cmrc(settings.cmrc_path) if settings.cmrc_path.exists() else load_dataset(
        ROOT / "eval" / "datasets" / "letter")
    passages = chunk_corpus(source.documents, chunk_settings(settings))
    encoder = load_encoder(settings.updated(**{"micro_batching": False}))
    terms_of = make_terms(settings)
    t0 = time.perf_counter()
    vectors = encoder.encode_passages([p.text for p in passages], show_progress=True)
    embed_s = time.perf_counter() - t0
    rate = len(passages) / embed_s
    terms = [terms_of(p.text) for p in passages]
    questions = [q.text for q in source.queries[:200]]
    qvecs = encoder.encode_queries(questions)
    qterms = [terms_of(q) for q in questions]

    rng = np.random.default_rng(0)
    rows = [measure(len(passages), kind, vectors, terms, qvecs, qterms, settings) for kind in ("flat", "hnsw")]
    for size in (int(s) for s in args.sizes.split(",")):
        grown, grown_terms = grow(vectors, terms, size, rng)
        for kind in ("flat", "hnsw"):
            rows.append(measure(size, kind, grown, grown_terms, qvecs, qterms, settings))
            print(rows[-1], flush=True)
    for r in rows:
        r["embed_s_projected"] = round(r["passages"] / rate, 0)

    cols = ["passages", "index", "faiss_build_s", "bm25_build_s", "faiss_mb", "faiss_search_ms_p50",
            "bm25_ms_p50", "hnsw_recall@10_vs_flat", "embed_s_projected"]
    md = (
        "# Scale curve: flat vs HNSW\n\n"
        f"Seed corpus: {source.name}, {len(passages)} real passages embedded with "
        f"{encoder.model_id} ({encoder.backend}) at {rate:.1f} passages/s. Larger sizes are grown from it "
        "(perturbed real vectors, resampled real terms). `embed_s_projected` = passages ÷ measured "
        "passages/s: a projection, not a measurement. Query encoding (a few ms) is independent of corpus "
        f"size and not included. HNSW: M={settings.hnsw_m}, efSearch={settings.hnsw_ef_search}.\n\n"
        + md_table(rows, cols)
        + f"\n![scale curve]({args.name}.png)\n\nRegenerate: `python eval/bench_scale.py`\n"
    )
    write_report(args.name, {"rows": rows, "seed_passages": len(passages), "embed_passages_per_s": round(rate, 2)}, md)
    plot(rows, REPORTS / f"{args.name}.png")
    print(md)


if __name__ == "__main__":
    main()
