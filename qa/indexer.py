"""Build the index from the corpus, and decide at start-up whether the stored one is usable."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from importlib import resources

from qa import store
from qa.chunking import ChunkSettings, chunk_corpus
from qa.config import Settings
from qa.corpus import corpus_fingerprint, load_corpus
from qa.embedding import Encoder, model_fingerprint
from qa.embedding.cache import EmbeddingCache
from qa.errors import IndexCorruptError, IndexWriteError
from qa.schema import Document
from qa.sentence_vectors import SentenceVectors, sentence_texts
from qa.sparse import SparseIndex
from qa.text import Terms, find_user_dicts, in_script, is_traditional
from qa.vectors import VectorStore, build_store

log = logging.getLogger(__name__)
# Bump when chunking, term extraction or index contents change in code, so that
# stored indexes are rebuilt.
PIPELINE_VERSION = 7
EMBEDDINGS_DIR = "embeddings"  # under index/: the embedding cache (qa.embedding.cache)


def chunk_settings(settings: Settings) -> ChunkSettings:
    return ChunkSettings(
        max_chars=settings.chunk_max_chars,
        overlap_sentences=settings.chunk_overlap_sentences,
        boilerplate_patterns=tuple(settings.boilerplate_patterns),
    )


def make_terms(settings: Settings) -> Terms:
    return Terms(find_user_dicts(settings.corpus_dir, settings.user_dicts))


def index_settings(settings: Settings, terms: Terms) -> dict:
    """Every setting that changes what is stored in the index."""
    return {
        "chunk_max_chars": settings.chunk_max_chars,
        "chunk_overlap_sentences": settings.chunk_overlap_sentences,
        "boilerplate_patterns": settings.boilerplate_patterns,
        "heading_in_dense": settings.heading_in_dense,
        "heading_in_bm25": settings.heading_in_bm25,
        "backend": settings.backend,
        "faiss_index": settings.faiss_index,
        "hnsw_from": settings.hnsw_from,
        "hnsw_m": settings.hnsw_m,
        "terms": terms.fingerprint(),
        "pipeline": PIPELINE_VERSION,
    }


def _fingerprint(values: dict) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass(frozen=True)
class Freshness:
    corpus: str
    model: str
    settings: str


def expected_freshness(settings: Settings, documents: list[Document], terms: Terms, encoder: Encoder) -> Freshness:
    # The inference path is part of the model identity: int8 and fp32 embeddings differ slightly.
    return Freshness(
        corpus=corpus_fingerprint(documents),
        model=f"{model_fingerprint(settings)}|{encoder.backend}",
        settings=_fingerprint(index_settings(settings, terms)),
    )


def offtopic_probes() -> list[str]:
    text = resources.files("qa.resources").joinpath("offtopic_probes.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def dense_floor(encoder: Encoder, vectors: VectorStore, traditional: bool) -> float:
    """The similarity an unrelated question reaches anyway on this corpus and model.

    Dense scores of e5-style models sit in a narrow band (0.8-0.9 for almost any
    Chinese question on any Chinese text), so the answer stage measures a
    question's dense support above this floor rather than the raw score. The
    probes are read in the corpus's script (`traditional`), as questions are.
    """
    if vectors.count == 0:
        return 0.0
    best = [vectors.search(probe, 1)[1][0] for probe in encoder.encode_queries(
        [in_script(probe, traditional) for probe in offtopic_probes()])]
    return round(float(sum(best) / len(best)), 4)


def build_index(
    settings: Settings,
    encoder: Encoder,
    documents: list[Document],
    terms: Terms,
    *,
    show_progress: bool = False,
) -> store.BuiltIndex:
    """Chunk, embed and index `documents` in memory; only the embedding cache is written.

    Passages and sentences (qa.sentence_vectors) whose text was embedded before (by this model, prompt and
    inference path) take their vector from the cache, so adding or replacing a few documents embeds only theirs.
    """
    started = time.perf_counter()
    fresh = expected_freshness(settings, documents, terms, encoder)
    passages = chunk_corpus(documents, chunk_settings(settings))
    cache = EmbeddingCache(settings.index_dir / EMBEDDINGS_DIR, fresh.model)
    sentences, offsets = sentence_texts(passages)
    # One call: the cache keeps exactly the vectors of the texts it was last asked for.
    vectors, embedded = cache.embed(
        encoder, [p.indexed_text(settings.heading_in_dense) for p in passages] + sentences,
        show_progress=show_progress,
    )
    version = store.new_version_name()
    traditional = is_traditional([p.text for p in passages])
    vector_store = build_store(settings, vectors[: len(passages)], version)
    sparse = SparseIndex.build([terms(p.indexed_text(settings.heading_in_bm25)) for p in passages])
    manifest = store.Manifest(
        format=store.FORMAT,
        version=version,
        built_at=time.time(),
        corpus_fingerprint=fresh.corpus,
        model_fingerprint=fresh.model,
        settings_fingerprint=fresh.settings,
        model_id=encoder.model_id,
        documents=len(documents),
        passages=len(passages),
        dim=encoder.dim,
        backend=vector_store.backend,
        vector_kind=vector_store.kind,
        build_seconds=round(time.perf_counter() - started, 3),
        dense_floor=dense_floor(encoder, vector_store, traditional),
        traditional=traditional,
        embedded=embedded,
        settings=index_settings(settings, terms),
    )
    return store.BuiltIndex(manifest, documents, passages, vector_store, sparse,
                            SentenceVectors.of(vectors[len(passages):], offsets))


def rebuild(
    settings: Settings,
    encoder: Encoder,
    *,
    terms: Terms | None = None,
    documents: list[Document] | None = None,
    show_progress: bool = False,
) -> store.BuiltIndex:
    """Load the corpus, build, and atomically publish a new index version.

    `terms`: the analyser in use, when the user dictionaries are known to be unchanged (loading
    jieba with them takes a second, most of a small incremental change). `documents`: the corpus
    folder's documents when the caller has just loaded them (a document change), so they are not
    read and parsed again."""
    terms = terms or make_terms(settings)
    documents = load_corpus(settings.corpus_dir) if documents is None else documents
    built = build_index(settings, encoder, documents, terms, show_progress=show_progress)
    store.save(settings.index_dir, built)
    return built


def stale_reason(built: store.BuiltIndex, fresh: Freshness) -> str | None:
    m = built.manifest
    if m.corpus_fingerprint != fresh.corpus:
        return "the corpus changed"
    if m.model_fingerprint != fresh.model:
        return "the embedding model changed"
    if m.settings_fingerprint != fresh.settings:
        return "index settings changed"
    return None


def ensure_index(
    settings: Settings,
    encoder: Encoder,
    *,
    documents: list[Document] | None = None,
    show_progress: bool = False,
    must_save: bool = False,
) -> store.BuiltIndex:
    """The stored index if it matches corpus, model and settings; otherwise rebuild it once.

    `documents` replaces the corpus folder (evaluation datasets held in memory).
    A corrupt index is logged and rebuilt; a failing rebuild raises (no retry loop).
    If the new index cannot be written, a server keeps it in memory; with
    `must_save` (the `qa build` command) that is an error.
    """
    terms = make_terms(settings)
    documents = load_corpus(settings.corpus_dir) if documents is None else documents
    fresh = expected_freshness(settings, documents, terms, encoder)
    try:
        built = store.load(settings.index_dir, settings)
        reason = stale_reason(built, fresh)
        if reason is None:
            return built
        log.info("rebuilding the index: %s", reason)
    except FileNotFoundError:
        log.info("no index yet in %s: building it", settings.index_dir)
    except IndexCorruptError as exc:
        log.warning("the stored index is unusable (%s): rebuilding it", exc)
    built = build_index(settings, encoder, documents, terms, show_progress=show_progress)
    try:
        store.save(settings.index_dir, built)
    except IndexWriteError as exc:
        if must_save:
            raise
        # Serving beats refusing to start: the index lives in memory until the disk is fixed.
        log.error("%s; serving the new index from memory without saving it", exc)
    return built
