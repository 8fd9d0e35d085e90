"""Word documents, web pages and legacy-encoded text load as the text they carry, and nothing else."""

from __future__ import annotations

import difflib
import io
import re
import zipfile
from pathlib import Path

import docx
import pytest
from docx.enum.style import WD_STYLE_TYPE
from fastapi.testclient import TestClient

from qa.api import create_app
from qa.chunking import chunk_document
from qa.config import Settings
from qa.corpus import load_corpus, load_document
from qa.errors import CorpusError
from qa.indexer import chunk_settings
from qa.service import QAService
from tests.conftest import FakeEncoder
from tests.documents.office import BOILERPLATE, write_docx, write_gbk, write_html

TITLE = "上海市经济和信息化委员会关于《关于加快推进我市智慧城市建设科学可持续性发展的建议》的答复"
CHUNKING = chunk_settings(Settings())


@pytest.fixture(scope="module")
def body(letter_text: str) -> str:
    """The letter without its last line, 相关文章: navigation scraped with it, not part of the letter."""
    lines = letter_text.splitlines()
    assert lines[-1] == "相关文章"
    return "\n".join(lines[:-1])


def similarity(a: str, b: str) -> float:
    squeeze = re.compile(r"\s+")
    return difflib.SequenceMatcher(None, squeeze.sub("", a), squeeze.sub("", b), autojunk=False).ratio()


def sections(doc) -> set[str]:
    return {p.section for p in chunk_document(doc, CHUNKING)}


def test_letter_as_docx_loads_with_its_headings(tmp_path: Path, body: str):
    path = tmp_path / "letter.docx"
    write_docx(path, body, title=TITLE)
    doc = load_document(path)
    assert similarity(doc.text, body) >= 0.98
    assert doc.title == TITLE and doc.doc_number == "沪经信建〔2019〕15号"
    marked = {doc.text[offset:].split("\n", 1)[0]: level for offset, level in doc.headings}
    assert marked["一、本市智慧城市建设主要工作进展情况"] == 1 and marked["（一）关于加强智慧城市顶层设计"] == 2
    assert "二、对提案建议的答复 > （一）关于加强智慧城市顶层设计" in sections(doc)


def test_docx_title_tables_and_chinese_heading_styles(tmp_path: Path):
    document = docx.Document()
    document.styles.add_style("标题 2", WD_STYLE_TYPE.PARAGRAPH)
    document.add_paragraph("智慧城市建设情况", style="Title")
    document.add_paragraph("一、工作进展", style="Heading 1")
    document.add_paragraph("全市共有公园188座。")
    document.add_paragraph("（一）公园数量", style="标题 2")
    table = document.add_table(rows=2, cols=2)
    for (r, c), text in {(0, 0): "区", (0, 1): "公园数", (1, 0): "浦东新区", (1, 1): "42座"}.items():
        table.cell(r, c).text = text
    document.add_paragraph("1. 加强规划引导。", style="List Number")  # typed number: kept
    path = tmp_path / "parks.docx"
    document.save(str(path))
    doc = load_document(path)
    assert doc.text.split("\n") == [
        "智慧城市建设情况", "一、工作进展", "全市共有公园188座。", "（一）公园数量", "区", "公园数", "浦东新区", "42座",
        "1. 加强规划引导。",
    ]  # fmt: skip
    assert doc.title == "智慧城市建设情况"  # no core-properties title: the Title-style paragraph
    assert [level for _, level in doc.headings] == [1, 2]


def test_letter_as_html_loads_the_article_only(tmp_path: Path, body: str):
    path = tmp_path / "letter.html"
    write_html(path, body, title=TITLE)
    doc = load_document(path)
    assert similarity(doc.text, body) >= 0.98
    assert doc.title == TITLE
    assert [chrome for chrome in (*BOILERPLATE, "相关文章") if chrome in doc.text] == []
    assert "一、本市智慧城市建设主要工作进展情况 > 1.信息基础设施能级不断提升，服务能力显著增强" in sections(doc)


