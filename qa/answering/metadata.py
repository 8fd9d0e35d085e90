"""Questions about a document itself: to whom it is addressed, who issued it, its number, its date.

"这份答复是写给谁的" asks for the addressee, which the letter states in a
header line ("蔡小庆代表：") that shares no word with the question; a model
fitted on encyclopaedia questions has no reason to pick that line. The
document's metadata names the value, so when the question asks for a field
and a retrieved passage of that document quotes the value verbatim, the
value is the answer, cited at its place in the text. Anything else goes to
the wrapped answerer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from qa.answering.base import Answerer
from qa.config import Mode
from qa.metadata import find_dates
from qa.schema import Answer, AnswerSpan, Document, Hit, ShortAnswer
from qa.text import normalize

_FIELDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("recipient", re.compile(r"写给谁|致谁|收件人|给谁的|答复(的是)?谁|答复哪位|答复对象|主送")),
    ("issuer", re.compile(
        r"谁(发|写|出具|答复|回复)的|发文(单位|机关|部门)|落款(单位)?是|哪个(部门|单位|机关)(发|答复|回复|出具)")),
    ("doc_number", re.compile(r"文号|发文字号|字号是")),
    # 发布, 发展, 发生, 发现 are not the issuing of a document: "新套餐是几月几号发布的" asks about something else.
    ("date", re.compile(
        r"(发文|答复|落款|印发|成文|签发)(的)?(日期|时间)|(哪天|哪一天|什么时候|何时|几月几[号日])(发(?![布展生现])|答复|回复|印发|签发)")),
)
METADATA_CONFIDENCE = 0.95  # the value is quoted from the document and named by its metadata


def asked_field(question: str) -> str | None:
    """The metadata field `question` asks for, in either script (the patterns are written in Simplified)."""
    folded = normalize(question)
    for name, pattern in _FIELDS:
        if pattern.search(folded):
            return name
    return None


def _find(field: str, value: str, text: str) -> tuple[int, str] | None:
    """Where a metadata value is written in `text`: as is, or for an ISO date any 年月日 form of it
    (2019年6月3日, 2019年06月03日, 二〇一九年六月三日)."""
    if field == "date":
        for start, end, iso in find_dates(text):
            if iso == value[:10]:
                return start, text[start:end]
    at = text.find(value)
    return (at, value) if at >= 0 else None


@dataclass
class MetadataAnswerer:
    """Answers questions about a retrieved document's own metadata; delegates every other question."""

    documents: dict[str, Document]
    fallback: Answerer

    def stream(self, question: str, hits: list[Hit], mode: Mode,
               vector: np.ndarray | None = None) -> Iterator[str | Answer]:
        yield self(question, hits, mode, vector)  # extractive: the whole answer at once

    def threshold(self, mode: Mode) -> float:
        return self.fallback.threshold(mode)

    def __call__(self, question: str, hits: list[Hit], mode: Mode, vector: np.ndarray | None = None) -> Answer:
        answer = self.fallback(question, hits, mode, vector)
        field = asked_field(question)
        if field is None:
            return answer
        for hit in hits[:3]:
            doc = self.documents.get(hit.passage.doc_id)
            value = getattr(doc, field, None) if doc else None
            if doc is None or not value:
                continue
            found = _find(field, value, hit.passage.text)
            if found is not None:
                return _quote(doc, hit, hit.passage.start + found[0], found[1], answer)
        return answer


def _quote(doc: Document, hit: Hit, start: int, form: str, answer: Answer) -> Answer:
    """The line holding the value (within its passage) as the cited sentence, the value as the short answer."""
    p = hit.passage
    line_start = max(doc.text.rfind("\n", 0, start) + 1, p.start)
    newline = doc.text.find("\n", start)
    line_end = min(len(doc.text) if newline < 0 else newline, p.end)
    line = doc.text[line_start:line_end]
    span = AnswerSpan(hit.rank, p.id, p.doc_id, line_start, line_end, line)
    return Answer(f"{line}[{hit.rank}]", True, max(answer.confidence, METADATA_CONFIDENCE), [span],
                  short=ShortAnswer(form, p.doc_id, start, start + len(form)), evidence=answer.evidence)
