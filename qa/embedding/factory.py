"""Choose and load the encoder the settings ask for."""

from __future__ import annotations

import logging
from pathlib import Path

from qa.config import Settings
from qa.embedding.base import Encoder
from qa.embedding.batcher import MicroBatchingEncoder
from qa.errors import ModelError
from qa.model.build import model_dir, read_build_info
from qa.model.verification import is_verified

log = logging.getLogger(__name__)


def resolve_model_path(settings: Settings) -> str:
    """Local directory (converted model) or the sentence-transformers id/path from the settings."""
    if not settings.uses_converted_model:
        return settings.embedding_model
    path = model_dir(settings.model_cache_dir)
    if read_build_info(path) is None:
        raise ModelError(
            f"the embedding model is not built at {path}: run `qa model build` (or `make install`)"
        )
    return str(path)


def model_fingerprint(settings: Settings) -> str:
    """Identifies the embeddings an index was built with: changing it forces a rebuild."""
    if settings.uses_converted_model:
        info = read_build_info(model_dir(settings.model_cache_dir))
        if info is None:
            raise ModelError("the embedding model is not built: run `qa model build`")
        source = f"{info.name}@{info.source_sha256[:12]}/v{info.converter_version}"
    else:
        source = settings.embedding_model
    return f"{source}|{settings.query_prompt}|{settings.passage_prompt}"


def _fast_path(path: Path, settings: Settings) -> tuple[str, Path] | None:
    """The onnxruntime export to use: the fastest verified one for `auto`, else the one asked for."""
    info = read_build_info(path)
    if info is None:
        return None
    wanted = ["onnx-int8", "onnx"] if settings.inference == "auto" else [settings.inference]
    for name in wanted:
        entry = info.fast_paths.get(name)
        if entry is None or not (path / entry["file"]).is_file():
            continue
        if is_verified(info, name):
            return name, path / entry["file"]
        if settings.inference != "auto":
            log.warning("%s is not verified against the canonical model (min cosine %.4f); using it as asked",
                        name, entry["cosine_min"])
            return name, path / entry["file"]
    return None


def load_encoder(settings: Settings) -> Encoder:
    """The fastest verified path for the configured model (falling back to torch), with
    concurrent single-query calls micro-batched unless disabled."""
    encoder = _load_backend(settings)
    return MicroBatchingEncoder(encoder) if settings.micro_batching else encoder


def _load_backend(settings: Settings) -> Encoder:
    name = resolve_model_path(settings)
    model_id = settings.embedding_model
    if settings.inference != "torch" and Path(name).is_dir():
        fast = _fast_path(Path(name), settings)
        if fast is not None:
            from qa.embedding.onnx import OnnxEncoder

            backend, onnx_file = fast
            try:
                encoder = OnnxEncoder(
                    Path(name), onnx_file,
                    query_prompt=settings.query_prompt, passage_prompt=settings.passage_prompt,
                    model_id=model_id, threads=settings.threads, batch_size=settings.embed_batch_size,
                )
                encoder.backend = backend
                return encoder
            except Exception as exc:  # a broken export must not take the service down
                log.warning("cannot load %s (%s); falling back to sentence-transformers", onnx_file, exc)
        elif settings.inference != "auto":
            log.warning("inference path %r is not available for %s; using torch", settings.inference, name)
    from qa.embedding.st import SentenceTransformerEncoder

    try:
        return SentenceTransformerEncoder(
            name, query_prompt=settings.query_prompt, passage_prompt=settings.passage_prompt,
            model_id=model_id, batch_size=settings.embed_batch_size, threads=settings.threads,
        )
    except OSError as exc:
        raise ModelError(f"cannot load the embedding model {name!r}: {exc}") from exc
