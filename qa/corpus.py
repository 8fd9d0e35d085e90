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
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

import yaml

from qa.errors import CorpusError
from qa.schema import Document

DOC_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
KNOWN_FIELDS = ("doc_id", "title", "doc_number", "issuer", "recipient", "date", "source", "questions")
META_SUFFIX = ".meta.json"
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(\r?\n|\Z)", re.S)
# Front matter holds a few metadata fields; a bound keeps a hostile file's parse cheap.
MAX_FRONT_MATTER_BYTES = 16 * 1024


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


def _decode(path: Path) -> str:
    raw = read_corpus_file(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(path, f"not valid UTF-8 (byte {exc.start}); save the file as UTF-8") from exc
    return text.removeprefix("\ufeff")


def _sidecar(path: Path) -> dict | None:
    meta_path = path.with_name(path.stem + META_SUFFIX)
    if not os.path.lexists(meta_path):  # lexists: a dangling link is an error, not "no metadata"
        return None
    try:
        meta = json.loads(_decode(meta_path))
    except ValueError as exc:
        raise CorpusError(meta_path, f"metadata is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict):
        raise CorpusError(meta_path, "metadata must be a JSON object")
    return meta


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader without aliases: `*name` nested a few times is how 400 bytes of YAML expand
    to gigabytes once the structure is turned into strings. Metadata never needs them."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in front matter", mark)
        return super().compose_node(parent, index)


def _split_front_matter(path: Path, text: str) -> tuple[dict | None, str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return None, text
    if len(match.group(1).encode("utf-8")) > MAX_FRONT_MATTER_BYTES:
        raise CorpusError(path, f"front matter is larger than {MAX_FRONT_MATTER_BYTES} bytes")
    try:
        meta = yaml.load(match.group(1), Loader=_NoAliasLoader) or {}  # a SafeLoader: plain data only
    except yaml.YAMLError as exc:
        raise CorpusError(path, f"front matter is not valid YAML: {exc}") from exc
    except RecursionError as exc:
        raise CorpusError(path, "front matter is nested too deeply") from exc
    except ValueError as exc:  # e.g. `date: 2020-13-45`, which YAML's timestamp type rejects
        raise CorpusError(path, f"front matter has an invalid value: {exc}") from exc
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

    Raises CorpusError naming the first bad file relative to `directory`; nothing is half-loaded.
    """
    if not directory.is_dir():
        raise CorpusError(directory, "does not exist or is not a folder (QA_CORPUS_DIR)")
    try:
        paths = sorted(directory.iterdir())
    except OSError as exc:
        raise CorpusError(directory, f"cannot be listed ({exc.strerror or type(exc).__name__})") from exc
    documents: dict[str, Document] = {}
    for path in paths:
        loader = LOADERS.get(path.suffix.lower())
        if loader is None or path.name.startswith(".") or (path.is_dir() and not path.is_symlink()):
            continue
        try:
            doc = loader(path)
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
        payload = json.dumps([doc.metadata(), doc.extra, doc.questions, doc.text], ensure_ascii=False, sort_keys=True)
        digest.update(payload.encode("utf-8"))
    return digest.hexdigest()
