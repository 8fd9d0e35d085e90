"""The short answer: the shortest span of the chosen sentence that answers the question.

1. Align the question with the sentence: the longest suffix of the words before
   the interrogative phrase and the longest prefix of the words after it,
   found in the sentence, bracket the answer ("X由哪两个公司开发" over
   "X由光荣和ω-force开发的" → "光荣和ω-force").
2. Refine by the expected type: a number with its unit (the unit the question
   names, 几辆 → 辆, first), a date, else the bracketed words.
3. Without an alignment, the clause (split at ，；：) that carries the expected
   type, or the clause right after the question's words.

Offsets are character offsets into the sentence; the composer turns them into
document offsets. Every step is a bounded string search: linear in length.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from qa.answering.question import QuestionInfo

MAX_SHORT_CHARS = 60
_EDGE = "，。；：、,.;:!?！？“”\"'‘’（）()《》〈〉【】[]…—- \t\n"
_LEAD = _EDGE + "是为在于由的了即指乃共约有"
_TRAIL = _EDGE + "的是了"
_CLAUSE = re.compile(r"[，,；;：:。！？!?]")
_CN_NUM = "零〇一二三四五六七八九十百千万亿两"
NUMBER = re.compile(rf"(?:约|近|超过|逾)?(?:\d[\d.,，]*\d|\d|[{_CN_NUM}]{{1,8}})(?:%|％|[多余]?[万亿千百]?[\u4e00-\u9fff]?)")
DATE = re.compile(
    rf"(?:公元前?)?(?:\d{{1,4}}|[{_CN_NUM}]{{2,4}})年(?:\d{{1,2}}|[{_CN_NUM}]{{1,3}})?月?(?:\d{{1,2}}|[{_CN_NUM}]{{1,3}})?[日号]?"
    rf"|(?:\d{{1,2}}|[{_CN_NUM}]{{1,3}})月(?:\d{{1,2}}|[{_CN_NUM}]{{1,3}})[日号]|\d{{1,2}}世纪(?:\d0年代)?|[{_CN_NUM}]{{1,3}}世纪"
)
_MAX_CONTEXT = 12  # characters of question context matched on each side (bounds the search)
_MAX_SKIP = 3
_FRAME_END = "在内"


def typed_tokens(kind: str, text: str) -> list[re.Match[str]]:
    """Tokens of the expected answer type (numbers or dates) in `text`."""
    if kind == "number":
        return [m for m in NUMBER.finditer(text) if any(ch.isdigit() or ch in _CN_NUM for ch in m.group())]
    if kind == "date":
        return list(DATE.finditer(text))
    return []


def _longest(limit: int, find: Callable[[int], int]) -> tuple[int, int]:
    """The largest k in 1..limit with find(k) >= 0, and find(k); (0, -1) when there is none.

    `find(k)` looks for a k-character piece of the question's context that grows with k, so its presence
    only falls off once as k grows (the pieces of a found piece are found too): a binary search needs
    about log2(_MAX_CONTEXT) searches where counting down from the longest needed up to _MAX_CONTEXT.
    """
    lo, hi, at = 0, limit, -1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        pos = find(mid)
        if pos >= 0:
            lo, at = mid, pos
        else:
            hi = mid - 1
    return lo, at


def _longest_tail(rest: str, text: str) -> tuple[int, int]:
    """The longest tail of `rest` (up to _MAX_CONTEXT) found in `text`: its length and last position."""
    return _longest(min(len(rest), _MAX_CONTEXT), lambda k: text.rfind(rest[-k:]))


def _longest_head(rest: str, text: str, start: int) -> tuple[int, int]:
    """The longest head of `rest` (up to _MAX_CONTEXT) found in `text[start:]`: its length and first position."""
    return _longest(min(len(rest), _MAX_CONTEXT), lambda k: text.find(rest[:k], start))


def _suffix_in(context: str, text: str) -> tuple[int, int, int] | None:
    """End offset in `text` of the longest tail of `context` found there, its length and how many
    trailing characters were skipped.

    The tail may skip up to _MAX_SKIP trailing characters: the words right before an
    interrogative often name what is asked (的*比例是*多少) rather than repeat the text.
    A skipped character costs as much as two matched ones.
    """
    best: tuple[int, int, int] | None = None
    for skip in range(min(_MAX_SKIP, len(context) - 1) + 1):
        rest = context[: len(context) - skip].rstrip("的是了之")
        if best and min(len(rest), _MAX_CONTEXT) - 2 * skip <= best[1] - 2 * best[2]:
            continue  # no length of this skip can beat the best
        k, pos = _longest_tail(rest, text)
        if k == 0 or (best and k - 2 * skip <= best[1] - 2 * best[2]) or (k == 1 and rest[-1:] in _LEAD):
            continue
        best = (pos + k, k, skip)
    return best


def _prefix_in(context: str, text: str, start: int) -> tuple[int, int, int] | None:
    """Start offset in `text[start:]` of the longest head of `context` found there, its length and
    how many leading characters were skipped.

    The head may skip up to _MAX_SKIP leading characters: the noun right after an
    interrogative names the answer's kind (哪两个*公司*合作开发) and the sentence
    says the answer instead of repeating it.
    """
    best: tuple[int, int, int] | None = None
    for skip in range(min(_MAX_SKIP, len(context) - 1) + 1):
        rest = context[skip:].lstrip("的是了之")
        if best and min(len(rest), _MAX_CONTEXT) - 2 * skip <= best[1] - 2 * best[2]:
            continue
        k, pos = _longest_head(rest, text, start)
        if k == 0 or (best and k - 2 * skip <= best[1] - 2 * best[2]) or (k == 1 and rest[:1] in _TRAIL):
            continue
        best = (pos, k, skip)
    return best


def alignment(info: QuestionInfo, text: str) -> tuple[int | None, int | None, float]:
    """Where the question's left and right contexts end and start in `text`, and how much of them matched (0..1)."""
    left_span, right_span, matched = context_spans(info, text)
    return (left_span[1] if left_span else None), (right_span[0] if right_span else None), matched


