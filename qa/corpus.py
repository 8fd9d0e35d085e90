"""Load a corpus folder: one document per file, in any format of `LOADERS`, plus its metadata.

Metadata comes from a sidecar `<name>.meta.json` next to the file, or from YAML front matter
(`---` ... `---`) at the top of a `.md` file; what neither gives is read from the document's own
text (文号, addressee, issuer, date: qa.metadata) and format (a title), and `doc_id` defaults to
the file name without extension. The stored text is what the format's loader extracted
(qa.formats), so citation offsets index into exactly what `GET /documents/{doc_id}` returns.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from qa.errors import CorpusError
from qa.formats import Extracted, sniff
from qa.formats.docx import load_docx
from qa.formats.html import load_html
from qa.formats.pdf import load_pdf
from qa.formats.text import decode, load_markdown, load_text
from qa.metadata import extract as extract_metadata
from qa.schema import Document

DOC_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
KNOWN_FIELDS = ("doc_id", "title", "doc_number", "issuer", "recipient", "date", "source", "questions")
META_SUFFIX = ".meta.json"


def read_corpus_file(path: Path) -> bytes:
    """The bytes of a regular file in the corpus folder (`path.parent`: the folder is flat).

    A symbolic link may point to another file in the folder; one that leads outside it is
    refused, so `env.txt -> /proc/self/environ` cannot publish the process environment
    through GET /documents. Unreadable files become a CorpusError, never a bare OSError.
    """
    try:
        real = path.resolve(strict=True)
        if not real.is_relative_to(path.parent.resolve(strict=True)):
            raise CorpusError(path, "is a symbolic link to a file outside the corpus folder; copy the file in instead")
        # O_NOFOLLOW: no link swapped in since resolve(); O_NONBLOCK: a FIFO must not hang the build.
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise CorpusError(path, "is not a regular file")
            return handle.read()
    except OSError as exc:  # the strerror only: str(exc) would carry the absolute path
        raise CorpusError(path, f"cannot be read ({exc.strerror or type(exc).__name__})") from exc
    except RuntimeError as exc:  # Python 3.11 reports a symlink loop this way
        raise CorpusError(path, "cannot be read (symbolic link loop)") from exc


def _sidecar(path: Path) -> dict:
    meta_path = path.with_name(path.stem + META_SUFFIX)
    if not os.path.lexists(meta_path):  # lexists: a dangling link is an error, not "no metadata"
        return {}
    try:
        meta = json.loads(decode(meta_path, read_corpus_file(meta_path)))
    except ValueError as exc:
        raise CorpusError(meta_path, f"metadata is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict):
        raise CorpusError(meta_path, "metadata must be a JSON object")
    return meta


def _document(path: Path, meta: dict, extracted: Extracted) -> Document:
    """Merge metadata: the sidecar and front matter win, then what the text itself says (qa.metadata),
    then what the format carries (a title); the file name is the title of last resort."""
    text = extracted.text
    if not text.strip():
        raise CorpusError(path, "the document is empty")
    given = {k: v for k, v in {**meta, **extracted.meta}.items() if v is not None}  # front matter over sidecar
    found = extract_metadata(text)
    meta = {**found, **given}
    # Title: what the author declared (sidecar, front matter), then the title the text states, then the
    # format's, then the file name. The text's title is checked by its 公文 shape (a header line ending in
    # 通知/答复/批复/…, before the addressee); the format's is whatever the file's tooling recorded: an
    # HTML <title> carries the site's name, Word's core properties are often a template's, a Markdown
    # heading can be the letterhead (# 上海市人民政府文件). On eval/datasets/metadata the other order
    # scores 25/27 against 27/27 (eval/reports/metadata.md). A title the text breaks over two lines
    # is shown on one (Chinese needs no space where the lines join).
    title = given.get("title") or re.sub(r"\s*\n[\s#*]*", "", found.get("title", "")) or extracted.title or path.stem
    if not isinstance(title, str) or not title.strip():
        raise CorpusError(path, "metadata 'title' must be a non-empty string")
    doc_id = str(meta.get("doc_id") or path.stem)
    if not DOC_ID.match(doc_id):
        raise CorpusError(path, f"doc_id {doc_id!r} must be letters, digits, '.', '_' or '-' (max 128)")

    def value(key: str) -> str | None:
        return None if meta.get(key) is None else str(meta[key])

    extra = {str(k): str(v) for k, v in meta.items() if k not in KNOWN_FIELDS}
    questions = meta.get("questions") or []
    if not isinstance(questions, list) or not all(isinstance(q, str) and q.strip() for q in questions):
        raise CorpusError(path, "'questions' must be a list of non-empty strings")
    return Document(
        doc_id=doc_id,
        title=title.strip(),
        text=text,
        doc_number=value("doc_number"),
        issuer=value("issuer"),
        recipient=value("recipient"),
        date=value("date"),
        source=value("source"),
        extra=extra,
        questions=questions,
        headings=[list(h) for h in extracted.headings],
        page_starts=list(extracted.page_starts),
    )


# suffix -> loader of a file's bytes. _CONTENT: what qa.formats.sniff must find in a file with that
# suffix, so that a PDF renamed to .txt is reported instead of indexed as mojibake.
LOADERS: dict[str, Callable[[Path, bytes], Extracted]] = {
    ".txt": load_text, ".md": load_markdown, ".docx": load_docx, ".html": load_html, ".htm": load_html,
    ".pdf": load_pdf,
}  # fmt: skip
_CONTENT = {".txt": ".txt", ".md": ".txt", ".htm": ".html"}


def load_document(path: Path) -> Document:
    """One file of the corpus folder as a Document (a CorpusError naming the file if it cannot be used)."""
    suffix = path.suffix.lower()
    if suffix not in LOADERS:
        raise CorpusError(path, f"unsupported file type {suffix or '(none)'}; supported: {', '.join(LOADERS)}")
    raw = read_corpus_file(path)
    if not raw:
        raise CorpusError(path, "the file is empty (0 bytes)")
    found = sniff(raw)
    if found != _CONTENT.get(suffix, suffix):
        what = f"a {found.lstrip('.').upper()} file" if found else "not a supported document format"
        raise CorpusError(path, f"its content is {what}, not what the extension {suffix} says")
    return replace(_document(path, _sidecar(path), LOADERS[suffix](path, raw)), source_file=path.name)


def is_document(path: Path) -> bool:
    """Whether the corpus loader reads `path` (hidden files, sidecars and folders are not documents)."""
    return path.suffix.lower() in LOADERS and not path.name.startswith(".") and not (path.is_dir() and not path.is_symlink())


def load_corpus(directory: Path) -> list[Document]:
    """Every document in `directory` (not recursive), sorted by doc_id.

    Raises CorpusError naming the first bad file relative to `directory`; nothing is half-loaded.
    """
    if not directory.is_dir():
        raise CorpusError(directory, "does not exist or is not a folder (QA_CORPUS_DIR)")
    try:
        paths = sorted(directory.iterdir())
    except OSError as exc:
        raise CorpusError(directory, f"cannot be listed ({exc.strerror or type(exc).__name__})") from exc
    documents: dict[str, Document] = {}
    for path in filter(is_document, paths):
        try:
            doc = load_document(path)
        except CorpusError as exc:
            raise exc.within(directory) from exc.__cause__
        if doc.doc_id in documents:
            raise CorpusError(path, f"doc_id {doc.doc_id!r} is used by another file too", directory)
        documents[doc.doc_id] = doc
    if not documents:
        raise CorpusError(directory, f"no documents ({', '.join(LOADERS)}) in it")
    return [documents[k] for k in sorted(documents)]


def corpus_fingerprint(documents: list[Document]) -> str:
    """Changes whenever any document's text or metadata changes."""
    digest = hashlib.sha256()
    for doc in documents:
        payload = json.dumps([doc.metadata(), doc.extra, doc.questions, doc.headings, doc.page_starts, doc.text],
                             ensure_ascii=False, sort_keys=True)
        digest.update(payload.encode("utf-8"))
    return digest.hexdigest()
