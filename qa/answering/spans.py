"""Candidate short answers inside a sentence, and the features the fitted span ranker scores them by.

A candidate is a run of jieba words of the (squashed) sentence: up to
MAX_WORDS words inside one clause, or whole clauses (up to MAX_CLAUSES, for
reasons and methods, which are answered by clauses), plus the alignment
heuristic's own span (qa.answering.short) and every number or date token.
The features say what the heuristic alone cannot weigh together: where the
span stands against the question's matched context, whether it repeats the
question (answers are new information), its type against the asked type,
and the words at and around its edges ("又称|巫医", "长约|35公里",
"2017年12月19日18时|顺利"): edge words and their dictionary tags decide most
boundary errors, so the most frequent edge words are categorical features.

Everything is linear in the sentence's length times MAX_WORDS.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from qa.answering.question import QuestionInfo
from qa.answering.short import DATE, NUMBER, context_spans, short_span, typed_tokens
from qa.text import Terms

MAX_WORDS = 16
MAX_CHARS = 40
MAX_CLAUSES = 3
MAX_CLAUSE_CHARS = 80
_CLAUSE = frozenset("，,；;：:。！？!?")
_PUNCT = frozenset("，,；;：:。！？!?、“”\"'‘’（）()《》〈〉【】[]「」『』…—-·")
_OPENING = frozenset("《“「『(（")
_CLOSING = frozenset("》”」』)）")
_BAD_START = frozenset("的是了和与及或在于由为被把将也都就而")
_BAD_END = frozenset("的是了和与及或在于由为被把将也")
# Words that introduce an answer rather than belong to it (位于|X, 又称|X, 长约|35公里).
_INTRODUCERS = ("位于", "又称", "又名", "称为", "名为", "约", "长约", "属", "则", "呈", "即", "由", "被", "以", "为",
                "于", "在", "从", "是", "有", "共")
_ENTITY_TAGS = frozenset({"ns", "nr", "nrt", "nrfg", "nt", "nz"})
KINDS = ("date", "number", "person", "place", "reason", "method", "list", "entity", "other")
_PER_KIND = ("typed", "entity_end", "log_chars", "whole_clause", "question_overlap", "starts_at_left",
             "ends_at_right", "noun_end")
SPAN_FEATURES = (
    "heuristic_f1", "is_heuristic", "log_chars", "short", "question_overlap", "mostly_question",
    "starts_at_left", "starts_near_left", "left_distance", "starts_before_left",
    "ends_at_right", "ends_near_right", "right_distance", "ends_after_right",
    "inside_gap", "no_left", "no_right",
    "is_number", "has_number", "is_date", "has_date", "typed", "has_unit", "entity_end", "noun_end", "verb_end",
    "verb_start", "bad_start", "bad_end", "has_enumeration_comma", "has_and", "has_title", "same_clause_as_left",
    "same_clause_as_right", "whole_clause", "ends_with_head", "position", "aligned", "clauses",
    *(f"kind_{k}" for k in KINDS),
    *(f"{k}_{f}" for k in KINDS for f in _PER_KIND),
    "prev_in_question", "next_in_question", "first_in_question", "last_in_question", "at_start", "at_end",
    "prev_punct", "next_punct", "prev_verb", "prev_preposition", "prev_adverb", "next_verb", "next_particle",
    "next_noun", "first_preposition", "first_adverb", "first_particle", "first_numeral", "last_particle",
    "last_numeral", "last_measure", "starts_with_introducer", "closed_after", "opened_before", "clause_end_after",
    "clause_start_before",
)
# Categorical columns (indices into the ranker's vocabulary of frequent words, 0 = other), last.
CATEGORICAL = ("first_word", "last_word", "prev_word", "next_word")
ALL_FEATURES = SPAN_FEATURES + CATEGORICAL


@dataclass(frozen=True)
class Words:
    """A sentence's jieba words (of its squashed text) with their dictionary tags ("" when untagged)."""

    words: tuple[str, ...]
    tags: tuple[str, ...]

    @property
    def layout(self) -> Layout:
        """The sentence's tables that no question changes, built when its spans are first ranked. The answerer
        analyses a passage once (its passage cache holds these words) but ranks a sentence's spans for every
        question that quotes it: building them per question cost about a third of the span ranking."""
        cached = self.__dict__.get("_layout")
        if cached is None:
            # Stored past the frozen __setattr__, without functools.cached_property's lock (one for all
            # instances on Python 3.11): two request threads may both build it, and either copy is the same.
            cached = self.__dict__["_layout"] = _layout("".join(self.words), self)  # the words cover the text
        return cached


