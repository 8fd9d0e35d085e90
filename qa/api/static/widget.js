/*
 * 文档问答聊天组件 (chat widget). Embed with one tag:
 *
 *   <script src="https://qa.example.org/widget.js" defer></script>
 *
 * Options (attributes on that script tag):
 *   data-api="https://qa.example.org"  API base URL (default: where widget.js came from)
 *   data-target="#qa-chat"             render inline into this element instead of a floating button
 *   data-api-key="…"                   sent as X-API-Key where the service requires keys. Anyone can read
 *                                      it from the page: use only a public, rate-limited key, never an admin key.
 *   data-title="文档问答"                panel title
 *   data-filters='{"doc_ids":["sheitc-2019-15"]}'  restrict answers to some documents (JSON, the /ask
 *                                      "filters" object: doc_ids, doc_number, issuer, date_from, date_to)
 *
 * Conversational: each question is sent with the page's earlier turns (question and cited passage ids,
 * at most 10), so "那4G呢？" is understood after "5G覆盖哪些区域"; "新对话" forgets them. Answers come
 * from POST /ask/stream (Server-Sent Events): the passages, then the answer's text as it is written
 * (when the service uses an LLM), then the final answer, rendered with its citations.
 *
 * No dependencies, no network access except the API. Styles are scoped under .qaw- and applied as a
 * constructed stylesheet, so the widget works under a strict Content-Security-Policy (no inline styles).
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var cfg = {
    api: (script && script.getAttribute("data-api")) || (script ? new URL(script.src).origin : location.origin),
    target: script && script.getAttribute("data-target"),
    apiKey: script && script.getAttribute("data-api-key"),
    title: (script && script.getAttribute("data-title")) || "文档问答",
    filters: parseFilters(script && script.getAttribute("data-filters")),
  };
  var MAX_CHARS = 512;
  var MAX_TURNS = 10; /* the service reads at most 10 earlier turns */
  var MAX_TURN_PASSAGES = 20; /* and at most 20 passage ids per turn */
  var MAX_HISTORY_CHARS = 4000; /* JSON characters; CJK is 3 bytes each in UTF-8: well under 16 KiB */
  var GREETING = "您好！请就已收录的文件提问，回答会逐字引用原文并标注出处。";
  /* [1], [1,2], 【1】, ［1］: the markers a generated answer may carry (as the service's verifier reads them). */
  var MARKERS = /\[([\d\s,，、]+)\]|【([\d\s,，、]+)】|［([\d\s,，、]+)］/g;

  function askBody(question, history) {
    var body = { question: question, top_k: 5 };
    if (cfg.filters) body.filters = cfg.filters;
    var turns = (history || []).slice(-MAX_TURNS);
    /* The server takes bodies up to 16 KiB: the oldest turns go first rather than the question failing. */
    while (turns.length && JSON.stringify({ body: body, history: turns }).length > MAX_HISTORY_CHARS) turns.shift();
    if (turns.length) body.history = turns;
    return body;
  }

  function parseFilters(raw) {
    if (!raw) return null;
    try {
      var value = JSON.parse(raw);
      if (value && typeof value === "object" && !Array.isArray(value)) return value;
    } catch (e) { /* reported below */ }
    /* A page that meant to restrict the widget must not silently search everything. */
    console.error("qa widget: data-filters is not a JSON object; answering from no documents");
    return { doc_ids: ["-"] };
  }
  var docCache = new Map(); /* doc_id -> Promise; a Map, so ids like "constructor" are just keys */

  var CSS = [
    ".qaw-root{--qaw-accent:#b3261e;--qaw-fg:#1f1f1f;--qaw-muted:#5f6368;--qaw-bg:#fff;--qaw-soft:#f5f3f0;",
    "font:15px/1.6 system-ui,-apple-system,'PingFang SC','Microsoft YaHei','Noto Sans CJK SC',sans-serif;color:var(--qaw-fg)}",
    ".qaw-root *{box-sizing:border-box}",
    /* Inline, the panel fills its container (when that has a height) and the log scrolls inside it. */
    ".qaw-root.qaw-embedded{height:100%}",
    ".qaw-launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;border:0;border-radius:28px;",
    "background:var(--qaw-accent);color:#fff;padding:12px 20px;font:inherit;font-weight:600;cursor:pointer;",
    "box-shadow:0 4px 16px rgba(0,0,0,.25)}",
    ".qaw-launcher:focus-visible,.qaw-root button:focus-visible,.qaw-root textarea:focus-visible{outline:3px solid #1a73e8;outline-offset:2px}",
    ".qaw-panel{display:flex;flex-direction:column;background:var(--qaw-bg);border:1px solid #ddd;border-radius:12px;",
    "overflow:hidden;box-shadow:0 8px 32px rgba(0,0,0,.2)}",
    ".qaw-floating{position:fixed;right:20px;bottom:84px;z-index:2147483000;width:400px;height:600px;max-height:calc(100vh - 104px)}",
    ".qaw-inline{width:100%;height:100%;min-height:480px}",
    ".qaw-panel[hidden]{display:none}",
    ".qaw-head{display:flex;align-items:center;justify-content:space-between;padding:10px 14px;background:var(--qaw-accent);color:#fff}",
    ".qaw-head h2{margin:0;font-size:16px}",
    ".qaw-close{background:transparent;border:0;color:#fff;font-size:22px;line-height:1;cursor:pointer;padding:4px 8px}",
    ".qaw-log{flex:1;overflow-y:auto;padding:12px 14px;background:var(--qaw-soft)}",
    ".qaw-msg{margin:0 0 12px;padding:10px 12px;border-radius:10px;max-width:92%;word-break:break-word}",
    ".qaw-user{margin-left:auto;background:var(--qaw-accent);color:#fff}",
    ".qaw-bot{background:#fff;border:1px solid #e3e0dc}",
    ".qaw-bot.qaw-noanswer{border-color:#c9a227;background:#fffaf0}",
    ".qaw-bot.qaw-error{border-color:#b3261e;background:#fdecea;color:#7a1a14}",
    ".qaw-marker{display:inline;border:0;background:none;color:#1a56c4;font:inherit;font-size:13px;font-weight:700;",
    "cursor:pointer;padding:0 2px;vertical-align:super;text-decoration:underline}",
    ".qaw-sources{margin:8px 0 0;padding:0;list-style:none;font-size:13px}",
    ".qaw-sources li{margin:4px 0}",
    ".qaw-source{border:1px solid #d6d2cc;background:#fff;border-radius:6px;padding:4px 8px;text-align:left;cursor:pointer;",
    "font:inherit;color:var(--qaw-fg);width:100%}",
    ".qaw-source small{color:var(--qaw-muted)}",
    ".qaw-meta{color:var(--qaw-muted);font-size:12px;margin-top:6px}",
    ".qaw-answer,.qaw-short,.qaw-plain{margin:0}",
    ".qaw-short{margin-bottom:6px}",
    ".qaw-suggest{display:flex;flex-wrap:wrap;gap:6px;padding:8px 14px 0;background:#fff}",
    ".qaw-chip{border:1px solid #d6d2cc;background:#fff;border-radius:16px;padding:3px 10px;font:inherit;font-size:13px;cursor:pointer}",
    ".qaw-form{display:flex;gap:8px;padding:10px 14px;background:#fff;border-top:1px solid #eee}",
    ".qaw-input{flex:1;resize:none;border:1px solid #bbb;border-radius:8px;padding:8px 10px;font:inherit;min-height:42px;max-height:120px}",
    ".qaw-send{border:0;border-radius:8px;background:var(--qaw-accent);color:#fff;padding:0 16px;font:inherit;font-weight:600;cursor:pointer}",
    ".qaw-send[disabled]{opacity:.6;cursor:progress}",
    ".qaw-loading{color:var(--qaw-muted)}",
    ".qaw-head-actions{display:flex;align-items:center;gap:6px}",
    ".qaw-new{background:transparent;border:1px solid rgba(255,255,255,.7);border-radius:14px;color:#fff;font:inherit;",
    "font-size:13px;padding:2px 10px;cursor:pointer}",
    ".qaw-new:hover{background:rgba(255,255,255,.15)}",
    ".qaw-resolved{margin:-8px 0 12px auto;max-width:92%;text-align:right;color:var(--qaw-muted);font-size:12px}",
    ".qaw-draft{margin:0;white-space:pre-wrap}",
    ".qaw-draft-label{margin:0 0 4px;font-size:12px;color:#8a6d3b}",
    ".qaw-removed{margin:8px 0 0;font-size:13px;color:var(--qaw-muted)}",
    ".qaw-removed p{margin:2px 0}",
    ".qaw-unverified{color:#80868b;text-decoration:line-through}",
    ".qaw-removed-label{color:var(--qaw-muted);font-size:12px}",
    ".qaw-note{color:#7a5a00}",
    ".qaw-dialog{position:fixed;inset:0;z-index:2147483001;background:rgba(0,0,0,.45);display:flex;align-items:center;justify-content:center;padding:16px}",
    ".qaw-dialog[hidden]{display:none}",
    ".qaw-card{background:#fff;border-radius:12px;max-width:720px;width:100%;max-height:85vh;overflow:auto;padding:18px 20px}",
    ".qaw-card h3{margin:0 0 4px;font-size:17px}",
    ".qaw-card .qaw-path{color:var(--qaw-muted);font-size:13px;margin:0 0 10px}",
    ".qaw-card blockquote{margin:0;padding:10px 12px;background:var(--qaw-soft);border-left:4px solid var(--qaw-accent);white-space:pre-wrap}",
    ".qaw-card mark{background:#ffe08a;color:inherit;padding:0 1px}",
    ".qaw-visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}",
    "@media (max-width:520px){.qaw-floating{right:0;bottom:0;width:100vw;height:100vh;max-height:none;border-radius:0}",
    ".qaw-launcher{right:12px;bottom:12px}}",
  ].join("");

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k.indexOf("on") === 0) node.addEventListener(k.slice(2), attrs[k]);
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return node;
  }

  function headers() {
    var h = { "Content-Type": "application/json" };
    if (cfg.apiKey) h["X-API-Key"] = cfg.apiKey;
    return h;
  }

  /* A message the user can act on, for every way a request can fail. */
  function describeError(status, body) {
    if (status === 0) return "无法连接到问答服务，请检查网络或稍后再试。";
    if (status === 422) {
      var d = (body && body.details) || [];
      var long = d.some(function (x) { return x.field === "question" && /at most|512/.test(x.reason); });
      if (long) return "问题太长了：最多 " + MAX_CHARS + " 个字，请精简后再问。";
      var empty = d.some(function (x) { return x.field === "question" && /empty|at least/.test(x.reason); });
      if (empty) return "请输入问题。";
      return "输入有误：" + ((body && body.message) || "请检查后重试。");
    }
    if (status === 413) return "问题太长了，请精简后再问。";
    if (status === 429) return "提问太频繁了，请稍等片刻再试。";
    if (status === 401 || status === 403) return "没有访问权限（API 密钥缺失或无效）。";
    if (status === 503) return "服务繁忙，请稍后再试。";
    return "服务暂时出错（" + status + "），请稍后再试。";
  }

  function request(path, options) {
    return fetch(cfg.api + path, options).then(
      function (res) {
        return res.json().catch(function () { return null; }).then(function (body) {
          if (!res.ok) throw { status: res.status, body: body };
          return body;
        });
      },
      function () { throw { status: 0, body: null }; }
    );
  }

  /*
   * A Server-Sent Events parser for a POSTed stream (EventSource only does GET): feed it decoded text
   * in pieces of any size; it calls onEvent(name, data) for each complete event and skips comments
   * (the server's ": ping" keep-alives).
   */
  function sseParser(onEvent) {
    var buffer = "", name = "", data = [];
    function line(text) {
      if (text === "") {
        if (data.length) onEvent(name || "message", data.join("\n"));
        name = "";
        data = [];
        return;
      }
      if (text.charAt(0) === ":") return;
      var colon = text.indexOf(":");
      var field = colon < 0 ? text : text.slice(0, colon);
      var value = colon < 0 ? "" : text.slice(colon + 1);
      if (value.charAt(0) === " ") value = value.slice(1);
      if (field === "event") name = value;
      else if (field === "data") data.push(value);
    }
    return {
      push: function (text) {
        buffer += text;
        /* A trailing "\r" may be the first half of "\r\n": keep it until the next piece. */
        var cut = buffer.charAt(buffer.length - 1) === "\r" ? buffer.length - 1 : buffer.length;
        var lines = buffer.slice(0, cut).split(/\r\n|\r|\n/);
        buffer = lines.pop() + buffer.slice(cut);
        lines.forEach(line);
      },
      end: function () {
        if (buffer) line(buffer.replace(/\r$/, ""));
        buffer = "";
        line("");
      },
    };
  }

  /*
   * POST `payload` to `path` and feed the event stream to onEvent. Resolves when the stream ends.
   * Rejects with {status, body} for an error response (handled like /ask's), {status: 0} when the
   * service cannot be reached, {cut: true} when the connection breaks mid-stream.
   */
  function postStream(path, payload, onEvent, signal) {
    var h = headers();
    h.Accept = "text/event-stream";
    var options = { method: "POST", headers: h, body: JSON.stringify(payload) };
    if (signal) options.signal = signal;
    return fetch(cfg.api + path, options).then(function (res) {
      if (!res.ok) {
        return res.json().catch(function () { return null; }).then(function (body) {
          throw { status: res.status, body: body };
        });
      }
      var parser = sseParser(onEvent);
      if (!res.body || !res.body.getReader || typeof TextDecoder !== "function") {
        return res.text().then(function (text) { parser.push(text); parser.end(); }, function () { throw { cut: true }; });
      }
      var reader = res.body.getReader();
      var decoder = new TextDecoder("utf-8");
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) {
            parser.push(decoder.decode());
            parser.end();
            return undefined;
          }
          parser.push(decoder.decode(chunk.value, { stream: true }));
          return pump();
        }, function () { throw { cut: true }; });
      }
      return pump();
    }, function () { throw { status: 0, body: null }; });
  }

  function getDocument(docId) {
    if (!docCache.has(docId)) {
      docCache.set(docId, request("/documents/" + encodeURIComponent(docId), { headers: headers() })
        .catch(function (e) { docCache.delete(docId); throw e; }));
    }
    return docCache.get(docId);
  }

  function Widget(mount, floating) {
    this.floating = floating;
    this.busy = false;
    this.history = []; /* this page's conversation: [{question, passage_ids}], oldest first */
    this.epoch = 0; /* bumped by "新对话": replies to questions asked before it are dropped */
    this.controller = null;
    this.build(mount);
    this.loadSuggestions();
  }

  Widget.prototype.build = function (mount) {
    var self = this;
    var uid = "qaw" + Math.random().toString(36).slice(2, 8);
    this.root = el("div", { class: "qaw-root" + (this.floating ? "" : " qaw-embedded") });
    this.log = el("div", { class: "qaw-log", role: "log", "aria-live": "polite", "aria-relevant": "additions", "aria-label": "对话记录" });
    this.input = el("textarea", {
      class: "qaw-input", id: uid + "-q", rows: "1", placeholder: "请输入问题，例如：5G覆盖哪些区域",
      "aria-describedby": uid + "-hint", autocomplete: "off",
    });
    this.send = el("button", { class: "qaw-send", type: "submit", text: "发送" });
    this.suggest = el("div", { class: "qaw-suggest", role: "group", "aria-label": "示例问题" });
    var form = el("form", { class: "qaw-form", onsubmit: function (e) { e.preventDefault(); self.ask(self.input.value); } }, [
      el("label", { class: "qaw-visually-hidden", for: uid + "-q", text: "问题" }),
      this.input,
      el("span", { class: "qaw-visually-hidden", id: uid + "-hint", text: "按回车发送，Shift+回车换行" }),
      this.send,
    ]);
    this.input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); self.ask(self.input.value); }
    });
    var actions = el("div", { class: "qaw-head-actions" }, [
      el("button", { class: "qaw-new", type: "button", text: "新对话", title: "清空对话记录，重新开始",
        onclick: function () { self.reset(); } }),
    ]);
    var head = el("div", { class: "qaw-head" }, [el("h2", { id: uid + "-title", text: cfg.title }), actions]);
    this.panel = el("section", { class: "qaw-panel " + (this.floating ? "qaw-floating" : "qaw-inline"), "aria-labelledby": uid + "-title" },
      [head, this.log, this.suggest, form]);
    if (this.floating) {
      this.panel.hidden = true;
      this.launcher = el("button", { class: "qaw-launcher", type: "button", "aria-expanded": "false", text: "💬 " + cfg.title,
        onclick: function () { self.toggle(true); } });
      actions.appendChild(el("button", { class: "qaw-close", type: "button", "aria-label": "关闭", text: "×",
        onclick: function () { self.toggle(false); } }));
      this.root.appendChild(this.launcher);
    }
    this.root.appendChild(this.panel);
    this.dialog = this.buildDialog(uid);
    this.root.appendChild(this.dialog);
    mount.appendChild(this.root);
    this.say("bot", GREETING);
  };

  /* "新对话": forget the conversation, clear the log, drop any answer still on its way. */
  Widget.prototype.reset = function () {
    this.epoch += 1;
    if (this.controller) this.controller.abort();
    this.controller = null;
    this.history = [];
    this.log.textContent = "";
    this.idle();
    this.say("bot", GREETING);
    this.input.focus();
  };

  Widget.prototype.idle = function () {
    this.busy = false;
    this.send.disabled = false;
    this.log.removeAttribute("aria-busy");
  };

  Widget.prototype.toggle = function (open) {
    this.panel.hidden = !open;
    this.launcher.setAttribute("aria-expanded", String(open));
    (open ? this.input : this.launcher).focus();
  };

  Widget.prototype.buildDialog = function (uid) {
    var self = this;
    this.dlgTitle = el("h3", { id: uid + "-dt" });
    this.dlgPath = el("p", { class: "qaw-path" });
    this.dlgQuote = el("blockquote", { class: "qaw-quote" });
    this.dlgClose = el("button", { class: "qaw-send", type: "button", text: "关闭", onclick: function () { self.closeSource(); } });
    var card = el("div", { class: "qaw-card", role: "document" },
      [this.dlgTitle, this.dlgPath, this.dlgQuote, el("div", { class: "qaw-meta" }), el("p", {}, [this.dlgClose])]);
    var dlg = el("div", { class: "qaw-dialog", role: "dialog", "aria-modal": "true", "aria-labelledby": uid + "-dt" }, [card]);
    dlg.hidden = true;
    dlg.addEventListener("click", function (e) { if (e.target === dlg) self.closeSource(); });
    dlg.addEventListener("keydown", function (e) {
      if (e.key === "Escape") self.closeSource();
      if (e.key === "Tab") { e.preventDefault(); self.dlgClose.focus(); }
    });
    return dlg;
  };

  Widget.prototype.loadSuggestions = function () {
    var self = this;
    request("/suggestions", { headers: headers() }).then(function (body) {
      (body.questions || []).forEach(function (q) {
        self.suggest.appendChild(el("button", { class: "qaw-chip", type: "button", text: q, onclick: function () { self.ask(q); } }));
      });
    }, function () { /* suggestions are optional */ });
  };

  Widget.prototype.say = function (who, text, extraClass) {
    var node = el("div", { class: "qaw-msg qaw-" + who + (extraClass ? " " + extraClass : "") });
    if (text) node.appendChild(document.createTextNode(text));
    this.log.appendChild(node);
    this.log.scrollTop = this.log.scrollHeight;
    return node;
  };

  Widget.prototype.ask = function (raw) {
    var self = this;
    var question = (raw || "").trim();
    if (this.busy) return;
    if (!question) { this.say("bot", "请输入问题。", "qaw-error"); return; }
    var asked = this.say("user", question);
    this.input.value = "";
    this.busy = true;
    this.send.disabled = true;
    this.log.setAttribute("aria-busy", "true");
    var epoch = this.epoch;
    var pending = this.say("bot", "正在检索…", "qaw-loading");
    var draft = null; /* the text node the answer's pieces are appended to while it is written */
    var answered = false;
    var failure = null;
    function onEvent(name, raw) {
      if (epoch !== self.epoch || answered || failure) return;
      var data;
      try { data = JSON.parse(raw); } catch (e) { return; }
      if (name === "passages") {
        if (data.resolved_question && data.resolved_question !== question) {
          self.log.insertBefore(el("div", { class: "qaw-resolved", text: "按“" + data.resolved_question + "”检索" }),
            asked.nextSibling);
        }
        pending.textContent = "正在生成答案…";
      } else if (name === "token") {
        if (!draft) {
          pending.className = "qaw-msg qaw-bot qaw-streaming";
          pending.textContent = "";
          draft = document.createTextNode("");
          /* What the LLM writes is shown as it comes, marked as not yet checked against the sources. */
          pending.appendChild(el("p", { class: "qaw-draft-label", text: "草稿（生成中，尚未核对）" }));
          pending.appendChild(el("p", { class: "qaw-draft" }, [draft]));
        }
        draft.appendData(String(data.text || ""));
        self.log.scrollTop = self.log.scrollHeight;
      } else if (name === "answer") {
        self.renderAnswer(pending, data);
        self.remember(question, data);
        answered = true;
        self.log.scrollTop = self.log.scrollHeight;
      } else if (name === "error") {
        failure = data;
      }
    }
    function fail(text) {
      pending.className = "qaw-msg qaw-bot qaw-error";
      pending.textContent = text;
    }
    this.controller = typeof AbortController === "function" ? new AbortController() : null;
    postStream("/ask/stream", askBody(question, this.history), onEvent, this.controller && this.controller.signal)
      .then(function () {
        if (epoch !== self.epoch || answered) return;
        if (failure) fail((failure && failure.message) || "处理问题时出错，请稍后重试。");
        else fail("连接中断，没有收到完整的答案，请重试。");
      }, function (err) {
        if (epoch !== self.epoch) return;
        if (answered) return; /* the answer is shown; a later hiccup does not take it back */
        if (err && err.cut) fail("连接中断，没有收到完整的答案，请重试。");
        else if (err && "status" in err) fail(describeError(err.status, err.body));
        else { fail("显示答案时出错，请重试。"); console.error("qa widget:", err); }
      })
      .then(function () {
        if (epoch !== self.epoch) return;
        self.controller = null;
        self.idle();
        self.input.focus();
      });
  };

  /* After an answered or declined turn: its question and the passages its answer cited. */
  Widget.prototype.remember = function (question, body) {
    var ids = [];
    if (body.answerable) {
      (body.answer_citations || []).forEach(function (c) {
        if (c.passage_id && ids.indexOf(c.passage_id) < 0) ids.push(c.passage_id);
      });
    }
    var turn = { question: question, passage_ids: ids.slice(0, MAX_TURN_PASSAGES) };
    /* The server's rewrite of a follow-up, so the next one builds on it ("那4G呢？" → "4G覆盖哪些区域"). */
    if (body.resolved_question && body.resolved_question !== question) turn.resolved_question = body.resolved_question;
    this.history.push(turn);
    if (this.history.length > MAX_TURNS) this.history = this.history.slice(-MAX_TURNS);
  };

  Widget.prototype.renderAnswer = function (node, body) {
    var self = this;
    node.className = "qaw-msg qaw-bot" + (body.answerable ? "" : " qaw-noanswer");
    node.textContent = "";
    var byRank = {};
    (body.passages || []).forEach(function (p) { byRank[p.rank] = p; });
    if (!body.answerable) {
      node.appendChild(el("p", { class: "qaw-plain", text: "没有找到相关内容。" }));
      node.appendChild(el("div", { class: "qaw-meta qaw-reason",
        text: body.reason || "已收录的文件中没有足够依据回答这个问题，可以换个问法试试。" }));
      this.renderNote(node, body);
      return;
    }
    // The short answer (a figure, date, name or list, verbatim) first, then the quoted sentences.
    if (body.short_answer && body.short_answer.text) {
      node.appendChild(el("p", { class: "qaw-short" }, [el("strong", { text: body.short_answer.text })]));
    }
    var generated = body.generator === "llm";
    node.appendChild(generated ? this.generatedAnswer(body, byRank) : this.quotedAnswer(body, byRank));
    if (generated) this.renderRemoved(node, body.verification || []);
    var list = el("ol", { class: "qaw-sources", "aria-label": "引用段落" });
    body.passages.slice(0, 3).forEach(function (p) {
      var c = p.citation;
      list.appendChild(el("li", {}, [el("button", {
        class: "qaw-source", type: "button", "data-passage-id": p.id,
        onclick: function () { self.openSource(p, c.start, c.end, this); },
      }, ["[" + p.rank + "] " + p.text.slice(0, 40) + (p.text.length > 40 ? "…" : ""), el("br"),
          el("small", { text: (c.doc_number ? c.doc_number + " · " : "") + c.section })])]));
    });
    node.appendChild(list);
    this.renderNote(node, body);
    node.appendChild(el("div", { class: "qaw-meta", text: "用时 " + Math.round(body.took_ms) + " 毫秒" }));
  };

  /* A [n] button opening the span [start, end) of passage n. */
  Widget.prototype.marker = function (n, passage, start, end) {
    var self = this;
    return el("button", {
      class: "qaw-marker", type: "button", text: "[" + n + "]", "aria-label": "查看出处 " + n,
      onclick: function () { self.openSource(passage, start, end, this); },
    });
  };

  /* An extractive answer is "sentence[n]sentence[m]": each citation is a quoted sentence and its marker. */
  Widget.prototype.quotedAnswer = function (body, byRank) {
    var self = this;
    var answer = el("p", { class: "qaw-answer" });
    body.answer_citations.forEach(function (c) {
      answer.appendChild(document.createTextNode(c.text));
      answer.appendChild(byRank[c.marker] ? self.marker(c.marker, byRank[c.marker], c.start, c.end)
        : document.createTextNode("[" + c.marker + "]"));
    });
    return answer;
  };

  /* A generated answer is the LLM's verified sentences, with its markers; each opens the cited passage. */
  Widget.prototype.generatedAnswer = function (body, byRank) {
    var self = this;
    var cited = {};
    (body.answer_citations || []).forEach(function (c) { cited[c.marker] = c; });
    var answer = el("p", { class: "qaw-answer qaw-generated" });
    var text = body.answer || "";
    var at = 0, match;
    MARKERS.lastIndex = 0;
    while ((match = MARKERS.exec(text)) !== null) {
      if (match.index > at) answer.appendChild(document.createTextNode(text.slice(at, match.index)));
      var numbers = (match[1] || match[2] || match[3]).match(/\d+/g);
      if (!numbers) answer.appendChild(document.createTextNode(match[0]));
      (numbers || []).forEach(function (digits) {
        var n = Number(digits), c = cited[n], p = byRank[n];
        answer.appendChild(c && p ? self.marker(n, p, c.start, c.end) : document.createTextNode("[" + n + "]"));
      });
      at = MARKERS.lastIndex;
    }
    if (at < text.length) answer.appendChild(document.createTextNode(text.slice(at)));
    return answer;
  };

  /* The generated sentences that failed verification: shown struck through, with the reason. */
  Widget.prototype.renderRemoved = function (node, checks) {
    var removed = checks.filter(function (c) { return c.status !== "supported"; });
    if (!removed.length) return;
    var box = el("div", { class: "qaw-removed" });
    removed.forEach(function (c) {
      box.appendChild(el("p", {}, [
        el("del", { class: "qaw-unverified", text: String(c.text || "").replace(MARKERS, "") }),
        el("span", { class: "qaw-removed-label", text: "（未通过核对，已移除" + (c.note ? "：" + c.note : "") + "）" }),
      ]));
    });
    node.appendChild(box);
  };

  /* Why an LLM's answer was not used (timeout, error, failed verification): the answer shown is extractive. */
  Widget.prototype.renderNote = function (node, body) {
    if (body.generator_note) node.appendChild(el("div", { class: "qaw-meta qaw-note", text: body.generator_note }));
  };

  /* Show the cited span highlighted inside its paragraph, from the verbatim document text. */
  Widget.prototype.openSource = function (passage, start, end, opener) {
    var self = this;
    if (!passage) return;
    this.opener = opener;
    getDocument(passage.citation.doc_id).then(function (doc) {
      var text = doc.text;
      var from = text.lastIndexOf("\n", passage.citation.start - 1) + 1;
      var to = text.indexOf("\n", passage.citation.end);
      if (to < 0) to = text.length;
      from = Math.min(from, start);
      to = Math.max(to, end);
      self.dlgTitle.textContent = doc.title;
      self.dlgPath.textContent = (doc.doc_number ? doc.doc_number + " · " : "") + passage.citation.section +
        " · 第" + passage.citation.paragraph + "段";
      self.dlgQuote.textContent = "";
      self.dlgQuote.appendChild(document.createTextNode(text.slice(from, start)));
      self.dlgQuote.appendChild(el("mark", { text: text.slice(start, end) }));
      self.dlgQuote.appendChild(document.createTextNode(text.slice(end, to)));
      self.dialog.hidden = false;
      self.dlgClose.focus();
    }, function (err) {
      self.say("bot", "无法打开原文：" + describeError(err.status, err.body), "qaw-error");
    });
  };

  Widget.prototype.closeSource = function () {
    this.dialog.hidden = true;
    if (this.opener) this.opener.focus();
  };

  /* A constructed stylesheet is not an inline style, so a page's CSP need not allow 'unsafe-inline'. */
  function addStyles() {
    if (window.__qawStyled) return;
    window.__qawStyled = true;
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      document.adoptedStyleSheets = document.adoptedStyleSheets.concat([sheet]);
    } catch (e) { /* older browsers */
      document.head.appendChild(el("style", { id: "qaw-style", text: CSS }));
    }
  }

  function start() {
    addStyles();
    var target = cfg.target && document.querySelector(cfg.target);
    window.QAWidget = new Widget(target || document.body, !target);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
