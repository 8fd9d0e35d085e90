"""Add, replace and remove documents: the corpus folder changes only together with a new index.

A change is staged and validated first (each file is loaded exactly as `qa build` loads it), then
applied to the corpus folder, then the index is rebuilt (embedding only passages it has not seen,
qa.embedding.cache) and published. If any step fails, the corpus folder is put back as it was, so
a failed upload changes nothing; readers switch to the new index in one step (qa.service).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from filelock import FileLock

from qa.corpus import DOC_ID, LOADERS, META_SUFFIX, load_corpus, load_document
from qa.errors import CorpusError, DocumentConflictError, DocumentRejectedError, IndexWriteError, NotFoundError
from qa.formats import sniff
from qa.schema import Document

log = logging.getLogger(__name__)
LOCK_FILE = ".qa-collection.lock"
_TEXT_SUFFIXES = (".txt", ".md")


@dataclass(frozen=True)
class Upload:
    """A document to add: its bytes, the name it came with, and optional metadata (written as its sidecar)."""

    filename: str
    data: bytes
    doc_id: str | None = None
    metadata: dict | None = None

    @property
    def resolved_id(self) -> str:
        """The id it will have: given, or named by its metadata, or made from its file name."""
        return self.doc_id or str((self.metadata or {}).get("doc_id") or "") or doc_id_from(self.filename)


def doc_id_from(filename: str) -> str:
    """A doc_id from a file name: the stem with characters outside [A-Za-z0-9_.-] replaced by '-'.

    A name with too little of those (答复函.pdf) gets `doc-` and a hash of the name instead."""
    stem = Path(filename).stem
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-.")[:100]
    if len(re.sub(r"[^A-Za-z0-9]", "", cleaned)) < 2:
        return f"doc-{hashlib.sha1(stem.encode('utf-8')).hexdigest()[:10]}"
    return cleaned


def _suffix(upload: Upload) -> str:
    """The suffix the content says, not the one the client sent (text named .md stays Markdown)."""
    found = sniff(upload.data)
    if found is None:
        raise DocumentRejectedError(f"{upload.filename}: not a supported document format ({', '.join(LOADERS)})")
    if found == ".txt" and Path(upload.filename).suffix.lower() in _TEXT_SUFFIXES:
        return Path(upload.filename).suffix.lower()
    if found not in LOADERS:
        raise DocumentRejectedError(f"{upload.filename}: {found} files are not supported here")
    return found


@contextmanager
def locked(corpus_dir: Path) -> Iterator[None]:
    """One writer at a time, across processes too (`qa add` beside a running server)."""
    with FileLock(str(corpus_dir / LOCK_FILE), timeout=300):
        yield


class CorpusChange:
    """File moves into and out of the corpus folder that are undone unless the block succeeds.

    Staging happens in a hidden folder inside the corpus folder (the loader skips hidden
    names), so every move is a same-filesystem rename.
    """

    def __init__(self, corpus_dir: Path, originals_dir: Path | None = None) -> None:
        self.corpus_dir = corpus_dir
        self.originals_dir = originals_dir
        self._originals: list[tuple[str, Upload]] = []
        self.documents = {d.doc_id: d for d in load_corpus(corpus_dir)}
        try:
            self._scratch = Path(tempfile.mkdtemp(prefix=".qa-change-", dir=corpus_dir))
        except OSError as exc:
            raise IndexWriteError(f"cannot change the corpus folder: {exc.strerror or exc}") from exc
        self._new: list[Path] = []
        self._old: list[Path] = []
        self._moved_in: list[Path] = []
        self._moved_out: list[tuple[Path, Path]] = []

    def __enter__(self) -> CorpusChange:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is not None:
            for path in reversed(self._moved_in):
                path.unlink(missing_ok=True)
            for aside, original in reversed(self._moved_out):
                os.replace(aside, original)
        shutil.rmtree(self._scratch, ignore_errors=True)

    def corpus(self) -> list[Document]:
        """The corpus folder's documents once the change is applied, sorted by doc_id like `load_corpus`:
        the unchanged ones as loaded at the start, the new ones as loaded when staged."""
        return [self.documents[k] for k in sorted(self.documents)]

    def _files(self, doc_id: str) -> list[Path]:
        if doc_id not in self.documents:
            raise NotFoundError(f"no document with id {doc_id!r}")
        path = self.corpus_dir / self.documents[doc_id].source_file
        sidecar = path.with_name(path.stem + META_SUFFIX)
        return [path, *([sidecar] if sidecar.is_file() else [])]

    def remove(self, doc_id: str) -> None:
        self._old.extend(self._files(doc_id))
        self.documents.pop(doc_id)

    def add(self, upload: Upload, doc_id: str | None = None) -> Document:
        """Stage and validate one document; `doc_id` set means it replaces that document."""
        if not upload.data:
            raise DocumentRejectedError(f"{upload.filename}: the file is empty (0 bytes)")
        doc_id = doc_id or upload.resolved_id
        if not DOC_ID.match(doc_id):
            raise DocumentRejectedError(f"doc_id {doc_id!r} must be letters, digits, '.', '_' or '-' (max 128)")
        if doc_id in self.documents:
            raise DocumentConflictError(f"a document with id {doc_id!r} exists; replace it with PUT /documents/{doc_id}")
        folder = self._scratch / f"{len(self._new)}"
        folder.mkdir()
        path = folder / f"{doc_id}{_suffix(upload)}"
        path.write_bytes(upload.data)
        staged = [path]
        sidecar = folder / f"{doc_id}{META_SUFFIX}"
        if upload.metadata is not None:
            sidecar.write_text(json.dumps({**upload.metadata, "doc_id": doc_id}, ensure_ascii=False, indent=2), "utf-8")
            staged.append(sidecar)
        try:
            document = load_document(path)
            if document.title == doc_id and Path(upload.filename).stem not in ("", doc_id):
                # Nothing in the file names a title: the name it was uploaded under (答复函.pdf) says more
                # than the generated id; kept as a sidecar so that `qa build` gives the same title.
                sidecar.write_text(json.dumps({"title": Path(upload.filename).stem}, ensure_ascii=False), "utf-8")
                staged.append(sidecar)
                document = load_document(path)
        except CorpusError as exc:
            raise DocumentRejectedError(f"{upload.filename}: {exc.reason}") from exc
        if document.doc_id != doc_id:
            raise DocumentRejectedError(f"{upload.filename}: its metadata names doc_id {document.doc_id!r}, not {doc_id!r}")
        self._new.extend(staged)
        self._originals.append((doc_id, upload))
        self.documents[doc_id] = document
        return document

    def replace(self, doc_id: str, upload: Upload) -> Document:
        """The new file takes the document's place; its sidecar metadata carries over unless new metadata is given."""
        files = self._files(doc_id)
        if upload.metadata is None and len(files) == 2:
            upload = Upload(upload.filename, upload.data, doc_id, json.loads(files[1].read_text("utf-8")))
        self.remove(doc_id)
        return self.add(upload, doc_id)

    def apply(self) -> None:
        """Move removed files aside, then the staged ones in. Undone if the enclosing block fails."""
        try:
            self._move()
        except OSError as exc:
            raise IndexWriteError(f"cannot change the corpus folder: {exc.strerror or exc}") from exc

    def _move(self) -> None:
        aside_dir = self._scratch / "removed"
        aside_dir.mkdir()
        for path in self._old:
            aside = aside_dir / path.name
            os.replace(path, aside)
            self._moved_out.append((aside, path))
        for path in self._new:
            target = self.corpus_dir / path.name
            if target.exists() or target.is_symlink():
                raise DocumentConflictError(f"the corpus folder already has a file named {path.name}")
            os.replace(path, target)
            self._moved_in.append(target)

    def keep_originals(self) -> None:
        """Archive the uploads as received in `originals_dir`, once the change is published.

        After publishing, a failure here must not undo the change: it is logged, not raised."""
        if self.originals_dir is None:
            return
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        for doc_id, upload in self._originals:
            name = re.sub(r"[\\/\x00-\x1f]", "_", Path(upload.filename).name) or "upload"
            target = self.originals_dir / doc_id / f"{stamp}-{name}"
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(upload.data)
            except OSError as exc:
                log.error("cannot keep the original of %s in QA_ORIGINALS_DIR: %s", doc_id, exc.strerror or exc)

