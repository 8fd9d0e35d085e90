"""Ablation: which retrieval choices matter, tuned on one half of the questions, reported on the other.

Query-time choices (fusion method, dense weight, exact-match boost) reuse one
index per chunking; index-time choices (chunk size, whether the section path
is prepended for dense/BM25) rebuild it. CMRC 2018 questions are split in two
halves by id (tune = even hash, held-out = odd); the letter uses its own
dev/test split. The best configuration on the tuning half is reported on the
held-out half, beside the shipped defaults.

    python eval/ablation.py                  # writes eval/reports/ablation.{json,md}
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.config import Settings  # noqa: E402
from qa.evaluation import runner, suite  # noqa: E402
from qa.evaluation.datasets import Dataset  # noqa: E402
from qa.evaluation.metrics import retrieval_metrics  # noqa: E402
from qa.evaluation.report import md_table, write_report  # noqa: E402
from qa.service import QAService  # noqa: E402

QUERY_TIME = [
    {"fusion": "zscore", "dense_weight": w, "exact_boost": b} for w in (0.5, 0.6, 0.7, 0.8, 0.9) for b in (0.0, 1.0)
] + [{"fusion": "rrf", "exact_boost": 1.0}]
INDEX_TIME = [
    {"chunk_max_chars": 300, "heading_in_dense": False, "heading_in_bm25": True},
    {"chunk_max_chars": 150, "heading_in_dense": False, "heading_in_bm25": True},
    {"chunk_max_chars": 600, "heading_in_dense": False, "heading_in_bm25": True},
    {"chunk_max_chars": 300, "heading_in_dense": True, "heading_in_bm25": True},
    {"chunk_max_chars": 300, "heading_in_dense": False, "heading_in_bm25": False},
]


def half(query_id: str) -> str:
    return "tune" if int(hashlib.sha1(query_id.encode()).hexdigest(), 16) % 2 == 0 else "heldout"


def split_of(dataset: Dataset, q) -> str:
    if q.split:
        return "tune" if q.split == "dev" else "heldout"
    return half(q.id)


def score(dataset: Dataset, outcomes: list, passages: list, part: str) -> dict:
    sub = [o for o in outcomes if split_of(dataset, o.query) == part]
    qrels, runs = runner.qrels_and_run(dataset, sub, passages)
    return retrieval_metrics(qrels, runs, ["hit_rate@1", "hit_rate@5", "mrr@10"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="letter,cmrc")
    parser.add_argument("--name", default="ablation")
    args = parser.parse_args()
    base = Settings()
    rows = []
    for name in args.datasets.split(","):
        dataset = suite.resolve_dataset(name, base)
        if dataset is None:
            print(f"SKIPPED {name}: not found")
            continue
        for index_cfg in INDEX_TIME:
            if dataset.level == "doc" and (index_cfg["heading_in_dense"] or not index_cfg["heading_in_bm25"]):
                continue  # CMRC contexts have no section headings: these variants equal the first
            cache = suite.CACHE / f"ablation-{dataset.name}-{index_cfg['chunk_max_chars']}-" \
                f"{int(index_cfg['heading_in_dense'])}{int(index_cfg['heading_in_bm25'])}"
            settings = base.updated(**{**index_cfg, "index_dir": cache})
            service = QAService.start(settings, documents=dataset.documents, show_progress=True)
            passages = service.state.built.passages
            for query_cfg in QUERY_TIME + [{"mode": "dense"}, {"mode": "bm25"}]:
                mode = query_cfg.get("mode", "hybrid")
                overrides = {k: v for k, v in query_cfg.items() if k != "mode"}
                outcomes = runner.run(service.with_settings(**overrides), dataset, mode, answer=False)
                row = {"dataset": dataset.name, **index_cfg, "mode": mode, **overrides}
                for part in ("tune", "heldout"):
                    row.update({f"{part} {k}": v for k, v in score(dataset, outcomes, passages, part).items()})
                rows.append(row)
                print(row, flush=True)

    summary = []
    for name in sorted({r["dataset"] for r in rows}):
        sub = [r for r in rows if r["dataset"] == name and r["mode"] == "hybrid"]
        best = max(sub, key=lambda r: (r["tune hit@1"], r["tune mrr@10"]))
        shipped = next(r for r in sub if r["chunk_max_chars"] == base.chunk_max_chars
                       and r["heading_in_dense"] == base.heading_in_dense
                       and r["heading_in_bm25"] == base.heading_in_bm25
                       and r.get("fusion") == base.fusion and r.get("dense_weight") == base.dense_weight
                       and r.get("exact_boost") == base.exact_boost)
        summary += [{"dataset": name, "config": "best on tune half", **best},
                    {"dataset": name, "config": "shipped defaults", **shipped}]
    cols = ["dataset", "chunk_max_chars", "heading_in_dense", "heading_in_bm25", "mode", "fusion", "dense_weight",
            "exact_boost", "tune hit@1", "tune mrr@10", "heldout hit@1", "heldout hit@5", "heldout mrr@10"]
    md = (
        "# Retrieval ablation\n\n"
        "Each configuration is scored on two disjoint halves of the questions: `tune` (CMRC: even hash of the "
        "question id; letter: its dev split) and `heldout` (odd hash; letter: test split). Choose on `tune`, "
        "read `heldout`.\n\n## Summary\n\n" + md_table(summary, ["config"] + cols) + "\n## All configurations\n\n"
        + md_table(rows, cols) + "\nRegenerate: `python eval/ablation.py`\n"
    )
    write_report(args.name, {"rows": rows, "summary": summary}, md)
    print(md)


if __name__ == "__main__":
    main()
