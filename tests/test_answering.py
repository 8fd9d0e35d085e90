"""The answer layer: question analysis, short answers, the fitted models, and the answers the API gives."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

from qa.answering.extractive import NO_ANSWER
from qa.answering.model import Cascade, LinearModel, load_models, save_models
from qa.answering.question import analyse_question
from qa.answering.short import short_span
from qa.evaluation.answer_fit import span_grade
from qa.evaluation.runner import em_f1
from qa.exact import squash
from qa.text import Terms
from tests.conftest import LETTER_ID


@pytest.mark.parametrize(
    ("question", "kind", "unit"),
    [
        ("4G用户占全市移动电话的比例是多少", "number", "%"),
        ("安贞门站有几个出入口？", "number", "个"),
        ("这份答复是哪一年发出的", "date", None),
        ("这份答复是写给谁的", "person", None),
        ("5G覆盖哪些区域", "list", None),
        ("为什么要建设城市大脑", "reason", None),
        ("如何推进一网通办", "method", None),
        ("這份答覆是寫給誰的", "person", None),  # Traditional script is folded first
    ],
)
def test_question_type_and_unit(question, kind, unit):
    info = analyse_question(question)
    assert (info.kind, info.unit) == (kind, unit)


@pytest.mark.parametrize(
    ("question", "sentence", "short"),
    [
        ("《战国无双3》是由哪两个公司合作开发的？", "《战国无双3》是由光荣和ω-force合作开发的动作游戏。", "光荣和ω-force"),
        ("过海隧道巴士935线现时使用几辆巴士？", "本线于2001年开办，现时使用6辆巴士。", "6辆"),
        ("《无字碑歌》拍摄于哪一年？", "《无字碑歌》是一部古装历史剧，于2004年拍摄，2006年首播。", "2004年"),
        ("4G用户占全市移动电话的比例是多少", "全市4G用户达到3252万户，占全市移动电话用户的87%。", "87%"),
    ],
)
def test_short_span_finds_the_answer_words(question, sentence, short):
    squashed = squash(sentence)
    span = short_span(analyse_question(question), squashed)
    assert span is not None and squashed[span[0]:span[1]] == squash(short)


def test_short_span_falls_back_to_the_sentence_without_any_alignment():
    sentence = squash("医疗领域完成医联工程建设。")
    start, end = short_span(analyse_question("上海有几个机场"), sentence)
    assert sentence[start:end] == "医疗领域完成医联工程建设"


@pytest.mark.parametrize(
    ("question", "sentence", "short"),
    [
        # The alignment alone cuts "约35公" here.
        ("日落大道总长多少公里？", "日落大道从洛杉矶市中心延伸到太平洋海岸公路，长约35公里。", "35公里"),
        ("全市家庭光纤宽带用户有多少户", "全市家庭光纤宽带用户达到644万户，平均接入带宽达到130M。", "644万户"),
        ("4G用户占全市移动电话的比例是多少", "全市4G用户达到3252万户，占全市移动电话用户的87%。", "87%"),
    ],
)
def test_the_span_ranker_cuts_the_answer_out_of_the_sentence(question, sentence, short):
    from qa.answering.compose import rank_spans
    from qa.answering.spans import Words, question_words

    terms, info, squashed = Terms(), analyse_question(question), squash(sentence)
    (start, end), _ = rank_spans(info, squashed, Words(*terms.segment(squashed)), question_words(terms, info),
                                 load_models().span)
    assert squashed[start:end] == squash(short)


def test_span_candidates_and_features_are_well_formed():
    from qa.answering.spans import ALL_FEATURES, Words, candidates, features

    terms = Terms()
    for question, sentence in [("上海有几个机场", "医疗领域完成医联工程建设。"), ("为什么", "，，"), ("谁", "x")]:
        info, text = analyse_question(question), squash(sentence)
        words = Words(*terms.segment(text))
        found = candidates(info, text, words)
        assert all(0 <= s < e <= len(text) for s, e in found)
        assert bool(found) == any(ch.isalnum() for ch in text)  # only punctuation: nothing to cut
        rows = features(info, text, words, found, frozenset(), {"医疗": 1})
        assert rows.shape == (len(found), len(ALL_FEATURES)) and np.isfinite(rows).all()
    # The per-sentence tables come from the words: words of another text are refused, not misread.
    with pytest.raises(ValueError, match="cover"):
        candidates(analyse_question("谁"), "医疗领域", Words(("医疗",), ("n",)))


def test_traditional_and_simplified_questions_give_the_same_terms():
    terms = Terms()
    assert terms("5G網絡覆蓋哪些區域") == terms("5G网络覆盖哪些区域")
    assert terms.query("5G網絡覆蓋哪些區域").terms == tuple(terms("5G网络覆盖哪些区域"))


def test_entities_do_not_run_the_part_of_speech_hmm(monkeypatch):
    """jieba's POS Viterbi costs milliseconds per unknown character: a 512-character question took 2 s."""
    import jieba.posseg

    def forbidden(*args, **kwargs):
        raise AssertionError("the part-of-speech HMM must not run at query time")

    monkeypatch.setattr(jieba.posseg, "viterbi", forbidden)
    rng = random.Random(0)
    question = "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(512))
    terms = Terms()
    assert terms.query(question).entities  # unknown words count as names the passages must contain
    assert "北京市" in terms.query("北京市家庭光纤宽带用户有多少户").entities


