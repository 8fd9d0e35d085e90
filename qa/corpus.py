"""Load a corpus folder: one document per `.txt`/`.md` file plus its metadata.

Metadata comes from a sidecar `<name>.meta.json` next to the file, or from YAML
front matter (`---` ... `---`) at the top of a `.md` file. `title` is
required; `doc_id` defaults to the file name without extension. The text is
kept verbatim (after the front matter), so citation offsets index into exactly
what `GET /documents/{doc_id}` returns.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path

import yaml

from qa.errors import CorpusError
from qa.schema import Document

DOC_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
KNOWN_FIELDS = ("doc_id", "title", "doc_number", "issuer", "recipient", "date", "source", "questions")
META_SUFFIX = ".meta.json"
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(\r?\n|\Z)", re.S)


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(path, f"not valid UTF-8 (byte {exc.start}); save the file as UTF-8") from exc
    return text.removeprefix("\ufeff")


def _sidecar(path: Path) -> dict | None:
    meta_path = path.with_name(path.stem + META_SUFFIX)
    if not meta_path.exists():
        return None
    try:
        meta = json.loads(_decode(meta_path))
    except ValueError as exc:
        raise CorpusError(meta_path, f"metadata is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict):
        raise CorpusError(meta_path, "metadata must be a JSON object")
    return meta


def _split_front_matter(path: Path, text: str) -> tuple[dict | None, str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return None, text
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise CorpusError(path, f"front matter is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict):
        raise CorpusError(path, "front matter must be a mapping of fields")
    return meta, text[match.end() :]


def _document(path: Path, meta: dict | None, text: str) -> Document:
    if meta is None:
        raise CorpusError(path, f"no metadata: add {path.stem}{META_SUFFIX} (or YAML front matter) with a title")
    if not text.strip():
        raise CorpusError(path, "the document is empty")
    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        raise CorpusError(path, "metadata has no 'title'")
    doc_id = str(meta.get("doc_id") or path.stem)
    if not DOC_ID.match(doc_id):
        raise CorpusError(path, f"doc_id {doc_id!r} must be letters, digits, '.', '_' or '-' (max 128)")
    values = {k: (None if meta.get(k) is None else str(meta[k])) for k in KNOWN_FIELDS[2:-1]}
    extra = {str(k): str(v) for k, v in meta.items() if k not in KNOWN_FIELDS}
    questions = meta.get("questions") or []
    if not isinstance(questions, list) or not all(isinstance(q, str) and q.strip() for q in questions):
        raise CorpusError(path, "'questions' must be a list of non-empty strings")
    return Document(doc_id=doc_id, title=title.strip(), text=text, extra=extra, questions=questions, **values)


def load_text(path: Path) -> Document:
    return _document(path, _sidecar(path), _decode(path))


def load_markdown(path: Path) -> Document:
    front, text = _split_front_matter(path, _decode(path))
    meta = _sidecar(path)
    if front is not None:
        meta = {**(meta or {}), **front}
    return _document(path, meta, text)


# New formats (PDF, Word) plug in here: suffix -> loader returning a Document.
LOADERS: dict[str, Callable[[Path], Document]] = {".txt": load_text, ".md": load_markdown}


def load_corpus(directory: Path) -> list[Document]:
    """Every document in `directory` (not recursive), sorted by doc_id.

    Raises CorpusError naming the first bad file; nothing is half-loaded.
    """
    if not directory.is_dir():
        raise CorpusError(directory, "corpus folder does not exist")
    documents: dict[str, Document] = {}
    for path in sorted(directory.iterdir()):
        loader = LOADERS.get(path.suffix.lower())
        if loader is None or not path.is_file() or path.name.startswith("."):
            continue
        doc = loader(path)
        if doc.doc_id in documents:
            raise CorpusError(path, f"doc_id {doc.doc_id!r} is used by another file too")
        documents[doc.doc_id] = doc
    if not documents:
        raise CorpusError(directory, f"no documents ({', '.join(LOADERS)}) in the corpus folder")
    return [documents[k] for k in sorted(documents)]


def corpus_fingerprint(documents: list[Document]) -> str:
    """Changes whenever any document's text or metadata changes."""
    digest = hashlib.sha256()
    for doc in documents:
        payload = json.dumps([doc.metadata(), doc.extra, doc.questions, doc.text], ensure_ascii=False, sort_keys=True)
        digest.update(payload.encode("utf-8"))
    return digest.hexdigest()