def context_spans(info: QuestionInfo, text: str) -> tuple[tuple[int, int] | None, tuple[int, int] | None, float]:
    """The matched left and right contexts as (start, end) in `text`, and how much of them matched (0..1)."""
    left = _suffix_in(info.left, text) if info.left else None
    right = _prefix_in(info.right, text, left[0] if left else 0) if info.right else None
    if right and info.head and right[2] == 0 and text.startswith(info.head, right[0]):
        # "什么战争之后…" over "伯罗奔尼撒战争之后…": the kind noun belongs to the answer.
        right = (right[0] + len(info.head), right[1], 0)
    matched = (left[1] if left else 0) + (right[1] if right else 0)
    wanted = min(len(info.left), _MAX_CONTEXT) + min(len(info.right), _MAX_CONTEXT)
    return ((left[0] - left[1], left[0]) if left else None, (right[0], right[0] + right[1]) if right else None,
            matched / wanted if wanted else 0.0)


def _clauses(text: str) -> list[tuple[int, int]]:
    out, start = [], 0
    for m in _CLAUSE.finditer(text):
        out.append((start, m.start()))
        start = m.end()
    out.append((start, len(text)))
    return [(s, e) for s, e in out if e > s]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in _LEAD:
        start += 1
    while end > start and text[end - 1] in _TRAIL:
        end -= 1
    if text.startswith(_FRAME_END, max(start, end - len(_FRAME_END))) and end - start > len(_FRAME_END):
        end -= len(_FRAME_END)  # 包括…在内的区域: the frame's close is not part of the list
    return start, end