def test_cmrc_em_f1_follow_the_official_definition():
    assert em_f1("光荣和ω-force", ["光荣和ω-force"]) == (1.0, 1.0)
    assert em_f1("「2004年」", ["2004年"]) == (1.0, 1.0)  # punctuation is ignored
    em, f1 = em_f1("2004年拍摄", ["2004年"])
    assert em == 0.0 and f1 == pytest.approx(2 * (5 / 7) * 1 / (5 / 7 + 1))
    assert em_f1("", ["北京"]) == (0.0, 0.0)


def test_the_span_ranker_learns_that_only_the_exact_answer_earns_the_top_grade():
    gold = ["德安府（今湖北省境）", "德安府"]
    grades = {span: span_grade(*em_f1(span, gold)) for span in ("德安府", "藩德安府", "德安府(今湖北省", "今湖北省", "前燕")}
    assert grades["德安府"] == 10  # exact against one of the gold answers
    # one character off scores F1 ≥ 0.85 yet stays below the exact answer, and partial overlaps are graded by F1
    assert 10 > grades["德安府(今湖北省"] >= grades["藩德安府"] > grades["今湖北省"] > grades["前燕"] == 0
    assert span_grade(*em_f1("京北", ["北京"])) == 9  # every character right, in the wrong order: F1 1.0, not exact


def test_the_span_ranker_is_fitted_on_those_grades(fake_service):
    from qa.evaluation.answer_fit import span_data, span_examples
    from qa.evaluation.datasets import Query

    examples = span_examples(fake_service, [Query("q", "4G用户占全市移动电话的比例是多少", answers=("87%",))])
    data = span_data(examples, {})
    assert examples and data.relevance.max() == 10  # the gold "87%" is a candidate of its sentence
    first = data.candidates[0]
    text = examples[0].sentence.squashed
    assert [int(g) for g in data.relevance[: len(first)]] == [span_grade(*em_f1(text[a:b], ("87%",))) for a, b in first]


def test_answer_models_round_trip(tmp_path):
    shipped = load_models()
    path = tmp_path / "models.json"
    save_models(shipped, path)
    again = load_models(path)
    rows = np.random.default_rng(0).normal(size=(4, len(shipped.sentence.features)))
    assert np.allclose(again.sentence.logits(rows), shipped.sentence.logits(rows), atol=1e-4)
    assert set(again.decision) == {"hybrid", "dense", "bm25"} and again.thresholds == shipped.thresholds
    assert shipped.span is not None and again.span is not None
    span_rows = np.random.default_rng(1).normal(size=(5, len(shipped.span.features)))
    assert np.allclose(again.span.logits(span_rows), shipped.span.logits(span_rows))


