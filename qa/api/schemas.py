"""The HTTP API's public contract: request and response models with Chinese examples."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from qa.conversation import Turn
from qa.filters import Filters
from qa.schema import AnswerSpan, Document, Hit, Passage, SentenceCheck, ShortAnswer, StageScore

MAX_QUESTION_CHARS = 512
MAX_TOP_K = 50
MAX_FILTER_IDS = 100
MAX_HISTORY_TURNS = 10
MAX_TURN_PASSAGES = 20
# Documents in the schema what clean_question enforces (with friendlier messages):
# no control characters other than tab/newline, and not only whitespace.
QUESTION_PATTERN = r"^(?=[\s\S]*\S)[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+$"
ModeField = Literal["dense", "bm25", "hybrid"]


def clean_question(value: str) -> str:
    """Shared validation for /ask and /search: strip, reject blank and control characters."""
    stripped = value.strip()
    if not stripped:
        raise ValueError("must not be empty or only whitespace")
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in stripped) or "\x7f" in stripped:
        raise ValueError("must not contain control characters")
    return stripped


DocIdFilter = Annotated[str, Field(min_length=1, max_length=128)]
QuestionText = Annotated[str, Field(min_length=1, max_length=MAX_QUESTION_CHARS, examples=["5G覆盖哪些区域"],
                                    json_schema_extra={"pattern": QUESTION_PATTERN}), AfterValidator(clean_question)]


class FiltersIn(BaseModel):
    """Restricts retrieval to some documents; all given conditions must hold."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"issuer": "上海市经济和信息化委员会", "date_from": "2019-01-01", "date_to": "2019-12-31"}]})

    doc_ids: list[DocIdFilter] = Field(
        default_factory=list, max_length=MAX_FILTER_IDS, description="只在这些文档中检索", examples=[["sheitc-2019-15"]])
    doc_number: str | None = Field(None, max_length=64, description="文号（忽略空格）", examples=["沪经信建〔2019〕15号"])
    issuer: str | None = Field(None, min_length=1, max_length=64, description="发文单位名称中的一段")
    date_from: dt.date | None = Field(None, description="发文日期不早于（含）")
    date_to: dt.date | None = Field(None, description="发文日期不晚于（含）")

    @model_validator(mode="after")
    def _range(self) -> FiltersIn:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from must not be after date_to")
        return self

    def to_filters(self) -> Filters:
        return Filters(tuple(self.doc_ids), self.doc_number, self.issuer, self.date_from, self.date_to)


class TurnIn(BaseModel):
    """One earlier turn of the conversation: its question and the passages its answer cited."""

    model_config = ConfigDict(extra="forbid")

    question: QuestionText
    passage_ids: list[Annotated[str, Field(min_length=1, max_length=300)]] = Field(
        default_factory=list, max_length=MAX_TURN_PASSAGES,
        description="该轮答案引用的段落 id（answer_citations[].passage_id）；未知的 id 被忽略")
    resolved_question: QuestionText | None = Field(
        None, description="该轮响应中的 resolved_question（可选）：使连续追问沿用服务端当时的改写")

    def to_turn(self) -> Turn:
        return Turn(self.question, tuple(self.passage_ids), self.resolved_question)


class AskRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"question": "5G覆盖哪些区域", "top_k": 5, "mode": "hybrid"},
                {"question": "4G用户占全市移动电话的比例是多少"},
                {"question": "那4G呢？",
                 "history": [{"question": "5G覆盖哪些区域", "passage_ids": ["sheitc-2019-15-p7-5"]}]},
            ]
        },
    )

    question: QuestionText = Field(..., description="问题（中文或中英混合）")
    top_k: int = Field(5, ge=1, le=MAX_TOP_K, description="返回的段落数")
    mode: ModeField = Field("hybrid", description="检索方式：dense（向量）、bm25（关键词）或 hybrid（融合）")
    filters: FiltersIn | None = Field(None, description="只在符合条件的文档中检索（文档 id、文号、发文单位、日期范围）")
    history: list[TurnIn] = Field(
        default_factory=list, max_length=MAX_HISTORY_TURNS,
        description="此前的对话轮次（从早到晚，最多 10 轮）：用于理解“那4G呢？”“它是哪年建的？”这类追问")


