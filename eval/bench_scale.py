"""Scale curve up to 1M passages: FAISS and Milvus, flat vs HNSW, dense + BM25 + the hybrid query.

The corpus is grown from real documents: the CMRC 2018 contexts (or the letter when CMRC is absent) are
chunked and embedded once with the real model; larger corpora repeat those passages with their vectors
perturbed (Gaussian noise, re-normalised, so no two are identical and HNSW faces a realistic
neighbourhood structure) and their BM25 terms resampled from the real vocabulary distribution. Embedding
1M passages for real would take days on this machine; its cost is a projection from the measured
passages/s, clearly marked as such.

Every configuration (size x backend x index kind) runs in fresh child processes so that memory does not
leak from one into the next: one child grows the corpus and builds BM25 (once per size), one builds the
vector store from the grown vectors and saves it (build time, peak RSS, size on disk), and one loads the
saved index as the service would (vector store, BM25, the passages and their squashed text) and measures:

- RSS after loading (VmRSS of the serving process: the interpreter, libraries, index and passages);
- dense top-n and BM25 scoring alone, p50/p99;
- the hybrid query: `qa.retriever.Retriever._hybrid` itself (dense top-n, BM25 scores of every passage and
  their top-n, exact scores and fusion over the union), with query encoding and query segmentation done
  beforehand (both independent of corpus size), p50/p99 at concurrency 1 and with 8 threads;
- recall@10 against exact (brute-force) search over the same vectors.

Milvus is milvus-lite, embedded in the process: its insert and search costs grow fast, so it is measured
only up to `--milvus-max` passages.

    python eval/bench_scale.py                      # writes eval/reports/scale.{json,md,png}
    python eval/bench_scale.py --sizes 10000 --backends faiss --name scale-dev   # a quick check

Options:
    --sizes       grown corpus sizes, comma-separated (default 10000,100000,1000000); the seed corpus
                  itself is always measured first
    --backends    vector backends, comma-separated: faiss, milvus (default both)
    --milvus-max  largest size measured with Milvus (default 100000); larger sizes are reported as skipped
    --kinds       index kinds, comma-separated: flat, hnsw (default both)
    --queries     questions timed per measurement (default 200); recall uses the first 100
    --name        report name under eval/reports/ (default scale)
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import pickle
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.config import Settings  # noqa: E402
from qa.evaluation.report import REPORTS, md_table, write_report  # noqa: E402

RECALL_QUERIES = 100
THREADS = 8
LIMIT_MS = 50.0
# Targets of the issue for the FAISS backend at 1M passages.
TARGET_SIZE, TARGET_P50_MS, TARGET_RECALL, TARGET_RSS_MB = 1_000_000, 20.0, 0.97, 6 * 1024


def memory_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MiB, from /proc/self/status."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return round(fields["VmRSS"], 1), round(fields["VmHWM"], 1)


def disk_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return round(sum(p.stat().st_size for p in files) / 2**20, 1)


def in_child(fn, *args):
    """Run `fn(*args)` in a fresh process, so each configuration's memory is its own."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def grow(vectors: np.ndarray, terms: list[list[str]], size: int, rng: np.random.Generator) -> tuple:
    """`size` passages drawn from the seed: (seed row of each, perturbed vectors, resampled terms)."""
    picks = rng.integers(0, len(vectors), size)
    grown = vectors[picks]
    for start in range(0, size, 100_000):  # in slices: the noise of 1M x 384 at once would be 3 GB
        part = grown[start : start + 100_000]
        part += rng.normal(0, 0.02, part.shape).astype(np.float32)
        part /= np.linalg.norm(part, axis=1, keepdims=True)
    # Each passage keeps its seed passage's number of terms, drawn from the corpus-wide term distribution.
    vocab = np.array([t for doc in terms for t in doc], dtype=object)
    lengths = np.array([max(5, len(terms[i])) for i in picks])
    drawn = vocab[rng.integers(0, len(vocab), int(lengths.sum()))].tolist()
    ends = np.cumsum(lengths).tolist()
    grown_terms = [drawn[end - n : end] for end, n in zip(ends, lengths.tolist(), strict=True)]
    return picks, grown.astype(np.float32), grown_terms