def test_a_cascaded_span_ranker_returns_a_full_score_and_round_trips(tmp_path):
    shipped = load_models()
    assert shipped.span is not None
    cascaded = shipped.span.with_cascade(Cascade(first_trees=5, keep=3))
    rows = np.random.default_rng(2).normal(size=(40, len(shipped.span.features)))
    full = shipped.span.logits(rows)
    first = shipped.span.logits(rows, trees=5)
    best, score = cascaded.best(rows)
    # The winner is among the 3 best by the first trees, and its score is the whole model's.
    assert best in np.argsort(-first)[:3]
    assert score == pytest.approx(full[best])
    assert score == pytest.approx(max(full[np.argsort(-first)[:3]]))
    # With no more rows than it keeps, the cascade is plain argmax.
    assert cascaded.best(rows[:3]) == (int(np.argmax(full[:3])), pytest.approx(float(np.max(full[:3]))))
    path = tmp_path / "models.json"
    save_models(dataclasses.replace(shipped, span=cascaded), path)
    again = load_models(path)
    assert again.span is not None and again.span.cascade == Cascade(5, 3)
    assert again.span.best(rows) == (best, pytest.approx(score))


def test_a_damaged_span_ranker_is_a_clear_error(tmp_path):
    from qa.errors import ModelError

    path = tmp_path / "models.json"
    save_models(load_models(), path)
    (tmp_path / "span_ranker.txt").write_text("tree\nnot a model", encoding="utf-8")
    with pytest.raises(ModelError, match="answer models"):
        load_models(path)


def test_a_damaged_models_file_is_a_clear_error(tmp_path):
    from qa.errors import ModelError

    path = tmp_path / "models.json"
    path.write_text("{", encoding="utf-8")
    with pytest.raises(ModelError, match="answer models"):
        load_models(path)


def test_linear_model_is_a_standardised_dot_product():
    model = LinearModel(("a", "b"), np.array([2.0, -1.0]), 0.5, np.array([1.0, 0.0]), np.array([2.0, 1.0]))
    assert model.logits(np.array([[3.0, 1.0]]))[0] == pytest.approx(2.0 * 1.0 - 1.0 + 0.5)


def test_short_answer_is_a_verbatim_span_of_the_document(fake_service):
    doc = fake_service.document("sheitc-2019-15")
    answered = 0
    for question in ["4G用户占全市移动电话的比例是多少", "全市家庭光纤宽带用户有多少户", "这份答复是写给谁的",
                     "答复的发文日期是哪天", "5G覆盖哪些区域", "代表提的建议叫什么名字"]:
        answer = fake_service.with_settings(abstain_thresholds={"hybrid": 0.0}).ask(question, 5).answer
        if answer.short is not None:
            answered += 1
            assert doc.text[answer.short.start:answer.short.end] == answer.short.text
            assert any(s.start <= answer.short.start and answer.short.end <= s.end for s in answer.spans)
            assert answer.short.text.count("《") == answer.short.text.count("》")
    assert answered >= 3


def test_the_span_ranker_can_be_switched_off(fake_service):
    """QA_SHORT_ANSWER_RANKER=false: the alignment heuristic cuts the short answer, still a verbatim span."""
    doc = fake_service.document("sheitc-2019-15")
    questions = ["4G用户占全市移动电话的比例是多少", "全市家庭光纤宽带用户有多少户", "5G覆盖哪些区域",
                 "今年完成了多少公里信息架空线入地和合杆整治", "智慧城市顶层设计有什么安排"]
    shorts = {}
    for ranked in (True, False):
        service = fake_service.with_settings(abstain_thresholds={"hybrid": 0.0}, short_answer_ranker=ranked)
        shorts[ranked] = [service.ask(q, 5).answer.short for q in questions]
    for short in shorts[False]:
        assert short is None or doc.text[short.start:short.end] == short.text
    assert [s and s.text for s in shorts[True]] != [s and s.text for s in shorts[False]]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "short"),
    [
        ("4G用户占全市移动电话的比例是多少", "87%"),
        ("全市家庭光纤宽带用户有多少户", "644万户"),
        ("这份答复是写给谁的", "蔡小庆"),
    ],
)
def test_real_short_answers(real_service, question, short):
    answer = real_service.ask(question, 5).answer
    assert answer.answerable and answer.short is not None and short in answer.short.text


@pytest.mark.slow
@pytest.mark.parametrize(
    "question", ["上海的GDP是多少", "北京市家庭光纤宽带用户有多少户", "2017年底全市家庭光纤宽带用户有多少户"]
)
def test_near_misses_are_declined_with_a_chinese_reason(real_service, question):
    answer = real_service.ask(question, 5).answer
    assert not answer.answerable and answer.short is None and answer.spans == []
    assert answer.reason and any("\u4e00" <= ch <= "\u9fff" for ch in answer.reason)


