"""Metadata a Chinese official document carries in its own text: 文号, addressee, issuer, date, title.

Used when a file has no sidecar (a sidecar or front matter always wins). Pure functions over the
extracted text; every value is a substring of the text except the date, which is normalised to ISO
(`2019-06-03`) so that date filters can compare it.
"""

from __future__ import annotations

import re

_CN_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0, "○": 0, "Ｏ": 0, "O": 0}
_DOC_NUMBER = re.compile(
    r"[\u4e00-\u9fff]{1,12}\s*[〔\[［【(（]\s*(?:19|20)\d{2}\s*[〕\]］】)）]\s*(?:第\s*)?\d{1,5}\s*号"
)
_DATE = re.compile(
    r"((?:19|20)\d{2}|[〇一二三四五六七八九○零Ｏ]{4})\s*年\s*(\d{1,2}|[一二三四五六七八九十]{1,3})\s*月"
    r"\s*(\d{1,2}|[一二三四五六七八九十]{1,3})\s*日"
)
_ADDRESSEE = re.compile(r"^\s*([^\s：:。，,；;]{2,30})[：:]\s*$", re.M)
_ISSUER_END = re.compile(r"(?:委员会|人民政府|办公厅|办公室|局|厅|委|部|院|中心|公司|政府|协会|集团)$")


def _cn_number(text: str) -> int:
    """二〇一九 → 2019 (digit by digit); 十二 → 12, 二十三 → 23 (tens)."""
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, units = text.partition("十")
        return (_CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (_CN_DIGITS.get(units, 0) if units else 0)
    return int("".join(str(_CN_DIGITS[c]) for c in text))


def iso_date(text: str) -> str | None:
    """The first 年月日 date in `text` as YYYY-MM-DD, or None."""
    match = _DATE.search(text)
    if not match:
        return None
    try:
        year, month, day = (_cn_number(g) for g in match.groups())
    except (KeyError, ValueError):
        return None
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def extract(text: str) -> dict[str, str]:
    """The fields found in `text` (doc_number, recipient, issuer, date); absent fields are left out."""
    found: dict[str, str] = {}
    lines = _lines(text)
    head, tail = lines[:8], lines[-8:]
    if match := _DOC_NUMBER.search("\n".join(head)):
        found["doc_number"] = re.sub(r"\s+", "", match.group())
    if match := _ADDRESSEE.search("\n".join(head)):
        found["recipient"] = match.group(1)
    for i in range(len(tail) - 1, -1, -1):
        date = iso_date(tail[i]) if len(tail[i]) <= 20 else None
        if date:
            found["date"] = date
            if i > 0 and _ISSUER_END.search(tail[i - 1]) and len(tail[i - 1]) <= 40:
                found["issuer"] = tail[i - 1]
            break
    return found
