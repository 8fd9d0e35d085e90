"""What a question asks for: its expected answer type and its shape around the interrogative.

Chinese questions mark what they want with an interrogative phrase:
多少/几 → a number, 哪年/何时 → a date, 谁/哪位 → a person, 哪里 → a place,
哪些 → a list, 为什么 → a reason, 如何/怎么 → a method. The words before and
after that phrase (`left`, `right`) are the context a document sentence
repeats around the answer: "X是由哪两个公司开发的" ↔ "X是由光荣和ω-force开发的".

Everything here is linear in the question's length with a small constant:
the question is at most a few hundred characters and is analysed on every
/ask, so nothing may be quadratic or run jieba's part-of-speech HMM (which
costs milliseconds per character on unknown text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.exact import anchors, squash

# Ordered: the first pattern that matches decides the type.
_TYPES: list[tuple[str, re.Pattern[str]]] = [
    ("date", re.compile(r"哪一?年|何年|哪一?天|何时|什么时[候间]|哪个月|几月|几号|哪个?时期|哪个?朝代|何日|年份|日期")),
    ("number", re.compile(r"多少|几[^乎]|多[大高长久重远深宽厚]|比例|百分之?几|占比|第几")),
    ("person", re.compile(r"谁|哪一?位|何人|什么人|哪个人")),
    ("place", re.compile(r"哪里|哪儿|何处|何地|什么地方|哪个?(国家|城市|省|地区|区域)|哪座")),
    ("reason", re.compile(r"为什么|为何|什么原因|原因是|怎么会")),
    ("method", re.compile(r"如何|怎么|怎样|什么(措施|办法|方式|安排)|哪些(措施|举措|工作)")),
    ("list", re.compile(r"哪些|有什么|包括什么|包含什么")),
    ("entity", re.compile(r"什么|哪[两三四五几]?个|哪种|哪家|哪所|哪部|哪支|哪条|叫什么|名称")),
]
# The interrogative phrase itself (with its measure word), to split the question around.
_WH = re.compile(
    r"哪[一两三四五六七八九十几]?[个位年天些里儿种家国座所条部首名次项类间月支]?|几[个位年天种家次名条项岁月号辆对层]?"
    r"|多少[个位年天种家次名条项岁]?|什么(时候|地方|人|样的?)?|何[时地处人年]?|谁|怎么样?|怎样|如何|为什么|为何"
    r"|多[大高长久重远深宽厚]"
)
_RATIO = re.compile(r"比例|比率|百分之?几|占比|[增长覆盖普及利用]率")
_DEFINITION = re.compile(r"^(?:什么是|何谓|啥是)(.+)$")
# Interrogatives used as modifiers: the noun after them is the answer's head (什么战争 → 伯罗奔尼撒战争).
_ATTRIBUTIVE = frozenset({"什么", "哪个", "哪种", "哪一个"})
_HEAD = re.compile(r"[\u4e00-\u9fff]{2}(?<![的是在了和与于为被把])")
_TAIL = re.compile(r"[吗呢呀啊吧]?[?？。!！\s]*$")
# A measure word right after 几/多少 names the unit the answer carries: 几辆 → 6辆.
_UNIT = re.compile(r"(?:几|多少)([个位年天种家次名条项岁月号辆对层户处套台部座所件]|万|亿)")


@dataclass(frozen=True)
class QuestionInfo:
    text: str
    squashed: str  # qa.exact.squash of the text, without the closing particle
    kind: str  # date | number | person | place | reason | method | list | entity | other
    left: str  # the question before its interrogative phrase (squashed)
    right: str  # the question after it, without the closing particle
    unit: str | None  # the measure word the answer should carry, if the question names one
    head: str  # the noun an attributive interrogative modifies (什么*战争*, 哪个*城市*), which the answer ends with
    anchors: tuple[str, ...]  # figures, identifiers and quoted phrases to match verbatim


def is_interrogative(word: str) -> bool:
    """Whether `word` is an interrogative phrase (哪年, 多少, 什么时候, 谁…)."""
    return _WH.fullmatch(word) is not None


def interrogative_at(question: str) -> int | None:
    """Where the question's first interrogative phrase starts, if it has one."""
    wh = _WH.search(question)
    return wh.start() if wh else None


def answer_type(question: str) -> str:
    for kind, pattern in _TYPES:
        if pattern.search(question):
            return kind
    return "other"


def analyse_question(question: str) -> QuestionInfo:
    q = _TAIL.sub("", squash(question))
    definition = _DEFINITION.match(q)
    if definition:  # 什么是X / 何谓X asks what X is: the same shape as X是什么
        q = definition.group(1) + "是什么"
    wh = _WH.search(q)
    left, right = (q[: wh.start()], q[wh.end() :]) if wh else (q, "")
    measure = _UNIT.search(q)
    # A share is answered by a percentage.
    unit = measure.group(1) if measure else "%" if _RATIO.search(q) else None
    head = _HEAD.match(right) if wh and wh.group() in _ATTRIBUTIVE else None
    return QuestionInfo(
        text=question,
        squashed=q,
        kind=answer_type(q),
        left=left,
        right=right,
        unit=unit,
        head=head.group() if head else "",
        anchors=tuple(anchors(question)),
    )