@pytest.mark.parametrize(
    ("question", "field"),
    [("这份答复是写给谁的", "recipient"), ("发文单位是哪个", "issuer"), ("文号是多少", "doc_number"),
     ("答复的发文日期是哪天", "date"), ("5G覆盖哪些区域", None),
     # Traditional script is folded first.
     ("這封答覆函的文號是什麼", "doc_number"), ("這份答覆是幾月幾號發出的", "date"), ("這份答覆是寫給誰的", "recipient"),
     ("新的5G套餐是几月几号发布的", None)],  # released, not issued: not the document's date
)
def test_metadata_questions_are_recognised(question, field):
    from qa.answering.metadata import asked_field

    assert asked_field(question) == field


@pytest.mark.slow
def test_metadata_answers_quote_the_value_where_the_text_states_it(real_service):
    doc = real_service.document("sheitc-2019-15")
    for question, value in [("这份答复是写给谁的", "蔡小庆代表"), ("答复的发文日期是哪天", "2019年6月3日")]:
        answer = real_service.ask(question, 5).answer
        assert answer.answerable and answer.short is not None and answer.short.text == value
        assert doc.text[answer.short.start:answer.short.end] == value
        assert all(doc.text[s.start:s.end] == s.text for s in answer.spans)


def test_the_encoder_reads_a_question_in_its_corpus_script(settings, fake_encoder, corpus_dir):
    """A Traditional-script question over a Simplified corpus is embedded as the Simplified question is, and the
    reverse: the dense scores are the same whichever script the user types, and the noise floor they are measured
    against is found with probes in the corpus's script."""
    import opencc

    from qa.indexer import offtopic_probes
    from qa.service import QAService
    from qa.text import in_script

    simplified, traditional = "4G用户占全市移动电话的比例是多少", "4G用戶佔全市移動電話的比例是多少"

    def dense_scores(service, question):
        return [(h.passage.id, h.dense.score) for h in service.search(question, 5, "dense").hits]

    service = QAService.start(settings, encoder=fake_encoder)
    assert dense_scores(service, traditional) == dense_scores(service, simplified)

    letter = corpus_dir / "sheitc-2019-15.txt"
    letter.write_text(opencc.OpenCC("s2t").convert(letter.read_text(encoding="utf-8")), encoding="utf-8")
    calls: list[list[str]] = []
    original = fake_encoder.encode_queries
    fake_encoder.encode_queries = lambda texts: calls.append(list(texts)) or original(texts)
    service = QAService.start(settings.updated(index_dir=settings.index_dir.with_name("index-traditional")),
                              encoder=fake_encoder)
    # The noise floor's off-topic probes are read in the corpus's script too.
    assert [in_script(probe, traditional=True) for probe in offtopic_probes()] in calls
    calls.clear()
    assert dense_scores(service, simplified) == dense_scores(service, traditional)
    assert [traditional] in calls and [simplified] not in calls


def test_only_the_head_of_a_long_query_is_embedded(settings, fake_encoder):
    """A transformer's cost grows with every token: 512 random characters took 190 ms to embed."""
    from qa.service import QAService

    seen: list[str] = []
    original = fake_encoder.encode_queries

    def spy(texts):
        seen.extend(texts)
        return original(texts)

    service = QAService.start(settings.updated(**{"query_embed_chars": 64}), encoder=fake_encoder)
    fake_encoder.encode_queries = spy
    rng = random.Random(1)
    question = "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(512))
    result = service.ask(question, 5)
    assert seen and max(len(t) for t in seen) <= 64
    assert result.search.hits  # BM25 and exact matching still read the whole question


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_an_answer_embeds_the_question_once(settings, fake_encoder, mode):
    """The sentence similarity reuses the vector the request's search made; with the query cache off, asking
    again embeds again (nothing but that cache may spare a repeated question its encoding)."""
    from qa.service import QAService

    service = QAService.start(settings.updated(query_cache_size=0), encoder=fake_encoder)
    for _ in range(2):
        before = fake_encoder.calls
        assert service.ask("5G覆盖哪些区域", 5, mode).answer.evidence  # the sentences were scored
        assert fake_encoder.calls == before + 1


