"""On-disk index: versioned directories under `index/` and a `CURRENT` pointer.

    index/CURRENT                 name of the live version (replaced atomically)
    index/<version>/manifest.json fingerprints, counts, dimension, file sizes + sha256
    index/<version>/documents.jsonl, passages.jsonl
    index/<version>/dense.faiss   the vector store (qa.vectors): FAISS's file, or milvus.json naming a collection
    index/<version>/bm25/...
    index/<version>/sentences.npy, sentence_offsets.npy   sentence embeddings (qa.sentence_vectors)

A build is staged in `index/.tmp-*`, fsynced, renamed to its version name, and
only then does `CURRENT` move. A crash at any point leaves the previous version
serving; leftovers are cleaned up on the next write. Loading checks every file
against the manifest and the parts against each other (model, dimension,
counts), so a truncated or mismatched file is reported, never half-used.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from qa.atomic import fsync_tree, sha256_file, write_text_atomic
from qa.config import Settings
from qa.errors import IndexCorruptError, IndexWriteError
from qa.schema import Document, Passage
from qa.sentence_vectors import SentenceVectors
from qa.sparse import SparseIndex
from qa.vectors import VectorStore, load_store

log = logging.getLogger(__name__)

FORMAT = 4
POINTER = "CURRENT"
MANIFEST = "manifest.json"
KEEP_VERSIONS = 2


@dataclass(frozen=True)
class Manifest:
    format: int
    version: str
    built_at: float
    corpus_fingerprint: str
    model_fingerprint: str
    settings_fingerprint: str
    model_id: str
    documents: int
    passages: int
    dim: int
    backend: str  # the vector store: faiss | milvus
    vector_kind: str  # its index structure: flat | hnsw | ...
    build_seconds: float
    dense_floor: float  # mean best score of off-topic probe questions (see qa.indexer)
    # The corpus's script (qa.text.is_traditional): questions and the floor's probes are embedded in it.
    traditional: bool = False
    embedded: int = 0  # passages and sentences this build had to embed (the rest came from the embedding cache)
    settings: dict = field(default_factory=dict)
    files: dict[str, dict] = field(default_factory=dict)


@dataclass
class BuiltIndex:
    manifest: Manifest
    documents: list[Document]
    passages: list[Passage]
    dense: VectorStore
    sparse: SparseIndex
    sentences: SentenceVectors


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _file_table(root: Path) -> dict[str, dict]:
    table = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != MANIFEST):
        table[path.relative_to(root).as_posix()] = {"size": path.stat().st_size, "sha256": sha256_file(path)}
    return table


def current_version(index_dir: Path) -> Path | None:
    """The live version directory, or None when nothing was ever built."""
    try:
        name = (index_dir / POINTER).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise IndexCorruptError(f"cannot read {index_dir / POINTER}: {exc}") from exc
    if not name or "/" in name or name.startswith("."):
        raise IndexCorruptError(f"{index_dir / POINTER} does not name a version")
    return index_dir / name


def read_manifest(version_dir: Path) -> Manifest:
    try:
        data = json.loads((version_dir / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise IndexCorruptError(f"index version {version_dir.name} has no manifest") from exc
    except ValueError as exc:
        raise IndexCorruptError(f"index manifest in {version_dir.name} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else None
        raise IndexCorruptError(f"index format {found} is not the current format {FORMAT}")
    try:
        return Manifest(**data)
    except TypeError as exc:
        raise IndexCorruptError(f"index manifest in {version_dir.name} is incomplete: {exc}") from exc


def _verify_files(version_dir: Path, manifest: Manifest) -> None:
    for name, expected in manifest.files.items():
        path = version_dir / name
        if not path.is_file():
            raise IndexCorruptError(f"index file {name} is missing")
        if path.stat().st_size != expected["size"] or sha256_file(path) != expected["sha256"]:
            raise IndexCorruptError(f"index file {name} is truncated or modified")


def load(index_dir: Path, settings: Settings | None = None) -> BuiltIndex:
    """Load and cross-check the live index. Raises IndexCorruptError, or FileNotFoundError if none.

    `settings` locate a server-side vector store (Milvus) and set query-time knobs; by default the
    settings of this process's environment."""
    version_dir = current_version(index_dir)
    if version_dir is None:
        raise FileNotFoundError(f"no index has been built in {index_dir}")
    manifest = read_manifest(version_dir)
    _verify_files(version_dir, manifest)
    try:
        documents = [Document(**row) for row in _read_jsonl(version_dir / "documents.jsonl")]
        passages = [Passage(**row) for row in _read_jsonl(version_dir / "passages.jsonl")]
    except (ValueError, TypeError) as exc:
        raise IndexCorruptError(f"passage or document list is unreadable: {exc}") from exc
    vectors = load_store(settings or Settings(), version_dir, manifest.backend)
    problems = []
    if len(documents) != manifest.documents:
        problems.append(f"{len(documents)} documents, manifest says {manifest.documents}")
    if len(passages) != manifest.passages or vectors.count != manifest.passages:
        problems.append(f"{len(passages)} passages and {vectors.count} vectors, manifest says {manifest.passages}")
    if vectors.dim != manifest.dim:
        problems.append(f"vector dimension {vectors.dim}, manifest says {manifest.dim}")
    if problems:
        raise IndexCorruptError("index parts disagree: " + "; ".join(problems))
    sparse = SparseIndex.load(version_dir / "bm25", manifest.passages)
    sentences = SentenceVectors.load(version_dir, manifest.passages, manifest.dim)
    return BuiltIndex(manifest, documents, passages, vectors, sparse, sentences)


