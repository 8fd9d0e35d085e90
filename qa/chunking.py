"""Structure-aware chunking of Chinese official documents into cited passages.

A document is read line by line (a non-empty line is a paragraph). Lines are
classified as header (document number, title, addressee), numbered headings
(`一、`, `（一）`, `1.`, `（1）`), body paragraphs, and the closing sign-off
(closing phrase, issuer, date, contact). Trailing web boilerplate (e.g. a
`相关文章` block) is dropped. Body paragraphs are split at sentence ends and
packed into passages of at most `max_chars` characters; a sentence is never
cut, except one so long that it exceeds twice the limit, which is split at
clause punctuation (，；：、) rather than embedded truncated.

Every passage satisfies `document.text[passage.start:passage.end] == passage.text`.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from qa.schema import Document, Passage

# Named for what these blocks hold, so questions about them ("文号是什么") find them.
HEADER_SECTION = "文件头（文号、标题、收件人）"
SIGNOFF_SECTION = "落款（发文单位、日期、联系人）"
BODY_SECTION = "正文"
SECTION_SEP = " > "

# (level, pattern) for numbered headings, outermost first.
_NUMBERED = [
    (1, re.compile(r"^第[一二三四五六七八九十百零〇]+[章节部分篇]")),
    (2, re.compile(r"^[一二三四五六七八九十百]+[、.．]")),
    (3, re.compile(r"^[（(][一二三四五六七八九十百]+[）)]")),
    (4, re.compile(r"^\d{1,2}[.．、](?!\d)")),
    (5, re.compile(r"^[（(]\d{1,2}[）)]")),
]
_DOC_NUMBER = re.compile(r"[〔\[［【(（]\s*\d{4}\s*[〕\]］】)）]\s*\d+\s*号")
_DATE_LINE = re.compile(
    r"^[\d〇○零一二三四五六七八九十]{4}\s*年[\d一二三四五六七八九十]{1,3}\s*月[\d一二三四五六七八九十]{1,3}\s*日$"
)
_SENTENCE_END = re.compile(r"(?:[。！？!?；;]+|…{1,2}|\.(?=\s))[”’」』）)】\]\"']*")
_CLAUSE_END = re.compile(r"[，,、：:][”’」』）)】]*")
_TERMINAL = "。！？!?；;…"
SHORT_LINE = 40  # headings, addressee and sign-off lines are at most this long


@dataclass(frozen=True)
class Line:
    start: int
    end: int
    text: str
    number: int  # 1-based paragraph number

    @property
    def is_short(self) -> bool:
        return len(self.text) <= SHORT_LINE


def iter_lines(text: str) -> Iterator[Line]:
    """Non-empty lines with offsets of their stripped content."""
    number = 0
    for match in re.finditer(r"[^\n]+", text):
        raw = match.group()
        left = len(raw) - len(raw.lstrip())
        content = raw.strip()
        if content:
            number += 1
            start = match.start() + left
            yield Line(start, start + len(content), content, number)


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentences of `text[start:end]` as (start, end) offsets, whitespace trimmed."""
    end = len(text) if end is None else end
    spans, cursor = [], start
    for match in _SENTENCE_END.finditer(text, start, end):
        spans.append((cursor, match.end()))
        cursor = match.end()
    spans.append((cursor, end))
    out: list[tuple[int, int]] = []
    for s, e in spans:
        piece = text[s:e]
        s += len(piece) - len(piece.lstrip())
        e -= len(piece) - len(piece.rstrip())
        if e > s:
            out.append((s, e))
    return out


def _split_long(text: str, span: tuple[int, int], hard_max: int) -> list[tuple[int, int]]:
    """Split an over-long sentence at clause punctuation, then (last resort) at hard_max."""
    s, e = span
    if e - s <= hard_max:
        return [span]
    cuts = [m.end() for m in _CLAUSE_END.finditer(text, s, e)] + [e]
    pieces, cursor, last = [], s, s
    for cut in cuts:
        if cut - cursor > hard_max and last > cursor:
            pieces.append((cursor, last))
            cursor = last
        last = cut
    pieces.append((cursor, e))
    out: list[tuple[int, int]] = []
    for ps, pe in pieces:
        out.extend((i, min(i + hard_max, pe)) for i in range(ps, pe, hard_max))
    return out


def pack_sentences(
    sentences: Sequence[tuple[int, int]], max_chars: int, overlap: int = 0
) -> list[tuple[int, int]]:
    """Greedily group consecutive sentences into spans of at most max_chars.

    A sentence longer than max_chars forms a span of its own. With `overlap`,
    each span after the first repeats the previous span's last sentences.
    """
    groups: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    for sent in sentences:
        if current and sent[1] - current[0][0] > max_chars:
            groups.append(current)
            carry = current[-overlap:] if overlap and len(current) > overlap else []
            current = [*carry] if carry and sent[1] - carry[0][0] <= max_chars else []
        current.append(sent)
    if current:
        groups.append(current)
    return [(g[0][0], g[-1][1]) for g in groups]


# Headings a format marks up (Markdown #, Word's Heading styles, HTML <hN>) outrank numbered ones.
_MARKED_LEVEL = -10