def exact_top10(vectors: np.ndarray, queries: np.ndarray, block: int = 200_000) -> np.ndarray:
    """Each query's 10 best rows by inner product, best first, by brute force in blocks of rows."""
    candidates = []
    for start in range(0, len(vectors), block):
        scores = vectors[start : start + block] @ queries.T
        k = min(10, len(scores))
        candidates.append(np.argpartition(-scores, k - 1, axis=0)[:k].T + start)
    rows = np.concatenate(candidates, axis=1)
    return np.array([row[np.argsort(-(vectors[row] @ q), kind="stable")[:10]] for row, q in zip(rows, queries, strict=True)])


# --- child: grow the corpus and build BM25 (once per size) ------------------------------------------------


def prepare(work: Path, size: int) -> dict:
    from qa.sparse import SparseIndex

    seed = pickle.loads((work / "seed.pkl").read_bytes())
    folder = work / str(size)
    folder.mkdir()
    t0 = time.perf_counter()
    if size == len(seed["vectors"]):  # the seed itself, unperturbed
        picks, vectors, terms = np.arange(size), seed["vectors"], seed["terms"]
    else:
        picks, vectors, terms = grow(seed["vectors"], seed["terms"], size, np.random.default_rng(size))
    grow_s = time.perf_counter() - t0
    np.save(folder / "picks.npy", picks)
    np.save(folder / "vectors.npy", vectors)
    # Exact top-10 for the recall queries, by brute force over the very vectors the stores index.
    np.save(folder / "truth.npy", exact_top10(vectors, seed["qvecs"][:RECALL_QUERIES]))
    del vectors
    rss0, _ = memory_mb()
    t0 = time.perf_counter()
    sparse = SparseIndex.build(terms)
    bm25_build = time.perf_counter() - t0
    rss1, _ = memory_mb()
    sparse.save(folder / "bm25")
    return {
        "grow_s": round(grow_s, 1),
        "bm25_build_s": round(bm25_build, 2),
        "bm25_build_rss_mb": round(rss1 - rss0, 1),
        "bm25_disk_mb": disk_mb(folder / "bm25"),
    }


# --- child: build and save one vector store ----------------------------------------------------------------


def store_settings(folder: Path, backend: str, kind: str) -> Settings:
    base = Settings()
    return base.updated(
        index_dir=folder, backend=backend, faiss_index=kind, hnsw_m=base.hnsw_m, hnsw_ef_search=base.hnsw_ef_search
    )


def build_store(work: Path, size: int, backend: str, kind: str) -> dict:
    vectors = np.load(work / str(size) / "vectors.npy")
    folder = work / str(size) / f"{backend}-{kind}"
    folder.mkdir()
    settings = store_settings(folder, backend, kind)
    rss0, _ = memory_mb()
    t0 = time.perf_counter()
    if backend == "faiss":
        from qa.vectors.faiss import FaissStore

        store = FaissStore.build(vectors, kind, settings.hnsw_m, settings.hnsw_ef_search)
    else:
        from qa.vectors.milvus import MilvusStore

        store = MilvusStore.build(settings, vectors, "scale")
    build_s = time.perf_counter() - t0
    store.save(folder)
    if backend == "milvus":
        store.client.close()
    _, peak = memory_mb()
    return {
        "build_s": round(build_s, 2),
        "build_peak_rss_mb": peak,
        "build_rss_over_vectors_mb": round(peak - rss0, 1),
        "dense_disk_mb": disk_mb(folder),
    }


# --- child: load as the service does, then time queries ----------------------------------------------------


