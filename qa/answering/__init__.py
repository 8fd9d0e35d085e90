"""The answer layer: decide whether the retrieved passages answer, then compose a cited answer."""

from qa.answering.base import Answerer, SentenceSimilarity
from qa.answering.extractive import NO_ANSWER, ExtractiveAnswerer
from qa.answering.metadata import MetadataAnswerer
from qa.answering.model import AnswerModels, load_models

__all__ = ["NO_ANSWER", "Answerer", "AnswerModels", "ExtractiveAnswerer", "MetadataAnswerer", "SentenceSimilarity",
           "load_models"]
