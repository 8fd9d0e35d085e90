"""The chat widget end to end in headless Chromium against a real uvicorn server on 127.0.0.1.

Tests on the real model are marked slow; those that only need the pages (docs offline, the
demo page with keys, the widget's rendering of crafted answers) run on the fake embedder.
Screenshots are written to the test's temporary folder (pytest --basetemp=DIR keeps them).

The widget asks POST /ask/stream (Server-Sent Events: passages, tokens, answer); crafted answers are
served to it as such a stream.

Waits go through locators, or wait_for_function with an arrow function: Playwright polls a plain
string predicate with eval(), which the pages' Content-Security-Policy (no 'unsafe-eval') blocks
after the first try, so such a wait fails whenever the page is not ready at once.
"""

from __future__ import annotations

import json
import shutil

import pytest
from playwright.sync_api import expect

from qa.api import create_app
from qa.config import Settings
from qa.evaluation.scripted_llm import Script, ScriptedLLM
from tests.conftest import FIXTURE_CORPUS, FakeEncoder, serving

pytestmark = [pytest.mark.browser]
slow = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync"]


KEY = "widget-test-key-0001"
DEMO = "public-demo-key-0001"
ADMIN = "admin-key-never-published"


@pytest.fixture(scope="module")
def server(real_service):
    with serving(create_app(service=real_service)) as base:
        yield base


@pytest.fixture(scope="module")
def page_service(tmp_path_factory):
    """The real pipeline on the letter with the fake embedder: enough for pages and the widget's plumbing."""
    from qa.service import QAService

    root = tmp_path_factory.mktemp("widget")
    shutil.copytree(FIXTURE_CORPUS, root / "corpus")
    return QAService.start(Settings(corpus_dir=root / "corpus", index_dir=root / "index"), encoder=FakeEncoder())


def _serve(service, **overrides):
    return serving(create_app(settings=service.settings.updated(**overrides), service=service))


@pytest.fixture(scope="module")
def page_server(page_service):
    with _serve(page_service) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    if not shutil.which("chromium") and not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); CI installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


STREAM = "/ask/stream"


def sse_events(text: str) -> list[tuple[str, dict]]:
    """(event, JSON data) of a text/event-stream body, comments skipped."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields = [line.split(":", 1) for line in block.split("\n") if line and not line.startswith(":")]
        name = next((v.strip() for k, v in fields if k == "event"), "message")
        data = "\n".join(v[1:] if v.startswith(" ") else v for k, v in fields if k == "data")
        if data:
            events.append((name, json.loads(data)))
    return events


def sse_body(*events: tuple[str, dict]) -> str:
    return "".join(f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n" for name, data in events)


def _stream_of(answer: dict) -> str:
    """What /ask/stream sends for `answer` from the extractive answerer: its passages, then the answer."""
    passages = {k: answer[k] for k in ("question", "index_version", "passages", "took_ms")}
    return sse_body(("passages", {**passages, "resolved_question": answer.get("resolved_question", "q")}),
                    ("answer", answer))


def _fulfil_stream(body: str):
    return lambda route: route.fulfill(body=body, content_type="text/event-stream")


def _ask(page, question: str) -> dict:
    """Ask through the widget; the `answer` event's body, or the JSON body of an error response."""
    with page.expect_response(lambda r: r.url.endswith(STREAM)) as info:
        page.fill(".qaw-input", question)
        page.press(".qaw-input", "Enter")
    response = info.value
    if response.status != 200:
        return response.json()
    answers = [data for name, data in sse_events(response.text()) if name == "answer"]
    assert len(answers) == 1, response.text()
    return answers[0]


def _chat(browser, base: str) -> tuple:
    """A new page on the demo chat, ready for input, and the bodies of the /ask/stream requests it makes."""
    page = browser.new_page()
    sent = _sent(page)
    page.goto(base + "/")
    page.wait_for_selector(".qaw-input")
    return page, sent


def _sent(page) -> list[dict]:
    """The JSON bodies of every /ask/stream request the page makes from now on."""
    bodies: list[dict] = []
    page.on("request", lambda r: bodies.append(json.loads(r.post_data)) if r.url.endswith(STREAM) else None)
    return bodies