def percentiles(times: list[float]) -> tuple[float, float]:
    return round(float(np.percentile(times, 50)), 3), round(float(np.percentile(times, 99)), 3)


def one_omp_thread() -> None:
    """OpenMP's thread count is per calling thread: every thread that searches sets its own."""
    import faiss

    faiss.omp_set_num_threads(1)


def timed(fn, items: list, threads: int = 1) -> tuple[list[float], float]:
    """Per-call latency (ms) of `fn` over `items`, with `threads` callers at once; and calls per second."""

    def one(item) -> float:
        t0 = time.perf_counter()
        fn(item)
        return (time.perf_counter() - t0) * 1000

    for item in items[:5]:  # warm-up
        fn(item)
    t0 = time.perf_counter()
    if threads == 1:
        times = [one(item) for item in items]
    else:
        with ThreadPoolExecutor(threads, initializer=one_omp_thread) as pool:
            times = list(pool.map(one, items))
    return times, round(len(items) / (time.perf_counter() - t0), 1)


def serve(work: Path, size: int, backend: str, kind: str, queries: int) -> dict:

    from qa.exact import squash
    from qa.retriever import Retriever, Timer
    from qa.sparse import SparseIndex

    seed = pickle.loads((work / "seed.pkl").read_bytes())
    folder = work / str(size)
    settings = store_settings(folder / f"{backend}-{kind}", backend, kind)
    rss_base, _ = memory_mb()
    t0 = time.perf_counter()
    if backend == "faiss":
        from qa.vectors.faiss import FaissStore

        dense = FaissStore.load(folder / f"{backend}-{kind}", settings.hnsw_ef_search)
    else:
        from qa.vectors.milvus import MilvusStore

        dense = MilvusStore.load(settings, folder / f"{backend}-{kind}")
    sparse = SparseIndex.load(folder / "bm25", size)
    # Every grown passage is its own object with its own text, as a real corpus of this size would be.
    seed_passages = seed["passages"]
    passages = [
        dataclasses.replace(p, id=f"{p.id}~{i}", text=p.text[:-1] + p.text[-1:])
        for i, p in enumerate(seed_passages[j] for j in np.load(folder / "picks.npy").tolist())
    ]
    retriever = Retriever.__new__(Retriever)  # the real query path, minus the encoder and the segmenter
    retriever.index = SimpleNamespace(dense=dense, sparse=sparse, passages=passages)
    retriever.settings = settings
    retriever.squashed = [squash(p.text) for p in passages]
    load_s = time.perf_counter() - t0
    rss_loaded, _ = memory_mb()

    qvec = dict(zip(seed["questions"], seed["qvecs"], strict=True))
    qterms = dict(zip(seed["questions"], seed["qterms"], strict=True))
    retriever.embed_query = qvec.__getitem__
    retriever.terms = SimpleNamespace(query=lambda q: SimpleNamespace(terms=qterms[q]))
    items = [seed["questions"][i % len(seed["questions"])] for i in range(queries)]
    n = settings.candidates
    stages: list[dict] = []

    def hybrid(q: str) -> None:
        timer = Timer()
        retriever._hybrid(q, 10, timer, None)
        stages.append(timer.timings)

    extra = {}
    if backend == "faiss":
        extra["dense_omp_default_ms"] = percentiles(timed(lambda q: dense.search(qvec[q], n), items)[0])
    # One OpenMP thread per search from here on: on 2 CPUs shared with other work, faiss's default team of
    # 2 threads spins at its barrier and a flat search of 10k passages took 16 ms instead of 0.4 ms.
    one_omp_thread()
    dense_t, _ = timed(lambda q: dense.search(qvec[q], n), items)
    bm25_t, _ = timed(lambda q: sparse.scores(qterms[q]), items)
    top_t, _ = timed(lambda q: sparse.top(qterms[q], n), items)
    hybrid1_t, qps1 = timed(hybrid, items)
    stage_p50 = {f"{name}_ms_p50": percentiles([s[name] for s in stages[5:]])[0] for name in ("dense", "bm25", "fusion")}
    hybrid8_t, qps8 = timed(hybrid, items, THREADS)

    truth = np.load(folder / "truth.npy")
    found = [dense.search(q, 10)[0] for q in seed["qvecs"][: len(truth)]]
    recall = np.mean([len(set(f.tolist()) & set(t.tolist())) / 10 for f, t in zip(found, truth, strict=True)])
    if backend == "milvus":
        dense.client.close()
    return {
        "load_s": round(load_s, 1),
        "rss_mb": rss_loaded,
        "rss_base_mb": rss_base,
        "dense_ms": percentiles(dense_t),
        "bm25_scores_ms": percentiles(bm25_t),
        "bm25_top_ms": percentiles(top_t),
        "hybrid_ms": percentiles(hybrid1_t),
        "hybrid_qps": qps1,
        **stage_p50,
        f"hybrid_ms_c{THREADS}": percentiles(hybrid8_t),
        f"hybrid_qps_c{THREADS}": qps8,
        "recall@10": round(float(recall), 4),
        **extra,
    }


