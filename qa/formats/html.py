"""Web pages: the article's text only, without the site around it (navigation, breadcrumb, sidebar,
相关文章 list, share bar, footer, scripts and styles).

The article is found the way readability does it, tuned for Chinese: each block of text scores by its
length and its Chinese punctuation unless it is mostly link text, the score goes to the block's container,
and the best-scoring container is the article. Its blocks become lines (a `<br>` and a table cell end a
line too) and its `<h1>`–`<h6>` become `headings`. selectolax with this heuristic was chosen over trafilatura
by measurement on 88 government pages in four layouts: trafilatura indexed a table-layout page's navigation
and footer (text similarity 0.71) and its default mode leaked chrome on 63 of 88 pages, at 3.4 ms a page
against 0.52 ms here (eval/reports/formats.md).
"""

from __future__ import annotations

import re
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser, LexborNode

from qa.errors import CorpusError
from qa.formats import Extracted
from qa.formats.text import decode_markup

# not <form>: ASP.NET sites wrap the whole page in one
_DROP = ("script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "canvas", "button", "select",
         "textarea", "input", "nav", "header", "footer", "aside", "head", "title")  # fmt: skip
_INLINE = frozenset(
    "a abbr b bdi bdo cite code data del dfn em font i ins kbd mark q s samp small span strike strong sub sup time tt u"
    " var wbr -text".split()
)
_HEADING = {f"h{n}": n for n in range(1, 7)}
# class/id words of page chrome; a container of the article is never removed for these (see _prune)
_CHROME = re.compile(
    r"(?:^|[\s_-])(?:nav|navbar|menu|breadcrumb|crumbs?|position|location|footer|foot|bottom|copyright|sidebar|side"
    r"|share|bdshare|related|relevant|xgwz|xglj|xgxw|tools?|print|search|banner|top-?bar|ads?|advert|comments?"
    r"|pager|pagination|qrcode|ewm)(?:$|[\s_-])",
    re.I,
)
_RELATED = frozenset({"相关文章", "相关链接", "相关阅读", "相关新闻", "相关稿件", "相关文件", "延伸阅读", "推荐阅读"})
_PUNCTUATION = re.compile(r"[，。；：、！？,;]")
_CJK = "\u3000-\u303f\u3400-\u9fff\uff00-\uffef"
# a line break between two Chinese characters is the source's wrapping, not a space the author typed
_CJK_WRAP = re.compile(rf"(?<=[{_CJK}])[ \t\r\n]*\n[ \t\r\n]*(?=[{_CJK}])")
_SPACE = re.compile(r"\s+")
_TITLE_SUFFIX = re.compile(r"\s*[-_|｜—–]+\s*[^-_|｜—–]+$")


def _norm(text: str) -> str:
    return _SPACE.sub(" ", _CJK_WRAP.sub("", text)).strip()


def _block_of(node: LexborNode) -> LexborNode | None:
    parent = node.parent
    while parent is not None and parent.tag in _INLINE:
        parent = parent.parent
    return parent


def _in_link(node: LexborNode, block: LexborNode) -> bool:
    parent = node.parent
    while parent is not None and parent.mem_id != block.mem_id:
        if parent.tag == "a":
            return True
        parent = parent.parent
    return False


