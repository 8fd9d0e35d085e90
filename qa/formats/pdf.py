"""PDF: the text layer of every page, reflowed into paragraphs, without running headers, footers and page numbers.

A PDF holds visual lines, not paragraphs: a word processor hard-wraps every paragraph at the right
margin and prints a header and a page number on each page. The stored text has one paragraph per
line (what the chunker expects) and `page_starts` records where each page begins in it, so a
citation can name its page.

The text layer is read with pypdfium2 (PDFium; Apache-2.0/BSD-3-Clause), chosen by
eval/bench_formats.py (eval/reports/formats.md). On generated Chinese PDFs pypdf, pdfplumber,
PyMuPDF and pypdfium2 extract the same characters (similarity 0.992-0.994 for all four: the rest
is the header and page numbers plain extraction keeps). With embedded fonts PDFium reads a page
in 3 ms, as PyMuPDF does, against 30-60 ms for pypdf and 80-120 ms for pdfplumber; with a
non-embedded CID font (STSong-Light) it needs about 25 ms a page (pypdf 9 ms, pdfplumber 80 ms).
It also gives the character boxes the reflow needs. PyMuPDF is as fast but AGPL-3.0: a network
service using it must offer its own source to its users (or buy Artifex's commercial licence);
PDFium carries no such condition.
"""

from __future__ import annotations

import math
import re
import statistics
import threading
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from qa.errors import CorpusError
from qa.formats import Extracted

# PDFium keeps global state and is not thread-safe: one document at a time in this process.
_PDFIUM_LOCK = threading.Lock()

GAP = 1.25  # a step down this many line pitches is space between paragraphs
BAND = 2  # lines at the top and at the bottom of a page where headers, footers and page numbers live
_PAGE_NUMBER = re.compile(
    r"^(?:[-—–－_·•\s]*\d{1,4}[-—–－_·•\s]*"  # 3, - 3 -, — 3 —
    r"|第\s*[\d一二三四五六七八九十百零〇]+\s*页(?:\s*[,，/／]?\s*共\s*[\d一二三四五六七八九十百零〇]+\s*页)?"
    r"|[\d]{1,4}\s*[/／]\s*\d{1,4}"  # 3/12
    r"|(?:page|p\.)\s*\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?)$",
    re.IGNORECASE,
)
# A paragraph ends after these (a full stop, or the colon that closes an addressee line), maybe closing a quote.
_PARAGRAPH_END = re.compile(r"[。！？：；!?:;][”’」』）)】》\"']*$")
_HEADING_START = re.compile(
    r"^(?:第[一二三四五六七八九十百零〇]+[章节部分篇条]|[一二三四五六七八九十百]+[、.．]"
    r"|[（(](?:[一二三四五六七八九十百]+|\d{1,2})[）)]|\d{1,2}[.．、](?!\d))"
)
_FIRST_TOKEN = re.compile(r"[\x21-\x7e]+|.")
_BAD_TITLE = re.compile(
    r"^(?:untitled|无标题|title|document|文档\d*|microsoft word.*|.*\.(?:docx?|wps|pdf|txt|rtf|xlsx?|pptx?))$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class PdfLine:
    """A visual line of a page; coordinates in points, y upwards (PDF user space)."""

    text: str
    x0: float  # left edge of its first character
    x1: float  # right edge (advance) of its last character
    y: float  # bottom of its first character's box
    em: float  # height of that box: the font size


def load_pdf(path: Path, raw: bytes) -> Extracted:
    """The reflowed text of a PDF's text layer, its page starts, and its /Title when that is a real title.

    Scans (pages that are only images), password-protected and damaged files are a CorpusError.
    """
    with _PDFIUM_LOCK:
        pages, title = _read(path, raw)
    text, page_starts = reflow(drop_running_lines(pages))
    if not text.strip():
        raise CorpusError(path, "has no text once page headers, footers and numbers are removed")
    return Extracted(text=text, title=title, page_starts=page_starts)


def _read(path: Path, raw: bytes) -> tuple[list[list[PdfLine]], str | None]:
    try:
        document = pdfium.PdfDocument(raw)  # an empty password is tried: owner-only protection opens
    except pdfium.PdfiumError as exc:
        raise CorpusError(path, _open_error(exc)) from exc
    try:
        pages: list[list[PdfLine]] = []
        image_only: list[int] = []
        for number in range(1, len(document) + 1):
            try:
                page = document[number - 1]
                lines = _page_lines(page)
                if not lines and any(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3)):
                    image_only.append(number)
            except pdfium.PdfiumError as exc:
                raise CorpusError(path, f"page {number} cannot be read ({exc}); the PDF is damaged") from exc
            pages.append(lines)
        if not any(pages):
            if image_only:
                raise CorpusError(path, "no text layer; OCR is not supported (its pages are images, as in a scan)")
            raise CorpusError(path, "has no text (every page is blank)")
        if len(image_only) * 2 > len(pages):
            listed = ", ".join(map(str, image_only[:10])) + (", …" if len(image_only) > 10 else "")
            raise CorpusError(
                path, f"no text layer; OCR is not supported (pages {listed} of {len(pages)} are images, as in a scan)"
            )
        return pages, sensible_title(document.get_metadata_value("Title"))
    finally:
        document.close()


