"""API keys, admin routes, rate limits, CORS, hostile input and error hygiene."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import threading
import time

import httpx
import pytest
from pydantic import ValidationError

from qa.config import Settings
from tests.conftest import LETTER_ID, make_client

KEY = "k" * 20
ADMIN = "a" * 24


def test_keys_guard_everything_but_health_and_widget(fake_service):
    client = make_client(fake_service, api_keys=[KEY], admin_keys=[ADMIN])
    r = client.post("/ask", json={"question": "5G覆盖哪些区域"})
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert client.post("/ask", json={"question": "5G"}, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    assert client.get("/search", params={"q": "5G"}, headers={"X-API-Key": KEY}).status_code == 200
    assert client.get("/search", params={"q": "5G"}, headers={"X-API-Key": KEY + "x"}).status_code == 401
    for path in ("/health", "/", "/widget.js", "/embed-example.html"):
        assert client.get(path).status_code == 200, path
    for path in ("/documents", "/ready", "/openapi.json", "/docs", "/suggestions"):
        assert client.get(path).status_code == 401, path


def test_admin_reindex_needs_an_admin_key(fake_service, settings):
    no_admin = make_client(fake_service)
    assert no_admin.post("/admin/reindex").status_code == 403
    client = make_client(fake_service, api_keys=[KEY], admin_keys=[ADMIN])
    assert client.post("/admin/reindex", headers={"X-API-Key": KEY}).status_code == 401
    before = client.get("/health").json()["index_version"]
    path = settings.corpus_dir / "extra.txt"
    path.write_text("新增文件的正文：城市大脑建设取得进展。", "utf-8")
    (settings.corpus_dir / "extra.meta.json").write_text(json.dumps({"title": "新增"}), "utf-8")
    r = client.post("/admin/reindex", headers={"Authorization": f"Bearer {ADMIN}"})
    assert r.status_code == 200 and r.json()["documents"] == 2
    after = client.get("/health").json()
    assert after["index_version"] != before and after["documents"] == 2


def test_reindex_with_a_bad_corpus_file_keeps_serving(fake_service, settings):
    client = make_client(fake_service, admin_keys=[ADMIN])
    version = client.get("/health").json()["index_version"]
    (settings.corpus_dir / "broken.txt").write_bytes(b"\x00\xff\x00")
    (settings.corpus_dir / "broken.meta.json").write_text(json.dumps({"title": "坏"}), "utf-8")
    r = client.post("/admin/reindex", headers={"X-API-Key": ADMIN})
    assert r.status_code == 409 and "broken.txt" in r.json()["message"]
    assert client.get("/health").json()["index_version"] == version
    assert client.get("/search", params={"q": "5G"}).status_code == 200


def test_rate_limit_gives_429_with_retry_after(fake_service):
    client = make_client(fake_service, rate_limit="3/minute", api_keys=[KEY, "m" * 20])
    ok = [client.get("/search", params={"q": "5G"}, headers={"X-API-Key": KEY}).status_code for _ in range(3)]
    assert ok == [200, 200, 200]
    r = client.get("/search", params={"q": "5G"}, headers={"X-API-Key": KEY})
    assert r.status_code == 429 and r.json()["error"] == "rate_limited"
    assert 0 < int(r.headers["retry-after"]) <= 60
    # Another client has its own budget; health is never limited.
    assert client.get("/search", params={"q": "5G"}, headers={"X-API-Key": "m" * 20}).status_code == 200
    assert all(client.get("/health").status_code == 200 for _ in range(5))


def test_cors_allowlist(fake_service):
    client = make_client(fake_service, cors_origins=["https://portal.example.gov.cn"])
    good = client.get("/health", headers={"Origin": "https://portal.example.gov.cn"})
    assert good.headers["access-control-allow-origin"] == "https://portal.example.gov.cn"
    bad = client.get("/health", headers={"Origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in bad.headers
    preflight = client.options("/ask", headers={"Origin": "https://portal.example.gov.cn",
                                                "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 200


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cors_origins": ["*"], "api_keys": [KEY]}, "wildcard"),
        ({"api_keys": ["short"]}, "16 characters"),
        ({"rate_limit": "lots"}, "QA_RATE_LIMIT"),
        ({"chunk_max_chars": 5}, "chunk_max_chars"),
    ],
)
def test_unsafe_or_invalid_settings_fail_at_start(overrides, message):
    with pytest.raises(ValidationError, match=message.replace("wildcard", r"'\*'")):
        Settings(**overrides)


@pytest.mark.parametrize(
    "question", ["？！。，、", "😀🎉👍", "的了吗呢", "\u200b\u200b", "a" * 512, "<script>alert(1)</script>"]
)
def test_odd_but_valid_questions_get_a_valid_response(fake_service, question):
    client = make_client(fake_service)
    r = client.post("/ask", json={"question": question})
    assert r.status_code == 200, r.text
    assert set(r.json()) >= {"answer", "answerable", "passages"}


def test_invalid_utf8_and_control_characters_are_422(fake_service):
    client = make_client(fake_service)
    r = client.post("/ask", content=b'{"question": "\xff\xfe\xfd"}', headers={"content-type": "application/json"})
    assert r.status_code == 422
    r = client.post("/ask", json={"question": "问\x07题"})
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "question"
    r = client.post("/ask", content="question=x", headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 422


def test_internal_errors_leak_no_trace_or_path(fake_service, monkeypatch):
    client = make_client(fake_service)

    def boom(*args, **kwargs):
        raise RuntimeError("secret detail at /work/main/qa/retriever.py line 99")

    monkeypatch.setattr(fake_service.state.retriever, "search", boom)
    r = client.get("/search", params={"q": "5G"})
    assert r.status_code == 500
    body = r.text
    assert "Traceback" not in body and "/work" not in body and "secret" not in body
    assert r.json()["request_id"] == r.headers["x-request-id"]


def test_access_log_is_json_without_question_text(fake_service, caplog):
    client = make_client(fake_service)
    with caplog.at_level(logging.INFO, logger="qa.access"):
        client.post("/ask", json={"question": "机密问题内容"}, headers={"X-Request-ID": "req-42"})
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "qa.access"]
    assert records and records[-1]["request_id"] == "req-42" and records[-1]["status"] == 200
    assert "latency_ms" in records[-1]
    assert "机密问题内容" not in caplog.text


# --- overload: cheap routes never wait for the pool, expensive ones are shed (issue item 1) ---

def _blocking_search(service, monkeypatch) -> threading.Event:
    """Make every /search hold its thread until the returned event is set."""
    release = threading.Event()
    real = service.state.retriever.search

    def slow_search(*args, **kwargs):
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(service.state.retriever, "search", slow_search)
    return release


def _in_threads(n: int, call) -> list[threading.Thread]:
    threads = [threading.Thread(target=call) for _ in range(n)]
    for t in threads:
        t.start()
    return threads


def test_health_answers_while_the_thread_pool_is_full(fake_service, monkeypatch):
    from fastapi.testclient import TestClient

    from qa.api import create_app

    release = _blocking_search(fake_service, monkeypatch)
    app = create_app(fake_service.settings.updated(**{"max_concurrent": 64}), service=fake_service)
    with TestClient(app) as client:  # one event loop, one 40-thread pool for every request
        threads = _in_threads(45, lambda: client.get("/search", params={"q": "5G"}))
        try:
            time.sleep(0.5)  # every pool thread is now stuck in a search
            for path in ("/health", "/ready", "/documents", f"/documents/{LETTER_ID}", "/", "/widget.js"):
                started = time.perf_counter()
                assert client.get(path).status_code == 200, path
                assert time.perf_counter() - started < 2, path
        finally:
            release.set()
            for t in threads:
                t.join()


def test_overload_is_shed_with_503_and_retry_after(fake_service, monkeypatch):
    release = _blocking_search(fake_service, monkeypatch)
    # The queue wait is long against the settling sleeps: on a busy CI machine the second request once reached
    # the queue later than /ask did, so /ask waited out a 0.5 s queue_timeout in its place.
    client = make_client(fake_service, max_concurrent=1, max_queue=1, queue_timeout=2.0)
    results: dict = {}
    threads = _in_threads(1, lambda: results.update(first=client.get("/search", params={"q": "5G"})))
    time.sleep(0.3)  # the first request holds the only slot
    waited = _in_threads(1, lambda: results.update(second=client.get("/search", params={"q": "5G"})))
    time.sleep(0.3)  # the second waits in the queue (its only place)
    started = time.perf_counter()
    r = client.post("/ask", json={"question": "5G覆盖哪些区域"})
    assert time.perf_counter() - started < 1.0  # queue full: refused at once, not after the 2 s wait
    assert r.status_code == 503 and r.headers["retry-after"] == "2"  # the queue wait, rounded up
    body = r.json()
    assert body["error"] == "overloaded" and body["request_id"] == r.headers["x-request-id"] and "details" in body
    assert client.get("/health").status_code == 200  # never limited
    for t in waited:
        t.join()
    assert results["second"].status_code == 503  # waited queue_timeout for a slot, then gave up
    release.set()
    for t in threads:
        t.join()
    assert results["first"].status_code == 200
    assert client.get("/search", params={"q": "5G"}).status_code == 200  # slots were all given back


def test_slots_hand_over_in_order_and_never_leak():
    from qa.api.overload import Slots

    async def scenario() -> list:
        slots = Slots(limit=1, queue=2)
        assert await slots.acquire(1)
        order: list[str] = []

        async def waiter(name: str, timeout: float) -> None:
            if await slots.acquire(timeout):
                order.append(name)
                await asyncio.sleep(0.01)
                slots.release()
            else:
                order.append(name + ":timeout")

        tasks = [asyncio.create_task(waiter("a", 1)), asyncio.create_task(waiter("b", 1))]
        await asyncio.sleep(0.01)
        assert not await slots.acquire(1)  # two waiting already: full
        late = asyncio.create_task(waiter("c", 0.05))  # no room yet, refused at once
        await asyncio.sleep(0.01)
        slots.release()
        await asyncio.gather(*tasks, late)
        assert slots.running == 0 and slots.waiting == 0
        assert await slots.acquire(1)
        gone = asyncio.create_task(slots.acquire(5))  # a client that disconnects while it waits
        await asyncio.sleep(0.01)
        assert slots.waiting == 1
        gone.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await gone
        slots.release()
        return [*order, slots.running, slots.waiting]

    assert asyncio.run(scenario()) == ["c:timeout", "a", "b", 0, 0]


# --- rate limits key on verified identity (items 2 and 3) ---

def test_invented_api_keys_do_not_buy_a_fresh_rate_limit(fake_service):
    client = make_client(fake_service, rate_limit="5/minute")  # no QA_API_KEYS: keys are never checked
    statuses = [client.get("/search", params={"q": "5G"}, headers={"X-API-Key": f"junk{i}"}).status_code
                for i in range(12)]
    assert statuses.count(200) == 5 and statuses.count(429) == 7


def test_forwarded_for_from_loopback_does_not_buy_a_fresh_rate_limit(fake_service):
    from qa.api import create_app
    from tests.conftest import serving

    # A real uvicorn with its defaults, as `uvicorn api:app` runs: it believes X-Forwarded-For from 127.0.0.1.
    app = create_app(fake_service.settings.updated(**{"rate_limit": "5/minute"}), service=fake_service)
    with serving(app) as base, httpx.Client(base_url=base) as client:
        statuses = [client.get("/search", params={"q": "5G"}, headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
                    for i in range(12)]
    assert statuses.count(200) == 5 and statuses.count(429) == 7


def test_forwarded_for_counts_from_a_configured_proxy(fake_service):
    from fastapi.testclient import TestClient
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    from qa.api import create_app

    settings = fake_service.settings.updated(**{"rate_limit": "2/minute", "trusted_proxies": ["10.0.0.2"]})
    # What `qa serve` builds: uvicorn believes the header only from the configured proxy.
    app = ProxyHeadersMiddleware(create_app(settings, service=fake_service), trusted_hosts=settings.trusted_proxies)
    via_proxy = TestClient(app, client=("10.0.0.2", 4000))
    for client_ip in ("198.51.100.1", "198.51.100.2"):  # each real client gets its own budget
        statuses = [via_proxy.get("/search", params={"q": "5G"}, headers={"X-Forwarded-For": client_ip}).status_code
                    for _ in range(3)]
        assert statuses == [200, 200, 429], client_ip
    direct = TestClient(app, client=("192.0.2.9", 4000))  # not a proxy: its header changes nothing
    statuses = [direct.get("/search", params={"q": "5G"}, headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
                for i in range(10, 13)]
    assert statuses == [200, 200, 429]


@pytest.mark.parametrize(("env", "proxy_headers", "allowed"), [({}, False, []),
                                                               ({"QA_TRUSTED_PROXIES": '["10.0.0.2"]'}, True, ["10.0.0.2"])])
def test_qa_serve_hands_the_trusted_proxies_to_uvicorn(monkeypatch, env, proxy_headers, allowed):
    import uvicorn
    from typer.testing import CliRunner

    from qa import config
    from qa.cli import app

    seen: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda asgi, **kwargs: seen.update(kwargs))
    monkeypatch.delenv("QA_TRUSTED_PROXIES", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config.get_settings.cache_clear()
    handlers, level = logging.root.handlers[:], logging.root.level
    try:
        result = CliRunner().invoke(app, ["serve"])
    finally:  # `qa serve` points logging at the runner's stream, which closes after invoke
        logging.root.handlers[:], logging.root.level = handlers, level
        config.get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert seen["proxy_headers"] is proxy_headers and seen["forwarded_allow_ips"] == allowed


# --- corpus files cannot leak the machine (items 4, 5, 9) ---

def test_symlink_to_a_secret_is_refused_and_never_served(fake_service, settings):
    client = make_client(fake_service, admin_keys=[ADMIN])
    (settings.corpus_dir / "env.txt").symlink_to("/proc/self/environ")
    (settings.corpus_dir / "env.meta.json").write_text(json.dumps({"title": "环境"}), "utf-8")
    r = client.post("/admin/reindex", headers={"X-API-Key": ADMIN})
    assert r.status_code == 409
    assert r.json()["message"].startswith("env.txt: ") and "outside the corpus folder" in r.json()["message"]
    assert ADMIN not in r.text and str(settings.corpus_dir) not in r.text
    assert client.get("/documents/env").status_code == 404


def test_unreadable_corpus_file_is_a_409_naming_it_relative_to_the_corpus(fake_service, settings, monkeypatch):
    client = make_client(fake_service, admin_keys=[ADMIN])
    (settings.corpus_dir / "gone.txt").symlink_to(settings.corpus_dir / "deleted.txt")  # dangling: ENOENT
    (settings.corpus_dir / "gone.meta.json").write_text(json.dumps({"title": "缺失"}), "utf-8")
    r = client.post("/admin/reindex", headers={"X-API-Key": ADMIN})
    assert r.status_code == 409 and r.json()["message"] == "gone.txt: cannot be read (No such file or directory)"
    (settings.corpus_dir / "gone.txt").unlink()
    (settings.corpus_dir / "locked.txt").write_text("正文。", "utf-8")
    (settings.corpus_dir / "locked.meta.json").write_text(json.dumps({"title": "锁定"}), "utf-8")
    real_open = os.open

    def denied(path, *args, **kwargs):  # tests run as root, where chmod 000 would not stop a read
        if str(path).endswith("locked.txt"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    r = client.post("/admin/reindex", headers={"X-API-Key": ADMIN})
    assert r.status_code == 409 and r.json()["message"] == "locked.txt: cannot be read (Permission denied)"
    assert str(settings.corpus_dir) not in r.text and "/tmp" not in r.text
    assert client.get("/health").status_code == 200


def test_yaml_alias_bomb_in_front_matter_is_rejected_quickly(fake_service, settings):
    client = make_client(fake_service, admin_keys=[ADMIN])
    levels = ["a: &a [x,x,x,x,x,x,x,x,x]"] + [
        f"{n}: &{n} [{','.join(['*' + p] * 9)}]" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    bomb = "---\ntitle: 炸弹\n" + "\n".join(levels) + "\n---\n正文。\n"
    assert len(bomb.encode()) < 500  # 9**9 strings once expanded
    (settings.corpus_dir / "bomb.md").write_text(bomb, "utf-8")
    started = time.perf_counter()
    r = client.post("/admin/reindex", headers={"X-API-Key": ADMIN})
    assert time.perf_counter() - started < 5
    assert r.status_code == 409 and r.json()["message"].startswith("bomb.md: ") and "aliases" in r.json()["message"]


# --- logs (item 6) ---

def test_questions_are_logged_escaped_one_line_per_request(fake_service, caplog):
    client = make_client(fake_service, log_questions=True)
    forged = '5G\n2026-01-01 00:00:00,000 INFO qa.access {"request_id": "forged", "status": 200}\u2028第二行'
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    with caplog.at_level(logging.INFO):
        client.post("/ask", json={"question": forged})
        client.get("/search", params={"q": forged})
    server = [r for r in caplog.records if not r.name.startswith("httpx")]  # the test client logs its URLs
    lines = [line for record in server for line in formatter.format(record).splitlines()]
    access = [line for line in lines if " qa.access " in line]
    assert len(access) == 2  # one line per request, however many line breaks the question has
    assert all("forged" not in line for line in lines if " qa.access " not in line)
    records = [json.loads(line.split(" qa.access ", 1)[1]) for line in access]
    assert [r["question"] for r in records] == [forged, forged]  # escaped in the line, exact once parsed
    assert [r["path"] for r in records] == ["/ask", "/search"]


# --- security headers and local docs (item 7) ---

PAGES = ("/", "/embed-example.html", "/docs", "/redoc")


def test_security_headers_on_pages_scripts_and_api(fake_service):
    client = make_client(fake_service, cors_origins=["https://portal.example.gov.cn"],
                         frame_ancestors=["'self'", "https://portal.example.gov.cn"])
    for path in (*PAGES, "/widget.js", "/demo.js", "/docs/assets/swagger-init.js", "/health"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["referrer-policy"] == "no-referrer", path
        csp = dict(d.strip().split(" ", 1) for d in r.headers["content-security-policy"].split(";"))
        if path in PAGES:
            assert csp["script-src"] == "'self'", path  # no inline script, no CDN
            assert csp["frame-ancestors"] == "'self' https://portal.example.gov.cn", path
            assert csp["connect-src"] == "'self' https://portal.example.gov.cn", path
        else:
            assert csp == {"default-src": "'none'", "frame-ancestors": "'none'"}, path
    for path in ("/", "/embed-example.html"):
        page = client.get(path).text
        assert "style=" not in page and "<style" not in page, path  # style-src 'self' holds
        assert re.findall(r"<script(?![^>]*\bsrc=)", page) == [], path


def test_docs_are_served_from_local_files(fake_service):
    client = make_client(fake_service)
    for path in ("/docs", "/redoc"):
        page = client.get(path).text
        assert "cdn" not in page.lower() and "https://" not in page and "fonts.googleapis" not in page, path
        assets = re.findall(r'(?:src|href)="(/docs/assets/[^"]+)"', page)
        assert assets, path
        for asset in assets:
            r = client.get(asset)
            assert r.status_code == 200 and len(r.content) > 1000 or asset.endswith("init.js"), asset
    assert client.get("/docs/assets/../../etc/passwd").status_code == 404
    assert client.get("/docs/assets/nope.js").status_code == 404


def test_frame_ancestors_and_origins_are_validated():
    with pytest.raises(ValidationError, match="QA_FRAME_ANCESTORS"):
        Settings(frame_ancestors=["https://a.example; script-src *"])
    with pytest.raises(ValidationError, match="QA_CORS_ORIGINS"):
        Settings(cors_origins=["https://a.example; script-src *"])
    with pytest.raises(ValidationError, match="QA_TRUSTED_PROXIES"):
        Settings(trusted_proxies=["*"])
    assert Settings(trusted_proxies=["10.0.0.0/8", "::1"]).trusted_proxies == ["10.0.0.0/8", "::1"]


# --- the demo page with keys, non-ASCII keys (item 10) ---

DEMO = "public-demo-key-0001"


def test_demo_page_carries_the_public_demo_key_and_it_works(fake_service):
    client = make_client(fake_service, api_keys=[KEY, DEMO], admin_keys=[ADMIN], demo_api_key=DEMO,
                         rate_limit="30/minute")
    for path in ("/", "/embed-example.html"):
        page = client.get(path).text
        key = re.search(r'<script src="widget.js"[^>]*data-api-key="([^"]*)"', page).group(1)
        assert key == DEMO and KEY not in page and ADMIN not in page, path
    assert client.post("/ask", json={"question": "5G覆盖哪些区域"}, headers={"X-API-Key": DEMO}).status_code == 200
    assert client.get("/suggestions", headers={"X-API-Key": DEMO}).status_code == 200
    assert client.post("/admin/reindex", headers={"X-API-Key": DEMO}).status_code == 401


def test_demo_page_says_a_key_is_needed_when_it_has_none(fake_service):
    client = make_client(fake_service, api_keys=[KEY])
    page = client.get("/").text
    assert "QA_DEMO_API_KEY" in page and 'data-api-key=""' in page and KEY not in page
    assert "QA_DEMO_API_KEY" not in make_client(fake_service, api_keys=[]).get("/").text  # no keys, no notice


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"api_keys": [KEY], "demo_api_key": DEMO, "rate_limit": "5/minute"}, "one of QA_API_KEYS"),
        ({"api_keys": [KEY, ADMIN], "admin_keys": [ADMIN], "demo_api_key": ADMIN, "rate_limit": "5/minute"}, "admin"),
        ({"api_keys": [DEMO], "demo_api_key": DEMO}, "QA_RATE_LIMIT"),
        ({"api_keys": [" " + KEY]}, "surrounding spaces"),
    ],
)
def test_unsafe_demo_key_settings_fail_at_start(overrides, message):
    with pytest.raises(ValidationError, match=message):
        Settings(**overrides)


def test_non_ascii_keys_match(fake_service):
    key = "钥匙-中文密钥-0123456789"
    client = make_client(fake_service, api_keys=[key])
    ok = client.get("/documents", headers={"X-API-Key": key.encode("utf-8")})
    assert ok.status_code == 200
    bearer = client.get("/documents", headers={"Authorization": b"Bearer " + key.encode("utf-8")})
    assert bearer.status_code == 200
    assert client.get("/documents", headers={"X-API-Key": key.encode("utf-8")[:-1]}).status_code == 401
    assert client.get("/documents", headers={"X-API-Key": key.encode("latin-1", "replace")}).status_code == 401
    accented = "clé-très-secrète-0001"  # a browser sends header values as Latin-1, curl as UTF-8
    client = make_client(fake_service, api_keys=[accented])
    for wire in (accented.encode("utf-8"), accented.encode("latin-1")):
        assert client.get("/documents", headers={"X-API-Key": wire}).status_code == 200, wire
