"""qa.metadata: 文号, title, addressee, issuer and date read from a 公文's own text, and how qa.corpus merges them."""

from __future__ import annotations

import json

import pytest

import qa.metadata
from qa.corpus import load_corpus
from qa.metadata import extract, iso_date

BODY = "经研究，现将有关事项通知如下：\n一、请各单位认真落实。\n二、截至2019年5月31日，已完成87%。\n"


def _doc(*, head: str = "", sign_off: str = "上海市经济和信息化委员会\n2019年6月3日\n", after: str = "") -> str:
    return head + BODY + sign_off + after


@pytest.mark.parametrize(
    "line",
    [
        "沪经信建〔2019〕15号",
        "沪经信建[2019]15号",
        "沪经信建（2019）15号",
        "沪经信建(2019)15号",
        "沪经信建【2019】15号",
        "沪经信建〔2019〕第15号",
        "沪经信建［2019］15号",
    ],
)
def test_doc_number_brackets_and_di(line):
    assert extract(_doc(head=f"{line}\n蔡小庆代表：\n"))["doc_number"] == line


def test_doc_number_after_a_web_label_or_before_the_signer():
    assert (
        extract(_doc(head="索引号：SH0100-2019-1\n发文字号：沪交委〔2019〕218号\n"))["doc_number"] == "沪交委〔2019〕218号"
    )
    assert extract(_doc(head="沪府〔2020〕1号      签发人：张三\n"))["doc_number"] == "沪府〔2020〕1号"


def test_a_doc_number_quoted_in_the_title_or_body_is_not_the_documents():
    head = "上海市发展和改革委员会关于转发《某某的通知》（发改运行〔2019〕1077号）的通知\n各区发展改革委：\n"
    text = _doc(head=head) + "根据《某办法》（沪府〔2018〕3号）执行。\n"
    assert "doc_number" not in extract(text)
    assert extract(text)["title"] == head.splitlines()[0]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("蔡小庆代表：", "蔡小庆代表"),
        ("张丽委员：", "张丽委员"),
        ("各区人民政府，市政府各委、办、局：", "各区人民政府，市政府各委、办、局"),
        ("各街道办事处、华泾镇人民政府，区政府各委、办、局:", "各街道办事处、华泾镇人民政府，区政府各委、办、局"),
    ],
)
def test_recipient_lines(line, expected):
    assert extract(_doc(head=f"关于某事的通知\n{line}\n"))["recipient"] == expected


def test_a_body_line_ending_in_a_colon_is_not_an_addressee():
    text = "关于加强本市社区卫生服务的指导意见\n为深化改革，现提出如下意见：\n一、总体目标：\n" + BODY
    assert "recipient" not in extract(text)


@pytest.mark.parametrize(
    ("sign_off", "issuer"),
    [
        ("上海市经济和信息化委员会\n2019年6月3日\n", "上海市经济和信息化委员会"),
        ("上海市规划和自然资源局　2019年6月3日\n", "上海市规划和自然资源局"),
        ("上海市药品监督管理局        2019年6月3日\n", "上海市药品监督管理局"),
        ("上海市水务局（上海市海洋局）\n（盖章）\n2019年6月3日\n", "上海市水务局（上海市海洋局）"),
        ("上海市财政局（章）\n2019年6月3日\n", "上海市财政局"),
        ("上海市浦东新区人民政府办公室\n2019年6月3日（盖章）\n", "上海市浦东新区人民政府办公室"),
    ],
)
def test_issuer_before_beside_or_under_a_seal(sign_off, issuer):
    found = extract(_doc(sign_off=sign_off))
    assert found["issuer"] == issuer and found["date"] == "2019-06-03"


def test_joint_issuers_are_left_out_not_halved():
    found = extract(_doc(head="关于某事的通知\n各区：\n", sign_off="上海市财政局\n上海市教育委员会\n2019年6月3日\n"))
    assert "issuer" not in found and found["date"] == "2019-06-03"


def test_issuer_from_the_title_when_the_sign_off_has_none():
    found = extract("上海市住房和城乡建设管理委员会关于加装电梯的通知\n各区：\n" + BODY + "本通知自2021年1月1日起施行。\n")
    assert found["issuer"] == "上海市住房和城乡建设管理委员会"
    assert "date" not in found  # 2021年1月1日 is in a sentence of the body, not a sign-off


@pytest.mark.parametrize(
    ("written", "iso"),
    [
        ("2019年6月3日", "2019-06-03"),
        ("2019年06月03日", "2019-06-03"),
        ("2019 年 6 月 3 日", "2019-06-03"),
        ("二〇一九年六月三日", "2019-06-03"),
        ("二○一九年十二月三十一日", "2019-12-31"),
        ("二零一八年十月九日", "2018-10-09"),
        ("二〇二一年十一月二十日", "2021-11-20"),
        ("二〇二〇年三月十二日", "2020-03-12"),
    ],
)
def test_sign_off_dates_in_arabic_and_chinese_numerals(written, iso):
    assert iso_date(written) == iso
    assert extract(_doc(sign_off=f"上海市人民政府\n{written}\n"))["date"] == iso