def _typed(info: QuestionInfo, text: str, lo: int, hi: int, anchor: tuple[int, int]) -> tuple[int, int] | None:
    """The typed token inside [lo, hi), preferring the question's unit, then the one closest to `anchor`
    (the matched question context)."""
    # A figure the question itself names (the 4 of "4G") is not its answer.
    tokens = [m for m in typed_tokens(info.kind, text)
              if lo <= m.start() and m.end() <= hi and m.group() not in info.squashed]
    if not tokens:
        return None
    if info.unit:
        with_unit = [m for m in tokens if info.unit in m.group()]
        tokens = with_unit or tokens
    best = min(tokens, key=lambda m: max(0, anchor[0] - m.end(), m.start() - anchor[1]))
    return best.start(), best.end()


# Paired marks, full-width and ASCII: the short answer is balanced in the document's own characters.
_PAIRS = (("《", "》"), ("“", "”"), ("‘", "’"), ("「", "」"), ("『", "』"), ("（", "）"), ("(", ")"), ("【", "】"),
          ("〈", "〉"), ("［", "］"))
_SEPARATORS = "，,、；;：:"


def _unpaired(piece: str, opener: str, closer: str) -> tuple[int, int]:
    """Closers in `piece` without an opener before them, and openers left open at its end."""
    depth = stray = 0
    for ch in piece:
        if ch == opener:
            depth += 1
        elif ch == closer:
            depth, stray = (depth - 1, stray) if depth else (0, stray + 1)
    return stray, depth


def balanced(text: str, start: int, end: int) -> tuple[int, int]:
    """`text[start:end]` with its title marks, quotation marks and brackets paired up, and no separator (，、；：)
    at either edge.

    The ranker cuts at words and marks are words of their own, so 33 of 877 short answers over the letter and
    60 CMRC articles read "关于…的建议》" or "“新基建". Per kind of mark: a lone closer takes in its opener when
    that stands right before the span, else it is trimmed when it is the first character; a lone opener
    likewise with its closer right after the span, or the last character. A mark opened or closed inside the
    span stays ("座堂（Cathedral Church of St."). Works on the document's own characters, not the squashed
    sentence: NFKC reads ⑴ as "(1)", and trimming that "(" would drop the whole character. Only marks and
    separators come and go, all of which the official CMRC score ignores: what changes is what the reader sees.
    """
    for opener, closer in _PAIRS:
        stray, depth = _unpaired(text[start:end], opener, closer)
        if stray == 1 and start > 0 and text[start - 1] == opener:
            start -= 1
        elif stray == 1 and text[start] == closer:
            start += 1
        if depth == 1 and end < len(text) and text[end] == closer:
            end += 1
        elif depth == 1 and end > start and text[end - 1] == opener:
            end -= 1
    while start < end and text[start] in _SEPARATORS:
        start += 1
    while end > start and text[end - 1] in _SEPARATORS:
        end -= 1
    return start, end


def short_span(info: QuestionInfo, text: str) -> tuple[int, int]:
    """(start, end) of the short answer inside `text` (a sentence); the sentence itself when nothing shorter fits."""
    return _short_span(info, text) or _trim(text, 0, len(text))


def _short_span(info: QuestionInfo, text: str) -> tuple[int, int] | None:
    left, right, _ = context_spans(info, text)
    a, b = (left[1] if left else None), (right[0] if right else None)
    clauses = _clauses(text)
    if a is not None and b is not None and b > a:
        lo, hi = a, b
    elif a is not None:
        lo, hi = a, next((e for s, e in clauses if e > a), len(text))
    elif b is not None:
        lo, hi = max((s for s, e in clauses if s <= b), default=0), b
    else:
        lo, hi = 0, len(text)
    if info.kind in ("number", "date"):
        anchor = left or right or (lo, lo)
        span = _typed(info, text, 0, len(text), anchor)
        if span:
            return span
    if a is None and b is None:
        return None
    start, end = _trim(text, lo, hi)
    if end - start > MAX_SHORT_CHARS and info.kind not in ("reason", "method", "list"):
        cut = next((m.start() for m in _CLAUSE.finditer(text, start, end)), end)
        start, end = _trim(text, start, cut)
    if not 0 < end - start <= MAX_SHORT_CHARS:
        return None
    return start, end