class StageScoreOut(BaseModel):
    score: float
    rank: int

    @classmethod
    def of(cls, stage: StageScore | None) -> StageScoreOut | None:
        return None if stage is None else cls(score=round(stage.score, 6), rank=stage.rank)


class Scores(BaseModel):
    dense: StageScoreOut | None = Field(None, description="向量检索得分（余弦）及名次；未参与时为 null")
    bm25: StageScoreOut | None = Field(None, description="BM25 得分及名次；未命中任何词时为 null")
    fused: StageScoreOut | None = Field(None, description="最终排序所用得分及名次")
    exact: float = Field(0.0, description="问题中的数字、文号、引号短语在段落中原样出现的比例")


class Citation(BaseModel):
    doc_id: str
    title: str
    doc_number: str | None
    section: str = Field(
        ...,
        description="章节路径",
        examples=["一、本市智慧城市建设主要工作进展情况 > 1.信息基础设施能级不断提升，服务能力显著增强"],
    )
    paragraph: int = Field(..., description="原文第几段（非空行计数，从 1 开始）")
    start: int = Field(..., description="段落在原文中的起始字符位置；text[start:end] 即段落原文")
    end: int
    page: int | None = Field(None, description="段落起始处在源文件中的页码（PDF）；无分页的格式为 null")

    @classmethod
    def of(cls, p: Passage, doc: Document) -> Citation:
        return cls(doc_id=doc.doc_id, title=doc.title, doc_number=doc.doc_number, section=p.section,
                   paragraph=p.paragraph, start=p.start, end=p.end, page=p.page)


class PassageOut(BaseModel):
    id: str
    text: str
    score: float
    rank: int
    citation: Citation
    scores: Scores

    @classmethod
    def of(cls, hit: Hit, doc: Document) -> PassageOut:
        p = hit.passage
        return cls(
            id=p.id,
            text=p.text,
            score=round(hit.score, 6),
            rank=hit.rank,
            citation=Citation.of(p, doc),
            scores=Scores(
                dense=StageScoreOut.of(hit.dense), bm25=StageScoreOut.of(hit.bm25),
                fused=StageScoreOut.of(hit.fused), exact=round(hit.exact, 4),
            ),
        )


class AnswerCitation(BaseModel):
    marker: int = Field(..., description="答案中的 [n] 标记；n 为 passages 中的 rank")
    passage_id: str
    doc_id: str
    start: int = Field(..., description="所引句子在原文中的起始字符位置（大模型答案：支持该句的原文句子）")
    end: int
    text: str = Field(..., description="原文[start:end]")

    @classmethod
    def of(cls, span: AnswerSpan) -> AnswerCitation:
        return cls(marker=span.marker, passage_id=span.passage_id, doc_id=span.doc_id,
                   start=span.start, end=span.end, text=span.text)


class ShortAnswerOut(BaseModel):
    text: str = Field(
        ...,
        description="最短的答案片段（原文逐字）",
        examples=["虹桥商务区、虹口北外滩、徐汇滨江、中山公园商圈、嘉定汽车城等"],
    )
    doc_id: str
    start: int = Field(..., description="片段在原文中的起始字符位置；text == 原文[start:end]")
    end: int

    @classmethod
    def of(cls, short: ShortAnswer | None) -> ShortAnswerOut | None:
        return None if short is None else cls(text=short.text, doc_id=short.doc_id, start=short.start, end=short.end)


class SentenceCheckOut(BaseModel):
    text: str = Field(..., description="生成的句子（含 [n] 标记）")
    markers: list[int] = Field(..., description="句中引用的资料编号")
    status: Literal["supported", "uncited", "bad_citation", "unsupported"] = Field(
        ..., description="supported：所引段落支持；uncited：未标注引用；bad_citation：引用了不存在的编号；"
                         "unsupported：所引段落不支持（如数字不符）。只有 supported 的句子留在答案中")
    coverage: float | None = Field(None, description="句中词语（按 IDF 加权）在所引段落中出现的比例")
    similarity: float | None = Field(None, description="句子与所引段落的向量余弦")
    note: str | None = None

    @classmethod
    def of(cls, check: SentenceCheck) -> SentenceCheckOut:
        return cls(text=check.text, markers=check.markers, status=check.status,
                   coverage=check.coverage, similarity=check.similarity, note=check.note)


