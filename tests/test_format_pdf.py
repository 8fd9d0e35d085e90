"""PDFs load as the paragraphs they print: lines reflowed, headers, footers and page numbers gone, pages cited."""

from __future__ import annotations

import bisect
import difflib
import re
from itertools import accumulate
from pathlib import Path

import pytest

from qa.chunking import chunk_document
from qa.config import Settings
from qa.corpus import load_corpus, load_document
from qa.errors import CorpusError
from qa.formats.pdf import PdfLine, drop_running_lines, reflow, sensible_title
from qa.indexer import chunk_settings
from qa.service import QAService
from tests.conftest import LETTER_ID, FakeEncoder, make_client
from tests.documents.pdf import layout, prepare_font, write_pdf

TITLE = "上海市经济和信息化委员会关于《关于加快推进我市智慧城市建设科学可持续性发展的建议》的答复"
CHUNKING = chunk_settings(Settings())
_SPACE = re.compile(r"\s+")


def squeeze(text: str) -> str:
    return _SPACE.sub("", text)


def similarity(a: str, b: str) -> float:
    """Character-level similarity (difflib ratio) of two texts with all whitespace removed."""
    return difflib.SequenceMatcher(None, squeeze(a), squeeze(b), autojunk=False).ratio()


@pytest.fixture(scope="module")
def letter_pdf(tmp_path_factory: pytest.TempPathFactory, letter_text: str) -> Path:
    """The letter printed to a PDF named like the text file, with no sidecar: everything comes from the PDF."""
    path = tmp_path_factory.mktemp("pdf") / f"{LETTER_ID}.pdf"
    write_pdf(path, letter_text, title=TITLE)
    return path


@pytest.fixture(scope="module")
def printed_pages(letter_text: str) -> list[str]:
    """What each page of the letter PDF prints in its body (the generator's own layout), whitespace removed."""
    return [squeeze("".join(line for *_, line in page)) for page in layout(letter_text, prepare_font([letter_text]))]


def test_letter_pdf_loads_as_the_letter(letter_pdf: Path, letter_text: str, printed_pages: list[str]):
    doc = load_document(letter_pdf)
    assert len(printed_pages) >= 3  # several pages: headers, footers and page breaks are really exercised
    assert similarity(doc.text, letter_text) >= 0.98
    assert doc.doc_id == LETTER_ID and doc.title == TITLE  # the PDF's /Title
    assert doc.doc_number == "沪经信建〔2019〕15号" and doc.date == "2019-06-03"  # read from the text itself
    assert len(doc.page_starts) == len(printed_pages) and doc.page_starts[0] == 0


def test_reflow_restores_every_paragraph(letter_pdf: Path, letter_text: str):
    """Each hard-wrapped paragraph is one line again: the chunker sees the same paragraphs as in the .txt."""
    assert load_document(letter_pdf).text.splitlines() == letter_text.splitlines()


def boundaries(text: str) -> set[int]:
    """Where each paragraph starts, counted in characters of the text without its line breaks."""
    lines = [line for line in text.splitlines() if line.strip()]
    return set(accumulate((len(line) for line in lines[:-1]), initial=0))


def test_paragraphs_spaced_apart_are_restored(tmp_path: Path, letter_text: str):
    path = tmp_path / "spaced.pdf"
    write_pdf(path, letter_text, style="spaced")
    assert load_document(path).text.splitlines() == letter_text.splitlines()


def test_unmarked_paragraphs_are_never_merged(tmp_path: Path, letter_text: str):
    """Without indents or spacing, a paragraph ends at a line ending in 。: one whose last sentence happens
    to end at the margin inside a paragraph splits it, but two paragraphs never run together."""
    path = tmp_path / "block.pdf"
    write_pdf(path, letter_text, style="block")
    text = load_document(path).text
    assert squeeze(text) == squeeze(letter_text)
    assert boundaries(letter_text) <= boundaries(text)
    assert len(text.splitlines()) <= len(letter_text.splitlines()) + 5


def test_running_header_footer_and_page_numbers_are_dropped(letter_pdf: Path, printed_pages: list[str]):
    text = load_document(letter_pdf).text
    # The header repeats the document number on every page; the letter's own first line says it once.
    assert text.count("沪经信建〔2019〕15号") == 1 and text.startswith("沪经信建〔2019〕15号\n蔡小庆代表：")
    assert not re.search(r"-\s*\d+\s*-", text)
    for page in range(2, len(printed_pages) + 1):
        assert f"- {page} -" not in text


