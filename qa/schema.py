"""Typed contracts between the pipeline stages: corpus → chunker → indexes → fusion → answer.

Plain frozen dataclasses: cheap to create in hot paths and easy to serialise.
The HTTP API's pydantic models (qa.api.schemas) mirror them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Document:
    doc_id: str
    title: str
    text: str  # verbatim; every citation offset indexes into this string
    doc_number: str | None = None
    issuer: str | None = None
    recipient: str | None = None
    date: str | None = None
    source: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    questions: list[str] = field(default_factory=list)  # suggested example questions (metadata)
    # Structure the source format marked up (qa.formats.Extracted): [offset of a heading line, level 1-6],
    # and the offset where each page begins (PDF), so passages can cite their page.
    headings: list[list[int]] = field(default_factory=list)
    page_starts: list[int] = field(default_factory=list)
    source_file: str = ""  # the file's name in the corpus folder (what `qa remove` and DELETE take away)

    def metadata(self) -> dict[str, str | None]:
        return {
            "doc_id": self.doc_id,
            "title": self.title,
            "doc_number": self.doc_number,
            "issuer": self.issuer,
            "recipient": self.recipient,
            "date": self.date,
            "source": self.source,
        }


@dataclass(frozen=True)
class Passage:
    """A span of one document: `document.text[start:end] == text`."""

    id: str
    doc_id: str
    text: str
    start: int
    end: int
    section: str  # e.g. "一、本市智慧城市建设主要工作进展情况 > 1.信息基础设施能级不断提升…"
    paragraph: int  # 1-based number of the document paragraph (non-empty line) it starts in
    kind: str = "body"  # header | body | signoff
    # What situates the passage: its section path, and for the header and sign-off
    # blocks also the document's title (they are where a title's words are asked about).
    context: str = ""
    page: int | None = None  # 1-based page of the source file the passage starts on (paged formats only)

    def indexed_text(self, with_heading: bool) -> str:
        """The text a retriever sees; the context is optionally prepended."""
        if with_heading and self.context:
            return f"{self.context}\n{self.text}"
        return self.text


@dataclass(frozen=True)
class StageScore:
    score: float
    rank: int  # 1-based, within this stage's candidate list


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float  # the score the final ranking used
    rank: int
    dense: StageScore | None = None
    bm25: StageScore | None = None
    fused: StageScore | None = None
    exact: float = 0.0  # share of the query's exact anchors found verbatim in the passage


@dataclass(frozen=True)
class AnswerSpan:
    marker: int  # the [n] in the answer text; n is the passage's rank in the hit list
    passage_id: str
    doc_id: str
    start: int  # document offsets of the quoted sentence
    end: int
    text: str


@dataclass(frozen=True)
class ShortAnswer:
    """The shortest span that answers (a figure with its unit, a date, a name, a list, a clause)."""

    text: str
    doc_id: str
    start: int  # document offsets: document.text[start:end] == text
    end: int


@dataclass(frozen=True)
class SentenceCheck:
    """The verdict on one sentence of a generated answer (qa.generation.verify)."""

    text: str  # as generated, markers included
    markers: list[int]
    status: str  # supported | uncited | bad_citation | unsupported
    coverage: float | None = None  # IDF-weighted share of its words found in the cited passages
    similarity: float | None = None  # embedder cosine to the closest cited passage
    note: str | None = None  # why it was not kept
    # Where a supported sentence is supported: (marker, document start, document end) of the sentence(s)
    # of the cited passage that hold its words, which the answer cites.
    source: tuple[int, int, int] | None = None


@dataclass(frozen=True)
class Answer:
    text: str
    answerable: bool
    confidence: float
    spans: list[AnswerSpan]
    reason: str | None = None
    short: ShortAnswer | None = None
    # The decision model's inputs (qa.answering.decision.DECISION_FEATURES), kept for evaluation and fitting.
    evidence: list[float] = field(default_factory=list)
    generator: str = "extractive"  # extractive | llm
    generator_note: str | None = None  # why a configured LLM's answer was not used
    checks: list[SentenceCheck] = field(default_factory=list)  # verdicts on the generated sentences
