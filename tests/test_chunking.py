"""Chunking: exact offsets, section paths, header/sign-off/boilerplate, length bounds."""

from __future__ import annotations

import pytest

from qa.chunking import (
    BODY_SECTION,
    HEADER_SECTION,
    SIGNOFF_SECTION,
    ChunkSettings,
    chunk_document,
    pack_sentences,
    sentence_spans,
)
from qa.config import Settings
from qa.corpus import load_corpus, load_document
from qa.indexer import chunk_settings
from tests.conftest import FIXTURE_CORPUS, FIXTURES, LETTER_ID

DEFAULTS = chunk_settings(Settings())


@pytest.fixture(scope="module")
def example():
    return load_document(FIXTURES / "structured_letter.txt")


def test_offsets_round_trip_on_the_real_letter(letter_text):
    (doc,) = [d for d in load_corpus(FIXTURE_CORPUS) if d.doc_id == LETTER_ID]
    assert doc.text == letter_text
    passages = chunk_document(doc, DEFAULTS)
    assert passages
    for p in passages:
        assert doc.text[p.start : p.end] == p.text
        assert p.text.strip() == p.text and p.text
        assert len(p.text) <= DEFAULTS.max_chars
    # Passages never overlap and appear in document order.
    assert all(a.end <= b.start for a, b in zip(passages, passages[1:], strict=False))
    assert len({p.id for p in passages}) == len(passages)


def test_real_letter_structure(letter_text):
    doc = load_document(FIXTURE_CORPUS / f"{LETTER_ID}.txt")
    passages = chunk_document(doc, DEFAULTS)
    header = passages[0]
    assert header.kind == "header" and header.section == HEADER_SECTION
    assert "沪经信建〔2019〕15号" in header.text and "蔡小庆代表" in header.text
    five_g = next(p for p in passages if "虹桥商务区" in p.text)
    assert five_g.section == "一、本市智慧城市建设主要工作进展情况 > 1.信息基础设施能级不断提升，服务能力显著增强"
    assert five_g.paragraph == 7
    # Headings are metadata, not passages of their own.
    assert not any(p.text.startswith("一、") for p in passages)


def test_sections_header_signoff_and_boilerplate(example):
    passages = chunk_document(example, DEFAULTS)
    by_text = {p.text.split("。")[0]: p for p in passages}
    header = passages[0]
    assert header.kind == "header" and header.section == HEADER_SECTION
    assert header.text.endswith("张三代表：") and "示科函〔2021〕7号" in header.text
    assert passages[1].section == BODY_SECTION
    assert by_text["截至2020年底，全市共有公园188座，比上年增加12座"].section == "一、工作进展 > 1.公园数量持续增加"
    # A numbered paragraph that carries its own text is labelled by its first clause.
    assert by_text["2.管理水平不断提升"].section == "一、工作进展 > 2.管理水平不断提升"
    assert by_text["（一）加强规划引导"].section == "二、下一步工作 > （一）加强规划引导"
    # The （二） heading replaces （一） at the same level.
    digital = next(p for p in passages if "客流实时监测" in p.text)
    assert digital.section == "二、下一步工作 > （二）推进数字化管理"
    signoff = passages[-1]
    assert signoff.kind == "signoff" and signoff.section == SIGNOFF_SECTION
    assert "2021年5月20日" in signoff.text and "特此答复" in signoff.text
    assert not any("相关文章" in p.text or "打印" in p.text for p in passages)
    for p in passages:
        assert example.text[p.start : p.end] == p.text


def test_paragraph_numbers_count_non_empty_lines(example):
    passages = chunk_document(example, DEFAULTS)
    lines = [line.strip() for line in example.text.splitlines() if line.strip()]
    for p in passages:
        assert lines[p.paragraph - 1].startswith(p.text.splitlines()[0][:10])


def test_long_paragraphs_split_at_sentence_ends_within_the_limit(example):
    small = ChunkSettings(max_chars=40, boilerplate_patterns=DEFAULTS.boilerplate_patterns)
    passages = chunk_document(example, small)
    for p in passages:
        assert example.text[p.start : p.end] == p.text
        if p.kind == "body" and len(p.text) > 40:
            # Only a single sentence may exceed the limit, and it stays whole.
            assert len(sentence_spans(p.text)) == 1
    body = [p for p in passages if p.kind == "body"]
    ends = {p.text[-1] for p in body if len(p.text) <= 40}
    assert ends <= set("。！？；;!?”）") | {"："}


def test_overlap_repeats_the_previous_last_sentence():
    text = "甲乙丙丁。" * 6
    spans = sentence_spans(text)
    groups = pack_sentences(spans, max_chars=10, overlap=1)
    assert groups[0] == (0, 10)
    assert groups[1][0] == 5  # starts with the last sentence of the previous group


def test_sentence_spans_keep_closing_quotes_and_trim_space():
    text = " 他说：“好。” 然后走了！ 结束"
    spans = [text[s:e] for s, e in sentence_spans(text)]
    assert spans == ["他说：“好。”", "然后走了！", "结束"]


def test_runaway_sentence_is_split_at_clauses_not_mid_word():
    text = "，".join(["这是一个很长的分句"] * 30) + "。"
    from qa.schema import Document

    doc = Document(doc_id="long", title="t", text=text)
    passages = chunk_document(doc, ChunkSettings(max_chars=50))
    assert len(passages) > 1
    for p in passages:
        assert text[p.start : p.end] == p.text and len(p.text) <= 100
        assert p.text.endswith(("，", "。"))


def test_no_empty_passages_from_blank_or_whitespace_lines():
    from qa.schema import Document

    doc = Document(doc_id="ws", title="t", text="\n\n　　\n正文一句。\r\n\t\n第二句！\n")
    passages = chunk_document(doc, DEFAULTS)
    assert [p.text for p in passages] == ["正文一句。", "第二句！"]