def _open_error(exc: pdfium.PdfiumError) -> str:
    if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
        return "is protected with a password; add a copy saved without one (e.g. qpdf --decrypt --password=… in.pdf out.pdf)"
    if exc.err_code == pdfium_c.FPDF_ERR_SECURITY:
        return "is encrypted with an unsupported security handler; add a copy saved without encryption"
    return "is not a readable PDF: it is damaged or truncated; export or download it again"


def _page_lines(page: pdfium.PdfPage) -> list[PdfLine]:
    """The page's visual lines in PDFium's reading order, each with the box of its first and last character."""
    textpage = page.get_textpage()
    try:
        text = textpage.get_text_range()
        wide = any(ord(c) > 0xFFFF for c in text)  # PDFium counts UTF-16 units: map str offsets onto them
        lines = []
        for match in re.finditer(r"[^\r\n]+", text):
            content = match.group()
            stripped = content.strip()
            if not stripped:
                continue
            first = match.start() + len(content) - len(content.lstrip())
            last = first + len(stripped) - 1
            if wide:
                first += sum(ord(c) > 0xFFFF for c in text[:first])
                last += sum(ord(c) > 0xFFFF for c in text[:last])
            left, bottom, _, top = textpage.get_charbox(_char_index(textpage, first), loose=True)
            right = textpage.get_charbox(_char_index(textpage, last), loose=True)[2]
            lines.append(PdfLine(stripped, left, right, bottom, top - bottom))
        return lines
    finally:
        textpage.close()


def _char_index(textpage: pdfium.PdfTextPage, text_index: int) -> int:
    index = pdfium_c.FPDFText_GetCharIndexFromTextIndex(textpage.raw, text_index)
    return index if index >= 0 else text_index


def sensible_title(value: str | None) -> str | None:
    """A PDF's /Title unless it is empty, a placeholder ("untitled") or a file name ("Microsoft Word - x.doc")."""
    title = " ".join((value or "").split())
    if not title or len(title) > 200 or _BAD_TITLE.match(title) or "\ufffd" in title:
        return None
    return title if any(c.isalnum() for c in title) else None


def _band(page: Sequence[PdfLine]) -> list[tuple[str, int]]:
    """(band, index in page) of the lines at the top and bottom of a page."""
    top = [("top", i) for i in range(min(BAND, len(page)))]
    return top + [("bottom", i) for i in range(max(len(top), len(page) - BAND), len(page))]


def _running_key(text: str) -> str:
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", text))  # the page number in "第3页 共5页" varies


def drop_running_lines(pages: list[list[PdfLine]]) -> list[list[PdfLine]]:
    """Pages without page numbers and without lines that repeat at the same place on most pages.

    Only the top and bottom `BAND` lines of a page are candidates, and a repeated line is dropped only at
    the height where it repeats: a letter whose first body line is its document number keeps that line
    even though the running header repeats it a few points higher.
    """
    heights: dict[tuple[str, str], list[float]] = defaultdict(list)
    for page in pages:
        seen = {(band, _running_key(page[i].text)): page[i].y for band, i in _band(page)}
        for key, y in seen.items():
            heights[key].append(y)
    needed = max(2, math.ceil(len(pages) / 2))
    running = {key: statistics.median(ys) for key, ys in heights.items() if len(ys) >= needed}
    kept = []
    for page in pages:
        drop = set()
        for band, i in _band(page):
            line = page[i]
            height = running.get((band, _running_key(line.text)))
            if _PAGE_NUMBER.match(line.text) or (height is not None and abs(line.y - height) <= line.em):
                drop.add(i)
        kept.append([line for i, line in enumerate(page) if i not in drop])
    return kept