def test_a_place_the_corpus_never_mentions_is_declined_whatever_the_model_says(fake_service):
    answer = fake_service.ask("杭州的5G覆盖哪些区域", 5).answer
    assert not answer.answerable and answer.confidence < fake_service.answer_threshold("hybrid")
    assert answer.reason == "资料中没有提到问题里的“杭州”，无法据此回答。"


def test_a_place_mentioned_elsewhere_in_the_corpus_is_left_to_the_model(real_service):
    """嘉定 is in the letter's 5G passage only, not in the 4G question's top passage, the one answered from.
    (The real model: the decision weighs sentence similarities, which the fake embedder's scale makes near 0.)"""
    service = real_service.with_settings(abstain_thresholds={"hybrid": 0.0}, answer_passages=1)
    response = service.ask("嘉定的4G用户占全市移动电话的比例是多少", 5)
    assert "嘉定" not in response.search.hits[0].passage.text and "嘉定" in service.document(LETTER_ID).text
    assert response.answer.confidence > 0.0 and "嘉定" not in (response.answer.reason or "")


@pytest.mark.parametrize(
    ("question", "sentence"),
    [("这座城市有几辆公交车", "全市共有公交车1.7万辆，其中新能源车辆约8000辆（2018年）。"),
     ("该公司的总部位于哪个城市", "该公司由张三创办，总部位于深圳市，是“城市之光”项目的发起城市。"),
     ("《红楼梦》的作者是谁", "《红楼梦》又称《石头记》，由曹雪芹所著"), ("几辆", "")],
)
def test_span_edge_features_match_their_per_span_definitions(question, sentence):
    """spans.features reads these from per-offset tables; each must equal its plain definition on every span."""
    from qa.answering import spans

    terms = Terms()
    info = analyse_question(question)
    text = squash(sentence)
    words = spans.Words(*terms.segment(text)) if text else spans.Words((), ())
    found = spans.candidates(info, text, words)
    rows = spans.features(info, text, words, found, spans.question_words(terms, info), {})
    column = {name: rows[:, i].tolist() for i, name in enumerate(spans.ALL_FEATURES)}
    padded, unit, head = text + " ", info.unit or "", info.head or ""
    expected = {
        "has_unit": [bool(unit) and unit in text[a:b] for a, b in found],
        "bad_start": [padded[a] in spans._BAD_START for a, _ in found],
        "bad_end": [text[b - 1] in spans._BAD_END for _, b in found],
        "ends_with_head": [bool(head) and text.endswith(head, a, b) for a, b in found],
        "starts_with_introducer": [text.startswith(spans._INTRODUCERS, a) for a, _ in found],
        "closed_after": [padded[b] in spans._CLOSING for _, b in found],
        "opened_before": [a > 0 and text[a - 1] in spans._OPENING for a, _ in found],
    }
    assert found or not text
    for name, values in expected.items():
        assert column[name] == [float(v) for v in values], name


def test_only_decisive_names_decline_outright():
    from qa.answering.decision import decisive

    named = ["北京", "嘉定", "2017", "东西"]
    assert decisive(named, np.array([0.0, 3.0, 5.0, 0.0])) == ["北京", "2017", "东西"]
    assert decisive(named, np.array([1.0, 1.0, 1.0, 1.0])) == ["2017"]


@pytest.mark.parametrize(
    ("question", "sentence", "match"),
    [
        ("食品安全信息追溯平台覆盖了多少家企业", "发布了包括22家专业服务商的服务目录。", 1.0),
        ("工业互联网专项资金一共安排了多少亿元", "发布包括8个工业互联网平台的服务目录。", -1.0),
        ("4G用户占全市移动电话的比例是多少", "4G用户达3252万号，占全市移动电话的87％。", 1.0),  # full-width, squashed
        ("食品安全信息追溯平台覆盖了多少家企业", "覆盖22 家企业。", 1.0),
        ("市民云的日活跃用户有多少", "市民云实名用户超过千万。", 0.0),  # no unit named: nothing to match
    ],
)
def test_a_sentence_matches_the_unit_the_question_names(question, sentence, match):
    from qa.answering.features import unit_match

    assert unit_match(analyse_question(question), squash(sentence)) == match


def test_the_best_sentence_share_is_a_softmax_share():
    from qa.answering.decision import share

    assert share(np.array([0.0, 2.0, 0.0])) == pytest.approx(np.exp(2) / (np.exp(2) + 2))
    assert share(np.array([800.0, -800.0])) == pytest.approx(1.0)  # no overflow on a ranker's large scores


