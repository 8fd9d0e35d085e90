/* The demo page: the embed snippet and the list of documents (a file, so the page's CSP allows no inline script). */
(function () {
  "use strict";
  document.getElementById("snippet").textContent =
    '<script src="' + location.origin + '/widget.js" defer><\/script>';
  var tag = document.querySelector("script[data-api-key]");
  var key = tag && tag.getAttribute("data-api-key");
  fetch("documents", { headers: key ? { "X-API-Key": key } : {} }).then(function (r) {
    if (!r.ok) throw new Error(String(r.status));
    return r.json();
  }).then(function (docs) {
    var ul = document.getElementById("docs");
    ul.textContent = "";
    docs.forEach(function (d) {
      var li = document.createElement("li");
      li.textContent = d.title + (d.doc_number ? "（" + d.doc_number + "）" : "") + (d.date ? " · " + d.date : "");
      ul.appendChild(li);
    });
  }).catch(function () { document.getElementById("docs").textContent = "无法加载文件列表。"; });
})();