@slow
def test_ask_see_answer_click_citation_see_highlight(server, browser, tmp_path):
    shots = tmp_path
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.goto(server + "/")
    page.wait_for_selector(".qaw-chip")
    assert "5G覆盖哪些区域" in page.inner_text(".qaw-suggest")
    body = _ask(page, "5G覆盖哪些区域")
    answer = page.wait_for_selector(".qaw-answer")
    assert "虹桥商务区" in answer.inner_text() and page.locator(".qaw-marker").count() >= 1
    # The short answer, when the service gives one, comes first and in bold.
    bold = page.locator(".qaw-short strong")
    if body["short_answer"]:
        assert bold.count() == 1 and bold.inner_text() == body["short_answer"]["text"]
    else:
        assert bold.count() == 0

    # The passage citation: the highlighted span is exactly the passage text.
    top = body["passages"][0]
    page.click(f".qaw-source[data-passage-id='{top['id']}']")
    page.wait_for_selector(".qaw-dialog:not([hidden]) mark")
    assert page.inner_text(".qaw-dialog mark") == top["text"]
    assert top["citation"]["section"] in page.inner_text(".qaw-path")
    assert "沪经信建〔2019〕15号" in page.inner_text(".qaw-path")
    page.screenshot(path=str(shots / "widget-desktop-source.png"))
    page.keyboard.press("Escape")
    assert page.locator(".qaw-dialog").is_hidden()

    # The answer's [1] marker: the highlighted span is the quoted sentence.
    page.click(".qaw-marker >> nth=0")
    page.wait_for_selector(".qaw-dialog:not([hidden]) mark")
    assert page.inner_text(".qaw-dialog mark") == body["answer_citations"][0]["text"]
    page.keyboard.press("Escape")
    page.screenshot(path=str(shots / "widget-desktop.png"), full_page=True)
    page.close()


@slow
def test_unanswerable_shows_no_answer_state(server, browser):
    page = browser.new_page()
    page.goto(server + "/")
    body = _ask(page, "上海出租车的起步价是多少")
    assert body["answerable"] is False
    node = page.wait_for_selector(".qaw-noanswer")
    assert "没有找到相关内容" in node.inner_text()
    if body["reason"]:
        assert body["reason"] in node.inner_text()
    page.close()


@slow
def test_oversized_question_and_server_down_show_errors(server, browser):
    page = browser.new_page()
    page.goto(server + "/")
    page.wait_for_selector(".qaw-input")
    response = _ask(page, "问" * 600)
    assert response["error"] == "invalid_request"
    assert "问题太长了" in page.wait_for_selector(".qaw-error").inner_text()
    page.route("**/ask/stream", lambda route: route.abort())
    page.fill(".qaw-input", "5G覆盖哪些区域")
    page.press(".qaw-input", "Enter")
    page.locator(".qaw-error").nth(1).wait_for()
    assert "无法连接" in page.locator(".qaw-error").nth(1).inner_text()
    page.close()


@slow
def test_phone_sized_floating_widget_from_one_script_tag(server, browser, tmp_path):
    shots = tmp_path
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page.goto(server + "/embed-example.html")
    page.click(".qaw-launcher")
    panel = page.wait_for_selector(".qaw-panel:not([hidden])")
    box = panel.bounding_box()
    assert box and box["width"] >= 380 and box["height"] >= 800  # full screen on a phone
    _ask(page, "4G用户占全市移动电话的比例是多少")
    assert "87%" in page.wait_for_selector(".qaw-answer").inner_text()
    page.screenshot(path=str(shots / "widget-phone.png"))
    page.close()


@slow
def test_keyboard_only_use(server, browser):
    page = browser.new_page()
    page.goto(server + "/embed-example.html")
    page.focus(".qaw-launcher")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.classList.contains('qaw-input')")
    page.keyboard.type("全市家庭光纤宽带用户有多少户")
    page.keyboard.press("Enter")
    page.wait_for_selector(".qaw-marker")
    page.focus(".qaw-marker")
    page.keyboard.press("Enter")
    page.wait_for_selector(".qaw-dialog:not([hidden])")
    assert page.evaluate("document.activeElement.textContent") == "关闭"
    page.keyboard.press("Escape")
    assert page.evaluate("document.activeElement.classList.contains('qaw-marker')")
    assert page.get_attribute(".qaw-log", "aria-live") == "polite"
    page.close()