def test_a_decisive_rule_declines_but_keeps_the_models_order():
    from qa.answering.decision import capped

    assert capped(0.99, 0.37) == 0.3699 and capped(0.2, 0.37) == 0.2  # declined; a lower score stays lower
    assert capped(0.9, 0.0) == 0.0  # a threshold of 0 answers everything, as configured


@pytest.mark.parametrize(("question", "answerable"), [("北京市家庭光纤宽带用户有多少户", False),
                                                      ("4G用户占全市移动电话的比例是多少", True)])
def test_with_abstention_off_every_question_is_answered_with_the_confidence_and_decision_served(
        real_service, question, answerable):
    """What `qa eval` asks with: the answer text of a declined question is scored, and its confidence is the served
    one (a decisive missing name sits just below the threshold, not at 0 as with a threshold of -inf)."""
    served = real_service.ask(question, 5).answer
    scored = real_service.with_settings(abstain=False).ask(question, 5).answer
    assert served.answerable == answerable and (served.text == NO_ANSWER) != answerable
    assert (scored.confidence, scored.answerable, scored.reason) == (served.confidence, served.answerable, served.reason)
    assert scored.text != NO_ANSWER and scored.spans


def test_a_low_threshold_is_shown_with_its_digits():
    from qa.answering.decision import DECISION_FEATURES, Evidence, reason

    ev = Evidence(np.zeros(len(DECISION_FEATURES)), ())
    assert "置信度 0.0015，低于 0.0048" in reason(ev, 0.0015, 0.0048)
    assert "置信度 0.35，低于 0.47" in reason(ev, 0.3512, 0.4712)


def test_a_name_missing_from_the_answers_passage_is_the_decline_reason():
    from qa.answering.decision import DECISION_FEATURES, Evidence, reason

    ev = Evidence(np.zeros(len(DECISION_FEATURES)), (), missing_at_answer=("2019",))
    assert reason(ev, 0.1, 0.5) == "最接近答案的段落中没有提到问题里的“2019”，无法据此回答。"


def test_a_missing_unit_is_the_decline_reason():
    from qa.answering.decision import DECISION_FEATURES, Evidence, reason

    ev = Evidence(np.zeros(len(DECISION_FEATURES)), (), (), "家")
    assert "“家”" in reason(ev, 0.1, 0.5)


def test_a_number_in_no_passage_carries_the_asked_unit_and_the_decline_says_so(fake_service):
    """The letter counts nothing in 辆 (its 电子站牌 come in 根): the unit is missing, and a decline names it."""
    from qa.answering.decision import DECISION_FEATURES

    service = fake_service.with_settings(abstain_thresholds={"hybrid": 2.0})  # decline whatever the model says
    answer = service.ask("建成了多少辆太阳能电子站牌", 5).answer  # 1700余根
    assert answer.evidence[DECISION_FEATURES.index("unit_missing")] == 1.0
    assert answer.reason == "检索到的段落里没有以“辆”计的数字，无法据此回答。"
    found = service.ask("至四季度末累计完成多少处4G网络弱覆盖区优化", 5).answer  # 629处
    assert found.evidence[DECISION_FEATURES.index("unit_missing")] == 0.0


def test_near_misses_are_answered_from_the_passages_left_when_the_answer_is_taken_away(fake_service):
    """The decision fit's near misses: the answerer sees only passages without a gold answer, ranked from 1."""
    from qa.evaluation.answer_fit import near_miss_answers
    from qa.evaluation.datasets import Query

    service = fake_service.with_settings()
    seen, vectors = [], []
    answerer = service.state.answerer

    def recording(question, hits, mode, vector=None):
        seen.append(hits)
        vectors.append(vector)
        return answerer(question, hits, mode, vector)

    service.state = dataclasses.replace(service.state, answerer=recording)
    question = Query("q", "4G用户占全市移动电话的比例是多少", answers=("87%",))
    assert "87%" in service.search(question.text, 5, "hybrid").hits[0].passage.text
    answers = near_miss_answers(service, [question], "hybrid")
    assert len(answers) == 1 and "87%" not in answers[0].text
    assert seen[0] and all("87%" not in h.passage.text for h in seen[0])
    assert [h.rank for h in seen[0]] == list(range(1, len(seen[0]) + 1))
    assert np.array_equal(vectors[0], service.state.retriever.embed_query(question.text))  # the search's own


