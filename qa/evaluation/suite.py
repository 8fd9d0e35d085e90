"""`qa eval`: compare modes and inference paths on datasets, in one run, with baselines.

Each (dataset, inference path) gets its own cached index under
`eval/.cache/` (rebuilt only when corpus, model or settings change). Every
retrieval mode is then scored on it, beside `rank_bm25` + jieba as an
external baseline. Datasets are reported per split: `dev` is what the answer
models were fitted and calibrated on (eval/fit_answer_models.py), `test` is
held out.

Datasets: `letter`, `cmrc` (CMRC 2018 dev), `cmrc-open` (only half of CMRC's
articles indexed, every question asked: abstention), `cmrc-trad` (CMRC with
the questions in Traditional script), or a dataset directory.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import jieba
import numpy as np

from qa.answering.model import load_models
from qa.config import PROJECT_ROOT, Mode, Settings
from qa.embedding.factory import load_encoder
from qa.evaluation import runner
from qa.evaluation.datasets import INDEXED_BIT, Dataset, article_half, load_cmrc, load_dataset
from qa.evaluation.metrics import retrieval_metrics
from qa.evaluation.open_domain import open_domain
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


def traditional(dataset: Dataset) -> Dataset:
    """The same dataset with its questions converted to Traditional script (OpenCC s2t)."""
    import opencc

    convert = opencc.OpenCC("s2t").convert
    queries = [dataclasses.replace(q, text=convert(q.text)) for q in dataset.queries]
    return Dataset(f"{dataset.name}-trad", dataset.documents, queries, dataset.qrels, index_name=dataset.corpus_name)


def resolve_dataset(name: str, settings: Settings) -> Dataset | None:
    """A dataset by name (see the module doc) or directory; None (skipped) if CMRC is absent."""
    if name.startswith("cmrc"):
        if not settings.cmrc_path.exists():
            return None
        cmrc = load_cmrc(settings.cmrc_path)
        if name == "cmrc-open":
            return open_domain(cmrc, lambda title: article_half(title, INDEXED_BIT) == 0)
        return traditional(cmrc) if name == "cmrc-trad" else cmrc
    path = Path(name)
    return load_dataset(path if path.is_dir() else DATASETS / name)


def rank_bm25_baseline(dataset: Dataset, passages: list[Passage]) -> list[runner.Outcome]:
    """rank_bm25's BM25Okapi over jieba search-mode tokens of the same passages: the strongest plain baseline
    (search mode also emits the words inside long words; plain jieba.lcut scores lower)."""
    from rank_bm25 import BM25Okapi

    def tokens(text: str) -> list[str]:
        return [t for t in jieba.lcut_for_search(text) if t.strip()]

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


def start_service(dataset: Dataset, settings: Settings, inference: str, progress: bool = False) -> QAService:
    """The service over `dataset`'s documents with its own cached index.

    A corpus folder's threshold calibration (corpus/thresholds.json) belongs to that corpus:
    datasets over other documents answer with the fitted thresholds.
    """
    update: dict = {"inference": inference, "index_dir": CACHE / f"{dataset.corpus_name}-{inference}"}
    if dataset.corpus_dir is None or dataset.corpus_dir.resolve() != settings.corpus_dir.resolve():
        update["abstain_thresholds"] = {**load_models(settings.answer_models).thresholds, **settings.abstain_thresholds}
    path_settings = settings.updated(**update)
    encoder = load_encoder(path_settings)
    return QAService.start(path_settings, encoder=encoder, documents=dataset.documents, show_progress=progress)


def evaluate_dataset(
    dataset: Dataset, settings: Settings, inference: str, modes: list[str], progress: bool = True
) -> SuiteResult:
    service = start_service(dataset, settings, inference, progress)
    encoder = service.encoder
    passages = service.state.built.passages
    rows, thresholds = [], {}
    with_answers = any(q.answers or not q.answerable for q in dataset.queries)
    for mode_name in modes:
        mode, overrides = MODES[mode_name]
        outcomes = runner.run(service.with_settings(**overrides), dataset, mode, answer=with_answers,
                              progress=progress)
        threshold = service.answer_threshold(mode)
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
           "ndcg@10", "answered_when_answerable", "abstain_precision", "abstain_recall", "decision_accuracy", "auroc",
           "threshold", "answer_has_gold", "short_em", "short_f1", "citation_contains_evidence", "ms_p50"]


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
