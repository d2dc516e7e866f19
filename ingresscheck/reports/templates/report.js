(function () {
  "use strict";
  // The first screen (summary, findings, host matrix) is static HTML. This script adds: status chips
  // that show ONLY the statuses picked, a search box, sortable matrix columns, and per-host results
  // rendered on demand from the embedded report (gzip + base64, decompressed in the page; nothing is
  // fetched). Data is put into the DOM with textContent only, never as markup.
  var STEPS = ["dns", "lb", "tls", "ingress", "backend"];
  var STEP_TITLES = { dns: "DNS", lb: "Load balancer", tls: "TLS", ingress: "Ingress", backend: "Backend" };
  var RANK = { none: -1, skip: 0, pass: 1, warn: 2, fail: 3, error: 4 };
  var only = new Set();
  var query = "";

  var body = document.getElementById("matrix-body");
  var hostRows = body ? Array.prototype.slice.call(body.querySelectorAll("tr.hostrow")) : [];
  var findings = Array.prototype.slice.call(document.querySelectorAll("li.finding"));
  var toggles = Array.prototype.slice.call(document.querySelectorAll("button[data-filter]"));
  var reset = document.querySelector("button[data-filter-reset]");
  var search = document.getElementById("search");
  var note = document.getElementById("filter-note");
  var empty = document.getElementById("filter-empty");
  var cluster = document.getElementById("cluster");
  var details = new Map(); // host row index -> its detail row, once opened

  // --- the embedded results, a chunk decoded only when one of its hosts is opened ----------------------
  var chunks = new Map(); // chunk number -> promise of {byHost, unhosted}
  function loadChunk(number) {
    if (chunks.has(number)) { return chunks.get(number); }
    var promise = (async function () {
      var script = document.querySelector('script.report-chunk[data-chunk="' + number + '"]');
      var binary = atob(script.textContent.trim());
      var bytes = new Uint8Array(binary.length);
      for (var i = 0; i < binary.length; i += 1) { bytes[i] = binary.charCodeAt(i); }
      if (typeof DecompressionStream === "undefined") {
        throw new Error("this browser cannot decompress the embedded results (no DecompressionStream)");
      }
      var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
      var part = JSON.parse(await new Response(stream).text());
      var byHost = new Map();
      var unhosted = [];
      part.results.forEach(function (r, n) {
        r.finding = part.finding[n];
        if (r.host) {
          if (!byHost.has(r.host)) { byHost.set(r.host, []); }
          byHost.get(r.host).push(r);
        } else {
          unhosted.push(r);
        }
      });
      return { byHost: byHost, unhosted: unhosted };
    })();
    chunks.set(number, promise);
    return promise;
  }

  // --- rendering a results table ---------------------------------------------------------------------
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function formatMs(ms) {
    if (ms < 10) { return ms.toFixed(1) + " ms"; }
    if (ms < 1000) { return Math.round(ms) + " ms"; }
    return (ms / 1000).toFixed(2) + " s";
  }

  function ordered(results) {
    return results.slice().sort(function (a, b) {
      return (STEPS.indexOf(a.step) - STEPS.indexOf(b.step)) || (RANK[b.status] - RANK[a.status]);
    });
  }

  function resultsTable(results) {
    var table = el("table", "results");
    var cols = el("colgroup");
    ["c-status", "c-check", "c-sev", "c-msg", "c-fix", "c-ev"].forEach(function (c) { cols.appendChild(el("col", c)); });
    table.appendChild(cols);
    var head = el("tr");
    ["Status", "Check", "Severity", "Message", "Remediation", "Evidence"].forEach(function (t) {
      var th = el("th", null, t); th.scope = "col"; head.appendChild(th);
    });
    table.appendChild(el("thead")).appendChild(head);
    var tbody = table.appendChild(el("tbody"));
    ordered(results).forEach(function (r) {
      var tr = el("tr");
      tr.dataset.status = r.status; tr.dataset.check = r.check; tr.dataset.host = r.host || ""; tr.dataset.step = r.step;
      if (r.subject) { tr.dataset.subject = r.subject; }
      tr.appendChild(el("td")).appendChild(el("span", "badge st-" + r.status, r.status));
      var check = tr.appendChild(el("td"));
      check.appendChild(el("code", "check", r.check));
      if (r.subject) { check.appendChild(el("span", "subject mono", r.subject)); }
      var where = [r.namespace, r.ingress || r.name].filter(Boolean).join("/");
      check.appendChild(el("span", "sub", [STEP_TITLES[r.step] || r.step, formatMs(r.duration_ms)].concat(where ? [where] : []).join(" · ")));
      if (r.finding >= 0) {
        var link = el("a", "findinglink", "finding");
        link.href = "#finding-" + r.finding;
        check.appendChild(link);
      }
      tr.appendChild(el("td")).appendChild(el("span", "sev sev-" + r.severity, r.severity));
      tr.appendChild(el("td", "msg", r.message));
      var fix = tr.appendChild(el("td", "fix"));
      if (r.remediation) { fix.textContent = r.remediation; } else { fix.appendChild(el("span", "none", "—")); }
      var ev = tr.appendChild(el("td", "ev"));
      if (r.evidence && Object.keys(r.evidence).length) {
        var box = ev.appendChild(el("details"));
        box.appendChild(el("summary", null, "evidence"));
        var pre = box.appendChild(el("pre", "evidence"));
        box.addEventListener("toggle", function () {
          if (box.open && !pre.textContent) { pre.textContent = JSON.stringify(r.evidence, null, 2); }
        });
      } else {
        ev.appendChild(el("span", "none", "—"));
      }
      tbody.appendChild(tr);
    });
    return table;
  }

  function filterTable(container) {
    container.querySelectorAll("tr[data-status]").forEach(function (tr) {
      tr.hidden = only.size > 0 && !only.has(tr.dataset.status);
    });
  }

  // --- opening a host ----------------------------------------------------------------------------------
  function openHost(row, open) {
    var index = row.dataset.index;
    var detail = details.get(index);
    if (open === undefined) { open = !(detail && !detail.hidden); }
    row.setAttribute("aria-expanded", open ? "true" : "false");
    if (!open) { if (detail) { detail.hidden = true; } return Promise.resolve(); }
    if (!detail) {
      detail = el("tr", "detail");
      detail.dataset.detailOf = index;
      var cell = detail.appendChild(el("td"));
      cell.colSpan = row.children.length;
      cell.appendChild(el("p", "loading", "loading results…"));
      details.set(index, detail);
      row.after(detail);
      return loadChunk(row.dataset.chunk).then(function (data) {
        cell.textContent = "";
        cell.appendChild(resultsTable(data.byHost.get(row.dataset.host) || []));
        filterTable(cell);
      }, function (err) { cell.textContent = String(err); });
    }
    detail.hidden = false;
    return Promise.resolve();
  }

  function showHost(index) {
    var row = document.getElementById("host-" + index);
    if (!row) { return; }
    if (row.hidden) { only.clear(); query = ""; search.value = ""; apply(); }
    openHost(row, true).then(function () { row.scrollIntoView({ block: "start" }); flash(row); });
  }

  function flash(node) {
    node.classList.add("flash");
    setTimeout(function () { node.classList.remove("flash"); }, 1600);
  }

  // --- filters and search --------------------------------------------------------------------------------
  function matches(node) {
    return !query || (node.dataset.q || "").indexOf(query) !== -1;
  }

  function apply() {
    var hostsShown = 0;
    hostRows.forEach(function (row) {
      var statuses = row.dataset.statuses.split(" ");
      var ok = matches(row) && (only.size === 0 || statuses.some(function (s) { return only.has(s); }));
      row.hidden = !ok;
      var detail = details.get(row.dataset.index);
      if (detail) { detail.hidden = !ok || row.getAttribute("aria-expanded") !== "true"; filterTable(detail); }
      if (ok) { hostsShown += 1; }
    });
    var findingsShown = 0;
    findings.forEach(function (f) {
      var ok = matches(f) && (only.size === 0 || only.has(f.dataset.status));
      f.hidden = !ok;
      if (ok) { findingsShown += 1; }
    });
    if (cluster) {
      var counts = Array.prototype.map.call(cluster.querySelectorAll(".mini-count"), function (c) { return c.className.replace(/.*st-/, ""); });
      cluster.hidden = query !== "" || (only.size > 0 && !counts.some(function (s) { return only.has(s); }));
      filterTable(cluster);
    }
    toggles.forEach(function (button) {
      button.setAttribute("aria-pressed", only.has(button.dataset.filter) ? "true" : "false");
    });
    var filtered = only.size > 0 || query !== "";
    note.textContent = filtered ? hostsShown + " of " + hostRows.length + " hosts, " + findingsShown + " of " + findings.length + " findings shown" : "";
    empty.hidden = !filtered || hostsShown + findingsShown > 0 || (cluster && !cluster.hidden);
  }

  toggles.forEach(function (button) {
    button.addEventListener("click", function () {
      var status = button.dataset.filter;
      if (only.has(status)) { only.delete(status); } else { only.add(status); }
      apply();
    });
  });
  reset.addEventListener("click", function () { only.clear(); query = ""; search.value = ""; apply(); });
  var timer = null;
  search.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { query = search.value.trim().toLowerCase(); apply(); }, 120);
  });

  // --- sorting the matrix --------------------------------------------------------------------------------
  function sortKey(row, key) {
    if (key === "host") { return row.dataset.host.toLowerCase(); }
    if (key === "worst") { return RANK[row.dataset.worst]; }
    if (key === "bad") { return Number(row.dataset.bad); }
    var cell = row.querySelector('td[data-step="' + key + '"]');
    return RANK[cell ? cell.dataset.state : "none"];
  }

  document.querySelectorAll("table.matrix th[data-sort]").forEach(function (th) {
    th.querySelector("button").addEventListener("click", function () {
      var key = th.dataset.sort;
      var descending = th.getAttribute("aria-sort") !== "descending";
      if (key === "host" && th.getAttribute("aria-sort") === "none") { descending = false; }
      document.querySelectorAll("table.matrix th[data-sort]").forEach(function (other) { other.setAttribute("aria-sort", "none"); });
      th.setAttribute("aria-sort", descending ? "descending" : "ascending");
      var sign = descending ? -1 : 1;
      var keyed = hostRows.map(function (row) { return [sortKey(row, key), Number(row.dataset.index), row]; });
      keyed.sort(function (a, b) {
        if (a[0] < b[0]) { return -sign; }
        if (a[0] > b[0]) { return sign; }
        return a[1] - b[1]; // ties keep the failures-first order
      });
      var frag = document.createDocumentFragment();
      keyed.forEach(function (k) {
        frag.appendChild(k[2]);
        var detail = details.get(k[2].dataset.index);
        if (detail) { frag.appendChild(detail); }
      });
      body.appendChild(frag);
    });
  });

  // --- clicks: rows, host links, "more", cluster-wide --------------------------------------------------------
  if (body) {
    body.addEventListener("click", function (event) {
      var row = event.target.closest("tr.hostrow");
      if (row && !event.target.closest("a, button, details")) { openHost(row); }
    });
    body.addEventListener("keydown", function (event) {
      var row = event.target.closest("tr.hostrow");
      if (row && (event.key === "Enter" || event.key === " ")) { event.preventDefault(); openHost(row); }
    });
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest("a.hostlink");
    if (link) { event.preventDefault(); history.replaceState(null, "", link.getAttribute("href")); showHost(link.dataset.hostIndex); return; }
    var more = event.target.closest("button[data-more]");
    if (more) {
      more.parentNode.querySelectorAll("a.extra").forEach(function (a) { a.hidden = false; });
      more.remove();
      return;
    }
    var toFinding = event.target.closest("a.findinglink");
    if (toFinding) {
      var target = document.querySelector(toFinding.getAttribute("href"));
      if (target && target.hidden) { only.clear(); query = ""; search.value = ""; apply(); }
      if (target) { setTimeout(function () { flash(target); }, 0); }
    }
  });
  var openCluster = document.querySelector("button[data-open-cluster]");
  if (openCluster) {
    openCluster.addEventListener("click", function () {
      var bodyEl = cluster.querySelector(".cluster-body");
      var open = openCluster.getAttribute("aria-expanded") !== "true";
      openCluster.setAttribute("aria-expanded", open ? "true" : "false");
      openCluster.textContent = open ? "Hide results" : openCluster.dataset.label;
      bodyEl.hidden = !open;
      if (open && !bodyEl.firstChild) {
        loadChunk(cluster.dataset.chunk).then(function (data) { bodyEl.appendChild(resultsTable(data.unhosted)); filterTable(bodyEl); });
      }
    });
    openCluster.dataset.label = openCluster.textContent;
  }

  var hash = /^#host-(\d+)$/.exec(location.hash);
  if (hash) { showHost(hash[1]); }
  apply();
  document.documentElement.dataset.ready = String(Math.round(performance.now()));
})();
