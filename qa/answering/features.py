"""Features of candidate answer sentences: the inputs of the fitted sentence model.

A candidate is a sentence of one of the top passages. Its features describe
how much of the question it covers, three ways (jieba terms weighted by the
corpus IDF, character bigrams and characters) and, for each, weighted by how
rare the item is *among the candidates*: the question's topic ("焦比",
"萤火虫工作室") is in every candidate sentence and says little about which
one answers; the rarer words ("专长", "出入口") decide. Then whether it
carries the expected answer type (and the unit the question names), how well
the question's shape aligns with it, where it stands, and its neighbours'
coverage (the answer often follows the sentence that names the topic: "安贞门站位于…。该站…设有4个出入口"),
and the question's dense similarity to it (qa.sentence_vectors: what the words miss).

Sentence analysis (terms, bigrams) is cached per passage, so a corpus's
passages are segmented once, not per question.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from qa.answering.question import QuestionInfo
from qa.answering.short import alignment, typed_tokens
from qa.answering.spans import Words
from qa.chunking import sentence_spans
from qa.exact import squash
from qa.schema import Hit, Passage
from qa.text import Terms

_UNITS = re.compile(r"[\u4e00-\u9fff]|[a-z0-9]+")

FEATURES = (
    "coverage", "coverage_with_context", "coverage_local", "bigrams_local", "chars_local", "novelty",
    "anchors", "type_match", "typed_question", "unit_match", "aligned", "aligned_gap", "rank1", "rank2", "rank3",
    "log_length", "first_in_passage", "position", "prev_coverage_local", "prev_bigrams_local",
    "next_coverage_local", "next_bigrams_local", "dense_similarity",
)


def units(text: str) -> list[str]:
    """Characters (CJK) and alphanumeric runs of the squashed text: the unit of character overlap."""
    return _UNITS.findall(squash(text))


def unit_match(info: QuestionInfo, squashed: str) -> float:
    """1 when a number in `squashed` (qa.exact.squash: 87％ reads 87%, 22 家 reads 22家) carries the measure word
    the question names (多少家 ↔ 22家), -1 when none does, 0 when the question names none. A figure in another
    unit (8个 for 多少亿元) answers a different question."""
    if not info.unit:
        return 0.0
    return 1.0 if any(info.unit in m.group() for m in typed_tokens("number", squashed)) else -1.0


def bigrams(items: list[str]) -> frozenset[tuple[str, str]]:
    return frozenset(zip(items, items[1:], strict=False))


@dataclass(frozen=True)
class SentenceInfo:
    start: int  # offsets within the passage
    end: int
    text: str
    squashed: str
    terms: frozenset[str]
    chars: frozenset[str]
    bigrams: frozenset[tuple[str, str]]
    length: int
    words: Words  # of `squashed`, for the short answer's candidate spans


@dataclass(frozen=True)
class PassageInfo:
    context_terms: frozenset[str]
    sentences: tuple[SentenceInfo, ...]


def analyse_passage(passage: Passage, terms: Terms) -> PassageInfo:
    sentences = []
    for s, e in sentence_spans(passage.text):
        text = passage.text[s:e]
        items = units(text)
        squashed = squash(text)
        sentences.append(SentenceInfo(s, e, text, squashed, frozenset(terms(text)), frozenset(items),
                                      bigrams(items), len(text), Words(*terms.segment(squashed))))
    return PassageInfo(frozenset(terms(passage.context)), tuple(sentences))


@dataclass(frozen=True)
class Candidate:
    hit: Hit
    sentence: SentenceInfo

    @property
    def start(self) -> int:  # document offsets
        return self.hit.passage.start + self.sentence.start

    @property
    def end(self) -> int:
        return self.hit.passage.start + self.sentence.end


def _local_weights(items: list, sets: list[frozenset]) -> dict:
    """log((N+1)/(df+0.5)) with df counted over the candidate sentences."""
    wanted = frozenset(items)
    df: Counter = Counter()
    for s in sets:
        df.update(wanted & s)  # only the question's items: linear in the sentences' sizes
    n = len(sets)
    return {item: math.log((n + 1) / (df[item] + 0.5)) for item in items}


@dataclass(frozen=True)
class _Weights:
    """The question's items with their weights, and the weights' total (summed once per question)."""

    items: dict
    total: float

    @classmethod
    def of(cls, items: dict) -> _Weights:
        return cls(items, math.fsum(items.values()))

    def share(self, present: frozenset) -> float:
        """Weighted share of the items present; iterates the smaller side (questions can be long). fsum: a set's
        order changes with the interpreter's hash seed, and a plain sum's last bit with it, which was enough to
        make LightGBM fit different sentence models from the same data."""
        if self.total <= 0:
            return 0.0
        if len(present) < len(self.items):
            return math.fsum(self.items.get(item, 0.0) for item in present) / self.total
        return math.fsum(w for item, w in self.items.items() if item in present) / self.total


def candidate_features(
    info: QuestionInfo,
    question_terms: list[str],
    term_idf: np.ndarray,
    hits: list[Hit],
    analyse: Callable[[Passage], PassageInfo],
    similarities: Sequence[np.ndarray],
) -> tuple[list[Candidate], np.ndarray]:
    """Every sentence of `hits` with its feature row (columns as in FEATURES). `similarities`: per hit, the
    question's dense similarity to each of its passage's sentences (qa.sentence_vectors)."""
    candidates: list[Candidate] = []
    contexts: list[frozenset[str]] = []
    positions: list[tuple[int, int]] = []  # (index in passage, sentences in passage)
    for hit, similarity in zip(hits, similarities, strict=True):
        analysed = analyse(hit.passage)
        if len(similarity) != len(analysed.sentences):
            raise ValueError(f"passage {hit.passage.id}: {len(similarity)} sentence similarities for "
                             f"{len(analysed.sentences)} sentences")
        for i, sent in enumerate(analysed.sentences):
            candidates.append(Candidate(hit, sent))
            contexts.append(analysed.context_terms)
            positions.append((i, len(analysed.sentences)))
    if not candidates:
        return [], np.zeros((0, len(FEATURES)))

    q_units = units(info.text)
    q_bigrams = list(bigrams(q_units))
    q_chars = list(dict.fromkeys(q_units))
    sents = [c.sentence for c in candidates]
    local_terms = _local_weights(question_terms, [s.terms for s in sents])
    idf_by_term = dict(zip(question_terms, term_idf.tolist(), strict=True))
    global_idf = _Weights.of(idf_by_term)
    term_weights = _Weights.of({t: idf_by_term[t] * local_terms[t] for t in question_terms})
    bigram_weights = _Weights.of(_local_weights(q_bigrams, [s.bigrams for s in sents]))
    char_weights = _Weights.of(_local_weights(q_chars, [s.chars for s in sents]))
    q_char_set = frozenset(q_chars)

    rows = []
    for cand, context, (index, count) in zip(candidates, contexts, positions, strict=True):
        s = cand.sentence
        left, right, aligned = alignment(info, s.squashed)
        gap = left is not None and right is not None and 0 < right - left <= 40
        rows.append([
            global_idf.share(s.terms),
            global_idf.share(s.terms | context),
            term_weights.share(s.terms),
            bigram_weights.share(s.bigrams),
            char_weights.share(s.chars),
            1.0 - len(s.chars & q_char_set) / max(len(s.chars), 1),
            sum(a in s.squashed for a in info.anchors) / len(info.anchors) if info.anchors else 0.0,
            float(bool(typed_tokens(info.kind, s.text))),
            float(info.kind in ("number", "date")),
            unit_match(info, s.squashed),
            aligned,
            float(gap),
            float(cand.hit.rank == 1), float(cand.hit.rank == 2), float(cand.hit.rank >= 3),
            math.log1p(s.length),
            float(index == 0),
            index / count,
        ])
    table = np.asarray(rows, dtype=np.float64)
    # Neighbours in the same passage: the previous / next sentence's local coverage.
    neighbours = np.zeros((len(candidates), 4))
    for i, (index, count) in enumerate(positions):
        if index > 0:
            neighbours[i, 0:2] = table[i - 1, 2:4]
        if index < count - 1:
            neighbours[i, 2:4] = table[i + 1, 2:4]
    return candidates, np.hstack([table, neighbours, np.concatenate(similarities)[:, None]])
