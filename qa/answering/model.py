"""The fitted answer models: plain logistic regressions stored as JSON, evaluated with numpy.

`answer_models.json` beside this file is written by `eval/fit_answer_models.py`
(scikit-learn, on tuning halves only; its report eval/reports/answer_models.md
lists the coefficients and the held-out scores). At query time the decision
models are a dot product; the sentence model and the short-answer span ranker
are LightGBM models in LightGBM's own text format (`sentence_model.txt`,
`span_ranker.txt`): choosing a span's edges needs interactions of the edge words
with the asked type that a linear model cannot express (held-out F1 0.64 linear
against 0.72 ranked, both graded by F1 alone), and boosted trees also choose the
answer sentence better (cross-validated top-1 0.80 for a LambdaRank model, 0.78
for a classifier, 0.76 for logistic regression). A ranker's raw scores are not probabilities:
`probabilities` is their sigmoid, which the second-sentence ratio and the
decision model are fitted on as they come. The JSON names each file.

A sentence has a few hundred candidate spans and prediction costs per row and
tree, so the span ranker may carry a `Cascade`: its first trees score every
candidate and only the best few get the rest (raw scores of a boosted model
add up, so the winner's score is still the whole model's). The fit picks the
cheapest cascade that keeps the cross-validated F1.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qa.atomic import write_text_atomic
from qa.errors import ModelError

DEFAULT_PATH = Path(__file__).with_name("answer_models.json")
SENTENCE_MODEL_FILE = "sentence_model.txt"
SPAN_RANKER_FILE = "span_ranker.txt"


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))


@dataclass(frozen=True)
class LinearModel:
    features: tuple[str, ...]
    weights: np.ndarray
    bias: float
    mean: np.ndarray  # standardisation applied before the weights
    scale: np.ndarray

    def logits(self, rows: np.ndarray) -> np.ndarray:
        return ((rows - self.mean) / self.scale) @ self.weights + self.bias

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        return sigmoid(self.logits(rows))

    def to_json(self) -> dict:
        return {"features": list(self.features), "weights": self.weights.round(6).tolist(), "bias": round(self.bias, 6),
                "mean": self.mean.round(6).tolist(), "scale": self.scale.round(6).tolist()}

    @classmethod
    def from_json(cls, data: dict) -> LinearModel:
        return cls(tuple(data["features"]), np.asarray(data["weights"], dtype=np.float64), float(data["bias"]),
                   np.asarray(data["mean"], dtype=np.float64), np.asarray(data["scale"], dtype=np.float64))


@dataclass(frozen=True)
class Cascade:
    """Rank with the first `first_trees` trees, then finish only the best `keep` rows with the rest."""

    first_trees: int
    keep: int


class TreeModel:
    """A LightGBM model kept in its own text file beside the JSON; `logits` are its raw scores."""

    def __init__(self, features: tuple[str, ...], model_text: str, file_name: str,
                 vocabulary: tuple[str, ...] = (), cascade: Cascade | None = None) -> None:
        import lightgbm  # only a service with fitted tree models loads it

        self.features = features
        self.model_text = model_text
        self.file_name = file_name
        self.vocabulary = vocabulary  # values of the categorical word columns, if any
        self.word_ids = {w: i + 1 for i, w in enumerate(vocabulary)}  # 0: any other word
        self.cascade = cascade
        try:
            self._booster = lightgbm.Booster(model_str=model_text)
        except lightgbm.basic.LightGBMError as exc:
            raise ValueError(f"{file_name}: {exc}") from exc
        if self._booster.num_feature() != len(features):
            raise ValueError(f"{file_name}: {self._booster.num_feature()} features, the JSON names {len(features)}")
        # One booster shared by the request threads, one prediction at a time, on one thread: OpenMP threads
        # beside the encoder's own pool made /ask slower (measured in process: p50 30 ms against 18 ms).
        self._lock = threading.Lock()

    @property
    def num_trees(self) -> int:
        return int(self._booster.num_trees())

    def logits(self, rows: np.ndarray, first_tree: int = 0, trees: int | None = None) -> np.ndarray:
        """Raw scores, optionally of `trees` trees from `first_tree` on (a boosted model's scores add up)."""
        with self._lock:
            out: Any = self._booster.predict(rows, raw_score=True, num_threads=1, start_iteration=first_tree,
                                             num_iteration=trees)
        return np.asarray(out, dtype=np.float64)

    def best(self, rows: np.ndarray) -> tuple[int, float]:
        """The highest-scoring row and its full score, in two stages when the model has a cascade: the
        first trees score every row, the rest only the best `keep` (prediction costs per row and tree)."""
        cascade = self.cascade
        if cascade is None or len(rows) <= cascade.keep:
            scores = self.logits(rows)
            best = int(np.argmax(scores))
            return best, float(scores[best])
        first = self.logits(rows, trees=cascade.first_trees)
        kept = np.sort(np.argpartition(-first, cascade.keep - 1)[: cascade.keep])  # sorted: ties go to the earliest
        scores = first[kept] + self.logits(rows[kept], first_tree=cascade.first_trees)
        best = int(np.argmax(scores))
        return int(kept[best]), float(scores[best])

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        return sigmoid(self.logits(rows))

    def importances(self) -> dict[str, float]:
        """Each feature's share of the total split gain."""
        gain = self._booster.feature_importance(importance_type="gain")
        return dict(zip(self.features, (gain / max(gain.sum(), 1e-12)).tolist(), strict=True))

    def with_cascade(self, cascade: Cascade | None) -> TreeModel:
        return TreeModel(self.features, self.model_text, self.file_name, self.vocabulary, cascade)

    def to_json(self) -> dict:
        out = {"features": list(self.features), "model": self.file_name, "vocabulary": list(self.vocabulary)}
        return out | ({"cascade": dataclasses.asdict(self.cascade)} if self.cascade else {})

    @classmethod
    def load(cls, data: dict, folder: Path) -> TreeModel:
        cascade = Cascade(**data["cascade"]) if data.get("cascade") else None
        return cls(tuple(data["features"]), (folder / data["model"]).read_text(encoding="utf-8"), data["model"],
                   tuple(data.get("vocabulary", ())), cascade)


Model = LinearModel | TreeModel


def _model_from_json(data: dict, folder: Path) -> Model:
    return TreeModel.load(data, folder) if "model" in data else LinearModel.from_json(data)


@dataclass(frozen=True)
class AnswerModels:
    version: str
    sentence: Model  # P(sentence contains the answer)
    decision: dict[str, LinearModel]  # per retrieval mode: P(the question is answerable from these passages)
    thresholds: dict[str, float]  # per mode: minimum decision probability to answer
    second_sentence_ratio: float  # a second sentence joins the answer when its probability is at least this share
    fitted_on: dict = field(default_factory=dict)
    span: TreeModel | None = None  # scores candidate short answers; None: the alignment heuristic alone (while fitting)
    short_span_weight: float = 0.0  # the span score's weight against the sentence's when quoted sentences compete

    def to_json(self) -> dict:
        return {
            "version": self.version,
            "fitted_on": self.fitted_on,
            "sentence": self.sentence.to_json(),
            "decision": {mode: m.to_json() for mode, m in self.decision.items()},
            "thresholds": self.thresholds,
            "second_sentence_ratio": self.second_sentence_ratio,
            "span": self.span.to_json() if self.span else None,
            "short_span_weight": self.short_span_weight,
        }


def load_models(path: Path | None = None) -> AnswerModels:
    path = path or DEFAULT_PATH
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        span = data.get("span")
        return AnswerModels(
            version=str(data["version"]),
            sentence=_model_from_json(data["sentence"], path.parent),
            decision={mode: LinearModel.from_json(m) for mode, m in data["decision"].items()},
            thresholds={mode: float(t) for mode, t in data["thresholds"].items()},
            second_sentence_ratio=float(data["second_sentence_ratio"]),
            fitted_on=dict(data.get("fitted_on", {})),
            span=TreeModel.load(span, path.parent) if span else None,
            short_span_weight=float(data.get("short_span_weight", 0.0)),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"cannot read the answer models {path.name}: {exc}") from exc


def save_models(models: AnswerModels, path: Path | None = None) -> None:
    path = path or DEFAULT_PATH
    for model in (models.sentence, models.span):
        if isinstance(model, TreeModel):
            write_text_atomic(path.with_name(model.file_name), model.model_text)
    write_text_atomic(path, json.dumps(models.to_json(), ensure_ascii=False, indent=1) + "\n")