def test_sentence_similarities_must_fit_the_passages_sentences():
    """A similarity array from another split of the passage would score the wrong sentences: refused."""
    from qa.answering.features import analyse_passage, candidate_features
    from qa.schema import Hit, Passage

    terms = Terms()
    text = "本市已建成5G基站。覆盖虹桥商务区等区域。"
    hits = [Hit(Passage("p1", "d", text, 0, len(text), "", 1), 1.0, 1)]
    question = "5G覆盖哪些区域"
    q_terms = list(dict.fromkeys(terms.query(question).terms))
    args = (analyse_question(question), q_terms, np.ones(len(q_terms)), hits, lambda p: analyse_passage(p, terms))
    _, rows = candidate_features(*args, [np.array([0.1, 0.9])])
    assert rows.shape[0] == 2 and rows[:, -1].tolist() == [0.1, 0.9]
    with pytest.raises(ValueError, match="2 sentences"):
        candidate_features(*args, [np.array([0.5])])


_FEATURES_SCRIPT = """
import hashlib, numpy as np
from qa.answering.features import analyse_passage, candidate_features
from qa.answering.question import analyse_question
from qa.schema import Hit, Passage
from qa.text import Terms
text = open({path!r}, encoding="utf-8").read()
terms = Terms()
hits = [Hit(Passage(f"p{{i}}", "d", line, 0, len(line), "", i + 1), 1.0 / (i + 1), i + 1)
        for i, line in enumerate(line for line in text.splitlines() if len(line) > 100)]
question = "本市4G用户达到多少万号，占全市移动电话用户的比例是多少"
q_terms = list(dict.fromkeys(terms.query(question).terms))
_, rows = candidate_features(analyse_question(question), q_terms, np.linspace(1, 3, len(q_terms)), hits[:3],
                             lambda p: analyse_passage(p, terms),
                             [np.linspace(0.8, 0.9, len(analyse_passage(h.passage, terms).sentences)) for h in hits[:3]])
print(hashlib.sha256(rows.tobytes()).hexdigest())
"""


