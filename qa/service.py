"""The question-answering service: one object the API and the CLI both use.

The loaded index lives in an immutable `IndexState`. A request takes the state
once and uses only it, and a reload swaps the reference in one assignment, so
a request never mixes an old index with a new one and reloads drop nothing.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa import collection, indexer, store
from qa.answering import Answerer, ExtractiveAnswerer, MetadataAnswerer, SentenceSimilarity, load_models
from qa.chunking import BODY_SECTION, SECTION_SEP
from qa.collection import Upload
from qa.config import Mode, Settings
from qa.conversation import Resolution, Turn, resolve
from qa.corpus import read_corpus_file
from qa.embedding import Encoder, load_encoder
from qa.errors import CorpusError, IndexCorruptError, NotFoundError
from qa.filters import Filters
from qa.generation import ChatClient, GeneratingAnswerer, Thresholds, Verifier
from qa.retriever import Retriever, SearchResult
from qa.schema import Answer, Document, Passage
from qa.store import BuiltIndex
from qa.text import Terms, in_script

log = logging.getLogger(__name__)
CALIBRATION_FILE = "thresholds.json"


@dataclass(frozen=True)
class IndexState:
    built: BuiltIndex
    retriever: Retriever
    answerer: Answerer
    decider: Answerer  # the extractive answerer: decides whether the passages answer (answerer may wrap it)
    terms: Terms
    passages_by_id: dict[str, Passage]
    documents_by_id: dict[str, Document]


def corpus_thresholds(corpus_dir: Path) -> dict[str, float]:
    """Abstention thresholds calibrated for this corpus on its own labelled questions (eval/calibrate_corpus.py).

    Confidence is fitted on encyclopaedia articles; on a corpus of a different kind (one letter whose
    passages all share its topic) its scale shifts, and a corpus-specific threshold restores the balance.
    """
    path = corpus_dir / CALIBRATION_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(read_corpus_file(path))
        return {str(mode): float(t) for mode, t in data["thresholds"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CorpusError(path, f"is not a threshold calibration: {exc}", root=corpus_dir) from exc


def sentence_similarity(retriever: Retriever, built: BuiltIndex) -> SentenceSimilarity:
    """The question's similarity to each sentence of each passage: the question's vector is the one its
    search made (`SearchResult.vector`; a BM25 search makes none, so a bm25-mode answer embeds its question,
    about 8 ms, bench.md), the sentences' come from the index."""

    def similarity(question: str, vector: np.ndarray | None, passages: Sequence[Passage]) -> list[np.ndarray]:
        if vector is None:
            vector = retriever.embed_query(question)
        return [built.sentences.similarities(vector, retriever.position[p.id]) for p in passages]

    return similarity


def make_answerer(settings: Settings, terms: Terms, built: BuiltIndex, retriever: Retriever) -> Answerer:
    """The answer layer: the extractive answerer, behind the metadata answerer."""
    models = load_models(settings.answer_models)
    if not settings.short_answer_ranker:
        models = dataclasses.replace(models, span=None)
    thresholds = {**models.thresholds, **corpus_thresholds(settings.corpus_dir),
                  **{str(mode): t for mode, t in settings.abstain_thresholds.items()}}
    extractive = ExtractiveAnswerer(
        terms, built.sparse, built.manifest.dense_floor, sentence_similarity(retriever, built), models, thresholds,
        max_sentences=settings.answer_max_sentences, n_passages=settings.answer_passages, abstain=settings.abstain,
    )
    return MetadataAnswerer({d.doc_id: d for d in built.documents}, extractive)


def make_verifier(settings: Settings, encoder: Encoder, terms: Terms, built: BuiltIndex,
                  position: dict[str, int]) -> Verifier:
    """Checks generated sentences with this index's term statistics and the service's embedder (reading them in
    the corpus's script, as questions are)."""

    def similarity(sentence: str, positions: list[int]) -> np.ndarray:
        vector = encoder.encode_queries([in_script(sentence, built.manifest.traditional)])[0]
        return built.dense.scores_for(vector, np.array(positions, dtype=np.int64))

    return Verifier(terms, built.sparse, similarity, position, Thresholds(
        settings.verify_coverage, settings.verify_coverage_with_similarity, settings.verify_similarity))