# --- parent ------------------------------------------------------------------------------------------------


def embed_seed(work: Path, settings: Settings) -> dict:
    from qa.chunking import chunk_corpus
    from qa.embedding import load_encoder
    from qa.evaluation.datasets import load_cmrc, load_dataset
    from qa.indexer import chunk_settings, make_terms

    source = (
        load_cmrc(settings.cmrc_path) if settings.cmrc_path.exists() else load_dataset(ROOT / "eval" / "datasets" / "letter")
    )
    passages = chunk_corpus(source.documents, chunk_settings(settings))
    encoder = load_encoder(settings.updated(**{"micro_batching": False}))
    terms_of = make_terms(settings)
    t0 = time.perf_counter()
    vectors = encoder.encode_passages([p.text for p in passages], show_progress=True)
    rate = len(passages) / (time.perf_counter() - t0)
    questions = list(dict.fromkeys(q.text for q in source.queries))[:200]
    seed = {
        "passages": passages,
        "vectors": np.asarray(vectors, dtype=np.float32),
        "terms": [terms_of(p.text) for p in passages],
        "questions": questions,
        "qvecs": np.asarray(encoder.encode_queries(questions), dtype=np.float32),
        "qterms": [list(terms_of.query(q).terms) for q in questions],
    }
    (work / "seed.pkl").write_bytes(pickle.dumps(seed))
    return {
        "source": source.name,
        "passages": len(passages),
        "rate": rate,
        "model": encoder.model_id,
        "inference": encoder.backend,
    }


def run(args: argparse.Namespace, work: Path) -> tuple[dict, list[dict]]:
    settings = Settings()
    seed = embed_seed(work, settings)
    print(f"seed: {seed['passages']} passages embedded at {seed['rate']:.1f}/s", flush=True)
    rows: list[dict] = []
    for size in [seed["passages"], *(int(s) for s in args.sizes.split(","))]:
        prep = in_child(prepare, work, size)
        print(size, prep, flush=True)
        for backend in args.backends.split(","):
            for kind in args.kinds.split(","):
                row = {
                    "passages": size,
                    "backend": backend,
                    "index": kind,
                    **prep,
                    "embed_s_projected": round(size / seed["rate"]),
                }
                if backend == "milvus" and size > args.milvus_max:
                    rows.append({**row, "skipped": f"above --milvus-max {args.milvus_max}"})
                    continue
                try:
                    row.update(in_child(build_store, work, size, backend, kind))
                    row.update(in_child(serve, work, size, backend, kind, args.queries))
                except Exception as exc:  # a configuration that fails (memory, Milvus) is reported, not fatal
                    rows.append({**row, "skipped": f"failed: {type(exc).__name__}: {exc}"[:300]})
                    print(rows[-1], flush=True)
                    continue
                finally:
                    shutil.rmtree(work / str(size) / f"{backend}-{kind}", ignore_errors=True)
                rows.append(row)
                print(row, flush=True)
        shutil.rmtree(work / str(size))
    return seed, rows