def test_passages_cite_the_page_they_start_on(letter_pdf: Path, printed_pages: list[str]):
    doc = load_document(letter_pdf)
    passages = chunk_document(doc, CHUNKING)
    assert {p.page for p in passages} == set(range(1, len(printed_pages) + 1))
    # Where each passage starts in the printed pages, found independently of the loader.
    printed = "".join(printed_pages)
    ends = list(accumulate(len(page) for page in printed_pages))
    cursor = 0
    for passage in passages:
        cursor = printed.index(squeeze(passage.text), cursor)
        assert passage.page == bisect.bisect_right(ends, cursor) + 1, passage.text[:30]
    five_g = next(p for p in passages if "虹桥商务区" in p.text)
    assert five_g.page == 1 and passages[-1].page == len(printed_pages)


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("scanned", "no text layer; OCR is not supported"),
        ("encrypted", "is protected with a password"),
        ("empty", "the file is empty (0 bytes)"),
        ("truncated", "is not a readable PDF: it is damaged or truncated"),
        ("text", "its content is a TXT file, not what the extension .pdf says"),
    ],
)
def test_unusable_pdfs_are_errors_naming_the_file(tmp_path: Path, letter_text: str, case: str, reason: str):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    path = corpus / "letter.pdf"
    if case in ("scanned", "encrypted"):
        write_pdf(path, letter_text, title=TITLE, **{case: True})
    elif case == "truncated":
        write_pdf(tmp_path / "whole.pdf", letter_text)
        raw = (tmp_path / "whole.pdf").read_bytes()
        path.write_bytes(raw[: len(raw) // 2])
    else:
        path.write_text("" if case == "empty" else letter_text, encoding="utf-8")
    with pytest.raises(CorpusError) as info:
        load_corpus(corpus)
    assert str(info.value).startswith("letter.pdf: ") and reason in str(info.value)


def test_owner_only_protection_opens(tmp_path: Path, letter_text: str):
    """Encryption with an empty user password (print/copy restrictions only) opens like any PDF."""
    path = tmp_path / "letter.pdf"
    write_pdf(path, letter_text, encrypted=True, user_password="")
    assert similarity(load_document(path).text, letter_text) >= 0.98


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (TITLE, TITLE),
        ("  关于 2019 年\n工作的通知 ", "关于 2019 年 工作的通知"),
        ("untitled", None),
        ("Microsoft Word - 答复.docx", None),
        ("答复.doc", None),
        ("", None),
        (None, None),
        ("---", None),
    ],
)
def test_pdf_title_only_when_it_is_a_title(value: str | None, expected: str | None):
    assert sensible_title(value) == expected


def test_untitled_pdf_takes_its_title_from_the_text(tmp_path: Path):
    path = tmp_path / "notice.pdf"
    write_pdf(path, "关于开展检查的通知\n各区经委：\n现将有关事项通知如下。")  # reportlab writes /Title (untitled)
    assert load_document(path).title == "关于开展检查的通知"


# Reflow on hand-made lines: 12 pt text, left margin 72, right margin 523 (37 characters a line).
def line(text: str, y: float, *, indent: float = 0.0, x1: float | None = None) -> PdfLine:
    return PdfLine(text, 72 + indent, x1 if x1 is not None else 72 + indent + 12 * len(text), y, 12.0)


def full(text: str, y: float, indent: float = 0.0) -> PdfLine:
    return line(text, y, indent=indent, x1=520.0)


def test_block_paragraphs_end_at_a_full_stop():
    """Without first-line indents, a line at the margin ending in 。 closes its paragraph."""
    page = [
        full("第一段的第一行，", 700), line("第一段完。", 680),
        full("第二段写满一行并以句号结束。", 660), full("第三段第一行", 640), line("结束。", 620),
    ]  # fmt: skip
    assert reflow([page])[0] == "第一段的第一行，第一段完。\n第二段写满一行并以句号结束。\n第三段第一行结束。"


def test_indented_paragraphs_continue_past_a_full_stop_at_the_margin():
    """With first-line indents, a sentence that happens to end at the margin does not end the paragraph."""
    page = [
        full("第一段首行缩进，", 700, indent=24), full("一句在行尾结束。", 680), line("下一句。", 660),
        full("第二段开头", 640, indent=24), full("写到行尾。", 620), line("1.这是编号标题", 600),
    ]  # fmt: skip
    assert reflow([page])[0] == "第一段首行缩进，一句在行尾结束。下一句。\n第二段开头写到行尾。\n1.这是编号标题"


def test_reflow_joins_across_pages_and_spaces_latin_words():
    pages = [[full("the network reaches", 700)], [full("every district, 覆盖", 700), line("全市。", 680)]]
    text, starts = reflow(pages)
    assert text == "the network reaches every district, 覆盖全市。"
    assert starts == (0, text.index("every"))


def test_a_paragraph_break_at_a_wider_gap_or_a_short_line():
    page = [
        full("第一段第一行", 700), line("短行", 680), full("第二段", 660), full("紧接", 640),
        full("空一行后的第三段", 606), line("尾", 586),
    ]  # fmt: skip
    assert reflow([page])[0] == "第一段第一行短行\n第二段紧接\n空一行后的第三段尾"


def test_running_lines_and_page_numbers_only_where_they_run():
    def page(number: int, first: str) -> list[PdfLine]:
        footer = ["- 1 -", "第2页", "3"][number - 1]
        body = [
            full(first, 760),
            line("3", 740),
            full(f"第{number}页的正文", 720),
            full("本页末行" + "甲乙丙"[number - 1], 700),
        ]
        return [line("沪经信建〔2019〕15号", 790), *body, line(footer, 60)]

    pages = drop_running_lines([page(1, "沪经信建〔2019〕15号"), page(2, "第二页开头"), page(3, "第三页开头")])
    # The header's text lower on page 1 is the letter's own first line; a "3" inside the body is body text.
    assert [[x.text for x in p] for p in pages] == [
        ["沪经信建〔2019〕15号", "3", "第1页的正文", "本页末行甲"],
        ["第二页开头", "3", "第2页的正文", "本页末行乙"],
        ["第三页开头", "3", "第3页的正文", "本页末行丙"],
    ]


def test_letter_pdf_through_the_api(tmp_path: Path, letter_pdf: Path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / letter_pdf.name).write_bytes(letter_pdf.read_bytes())
    service = QAService.start(Settings(corpus_dir=corpus, index_dir=tmp_path / "index"), encoder=FakeEncoder())
    client = make_client(service)
    passages = client.get("/search", params={"q": "5G覆盖哪些区域"}).json()["passages"]
    top = passages[0]
    assert "虹桥商务区" in top["text"] and top["citation"]["doc_id"] == LETTER_ID and top["citation"]["page"] == 1
    document = client.get(f"/documents/{LETTER_ID}").json()
    assert document["title"] == TITLE and document["pages"] >= 3
    for passage in passages:
        citation = passage["citation"]
        assert document["text"][citation["start"] : citation["end"]] == passage["text"]
