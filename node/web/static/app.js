// OneWindow hall pages: small enhancements only. Every page works without
// this file; it adds search-as-you-type, the situation toggles of the
// checklist, keyboard shortcuts and print buttons.
(function () {
  "use strict";

  function debounce(fn, ms) {
    var t;
    return function () {
      var args = arguments, self = this;
      clearTimeout(t);
      t = setTimeout(function () { fn.apply(self, args); }, ms);
    };
  }

  // A button that prints the page (the kiosk's ticket); no inline script
  // under the content security policy.
  document.querySelectorAll("[data-print]").forEach(function (b) {
    b.addEventListener("click", function () { window.print(); });
  });

  // Matter search as you type: <input data-live-search="/matters/search?..." data-results="id">.
  document.querySelectorAll("input[data-live-search]").forEach(function (input) {
    var list = document.getElementById(input.getAttribute("data-results"));
    if (!list) { return; }
    var seq = 0;
    var run = debounce(function () {
      var mine = ++seq;
      var url = input.getAttribute("data-live-search") + "&q=" + encodeURIComponent(input.value);
      fetch(url, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(function (hits) {
          if (mine !== seq) { return; }
          list.textContent = "";
          if (!hits.length) {
            var li = document.createElement("li");
            li.className = "empty";
            li.textContent = document.documentElement.lang === "en" ? "No matching matter." : "没有找到相符的事项。";
            list.appendChild(li);
            return;
          }
          hits.forEach(function (h) {
            var li = document.createElement("li");
            var a = document.createElement("a");
            a.href = h.url;
            var code = document.createElement("span");
            code.className = "code";
            code.textContent = h.code;
            a.appendChild(code);
            a.appendChild(document.createTextNode(" " + h.name));
            li.appendChild(a);
            if (h.here === false) {
              // Received only at other halls: the guide, and where.
              li.className = "elsewhere";
              var at = document.createElement("span");
              at.className = "muted";
              at.textContent = " " + h.at;
              li.appendChild(at);
            }
            list.appendChild(li);
          });
        })
        .catch(function () {});
    }, 120);
    input.addEventListener("input", run);
    input.addEventListener("keydown", function (e) {
      if (e.key === "ArrowDown") {
        var first = list.querySelector("a");
        if (first) { e.preventDefault(); first.focus(); }
      }
    });
    list.addEventListener("keydown", function (e) {
      var links = Array.prototype.slice.call(list.querySelectorAll("a"));
      var i = links.indexOf(document.activeElement);
      if (i < 0) { return; }
      if (e.key === "ArrowDown" && i + 1 < links.length) { e.preventDefault(); links[i + 1].focus(); }
      if (e.key === "ArrowUp") { e.preventDefault(); (i > 0 ? links[i - 1] : input).focus(); }
    });
  });

  // The checklist: show the materials of the selected situations only.
  var sits = document.querySelectorAll("input[data-situation]");
  function applySituations() {
    var on = {};
    sits.forEach(function (s) { if (s.checked) { on[s.value] = true; } });
    document.querySelectorAll("tr[data-material]").forEach(function (row) {
      var need = (row.getAttribute("data-situations") || "").split(" ").filter(Boolean);
      var show = !need.length || need.some(function (s) { return on[s]; });
      row.classList.toggle("hidden", !show);
      row.querySelectorAll("input").forEach(function (i) { i.disabled = !show; });
    });
  }
  if (sits.length) {
    sits.forEach(function (s) { s.addEventListener("change", applySituations); });
    applySituations();
  }

  // "Presented" fills in the counts the checklist asks for.
  document.querySelectorAll("input[data-have]").forEach(function (box) {
    box.addEventListener("change", function () {
      var row = box.closest("tr");
      var code = row.getAttribute("data-material");
      var orig = document.getElementById("orig_" + code);
      var copies = document.getElementById("copy_" + code);
      if (box.checked) {
        if (orig && orig.value === "") { orig.value = row.getAttribute("data-need-orig"); }
        if (copies && copies.value === "") { copies.value = row.getAttribute("data-need-copies"); }
      } else {
        if (orig) { orig.value = ""; }
        if (copies) { copies.value = ""; }
      }
    });
  });

  // Shortcuts: F2 calls the next number; Ctrl+Enter submits the checklist.
  document.addEventListener("keydown", function (e) {
    if (e.key === "F2") {
      var call = document.getElementById("call-next");
      if (call) { e.preventDefault(); call.click(); }
    }
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      var form = document.querySelector("form[data-shortcut-submit]");
      var btn = document.getElementById("submit-apply");
      if (form && btn) { e.preventDefault(); btn.click(); }
    }
  });

  // The document frame grows to the document's height.
  document.querySelectorAll("iframe.doc-frame").forEach(function (f) {
    function fit() {
      try {
        var d = f.contentDocument;
        if (d && d.documentElement) { f.style.height = (d.documentElement.scrollHeight + 24) + "px"; }
      } catch (e) { /* another origin: keep the CSS height */ }
    }
    f.addEventListener("load", fit);
    fit();
  });

  // Print buttons.
  document.querySelectorAll("[data-print-frame]").forEach(function (b) {
    b.addEventListener("click", function () {
      var f = window.frames[b.getAttribute("data-print-frame")];
      if (f) { f.focus(); f.print(); }
    });
  });
  document.querySelectorAll("[data-print]").forEach(function (b) {
    b.addEventListener("click", function () { window.print(); });
  });
  document.querySelectorAll("[data-back]").forEach(function (a) {
    a.addEventListener("click", function (e) {
      if (history.length > 1) { e.preventDefault(); history.back(); }
    });
  });

  // The verify page checks a document's seal in the browser too, with
  // nothing but the root's public key (the same check as the hall's:
  // onewindow_domain::document::Seal::verify).
  function b64url(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) { s += "="; }
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out;
  }
  function unhex(h) {
    var out = new Uint8Array(h.length / 2);
    for (var i = 0; i < out.length; i++) { out[i] = parseInt(h.substr(i * 2, 2), 16); }
    return out;
  }
  function tohex(b) {
    return Array.prototype.map.call(b, function (x) { return (x < 16 ? "0" : "") + x.toString(16); }).join("");
  }
  function concat(parts) {
    var n = 0, i, out, at = 0;
    for (i = 0; i < parts.length; i++) { n += parts[i].length; }
    out = new Uint8Array(n);
    for (i = 0; i < parts.length; i++) { out.set(parts[i], at); at += parts[i].length; }
    return out;
  }
  function sealParts(b) {
    var i = 0;
    function take(n) {
      if (i + n > b.length) { throw new Error("short"); }
      var r = b.subarray(i, i + n); i += n; return r;
    }
    var head = take(6);
    if (head[0] !== 1) { throw new Error("version"); }
    var cl = take(1), caseId = take(cl[0]), nl = take(1), node = take(nl[0]);
    var hash = take(32), key = take(32), el = take(1), endorsement = take(el[0]), sig = take(64);
    if (i !== b.length) { throw new Error("long"); }
    var enc = new TextEncoder();
    return {
      signed: concat([enc.encode("onewindow document seal v1\n"), head, cl, caseId, nl, node, hash]),
      endorsed: enc.encode("onewindow document key v1\n" + new TextDecoder().decode(node) + "\n" + tohex(key)),
      key: key, endorsement: endorsement, sig: sig
    };
  }
  document.querySelectorAll("[data-offline-check]").forEach(function (box) {
    var out = box.querySelector("[data-out]");
    function show(v) {
      box.setAttribute("data-result", v);
      box.className = box.className + (v === "ok" ? " ok" : v === "bad" ? " bad" : "");
      out.textContent = box.getAttribute("data-" + v);
    }
    var parts, subtle = window.crypto && window.crypto.subtle;
    try { parts = sealParts(b64url(box.getAttribute("data-seal"))); } catch (e) { show("bad"); return; }
    if (!subtle) { show("na"); return; }
    var ed = { name: "Ed25519" };
    Promise.all([
      subtle.importKey("raw", unhex(box.getAttribute("data-root")), ed, false, ["verify"]),
      subtle.importKey("raw", parts.key, ed, false, ["verify"])
    ]).then(function (keys) {
      if (parts.endorsement.length !== 64) { show("bad"); return; }
      return Promise.all([
        subtle.verify(ed, keys[0], parts.endorsement, parts.endorsed),
        subtle.verify(ed, keys[1], parts.sig, parts.signed)
      ]).then(function (r) { show(r[0] && r[1] ? "ok" : "bad"); });
    }, function () { show("na"); }).catch(function () { show("bad"); });
  });
})();
