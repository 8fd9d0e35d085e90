"""Follow-up questions: resolve an elliptical question against the conversation before retrieval.

A chat user asks "5G覆盖哪些区域", then "那4G呢？" or "它是哪年开始建的？". Alone, the
second question retrieves nothing useful. It is rewritten from the previous
(itself resolved) question:

- ellipsis, "那X呢" / "X呢" / "还有X": X takes the place of the term of the same
  kind in the previous question (4G for 5G, 2018年 for 2019年, 虹口区 for 徐汇区),
  else of its main entity, else it is put in front of it;
- a personal pronoun (它, 他, 她, 它们…): replaced by the previous question's topic;
- a bare or short question ("具体有哪些？", "为啥要改名？"): the previous question's
  topic is put in front (on weak evidence, below);
- a demonstrative (这个, 该, 此, 上述, 其中…), a pronoun in an otherwise complete
  question, or just a short question: *weak* evidence of dependence ("这封信是写给谁的"
  stands on its own), so the service tries the question alone first and resolves only
  if the passages it finds do not answer it.

Rules over jieba's segmentation, linear in the question's length: no model, so a
follow-up costs what a question costs. The previous answer's passages are also
offered to retrieval as candidates (`Resolution.prior`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from qa.answering.question import interrogative_at, is_interrogative
from qa.exact import anchors
from qa.text import Terms, normalize

Strength = Literal["none", "weak", "strong"]

_ELLIPSIS_HEAD = re.compile(r"^(?:那么?|还有|另外|此外|而|再问一下|再问|那如果|如果是)")
_ELLIPSIS_TAIL = re.compile(r"(?:的话)?(?:情况)?呢[?？。!！\s]*$")
_PRONOUN = re.compile(r"它们|它|他们|她们|[他她](?!人|国|乡|方|处|日|者|山)")
_DEMONSTRATIVE = re.compile(
    r"这[个些项种份封次里方部类位]?|那[个些项种份次里位]|该(?=[\u4e00-\u9fff])|此(?=[\u4e00-\u9fff])|上述|其中"
    r"|其(?=[\u4e00-\u9fff])(?!他|实|余|次|间)"
)
# Verbs and particles that join a subject to its interrogative (X是谁, X有什么, X由哪个部门).
_SUBJECT_END = re.compile(r"(?:[是有在由为被把对从将的了和与及共总]|一共|分别|主要|具体)++$")  # possessive: linear
MAX_TOPIC_CHARS = 16
# Tags of the words between a topic and its interrogative: verbs, adverbs, prepositions, conjunctions,
# particles, pronouns, localisers (累计开放了, 主要支持, 在…上).
_LINKING_TAGS = frozenset({"v", "vd", "d", "p", "c", "u", "uj", "ul", "uz", "ug", "uv", "ud", "r", "f", "y"})
# "那5G呢，建到什么规模了": an ellipsis of the topic, then a question of its own.
_ELLIPSIS_THEN_QUESTION = re.compile(r"^(?:那么?|还有|另外|此外|而)?([^，,。？?]{1,12}?)呢[，,]\s*(.+)$")
MAX_SHORT_CHARS = 12
MAX_QUERY_CHARS = 512
# A question that opens with an anaphor always leans on what came before (其中第一个…, 该项目…, 它的…).
_LEADING_ANAPHOR = re.compile(r"^(?:其中|其(?=[\u4e00-\u9fff])(?!他|实|余|次|间)|它|他|她|该(?=[\u4e00-\u9fff])|这些|那些)")
_MARKS = re.compile(r"[?？。!！，,\s]+")


@dataclass(frozen=True)
class Turn:
    question: str
    passage_ids: tuple[str, ...] = ()  # the passages the answer to `question` cited
    resolved: str | None = None  # the query the service used for it, if the client kept it


@dataclass(frozen=True)
class Resolution:
    question: str  # the query retrieval uses
    strength: Strength  # how surely the question depends on the conversation
    rule: str  # which rewrite produced `question` ("" when unchanged)
    prior: tuple[str, ...] = ()  # passage ids of the previous answer, offered as candidates
    generic: bool = False  # names nothing specific (no entity, figure or quotation; ≤ 2 content words)

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


def _nominal(word: str, tag: str | None) -> bool:
    """A noun, a name, a verbal noun or a figure, or an unknown word (mostly names and terms)."""
    return (tag or "n")[0] in "n" or tag in ("vn", "eng") or any(ch.isdigit() for ch in word)


def _topic(question: str, terms: Terms) -> str:
    """What a question is about, as written in it: the words before its interrogative without the verbs
    and particles that lead to it (智慧城市顶层设计|有什么安排, 政府数据服务网|累计开放了多少), else a quoted
    title, else its first entity, else its first word."""
    wh = interrogative_at(question)
    if wh:
        words = terms.tagged(question[:wh])
        while words and (words[-1][1] in _LINKING_TAGS or not words[-1][0].strip()):
            words.pop()
        subject = _SUBJECT_END.sub("", "".join(w for w, _ in words))
        if not any(_nominal(w, tag) for w, tag in words):
            # No noun before the interrogative (今年完成了|多少公里信息架空线…): the topic is the object after it.
            after = terms.tagged(question[wh:])[1:]
            while after and after[0][1] in ("q", "m", "uj", "r", "v"):
                after.pop(0)
            subject = "".join(w for w, _ in after if w.strip() and unicodedata.category(w[0])[0] != "P")
        if 2 <= len(subject) <= MAX_TOPIC_CHARS and (span := _find(question, subject)):
            return question[span[0]:span[1]]
    quoted = re.search(r"《[^》]+》|“[^”]+”", question)
    if quoted:
        return quoted.group()
    for term in [*terms.query(question).entities, *_content(question, terms)]:
        if span := _find(question, term):
            return question[span[0]:span[1]]
    return ""


def _substitute(new: str, previous: str, terms: Terms) -> tuple[str, str]:
    """Put the ellipsis `new` into `previous`: in place of the term of the same shape (4G for 5G), or of the
    modifier of a word both share (光纤用户 for 4G用户), else of the asked attribute (高度 for 面积)."""
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
    # 高度呢 after 站房面积有多少: the asked attribute changes, the entity stays; the attribute is the
    # last word before the interrogative.
    wh = interrogative_at(previous)
    attributes = [p for p in prev_terms if (q := _find(previous, p)) and (wh is None or q[1] <= wh)]
    if attributes and (span := _find(previous, attributes[-1])):
        return previous[: span[0]] + new + previous[span[1]:], "replace-attribute"
    return new + previous, "prepend"


def _ellipsis(question: str) -> str | None:
    """The X of "那X呢" / "X呢" / "还有X" (empty for 还有呢), or None when the question is not an ellipsis
    (a full question that merely opens with 那 or 还有 has its own interrogative)."""
    if not (_ELLIPSIS_HEAD.search(question) or _ELLIPSIS_TAIL.search(question)):
        return None
    core = _MARKS.sub("", _ELLIPSIS_TAIL.sub("", _ELLIPSIS_HEAD.sub("", question)))
    return None if interrogative_at(core) is not None else core


def strength(question: str, terms: Terms) -> Strength:
    """How surely `question` needs the conversation to be understood."""
    content = _content(question, terms)
    if _ellipsis(question) is not None:
        return "strong" if len(content) <= 3 else "weak"
    if _ELLIPSIS_HEAD.match(question):  # 那接下来对这个网站有什么打算？
        return "strong"
    if _LEADING_ANAPHOR.match(question):
        return "strong"
    if _PRONOUN.search(question):
        return "strong" if len(content) <= 3 else "weak"
    # A short question after another is usually a follow-up ("为啥要改名？", "后面具体是以什么为引领的？"),
    # but may stand alone: weak evidence, settled by whether it gets an answer on its own.
    if _DEMONSTRATIVE.search(question) or len(content) <= 3 or len(question) <= MAX_SHORT_CHARS:
        return "weak"
    return "none"


def rewrite(question: str, previous: str, terms: Terms) -> tuple[str, str]:
    """`question` made to stand on its own given the previous (resolved) question; returns (query, rule)."""
    split = _ELLIPSIS_THEN_QUESTION.match(question)
    if split and (topic := _topic(previous, terms)):
        query, how = _substitute(split.group(1), topic, terms)
        if how not in ("substitute", "swap-modifier"):  # 第二年 does not replace 陈荣捷: it adds to it
            query = topic + split.group(1)
        return query + split.group(2), "ellipsis-then-question"
    core = _ellipsis(question)
    if core is not None:
        if not core:  # 还有呢？ asks the previous question again
            return previous, "repeat"
        return _substitute(core, previous, terms)
    question = _ELLIPSIS_HEAD.sub("", question)
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
    previous = history[0].resolved or history[0].question
    for turn in history[1:]:
        if turn.resolved:  # the service's own rewrite, also one made on weak evidence
            previous = turn.resolved
        elif strength(turn.question, terms) == "strong":
            previous = rewrite(turn.question, previous, terms)[0]
        else:
            previous = turn.question
    level = strength(question, terms)
    generic = is_generic(question, terms)
    if level == "none" or (level == "weak" and not weak):
        return Resolution(question, level, "", generic=generic)
    query, rule = rewrite(question, previous, terms)
    # A chain of ellipses grows the query; it stays within what a question may be.
    return Resolution(query[:MAX_QUERY_CHARS], level, rule, history[-1].passage_ids if rule else (), generic)


def is_generic(question: str, terms: Terms) -> bool:
    """Whether the question names nothing specific: no entity, figure, identifier or quotation, and at
    most two content words ("强调的是什么思路？", "叫什么名字？在哪儿？")."""
    return not (terms.query(question).entities or anchors(question)) and len(_content(question, terms)) <= 2
