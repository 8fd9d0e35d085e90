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

  function askBody(question) {
    var body = { question: question, top_k: 5 };
    if (cfg.filters) body.filters = cfg.filters;
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
    this.build(mount);
    this.loadSuggestions();
  }

  Widget.prototype.build = function (mount) {
    var self = this;
    var uid = "qaw" + Math.random().toString(36).slice(2, 8);
    this.root = el("div", { class: "qaw-root" });
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
    var head = el("div", { class: "qaw-head" }, [el("h2", { id: uid + "-title", text: cfg.title })]);
    this.panel = el("section", { class: "qaw-panel " + (this.floating ? "qaw-floating" : "qaw-inline"), "aria-labelledby": uid + "-title" },
      [head, this.log, this.suggest, form]);
    if (this.floating) {
      this.panel.hidden = true;
      this.launcher = el("button", { class: "qaw-launcher", type: "button", "aria-expanded": "false", text: "💬 " + cfg.title,
        onclick: function () { self.toggle(true); } });
      head.appendChild(el("button", { class: "qaw-close", type: "button", "aria-label": "关闭", text: "×",
        onclick: function () { self.toggle(false); } }));
      this.root.appendChild(this.launcher);
    }
    this.root.appendChild(this.panel);
    this.dialog = this.buildDialog(uid);
    this.root.appendChild(this.dialog);
    mount.appendChild(this.root);
    this.say("bot", "您好！请就已收录的文件提问，回答会逐字引用原文并标注出处。");
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
    this.say("user", question);
    this.input.value = "";
    this.busy = true;
    this.send.disabled = true;
    this.log.setAttribute("aria-busy", "true");
    var pending = this.say("bot", "正在检索…", "qaw-loading");
    request("/ask", { method: "POST", headers: headers(), body: JSON.stringify(askBody(question)) })
      .then(function (body) { self.renderAnswer(pending, body); },
            function (err) { pending.className = "qaw-msg qaw-bot qaw-error"; pending.textContent = describeError(err.status, err.body); })
      .then(function () {
        self.busy = false;
        self.send.disabled = false;
        self.log.removeAttribute("aria-busy");
        self.input.focus();
      });
  };

  Widget.prototype.renderAnswer = function (node, body) {
    var self = this;
    node.className = "qaw-msg qaw-bot" + (body.answerable ? "" : " qaw-noanswer");
    node.textContent = "";
    var byRank = {};
    body.passages.forEach(function (p) { byRank[p.rank] = p; });
    if (!body.answerable) {
      node.appendChild(el("p", { class: "qaw-plain", text: "没有找到相关内容。" }));
      node.appendChild(el("div", { class: "qaw-meta qaw-reason",
        text: body.reason || "已收录的文件中没有足够依据回答这个问题，可以换个问法试试。" }));
      return;
    }
    // The short answer (a figure, date, name or list, verbatim) first, then the quoted sentences.
    if (body.short_answer && body.short_answer.text) {
      node.appendChild(el("p", { class: "qaw-short" }, [el("strong", { text: body.short_answer.text })]));
    }
    var answer = el("p", { class: "qaw-answer" });
    // The answer is "sentence[n]sentence[m]"; each [n] becomes a button opening that span.
    body.answer_citations.forEach(function (c) {
      answer.appendChild(document.createTextNode(c.text));
      answer.appendChild(el("button", {
        class: "qaw-marker", type: "button", text: "[" + c.marker + "]", "aria-label": "查看出处 " + c.marker,
        onclick: function () { self.openSource(byRank[c.marker], c.start, c.end, this); },
      }));
    });
    node.appendChild(answer);
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
    node.appendChild(el("div", { class: "qaw-meta", text: "用时 " + Math.round(body.took_ms) + " 毫秒" }));
  };

  /* Show the cited span highlighted inside its paragraph, from the verbatim document text. */
  Widget.prototype.openSource = function (passage, start, end, opener) {
    var self = this;
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