def test_gbk_page_and_marked_up_headings(tmp_path: Path, body: str):
    gbk = tmp_path / "letter.htm"
    write_html(gbk, body, title=TITLE, encoding="gbk")
    assert similarity(load_document(gbk).text, body) >= 0.98
    page = tmp_path / "parks.html"
    page.write_text(
        "<html><head><title>公园管理 - 示例市政府</title></head><body><nav><a>网站首页</a></nav>"
        "<div class='content'><h2>工作进展</h2><p>全市共有公园188座，比上年增加12座。</p>"
        "<h3>下一步工作</h3><p>我们将编制公园体系规划，到2025年新增公园100座。</p></div>"
        "<footer>版权所有</footer></body></html>",
        encoding="utf-8",
    )
    doc = load_document(page)
    assert doc.text.split("\n")[0] == "工作进展" and "网站首页" not in doc.text and "版权所有" not in doc.text
    assert doc.title == "公园管理"
    assert [(doc.text[o:].split("\n", 1)[0], level) for o, level in doc.headings] == [("工作进展", 2), ("下一步工作", 3)]


@pytest.mark.parametrize(
    "encode",
    [
        lambda s: s.encode("gbk"),
        lambda s: s.encode("utf-8-sig"),
        lambda s: s.encode("utf-16"),  # with its byte-order mark
        lambda s: b"\xfe\xff" + s.encode("utf-16-be"),
    ],
    ids=["gbk", "utf-8-bom", "utf-16", "utf-16-be"],
)
def test_text_encodings(tmp_path: Path, letter_text: str, encode):
    path = tmp_path / "letter.txt"
    path.write_bytes(encode(letter_text))
    assert load_document(path).text == letter_text


@pytest.mark.parametrize(
    ("text", "encoding"),
    [("关于加强城市公园管理的建议", "gbk"), ("全市共有公园188座。", "gb18030"), ("關於加強城市公園管理的建議", "big5")],
)
def test_short_legacy_encoded_text(tmp_path: Path, text: str, encoding: str):
    """charset-normalizer alone reads 10-character GBK text right 41% of the time; these must be exact."""
    path = tmp_path / "short.txt"
    if encoding == "gbk":
        write_gbk(path, text)
    else:
        path.write_bytes(text.encode(encoding))
    assert load_document(path).text == text


def _broken_docx(tmp_path: Path, body: str) -> bytes:
    write_docx(tmp_path / "ok.docx", body)
    raw = (tmp_path / "ok.docx").read_bytes()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, data[: len(data) // 2] if item.filename == "word/document.xml" else data)
    return out.getvalue()


@pytest.mark.parametrize("case", ["truncated", "damaged-xml", "empty", "html-renamed"])
def test_unreadable_files_are_named_errors(tmp_path: Path, body: str, case: str):
    path = tmp_path / "broken.docx"
    write_docx(path, body)
    raw = path.read_bytes()
    path.write_bytes(
        {
            "truncated": raw[: len(raw) // 2],
            "damaged-xml": _broken_docx(tmp_path, body),
            "empty": b"",
            "html-renamed": b"<!DOCTYPE html><html><body><p>not a docx</p></body></html>",
        }[case]
    )
    (tmp_path / "ok.docx").unlink(missing_ok=True)
    with pytest.raises(CorpusError) as info:
        load_corpus(tmp_path)
    assert str(info.value).startswith("broken.docx: ")
    assert {"empty": "empty", "html-renamed": "HTML"}.get(case, "Word document" if case == "damaged-xml" else "") in str(
        info.value
    )


def test_html_and_docx_letters_through_the_api(tmp_path: Path, body: str):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_html(corpus / "letter-web.html", body, title=TITLE)
    write_docx(corpus / "letter-word.docx", body, title=TITLE)
    service = QAService.start(Settings(corpus_dir=corpus, index_dir=tmp_path / "index"), encoder=FakeEncoder())
    client = TestClient(create_app(service=service))
    passages = client.get("/search", params={"q": "5G覆盖哪些区域", "k": 4}).json()["passages"]
    seen = set()
    for passage in passages:
        citation = passage["citation"]
        text = client.get(f"/documents/{citation['doc_id']}").json()["text"]
        assert text[citation["start"] : citation["end"]] == passage["text"]
        if "虹桥商务区" in passage["text"]:
            seen.add(citation["doc_id"])
    assert seen == {"letter-web", "letter-word"}
    assert "虹桥商务区" in passages[0]["text"]
