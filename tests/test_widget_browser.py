"""The chat widget end to end in headless Chromium against a real uvicorn server on 127.0.0.1.

Screenshots are written to eval/reports/widget-*.png.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time

import httpx
import pytest
import uvicorn

from qa.api import create_app
from qa.config import PROJECT_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.browser]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync"]
SHOTS = PROJECT_ROOT / "eval" / "reports"


@pytest.fixture(scope="module")
def server(real_service):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(service=real_service), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    yield base
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    if not shutil.which("chromium") and not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); CI installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


def _ask(page, question: str) -> dict:
    with page.expect_response(lambda r: r.url.endswith("/ask")) as info:
        page.fill(".qaw-input", question)
        page.press(".qaw-input", "Enter")
    return info.value.json()


def test_ask_see_answer_click_citation_see_highlight(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.goto(server + "/")
    page.wait_for_selector(".qaw-chip")
    assert "5G覆盖哪些区域" in page.inner_text(".qaw-suggest")
    body = _ask(page, "5G覆盖哪些区域")
    answer = page.wait_for_selector(".qaw-answer")
    assert "虹桥商务区" in answer.inner_text() and page.locator(".qaw-marker").count() >= 1

    # The passage citation: the highlighted span is exactly the passage text.
    top = body["passages"][0]
    page.click(f".qaw-source[data-passage-id='{top['id']}']")
    page.wait_for_selector(".qaw-dialog:not([hidden]) mark")
    assert page.inner_text(".qaw-dialog mark") == top["text"]
    assert top["citation"]["section"] in page.inner_text(".qaw-path")
    assert "沪经信建〔2019〕15号" in page.inner_text(".qaw-path")
    page.screenshot(path=str(SHOTS / "widget-desktop-source.png"))
    page.keyboard.press("Escape")
    assert page.locator(".qaw-dialog").is_hidden()

    # The answer's [1] marker: the highlighted span is the quoted sentence.
    page.click(".qaw-marker >> nth=0")
    page.wait_for_selector(".qaw-dialog:not([hidden]) mark")
    assert page.inner_text(".qaw-dialog mark") == body["answer_citations"][0]["text"]
    page.keyboard.press("Escape")
    page.screenshot(path=str(SHOTS / "widget-desktop.png"), full_page=True)
    page.close()


def test_unanswerable_shows_no_answer_state(server, browser):
    page = browser.new_page()
    page.goto(server + "/")
    body = _ask(page, "上海出租车的起步价是多少")
    assert body["answerable"] is False
    node = page.wait_for_selector(".qaw-noanswer")
    assert "没有找到相关内容" in node.inner_text()
    page.close()


def test_oversized_question_and_server_down_show_errors(server, browser):
    page = browser.new_page()
    page.goto(server + "/")
    page.wait_for_selector(".qaw-input")
    response = _ask(page, "问" * 600)
    assert response["error"] == "invalid_request"
    assert "问题太长了" in page.wait_for_selector(".qaw-error").inner_text()
    page.route("**/ask", lambda route: route.abort())
    page.fill(".qaw-input", "5G覆盖哪些区域")
    page.press(".qaw-input", "Enter")
    page.wait_for_function("document.querySelectorAll('.qaw-error').length >= 2")
    assert "无法连接" in page.locator(".qaw-error").nth(1).inner_text()
    page.close()


def test_phone_sized_floating_widget_from_one_script_tag(server, browser):
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page.goto(server + "/embed-example.html")
    page.click(".qaw-launcher")
    panel = page.wait_for_selector(".qaw-panel:not([hidden])")
    box = panel.bounding_box()
    assert box and box["width"] >= 380 and box["height"] >= 800  # full screen on a phone
    _ask(page, "4G用户占全市移动电话的比例是多少")
    assert "87%" in page.wait_for_selector(".qaw-answer").inner_text()
    page.screenshot(path=str(SHOTS / "widget-phone.png"))
    page.close()


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