def _offline(page, base: str) -> tuple[list[str], list[str]]:
    """Abort every request that leaves `base`; collect them and any CSP violation the page reports."""
    external: list[str] = []
    violations: list[str] = []

    def only_local(route) -> None:
        if route.request.url.startswith(base):
            route.continue_()
        else:
            external.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    return external, violations


def test_docs_and_redoc_render_from_local_files_with_no_network(page_server, browser):
    page = browser.new_page()
    external, violations = _offline(page, page_server)
    page.goto(page_server + "/docs")
    page.wait_for_selector(".opblock-summary-path")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert {"/ask", "/search", "/health"} <= {p.strip() for p in paths}
    page.goto(page_server + "/redoc")
    page.wait_for_selector("h2:has-text('提问并获得带引用的答案')")  # the operation, rendered in the page body
    # ReDoc's footer always tries its vendor's logo from a CDN; the CSP stops it before any network
    # request, and the image hides itself on error. Nothing else may be blocked or leave the machine.
    assert external == []
    assert [v for v in violations if "cdn.redoc.ly/redoc/logo-mini.svg" not in v] == []
    page.close()


def test_demo_page_works_when_keys_are_required(page_service, browser):
    settings = {"api_keys": [KEY, DEMO], "admin_keys": [ADMIN], "demo_api_key": DEMO, "rate_limit": "60/minute"}
    with _serve(page_service, **settings) as base:
        page = browser.new_page()
        external, violations = _offline(page, base)
        page.goto(base + "/")
        assert ADMIN not in page.content() and KEY not in page.content()
        page.wait_for_selector(".qaw-chip")  # /suggestions answered: the widget sent the demo key
        expect(page.locator("#docs")).not_to_contain_text("加载中")
        assert "无法加载" not in page.inner_text("#docs")
        with page.expect_response(lambda r: r.url.endswith(STREAM)) as info:
            page.fill(".qaw-input", "5G覆盖哪些区域")
            page.press(".qaw-input", "Enter")
        assert info.value.status == 200
        page.wait_for_selector(".qaw-answer, .qaw-noanswer")
        assert external == [] and violations == []
        page.close()
    with _serve(page_service, api_keys=[KEY]) as base:  # keys but no demo key: the page says so
        page = browser.new_page()
        page.goto(base + "/")
        assert "QA_DEMO_API_KEY" in page.inner_text(".qa-notice")
        page.close()


def _crafted_answer(doc_id: str, text: str, short: dict | None) -> dict:
    start = text.index("覆盖")
    passage = {"id": f"{doc_id}#p1", "rank": 1, "text": text, "score": 1.0,
               "citation": {"doc_id": doc_id, "title": "构造", "doc_number": None, "section": "正文", "paragraph": 1,
                            "start": 0, "end": len(text)}}
    cite = {"marker": 1, "passage_id": passage["id"], "doc_id": doc_id, "start": start, "end": len(text),
            "text": text[start:]}
    return {"question": "q", "answer": cite["text"] + "[1]", "short_answer": short, "answerable": True,
            "confidence": 0.9, "reason": None, "index_version": "v", "passages": [passage],
            "answer_citations": [cite], "timings": {}, "took_ms": 1.0}


@pytest.mark.parametrize("doc_id", ["constructor", "toString", "valueOf", "__proto__"])
def test_document_ids_that_are_object_properties_open_their_source(page_server, browser, doc_id):
    text = "本市5G网络覆盖主要区域。"
    page = browser.new_page()
    page.route("**/ask/stream", _fulfil_stream(_stream_of(_crafted_answer(doc_id, text, None))))
    page.route(f"**/documents/{doc_id}", lambda route: route.fulfill(json={
        "doc_id": doc_id, "title": "构造", "doc_number": None, "issuer": None, "recipient": None, "date": None,
        "source": None, "text": text}))
    page.goto(page_server + "/")
    _ask(page, "5G覆盖哪些区域")
    page.click(".qaw-marker >> nth=0")
    page.wait_for_selector(".qaw-dialog:not([hidden]) mark")
    assert page.inner_text(".qaw-dialog mark") == text[text.index("覆盖"):]
    page.close()


