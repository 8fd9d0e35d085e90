"""Word documents (.docx): paragraphs and table cells as lines, Heading styles as `headings`.

Body paragraphs and tables are read in document order; a table is read row by row, one line per cell
(a merged cell once). Numbered lists keep their number only when it is typed in the paragraph's text:
Word's automatic numbering lives in the numbering part, not in the text a user could quote.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import docx
from docx.document import Document as WordDocument
from docx.opc.exceptions import OpcError
from docx.table import Table
from docx.text.paragraph import Paragraph
from lxml import etree

from qa.errors import CorpusError
from qa.formats import Extracted

# Heading 1..6 in English Word, 标题 1..6 in Chinese Word (style names are stored localised)
_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*([1-6])$", re.I)
_TITLE_STYLE = re.compile(r"^(?:title|标题)$", re.I)


def _blocks(document: WordDocument) -> Iterator[Paragraph | Table]:
    yield from document.iter_inner_content()


def _level(paragraph: Paragraph) -> int | None:
    name = paragraph.style.name if paragraph.style is not None else ""
    match = _HEADING_STYLE.match(name or "")
    return int(match.group(1)) if match else None


def _cells(table: Table) -> Iterator[str]:
    for row in table.rows:
        seen: set[int] = set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # a horizontally merged cell is returned once per grid column
                continue
            seen.add(id(cell._tc))
            for paragraph in cell.paragraphs:
                yield paragraph.text
            for inner in cell.tables:
                yield from _cells(inner)


def _open(path: Path, raw: bytes) -> WordDocument:
    try:
        return docx.Document(BytesIO(raw))
    except (zipfile.BadZipFile, OpcError, KeyError) as exc:
        raise CorpusError(path, "is not a readable Word document (truncated or damaged?); save it again from Word") from exc
    except (etree.LxmlError, ValueError, OSError, EOFError, zipfile.LargeZipFile) as exc:
        raise CorpusError(path, f"is not a readable Word document ({type(exc).__name__}); save it again from Word") from exc


def load_docx(path: Path, raw: bytes) -> Extracted:
    document = _open(path, raw)
    lines: list[str] = []
    headings: list[tuple[int, int]] = []
    offset = 0
    first_title: str | None = None

    def add(text: str, level: int | None = None) -> None:
        nonlocal offset
        text = text.strip()
        if not text:
            return
        if level is not None:
            headings.append((offset, level))
        lines.append(text)
        offset += len(text) + 1

    try:
        for block in _blocks(document):
            if isinstance(block, Paragraph):
                level = _level(block)
                style = block.style.name if block.style is not None else ""
                if first_title is None and (level == 1 or _TITLE_STYLE.match(style or "")) and block.text.strip():
                    first_title = block.text.strip()
                add(block.text, level)
            else:
                for text in _cells(block):
                    add(text)
        title = (document.core_properties.title or "").strip() or first_title
    # parts that are missing or damaged only show up when they are read
    except (etree.LxmlError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise CorpusError(path, f"is a damaged Word document ({type(exc).__name__}); save it again from Word") from exc
    return Extracted(text="\n".join(lines), title=title, headings=tuple(headings))
