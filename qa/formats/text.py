"""Plain text and Markdown: the encoding detected, Markdown front matter and `#` headings read.

The stored text is the decoded file (after any front matter), verbatim: offsets index into it.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import yaml
from charset_normalizer import from_bytes

from qa.errors import CorpusError
from qa.formats import Extracted

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(\r?\n|\Z)", re.S)
_MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.M)
# Front matter holds a few metadata fields; a bound keeps a hostile file's parse cheap.
MAX_FRONT_MATTER_BYTES = 16 * 1024
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def decode(path: Path, raw: bytes) -> str:
    """The text of `raw`: UTF-8 or UTF-16 by their byte-order mark, UTF-8, GB18030 or Big5 when exactly one
    reads the bytes plausibly, else the detected encoding. A file no encoding reads is an error naming it,
    never mojibake indexed."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                return raw[len(bom) :].decode(encoding)
            except UnicodeDecodeError as exc:
                raise CorpusError(path, f"not valid {encoding} after its byte-order mark (byte {exc.start})") from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = _chinese_legacy(raw)
    if text is not None:
        return text
    best = from_bytes(raw).best()
    if best is None:
        raise CorpusError(path, "the text encoding cannot be recognised; save the file as UTF-8")
    return str(best)


# Characters real Chinese text is made of, in each legacy encoding: ASCII, common punctuation and the
# frequent hanzi (GB2312's hanzi rows B0-F7, Big5's level 1 A440-C67E). Bytes of one encoding read as the
# other mostly land outside these (GBK punctuation as bopomofo, Big5 text as GBK's rare extension
# characters), which is how a short text is told apart where charset-normalizer guesses (41% right on
# 10-character GBK strings, 83% on 20; see the format report).
_PUNCTUATION = set("，。、；：？！“”‘’（）《》〈〉〔〕【】「」『』…—－·％～　")


def _plausible(text: str, encoding: str, first: int, last: int) -> float:
    """The share of `text`'s non-ASCII characters that are common punctuation or frequent hanzi."""
    wide = [char for char in text if char >= "\x80"]
    score = 0
    for char in wide:
        if char in _PUNCTUATION:
            score += 1
            continue
        try:
            lead = char.encode(encoding)[0]
        except UnicodeEncodeError:
            continue
        score += first <= lead <= last
    return score / len(wide) if wide else 0.0


def _chinese_legacy(raw: bytes) -> str | None:
    """`raw` as GB18030 or Big5 when it decodes in one (strictly) and reads as Chinese; None when undecided
    (Latin-1 bytes, say, decode as GB18030 too, but as rare hanzi)."""
    readings = []
    for encoding, common, first, last in (("gb18030", "gb2312", 0xB0, 0xF7), ("big5hkscs", "big5", 0xA4, 0xC6)):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        readings.append((_plausible(text, common, first, last), text))
    if not readings:
        return None
    share, text = max(readings, key=lambda r: r[0])  # max keeps the first (GB18030) on a tie
    return text if share >= 0.8 else None


_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)""", re.I)
# Labels pages declare -> the codec browsers use for them (WHATWG Encoding): GB2312 and GBK pages are
# read as GB18030, their superset, since pages labelled gb2312 routinely contain GBK-only characters.
_LABELS = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "gb_2312-80": "gb18030", "big5": "big5hkscs",
           "x-x-big5": "big5hkscs", "cn-big5": "big5hkscs"}  # fmt: skip


def decode_markup(path: Path, raw: bytes) -> str:
    """The text of an HTML page: by its byte-order mark, else the `<meta charset>` it declares (when the
    bytes really are in it: a wrong label is common), else as `decode` reads any text."""
    if not raw.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        match = _META_CHARSET.search(raw[:4096])
        if match:
            label = match.group(1).decode("ascii").lower()
            try:
                encoding = codecs.lookup(_LABELS.get(label, label)).name
                if not encoding.startswith("utf-16"):  # a page read as bytes cannot be UTF-16 and declare it in ASCII
                    return raw.decode(encoding)
            except (LookupError, UnicodeDecodeError):
                pass
    return decode(path, raw)


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader without aliases: `*name` nested a few times is how 400 bytes of YAML expand
    to gigabytes once the structure is turned into strings. Metadata never needs them."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in front matter", mark)
        return super().compose_node(parent, index)


def split_front_matter(path: Path, text: str) -> tuple[dict, str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    if len(match.group(1).encode("utf-8")) > MAX_FRONT_MATTER_BYTES:
        raise CorpusError(path, f"front matter is larger than {MAX_FRONT_MATTER_BYTES} bytes")
    try:
        meta = yaml.load(match.group(1), Loader=_NoAliasLoader) or {}  # a SafeLoader: plain data only
    except yaml.YAMLError as exc:
        raise CorpusError(path, f"front matter is not valid YAML: {exc}") from exc
    except RecursionError as exc:
        raise CorpusError(path, "front matter is nested too deeply") from exc
    except ValueError as exc:  # e.g. `date: 2020-13-45`, which YAML's timestamp type rejects
        raise CorpusError(path, f"front matter has an invalid value: {exc}") from exc
    if not isinstance(meta, dict):
        raise CorpusError(path, "front matter must be a mapping of fields")
    return meta, text[match.end() :]


def load_text(path: Path, raw: bytes) -> Extracted:
    return Extracted(text=decode(path, raw))


def load_markdown(path: Path, raw: bytes) -> Extracted:
    meta, text = split_front_matter(path, decode(path, raw))
    headings = tuple((m.start(), len(m.group(1))) for m in _MD_HEADING.finditer(text))
    first = next((m.group(2).strip() for m in _MD_HEADING.finditer(text) if len(m.group(1)) == 1), None)
    return Extracted(text=text, title=first, meta=meta, headings=headings)
