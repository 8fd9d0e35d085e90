"""BM25 terms (jieba, NFKC, stop words, user dictionaries), script folding and exact-anchor matching."""

from __future__ import annotations

from qa.exact import anchors, copied_core, exact_score, squash
from qa.text import Terms, find_user_dicts, in_script, is_traditional


def test_terms_fold_width_and_case_and_drop_stopwords_and_punctuation():
    terms = Terms()
    assert terms("５Ｇ覆盖哪些区域？") == terms("5g覆盖哪些区域?")
    tokens = terms("4G用户占全市移动电话的比例是多少？")
    assert "4g" in tokens and "比例" in tokens
    assert not {"的", "是", "多少", "？", "?"} & set(tokens)
    assert terms("？！。，") == [] and terms("的了吗") == []


def test_a_texts_script_is_told_and_converted_both_ways():
    simplified = "4G网络已基本全市覆盖，4G用户达3252万号，占全市移动电话的87%。"
    traditional = "4G網絡已基本全市覆蓋，4G用戶達3252萬號，佔全市移動電話的87%。"
    assert not is_traditional([simplified]) and is_traditional([traditional])
    assert not is_traditional(["5G", "IDC", "2019年6月3日"])  # no Han characters to change
    # Most of the texts decide: a Simplified corpus quoting a Traditional document stays Simplified.
    assert not is_traditional([simplified, simplified, traditional]) and is_traditional([traditional, traditional])
    assert in_script(traditional, traditional=False) == simplified
    assert in_script(simplified, traditional=True) == traditional
    assert in_script(simplified, traditional=False) == simplified
    assert in_script("廢后", traditional=True) == "廢后"  # already Traditional: not converted again (廢後)


def test_search_mode_emits_sub_words():
    tokens = Terms()("城市网格化管理")
    assert {"城市", "管理"} <= set(tokens)


def test_user_dictionary_keeps_domain_terms_whole(tmp_path, corpus_dir):
    plain = Terms()
    dicts = find_user_dicts(corpus_dir)
    assert dicts, "the default corpus ships a domain dictionary"
    with_dict = Terms(dicts)
    assert "一网通办" in with_dict("全面推进一网通办")
    assert with_dict.fingerprint() != plain.fingerprint()
    # A dictionary belongs to its Terms instance: the plain one is unaffected.
    assert plain("全面推进一网通办") == Terms()("全面推进一网通办")


def test_anchors_pick_figures_identifiers_quotes_and_latin():
    assert anchors("4G用户达3252万号是真的吗") == ["4g", "3252万号"]
    assert anchors("沪经信建〔2019〕15号说了什么")[0] == "沪经信建〔2019〕15号"
    assert "139m" in anchors("平均接入带宽139M")
    assert "一网通办" in anchors("“一网通办”进展如何")
    assert "i-shanghai" in anchors("i-Shanghai 覆盖多少场所")
    assert anchors("智慧城市顶层设计有什么安排") == []


def test_exact_score():
    passage = squash("4G用户达3252万号，占全市移动电话的87%。")
    assert exact_score(anchors("3252万号"), copied_core("3252万号"), passage) == 1.0
    assert exact_score(anchors("占全市移动电话的87%吗"), None, passage) == 1.0
    assert exact_score(anchors("644万户"), None, passage) == 0.0
    core = copied_core("占全市移动电话的比例是多少")
    assert core == "占全市移动电话的比例"
    assert exact_score([], core, passage) == 0.0
    assert exact_score([], copied_core("4G用户达3252万号，占全市移动电话"), passage) == 1.0
