"""Chinese text handling shared by the lexical stages: normalisation and jieba terms.

Queries and passages go through the same `normalize` (NFKC folds full-width
letters, digits and punctuation: "１３９Ｍ" matches "139M"; lower-case), then
jieba's search-mode segmentation, which also emits the shorter words inside
long ones (城市网格化管理 → 城市, 网格, 网格化, 管理, ...), so a query that
uses a sub-word still matches.
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path

import jieba
import jieba.posseg

from qa.errors import CorpusError

log = logging.getLogger(__name__)
jieba.setLogLevel(logging.WARNING)

USER_DICT_SUFFIX = ".dict"
# jieba part-of-speech tags of proper nouns: place, person, organisation, other.
ENTITY_TAGS = frozenset({"ns", "nr", "nrt", "nrfg", "nt", "nz"})


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def _is_term(token: str) -> bool:
    # Drop whitespace and tokens made only of punctuation/symbols.
    return any(unicodedata.category(ch)[0] in "LN" for ch in token)


def default_stopwords() -> frozenset[str]:
    text = resources.files("qa.resources").joinpath("stopwords_zh.txt").read_text(encoding="utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def find_user_dicts(corpus_dir: Path, extra: Sequence[Path] = ()) -> list[Path]:
    """Jieba user dictionaries: `*.dict` files in the corpus folder plus configured ones."""
    found = sorted(corpus_dir.glob(f"*{USER_DICT_SUFFIX}")) if corpus_dir.is_dir() else []
    return [*found, *extra]


class Terms:
    """Turns text into BM25 terms. One instance owns its own jieba dictionary state."""

    def __init__(self, user_dicts: Iterable[Path] = (), stopwords: frozenset[str] | None = None) -> None:
        self.stopwords = default_stopwords() if stopwords is None else stopwords
        self.user_dicts = [Path(p) for p in user_dicts]
        self._jieba = jieba.Tokenizer()
        self._pos = jieba.posseg.POSTokenizer(self._jieba)
        for path in self.user_dicts:
            try:
                self._jieba.load_userdict(str(path))
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                raise CorpusError(path, f"cannot read jieba user dictionary: {exc}") from exc

    def __call__(self, text: str) -> list[str]:
        return [
            token
            for token in self._jieba.cut_for_search(normalize(text))
            if token not in self.stopwords and _is_term(token)
        ]

    def entities(self, text: str) -> list[str]:
        """Specific words a relevant passage must contain: places, people, organisations,
        other proper nouns, and numbers of two or more digits (years, figures)."""
        found = []
        for pair in self._pos.cut(normalize(text)):
            word, flag = pair.word, pair.flag
            # jieba tags many two-character words as person names (封信, 谢谢); real
            # Chinese names in documents are mostly three characters.
            if flag in ("nr", "nrt", "nrfg") and len(word) < 3:
                continue
            if flag in ENTITY_TAGS or (flag == "m" and sum(ch.isdigit() for ch in word) >= 2):
                found.append(word)
        return list(dict.fromkeys(found))

    def fingerprint(self) -> str:
        """Changes when the dictionaries or stop words change (they alter the index)."""
        digest = hashlib.sha256("\n".join(sorted(self.stopwords)).encode("utf-8"))
        for path in self.user_dicts:
            digest.update(path.read_bytes())
        return f"jieba-search:{digest.hexdigest()[:16]}"