def test_short_answer_in_bold_and_the_reason_for_declining(page_server, browser):
    text = "本市5G网络覆盖主要区域。"
    short = {"text": "主要区域", "doc_id": "letter", "start": 7, "end": 11}
    declined = {"question": "q", "answer": "未找到答案", "short_answer": None, "answerable": False, "confidence": 0.1,
                "reason": "文件中没有提到出租车价格。", "index_version": "v", "passages": [], "answer_citations": [],
                "timings": {}, "took_ms": 1.0}
    replies = iter([_crafted_answer("letter", text, short), declined, declined])
    page = browser.new_page()
    page.route("**/ask/stream", lambda route: route.fulfill(body=_stream_of(next(replies)),
                                                            content_type="text/event-stream"))
    sent = _sent(page)
    page.goto(page_server + "/")
    _ask(page, "5G覆盖哪些区域")
    assert page.wait_for_selector(".qaw-short strong").inner_text() == "主要区域"
    _ask(page, "出租车起步价")
    assert "文件中没有提到出租车价格。" in page.wait_for_selector(".qaw-noanswer .qaw-reason").inner_text()
    # A declined turn is part of the conversation too, citing nothing.
    _ask(page, "那地铁呢？")
    assert "history" not in sent[0]
    assert sent[2]["history"] == [{"question": "5G覆盖哪些区域", "passage_ids": ["letter#p1"]},
                                  {"question": "出租车起步价", "passage_ids": []}]
    page.close()


@pytest.mark.parametrize(
    ("attribute", "sent"),
    [
        ('{"doc_ids": ["sheitc-2019-15"], "date_from": "2019-01-01"}',
         {"doc_ids": ["sheitc-2019-15"], "date_from": "2019-01-01"}),
        ("not json", {"doc_ids": ["-"]}),  # a page meant to restrict the widget: never fall back to everything
    ],
)
def test_data_filters_restrict_what_the_widget_asks(page_server, browser, attribute, sent):
    page = browser.new_page()
    html = (f"<!doctype html><html><body><div id='chat'></div><script src='/widget.js' data-target='#chat' "
            f"data-filters='{attribute}'></script></body></html>")
    page.route(page_server + "/filtered.html", lambda route: route.fulfill(body=html, content_type="text/html"))
    page.goto(page_server + "/filtered.html")
    page.wait_for_selector(".qaw-input")
    with page.expect_request(lambda r: r.url.endswith(STREAM)) as info:
        page.fill(".qaw-input", "5G覆盖哪些区域")
        page.press(".qaw-input", "Enter")
    assert json.loads(info.value.post_data)["filters"] == sent
    page.close()


@slow
def test_follow_up_question_sends_the_conversation_and_new_conversation_forgets_it(server, browser):
    page, sent = _chat(browser, server)
    first = _ask(page, "5G覆盖哪些区域")
    assert first["answerable"] and first["resolved_question"] == "5G覆盖哪些区域"
    page.wait_for_selector(".qaw-answer")
    assert page.locator(".qaw-resolved").count() == 0  # a question that stands alone: no rewrite shown

    second = _ask(page, "那4G呢？")
    cited = list(dict.fromkeys(c["passage_id"] for c in first["answer_citations"]))
    assert "history" not in sent[0]
    assert sent[1]["history"] == [{"question": "5G覆盖哪些区域", "passage_ids": cited}] and cited
    assert second["resolved_question"] == "4G覆盖哪些区域"
    expect(page.locator(".qaw-answer")).to_have_count(2)
    assert "4G" in page.locator(".qaw-answer").nth(1).inner_text()
    # The rewritten query, under the user's question it came from.
    assert page.inner_text(".qaw-resolved") == "按“4G覆盖哪些区域”检索"
    assert page.evaluate("document.querySelector('.qaw-resolved').previousElementSibling.textContent") == "那4G呢？"

    page.click("text=新对话")
    assert page.locator(".qaw-user, .qaw-answer, .qaw-resolved").count() == 0
    assert page.locator(".qaw-log .qaw-msg").count() == 1  # only the greeting
    assert page.evaluate("document.activeElement.classList.contains('qaw-input')")
    third = _ask(page, "那4G呢？")
    assert "history" not in sent[2] and third["resolved_question"] == "那4G呢？"
    page.close()


