"""Follow-up questions: resolve an elliptical question against the conversation before retrieval.

A chat user asks "5G覆盖哪些区域", then "那4G呢？" or "它是哪年开始建的？". Alone, the
second question retrieves nothing useful. It is rewritten from the previous
(itself resolved) question:

- ellipsis, "那X呢" / "X呢" / "还有X": X takes the place of the term of the same
  kind in the previous question (4G for 5G, 2018年 for 2019年, 虹口区 for 徐汇区),
  else of its main entity, else it is put in front of it;
- a personal pronoun (它, 他, 她, 它们…): replaced by the previous question's topic;
- a bare question with at most one content word ("具体有哪些？", "什么时候开始的？"):
  the previous question's topic is put in front;
- a demonstrative (这个, 该, 此, 上述, 其中…) or a pronoun in an otherwise complete
  question: *weak* evidence of dependence ("这封信是写给谁的" stands on its own),
  so the service tries the question alone first and resolves only if that fails.

Rules over jieba's segmentation, linear in the question's length: no model, so a
follow-up costs what a question costs. The previous answer's passages are also
offered to retrieval as candidates (`Resolution.prior`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from qa.answering.question import interrogative_at, is_interrogative
from qa.text import Terms, normalize

Strength = Literal["none", "weak", "strong"]

_ELLIPSIS_HEAD = re.compile(r"^(?:那么?|还有|另外|此外|而|再问一下|再问|那如果|如果是)")
_ELLIPSIS_TAIL = re.compile(r"(?:的话)?(?:呢|怎么样|如何|情况如何|情况呢|又如何)[?？。!！\s]*$")
_PRONOUN = re.compile(r"它们|它|他们|她们|[他她](?!人|国|乡|方|处|日|者|山)")
_DEMONSTRATIVE = re.compile(
    r"这[个些项种份封次里方部类位]?|那[个些项种份次里位]|该(?=[\u4e00-\u9fff])|此(?=[\u4e00-\u9fff])|上述|其中"
    r"|其(?=[\u4e00-\u9fff])(?!他|实|余|次|间)"
)
# Verbs and particles that join a subject to its interrogative (X是谁, X有什么, X由哪个部门).
_SUBJECT_END = re.compile(r"(?:[是有在由为被把对从将的了和与及共总]|一共|总共|分别|主要|具体)+$")
MAX_TOPIC_CHARS = 16
_MARKS = re.compile(r"[?？。!！，,\s]+")


@dataclass(frozen=True)
class Turn:
    question: str
    passage_ids: tuple[str, ...] = ()  # the passages the answer to `question` cited


@dataclass(frozen=True)
class Resolution:
    question: str  # the query retrieval uses
    strength: Strength  # how surely the question depends on the conversation
    rule: str  # which rewrite produced `question` ("" when unchanged)
    prior: tuple[str, ...] = ()  # passage ids of the previous answer, offered as candidates

    @property
    def rewritten(self) -> bool:
        return bool(self.rule)


def _content(question: str, terms: Terms) -> list[str]:
    """The question's own words: BM25 terms (stop words, interrogatives and particles removed),
    without the sub-words search mode adds inside longer ones."""
    found = [t for t in dict.fromkeys(terms.query(question).terms)
             if (len(t) >= 2 or not "\u4e00" <= t <= "\u9fff") and not is_interrogative(t)]
    return [t for t in found if not any(t != u and t in u for u in found)]


def _shape(term: str) -> str:
    if any(ch.isdigit() for ch in term):
        return "figure:" + re.sub(r"\d+", "0", term)[-2:]  # 2019年 ∥ 2018年, 5g ∥ 4g
    if term.isascii():
        return "latin"
    return "word:" + term[-1]  # 徐汇区 ∥ 虹口区, 经信委 ∥ 发改委: Chinese heads come last


def _find(text: str, term: str) -> tuple[int, int] | None:
    """Where the normalised `term` occurs in `text` (positions of the original characters)."""
    norm = normalize(text)
    at = norm.find(term)
    if at < 0 or len(norm) != len(text):  # positions only carry over when normalising kept the length
        return None
    return at, at + len(term)


def _topic(question: str, terms: Terms) -> str:
    """What a question is about, as written in it: the words before its interrogative (智慧城市顶层设计|有什么安排,
    马其顿即将离任的总统|是谁), else a quoted title, else its first entity, else its first word."""
    wh = interrogative_at(question)
    subject = _SUBJECT_END.sub("", question[:wh]) if wh else ""
    if 2 <= len(subject) <= MAX_TOPIC_CHARS:
        return subject
    quoted = re.search(r"《[^》]+》|“[^”]+”", question)
    if quoted:
        return quoted.group()
    for term in [*terms.query(question).entities, *_content(question, terms)]:
        if span := _find(question, term):
            return question[span[0]:span[1]]
    return ""


def _substitute(new: str, previous: str, terms: Terms) -> tuple[str, str]:
    """Put the ellipsis `new` into `previous`: in place of the term of the same shape (4G for 5G), or of the
    modifier of a word both share (光纤用户 for 4G用户), else of the previous topic."""
    prev_terms = _content(previous, terms)
    new_terms = _content(new, terms)
    added = [t for t in new_terms if t not in prev_terms]
    if not added:
        return previous, "repeat"
    for t in sorted(added, key=len, reverse=True):
        for p in prev_terms:
            if _shape(p) == _shape(t) and (span := _find(previous, p)) and (own := _find(new, t)):
                rest = "".join(a for a in added if a != t and a not in new[own[0]:own[1]])
                return rest + previous[: span[0]] + new[own[0]:own[1]] + previous[span[1]:], "substitute"
    for shared in (t for t in new_terms if t in prev_terms):
        span, own = _find(previous, shared), _find(new, shared)
        before = [p for p in prev_terms if span and (q := _find(previous, p)) and q[1] == span[0]]
        if span and own and before and (q := _find(previous, before[0])):
            return previous[: q[0]] + new + previous[span[1]:], "swap-modifier"
    topic = _topic(previous, terms)
    if topic and (span := _find(previous, normalize(topic))):
        return previous[: span[0]] + new + previous[span[1]:], "replace-topic"
    return new + previous, "prepend"


def strength(question: str, terms: Terms) -> Strength:
    """How surely `question` needs the conversation to be understood."""
    content = _content(question, terms)
    if _ELLIPSIS_HEAD.search(question) or _ELLIPSIS_TAIL.search(question):
        return "strong" if len(content) <= 3 else "weak"
    if len(content) <= 1:
        return "strong"
    if _PRONOUN.search(question):
        return "strong" if len(content) <= 3 else "weak"
    if _DEMONSTRATIVE.search(question):
        return "weak"
    return "none"


def rewrite(question: str, previous: str, terms: Terms) -> tuple[str, str]:
    """`question` made to stand on its own given the previous (resolved) question; returns (query, rule)."""
    core = _MARKS.sub("", _ELLIPSIS_TAIL.sub("", _ELLIPSIS_HEAD.sub("", question)))
    if _ELLIPSIS_HEAD.search(question) or _ELLIPSIS_TAIL.search(question):
        if not core:  # 还有呢？ asks the previous question again
            return previous, "repeat"
        return _substitute(core, previous, terms)
    topic = _topic(previous, terms)
    pronoun = _PRONOUN.search(question)
    if pronoun and topic:
        return question[: pronoun.start()] + topic + question[pronoun.end():], "pronoun"
    if topic and normalize(topic) not in normalize(question):
        return topic + question, "prepend-topic"
    return question, ""


def resolve(question: str, history: Sequence[Turn], terms: Terms, *, weak: bool = False) -> Resolution:
    """The query to retrieve with. Earlier turns are resolved first, oldest to newest, so a chain of
    follow-ups keeps its topic. `weak`: also rewrite on weak evidence (the caller found that the question
    alone does not get an answer)."""
    if not history:
        return Resolution(question, "none", "")
    previous = history[0].question
    for turn in history[1:]:
        if strength(turn.question, terms) == "strong":
            previous = rewrite(turn.question, previous, terms)[0]
        else:
            previous = turn.question
    level = strength(question, terms)
    if level == "none" or (level == "weak" and not weak):
        return Resolution(question, level, "")
    query, rule = rewrite(question, previous, terms)
    return Resolution(query, level, rule, history[-1].passage_ids if rule else ())