def make_generator(settings: Settings, client: ChatClient, decider: Answerer, retriever: Retriever,
                   encoder: Encoder, terms: Terms, built: BuiltIndex, documents: dict[str, Document]) -> Answerer:
    """The LLM answerer over `decider`, verifying against this index."""
    verifier = make_verifier(settings, encoder, terms, built, retriever.position)
    return GeneratingAnswerer(decider, client, verifier, documents, settings.llm_passages)


def load_published(settings: Settings) -> BuiltIndex:
    """The version `index/CURRENT` names, as it is: no freshness check against the corpus (whoever
    published it built it from the corpus). Raises FileNotFoundError or IndexCorruptError."""
    return store.load(settings.index_dir, settings)


def published_version(index_dir: Path) -> str | None:
    """The name in `index/CURRENT` (None: nothing published, or a pointer this process cannot read)."""
    try:
        version_dir = store.current_version(index_dir)
    except IndexCorruptError:
        return None
    return version_dir.name if version_dir else None


@dataclass
class Retrieved:
    """A question's passages, before its answer: what /ask/stream sends first."""

    state: IndexState
    search: SearchResult
    resolution: Resolution
    mode: Mode

    @property
    def index_version(self) -> str:
        return self.state.built.manifest.version


@dataclass
class AskResult:
    search: SearchResult
    answer: Answer
    index_version: str
    resolved_question: str
    documents: dict[str, Document]  # of the index that answered (citations are resolved against it)