def test_history_keeps_the_last_ten_turns(page_server, browser):
    text = "本市5G网络覆盖主要区域。"
    page = browser.new_page()
    page.route("**/ask/stream", _fulfil_stream(_stream_of(_crafted_answer("letter", text, None))))
    sent = _sent(page)
    page.goto(page_server + "/")
    for i in range(12):
        _ask(page, f"问题{i}")
        expect(page.locator(".qaw-answer")).to_have_count(i + 1)
    assert [len(body.get("history", [])) for body in sent] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10]
    assert [t["question"] for t in sent[-1]["history"]] == [f"问题{i}" for i in range(1, 11)]
    page.close()


@pytest.mark.parametrize(
    ("events", "shown"),
    [
        ([("error", {"error": "internal_error", "message": "处理问题时出错，请稍后重试", "request_id": "r"})],
         "处理问题时出错，请稍后重试"),
        ([("token", {"text": "半句"})], "连接中断"),  # the stream ended without its answer
    ],
)
def test_a_stream_that_fails_after_it_started_says_so(page_server, browser, events, shown):
    answer = _crafted_answer("letter", "本市5G网络覆盖主要区域。", None)
    passages = {k: answer[k] for k in ("question", "index_version", "passages", "took_ms")}
    body = sse_body(("passages", {**passages, "resolved_question": "q"}), *events)
    page = browser.new_page()
    page.route("**/ask/stream", _fulfil_stream(body))
    sent = _sent(page)
    page.goto(page_server + "/")
    page.wait_for_selector(".qaw-input")
    page.fill(".qaw-input", "5G覆盖哪些区域")
    page.press(".qaw-input", "Enter")
    assert shown in page.wait_for_selector(".qaw-error").inner_text()
    assert page.locator(".qaw-draft, .qaw-answer").count() == 0  # no half answer left standing
    assert page.is_enabled(".qaw-send")
    # A failed turn is not part of the conversation.
    page.route("**/ask/stream", _fulfil_stream(_stream_of(answer)))
    _ask(page, "那4G呢？")
    assert "history" not in sent[-1]
    page.close()


def test_generator_note_and_crafted_generated_answer(page_server, browser):
    """A generated answer's markers (also [1,2] and 【2】) open their passages; failed sentences are struck."""
    first, second = "本市5G网络覆盖主要区域。", "全市4G用户占比87%。"
    answer = _crafted_answer("letter", first, None)
    p2 = {**answer["passages"][0], "id": "letter#p2", "rank": 2, "text": second,
          "citation": {**answer["passages"][0]["citation"], "start": 20, "end": 20 + len(second)}}
    generated = {**answer, "generator": "llm", "passages": [answer["passages"][0], p2],
                 "answer": "5G覆盖主要区域[1,2]。4G用户占87%【2】。<b>不是标签</b>",
                 "answer_citations": [
                     {"marker": 1, "passage_id": "letter#p1", "doc_id": "letter", "start": 0, "end": len(first),
                      "text": first},
                     {"marker": 2, "passage_id": "letter#p2", "doc_id": "letter", "start": 20,
                      "end": 20 + len(second), "text": second}],
                 "verification": [
                     {"text": "5G覆盖主要区域[1,2]。", "markers": [1, 2], "status": "supported", "note": None},
                     {"text": "全市有9亿人[1]。", "markers": [1], "status": "unsupported", "note": "所引资料中没有 9"},
                     {"text": "据说如此。", "markers": [], "status": "uncited", "note": "没有标注引用"}]}
    fallback = {**answer, "generator": "extractive", "generator_note": "大模型超时，已改用原文摘录。"}
    replies = iter([generated, fallback])
    page = browser.new_page()
    page.route("**/ask/stream", lambda route: route.fulfill(body=_stream_of(next(replies)),
                                                            content_type="text/event-stream"))
    sent = _sent(page)
    page.goto(page_server + "/")
    _ask(page, "5G覆盖哪些区域")
    node = page.wait_for_selector(".qaw-answer")
    assert node.inner_text() == "5G覆盖主要区域[1][2]。4G用户占87%[2]。<b>不是标签</b>"
    assert page.locator(".qaw-answer b").count() == 0
    assert page.locator(".qaw-answer .qaw-marker").all_inner_texts() == ["[1]", "[2]", "[2]"]
    assert page.locator(".qaw-unverified").all_inner_texts() == ["全市有9亿人。", "据说如此。"]
    assert "（未通过核对，已移除：所引资料中没有 9）" in page.inner_text(".qaw-removed")
    assert page.locator(".qaw-note").count() == 0
    _ask(page, "4G呢")
    assert sent[1]["history"] == [{"question": "5G覆盖哪些区域", "passage_ids": ["letter#p1", "letter#p2"]}]
    assert page.wait_for_selector(".qaw-note").inner_text() == "大模型超时，已改用原文摘录。"
    assert page.locator(".qaw-unverified").count() == 2  # the extractive answer has none of its own
    page.close()