def test_sentence_features_do_not_depend_on_the_hash_seed():
    """Sets iterate in an order that changes with PYTHONHASHSEED; a feature summed in that order differed in its
    last bit between runs, enough for LightGBM to fit different sentence models from the same questions."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    letter = Path(__file__).parent / "fixtures" / "corpus" / "sheitc-2019-15.txt"
    script = _FEATURES_SCRIPT.format(path=str(letter))
    digests = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")}
    assert len(digests) == 1 and next(iter(digests)).strip()


def test_a_name_the_answers_own_passage_lacks_is_evidence(real_service):
    """2019 stands in the letter (the sign-off's date), not in the passage the IDC count is quoted from
    ("截至2018年底")."""
    from qa.answering.decision import DECISION_FEATURES

    service = real_service.with_settings(abstain=False, answer_max_sentences=1)  # the quoted sentence is the best
    at = DECISION_FEATURES.index("names_missing_at_answer")
    other_year = service.ask("2019年底电信运营企业的IDC机架数达到多少", 5).answer
    assert "IDC" in other_year.spans[0].text and "2019" not in service.passage(other_year.spans[0].passage_id).text
    assert other_year.evidence[at] == 1.0
    same_year = service.ask("截至2018年底全市家庭光纤宽带用户有多少户", 5).answer
    assert "644万户" in same_year.text and same_year.evidence[at] == 0.0


def test_each_answer_of_a_weak_follow_up_gets_the_vector_of_its_own_question(fake_service):
    """A weak follow-up is answered alone and, rewritten, again: each answer scores sentences with the embedding of
    the question it is given, the one its own search made."""
    from qa.conversation import Turn

    service = fake_service.with_settings(query_cache_size=0)
    seen = []
    decider = service.state.decider

    def recording(question, hits, mode, vector=None):
        seen.append((question, vector))
        return decider(question, hits, mode, vector)

    service.state = dataclasses.replace(service.state, decider=recording)
    service.ask("由谁负责？", 5, history=[Turn("智慧城市顶层设计有什么安排")])
    assert [q for q, _ in seen] == ["由谁负责？", "智慧城市顶层设计由谁负责？"]
    for question, vector in seen:
        assert np.array_equal(vector, service.state.retriever.embed_query(question))


def _aligned_by_counting_down(context: str, text: str, start: int, tail: bool) -> tuple[int, int, int] | None:
    """The alignment's search as first written: every length from the longest down, for every skip."""
    from qa.answering import short

    best = None
    for skip in range(min(short._MAX_SKIP, len(context) - 1) + 1):
        rest = context[: len(context) - skip].rstrip("的是了之") if tail else context[skip:].lstrip("的是了之")
        for k in range(min(len(rest), short._MAX_CONTEXT), 0, -1):
            if best and k - 2 * skip <= best[1] - 2 * best[2]:
                break
            piece = rest[-k:] if tail else rest[:k]
            if k == 1 and piece in (short._LEAD if tail else short._TRAIL):
                break
            pos = text.rfind(piece) if tail else text.find(piece, start)
            if pos >= 0:
                best = (pos + k if tail else pos, k, skip)
                break
    return best


def test_the_alignment_finds_what_trying_every_length_finds():
    """The question's contexts are located by a binary search over their length (a piece found means its own
    pieces are found too); on random texts over a small alphabet, where partial matches abound, it must agree
    with trying every length from the longest down."""
    from qa.answering.question import QuestionInfo
    from qa.answering.short import context_spans

    rng = random.Random(3)
    alphabet = "上海市的是了之在5G网络覆盖，。"
    for _ in range(3000):
        left, right, text = ("".join(rng.choices(alphabet, k=rng.randint(0, n))) for n in (16, 16, 40))
        info = QuestionInfo(text="", squashed="", kind="other", left=left, right=right, unit=None, head="", anchors=())
        found_left = _aligned_by_counting_down(left, text, 0, tail=True) if left else None
        found_right = (_aligned_by_counting_down(right, text, found_left[0] if found_left else 0, tail=False)
                       if right else None)
        got_left, got_right, _ = context_spans(info, text)
        assert got_left == ((found_left[0] - found_left[1], found_left[0]) if found_left else None), (left, text)
        assert got_right == ((found_right[0], found_right[0] + found_right[1]) if found_right else None), (right, text)


@pytest.mark.parametrize(
    ("sentence", "cut", "shown"),
    [
        ("您提出的《关于加快推进我市智慧城市建设的建议》的代表建议收悉", "关于加快推进我市智慧城市建设的建议》",
         "《关于加快推进我市智慧城市建设的建议》"),
        ("您提出的《关于加快推进我市智慧城市建设的建议》的代表建议收悉", "《关于加快推进我市智慧城市建设的建议",
         "《关于加快推进我市智慧城市建设的建议》"),
        ("推动“新基建”发展", "“新基建", "“新基建”"),
        ("位于「战史演武」&「争霸演武」模式", "战史演武」&「争霸演武", "「战史演武」&「争霸演武」"),
        ("硕塞（1629年－1655年），朝鲜族人", "），朝鲜族", "朝鲜族"),  # nothing to pair with: trimmed
        ("座堂（Cathedral Church of St. Paul）", "座堂（Cathedral Church of St.", "座堂（Cathedral Church of St."),
        ("长约35公里。", "35公里", "35公里"),
        ("条件⑴年满18岁", "⑴", "⑴"),  # NFKC reads it "(1)": balanced in the document's characters, it stays whole
    ],
)
def test_the_short_answers_marks_pair_up(sentence, cut, shown):
    from qa.answering.short import balanced

    at = sentence.find(cut)
    start, end = balanced(sentence, at, at + len(cut))
    assert sentence[start:end] == shown


def test_pairing_the_marks_never_changes_the_scored_characters():
    """Widening or trimming only adds or drops marks and separators, which the CMRC score ignores."""
    from qa.answering.short import balanced
    from qa.evaluation.runner import _cmrc_chars

    rng = random.Random(5)
    for _ in range(3000):
        text = "".join(rng.choices("《》“”「」()（）⑴，、甲乙丙1", k=rng.randint(1, 20)))
        a = rng.randrange(len(text))
        b = rng.randint(a + 1, len(text))
        start, end = balanced(text, a, b)
        assert 0 <= start <= end <= len(text)
        assert _cmrc_chars(text[start:end]) == _cmrc_chars(text[a:b])
