"""Export the sentence-transformers model to ONNX (fp32 and dynamic int8) and verify it.

The graph takes `input_ids` and `attention_mask` and returns the finished
sentence embedding (mean pooling and L2 normalisation included), so the
runtime side is just tokenizer → one `onnxruntime` call. A path is marked
`ok` only if its embeddings agree with the canonical sentence-transformers
model on a fixed probe set (min cosine ≥ VERIFY_MIN_COSINE); otherwise the
encoder factory falls back to torch.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

ONNX_DIR = "onnx"
FP32_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
VERIFY_MIN_COSINE = 0.999

# Short and long, Chinese, English, mixed, digits, full-width, emoji, whitespace.
PROBES = [
    "5G覆盖哪些区域",
    "4G用户占全市移动电话的比例是多少？",
    "智慧城市顶层设计有什么安排",
    "上海市经济和信息化委员会关于代表建议的答复",
    "截至2018年底，全市家庭光纤宽带用户已达644万户，平均接入带宽达到139M。",
    "The quick brown fox jumps over the lazy dog.",
    "i-Shanghai公益WLAN覆盖全市2600处主要公共场所",
    "ＡＢＣ１２３　全角字符，标点；测试！",
    "emoji 😀🎉 和中文混排",
    "   多余   的   空格   ",
    "沪经信建〔2019〕15号",
    "数据开放、人工智能、工业互联网与城市大脑" * 12,
]


def _export_fp32(model_dir: Path, out: Path) -> None:
    import torch
    from transformers import AutoModel

    class Embedder(torch.nn.Module):
        def __init__(self, encoder: torch.nn.Module) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    encoder = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    example = (torch.tensor([[0, 41, 1294, 12, 2]]), torch.ones(1, 5, dtype=torch.long))
    with torch.no_grad():
        torch.onnx.export(
            Embedder(encoder),
            example,
            str(out),
            input_names=["input_ids", "attention_mask"],
            output_names=["sentence_embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "sentence_embedding": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )


def _export_int8(fp32: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True)


def _min_cosine(model_dir: Path, onnx_file: Path) -> float:
    from sentence_transformers import SentenceTransformer

    from qa.embedding.onnx import OnnxEncoder

    reference = SentenceTransformer(str(model_dir), device="cpu")
    fast = OnnxEncoder(model_dir, onnx_file, query_prompt="query: ", passage_prompt="passage: ")
    worst = 1.0
    for name, encode in (("query", fast.encode_queries), ("passage", fast.encode_passages)):
        expected = reference.encode(PROBES, prompt_name=name, normalize_embeddings=True)
        worst = min(worst, float(np.min(np.sum(expected * encode(PROBES), axis=1))))
    return worst


def export_fast_paths(model_dir: Path) -> dict[str, dict]:
    """Write onnx/model.onnx and onnx/model-int8.onnx; return their verification."""
    out_dir = model_dir / ONNX_DIR
    out_dir.mkdir(exist_ok=True)
    results: dict[str, dict] = {}
    fp32 = out_dir / FP32_FILE
    _export_fp32(model_dir, fp32)
    int8 = out_dir / INT8_FILE
    _export_int8(fp32, int8)
    for name, path in (("onnx", fp32), ("onnx-int8", int8)):
        cosine = _min_cosine(model_dir, path)
        results[name] = {"file": f"{ONNX_DIR}/{path.name}", "cosine_min": round(cosine, 6),
                         "ok": cosine >= VERIFY_MIN_COSINE}
        log.info("%s: min cosine to sentence-transformers %.6f", name, cosine)
    return results
