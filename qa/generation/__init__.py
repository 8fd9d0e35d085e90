"""The optional generated answer: an OpenAI-compatible LLM, verified against the passages it cites."""

from qa.generation.answerer import GeneratingAnswerer
from qa.generation.client import ChatClient, LLMUnavailable
from qa.generation.verify import Thresholds, Verifier, split_sentences

__all__ = ["ChatClient", "GeneratingAnswerer", "LLMUnavailable", "Thresholds", "Verifier", "split_sentences"]
