"""`qa eval`: compare modes and inference paths on datasets, in one run, with baselines.

Each (dataset, inference path) gets its own cached index under
`eval/.cache/` (rebuilt only when corpus, model or settings change). Every
retrieval mode is then scored on it, beside `rank_bm25` + jieba as an
external baseline. On datasets with dev/test splits the abstention threshold
is calibrated on dev and reported on test.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jieba
import numpy as np

from qa.config import PROJECT_ROOT, Mode, Settings
from qa.embedding.factory import load_encoder
from qa.evaluation import runner
from qa.evaluation.datasets import Dataset, load_cmrc, load_dataset
from qa.evaluation.metrics import retrieval_metrics
from qa.schema import Hit, Passage
from qa.service import QAService

CACHE = PROJECT_ROOT / "eval" / ".cache"
DATASETS = PROJECT_ROOT / "eval" / "datasets"
MODES: dict[str, tuple[Mode, dict]] = {
    "dense": ("dense", {}),
    "bm25": ("bm25", {}),
    "hybrid": ("hybrid", {}),
    "hybrid-rrf": ("hybrid", {"fusion": "rrf"}),
}


def resolve_dataset(name: str, settings: Settings) -> Dataset | None:
    """A dataset by name (`letter`, `cmrc`) or directory; None (skipped) if CMRC is absent."""
    if name == "cmrc":
        return load_cmrc(settings.cmrc_path) if settings.cmrc_path.exists() else None
    path = Path(name)
    return load_dataset(path if path.is_dir() else DATASETS / name)


def rank_bm25_baseline(dataset: Dataset, passages: list[Passage]) -> list[runner.Outcome]:
    """rank_bm25's BM25Okapi over plain jieba tokens of the same passages: the usual baseline."""
    from rank_bm25 import BM25Okapi

    def tokens(text: str) -> list[str]:
        return [t for t in jieba.lcut(text) if t.strip()]

    bm25 = BM25Okapi([tokens(p.text) or [""] for p in passages])
    outcomes = []
    for q in dataset.queries:
        scores = bm25.get_scores(tokens(q.text))
        top = np.argsort(-scores, kind="stable")[:10]
        hits = [Hit(passages[i], float(scores[i]), r) for r, i in enumerate(top, 1)]
        outcomes.append(runner.Outcome(q, hits, None, 0.0))
    return outcomes


@dataclass
class SuiteResult:
    rows: list[dict]
    thresholds: dict[str, float]
    passages: list[Passage]


def _splits(dataset: Dataset) -> list[str]:
    present = sorted({q.split for q in dataset.queries if q.split})
    return present if present else ["all"]


def _subset(outcomes: list[runner.Outcome], split: str) -> list[runner.Outcome]:
    return outcomes if split == "all" else [o for o in outcomes if o.query.split == split]


def evaluate_dataset(
    dataset: Dataset, settings: Settings, inference: str, modes: list[str], progress: bool = True
) -> SuiteResult:
    path_settings = settings.model_copy(
        update={"inference": inference, "index_dir": CACHE / f"{dataset.name}-{inference}"}
    )
    encoder = load_encoder(path_settings)
    service = QAService.start(path_settings, encoder=encoder, documents=dataset.documents, show_progress=progress)
    passages = service.state.built.passages
    rows, thresholds = [], {}
    with_answers = dataset.level == "span"  # answers/citations are labelled only on span-level sets
    for mode_name in modes:
        mode, overrides = MODES[mode_name]
        outcomes = runner.run(service.with_settings(**overrides), dataset, mode, answer=with_answers,
                              progress=progress)
        dev = _subset(outcomes, "dev")
        threshold = runner.calibrate(dev) if with_answers and dev else settings.abstain_threshold(mode)
        thresholds[f"{inference}/{mode_name}"] = threshold
        for split in _splits(dataset):
            row: dict = {"dataset": dataset.name, "model": f"{encoder.model_id.split('/')[-1]}:{encoder.backend}",
                   "mode": mode_name, "split": split}
            row.update(runner.score(dataset, _subset(outcomes, split), passages, threshold))
            if with_answers:
                row["threshold"] = threshold
            rows.append(row)
    return SuiteResult(rows, thresholds, passages)


def baseline_rows(dataset: Dataset, passages: list[Passage]) -> list[dict]:
    outcomes = rank_bm25_baseline(dataset, passages)
    rows = []
    for split in _splits(dataset):
        sub = _subset(outcomes, split)
        qrels, runs = runner.qrels_and_run(dataset, sub, passages)
        rows.append({"dataset": dataset.name, "model": "rank_bm25+jieba", "mode": "bm25 (baseline)",
                     "split": split, **retrieval_metrics(qrels, runs), "queries": len(sub)})
    return rows


COLUMNS = ["dataset", "model", "mode", "split", "queries", "hit@1", "hit@3", "hit@5", "hit@10", "mrr@10",
           "ndcg@10", "recall@5", "abstain_precision", "abstain_recall", "decision_accuracy", "threshold",
           "answer_has_gold", "citation_contains_evidence", "citation_overlaps_evidence", "ms_p50"]


def plot_modes(rows: list[dict], out: Path) -> None:
    """hit@1 and MRR@10 per mode, one panel per dataset/split."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = sorted({(r["dataset"], r["split"]) for r in rows})
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.8), squeeze=False)
    for ax, (name, split) in zip(axes[0], panels, strict=True):
        sub = [r for r in rows if r["dataset"] == name and r["split"] == split]
        labels = [f"{r['mode']}\n{r['model'].split(':')[-1]}" for r in sub]
        x = np.arange(len(sub))
        ax.bar(x - 0.2, [r["hit@1"] for r in sub], 0.4, label="hit@1")
        ax.bar(x + 0.2, [r["mrr@10"] for r in sub], 0.4, label="MRR@10")
        ax.set_xticks(x, labels, fontsize=7)
        ax.set_ylim(max(0.0, min(r["hit@1"] for r in sub) - 0.1), 1.0)
        ax.set_title(f"{name} ({split})")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