class QAService:
    def __init__(self, settings: Settings, encoder: Encoder, built: BuiltIndex, terms: Terms | None = None) -> None:
        self.settings = settings
        self.encoder = encoder
        # One LLM client for the life of the service: its circuit breaker must outlive index reloads.
        self.llm = ChatClient(settings) if settings.uses_llm else None
        self._reload_lock = threading.Lock()
        self.state = self._make_state(built, terms)
        # The published version this process has caught up with (see `follow`). An index kept in memory
        # because the disk refused it was never published: then only a later publication is followed.
        saved = (settings.index_dir / built.manifest.version).is_dir()
        self._followed = built.manifest.version if saved else published_version(settings.index_dir)

    @classmethod
    def start(
        cls,
        settings: Settings,
        *,
        encoder: Encoder | None = None,
        documents: list[Document] | None = None,
        show_progress: bool = False,
    ) -> QAService:
        """Load the model, then the index (rebuilding it if stale or corrupt)."""
        encoder = encoder or load_encoder(settings)
        built = indexer.ensure_index(settings, encoder, documents=documents, show_progress=show_progress)
        return cls(settings, encoder, built)

    @classmethod
    def attach(cls, settings: Settings, *, encoder: Encoder | None = None) -> QAService:
        """Load the model and the published index without checking it against the corpus: a worker of
        `qa serve --workers N`, whose parent made the index current once for all workers. Falls back
        to `start` (check, rebuild if needed) when nothing loadable is published."""
        encoder = encoder or load_encoder(settings)
        try:
            built = load_published(settings)
        except (FileNotFoundError, IndexCorruptError) as exc:
            log.warning("no loadable published index (%s): checking the corpus and rebuilding", exc)
            built = indexer.ensure_index(settings, encoder)
        return cls(settings, encoder, built)

    def with_settings(self, **query_time: object) -> QAService:
        """The same index and model with different query-time settings (fusion, weights, threshold)."""
        settings = self.settings.updated(**query_time)
        return QAService(settings, self.encoder, self.state.built, terms=self.state.terms)

    def _answerers(self, built: BuiltIndex, terms: Terms, retriever: Retriever,
                   documents: dict[str, Document]) -> tuple[Answerer, Answerer]:
        decider = make_answerer(self.settings, terms, built, retriever)
        if self.llm is None:
            return decider, decider
        generator = make_generator(self.settings, self.llm, decider, retriever, self.encoder, terms, built, documents)
        return generator, decider

    def _make_state(self, built: BuiltIndex, terms: Terms | None = None) -> IndexState:
        terms = terms or indexer.make_terms(self.settings)
        retriever = Retriever(built, self.encoder, terms, self.settings)
        documents = {d.doc_id: d for d in built.documents}
        answerer, decider = self._answerers(built, terms, retriever, documents)
        return IndexState(
            built=built,
            retriever=retriever,
            answerer=answerer,
            decider=decider,
            terms=terms,
            passages_by_id={p.id: p for p in built.passages},
            documents_by_id=documents,
        )

    def reindex(self) -> BuiltIndex:
        """Rebuild from the corpus and switch to the new index without dropping requests."""
        with self._reload_lock:
            started = time.perf_counter()
            built = indexer.rebuild(self.settings, self.encoder)
            self.state = self._make_state(built)
            log.info("reindexed in %.1f s: %d passages", time.perf_counter() - started, len(built.passages))
            return built

    def follow(self) -> bool:
        """Switch to the version `index/CURRENT` names if another process published it since.
        Returns whether the served index changed.

        Cheap when nothing changed (one small file read), so servers call it every second or so.
        A version that fails to load is logged once and the current one keeps serving. Skipped while
        this process rebuilds: it publishes and swaps in that version itself (no second load).
        """
        published = published_version(self.settings.index_dir)
        if published is None or published == self._followed:
            return False
        if not self._reload_lock.acquire(blocking=False):
            return False  # a reindex or document change runs here; check again on the next call
        try:
            if published == self.state.built.manifest.version:  # this process published it
                self._followed = published
                return False
            started = time.perf_counter()
            try:
                built = load_published(self.settings)
                # Document changes keep the user dictionaries: reuse the loaded analyser unless the new version
                # was built with other ones (the fingerprint is of the dictionaries as this analyser loaded them).
                same_terms = built.manifest.settings.get("terms") == self.state.terms.fingerprint()
                state = self._make_state(built, self.state.terms if same_terms else None)
            except Exception as exc:  # any failure, also a version deleted mid-read by a newer build's clean-up
                serving = self.state.built.manifest.version
                log.error("cannot load index %s named by CURRENT, still serving %s: %s", published, serving, exc)
                self._followed = published
                return False
            self.state = state
            self._followed = built.manifest.version
            took = time.perf_counter() - started
            log.info("process %d now serves index %s, published elsewhere (%.2f s)", os.getpid(), self._followed, took)
            return True
        finally:
            self._reload_lock.release()

    def change_documents(
        self,
        add: Sequence[Upload] = (),
        replace: Mapping[str, Upload] | None = None,
        remove: Sequence[str] = (),
    ) -> tuple[BuiltIndex, list[str]]:
        """Add, replace and remove documents in the corpus folder, rebuild, and switch.
        Returns the new index and the ids of the documents changed.

        All or nothing: a rejected file, an unknown id or a failed build leaves the corpus folder and
        the served index as they were. Only new passages and sentences are embedded (qa.embedding.cache).
        """
        with self._reload_lock, collection.locked(self.settings.corpus_dir):
            with collection.CorpusChange(self.settings.corpus_dir, self.settings.originals_dir) as change:
                changed = list(dict.fromkeys(remove))
                for doc_id in changed:
                    change.remove(doc_id)
                changed += [change.replace(doc_id, upload).doc_id for doc_id, upload in (replace or {}).items()]
                changed += [change.add(upload).doc_id for upload in add]
                change.apply()
                # Document changes leave the user dictionaries alone: keep the loaded analyser.
                built = indexer.rebuild(self.settings, self.encoder, terms=self.state.terms, documents=change.corpus())
            change.keep_originals()
            self.state = self._make_state(built, self.state.terms)
            log.info("documents changed: +%d ~%d -%d; index %s embedded %d new passages and sentences",
                     len(add), len(replace or {}), len(remove), built.manifest.version, built.manifest.embedded)
            return built, changed

    def search(self, query: str, k: int, mode: Mode | None = None, filters: Filters | None = None) -> SearchResult:
        return self.state.retriever.search(query, k, mode or self.settings.default_mode, filters)

    def retrieve(self, question: str, k: int, mode: Mode | None = None, filters: Filters | None = None,
                 history: Sequence[Turn] = ()) -> Retrieved:
        """Resolve a follow-up against the conversation (qa.conversation), then retrieve.

        On weak evidence of dependence ("这封信是写给谁的" has a demonstrative but stands on its own)
        the question is tried alone first. The rewrite is used only if it is answered, and either the
        question alone is not, or the question names nothing specific and the rewrite is answered more
        confidently.
        """
        state = self.state
        mode = mode or self.settings.default_mode
        resolution = resolve(question, history, state.terms)
        result = state.retriever.search(resolution.question, k, mode, filters, resolution.prior)
        if resolution.strength == "weak":
            alone = state.decider(question, result.hits, mode, result.vector)
            rewritten = resolve(question, history, state.terms, weak=True)
            if rewritten.rewritten and (resolution.generic or not alone.answerable):
                candidate = state.retriever.search(rewritten.question, k, mode, filters, rewritten.prior)
                resolved = state.decider(rewritten.question, candidate.hits, mode, candidate.vector)
                # On weak evidence the rewrite must earn its place: its passages must answer it, and a
                # question that names something specific keeps its own answer when it has one.
                if resolved.answerable and (not alone.answerable or resolved.confidence > alone.confidence):
                    resolution, result = rewritten, candidate
        return Retrieved(state, result, resolution, mode)

    def answer_stream(self, retrieved: Retrieved) -> Iterator[str | AskResult]:
        """The answer to retrieved passages: text pieces while an LLM writes, then the AskResult."""
        started = time.perf_counter()
        search = retrieved.search
        for item in retrieved.state.answerer.stream(retrieved.resolution.question, search.hits, retrieved.mode,
                                                    search.vector):
            if isinstance(item, str):
                yield item
                continue
            retrieved.search.timings["answer"] = round((time.perf_counter() - started) * 1000, 3)
            yield AskResult(retrieved.search, item, retrieved.index_version, retrieved.resolution.question,
                            retrieved.state.documents_by_id)

    def ask(self, question: str, k: int, mode: Mode | None = None, filters: Filters | None = None,
            history: Sequence[Turn] = ()) -> AskResult:
        retrieved = self.retrieve(question, k, mode, filters, history)
        result = None
        for item in self.answer_stream(retrieved):
            if isinstance(item, AskResult):
                result = item
        assert result is not None  # answer_stream always ends with the result
        return result

    def answer_threshold(self, mode: Mode) -> float:
        """The confidence below which the service declines in `mode` (fitted, or overridden in settings)."""
        return self.state.answerer.threshold(mode)

    def passage(self, passage_id: str) -> Passage:
        try:
            return self.state.passages_by_id[passage_id]
        except KeyError:
            raise NotFoundError(f"no passage with id {passage_id!r}") from None

    def document(self, doc_id: str) -> Document:
        try:
            return self.state.documents_by_id[doc_id]
        except KeyError:
            raise NotFoundError(f"no document with id {doc_id!r}") from None

    def documents(self) -> list[Document]:
        return self.state.built.documents

    def suggestions(self, n: int) -> list[str]:
        """Example questions: from document metadata first, then from section headings."""
        found = [q for doc in self.state.built.documents for q in doc.questions]
        for p in self.state.built.passages:
            if p.kind == "body" and p.section != BODY_SECTION:
                heading = re.sub(r"^[（(]?[一二三四五六七八九十\d]+[）)、.．]?", "", p.section.split(SECTION_SEP)[-1])
                found.append(re.split(r"[，,。；]", heading)[0])
        return list(dict.fromkeys(q for q in found if q))[:n]