def question_words(terms: Terms, info: QuestionInfo) -> frozenset[str]:
    """The question's jieba words: a span made of them repeats the question instead of answering it."""
    return frozenset(w for w, _ in terms.tagged(info.squashed))


def _bounds(words: Sequence[str]) -> list[int]:
    out = [0]
    for w in words:
        out.append(out[-1] + len(w))
    return out


def candidates(info: QuestionInfo, text: str, words: Words) -> list[tuple[int, int]]:
    """Candidate (start, end) spans of `text`, sorted: the sentence's own (Layout.spans) and the alignment
    heuristic's span for this question."""
    own = _layout_of(text, words).spans
    found = list(zip(own[:, 0].tolist(), own[:, 1].tolist(), strict=True))
    heuristic = short_span(info, text)
    at = bisect.bisect_left(found, heuristic)
    if heuristic[1] > heuristic[0] and found[at:at + 1] != [heuristic]:
        found.insert(at, heuristic)
    return found


def _layout_of(text: str, words: Words) -> Layout:
    layout = words.layout
    if layout.bounds[-1] != len(text):
        raise ValueError(f"the words cover {layout.bounds[-1]} characters, the text has {len(text)}")
    return layout


def _sentence_spans(text: str, words: Words) -> list[tuple[int, int]]:
    """Runs of up to MAX_WORDS words inside a clause, runs of whole clauses, every number and date token."""
    ws, bounds = words.words, _bounds(words.words)
    found: set[tuple[int, int]] = set()
    for i, w in enumerate(ws):
        if w in _PUNCT and w not in _OPENING:
            continue
        for j in range(i + 1, min(len(ws), i + MAX_WORDS) + 1):
            last = ws[j - 1]
            if last in _CLAUSE or bounds[j] - bounds[i] > MAX_CHARS:
                break
            if last not in _PUNCT or last in _CLOSING:
                found.add((bounds[i], bounds[j]))
    clauses = _clauses(text)
    for i, (start, _) in enumerate(clauses):
        for j in range(i, min(len(clauses), i + MAX_CLAUSES)):
            if clauses[j][1] - start > MAX_CLAUSE_CHARS:
                break
            found.add((start, clauses[j][1]))
    for kind in ("number", "date"):
        found.update((m.start(), m.end()) for m in typed_tokens(kind, text))
    return sorted((s, e) for s, e in found if e > s)


def _clauses(text: str) -> list[tuple[int, int]]:
    out, start = [], 0
    for i, ch in enumerate(text):
        if ch in _CLAUSE:
            if i > start:
                out.append((start, i))
            start = i + 1
    if len(text) > start:
        out.append((start, len(text)))
    return out