def _heading_level(line: Line, marked: dict[int, int] | None = None) -> int | None:
    if marked and line.start in marked:
        return _MARKED_LEVEL + marked[line.start]
    for level, pattern in _NUMBERED:
        if pattern.match(line.text):
            return level
    return None


def _is_heading(line: Line) -> bool:
    return line.is_short and line.text[-1] not in _TERMINAL


def _inline_label(text: str) -> str:
    """The label of a numbered paragraph with body text: up to its first stop."""
    match = re.search(r"[。：:；;！？]", text)
    label = text[: match.start()] if match else text
    return label if len(label) <= SHORT_LINE else label[: SHORT_LINE - 1] + "…"


def _header_end(lines: Sequence[Line], marked: dict[int, int]) -> int:
    """Number of leading lines forming the header (number, title, addressee)."""
    count = 0
    for line in lines:
        if _heading_level(line, marked) is not None or not line.is_short or line.text[-1] in _TERMINAL:
            break
        count += 1
        if line.text[-1] in "：:":  # the addressee closes the header
            break
    return count if count < len(lines) else 0


def _signoff_start(lines: Sequence[Line], first_body: int, marked: dict[int, int]) -> int:
    """Index of the first line of the closing block (issuer, date, contact)."""
    idx = len(lines)
    while idx > first_body:
        line = lines[idx - 1]
        if not line.is_short or _heading_level(line, marked) is not None:
            break
        idx -= 1
    # Only a block that looks like a sign-off counts; otherwise those lines are body.
    tail = lines[idx:]
    if idx > first_body and (any(_DATE_LINE.match(line.text) for line in tail) or len(tail) >= 2):
        return idx
    return len(lines)


def drop_boilerplate(lines: list[Line], patterns: Sequence[str]) -> list[Line]:
    compiled = [re.compile(p) for p in patterns]
    for i, line in enumerate(lines):
        if i > 0 and any(p.search(line.text) for p in compiled):
            return lines[:i]
    return lines


@dataclass(frozen=True)
class ChunkSettings:
    max_chars: int = 300
    overlap_sentences: int = 0
    boilerplate_patterns: tuple[str, ...] = ()


class _Builder:
    def __init__(self, doc: Document, settings: ChunkSettings) -> None:
        self.doc = doc
        self.settings = settings
        self.passages: list[Passage] = []
        self.page_starts = doc.page_starts

    def page(self, start: int) -> int | None:
        return bisect.bisect_right(self.page_starts, start) or 1 if self.page_starts else None

    def add(self, start: int, end: int, section: str, paragraph: int, kind: str) -> None:
        text = self.doc.text[start:end]
        if text.strip():
            pid = f"{self.doc.doc_id}-p{paragraph}-{len(self.passages) + 1}"
            context = section if kind == "body" else f"{self.doc.title} {section}"
            self.passages.append(
                Passage(pid, self.doc.doc_id, text, start, end, section, paragraph, kind, context, self.page(start))
            )

    def add_block(self, lines: Sequence[Line], section: str, kind: str) -> None:
        """Short lines (header, sign-off) packed together, never split mid-line."""
        spans = [(line.start, line.end) for line in lines]
        numbers = {line.start: line.number for line in lines}
        for s, e in pack_sentences(spans, self.settings.max_chars):
            self.add(s, e, section, numbers[s], kind)

    def add_paragraph(self, line: Line, section: str) -> None:
        text, limit = self.doc.text, self.settings.max_chars
        sentences = [
            piece
            for span in sentence_spans(text, line.start, line.end)
            for piece in _split_long(text, span, 2 * limit)
        ]
        for s, e in pack_sentences(sentences, limit, self.settings.overlap_sentences):
            self.add(s, e, section, line.number, "body")


def chunk_document(doc: Document, settings: ChunkSettings) -> list[Passage]:
    """Split one document into passages with section paths and exact offsets."""
    lines = drop_boilerplate(list(iter_lines(doc.text)), settings.boilerplate_patterns)
    builder = _Builder(doc, settings)
    marked = {offset: level for offset, level in doc.headings}
    head = _header_end(lines, marked)
    tail = _signoff_start(lines, head, marked)
    if head:
        builder.add_block(lines[:head], HEADER_SECTION, "header")
    stack: list[tuple[int, str]] = []
    for line in lines[head:tail]:
        level = _heading_level(line, marked)
        if level is not None:
            stack = [entry for entry in stack if entry[0] < level]
            if line.start in marked or _is_heading(line):
                stack.append((level, line.text.lstrip("#").strip() if line.start in marked else line.text))
                continue
            stack.append((level, _inline_label(line.text)))
        section = SECTION_SEP.join(label for _, label in stack) or BODY_SECTION
        builder.add_paragraph(line, section)
    if tail < len(lines):
        builder.add_block(lines[tail:], SIGNOFF_SECTION, "signoff")
    return builder.passages


def chunk_corpus(documents: Sequence[Document], settings: ChunkSettings) -> list[Passage]:
    return [p for doc in documents for p in chunk_document(doc, settings)]
