"""Regression guard: the letter's labelled questions must not score below eval/floors.json."""

from __future__ import annotations

import json

import pytest

from qa.config import PROJECT_ROOT
from qa.evaluation import runner
from qa.evaluation.datasets import load_dataset
from tests.conftest import FIXTURE_CORPUS

pytestmark = pytest.mark.slow


def test_letter_quality_stays_above_recorded_floors(real_service):
    floors = json.loads((PROJECT_ROOT / "eval" / "floors.json").read_text("utf-8"))
    dataset = load_dataset(PROJECT_ROOT / "eval" / "datasets" / floors["dataset"], FIXTURE_CORPUS)
    outcomes = runner.run(real_service, dataset, floors["mode"])
    threshold = real_service.answer_threshold(floors["mode"])
    row = runner.score(dataset, outcomes, real_service.state.built.passages, threshold)
    failing = {m: (row[m], floors[m]) for m in ("hit@1", "hit@5", "decision_accuracy") if row[m] < floors[m]}
    assert not failing, f"below the floors in eval/floors.json (measured, floor): {failing}"
