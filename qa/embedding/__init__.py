"""Embedding backends: sentence-transformers (canonical) and onnxruntime (fast, verified)."""

from qa.embedding.base import Encoder
from qa.embedding.factory import load_encoder, model_fingerprint, resolve_model_path

__all__ = ["Encoder", "load_encoder", "model_fingerprint", "resolve_model_path"]