LLM_REPLY = "5G试验网已覆盖虹桥商务区、虹口北外滩等区域[1]。上海的GDP超过3万亿元[1]。"


@pytest.fixture(scope="module")
def llm_server(real_service):
    """The real model and index, answering through the scripted LLM: six pieces, 0.15 s apart."""
    from qa.service import QAService

    with ScriptedLLM(Script(reply=LLM_REPLY, chunks=6, chunk_delay=0.15)) as llm:
        settings = real_service.settings.updated(llm_base_url=llm.base_url, llm_model="scripted")
        service = QAService(settings, real_service.encoder, real_service.state.built)
        with serving(create_app(service=service)) as base:
            yield base


@slow
def test_streamed_llm_answer_appears_as_written_then_verified(llm_server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.goto(llm_server + "/")
    page.wait_for_selector(".qaw-input")
    with page.expect_response(lambda r: r.url.endswith(STREAM)) as info:
        page.fill(".qaw-input", "5G覆盖哪些区域")
        page.press(".qaw-input", "Enter")
    # While the LLM writes: its words in the pending bubble, as plain text, before any answer is rendered.
    partial = page.wait_for_function(
        """() => {
             const d = document.querySelector('.qaw-draft');
             return d && d.textContent.includes('5G试验网') && !document.querySelector('.qaw-answer, .qaw-marker')
               && d.textContent;
           }""", polling=20).json_value()
    assert LLM_REPLY.startswith(partial) and partial != LLM_REPLY
    page.screenshot(path=str(tmp_path / "widget-llm-streaming.png"))

    answer = page.wait_for_selector(".qaw-answer")
    events = sse_events(info.value.text())
    assert [name for name, _ in events] == ["passages"] + ["token"] * 6 + ["answer"]
    assert "".join(data["text"] for name, data in events if name == "token") == LLM_REPLY
    body = events[-1][1]
    assert body["generator"] == "llm"
    assert answer.inner_text() == "5G试验网已覆盖虹桥商务区、虹口北外滩等区域[1]。"
    assert page.locator(".qaw-draft").count() == 0
    # The verified sentence keeps its [1]: it opens the cited passage.
    page.click(".qaw-answer .qaw-marker")
    page.wait_for_selector(".qaw-dialog:not([hidden]) mark")
    assert page.inner_text(".qaw-dialog mark") == body["answer_citations"][0]["text"]
    assert "虹桥商务区" in page.inner_text(".qaw-dialog mark")
    page.keyboard.press("Escape")
    # The sentence that failed verification is shown struck through, with the reason.
    assert page.locator(".qaw-unverified").all_inner_texts() == ["上海的GDP超过3万亿元。"]
    assert "未通过核对，已移除：所引资料中没有 3" in page.inner_text(".qaw-removed")
    assert page.evaluate("document.querySelector('.qaw-unverified').tagName") == "DEL"
    page.screenshot(path=str(tmp_path / "widget-llm.png"))
    page.close()


@slow
def test_new_conversation_while_an_answer_streams_drops_it(llm_server, browser):
    page, sent = _chat(browser, llm_server)
    page.fill(".qaw-input", "5G覆盖哪些区域")
    page.press(".qaw-input", "Enter")
    page.wait_for_selector(".qaw-draft")
    page.click("text=新对话")
    assert page.is_enabled(".qaw-send") and page.locator(".qaw-log .qaw-msg").count() == 1
    page.wait_for_timeout(1500)  # longer than the rest of the scripted reply: nothing comes back from it
    assert page.locator(".qaw-log .qaw-msg").count() == 1
    _ask(page, "4G用户占全市移动电话的比例是多少")
    page.wait_for_selector(".qaw-answer, .qaw-noanswer")
    assert "history" not in sent[-1]  # the abandoned question never joined the conversation
    page.close()
