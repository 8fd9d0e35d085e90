"""Corpus loading: metadata, front matter, and a clear error naming the bad file."""

from __future__ import annotations

import json
import os
import time
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
        ("binary.txt", b"\x00\x01\x02\xff", {"title": "t"}, "not a supported document format"),
        ("zero.txt", b"", {"title": "t"}, "0 bytes"),
        ("renamed.txt", b"%PDF-1.7\n", {"title": "t"}, "a PDF file, not what the extension .txt says"),
        ("empty.txt", " \n\t\n", {"title": "t"}, "empty"),
        ("notitle.txt", "正文。", {"title": " "}, "'title' must be a non-empty string"),
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


def test_errors_name_the_file_relative_to_the_corpus_folder(tmp_path):
    _write(tmp_path, "bin.txt", b"\x00\x01", {"title": "t"})
    with pytest.raises(CorpusError) as info:
        load_corpus(tmp_path)
    assert str(info.value).startswith("bin.txt: its content is not") and str(tmp_path) not in str(info.value)
    assert info.value.path == tmp_path / "bin.txt"  # the full path stays available to code


def test_symlink_outside_the_corpus_folder_is_refused(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("QA_ADMIN_KEYS=very-secret", "utf-8")
    (corpus / "env.txt").symlink_to("/proc/self/environ")
    _write(corpus, "env.meta.json", json.dumps({"title": "环境"}))
    with pytest.raises(CorpusError, match="outside the corpus folder") as info:
        load_corpus(corpus)
    assert str(info.value).startswith("env.txt: ")
    (corpus / "env.txt").unlink()
    (corpus / "env.meta.json").unlink()
    _write(corpus, "a.txt", "正文。", {"title": "a"})
    (corpus / "a.meta.json").unlink()
    (corpus / "a.meta.json").symlink_to(secret)  # a sidecar is a corpus file too
    with pytest.raises(CorpusError, match="outside the corpus folder") as info:
        load_corpus(corpus)
    assert info.value.path.name == "a.meta.json"


def test_symlink_to_a_file_inside_the_folder_is_fine(tmp_path):
    _write(tmp_path, "original.txt", "正文。", {"title": "原件", "doc_id": "original"})
    (tmp_path / "alias.txt").symlink_to(tmp_path / "original.txt")
    _write(tmp_path, "alias.meta.json", json.dumps({"title": "别名"}))
    assert [d.doc_id for d in load_corpus(tmp_path)] == ["alias", "original"]


def test_unreadable_and_special_files_are_corpus_errors(tmp_path):
    (tmp_path / "gone.txt").symlink_to(tmp_path / "deleted.txt")
    _write(tmp_path, "gone.meta.json", json.dumps({"title": "t"}))
    with pytest.raises(CorpusError, match=r"^gone.txt: cannot be read \(No such file or directory\)$"):
        load_corpus(tmp_path)
    (tmp_path / "gone.txt").unlink()
    os.mkfifo(tmp_path / "pipe.txt")  # must not hang the build waiting for a writer
    _write(tmp_path, "pipe.meta.json", json.dumps({"title": "t"}))
    with pytest.raises(CorpusError, match="^pipe.txt: is not a regular file$"):
        load_corpus(tmp_path)
    (tmp_path / "pipe.txt").unlink()
    (tmp_path / "loop.txt").symlink_to(tmp_path / "loop.txt")
    _write(tmp_path, "loop.meta.json", json.dumps({"title": "t"}))
    with pytest.raises(CorpusError, match="^loop.txt: cannot be read"):
        load_corpus(tmp_path)


def _bomb(levels: int) -> str:
    lines = ["l0: &l0 [x,x,x,x,x,x,x,x,x]"]
    lines += [f"l{i}: &l{i} [{','.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "---\ntitle: 炸弹\n" + "\n".join(lines) + "\n---\n正文。\n"


def test_yaml_alias_bomb_is_rejected_without_expanding(tmp_path):
    bomb = _bomb(10)  # 9**10 strings, about 4 GB, if expanded
    assert len(bomb.encode()) < 600
    _write(tmp_path, "bomb.md", bomb)
    started = time.perf_counter()
    with pytest.raises(CorpusError, match="aliases") as info:
        load_corpus(tmp_path)
    assert time.perf_counter() - started < 1 and info.value.path.name == "bomb.md"


@pytest.mark.parametrize(
    ("front", "reason"),
    [
        ("title: t\nbase: &b 1\ncopy: *b", "aliases"),  # even a harmless alias: metadata never needs one
        ("title: t\nnote: " + "长" * 6000, "larger than"),
        ("title: t\ndeep: " + "[" * 5000 + "]" * 5000, "nested too deeply"),
        ("title: t\ndate: 2020-13-45", "invalid value"),
        ("title: !!python/object:os.system echo", "not valid YAML"),
    ],
)
def test_hostile_front_matter_is_a_clear_error(tmp_path, front, reason):
    _write(tmp_path, "x.md", f"---\n{front}\n---\n正文。\n")
    with pytest.raises(CorpusError, match=reason) as info:
        load_corpus(tmp_path)
    assert info.value.path.name == "x.md"


def test_a_user_dictionary_linked_outside_the_corpus_folder_is_refused(tmp_path):
    from qa.text import Terms, find_user_dicts

    secret = tmp_path / "secret.txt"
    secret.write_text("管理员密码 99 n\n", encoding="utf-8")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "words.dict").symlink_to(secret)
    with pytest.raises(CorpusError, match="outside the corpus folder"):
        Terms(find_user_dicts(corpus))
    (corpus / "words.dict").unlink()
    (corpus / "words.dict").write_text("一网通办 50 n\n", encoding="utf-8")
    assert "一网通办" in Terms(find_user_dicts(corpus))("推进一网通办")