@dataclass(frozen=True)
class _Layout:
    """Where the text block lies (left edge, right margin), its line pitch, and whether the document marks
    where a paragraph starts: by a first-line indent or by space before it."""

    left: float
    right: float
    pitch: float
    marks_paragraphs: bool

    @classmethod
    def of(cls, pages: Sequence[Sequence[PdfLine]]) -> _Layout:
        lines = [line for page in pages for line in page]
        em = statistics.median(line.em for line in lines)
        lefts = Counter(round(line.x0) for line in lines)
        left = float(max(lefts, key=lambda x: (lefts[x], -x)))  # the most common left edge
        widest = max(line.x1 for line in lines)
        right = statistics.median(line.x1 for line in lines if line.x1 >= widest - 3 * em)
        steps = [a.y - b.y for page in pages for a, b in zip(page, page[1:], strict=False) if 0 < a.y - b.y < 4 * a.em]
        pitch = statistics.median(steps) if steps else 1.5 * em
        # A line that stops short of the margin ends a paragraph: is the next one's first line marked?
        after = [(a, b) for page in pages for a, b in zip(page, page[1:], strict=False) if a.x1 < right - 3 * a.em]
        marked = [b for a, b in after if 1.5 * b.em <= b.x0 - left <= 4.5 * b.em or a.y - b.y > GAP * pitch]
        return cls(left, right, pitch, bool(after) and 2 * len(marked) >= len(after))

    def is_full(self, line: PdfLine, following: PdfLine) -> bool:
        """Whether `line` ends where the margin made it wrap: the next line's first word would not have fit."""
        token = _FIRST_TOKEN.match(following.text)
        word = following.em * (0.55 * len(token.group()) if token and token.group().isascii() else 1.0)
        return line.x1 + word >= self.right - 0.5 * line.em

    def is_indented(self, line: PdfLine) -> bool:
        return line.x0 - self.left > 0.8 * line.em


def starts_paragraph(prev: PdfLine, line: PdfLine, layout: _Layout, *, same_page: bool) -> bool:
    """Whether `line` begins a new paragraph rather than continuing `prev`.

    A new paragraph starts at an indented line, after a line that stops short of the right margin, after
    a wider gap than the line pitch, or after a line ending in 。！？：； — unless the document marks its
    paragraphs (indent, space before), where such a line at the margin is just a sentence that happens to
    end there, and only a numbered heading (一、 （一） 1.) after it starts a new paragraph.
    """
    if layout.is_indented(line) or not layout.is_full(prev, line):
        return True
    if same_page and (line.y > prev.y or prev.y - line.y > GAP * layout.pitch):
        return True
    ends = bool(_PARAGRAPH_END.search(prev.text))
    return ends and (not layout.marks_paragraphs or bool(_HEADING_START.match(line.text)))


def _joiner(prev: str, line: str) -> str:
    """What goes between a wrapped line and its continuation: nothing in CJK text, a space between Latin words."""
    return " " if prev[-1].isascii() and line[0].isascii() and line[0].isalnum() else ""


def reflow(pages: list[list[PdfLine]]) -> tuple[str, tuple[int, ...]]:
    """One paragraph per line, and the offset in that text where each page's first line begins (page 1 at 0)."""
    lines = [line for page in pages for line in page]
    if not lines:
        return "", ()
    layout = _Layout.of(pages)
    parts: list[str] = []
    size = 0
    page_starts = []
    prev: PdfLine | None = None
    for page in pages:
        page_start = None
        for i, line in enumerate(page):
            if prev is not None:
                sep = "\n" if starts_paragraph(prev, line, layout, same_page=i > 0) else _joiner(prev.text, line.text)
                parts.append(sep)
                size += len(sep)
            if page_start is None:
                page_start = size
            parts.append(line.text)
            size += len(line.text)
            prev = line
        page_starts.append(size if page_start is None else page_start)
    page_starts[0] = 0
    return "".join(parts), tuple(page_starts)
