"""The generating answerer: the extractive answerer decides, an LLM words the answer, verification keeps it honest.

It is an `Answerer` like the others, chosen by the service when QA_LLM_BASE_URL is set:

1. the extractive answerer decides whether the passages answer at all (its calibrated
   confidence); a decline stays a decline, without calling the LLM;
2. the LLM answers from the same top passages, numbered as in the response, streaming;
3. every generated sentence is verified against the passages it cites (qa.generation.verify);
   only supported sentences are kept, and if none is, the extractive answer is returned;
4. whenever the LLM fails (timeout, HTTP error, garbage, open circuit) the extractive answer
   is returned with `generator_note` saying why: a request never fails because of the LLM.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator

import numpy as np

from qa.answering.base import Answerer
from qa.config import Mode
from qa.generation.client import ChatClient, LLMUnavailable
from qa.generation.prompt import messages
from qa.generation.verify import Verifier
from qa.schema import Answer, AnswerSpan, Document, Hit

log = logging.getLogger(__name__)


class GeneratingAnswerer:
    def __init__(self, decider: Answerer, client: ChatClient, verifier: Verifier, documents: dict[str, Document],
                 n_passages: int) -> None:
        self.decider = decider
        self.client = client
        self.verifier = verifier
        self.documents = documents
        self.n_passages = n_passages

    def threshold(self, mode: Mode) -> float:
        return self.decider.threshold(mode)

    def __call__(self, question: str, hits: list[Hit], mode: Mode, vector: np.ndarray | None = None) -> Answer:
        final = None
        for item in self.stream(question, hits, mode, vector):
            if isinstance(item, Answer):
                final = item
        assert final is not None  # stream always ends with the Answer
        return final

    def stream(self, question: str, hits: list[Hit], mode: Mode,
               vector: np.ndarray | None = None) -> Iterator[str | Answer]:
        base = self.decider(question, hits, mode, vector)
        if not base.answerable:
            yield base
            return
        top = hits[: self.n_passages]
        pieces: list[str] = []
        try:
            for piece in self.client.stream(messages(question, top, self.documents)):
                pieces.append(piece)
                yield piece
        except LLMUnavailable as exc:
            yield dataclasses.replace(base, generator_note=f"{exc.reason}，已改用原文摘录。")
            return
        try:
            checks = self.verifier.check("".join(pieces), top)
        except Exception:  # verification reads untrusted text: whatever it meets, the request still answers
            log.exception("verifying a generated answer failed")
            yield dataclasses.replace(base, generator_note="生成的答案无法核对，已改用原文摘录。")
            return
        kept = [c for c in checks if c.status == "supported"]
        if not kept:
            yield dataclasses.replace(base, checks=checks,
                                      generator_note="生成的答案没有一句通过引用核对，已改用原文摘录。")
            return
        by_marker = {hit.rank: hit.passage for hit in top}
        spans = []
        for marker, start, end in dict.fromkeys(c.source for c in kept if c.source):
            p = by_marker[marker]
            spans.append(AnswerSpan(marker, p.id, p.doc_id, start, end, p.text[start - p.start:end - p.start]))
        yield dataclasses.replace(base, text="".join(c.text for c in kept), spans=spans, generator="llm",
                                  checks=checks)
