"""Exact-wording signal: figures, identifiers, quoted phrases and copied sentences.

Dense retrieval blurs "3252万" and "644万"; BM25 splits "沪经信建〔2019〕15号"
into common pieces. Users who copy a figure, an identifier or a phrase from a
document expect that passage first, so the query's *anchors* are matched
verbatim (after NFKC, lower-casing and removing whitespace) against each
candidate passage, and the share found is added to the fused score.
"""

from __future__ import annotations

import re

from qa.text import normalize

_QUOTED = re.compile(r"[“\"「『《‘'](.+?)[”\"」』》’']")
# The issuer prefix is bounded: an unbounded [^…]* backtracks quadratically on long unpunctuated input.
_DOC_NUMBER = re.compile(r"[^\s，。？?]{0,16}[〔\[［]\d{4}[〕\]］]\d+号")
# A number with its unit or suffix: 3252万, 139m, 87%, 28.01mbps, 2018年, 5g
_FIGURE = re.compile(r"\d[\d.,%]*(?:[a-z]+|[万亿千百余多个户号条处项家名座所件套台次年月日]{1,2})?")
_LATIN = re.compile(r"[a-z][a-z0-9+\-]{2,}")
# Trailing question phrases removed before testing whether the whole query was copied.
_QUESTION_TAIL = re.compile(
    r"(是什么|是多少|有哪些|有什么|是哪些|是哪个|是谁|在哪里|怎么样|如何|吗|呢|多少|哪些|什么)?[?？。!！]*$"
)
MIN_COPIED_CHARS = 8


def squash(text: str) -> str:
    """The form anchors are compared in: NFKC, lower case, no whitespace."""
    return re.sub(r"\s+", "", normalize(text))


def anchors(query: str) -> list[str]:
    """Substrings of the query that should occur verbatim in a relevant passage."""
    q = squash(query)
    found = [m.group(1) for m in _QUOTED.finditer(q) if len(m.group(1)) >= 2]
    found += _DOC_NUMBER.findall(q)
    found += [m.group() for m in _FIGURE.finditer(q) if len(m.group()) >= 2 or not m.group().isdigit()]
    found += _LATIN.findall(q)
    return list(dict.fromkeys(found))


def copied_core(query: str) -> str | None:
    """The query without its question tail, if long enough to count as a copied phrase."""
    core = _QUESTION_TAIL.sub("", squash(query))
    return core if len(core) >= MIN_COPIED_CHARS else None


def exact_score(query_anchors: list[str], core: str | None, passage_squashed: str) -> float:
    """1.0 when the whole query phrase occurs in the passage, else the share of anchors found."""
    if core is not None and core in passage_squashed:
        return 1.0
    if not query_anchors:
        return 0.0
    return sum(a in passage_squashed for a in query_anchors) / len(query_anchors)