@pytest.mark.parametrize("text", ["2019年2月30日", "2019年13月1日", "二〇一九年十十月一日", "12019年6月3日", "没有日期"])
def test_not_a_date(text):
    assert iso_date(text) is None


@pytest.mark.parametrize(
    "after",
    [
        "（联系人：李明　　联系电话：23112288）\n相关文章\n",
        "抄送：市政协提案委员会，市政府办公厅。\n上海市人民政府办公厅　　2019年6月5日印发\n",
        "（此件公开发布）\n【打印本页】　【关闭窗口】\n",
        "发布时间：2019年6月10日　来源：市经济信息化委\n分享到：\n",
    ],
)
def test_only_the_sign_off_date_counts(after):
    found = extract(_doc(after=after))
    assert found["date"] == "2019-06-03" and found["issuer"] == "上海市经济和信息化委员会"


def test_absent_fields_are_absent():
    assert extract(BODY) == {}
    assert extract("") == {}
    found = extract("关于加强本市社区卫生服务的指导意见\n" + BODY)
    assert set(found) == {"title"}


def test_titles_one_line_two_lines_markdown_and_letterhead():
    assert extract("沪府办发（2020）8号\n上海市人民政府办公厅关于复工复产的通知\n各区：\n" + BODY)["title"] == (
        "上海市人民政府办公厅关于复工复产的通知"
    )
    two = "上海市市场监督管理局关于进一步做好全市小微企业\n登记注册便利化工作的通知\n各区市场监管局：\n" + BODY
    assert extract(two)["title"] == "上海市市场监督管理局关于进一步做好全市小微企业\n登记注册便利化工作的通知"
    split_de = "上海市人民政府关于印发上海市某某管理办法\n的通知\n各区人民政府：\n" + BODY
    assert extract(split_de)["title"] == "上海市人民政府关于印发上海市某某管理办法\n的通知"
    markdown = (
        "# 上海市人民政府文件\n\n沪府〔2019〕20号\n\n## 上海市人民政府关于同意调整行政区划的批复\n\n浦东新区人民政府：\n\n"
    )
    found = extract(markdown + BODY)
    assert found["title"] == "上海市人民政府关于同意调整行政区划的批复" and found["recipient"] == "浦东新区人民政府"
    assert "title" not in extract("沪科〔2020〕156号\n赵敏代表：\n" + BODY)  # the letter states no title


def test_values_are_substrings_of_the_text():
    text = _doc(head="沪经信建〔2019〕15号\n上海市经济和信息化委员会关于某某建议\n的答复\n蔡小庆代表：\n")
    found = extract(text)
    assert set(found) == {"doc_number", "title", "recipient", "issuer", "date"}
    assert all(value in text for key, value in found.items() if key != "date")


def test_a_megabyte_document_reads_only_bounded_ends(monkeypatch):
    seen: list[int] = []
    lines = qa.metadata._lines
    monkeypatch.setattr(qa.metadata, "_lines", lambda text: seen.append(len(text)) or lines(text))
    middle = "上海市人民政府关于另一件事的通知\n上海市人民政府\n2001年1月1日\n" + "正文句子，没有元数据。\n" * 90_000
    text = (
        _doc(head="沪经信建〔2019〕15号\n关于某事的答复\n蔡小庆代表：\n")
        + middle
        + "上海市经济和信息化委员会\n2019年6月3日\n"
    )
    assert len(text) > 1_000_000
    found = extract(text)
    assert found["date"] == "2019-06-03" and found["doc_number"] == "沪经信建〔2019〕15号"
    assert seen and max(seen) <= max(qa.metadata.HEAD_CHARS, qa.metadata.TAIL_CHARS)
    # One line of a megabyte: the bounds cut it, and a line cut by a bound is never read as a header or sign-off.
    assert extract("正" * 1_000_000 + "2019年6月3日") == {}


def test_corpus_fills_fields_from_the_text_and_a_sidecar_wins(tmp_path):
    text = (
        "沪府办发（2020）8号\n上海市人民政府办公厅关于复工复产\n工作的通知\n各区人民政府：\n"
        + BODY
        + "上海市人民政府办公厅\n二〇二〇年三月十二日\n"
    )
    (tmp_path / "plain.txt").write_text(text, "utf-8")
    (tmp_path / "given.txt").write_text(text, "utf-8")
    (tmp_path / "given.meta.json").write_text(json.dumps({"issuer": "市府办", "title": "复工复产通知"}, ensure_ascii=False))
    (tmp_path / "letterhead.md").write_text("# 上海市人民政府文件\n\n" + text, "utf-8")
    docs = {d.doc_id: d for d in load_corpus(tmp_path)}
    plain = docs["plain"]
    assert (plain.doc_number, plain.recipient, plain.issuer, plain.date) == (
        "沪府办发（2020）8号",
        "各区人民政府",
        "上海市人民政府办公厅",
        "2020-03-12",
    )
    assert plain.title == "上海市人民政府办公厅关于复工复产工作的通知"  # the two title lines shown as one
    assert docs["given"].issuer == "市府办" and docs["given"].title == "复工复产通知"
    assert docs["given"].doc_number == "沪府办发（2020）8号"  # what the sidecar leaves out still comes from the text
    assert docs["letterhead"].title == plain.title  # the text's title before the Markdown heading (the letterhead)
