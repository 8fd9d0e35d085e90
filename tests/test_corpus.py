"""Corpus loading: metadata, front matter, and a clear error naming the bad file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.corpus import corpus_fingerprint, load_corpus
from qa.errors import CorpusError
from tests.conftest import LETTER_ID


def _write(directory: Path, name: str, text: str | bytes, meta: dict | None = None) -> Path:
    path = directory / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    if meta is not None:
        (directory / (path.stem + ".meta.json")).write_text(json.dumps(meta, ensure_ascii=False), "utf-8")
    return path


def test_default_corpus_is_the_letter_with_its_metadata(corpus_dir):
    (doc,) = load_corpus(corpus_dir)
    assert doc.doc_id == LETTER_ID
    assert doc.doc_number == "沪经信建〔2019〕15号"
    assert doc.date == "2019-06-03"
    assert doc.issuer == "上海市经济和信息化委员会" and doc.recipient == "蔡小庆代表"
    assert doc.text.startswith("沪经信建〔2019〕15号\n")


def test_adding_a_document_needs_no_code(corpus_dir):
    _write(corpus_dir, "extra.txt", "第二份文件的正文。", {"title": "第二份"})
    _write(corpus_dir, "notes.md", "---\ntitle: 笔记\ndate: 2020-01-02\nauthor: 某人\n---\n# 标题\n正文。\n")
    docs = {d.doc_id: d for d in load_corpus(corpus_dir)}
    assert set(docs) == {LETTER_ID, "extra", "notes"}
    assert docs["notes"].text == "# 标题\n正文。\n"  # front matter is not part of the text
    assert docs["notes"].date == "2020-01-02" and docs["notes"].extra == {"author": "某人"}


@pytest.mark.parametrize(
    ("name", "content", "meta", "reason"),
    [
        ("gbk.txt", "中文".encode("gbk"), {"title": "t"}, "not valid UTF-8"),
        ("empty.txt", " \n\t\n", {"title": "t"}, "empty"),
        ("nometa.txt", "正文。", None, "no metadata"),
        ("notitle.txt", "正文。", {"date": "2020"}, "no 'title'"),
        ("badid.txt", "正文。", {"title": "t", "doc_id": "../etc"}, "doc_id"),
        ("badfront.md", "---\ntitle: [unclosed\n---\n正文", None, "front matter"),
    ],
)
def test_invalid_files_name_the_file(tmp_path, name, content, meta, reason):
    _write(tmp_path, name, content, meta)
    with pytest.raises(CorpusError) as info:
        load_corpus(tmp_path)
    assert info.value.path.name == name
    assert reason in str(info.value)


def test_invalid_metadata_json_names_the_sidecar(tmp_path):
    _write(tmp_path, "a.txt", "正文。")
    (tmp_path / "a.meta.json").write_text("{not json", "utf-8")
    with pytest.raises(CorpusError) as info:
        load_corpus(tmp_path)
    assert info.value.path.name == "a.meta.json"


def test_duplicate_doc_ids_and_empty_folder_are_errors(tmp_path):
    with pytest.raises(CorpusError, match="no documents"):
        load_corpus(tmp_path)
    _write(tmp_path, "a.txt", "正文。", {"title": "t", "doc_id": "same"})
    _write(tmp_path, "b.txt", "正文。", {"title": "t", "doc_id": "same"})
    with pytest.raises(CorpusError, match="used by another file"):
        load_corpus(tmp_path)


def test_fingerprint_changes_with_text_or_metadata(corpus_dir):
    before = corpus_fingerprint(load_corpus(corpus_dir))
    path = corpus_dir / f"{LETTER_ID}.txt"
    path.write_text(path.read_text("utf-8") + "补充。", "utf-8")
    after_text = corpus_fingerprint(load_corpus(corpus_dir))
    meta_path = corpus_dir / f"{LETTER_ID}.meta.json"
    meta = json.loads(meta_path.read_text("utf-8"))
    meta["title"] = "新标题"
    meta_path.write_text(json.dumps(meta, ensure_ascii=False), "utf-8")
    after_meta = corpus_fingerprint(load_corpus(corpus_dir))
    assert len({before, after_text, after_meta}) == 3