def _article(body: LexborNode) -> LexborNode:
    """The container of the most (non-link) prose."""
    texts: dict[int, list[int]] = {}  # block -> [text length, link text length]
    blocks: dict[int, LexborNode] = {}
    for node in body.traverse(include_text=True):
        if node.tag != "-text":
            continue
        text = (node.text_content or "").strip()
        block = _block_of(node)
        if not text or block is None:
            continue
        blocks[block.mem_id] = block
        counts = texts.setdefault(block.mem_id, [0, 0, 0])
        counts[0] += len(text)
        counts[1] += len(text) if _in_link(node, block) else 0
        counts[2] += len(_PUNCTUATION.findall(text))
    scores: dict[int, float] = {}
    nodes: dict[int, LexborNode] = {}
    for key, (length, links, punctuation) in texts.items():
        if length < 10 or links > length / 2:
            continue
        score = 1 + punctuation + min(length // 50, 3)
        block = blocks[key]
        # a paragraph scores for its container; a container with loose text (lines split by <br>) for itself
        target = block.parent if block.tag in ("p", "li", "pre", "blockquote") or block.tag in _HEADING else block
        for weight in (1.0, 0.5):
            if target is None or target.tag == "html":
                break
            nodes[target.mem_id] = target
            scores[target.mem_id] = scores.get(target.mem_id, 0.0) + score * weight
            target = target.parent
    if not scores:
        return body
    return nodes[max(scores, key=lambda k: scores[k])]


def _prune(root: LexborNode) -> None:
    """Remove chrome inside the article: by tag, by class/id, a 相关文章 heading with the links after it."""
    for tag in _DROP:
        for node in root.css(tag):
            node.decompose()
    for node in root.css("[class], [id], [style]"):
        words = f"{node.attributes.get('class') or ''} {node.attributes.get('id') or ''}"
        style = (node.attributes.get("style") or "").replace(" ", "").lower()
        if _CHROME.search(words) or "display:none" in style:
            node.decompose()
    for node in list(root.traverse()):
        if node.tag not in _INLINE and _norm(node.text(deep=True)) in _RELATED:
            sibling = node.next
            while sibling is not None and (sibling.tag == "-text" or sibling.tag in ("ul", "ol", "div", "table", "dl")):
                following = sibling.next
                if sibling.tag != "-text" and len(sibling.css("a")) > 0:
                    sibling.decompose()
                sibling = following
            node.decompose()


def _lines(root: LexborNode) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The text of `root`, one line per block, and the (offset, level) of its heading lines.

    Iterative, not recursive: a hostile page nests elements deeper than Python's recursion limit."""
    lines: list[tuple[str, int | None]] = []
    current: list[str] = []
    level: int | None = None

    def flush() -> None:
        nonlocal level
        line = _norm("".join(current))
        if line:
            lines.append((line, level))
        current.clear()
        level = None

    stack: list[tuple[LexborNode | None, str | None]] = [(root, None)]
    while stack:
        node, closing = stack.pop()
        if node is None:
            if closing is not None:
                flush()
            continue
        tag = node.tag
        if tag == "-text":
            current.append(node.text_content or "")
        elif tag == "br":
            flush()
        elif tag in ("-comment", *_DROP):
            continue
        else:
            block = tag not in _INLINE
            if block:
                flush()
                if tag in _HEADING:
                    level = _HEADING[tag]
            stack.append((None, tag if block else None))
            children = []
            child = node.child
            while child is not None:
                children.append(child)
                child = child.next
            stack.extend((c, None) for c in reversed(children))
    flush()
    text, headings, offset = [], [], 0
    for line, heading in lines:
        if heading is not None:
            headings.append((offset, heading))
        text.append(line)
        offset += len(line) + 1
    return "\n".join(text), tuple(headings)


def _title(tree: LexborHTMLParser) -> str | None:
    """The article's `<h1>` when `<title>` contains it (titles often add the site's name), else `<title>`
    without a `- site` suffix, else the first `<h1>`."""
    node = tree.css_first("title")
    page = _norm(node.text()) if node is not None else ""
    h1s = [t for t in (_norm(h.text()) for h in tree.css("h1")) if t]
    for h1 in h1s:
        if page and h1 in page:
            return h1
    if page:
        return _TITLE_SUFFIX.sub("", page) or page
    return h1s[0] if h1s else None


def load_html(path: Path, raw: bytes) -> Extracted:
    tree = LexborHTMLParser(decode_markup(path, raw))
    title = _title(tree)
    body = tree.body
    if body is None:
        raise CorpusError(path, "the page has no body")
    for tag in _DROP:
        for node in body.css(tag):
            node.decompose()
    root = _article(body)
    _prune(root)
    text, headings = _lines(root)
    return Extracted(text=text, title=title, headings=headings)
