"""Metadata a Chinese official document carries in its own text: 文号, title, addressee, issuer, date.

Used when a file has no sidecar (a sidecar or front matter always wins). Pure functions over the
extracted text; every value is a substring of the text except the date, which is normalised to ISO
(`2019-06-03`) so that date filters can compare it. A field the text does not state is left out
rather than guessed.

A 公文 states these in fixed places: the header (文号, title, addressee — before the first sentence
of the body) and the sign-off (issuer and date — the last date standing alone on its line, before
any contact, 抄送, 印发 or web-page lines). Only a bounded number of lines at each end is read, so a
date or a quoted 文号 in the body is never taken and a 1 MB document costs the same as a letter.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator

__all__ = ["HEAD_CHARS", "HEAD_LINES", "TAIL_CHARS", "TAIL_LINES", "extract", "iso_date"]

# Header and sign-off fit in a few lines; the bounds keep the work independent of the document's size.
HEAD_LINES, HEAD_CHARS = 12, 4000
TAIL_LINES, TAIL_CHARS = 12, 4000
_MAX_HEADER_LINE = 150  # a longer line is body text, not a title or an addressee

_CN_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0, "○": 0, "Ｏ": 0, "O": 0, "o": 0}
_CN_DIGIT = "〇一二三四五六七八九○零ＯOo"
_DATE = re.compile(
    rf"(?<![\d{_CN_DIGIT}])((?:19|20)\d{{2}}|[{_CN_DIGIT}]{{4}})\s*年\s*(\d{{1,2}}|[一二三四五六七八九十]{{1,3}})\s*月"
    r"\s*(\d{1,2}|[一二三四五六七八九十]{1,3})\s*日"
)
_DOC_NUMBER = r"[\u4e00-\u9fff]{1,12}\s*[〔\[［【(（]\s*(?:19|20)\d{2}\s*[〕\]］】)）]\s*(?:第\s*)?\d{1,5}\s*号"
# The 文号 alone on its line (a 文号 quoted in a title or the body names another document),
# after a web page's "发文字号：" label or before the 签发人 of a report to a higher office.
_DOC_NUMBER_LINE = re.compile(rf"(?:(?:发文字号|发文文号|文号)\s*[：:]\s*)?({_DOC_NUMBER})(?:\s+签发人[：:].*)?")
_ORG_SUFFIX = (
    r"(?:委员会|人民政府|政府|办公厅|办公室|指挥部|局|厅|委|部|院|署|办|中心|公司|集团|协会|联合会|街道办事处|镇|乡)"
)
# An organisation's name: a place and body ending in an organisational word, possibly with a second name
# in brackets (上海市水务局（上海市海洋局）).
_ORG = rf"[\u4e00-\u9fff]{{2,30}}?{_ORG_SUFFIX}(?:[（(][\u4e00-\u9fff]{{2,30}}?{_ORG_SUFFIX}[)）])?"
_SEAL = r"[（(](?:盖章|公章|印章|签章|章|印)[)）]"
_SIGN_OFF = re.compile(rf"(?:({_ORG})\s*(?:{_SEAL})?\s*)?(?P<date>{_DATE.pattern})\s*(?:{_SEAL})?")
_ISSUER_LINE = re.compile(rf"({_ORG})\s*(?:{_SEAL})?")
_SEAL_LINE = re.compile(_SEAL)
_KIND = r"(?:通知|通告|公告|答复|批复|复函|函|意见|决定|报告|请示|办法|规定|细则|方案|纪要|通报|决议|规划|计划|公报)"
_TITLE_END = re.compile(rf"{_KIND}(?:[（(](?:试行|暂行|征求意见稿|草案)[)）])?$")
_MASTHEAD = re.compile(rf"{_ORG}(?:\s*{_ORG})*\s*文件")  # 上海市人民政府办公厅文件: the letterhead, not the title
_LABEL = re.compile(r"^[\u4e00-\u9fff]{2,6}\s*[：:]\s*\S")  # 索引号：… 发布日期：… (a web page's header fields)
_RECIPIENT = re.compile(r"([^\s：:。；;！？!?“”《》<>＞|]{2,100})\s*[：:]")
_NOT_RECIPIENT = re.compile(r"如下|以下|下列|现将|现就|根据|为了|特此|经研究|当前位置|分享到|附件|抄送|联系")
_BODY_END = ("。", "；", "！", "？", "!", "?", ";")


def _cn_number(text: str) -> int:
    """二〇一九 → 2019 (digit by digit); 十二 → 12, 二十三 → 23 (tens)."""
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, units = text.partition("十")
        return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[units] if units else 0)
    return int("".join(str(_CN_DIGITS[c]) for c in text))


def _iso(match: re.Match[str]) -> str | None:
    try:
        year, month, day = (_cn_number(match.group(i)) for i in (1, 2, 3))
        return datetime.date(year, month, day).isoformat()
    except (KeyError, ValueError):  # 十十, 2019年2月30日: not a date
        return None


def find_dates(text: str) -> Iterator[tuple[int, int, str]]:
    """Every valid 年月日 date in `text`: (start, end, YYYY-MM-DD)."""
    for match in _DATE.finditer(text):
        iso = _iso(match)
        if iso:
            yield match.start(), match.end(), iso


def iso_date(text: str) -> str | None:
    """The first 年月日 date in `text` as YYYY-MM-DD (二〇一九年六月三日 and 2019年06月03日 too), or None."""
    match = _DATE.search(text)
    return _iso(match) if match else None


def _lines(text: str) -> list[str]:
    """Non-empty lines, stripped, with Markdown's heading marks and bold taken off (the rest is verbatim)."""
    lines = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            line = line.lstrip("#").strip().rstrip("#").strip()
        if line.startswith("**") and line.endswith("**"):
            line = line[2:-2].strip()
        if line:
            lines.append(line)
    return lines