def _word_edges(words: Words, bounds: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Per character offset: facts about the word starting there (`at_*`) and the word ending there (`before_*`)."""
    flags = np.array([_tag_flags(t) for t in words.tags], dtype=bool).reshape(len(words.tags), len(_TAG_CLASSES)).T
    at, before = np.zeros((len(_TAG_CLASSES), n + 1), dtype=bool), np.zeros((len(_TAG_CLASSES), n + 1), dtype=bool)
    at[:, bounds[:-1]] = flags
    before[:, bounds[1:]] = flags
    return {f"{side}_{name}": table[i] for side, table in (("at", at), ("before", before))
            for i, name in enumerate(_TAG_CLASSES)}


_TAG_CLASSES = {
    "verb": lambda t: t.startswith("v"), "preposition": lambda t: t.startswith("p"),
    "adverb": lambda t: t.startswith("d"), "particle": lambda t: t.startswith("u"),
    "numeral": lambda t: t.startswith("m"), "measure": lambda t: t.startswith("q"),
    "noun": lambda t: t.startswith("n"), "entity": lambda t: t in _ENTITY_TAGS,
}


@functools.cache
def _tag_flags(tag: str) -> tuple[bool, ...]:
    # jieba has a few dozen tags: testing each once instead of once per word keeps this off the /ask profile.
    return tuple(test(tag) for test in _TAG_CLASSES.values())


def _word_values(words: Words, bounds: np.ndarray, n: int,
                 value: Callable[[str], float]) -> tuple[np.ndarray, np.ndarray]:
    """value(word) of the word starting at each offset, and of the word ending at each offset (0 elsewhere)."""
    values = [value(w) for w in words.words]
    at, before = np.zeros(n + 1), np.zeros(n + 1)
    at[bounds[:-1]] = values
    before[bounds[1:]] = values
    return at, before


def _prefix(flags: Sequence[bool] | np.ndarray, dtype: type = np.float64) -> np.ndarray:
    """Counts of the set flags before each offset 0..n."""
    return np.concatenate([np.zeros(1, dtype=dtype), np.cumsum(np.asarray(flags), dtype=dtype)])


def _char_flags(text: str, chars: frozenset[str] | str) -> np.ndarray:
    """Per character offset of `text`: whether the character there is one of `chars`."""
    return np.fromiter((ch in chars for ch in text), dtype=bool, count=len(text))


def _occurrences(text: str, needle: str) -> list[tuple[int, int]]:
    """Every (start, end) of `needle` in `text`, overlapping ones too."""
    out, at = [], text.find(needle)
    while needle and at >= 0:
        out.append((at, at + len(needle)))
        at = text.find(needle, at + 1)
    return out


def _covers(tokens: Sequence[tuple[int, int]], s: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whether each span is exactly one of `tokens`, and whether it contains one."""
    if not tokens:
        return np.zeros(len(s)), np.zeros(len(s))
    ts, te = np.array(tokens).T
    exact = ((s[:, None] == ts) & (e[:, None] == te)).any(axis=1)
    inside = ((s[:, None] <= ts) & (te <= e[:, None])).any(axis=1)
    return exact.astype(np.float64), inside.astype(np.float64)


@dataclass(frozen=True, eq=False)  # arrays: no field-wise equality
class Layout:
    """What the span features read of one sentence whatever the question: its own candidate spans and, per
    character offset (0..n), facts about the words and characters there. Kept compact (int32 spans and counts,
    bool flags: about 145 bytes per character on the letter's sentences, against about 520 with tuples of spans),
    because a layout lives as long as its passage in the answerer's cache."""

    spans: np.ndarray  # (m, 2) int32 (start, end), sorted
    bounds: np.ndarray  # word boundaries: 0, then each word's end
    edges: dict[str, np.ndarray]  # _word_edges
    punct_at: np.ndarray  # a punctuation word starts / ends at the offset
    punct_before: np.ndarray
    clause_of: np.ndarray  # per character: how many clause marks come before it
    is_clause: np.ndarray  # per offset: a clause mark is there, or the end
    clause_start: np.ndarray  # offset 0 or right after a clause mark
    bad_start: np.ndarray  # per offset: the character there / before it
    closing: np.ndarray
    bad_end_before: np.ndarray
    opening_before: np.ndarray
    introduced: np.ndarray  # an introducer word (位于, 又称, ...) starts there
    numbers: tuple[tuple[int, int], ...]
    dates: tuple[tuple[int, int], ...]
    marks: dict[str, np.ndarray]  # prefix counts of 、 / 和与 / 《 / 》


def _layout(text: str, words: Words) -> Layout:
    n = len(text)
    bounds = np.array(_bounds(words.words))
    spans = _sentence_spans(text, words)
    punct_at, punct_before = _word_values(words, bounds, n, lambda w: float(w in _PUNCT))
    clause_marks = _char_flags(text, _CLAUSE)
    is_clause = np.append(clause_marks, True)
    padded = text + " "
    return Layout(
        spans=np.asarray(spans, dtype=np.int32).reshape(-1, 2), bounds=bounds, edges=_word_edges(words, bounds, n),
        punct_at=punct_at.astype(bool), punct_before=punct_before.astype(bool),
        clause_of=_prefix(clause_marks, np.int32)[:n], is_clause=is_clause,
        clause_start=np.concatenate([[True], is_clause[:-1]]),
        bad_start=_char_flags(padded, _BAD_START), closing=_char_flags(padded, _CLOSING),
        bad_end_before=np.concatenate([[False], _char_flags(text, _BAD_END)]),
        opening_before=np.concatenate([[False], _char_flags(text, _OPENING)]),
        introduced=np.fromiter((text.startswith(_INTRODUCERS, a) for a in range(n)), dtype=bool, count=n),
        numbers=tuple((m.start(), m.end()) for m in NUMBER.finditer(text)),
        dates=tuple((m.start(), m.end()) for m in DATE.finditer(text)),
        marks={mark: _prefix(_char_flags(text, mark), np.int32) for mark in ("、", "和与", "《", "》")},
    )


def _ends_of(text: str, needle: str) -> np.ndarray:
    """Per offset 0..n: whether an occurrence of `needle` ends there."""
    out = np.zeros(len(text) + 1, dtype=bool)
    out[[b for _, b in _occurrences(text, needle)]] = True
    return out


def features(info: QuestionInfo, text: str, words: Words, spans: list[tuple[int, int]],
             question_words: frozenset[str], vocabulary: dict[str, int]) -> np.ndarray:
    """One row per span, columns as in ALL_FEATURES (vectorised over the spans: this runs on every /ask)."""
    if not spans:
        return np.zeros((0, len(ALL_FEATURES)))
    n = len(text)
    s, e = (np.array(x, dtype=np.int64) for x in zip(*spans, strict=True))
    length = (e - s).astype(np.float64)
    left, right, aligned = context_spans(info, text)
    hs, he = short_span(info, text)
    common = np.clip(np.minimum(e, he) - np.maximum(s, hs), 0, None)
    heuristic_f1 = 2 * common / (length + he - hs)
    q_chars = frozenset(info.squashed)
    unit = info.unit or ""
    in_question = _prefix(_char_flags(text, q_chars))
    overlap = (in_question[e] - in_question[s]) / length
    far = np.full(len(s), 1.0)
    ds = s - left[1] if left else None
    de = right[0] - e if right else None
    at_left = (ds == 0).astype(float) if ds is not None else np.zeros(len(s))
    at_right = (de == 0).astype(float) if de is not None else np.zeros(len(s))
    lay = _layout_of(text, words)
    edges = lay.edges
    in_q_at, in_q_before = _word_values(words, lay.bounds, n, lambda w: float(w in question_words))
    id_at, id_before = _word_values(words, lay.bounds, n, lambda w: float(vocabulary.get(w, 0)))
    clause_of, is_clause, clause_start = lay.clause_of, lay.is_clause, lay.clause_start
    head = info.head or ""
    head_ends = _ends_of(text, head)
    numbers, has_number = _covers(lay.numbers, s, e)
    dates, has_date = _covers(lay.dates, s, e)
    typed = _covers([(m.start(), m.end()) for m in typed_tokens(info.kind, text)], s, e)[0]
    whole_clause = (clause_start[s] & is_clause[e]).astype(float)
    log_chars = np.log(length)
    entity_end, noun_end = edges["before_entity"][e], edges["before_noun"][e]
    kind = np.array([float(info.kind == k) for k in KINDS])
    per_kind = np.stack([typed, entity_end, log_chars, whole_clause, overlap, at_left, at_right, noun_end], axis=1)
    contains = {mark: (count[e] - count[s]) > 0 for mark, count in lay.marks.items()}
    columns = [
        heuristic_f1, ((s == hs) & (e == he)).astype(float), log_chars, (length <= 2).astype(float), overlap,
        (overlap > 0.5).astype(float),
        at_left, ((ds > 0) & (ds <= 2)).astype(float) if ds is not None else far * 0,
        np.tanh(np.abs(ds) / 5) if ds is not None else far, (ds < 0).astype(float) if ds is not None else far * 0,
        at_right, ((de > 0) & (de <= 2)).astype(float) if de is not None else far * 0,
        np.tanh(np.abs(de) / 5) if de is not None else far, (de < 0).astype(float) if de is not None else far * 0,
        ((ds >= 0) & (de >= 0)).astype(float) if ds is not None and de is not None else far * 0,
        far * float(left is None), far * float(right is None),
        numbers, has_number, dates, has_date, typed,
        _covers(_occurrences(text, unit), s, e)[1],
        entity_end, noun_end, edges["before_verb"][e], edges["at_verb"][s],
        lay.bad_start[s].astype(float), lay.bad_end_before[e].astype(float),
        contains["、"].astype(float), contains["和与"].astype(float), (contains["《"] & contains["》"]).astype(float),
        (clause_of[min(left[1], n - 1)] == clause_of[s]).astype(float) if left else far * 0,
        (clause_of[min(max(right[0] - 1, 0), n - 1)] == clause_of[e - 1]).astype(float) if right else far * 0,
        whole_clause,
        (head_ends[e] & (e - s >= len(head))).astype(float),
        s / n, far * aligned, (clause_of[e - 1] - clause_of[s]).astype(float),
        *(far * k for k in kind),
        *(kind[:, None, None] * per_kind[None, :, :]).transpose(0, 2, 1).reshape(-1, len(s)),
        in_q_before[s], in_q_at[e], in_q_at[s], in_q_before[e], (s == 0).astype(float), (e == n).astype(float),
        lay.punct_before[s], lay.punct_at[e], edges["before_verb"][s], edges["before_preposition"][s],
        edges["before_adverb"][s], edges["at_verb"][e], edges["at_particle"][e], edges["at_noun"][e],
        edges["at_preposition"][s], edges["at_adverb"][s], edges["at_particle"][s], edges["at_numeral"][s],
        edges["before_particle"][e], edges["before_numeral"][e], edges["before_measure"][e],
        lay.introduced[s].astype(float), lay.closing[e].astype(float), lay.opening_before[s].astype(float),
        is_clause[e].astype(float) * (e < n), clause_start[s].astype(float),
        id_at[s], id_before[e], id_before[s], id_at[e],
    ]
    return np.stack(columns, axis=1)