def _collect_garbage(index_dir: Path, live: str) -> set[str]:
    """Remove staging leftovers and all but the newest KEEP_VERSIONS versions; returns the names kept."""
    for leftover in index_dir.glob(".tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    versions = sorted(
        (p for p in index_dir.iterdir() if p.is_dir() and p.name.startswith("v") and p.name != live),
        key=lambda p: p.stat().st_mtime,
    )
    cut = max(0, len(versions) - (KEEP_VERSIONS - 1))
    for old in versions[:cut]:
        shutil.rmtree(old, ignore_errors=True)
    return {live, *(p.name for p in versions[cut:])}


def save(index_dir: Path, built: BuiltIndex) -> Path:
    """Write a new version and switch CURRENT to it. Returns the version directory."""
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        staged = Path(tempfile.mkdtemp(prefix=".tmp-", dir=index_dir))
    except OSError as exc:
        raise IndexWriteError(f"cannot write the index directory {index_dir}: {exc.strerror}") from exc
    try:
        _write_jsonl(staged / "documents.jsonl", [asdict(d) for d in built.documents])
        _write_jsonl(staged / "passages.jsonl", [asdict(p) for p in built.passages])
        built.dense.save(staged)
        (staged / "bm25").mkdir()
        built.sparse.save(staged / "bm25")
        built.sentences.save(staged)
        manifest = Manifest(**{**asdict(built.manifest), "files": _file_table(staged)})
        (staged / MANIFEST).write_text(json.dumps(asdict(manifest), ensure_ascii=False, indent=2), "utf-8")
        fsync_tree(staged)
        target = index_dir / manifest.version
        os.replace(staged, target)
        write_text_atomic(index_dir / POINTER, manifest.version + "\n")
    except OSError as exc:
        shutil.rmtree(staged, ignore_errors=True)
        raise IndexWriteError(f"cannot write the index directory {index_dir}: {exc.strerror or exc}") from exc
    built.manifest = manifest
    built.dense.publish(_collect_garbage(index_dir, manifest.version))
    log.info("index %s written (%d passages)", manifest.version, manifest.passages)
    return target


def new_version_name() -> str:
    return time.strftime("v%Y%m%d-%H%M%S-", time.gmtime()) + os.urandom(3).hex()
