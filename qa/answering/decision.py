"""Answer or decline: the question-level evidence, the fitted decision model, and the reason.

The decision model (a logistic regression per retrieval mode, fitted on
tuning halves by eval/fit_answer_models.py) turns the evidence below into the
probability that the retrieved passages answer the question; that
probability is the `confidence` the API reports.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.answering.features import FEATURES, Candidate, units
from qa.answering.question import QuestionInfo
from qa.exact import squash
from qa.schema import Hit

DECISION_FEATURES = (
    "best_sentence_logit", "best_sentence_share", "best_coverage", "best_chars_local", "best_aligned",
    "question_chars_found", "dense_support", "missing_entities", "unseen_terms", "type_missing", "unit_missing",
    "has_anchors", "anchors_found", "top_score", "top_margin", "best_sentence_similarity", "max_sentence_similarity",
    "names_missing_at_answer",
)

# Columns of the candidate feature table the decision reads.
_COVERAGE, _CHARS_LOCAL, _ALIGNED, _TYPE_MATCH, _UNIT_MATCH, _SIMILARITY = (
    FEATURES.index(name)
    for name in ("coverage", "chars_local", "aligned", "type_match", "unit_match", "dense_similarity"))


@dataclass(frozen=True)
class Evidence:
    """What the decision looks at, kept in the Answer for evaluation and explanations."""

    features: np.ndarray  # in DECISION_FEATURES order (one model per mode, so dense_support is 0 throughout bm25)
    missing: tuple[str, ...]  # entities of the question that no candidate passage contains
    # Of those, the decisive ones (see `decisive`): the service declines whatever the model says (`capped`).
    missing_named: tuple[str, ...] = ()
    missing_unit: str = ""  # the measure word the question names (多少家) when no candidate's number carries it
    missing_at_answer: tuple[str, ...] = ()  # names and figures of the question the best sentence's passage lacks


def decisive(named: list[str], document_frequency: np.ndarray) -> list[str]:
    """The question's names whose absence from the retrieved passages settles the question: figures (2017), and
    places, people or organisations that no passage of the corpus holds as a term (北京 in the letter; BM25
    document frequency 0). Passages without them answer another question. A name some other passage holds is
    left to the decision model: jieba tags common words as places (东西, 大洋), and declining on those lost
    answerable CMRC questions."""
    return [e for e, n in zip(named, document_frequency, strict=True) if n == 0 or any(ch.isdigit() for ch in e)]


def dense_support(hits: list[Hit], floor: float) -> float | None:
    """How far the top passage's similarity rises above the corpus's noise floor, 0..1
    (None in BM25-only mode, where there is no dense score)."""
    if not hits or hits[0].dense is None:
        return None
    return float(np.clip((hits[0].dense.score - floor) / max(1.0 - floor, 1e-6), 0.0, 1.0))


def share(logits: np.ndarray) -> float:
    """The best sentence's softmax share among the candidates. A ranker's scores compare sentences of one
    question, not questions: a lead over the rest says more than the raw score of the best."""
    return float(1.0 / np.exp(logits - logits.max()).sum())


def capped(confidence: float, threshold: float) -> float:
    """The confidence of a question `decisive` settles: below the threshold, so the service declines, but in the
    model's order rather than 0. At 0, the few answerable questions the rule catches ranked below every
    unanswerable one (open-domain CMRC, tuning half: AUROC 0.986 at 0, 0.992 capped; the decisions are the same)."""
    return round(min(confidence, max(threshold - 1e-4, 0.0)), 4)


def evidence(
    info: QuestionInfo,
    hits: list[Hit],
    candidates: list[Candidate],
    logits: np.ndarray,
    rows: np.ndarray,
    *,
    entities: list[str],
    named: list[str],
    decisive: list[str],
    unseen_share: float,
    floor: float,
) -> Evidence:
    """The decision's evidence (DECISION_FEATURES) for `candidates` of the top `hits`, scored `logits`, with feature
    `rows`. `entities`, `named`: the question's (qa.text.QueryTerms); `decisive`: the named ones whose absence
    declines (`decisive`); `unseen_share`: the idf share of question terms the corpus never uses; `floor`: the
    corpus's dense noise floor."""
    by_id = {h.passage.id: squash(h.passage.text + h.passage.context) for h in hits}
    # Squashed text has no whitespace, so a name cannot match across the line break between two passages.
    passages = "\n".join(by_id.values())
    missing = _absent(entities, passages)
    best = int(np.argmax(logits))
    # Names and figures of the question that the answer's own passage lacks, though another passage may hold them:
    # "2019年底IDC机架数" is answered from a passage "截至2018年底" while 2019 stands only in the sign-off's date.
    missing_at_answer = _absent(named, by_id[candidates[best].hit.passage.id])
    q_units = set(units(info.text))
    found_units = sum(u in passages for u in q_units) / len(q_units) if q_units else 0.0
    dense = dense_support(hits, floor)
    # type_match is 0 throughout for kinds without a typed token, so only number and date questions can miss one.
    type_missing = info.kind in ("number", "date") and not rows[:, _TYPE_MATCH].any()
    missing_unit = info.unit if info.unit and not (rows[:, _UNIT_MATCH] > 0).any() else ""
    anchors_found = sum(a in passages for a in info.anchors) / len(info.anchors) if info.anchors else 0.0
    row = np.array([
        logits[best], share(logits), rows[best, _COVERAGE], rows[best, _CHARS_LOCAL], rows[best, _ALIGNED],
        found_units, dense or 0.0, min(len(missing), 3), unseen_share, float(type_missing), float(bool(missing_unit)),
        float(bool(info.anchors)), anchors_found,
        # The retriever's final score and its lead over the runner-up (one model per mode, so one scale each).
        hits[0].score if hits else 0.0, hits[0].score - hits[1].score if len(hits) > 1 else 0.0,
        # The question's embedding similarity to the chosen sentence and to the closest one (qa.sentence_vectors).
        rows[best, _SIMILARITY], rows[:, _SIMILARITY].max(),
        min(len(missing_at_answer), 3),
    ])
    return Evidence(row, missing, tuple(e for e in missing if e in decisive), missing_unit, missing_at_answer)


def _absent(names: list[str], squashed: str) -> tuple[str, ...]:
    """The names that `squashed` (text in `squash`'s form) does not contain."""
    return tuple(e for e in names if squash(e) not in squashed)


def reason(ev: Evidence, confidence: float, threshold: float) -> str:
    """Why the service declines, in plain Chinese."""
    if ev.missing_named:
        return f"资料中没有提到问题里的“{'、'.join(ev.missing_named)}”，无法据此回答。"
    if ev.missing:
        return f"检索到的段落中没有提到问题里的“{'、'.join(ev.missing)}”，无法据此回答。"
    if ev.features[DECISION_FEATURES.index("type_missing")]:
        return "检索到的段落里没有问题所问的数字或日期，无法据此回答。"
    if ev.missing_unit:
        return f"检索到的段落里没有以“{ev.missing_unit}”计的数字，无法据此回答。"
    if ev.missing_at_answer:
        return f"最接近答案的段落中没有提到问题里的“{'、'.join(ev.missing_at_answer)}”，无法据此回答。"
    return f"现有资料与问题的吻合度不够（置信度 {shown(confidence)}，低于 {shown(threshold)}），为避免答非所问，暂不作答。"


def shown(value: float) -> str:
    """Two decimals, or two significant digits below 0.01: a corpus's calibrated threshold can be 0.0048, and
    "置信度 0.00，低于 0.00" explains nothing."""
    return f"{value:.2f}" if value >= 0.01 else f"{value:.2g}"