class SearchResponse(BaseModel):
    query: str
    index_version: str = Field(..., description="所用索引版本；重建索引后改变")
    passages: list[PassageOut]
    timings: dict[str, float] = Field(..., description="各阶段耗时（毫秒）")
    took_ms: float


class StreamToken(BaseModel):
    """A piece of the answer as the LLM writes it (/ask/stream `token` events)."""

    text: str


class StreamPassages(BaseModel):
    """The first event of /ask/stream: the passages, before any answer."""

    question: str
    resolved_question: str
    index_version: str
    passages: list[PassageOut]
    took_ms: float


class AskResponse(BaseModel):
    question: str
    resolved_question: str = Field(
        ..., description="实际用于检索的问题：追问结合对话历史改写后的形式；独立的问题与 question 相同",
        examples=["4G覆盖哪些区域"])
    answer: str = Field(..., examples=["……覆盖虹桥商务区、虹口北外滩、徐汇滨江、中山公园商圈、嘉定汽车城等在内的区域……[1]"])
    short_answer: ShortAnswerOut | None = Field(
        None, description="简短答案（数字及单位、日期、名称、列举或分句），不作答时为 null（QA_ABSTAIN=false 时照常给出）"
    )
    answerable: bool
    confidence: float = Field(..., description="答案依据强度（0–1）；低于阈值时不作答（answerable 为 false）")
    reason: str | None = Field(None, description="不作答时的原因")
    index_version: str = Field(..., description="所用索引版本；重建索引后改变")
    passages: list[PassageOut]
    answer_citations: list[AnswerCitation]
    generator: Literal["extractive", "llm"] = Field(
        "extractive", description="extractive：原文摘录；llm：大模型生成且逐句通过引用核对")
    generator_note: str | None = Field(None, description="配置了大模型却未采用其答案的原因（超时、出错、未通过核对等）")
    verification: list[SentenceCheckOut] = Field(
        default_factory=list, description="大模型答案逐句核对结果（未配置大模型时为空）")
    timings: dict[str, float]
    took_ms: float


class DocumentMeta(BaseModel):
    doc_id: str
    title: str
    doc_number: str | None
    issuer: str | None
    recipient: str | None
    date: str | None
    source: str | None
    pages: int | None = Field(None, description="源文件页数（PDF）；无分页的格式为 null")

    @classmethod
    def of(cls, doc: Document) -> DocumentMeta:
        return cls(**doc.metadata(), pages=len(doc.page_starts) or None)


class DocumentOut(DocumentMeta):
    text: str = Field(..., description="原文全文（逐字），引用位置以此为准")


class PassageDetail(BaseModel):
    id: str
    text: str
    citation: Citation


class Health(BaseModel):
    status: Literal["ok"]
    documents: int
    passages: int
    model: str
    inference: str = Field(..., description="查询向量的推理后端（onnx / onnx-int8 / torch）")
    backend: str = Field(..., description="向量存储：faiss（进程内）或 milvus", examples=["faiss"])
    vector_index: str = Field(..., description="向量索引结构：flat（精确）、hnsw 等", examples=["flat"])
    llm: Literal["off", "closed", "open", "half-open"] = Field(
        "off", description="大模型：off（未配置）；closed（正常调用）；open（连续失败后暂停调用）；half-open（试探调用）")
    index_version: str
    index_built_at: str


class Ready(BaseModel):
    ready: bool
    index_version: str
    checks: dict[str, bool] = Field(..., description="各项一致性检查")


class ReindexResult(BaseModel):
    index_version: str
    documents: int
    passages: int
    took_ms: float


class DocumentChange(BaseModel):
    index_version: str = Field(..., description="变更后的索引版本（已生效）")
    doc_ids: list[str] = Field(..., description="新增、替换或删除的文档 id", examples=[["sheitc-2019-15"]])
    documents: int = Field(..., description="变更后的文档数")
    passages: int = Field(..., description="变更后的段落数")
    embedded: int = Field(..., description="本次新计算向量的段落和句子数（其余来自向量缓存）")
    took_ms: float


class ErrorDetail(BaseModel):
    field: str | None = Field(None, examples=["question"])
    reason: str = Field(..., examples=["must not be empty or only whitespace"])


class ErrorResponse(BaseModel):
    error: str = Field(..., examples=["invalid_request"])
    message: str
    details: list[ErrorDetail] = []
    request_id: str | None = None
