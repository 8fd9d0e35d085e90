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
    """The text of `raw`: UTF-8 or UTF-16 by their byte-order mark, UTF-8, else the detected encoding
    (GB18030/GBK, Big5, …). A file no encoding reads is an error naming it, never mojibake indexed."""
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
    best = from_bytes(raw).best()
    if best is None:
        raise CorpusError(path, "the text encoding cannot be recognised; save the file as UTF-8")
    return str(best)


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
