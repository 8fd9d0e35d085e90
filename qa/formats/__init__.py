"""Source formats: one module per format turns a file's bytes into the text we store and cite.

A loader returns an `Extracted`: the document text (what `GET /documents/{id}` serves and every
citation offset indexes into), the structure the format itself knows (a title, headings, page
starts) and any metadata the file embeds. `qa.corpus` picks the loader and merges metadata.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from io import BytesIO


@dataclass(frozen=True)
class Extracted:
    text: str
    title: str | None = None  # a title the format carries: <title>/<h1>, Word's core properties, a # heading
    meta: dict = field(default_factory=dict)  # metadata embedded in the file (Markdown front matter)
    # (offset of a heading line in `text`, level 1-6) for headings the format marks up (#, Heading 1, <h2>);
    # the chunker also recognises numbered headings (一、 （一） 1.) by their text.
    headings: tuple[tuple[int, int], ...] = ()
    page_starts: tuple[int, ...] = ()  # offset in `text` where each page begins (PDF); empty when unpaged


def sniff(raw: bytes) -> str | None:
    """The format a file's content says it is (".pdf", ".docx", ".html", ".txt"), or None for other binaries.

    Uploads are typed by content, not by the name a client sends; the corpus checks that a file's content
    matches its extension, so a renamed PDF is reported instead of indexed as text.
    """
    head = raw[:1024]
    if head.startswith(b"%PDF-"):
        return ".pdf"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(BytesIO(raw)) as archive:
                return ".docx" if "word/document.xml" in archive.namelist() else None
        except zipfile.BadZipFile:
            # A Word file cut short still names its parts near the start: let the DOCX loader say it is damaged.
            return ".docx" if b"[Content_Types].xml" in raw[:4096] or b"word/" in raw[:4096] else None
    probe = head.lstrip(b"\xef\xbb\xbf").lstrip().lower()
    if probe.startswith((b"<!doctype html", b"<html", b"<head", b"<meta", b"<body")):
        return ".html"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" not in head:
        return ".txt"  # text in any encoding (UTF-16 carries zero bytes, after its BOM)
    return None
