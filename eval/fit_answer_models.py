"""Fit qa/answering/answer_models.json and write eval/reports/answer_models.{md,json}.

    python eval/fit_answer_models.py            # CMRC 2018 (../shared/data) + the letter's dev split

Only tuning data is used for fitting (see qa.evaluation.answer_fit); the report
also gives the held-out half's scores, which `qa eval` reports in full.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from qa.answering.decision import DECISION_FEATURES
from qa.answering.features import FEATURES
from qa.answering.model import (
    DEFAULT_PATH,
    SENTENCE_MODEL_FILE,
    SPAN_RANKER_FILE,
    AnswerModels,
    Cascade,
    LinearModel,
    TreeModel,
    save_models,
)
from qa.answering.short import short_span
from qa.answering.spans import ALL_FEATURES, CATEGORICAL
from qa.config import Settings
from qa.embedding.factory import load_encoder
from qa.evaluation import answer_fit as fit
from qa.evaluation.datasets import INDEXED_BIT, article_half, load_cmrc, load_dataset
from qa.evaluation.open_domain import open_domain
from qa.evaluation.report import REPORTS, md_table, write_report
from qa.evaluation.runner import auroc_of
from qa.evaluation.suite import CACHE, DATASETS
from qa.logs import configure_logging
from qa.service import QAService

MODES = ("hybrid", "dense", "bm25")
RATIOS = (0.3, 0.5, 0.7, 1.01)
SPAN_VOCABULARY = 300  # edge words with a category of their own; the rest share one
TREE_FIXED = {"learning_rate": 0.05, "deterministic": True, "force_row_wise": True, "seed": 0, "n_jobs": 2,
              "verbose": -1}
# Each grid is chosen among by FOLDS-fold cross-validation on the tuning half (folds are contiguous blocks of
# questions, which come in article order, so an article rarely sits on both sides; see `fold_of`).
FOLDS = 3
# None: a logistic regression.
SENTENCE_TREES = {"n_estimators": 200, "num_leaves": 15, "min_child_samples": 50, "colsample_bytree": 0.5}
SENTENCE_GRID: tuple[dict | None, ...] = (
    None,
    SENTENCE_TREES,
    {**SENTENCE_TREES, "n_estimators": 400, "learning_rate": 0.03},
    # LambdaRank: the sentences of one question compete, as they do when the answer is chosen; the truncation
    # level is how deep in each question's ranking pairs count.
    *({**SENTENCE_TREES, "objective": "lambdarank", "lambdarank_truncation_level": level} for level in (1, 3, 5)),
)
SPAN_GRID = (
    {"n_estimators": 300, "num_leaves": 63, "min_child_samples": 20},
    {"n_estimators": 300, "num_leaves": 31, "min_child_samples": 50},
    {"n_estimators": 500, "num_leaves": 15, "min_child_samples": 50, "colsample_bytree": 0.5},
    {"n_estimators": 300, "num_leaves": 63, "min_child_samples": 20, "colsample_bytree": 0.5, "reg_lambda": 5.0},
)
# (first trees, rows kept for the rest): the span ranker scores every candidate with its first trees only.
CASCADE_GRID: tuple[Cascade | None, ...] = (
    None, Cascade(10, 10), Cascade(20, 10), Cascade(20, 20), Cascade(40, 20), Cascade(40, 40), Cascade(80, 40),
)
CASCADE_LOSS = 0.002  # CV F1 a cascade may lose against no cascade
# CV F1 a cheaper span ranker may lose against the best of SPAN_GRID: differences this small are within the
# noise of where the fold boundaries fall, while the prediction cost is paid on every /ask.
SPAN_PARAMS_LOSS = 0.002
SHORT_SPAN_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0)
# A second quoted sentence costs the reader time: it must add at least this much answer-contains-gold.
SECOND_SENTENCE_GAIN = 0.02


def neutral_models() -> AnswerModels:
    def zero(names: tuple[str, ...]) -> LinearModel:
        n = len(names)
        return LinearModel(names, np.zeros(n), 0.0, np.zeros(n), np.ones(n))

    return AnswerModels("bootstrap", zero(FEATURES), {m: zero(DECISION_FEATURES) for m in MODES},
                        {m: -math.inf for m in MODES}, 1.01)


def fold_of(question: np.ndarray, questions: int) -> np.ndarray:
    """The cross-validation fold of tuning questions by their index: sentence models, span rankers, the
    short-answer weight and the decision evidence all use the same folds, so out-of-fold choices never meet a
    model fitted on them."""
    return question * FOLDS // questions


def fit_sentence_model(data: fit.SentenceData, params: dict | None) -> LinearModel | TreeModel:
    """A logistic regression (params None), LightGBM classifier (P(the sentence holds a gold answer)) or
    LambdaRank ranker (a score to rank one question's sentences by)."""
    if params is None:
        return fit.fit_linear(data.rows, data.labels, FEATURES)
    import lightgbm

    if params.get("objective") == "lambdarank":
        if np.any(np.diff(data.groups) < 0):
            raise ValueError("a ranker needs each question's sentences together, questions in order")
        sizes = np.unique(data.groups, return_counts=True)[1]
        model = lightgbm.LGBMRanker(**{**TREE_FIXED, **params}).fit(data.rows, data.labels.astype(int), group=sizes)
    else:
        model = lightgbm.LGBMClassifier(**{**TREE_FIXED, **params}).fit(data.rows, data.labels)
    return TreeModel(FEATURES, model.booster_.model_to_string(), SENTENCE_MODEL_FILE)


def choose_sentence_model(data: fit.SentenceData,
                          questions: int) -> tuple[dict | None, list[dict], np.ndarray, list[LinearModel | TreeModel]]:
    """Cross-validation on the tuning half over SENTENCE_GRID. Also the chosen model's out-of-fold probabilities
    and fold models, which the second-sentence ratio, the short-answer weight and the decision model's tuning
    evidence are chosen with (a model's scores on the rows it was fitted on flatter its first choice, a ranker's
    most of all)."""
    folds = fold_of(data.groups, questions)
    rows, out_of_fold, fold_models = [], [], []
    for params in SENTENCE_GRID:
        scores, probabilities, models = [], np.zeros(len(data.labels)), []
        for k in range(FOLDS):
            model = fit_sentence_model(fit.SentenceData(data.rows[folds != k], data.labels[folds != k],
                                                        data.groups[folds != k]), params)
            held = fit.SentenceData(data.rows[folds == k], data.labels[folds == k], data.groups[folds == k])
            probabilities[folds == k] = model.probabilities(held.rows)
            scores.append(fit.top1_contains(probabilities[folds == k], held))
            models.append(model)
        rows.append({"model": str(params or "logistic regression"), "cv_top1": round(float(np.mean(scores)), 4)})
        out_of_fold.append(probabilities)
        fold_models.append(models)
    best = max(range(len(SENTENCE_GRID)), key=lambda i: rows[i]["cv_top1"])
    return SENTENCE_GRID[best], rows, out_of_fold[best], fold_models[best]


def fit_span_ranker(data: fit.SpanData, vocabulary: tuple[str, ...], params: dict) -> TreeModel:
    import lightgbm

    model = lightgbm.LGBMRanker(**{**TREE_FIXED, **params})
    categorical = list(range(len(ALL_FEATURES) - len(CATEGORICAL), len(ALL_FEATURES)))
    model.fit(data.rows, data.relevance, group=data.group_sizes, categorical_feature=categorical)
    return TreeModel(ALL_FEATURES, model.booster_.model_to_string(), SPAN_RANKER_FILE, vocabulary)


def ranked_spans(ranker: TreeModel, data: fit.SpanData) -> list[tuple[int, int]]:
    """Each sentence's best span as the service picks it (`TreeModel.best`, with the ranker's cascade)."""
    bounds = np.concatenate([[0], np.cumsum(data.group_sizes)])
    return [c[ranker.best(data.rows[a:b])[0]] for c, a, b in zip(data.candidates, bounds[:-1], bounds[1:], strict=True)]


def cascade_cost(cascade: Cascade | None, trees: int, sizes: np.ndarray) -> float:
    """Tree evaluations per sentence: what prediction time is proportional to."""
    if cascade is None:
        return float(np.mean(sizes * trees))
    full = sizes <= cascade.keep
    staged = cascade.first_trees * sizes + cascade.keep * (trees - cascade.first_trees)
    return float(np.mean(np.where(full, sizes * trees, staged)))


FoldRankers = list[tuple[TreeModel, list, fit.SpanData]]  # per fold: the ranker, its held-out examples and data


def choose_span_params(examples: list, questions: int, vocabulary: tuple[str, ...],
                       word_ids: dict[str, int]) -> tuple[dict, list, FoldRankers]:
    folds = fold_of(np.array([e.question for e in examples]), questions)
    rows, fold_rankers = [], []
    for params in SPAN_GRID:
        scores, rankers = [], []
        for k in range(FOLDS):
            train = fit.span_data([e for e, f in zip(examples, folds, strict=True) if f != k], word_ids)
            held = [e for e, f in zip(examples, folds, strict=True) if f == k]
            held_data = fit.span_data(held, word_ids)
            ranker = fit_span_ranker(train, vocabulary, params)
            scores.append(fit.span_scores(held, ranked_spans(ranker, held_data)))
            rankers.append((ranker, held, held_data))
        rows.append({"params": str(params), "cv_em": round(float(np.mean([em for em, _ in scores])), 4),
                     "cv_f1": round(float(np.mean([f1 for _, f1 in scores])), 4)})
        fold_rankers.append(rankers)
    best = cheapest_within(rows, max(r["cv_f1"] for r in rows) - SPAN_PARAMS_LOSS,
                           [prediction_cost(params) for params in SPAN_GRID])
    return SPAN_GRID[best], rows, fold_rankers[best]


def cheapest_within(rows: list[dict], floor: float, costs: list[float]) -> int:
    """The index of the cheapest row whose cross-validated F1 reaches `floor`."""
    return min((i for i, r in enumerate(rows) if r["cv_f1"] >= floor), key=costs.__getitem__)


def prediction_cost(params: dict) -> float:
    """Nodes a candidate passes through: trees times the depth of a balanced tree with that many leaves."""
    return params["n_estimators"] * math.log2(params["num_leaves"])


def choose_cascade(fold_rankers: FoldRankers) -> tuple[Cascade | None, list[dict]]:
    """The cheapest cascade whose cross-validated F1 (the chosen parameters' fold rankers) is within
    CASCADE_LOSS of ranking every candidate with every tree."""
    rows = []
    for cascade in CASCADE_GRID:
        scores, costs = [], []
        for ranker, held, data in fold_rankers:
            scores.append(fit.span_scores(held, ranked_spans(ranker.with_cascade(cascade), data)))
            costs.append(cascade_cost(cascade, ranker.num_trees, data.group_sizes))
        rows.append({"cascade": str(cascade and (cascade.first_trees, cascade.keep)),
                     "cv_em": round(float(np.mean([em for em, _ in scores])), 4),
                     "cv_f1": round(float(np.mean([f1 for _, f1 in scores])), 4),
                     "tree_evaluations_per_sentence": round(float(np.mean(costs)))})
    best = cheapest_within(rows, rows[0]["cv_f1"] - CASCADE_LOSS, [r["tree_evaluations_per_sentence"] for r in rows])
    return CASCADE_GRID[best], rows


def span_rows(full: TreeModel, ranker: TreeModel, examples: list, word_ids: dict[str, int]) -> list[dict]:
    data = fit.span_data(examples, word_ids)
    heuristic = [short_span(ex.info, ex.sentence.squashed) for ex in examples]
    rows = []
    for name, chosen in (("alignment heuristic", heuristic), ("span ranker, every tree on every span",
                                                               ranked_spans(full, data)),
                         ("span ranker, chosen cascade (the service)", ranked_spans(ranker, data))):
        em, f1 = fit.span_scores(examples, chosen)
        rows.append({"short answer": name, "held-out sentences": len(examples), "em": round(em, 4), "f1": round(f1, 4)})
    return rows


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
    neutral = neutral_models()
    save_models(neutral, bootstrap)
    settings = Settings(_env_file=None, answer_models=bootstrap)

    cmrc = load_cmrc(settings.cmrc_path)
    tune = [q for q in cmrc.queries if q.split == "dev"]
    held = [q for q in cmrc.queries if q.split == "test"]
    fold_by_question = dict(zip((q.id for q in tune), fold_of(np.arange(len(tune)), len(tune)).tolist(), strict=True))
    letter = load_dataset(DATASETS / "letter")
    letter_dev = [q for q in letter.queries if q.split == "dev"]

    # 1. Sentence model: CMRC with all articles indexed, tuning half (+ the letter's dev questions).
    closed = start(settings, cmrc.name, cmrc.documents, args.inference)
    letter_service = start(settings, letter.name, letter.documents, args.inference)
    train = fit.sentence_data(closed, tune)
    extra = fit.sentence_data(letter_service, [q for q in letter_dev if q.answerable])
    both = fit.SentenceData(np.vstack([train.rows, extra.rows]), np.concatenate([train.labels, extra.labels]),
                            np.concatenate([train.groups, extra.groups + train.groups.max() + 1]))
    sentence_params, sentence_cv, out_of_fold, sentence_folds = choose_sentence_model(train, len(tune))
    sentence = fit_sentence_model(both, sentence_params)
    test = fit.sentence_data(closed, held)
    lengths = np.expm1(test.rows[:, FEATURES.index("log_length")])
    train_lengths = np.expm1(train.rows[:, FEATURES.index("log_length")])
    ratio, ratio_rows = choose_ratio(out_of_fold, train, train_lengths)
    held_ratio_rows = choose_ratio(sentence.probabilities(test.rows), test, lengths)[1]

    # 2. Span ranker (the short answer): tuning-half sentences holding a gold answer; held-out for the report.
    span_tune = fit.span_examples(closed, tune)
    vocabulary = fit.span_vocabulary(span_tune, SPAN_VOCABULARY)
    word_ids = {w: i + 1 for i, w in enumerate(vocabulary)}
    span_params, span_cv, fold_rankers = choose_span_params(span_tune, len(tune), vocabulary, word_ids)
    cascade, cascade_rows = choose_cascade(fold_rankers)
    full_ranker = fit_span_ranker(fit.span_data(span_tune, word_ids), vocabulary, span_params)
    ranker = full_ranker.with_cascade(cascade)
    span_held = fit.span_examples(closed, held, per_question=1)
    span_report = span_rows(full_ranker, ranker, span_held, word_ids)
    ranked = AnswerModels("ranked", sentence, neutral.decision, neutral.thresholds, ratio, span=ranker)
    choices_held = fit.short_choices(fit.with_models(closed, ranked), held)
    choices_tune = []  # out of fold: each fold's questions answered by the sentence model and ranker fitted without it
    for k, (sentence_k, (ranker_k, _, _)) in enumerate(zip(sentence_folds, fold_rankers, strict=True)):
        fold = AnswerModels(f"fold {k}", sentence_k, neutral.decision, neutral.thresholds, ratio,
                            span=ranker_k.with_cascade(cascade))
        choices_tune += fit.short_choices(fit.with_models(closed, fold),
                                          [q for q in tune if fold_by_question[q.id] == k])
    weight_rows = []
    for w in SHORT_SPAN_WEIGHTS:
        (tune_em, tune_f1), (held_em, held_f1) = fit.short_scores(choices_tune, w), fit.short_scores(choices_held, w)
        weight_rows.append({"span_weight": w, "tune_oof_em": round(tune_em, 4), "tune_oof_f1": round(tune_f1, 4),
                            "held_out_em": round(held_em, 4), "held_out_f1": round(held_f1, 4)})
    span_weight = max(weight_rows, key=lambda r: r["tune_oof_f1"])["span_weight"]

    # 3. Decision models: open-domain CMRC (tuning questions) + the letter's dev split.
    staged = AnswerModels("staged", sentence, neutral.decision, neutral.thresholds, ratio)
    opened = open_domain(cmrc, lambda title: article_half(title, INDEXED_BIT) == 0)
    open_base = start(settings, opened.name, opened.documents, args.inference)
    open_service = fit.with_models(open_base, staged)
    # The tuning questions' evidence comes out of fold, as the held-out half's does: the best sentence's score from
    # a sentence model fitted without the question (a ranker's scores on its own rows are far surer than on new ones).
    open_folds = [fit.with_models(open_base, AnswerModels(f"fold {k}", m, neutral.decision, neutral.thresholds, ratio))
                  for k, m in enumerate(sentence_folds)]
    # In sample: the final sentence model saw the letter's dev questions. Harmless at the default --letter-weight 0
    # (the letter then weighs nothing in the fit or the thresholds); a positive weight should fold them too.
    letter_staged = fit.with_models(letter_service, staged)
    decision, thresholds, decision_report, ablation = {}, {}, [], {}
    open_tune = [q for q in opened.queries if q.split == "dev"]
    open_held = [q for q in opened.queries if q.split == "test"]
    for mode in MODES:
        parts = [fit.decision_rows(service, opened, [q for q in open_tune if fold_by_question[q.id] == k], mode)
                 for k, service in enumerate(open_folds)]
        x_c, y_c = np.vstack([x for x, _ in parts]), np.concatenate([y for _, y in parts])
        folds_c = np.concatenate([np.full(len(y), k) for k, (_, y) in enumerate(parts)])
        x_l, y_l = fit.decision_rows(letter_staged, letter, letter_dev, mode)
        data = fit.DecisionData.of((x_c, y_c, folds_c), (x_l, y_l), args.letter_weight)
        model = decision[mode] = data.fit()
        ablation[mode] = fit.decision_ablation(data)
        thresholds[mode] = fit.best_threshold(
            [(model.probabilities(x_c), y_c), (model.probabilities(x_l), y_l)], args.min_answered,
            [1.0, args.letter_weight])
        x_h, y_h = fit.decision_rows(open_service, opened, open_held, mode)
        decided = AnswerModels("decided", sentence, {mode: model}, {mode: thresholds[mode]}, ratio, span=ranker)
        near = fit.near_miss_answers(fit.with_models(open_base, decided, {mode: thresholds[mode]}),
                                     [q for q in open_held if q.answerable], mode)
        answered = model.probabilities(x_h) >= thresholds[mode]
        decision_report.append({
            "mode": mode, "threshold": thresholds[mode], "cv_auroc": ablation[mode]["(all features)"],
            "tune_accuracy": round(float(((model.probabilities(x_c) >= thresholds[mode]) == y_c).mean()), 4),
            "held_out_auroc": auroc_of(y_h.tolist(), model.probabilities(x_h).tolist()),
            "held_out_accuracy": round(float((answered == y_h).mean()), 4),
            "held_out_answered_when_answerable": round(float(answered[y_h].mean()), 4),
            "held_out_declined_when_unanswerable": round(float((~answered[~y_h]).mean()), 4),
            "held_out_near_misses_declined": round(float(np.mean([not a.answerable for a in near])), 4),
            "letter_dev_auroc": auroc_of(y_l.tolist(), model.probabilities(x_l).tolist()),
        })

    models = AnswerModels(
        version=time.strftime("%Y-%m-%d", time.gmtime()),
        sentence=sentence, decision=decision, thresholds=thresholds, second_sentence_ratio=ratio, span=ranker,
        short_span_weight=span_weight,
        fitted_on={"sentence": f"CMRC 2018 dev, tuning half of articles ({len(tune)} questions) + letter dev",
                   "span": f"CMRC 2018 dev, tuning half: {len(span_tune)} sentences holding a gold answer",
                   "decision": f"CMRC 2018 open domain, tuning half ({len(open_tune)} questions) "
                               f"+ letter dev ({len(letter_dev)})",
                   "inference": args.inference, "min_answered": args.min_answered},
    )
    save_models(models, DEFAULT_PATH)

    sentence_row = {"split": "held-out half", "questions": len(held),
                    "top-1 sentence contains gold": round(fit.top1_contains(sentence.probabilities(test.rows), test), 4),
                    "tuning half, out of fold": round(fit.top1_contains(out_of_fold, train), 4)}
    coef = ([{"feature": n, "weight": round(float(w), 3)} for n, w in zip(FEATURES, sentence.weights, strict=True)]
            if isinstance(sentence, LinearModel) else
            [{"feature": n, "gain_share": round(g, 3)} for n, g in sentence.importances().items()])
    dcoef = [{"feature": n, **{m: round(float(decision[m].weights[i]), 3) for m in MODES}}
             for i, n in enumerate(DECISION_FEATURES)]
    ablation_rows = [{"features": name, **{f"{m} cv_auroc": ablation[m][name] for m in MODES}}
                     for name in ablation["hybrid"]]
    payload = {"sentence": sentence_row, "ratios_tuning_out_of_fold": ratio_rows, "ratios_held_out": held_ratio_rows,
               "chosen_ratio": ratio, "span": span_report, "span_params": span_params, "span_cv": span_cv,
               "cascade": cascade and dataclasses.asdict(cascade), "cascades": cascade_rows,
               "short_span_weight": span_weight, "short_span_weights": weight_rows,
               "sentence_model": str(sentence_params), "sentence_cv": sentence_cv,
               "decision": decision_report, "sentence_coefficients": coef,
               "decision_coefficients": dcoef, "decision_ablation": ablation_rows,
               "seconds": round(time.time() - started, 1)}
    md = (
        "# Answer models (qa/answering/answer_models.json)\n\n"
        "Fitted on tuning halves only (CMRC 2018 by article-title hash, the letter's dev split): the sentence "
        "model and the span ranker with LightGBM (a tree model's table gives each feature's share of the split "
        "gain), the decision models as logistic regressions with scikit-learn (standardised features, so the "
        "weights compare). Regenerate: `python eval/fit_answer_models.py`.\n\n"
        "## Sentence model: does this sentence hold the answer?\n\n" + md_table([sentence_row]) +
        "\n\nSecond sentence (joins when its probability ≥ ratio × the best; chosen on the tuning half's "
        f"out-of-fold probabilities, needing +{SECOND_SENTENCE_GAIN} contains-gold): **{ratio}**\n\n"
        + md_table(ratio_rows) +
        "\n\nHeld-out half:\n\n" + md_table(held_ratio_rows) +
        f"\n\nModel: {sentence_params or 'logistic regression'}, the best cross-validated top-1 on the tuning "
        "half among:\n\n" + md_table(sentence_cv) + "\n\n" + md_table(coef) +
        "\n\n## Span ranker: the short answer inside the chosen sentence\n\n"
        "LightGBM LambdaRank over candidate spans (qa/answering/spans.py), graded by exact match, then CMRC F1 "
        f"(`span_grade`), fitted on the {len(span_tune)} tuning-half sentences that hold a gold answer; scored "
        "here on one such sentence per "
        "held-out question (the sentence given, so this isolates the span choice; `qa eval` scores it end to end). "
        f"Parameters {span_params} (plus {TREE_FIXED}): the cheapest to evaluate (trees × log2 leaves) within "
        f"{SPAN_PARAMS_LOSS} of the best cross-validated F1 on the tuning half:\n\n"
        + md_table(span_cv) +
        "\n\nPrediction costs per candidate and tree, so the service ranks in two stages (`TreeModel.best`): "
        "the first trees score every candidate, the rest only the best few. Chosen: the cheapest cascade within "
        f"{CASCADE_LOSS} cross-validated F1 of none (the chosen parameters' fold rankers): **{cascade}**\n\n"
        + md_table(cascade_rows) + "\n\nHeld-out half:\n\n" + md_table(span_report) +
        "\n\nWhen two sentences are quoted, the short answer comes from the one with the highest sentence logit + "
        f"weight × span score; weight **{span_weight}**, the best tuning F1 (end to end, with retrieval; out of "
        "fold: each third of the tuning questions answered by the sentence model and span ranker fitted on the "
        "other two):\n\n"
        + md_table(weight_rows) +
        "\n\n## Decision model: do the passages answer the question?\n\n"
        "The tuning questions' evidence is out of fold (their best sentence scored by the sentence model fitted "
        "without them), like the held-out half's. "
        f"The letter's dev split weighs {args.letter_weight} of CMRC's tuning half in fitting and thresholds. "
        "Thresholds: best weighted tuning accuracy (CMRC open domain, the letter's dev split) answering at least "
        f"{args.min_answered:.0%} of CMRC's answerable tuning questions.\n\n" + md_table(decision_report) +
        "\n\nHeld-out near misses: the held-out half's answerable questions again, with every retrieved passage "
        "that holds a gold answer taken away (the rest of the article still matches the topic; "
        "`answer_fit.near_miss_answers`); the share the service declines, every rule included. The letter's dev "
        "AUROC is out of sample for the decision model at --letter-weight 0 (the sentence model saw those "
        "questions).\n\n" + md_table(dcoef) +
        "\n\nWhat each feature adds: cross-validated AUROC on the tuning evidence (the same thirds of the "
        "questions), with every feature and without each one:\n\n" + md_table(ablation_rows) + "\n"
    )
    write_report("answer_models", payload, md)
    print(md)
    print(f"written {DEFAULT_PATH} and {REPORTS / 'answer_models.md'} in {time.time() - started:.0f} s")
    print(json.dumps(decision_report, ensure_ascii=False))


if __name__ == "__main__":
    main()
