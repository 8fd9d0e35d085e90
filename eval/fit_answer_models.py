"""Fit qa/answering/answer_models.json and write eval/reports/answer_models.{md,json}.

    python eval/fit_answer_models.py            # CMRC 2018 (../shared/data) + the letter's dev split

Only tuning data is used for fitting (see qa.evaluation.answer_fit); the report
also gives the held-out half's scores, which `qa eval` reports in full.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from qa.answering.decision import DECISION_FEATURES
from qa.answering.features import FEATURES
from qa.answering.model import DEFAULT_PATH, AnswerModels, LinearModel, save_models
from qa.config import Settings
from qa.embedding.factory import load_encoder
from qa.evaluation import answer_fit as fit
from qa.evaluation.datasets import INDEXED_BIT, article_half, load_cmrc, load_dataset
from qa.evaluation.open_domain import open_domain
from qa.evaluation.report import REPORTS, md_table, write_report
from qa.evaluation.suite import CACHE, DATASETS
from qa.logs import configure_logging
from qa.service import QAService

MODES = ("hybrid", "dense", "bm25")
RATIOS = (0.3, 0.5, 0.7, 1.01)
# A second quoted sentence costs the reader time: it must add at least this much answer-contains-gold.
SECOND_SENTENCE_GAIN = 0.02


def neutral_models() -> AnswerModels:
    def zero(names: tuple[str, ...]) -> LinearModel:
        n = len(names)
        return LinearModel(names, np.zeros(n), 0.0, np.zeros(n), np.ones(n))

    return AnswerModels("bootstrap", zero(FEATURES), {m: zero(DECISION_FEATURES) for m in MODES},
                        {m: -math.inf for m in MODES}, 1.01)


def start(settings: Settings, name: str, documents: list, inference: str) -> QAService:
    path_settings = settings.updated(**{"inference": inference, "index_dir": CACHE / f"{name}-{inference}"})
    return QAService.start(path_settings, encoder=load_encoder(path_settings), documents=documents)


def choose_ratio(probabilities: np.ndarray, data: fit.SentenceData, lengths: np.ndarray) -> tuple[float, list[dict]]:
    rows = []
    for ratio in RATIOS:
        hit, chars = [], []
        for g in np.unique(data.groups):
            idx = np.where(data.groups == g)[0]
            order = idx[np.argsort(-probabilities[idx])]
            second = len(order) > 1 and probabilities[order[1]] >= ratio * probabilities[order[0]]
            chosen = [order[0], order[1]] if second else [order[0]]
            hit.append(bool(data.labels[chosen].any()))
            chars.append(float(lengths[chosen].sum()))
        rows.append({"ratio": ratio, "contains_gold": round(float(np.mean(hit)), 4),
                     "answer_chars": round(float(np.mean(chars)), 1)})
    best = rows[-1]
    for row in sorted(rows, key=lambda r: -r["ratio"]):
        if row["contains_gold"] >= best["contains_gold"] + SECOND_SENTENCE_GAIN:
            best = row
    return best["ratio"], rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--inference", default="onnx-int8")
    parser.add_argument("--min-answered", type=float, default=0.95)
    parser.add_argument("--letter-weight", type=float, default=0.0,
                        help="the letter's dev split's total weight relative to CMRC's, in fitting and thresholds")
    args = parser.parse_args()
    configure_logging("WARNING")
    started = time.time()
    bootstrap = Path(tempfile.mkdtemp()) / "bootstrap.json"
    save_models(neutral_models(), bootstrap)
    settings = Settings(_env_file=None, answer_models=bootstrap)

    cmrc = load_cmrc(settings.cmrc_path)
    tune = [q for q in cmrc.queries if q.split == "dev"]
    held = [q for q in cmrc.queries if q.split == "test"]
    letter = load_dataset(DATASETS / "letter")
    letter_dev = [q for q in letter.queries if q.split == "dev"]

    # 1. Sentence model: CMRC with all articles indexed, tuning half (+ the letter's dev questions).
    closed = start(settings, cmrc.name, cmrc.documents, args.inference)
    letter_service = start(settings, letter.name, letter.documents, args.inference)
    train = fit.sentence_data(closed, tune)
    extra = fit.sentence_data(letter_service, [q for q in letter_dev if q.answerable])
    rows = np.vstack([train.rows, extra.rows])
    labels = np.concatenate([train.labels, extra.labels])
    sentence = fit.fit_linear(rows, labels, FEATURES)
    test = fit.sentence_data(closed, held)
    lengths = np.expm1(test.rows[:, FEATURES.index("log_length")])
    train_lengths = np.expm1(train.rows[:, FEATURES.index("log_length")])
    ratio, ratio_rows = choose_ratio(sentence.probabilities(train.rows), train, train_lengths)
    held_ratio_rows = choose_ratio(sentence.probabilities(test.rows), test, lengths)[1]

    # 2. Decision models: open-domain CMRC (tuning questions) + the letter's dev split.
    staged = AnswerModels("staged", sentence, neutral_models().decision, neutral_models().thresholds, ratio)
    opened = open_domain(cmrc, lambda title: article_half(title, INDEXED_BIT) == 0)
    open_service = fit.with_models(start(settings, opened.name, opened.documents, args.inference), staged)
    letter_staged = fit.with_models(letter_service, staged)
    decision, thresholds, decision_report = {}, {}, []
    open_tune = [q for q in opened.queries if q.split == "dev"]
    open_held = [q for q in opened.queries if q.split == "test"]
    for mode in MODES:
        x_c, y_c = fit.decision_rows(open_service, opened, open_tune, mode)
        x_l, y_l = fit.decision_rows(letter_staged, letter, letter_dev, mode)
        letter_weight = args.letter_weight * len(y_c) / max(len(y_l), 1)
        weights = np.concatenate([np.ones(len(y_c)), np.full(len(y_l), letter_weight)])
        model = fit.fit_linear(np.vstack([x_c, x_l]), np.concatenate([y_c, y_l]), DECISION_FEATURES, weights)
        decision[mode] = model
        thresholds[mode] = fit.best_threshold(
            [(model.probabilities(x_c), y_c), (model.probabilities(x_l), y_l)], args.min_answered,
            [1.0, args.letter_weight])
        x_h, y_h = fit.decision_rows(open_service, opened, open_held, mode)
        answered = model.probabilities(x_h) >= thresholds[mode]
        decision_report.append({
            "mode": mode, "threshold": thresholds[mode],
            "tune_accuracy": round(float(((model.probabilities(x_c) >= thresholds[mode]) == y_c).mean()), 4),
            "held_out_accuracy": round(float((answered == y_h).mean()), 4),
            "held_out_answered_when_answerable": round(float(answered[y_h].mean()), 4),
            "held_out_declined_when_unanswerable": round(float((~answered[~y_h]).mean()), 4),
        })

    models = AnswerModels(
        version=time.strftime("%Y-%m-%d", time.gmtime()),
        sentence=sentence, decision=decision, thresholds=thresholds, second_sentence_ratio=ratio,
        fitted_on={"sentence": f"CMRC 2018 dev, tuning half of articles ({len(tune)} questions) + letter dev",
                   "decision": f"CMRC 2018 open domain, tuning half ({len(open_tune)} questions) "
                               f"+ letter dev ({len(letter_dev)})",
                   "inference": args.inference, "min_answered": args.min_answered},
    )
    save_models(models, DEFAULT_PATH)

    sentence_row = {"split": "held-out half", "questions": len(held),
                    "top-1 sentence contains gold": round(fit.top1_contains(sentence.probabilities(test.rows), test), 4),
                    "tuning half": round(fit.top1_contains(sentence.probabilities(train.rows), train), 4)}
    coef = [{"feature": n, "weight": round(float(w), 3)} for n, w in zip(FEATURES, sentence.weights, strict=True)]
    dcoef = [{"feature": n, **{m: round(float(decision[m].weights[i]), 3) for m in MODES}}
             for i, n in enumerate(DECISION_FEATURES)]
    payload = {"sentence": sentence_row, "ratios_tuning": ratio_rows, "ratios_held_out": held_ratio_rows,
               "chosen_ratio": ratio, "decision": decision_report, "sentence_coefficients": coef,
               "decision_coefficients": dcoef, "seconds": round(time.time() - started, 1)}
    md = (
        "# Answer models (qa/answering/answer_models.json)\n\n"
        "Logistic regressions fitted with scikit-learn on tuning halves only (article-title hash); "
        "features are standardised, so the weights compare. Regenerate: `python eval/fit_answer_models.py`.\n\n"
        "## Sentence model: does this sentence hold the answer?\n\n" + md_table([sentence_row]) +
        "\n\nSecond sentence (joins when its probability ≥ ratio × the best; chosen on the tuning half, "
        f"needing +{SECOND_SENTENCE_GAIN} contains-gold): **{ratio}**\n\n" + md_table(ratio_rows) +
        "\n\nHeld-out half:\n\n" + md_table(held_ratio_rows) +
        "\n\n" + md_table(coef) +
        "\n\n## Decision model: do the passages answer the question?\n\n"
        f"The letter's dev split weighs {args.letter_weight} of CMRC's tuning half in fitting and thresholds. "
        "Thresholds: best weighted tuning accuracy (CMRC open domain, the letter's dev split) answering at least "
        f"{args.min_answered:.0%} of CMRC's answerable tuning questions.\n\n" + md_table(decision_report) +
        "\n\n" + md_table(dcoef) + "\n"
    )
    write_report("answer_models", payload, md)
    print(md)
    print(f"written {DEFAULT_PATH} and {REPORTS / 'answer_models.md'} in {time.time() - started:.0f} s")
    print(json.dumps(decision_report, ensure_ascii=False))


if __name__ == "__main__":
    main()
