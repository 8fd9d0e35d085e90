"""Evaluation datasets in one BEIR-like shape, plus the CMRC 2018 adapter.

A dataset directory holds:

    dataset.json    {"name", "description", "corpus": "corpus.jsonl" | {"dir": "<corpus folder>"}}
    queries.jsonl   {"_id", "text", "answerable": bool, "answers": [str], "tags": [str],
                     "split": "dev" | "test", "evidence": [{"doc_id", "text", "grade"}]}
    qrels.tsv       query-id <TAB> doc-id <TAB> grade                 (optional, document level)

Relevance comes from `qrels.tsv` (document level, as in BEIR) and/or from
`evidence` substrings (span level: a passage is relevant when it overlaps the
evidence, so labels survive any change of chunking).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from qa.corpus import load_corpus
from qa.errors import CorpusError
from qa.schema import Document


@dataclass(frozen=True)
class Evidence:
    doc_id: str
    start: int
    end: int
    grade: int = 2


@dataclass(frozen=True)
class Query:
    id: str
    text: str
    answerable: bool = True
    answers: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    tags: tuple[str, ...] = ()
    split: str = ""  # "dev" (tuning and calibration) or "test" (held out)


@dataclass
class Dataset:
    name: str
    documents: list[Document]
    queries: list[Query]
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)  # query -> doc -> grade
    index_name: str = ""  # names the cached index; datasets over the same documents share one
    corpus_dir: Path | None = None  # the corpus folder the documents come from, if any

    @property
    def corpus_name(self) -> str:
        return self.index_name or self.name

    @property
    def level(self) -> str:
        return "span" if any(q.evidence for q in self.queries) else "doc"


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError as exc:
                    raise CorpusError(path, f"line {n} is not valid JSON: {exc}") from exc
    return rows


def _resolve_evidence(qid: str, raw: dict, docs: dict[str, Document], path: Path) -> Evidence:
    doc = docs.get(raw["doc_id"])
    if doc is None:
        raise CorpusError(path, f"query {qid}: unknown doc_id {raw['doc_id']!r}")
    start = doc.text.find(raw["text"])
    if start < 0 or not raw["text"]:
        raise CorpusError(path, f"query {qid}: evidence {raw['text'][:30]!r} is not in {doc.doc_id}")
    return Evidence(doc.doc_id, start, start + len(raw["text"]), int(raw.get("grade", 2)))


def load_dataset(directory: Path, corpus_dir: Path | None = None) -> Dataset:
    """Load a dataset directory in the format described above; `corpus_dir` replaces the folder it names
    (tests read a frozen copy of the letter, never the user-editable corpus/)."""
    spec = json.loads((directory / "dataset.json").read_text(encoding="utf-8"))
    corpus = spec["corpus"]
    if isinstance(corpus, dict):
        corpus_dir = corpus_dir or (directory / corpus["dir"]).resolve()
    if corpus_dir is not None:
        documents = load_corpus(corpus_dir)
    else:
        documents = [
            Document(doc_id=str(row["_id"]), title=row.get("title") or str(row["_id"]), text=row["text"])
            for row in _read_jsonl(directory / corpus)
        ]
    by_id = {d.doc_id: d for d in documents}
    queries_path = directory / "queries.jsonl"
    queries = [
        Query(
            id=str(row["_id"]),
            text=row["text"],
            answerable=bool(row.get("answerable", True)),
            answers=tuple(row.get("answers", ())),
            evidence=tuple(_resolve_evidence(str(row["_id"]), e, by_id, queries_path)
                           for e in row.get("evidence", ())),
            tags=tuple(row.get("tags", ())),
            split=str(row.get("split", "")),
        )
        for row in _read_jsonl(queries_path)
    ]
    qrels: dict[str, dict[str, int]] = {}
    qrels_path = directory / "qrels.tsv"
    if qrels_path.exists():
        for line in qrels_path.read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) == 3 and parts[2].strip().lstrip("-").isdigit():
                qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return Dataset(spec.get("name", directory.name), documents, queries, qrels, corpus_dir=corpus_dir)


INDEXED_BIT = 0  # article_half(title, INDEXED_BIT) == 0: searchable in the open-domain set-up
TUNE_BIT = 1  # article_half(title, TUNE_BIT): 0 = "dev" (fitting, calibration), 1 = "test" (held out)


def article_half(title: str, bit: int) -> int:
    """A stable pseudo-random half of the articles; different bits give independent splits."""
    return int(hashlib.sha1(title.encode("utf-8")).hexdigest(), 16) >> bit & 1


def load_cmrc(path: Path) -> Dataset:
    """CMRC 2018 dev as a retrieval task: every context is a document, its questions' gold.

    Questions are split by article: `dev` (the tuning half) and `test` (held out).
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    documents, queries, qrels = [], [], {}
    for article in data["data"]:
        for para in article["paragraphs"]:
            doc_id = para["id"]
            documents.append(Document(doc_id=doc_id, title=article.get("title") or doc_id, text=para["context"]))
            for qa in para["qas"]:
                answers = tuple(dict.fromkeys(a["text"] for a in qa["answers"]))
                split = "test" if article_half(article.get("title") or doc_id, TUNE_BIT) else "dev"
                queries.append(Query(id=qa["id"], text=qa["question"], answers=answers, split=split))
                qrels[qa["id"]] = {doc_id: 1}
    return Dataset("cmrc2018-dev", documents, queries, qrels)