# --- report ------------------------------------------------------------------------------------------------


def measured(rows: list[dict], backend: str | None = None, kind: str | None = None) -> list[dict]:
    return [r for r in rows if "skipped" not in r and backend in (None, r["backend"]) and kind in (None, r["index"])]


def flat_row(r: dict) -> dict:
    """A table row: the (p50, p99) pairs spread into columns."""
    out = {}
    for key, value in r.items():
        if isinstance(value, list | tuple):
            stem = key.removesuffix("_ms").replace("_ms_", "_")
            out[f"{stem}_p50_ms"], out[f"{stem}_p99_ms"] = value
        else:
            out[key] = value
    return out


def findings(rows: list[dict], kinds: list[tuple[str, str]]) -> list[str]:
    """Where each configuration's cost grows and the largest collection it serves within LIMIT_MS p50."""
    lines = []
    for backend, kind in kinds:
        sub = sorted(measured(rows, backend, kind), key=lambda r: r["passages"])
        if not sub:
            continue
        name = f"{backend} {kind}"
        within = [r["passages"] for r in sub if r["hybrid_ms"][0] <= LIMIT_MS]
        over = [r["passages"] for r in sub if r["hybrid_ms"][0] > LIMIT_MS]
        largest = f"{max(within):,} passages" if within else "none of the measured sizes"
        text = f"- **{name}**: largest measured collection within {LIMIT_MS:.0f} ms hybrid p50: {largest}"
        text += f" (first over: {min(over):,})" if over else f" (largest measured: {sub[-1]['passages']:,})"
        if len(sub) >= 2:
            a, b = sub[-2], sub[-1]
            growth = {stage: (b[f"{stage}_ms_p50"] - a[f"{stage}_ms_p50"]) for stage in ("dense", "bm25", "fusion")}
            top = max(growth, key=lambda s: growth[s])
            text += (
                f". From {a['passages']:,} to {b['passages']:,} passages hybrid p50 goes "
                f"{a['hybrid_ms'][0]:.1f} → {b['hybrid_ms'][0]:.1f} ms; most of the growth is the {top} stage "
                f"({growth[top]:+.1f} ms; dense {growth['dense']:+.1f}, bm25 {growth['bm25']:+.1f}, "
                f"fusion {growth['fusion']:+.1f}); build {a['build_s']} → {b['build_s']} s, "
                f"RSS {a['rss_mb']:.0f} → {b['rss_mb']:.0f} MB"
            )
        skipped = [r["passages"] for r in rows if r["backend"] == backend and r["index"] == kind and "skipped" in r]
        if skipped:
            text += f"; not measured at {', '.join(f'{s:,}' for s in skipped)} (above `--milvus-max`)"
        lines.append(text + ".")
    return lines


def targets(rows: list[dict]) -> list[str]:
    at = [r for r in measured(rows, "faiss") if r["passages"] == TARGET_SIZE]
    if not at:
        return [f"- FAISS at {TARGET_SIZE:,} passages was not measured in this run."]
    lines = []
    for r in at:
        p50, recall, rss = r["hybrid_ms"][0], r["recall@10"], r["rss_mb"]
        bm25_share = r["bm25_ms_p50"] / max(r["dense_ms_p50"] + r["bm25_ms_p50"] + r["fusion_ms_p50"], 1e-9)
        stage = max(("dense", "bm25", "fusion"), key=lambda s: r[f"{s}_ms_p50"])
        lines.append(
            f"- FAISS {r['index']} at {TARGET_SIZE:,}: hybrid p50 {p50:.1f} ms "
            f"({'met' if p50 <= TARGET_P50_MS else 'NOT met'}, target ≤ {TARGET_P50_MS:.0f}); recall@10 "
            f"{recall:.4f} ({'met' if recall >= TARGET_RECALL else 'NOT met'}, target ≥ {TARGET_RECALL}); "
            f"RSS {rss / 1024:.2f} GiB ({'met' if rss <= TARGET_RSS_MB else 'NOT met'}, target ≤ 6 GB); "
            f"BM25 stage {r['bm25_ms_p50']:.1f} ms = {bm25_share:.0%} of the hybrid stages "
            f"(scoring alone {r['bm25_scores_ms'][0]:.1f} ms, the rest is ranking all {TARGET_SIZE:,} scores), "
            f"largest stage: {stage} → BM25 {'IS' if stage == 'bm25' else 'is not'} the bottleneck "
            f"(scoring + a partial sort for the top n, `SparseIndex.top`: {r['bm25_top_ms'][0]:.1f} ms)."
        )
    return lines


