"""The fitted answer models: plain logistic regressions stored as JSON, evaluated with numpy.

`answer_models.json` beside this file is written by `eval/fit_answer_models.py`
(scikit-learn, on tuning halves only; its report eval/reports/answer_models.md
lists the coefficients and the held-out scores). At query time a model is a
dot product, so no learning library is loaded by the service.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.atomic import write_text_atomic
from qa.errors import ModelError

DEFAULT_PATH = Path(__file__).with_name("answer_models.json")


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
class AnswerModels:
    version: str
    sentence: LinearModel  # P(sentence contains the answer)
    decision: dict[str, LinearModel]  # per retrieval mode: P(the question is answerable from these passages)
    thresholds: dict[str, float]  # per mode: minimum decision probability to answer
    second_sentence_ratio: float  # a second sentence joins the answer when its probability is at least this share
    fitted_on: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "version": self.version,
            "fitted_on": self.fitted_on,
            "sentence": self.sentence.to_json(),
            "decision": {mode: m.to_json() for mode, m in self.decision.items()},
            "thresholds": self.thresholds,
            "second_sentence_ratio": self.second_sentence_ratio,
        }


def load_models(path: Path | None = None) -> AnswerModels:
    path = path or DEFAULT_PATH
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return AnswerModels(
            version=str(data["version"]),
            sentence=LinearModel.from_json(data["sentence"]),
            decision={mode: LinearModel.from_json(m) for mode, m in data["decision"].items()},
            thresholds={mode: float(t) for mode, t in data["thresholds"].items()},
            second_sentence_ratio=float(data["second_sentence_ratio"]),
            fitted_on=dict(data.get("fitted_on", {})),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"cannot read the answer models {path.name}: {exc}") from exc


def save_models(models: AnswerModels, path: Path | None = None) -> None:
    write_text_atomic(path or DEFAULT_PATH, json.dumps(models.to_json(), ensure_ascii=False, indent=1) + "\n")