def _is_body(line: str) -> bool:
    """A sentence of the body: the header has ended."""
    return (
        len(line) > _MAX_HEADER_LINE
        or line.endswith(_BODY_END)
        or (line.endswith(("：", ":")) and bool(_NOT_RECIPIENT.search(line)))
    )


def _is_title(line: str) -> bool:
    return (
        5 <= len(line) <= _MAX_HEADER_LINE
        and not _LABEL.match(line)
        and not any(c in line for c in "<>＞|")  # web navigation: 首页 > 政务公开 > 通知公告
        and bool(_TITLE_END.search(line))
    )


def _header(head: list[str], text: str, found: dict[str, str]) -> None:
    """文号, title and addressee from the lines before the first sentence of the body."""
    for i, line in enumerate(head):
        if _is_body(line):
            return
        if "doc_number" not in found and (match := _DOC_NUMBER_LINE.fullmatch(line)):
            found["doc_number"] = match.group(1)
            continue
        if _MASTHEAD.fullmatch(line) or _LABEL.match(line):
            continue
        if "title" not in found and "recipient" not in found:
            following = head[i + 1] if i + 1 < len(head) else ""
            # A title broken over two lines: the first names the subject (…关于印发…), the second ends with
            # the kind of document (…的通知); a first line that is a title itself (…管理办法) only when the
            # second goes on with 的.
            ends_title = bool(_TITLE_END.search(following)) and len(following) <= 60 and not _LABEL.match(following)
            if ends_title and ("关于" in line and not _is_title(line) or following.startswith("的")):
                if span := _span(text, line, following):
                    found["title"] = span
                continue
            if _is_title(line):
                found["title"] = line
                continue
        if "recipient" not in found and line.endswith(("：", ":")) and (match := _RECIPIENT.fullmatch(line)):
            found["recipient"] = match.group(1)


def _span(text: str, first: str, second: str) -> str | None:
    """The text from `first` to `second` as written (with its line break), so the title stays a substring."""
    match = re.search(re.escape(first) + r"[\s#*]*" + re.escape(second), text)
    return match.group() if match else None


def _sign_off(tail: list[str], found: dict[str, str]) -> None:
    """Issuer and date from the last line that is a date alone (or an issuer and a date), from the bottom up:
    contact, 抄送 and 印发 lines and web-page text after it do not match, and neither does a body sentence."""
    for i in range(len(tail) - 1, -1, -1):
        match = _SIGN_OFF.fullmatch(tail[i])
        if not match or not (date := iso_date(match.group("date"))):
            continue
        found["date"] = date
        if match.group(1):
            found["issuer"] = match.group(1)
            return
        above = [line for line in tail[:i] if not _SEAL_LINE.fullmatch(line)]
        issuers = [_ISSUER_LINE.fullmatch(line) for line in above[-2:]]
        # Two issuers one above the other (联合发文) are not one name: leave the field out, not half of it.
        if issuers and (issuer := issuers[-1]) and not (len(issuers) == 2 and issuers[0]):
            found["issuer"] = issuer.group(1)
        return


def extract(text: str) -> dict[str, str]:
    """The fields found in `text` (doc_number, title, recipient, issuer, date); absent fields are left out."""
    found: dict[str, str] = {}
    head_text, tail_text = text[:HEAD_CHARS], text[-TAIL_CHARS:]
    # A line cut by the bound is a fragment of the body (…截至 | 2019年6月3日): not a header or sign-off line.
    if len(text) > HEAD_CHARS:
        head_text = head_text[: head_text.rfind("\n") + 1]
    if len(text) > TAIL_CHARS and text[-TAIL_CHARS - 1] != "\n":
        tail_text = tail_text[tail_text.find("\n") + 1 :] if "\n" in tail_text else ""
    _header(_lines(head_text)[:HEAD_LINES], head_text, found)
    _sign_off(_lines(tail_text)[-TAIL_LINES:], found)
    if "issuer" not in found and (title := found.get("title")):
        # No issuer in the sign-off: the title's own (上海市…委员会关于…的通知) is the document's word for it.
        if (issuer := re.match(rf"({_ORG})关于", title)) is not None:
            found["issuer"] = issuer.group(1)
    return found