def plot(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(17, 4))
    configs = sorted({(r["backend"], r["index"]) for r in measured(rows)})
    for backend, kind in configs:
        sub = sorted(measured(rows, backend, kind), key=lambda r: r["passages"])
        xs, label = [r["passages"] for r in sub], f"{backend} {kind}"
        style = "-" if backend == "faiss" else "--"
        axes[0].plot(xs, [r["hybrid_ms"][0] for r in sub], style, marker="o", label=f"{label} hybrid p50")
        axes[1].plot(xs, [r["build_s"] for r in sub], style, marker="o", label=label)
        axes[2].plot(xs, [r["rss_mb"] for r in sub], style, marker="o", label=f"{label} (with BM25, passages)")
        axes[3].plot(xs, [r["dense_disk_mb"] for r in sub], style, marker="o", label=label)
    bm25 = sorted({r["passages"]: r for r in measured(rows)}.values(), key=lambda r: r["passages"])
    xs = [r["passages"] for r in bm25]
    axes[0].plot(xs, [r["bm25_scores_ms"][0] for r in bm25], ":", marker="s", label="BM25 scoring p50")
    axes[0].axhline(LIMIT_MS, color="grey", lw=0.8)
    axes[1].plot(xs, [r["bm25_build_s"] for r in bm25], ":", marker="s", label="BM25")
    axes[3].plot(xs, [r["bm25_disk_mb"] for r in bm25], ":", marker="s", label="BM25")
    titles = ("per-query latency (ms)", "build / insert time (s)", "serving RSS (MB)", "index size on disk (MB)")
    for ax, title in zip(axes, titles, strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("passages")
        ax.set_title(title)
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def report(args: argparse.Namespace, seed: dict, rows: list[dict], elapsed: float, load: tuple) -> str:
    settings = Settings()
    configs = sorted({(r["backend"], r["index"]) for r in rows})
    cols = [
        "passages",
        "index",
        "build_s",
        "build_peak_rss_mb",
        "dense_disk_mb",
        "bm25_build_s",
        "bm25_disk_mb",
        "rss_mb",
        "dense_p50_ms",
        "dense_p99_ms",
        "bm25_scores_p50_ms",
        "bm25_scores_p99_ms",
        "bm25_top_p50_ms",
        "hybrid_p50_ms",
        "hybrid_p99_ms",
        "dense_ms_p50",
        "bm25_ms_p50",
        "fusion_ms_p50",
        f"hybrid_c{THREADS}_p50_ms",
        f"hybrid_c{THREADS}_p99_ms",
        "hybrid_qps",
        f"hybrid_qps_c{THREADS}",
        "recall@10",
        "dense_omp_default_p50_ms",
        "embed_s_projected",
    ]
    tables = ""
    for backend in dict.fromkeys(b for b, _ in configs):
        sub = [flat_row(r) for r in rows if r["backend"] == backend]
        done = [r for r in sub if "skipped" not in r]
        tables += f"\n## {backend}\n\n" + md_table(done, cols)
        skipped = sorted({r["passages"] for r in sub if "skipped" in r})
        if skipped:
            reasons = "; ".join(sorted({f"{r['passages']:,} {r['index']}: {r['skipped']}" for r in sub if "skipped" in r}))
            tables += f"\nNot measured: {reasons}.\n"
    return (
        "# Scale curve: FAISS and Milvus, flat vs HNSW, up to "
        f"{max(r['passages'] for r in rows):,} passages\n\n"
        f"Seed corpus: {seed['source']}, {seed['passages']} real passages embedded with {seed['model']} "
        f"({seed['inference']}) at {seed['rate']:.1f} passages/s. Larger sizes are grown from it (perturbed real "
        "vectors, resampled real terms). `embed_s_projected` = passages ÷ measured passages/s: a projection, not a "
        f"measurement. HNSW: M={settings.hnsw_m}, efSearch={settings.hnsw_ef_search}; candidates per stage "
        f"n={settings.candidates}. Milvus = milvus-lite in the process, measured up to {args.milvus_max:,} passages.\n\n"
        "Columns: `build_s` builds the vector store (Milvus: insert + flush + index + load); `build_peak_rss_mb` is "
        "that process's peak (it holds the grown vectors too); `rss_mb` is a fresh process after loading the saved "
        "index as the service does: vector store + BM25 + every passage and its squashed text. `dense_*` is top-n "
        "alone, `bm25_scores_*` BM25 scoring of every passage alone, `bm25_top_*` scoring plus "
        "`SparseIndex.top`'s partial sort for the top n (what the hybrid stage could use instead of a full sort); "
        "`hybrid_*` is `Retriever._hybrid` (query encoding and segmentation excluded: they do not depend on "
        "corpus size), split into its timer's stages "
        "`dense_ms_p50`, `bm25_ms_p50` (scores + ranking them for the top n) and `fusion_ms_p50` (exact scores "
        f"of the union, fusion, hits); `_c{THREADS}` = {THREADS} threads querying at once on this 2-CPU machine "
        "(latency per query; qps = throughput). `recall@10` is against brute-force search over the same vectors. "
        f"Timed over {args.queries} CMRC questions (each once at concurrency 1, again with {THREADS} threads), "
        f"recall over {RECALL_QUERIES}. Searches run with one OpenMP thread each; `dense_omp_default_p50_ms` is "
        "FAISS top-n with faiss's default OpenMP team, which on this shared 2-CPU machine spins at its barrier.\n"
        + tables
        + "\n## Targets (FAISS, 1M passages)\n\n"
        + "\n".join(targets(rows))
        + "\n"
        + f"\n## Where cost grows, and the largest collection within {LIMIT_MS:.0f} ms\n\n"
        + "\n".join(findings(rows, configs))
        + "\n"
        + f"\n![scale curve]({args.name}.png)\n\n"
        f"Whole run: {elapsed / 60:.1f} min, on a machine shared with other jobs (load average "
        f"{load[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end on 2 CPUs: latencies are upper bounds).\n\n"
        f"Regenerate: `python eval/bench_scale.py --sizes {args.sizes} --backends {args.backends} "
        f"--milvus-max {args.milvus_max}`\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--backends", default="faiss,milvus")
    parser.add_argument("--milvus-max", type=int, default=100_000)
    parser.add_argument("--kinds", default="flat,hnsw")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--name", default="scale")
    args = parser.parse_args()

    t0, load = time.perf_counter(), os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as folder:
        seed, rows = run(args, Path(folder))
    md = report(args, seed, rows, time.perf_counter() - t0, load)
    write_report(
        args.name,
        {
            "rows": rows,
            "seed_passages": seed["passages"],
            "embed_passages_per_s": round(seed["rate"], 2),
            "args": vars(args),
        },
        md,
    )
    plot(rows, REPORTS / f"{args.name}.png")
    print(md)


if __name__ == "__main__":
    main()
