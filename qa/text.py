"""Chinese text handling shared by the lexical stages: normalisation and jieba terms.

Queries and passages go through the same `normalize` (NFKC folds full-width
letters, digits and punctuation: "１３９Ｍ" matches "139M"; lower-case;
OpenCC folds Traditional script to Simplified: "網絡覆蓋" matches "网络覆盖"),
then
jieba's search-mode segmentation, which also emits the shorter words inside
long ones (城市网格化管理 → 城市, 网格, 网格化, 管理, ...), so a query that
uses a sub-word still matches.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import jieba
import jieba.posseg
import opencc

from qa.corpus import read_corpus_file
from qa.errors import CorpusError

log = logging.getLogger(__name__)
jieba.setLogLevel(logging.WARNING)

USER_DICT_SUFFIX = ".dict"
# jieba part-of-speech tags of proper nouns: place, person, organisation, other.
ENTITY_TAGS = frozenset({"ns", "nr", "nrt", "nrfg", "nt", "nz"})
MAX_HMM_CHARS = 96


# Character and phrase conversion only (not regional vocabulary): it never changes
# what a Simplified text says, so both scripts meet in one form.
_TO_SIMPLIFIED = opencc.OpenCC("t2s")
_TO_TRADITIONAL = opencc.OpenCC("s2t")
# A text is in Traditional script when this share of its Han characters changes on folding to Simplified: CMRC's
# contexts change at most 0.9% of theirs as written, at least 18% (median 33%) converted to Traditional.
TRADITIONAL_SHARE = 0.05
SCRIPT_SAMPLE = 200  # texts read to tell a corpus's script, evenly spaced: a corpus of many documents may mix them
_HAN = re.compile(r"[\u4e00-\u9fff]")


def normalize(text: str) -> str:
    """The form every lexical comparison uses: NFKC, lower case, Simplified script.

    Only for matching: stored text and citation offsets are never normalised.
    """
    return _TO_SIMPLIFIED.convert(unicodedata.normalize("NFKC", text).lower())


def is_traditional(texts: Sequence[str]) -> bool:
    """Whether most of `texts` (evenly spaced, at most 2 × SCRIPT_SAMPLE of them) are in Traditional script."""
    votes = [_traditional_share(t) > TRADITIONAL_SHARE for t in texts[:: max(len(texts) // SCRIPT_SAMPLE, 1)]
             if _HAN.search(t)]
    return sum(votes) > len(votes) / 2


def _traditional_share(text: str) -> float:
    """The share of the Han characters of `text` that change on folding to Simplified (OpenCC's tables map
    character for character, so positions line up)."""
    changed = sum(a != b for a, b in zip(text, _TO_SIMPLIFIED.convert(text), strict=False))
    return changed / max(len(_HAN.findall(text)), 1)


def in_script(text: str, traditional: bool) -> str:
    """`text` in one script, Traditional or Simplified (OpenCC). The encoder sees a question, and the noise floor's
    off-topic probes (qa.indexer.dense_floor), in the script its corpus was embedded in: it reads the two scripts
    as different text (CMRC's held-out questions converted to Traditional, over its Simplified articles: dense
    hit@1 0.923 embedded as typed, 0.956 folded to Simplified, the same as for the Simplified questions).
    Converting to Traditional is not idempotent (廢后 → 廢後), so text already in Traditional characters is
    left as it is."""
    if traditional:
        return text if _TO_SIMPLIFIED.convert(text) != text else _TO_TRADITIONAL.convert(text)
    return _TO_SIMPLIFIED.convert(text)


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


@dataclass(frozen=True)
class QueryTerms:
    terms: tuple[str, ...]  # BM25 terms, as passages get them
    entities: tuple[str, ...]  # see Terms._entities
    named: tuple[str, ...]  # the entities the dictionary tags as names, places or organisations, and figures


class Terms:
    """Turns text into BM25 terms. One instance owns its own jieba dictionary state."""

    def __init__(self, user_dicts: Iterable[Path] = (), stopwords: frozenset[str] | None = None,
                 query_cache_size: int = 1024) -> None:
        self.stopwords = default_stopwords() if stopwords is None else stopwords
        self.user_dicts = [Path(p) for p in user_dicts]
        self._jieba = jieba.Tokenizer()
        self._pos = jieba.posseg.POSTokenizer(self._jieba)
        # The fingerprint is of the dictionaries as loaded here, not as they are on disk later: an index
        # built with this analyser after a dictionary file was edited must not claim the new dictionary.
        digest = hashlib.sha256("\n".join(sorted(self.stopwords)).encode("utf-8"))
        for path in self.user_dicts:
            try:
                # Read like any corpus file: a link leading out of the folder is refused.
                raw = read_corpus_file(path)
                self._jieba.load_userdict(io.BytesIO(raw))
            except (UnicodeDecodeError, ValueError) as exc:
                raise CorpusError(path, f"cannot read jieba user dictionary: {exc}") from exc
            digest.update(raw)
        self._fingerprint = f"jieba-search:{digest.hexdigest()[:16]}"
        self._pos.makesure_userdict_loaded()
        self._query = lru_cache(maxsize=query_cache_size)(self._analyse_query)

    def __call__(self, text: str) -> list[str]:
        """BM25 terms of a passage (jieba search mode: words plus the dictionary words inside them)."""
        return self._terms(self._jieba.cut(normalize(text)))

    def query(self, text: str) -> QueryTerms:
        """Terms and entities of a question, segmented once and cached (retrieval and answering share them).

        jieba's new-word HMM costs about 0.1 ms per character of unknown text, so only the
        first MAX_HMM_CHARS characters use it: a 512-character question stays cheap, and
        real questions are shorter than that.
        """
        return self._query(text)

    def _analyse_query(self, text: str) -> QueryTerms:
        norm = normalize(text)
        words = [*self._jieba.cut(norm[:MAX_HMM_CHARS]), *self._jieba.cut(norm[MAX_HMM_CHARS:], HMM=False)]
        entities = self._entities(words)
        tags = self._pos.word_tag_tab
        named = [e for e in entities if e in tags or any(ch.isdigit() for ch in e)]
        return QueryTerms(tuple(self._terms(words)), tuple(entities), tuple(named))

    def _terms(self, words: Iterable[str]) -> list[str]:
        # The same expansion as jieba's cut_for_search, over already segmented words.
        words = list(words)  # segment first: it loads the dictionary that FREQ is read from
        freq = self._jieba.FREQ
        out = []
        for w in words:
            if len(w) > 2:
                out += [w[i:i + 2] for i in range(len(w) - 1) if freq.get(w[i:i + 2])]
            if len(w) > 3:
                out += [w[i:i + 3] for i in range(len(w) - 2) if freq.get(w[i:i + 3])]
            out.append(w)
        return [t for t in out if t not in self.stopwords and _is_term(t)]

    def _entities(self, words: Iterable[str]) -> list[str]:
        """Specific words a relevant passage must contain: places, people, organisations,
        other proper nouns, unknown words of three or more characters (mostly names),
        and numbers of two or more digits (years, figures).

        Tags come from the dictionary, not from jieba's part-of-speech HMM, whose
        cost grows by milliseconds per character of unknown text (a 512-character
        question took 2 s).
        """
        found = []
        tags = self._pos.word_tag_tab
        for word in words:
            flag = tags.get(word)
            if flag is None and word in self._jieba.FREQ:
                continue  # a dictionary word without a tag (user dictionaries may omit it)
            if flag is None:
                if len(word) >= 3 and all("\u4e00" <= ch <= "\u9fff" for ch in word):
                    found.append(word)
                elif sum(ch.isdigit() for ch in word) >= 2:
                    found.append(word)
                continue
            # jieba tags many two-character words as person names (封信, 谢谢); real
            # Chinese names in documents are mostly three characters.
            if flag in ("nr", "nrt", "nrfg") and len(word) < 3:
                continue
            if flag in ENTITY_TAGS or (flag == "m" and sum(ch.isdigit() for ch in word) >= 2):
                found.append(word)
        return list(dict.fromkeys(found))

    def _cut(self, text: str) -> tuple[str, ...]:
        """jieba's words; the HMM (which finds names among unknown characters) only on the first MAX_HMM_CHARS."""
        return (*self._jieba.cut(text[:MAX_HMM_CHARS]), *self._jieba.cut(text[MAX_HMM_CHARS:], HMM=False))

    def tagged(self, text: str) -> list[tuple[str, str | None]]:
        """The words of a short text (a question) with their dictionary part-of-speech tags (None: untagged)."""
        return [(w, self._pos.word_tag_tab.get(w)) for w in self._cut(normalize(text))]

    def segment(self, text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The words of a (normalised) sentence and their dictionary tags ("" when untagged): the words cover
        `text` exactly, so their lengths give offsets into it."""
        words = self._cut(text)
        tags = self._pos.word_tag_tab
        return words, tuple(tags.get(w, "") for w in words)

    def fingerprint(self) -> str:
        """Changes when the dictionaries or stop words change (they alter the index)."""
        return self._fingerprint
