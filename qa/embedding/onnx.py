"""The fast inference path: the converted model's ONNX export run in onnxruntime.

Tokenisation uses the model directory's own `tokenizer.json` through the
`tokenizers` library, so token ids are the ones sentence-transformers sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from qa.embedding.base import length_sorted_batches


class OnnxEncoder:
    backend = "onnx"

    def __init__(
        self,
        model_dir: Path,
        onnx_file: Path,
        *,
        query_prompt: str,
        passage_prompt: str,
        model_id: str | None = None,
        threads: int = 0,
        batch_size: int = 32,
        max_length: int = 512,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.model_id = model_id or model_dir.name
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        self.batch_size = batch_size
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length)
        pad_id = self.tokenizer.token_to_id("<pad>")
        self.tokenizer.enable_padding(pad_id=pad_id if pad_id is not None else 0)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        self.dim = int(self.session.get_outputs()[0].shape[1] or self._probe_dim())

    def _probe_dim(self) -> int:
        return int(self._run(["dim"]).shape[1])

    def _run(self, texts: Sequence[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        (out,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask})
        return np.asarray(out, dtype=np.float32)

    def _encode(self, texts: Sequence[str], prompt: str, show_progress: bool) -> np.ndarray:
        prompted = [prompt + t for t in texts]
        out = np.empty((len(prompted), self.dim), dtype=np.float32)
        batches = length_sorted_batches(prompted, self.batch_size)
        for batch in tqdm(batches, desc="embedding", unit="batch", disable=not show_progress):
            out[batch] = self._run([prompted[i] for i in batch])
        return out

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.query_prompt, False)

    def encode_passages(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        return self._encode(texts, self.passage_prompt, show_progress)
