"""Calibrate the abstention thresholds for one corpus on its own labelled dev questions.

    python eval/calibrate_corpus.py                      # the letter: writes corpus/thresholds.json

The answer models' confidence is fitted on CMRC 2018 (encyclopaedia articles).
On a corpus of another kind its scale shifts; this picks, per mode, the
threshold with the best decision accuracy on the dataset's `dev` split and
writes it beside the corpus, where the service reads it. The `test` split is
only reported.
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np

from qa.atomic import write_text_atomic
from qa.config import Settings
from qa.service import CALIBRATION_FILE


def best_threshold(confidence: np.ndarray, answerable: np.ndarray) -> float:
    """The best accuracy's threshold; ties go to the middle of the best range."""
    grid = np.unique(confidence)
    cuts = np.concatenate([[grid[0] - 1e-6], (grid[1:] + grid[:-1]) / 2, [grid[-1] + 1e-6]])
    accuracy = np.array([((confidence >= t) == answerable).mean() for t in cuts])
    winners = cuts[accuracy == accuracy.max()]
    return round(float(np.median(winners)), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="letter")
    parser.add_argument("--modes", default="hybrid,dense,bm25")
    args = parser.parse_args()
    from qa.evaluation import runner, suite

    # -inf, not only abstention off: a decisive missing name is then held at 0 rather than just below the current
    # threshold, so it stays declined at every threshold the sweep below tries.
    settings = Settings(abstain_thresholds={m: -math.inf for m in ("dense", "bm25", "hybrid")})
    dataset = suite.resolve_dataset(args.dataset, settings)
    assert dataset is not None
    thresholds, report = {}, {}
    service = suite.start_service(dataset, settings, "onnx-int8")
    for mode in args.modes.split(","):
        outcomes = runner.run(service, dataset, mode)  # type: ignore[arg-type]
        conf = {split: np.array([o.answer.confidence if o.answer else 0.0 for o in outcomes if o.query.split == split])
                for split in ("dev", "test")}
        truth = {split: np.array([o.query.answerable for o in outcomes if o.query.split == split])
                 for split in ("dev", "test")}
        thresholds[mode] = best_threshold(conf["dev"], truth["dev"])
        report[mode] = {split: round(float(((conf[split] >= thresholds[mode]) == truth[split]).mean()), 4)
                        for split in ("dev", "test")}
    payload = {"dataset": dataset.name, "chosen_on": "dev split, best decision accuracy", "thresholds": thresholds,
               "decision_accuracy": report}
    write_text_atomic(settings.corpus_dir / CALIBRATION_FILE, json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    print(json.dumps(payload, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
