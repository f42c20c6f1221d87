// The runs table: a virtualized list over the search API's pages.
// Only the rows in view are in the DOM; pages of rows (with only the chosen columns) are
// fetched as the view nears the end of what is loaded. The view state (filter, order,
// columns, grouping, selection) is kept in the URL. Every value is set as text.
"use strict";
(function () {
  const root = document.getElementById("runs");
  if (!root) return;
  const ROW = 28, BUFFER = 20, AHEAD = 60;
  const expId = root.dataset.experiment;
  const keys = JSON.parse(root.dataset.keys);
  const $ = (id) => document.getElementById(id);
  const viewport = $("viewport"), spacer = $("spacer"), rowsBox = $("rows"), thead = $("thead");
  const FIXED = [
    { id: "name", label: "Name", order: "attributes.name", width: "minmax(10em, 2fr)" },
    { id: "status", label: "Status", order: "attributes.status", width: "7em" },
    { id: "start", label: "Started", order: "attributes.start_time", width: "11em" },
    { id: "duration", label: "Duration", order: "attributes.duration", width: "6em" },
    { id: "user", label: "User", order: "tags.`autolog.user`", width: "7em" },
    { id: "commit", label: "Commit", order: "tags.`autolog.git.commit`", width: "7em" },
  ];

  // -- view state, in the URL -----------------------------------------------------------------
  const params = new URLSearchParams(location.search);
  const state = {
    filter: params.get("filter") || "",
    order: params.get("order") || "",
    cols: params.has("col") ? params.getAll("col") : JSON.parse(root.dataset.defaultColumns),
    group: params.get("flat") !== "1",
    sel: new Set(params.getAll("sel")),
  };
  function saveState() {
    const p = new URLSearchParams();
    if (state.filter) p.set("filter", state.filter);
    if (state.order) p.set("order", state.order);
    state.cols.forEach((c) => p.append("col", c));
    if (state.cols.length === 0) p.append("col", "");
    if (!state.group) p.set("flat", "1");
    state.sel.forEach((s) => p.append("sel", s));
    history.replaceState(null, "", location.pathname + "?" + p.toString());
    updateCompare();
  }
  function activeCols() { return state.cols.filter((c) => c); }

  // -- loading ----------------------------------------------------------------------------------
  let items = [], token = null, done = false, loading = false, generation = 0, firstDrawn = false;
  const expanded = new Set();

  function query(extra) {
    const p = new URLSearchParams();
    if (state.filter) p.set("filter", state.filter);
    if (state.order) p.set("order", state.order);
    activeCols().forEach((c) => p.append("col", c));
    if (state.group) p.set("group", "1");
    Object.entries(extra || {}).forEach(([k, v]) => p.set(k, v));
    return "/ui/api/experiments/" + encodeURIComponent(expId) + "/runs?" + p.toString();
  }

  async function fetchRows(extra) {
    const reply = await fetch(query(extra), { headers: { Accept: "application/json" } });
    const data = await reply.json();
    if (!reply.ok || data.error) throw data;
    return data;
  }

  function showError(err) {
    const box = $("query-error");
    if (!err) { box.classList.add("hidden"); box.textContent = ""; return; }
    box.textContent = err.error || String(err);
    box.classList.remove("hidden");
    const input = err.where === "order" ? $("order") : $("filter");
    if (typeof err.position === "number" && input) {
      input.focus();
      input.setSelectionRange(err.position, err.position + 1);
      input.classList.add("bad");
    }
  }

  async function loadMore() {
    if (loading || done) return;
    loading = true;
    const gen = generation;
    try {
      const data = await fetchRows(token ? { token } : {});
      if (gen !== generation) return;
      data.rows.forEach((r) => items.push({ row: r, depth: 0 }));
      token = data.token;
      done = !token;
      showError(null);
      status();
      draw();
    } catch (err) {
      if (gen === generation) { done = true; showError(err); status(); draw(); }
    } finally {
      if (gen === generation) loading = false;
    }
  }

  async function toggleChildren(index) {
    const item = items[index];
    const id = item.row.id;
    if (expanded.has(id)) {
      expanded.delete(id);
      let end = index + 1;
      while (end < items.length && items[end].depth > item.depth) end++;
      items.splice(index + 1, end - index - 1);
      draw();
      return;
    }
    expanded.add(id);
    const gen = generation;
    let next = null, added = [];
    do {
      const data = await fetchRows(next ? { parent: id, token: next, group: "0" } : { parent: id, group: "0" });
      added = added.concat(data.rows.map((r) => ({ row: r, depth: item.depth + 1 })));
      next = data.token;
    } while (next);
    if (gen !== generation) return;
    items.splice(items.indexOf(item) + 1, 0, ...added);
    draw();
  }

  function reset() {
    generation++;
    items = []; token = null; done = false; loading = false;
    expanded.clear();
    viewport.scrollTop = 0;
    drawHeader();
    draw();
    loadMore();
  }

  function status() {
    const more = done ? "" : " (scroll for more)";
    $("status-line").textContent = items.length + " runs loaded" + more;
  }

  // -- drawing ----------------------------------------------------------------------------------
  function template() {
    return ["2.2em", ...FIXED.map((c) => c.width), ...activeCols().map(() => "minmax(8em, 1fr)")].join(" ");
  }

  function fmtNumber(v) {
    if (typeof v !== "number") return v === null || v === undefined ? "" : String(v);
    if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
    return Number(v.toPrecision(6)).toString();
  }
  function fmtTime(ms) {
    if (!ms) return "";
    const d = new Date(ms), p = (n) => String(n).padStart(2, "0");
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " + p(d.getHours()) + ":" + p(d.getMinutes());
  }
  function fmtDuration(s) {
    if (s === null || s === undefined) return "";
    if (s < 60) return s.toFixed(1) + "s";
    const m = Math.floor(s / 60);
    return m < 60 ? m + "m" + String(Math.floor(s % 60)).padStart(2, "0") + "s" : Math.floor(m / 60) + "h" + String(m % 60).padStart(2, "0") + "m";
  }

  function cell(text, cls) {
    const div = document.createElement("div");
    div.className = "cell" + (cls ? " " + cls : "");
    div.textContent = text;
    div.title = text;
    return div;
  }

  function drawHeader() {
    thead.textContent = "";
    thead.style.gridTemplateColumns = template();
    thead.appendChild(cell(""));
    const sortKey = state.order.replace(/\s+(asc|desc)\s*$/i, "");
    const desc = /\sdesc\s*$/i.test(state.order);
    const add = (label, order) => {
      const h = cell(label + (sortKey === order ? (desc ? " ▼" : " ▲") : ""), "sortable");
      h.dataset.order = order;
      h.title = order;
      h.addEventListener("click", () => {
        state.order = order + (sortKey === order && !desc ? " DESC" : sortKey === order ? "" : " DESC");
        $("order").value = state.order;
        saveState();
        reset();
      });
      thead.appendChild(h);
    };
    FIXED.forEach((c) => add(c.label, c.order));
    // A column is headed by its key; its kind (params, metrics, ...) is in the tooltip.
    activeCols().forEach((c) => add(c.replace(/^[a-z]+\./, "").replace(/^[`"](.*)[`"]$/, "$1"), c));
  }

  function drawRow(item, index) {
    const r = item.row;
    const div = document.createElement("div");
    div.className = "row" + (item.depth ? " child" : "") + (state.sel.has(r.id) ? " selected" : "");
    div.style.gridTemplateColumns = template();
    div.style.top = index * ROW + "px";
    div.dataset.run = r.id;
    const pick = document.createElement("div");
    pick.className = "cell";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = state.sel.has(r.id);
    box.setAttribute("aria-label", "select " + (r.name || r.id));
    box.addEventListener("change", () => {
      if (box.checked) state.sel.add(r.id); else state.sel.delete(r.id);
      div.classList.toggle("selected", box.checked);
      saveState();
    });
    pick.appendChild(box);
    div.appendChild(pick);
    const name = cell("", "name depth" + Math.min(item.depth, 3));
    if (r.children) {
      const tw = document.createElement("button");
      tw.type = "button";
      tw.className = "twisty";
      tw.textContent = (expanded.has(r.id) ? "▾ " : "▸ ") + r.children;
      tw.title = r.children + " child runs";
      tw.addEventListener("click", () => toggleChildren(index));
      name.appendChild(tw);
    }
    const a = document.createElement("a");
    a.href = "/runs/" + encodeURIComponent(r.id);
    a.textContent = r.name || r.id;
    name.appendChild(a);
    name.title = r.name || r.id;
    div.appendChild(name);
    div.appendChild(cell(r.status, "status status-" + r.status.toLowerCase()));
    div.appendChild(cell(fmtTime(r.start)));
    div.appendChild(cell(fmtDuration(r.duration), "num"));
    div.appendChild(cell(r.user || ""));
    div.appendChild(cell(r.commit || "", "mono"));
    r.cells.forEach((v) => div.appendChild(cell(fmtNumber(v), typeof v === "number" ? "num" : "")));
    return div;
  }

  function draw() {
    const more = done ? 0 : 1;
    spacer.style.height = (items.length + more) * ROW + "px";
    const top = viewport.scrollTop, height = viewport.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW) - BUFFER);
    const last = Math.min(items.length, Math.ceil((top + height) / ROW) + BUFFER);
    const frag = document.createDocumentFragment();
    for (let i = first; i < last; i++) frag.appendChild(drawRow(items[i], i));
    rowsBox.textContent = "";
    rowsBox.appendChild(frag);
    if (!firstDrawn && items.length) {
      firstDrawn = true;
      performance.mark("autolog-rows-visible");
      requestAnimationFrame(() => performance.mark("autolog-interactive"));
    }
    if (!done && last + AHEAD > items.length) loadMore();
  }

  // -- controls ---------------------------------------------------------------------------------
  function updateCompare() {
    const link = $("compare");
    const ids = [...state.sel];
    $("selected-count").textContent = ids.length ? ids.length + " selected" : "";
    const ok = ids.length >= 2 && ids.length <= 100;
    link.classList.toggle("disabled", !ok);
    link.href = ok ? "/compare?" + ids.map((i) => "run=" + encodeURIComponent(i)).join("&") : "#";
  }

  function buildPicker() {
    const picker = $("picker");
    const groups = [
      ["Params", "params", keys.params],
      ["Metrics", "metrics", keys.metrics],
      ["Tags", "tags", keys.tags],
      ["Attributes", "attributes", ["end_time", "experiment", "parent_id", "id"]],
      ["System", "tags", keys.system],
    ];
    groups.forEach(([label, prefix, names]) => {
      if (!names.length) return;
      const fs = document.createElement("fieldset");
      const lg = document.createElement("legend");
      lg.textContent = label;
      fs.appendChild(lg);
      names.forEach((k) => {
        const spec = prefix + "." + (/^[A-Za-z_][A-Za-z0-9_.:/]*$/.test(k) ? k : k.includes("`") ? '"' + k + '"' : "`" + k + "`");
        const lab = document.createElement("label");
        const box = document.createElement("input");
        box.type = "checkbox";
        box.value = spec;
        box.checked = state.cols.includes(spec);
        box.addEventListener("change", () => {
          state.cols = state.cols.filter((c) => c && c !== spec);
          if (box.checked) state.cols.push(spec);
          saveState();
          reset();
        });
        lab.appendChild(box);
        lab.appendChild(document.createTextNode(" " + k));
        fs.appendChild(lab);
      });
      picker.appendChild(fs);
    });
  }

  $("filter").value = state.filter;
  $("order").value = state.order;
  $("group").checked = state.group;
  $("query").addEventListener("submit", (e) => {
    e.preventDefault();
    state.filter = $("filter").value.trim();
    state.order = $("order").value.trim();
    $("filter").classList.remove("bad");
    $("order").classList.remove("bad");
    saveState();
    reset();
  });
  $("group").addEventListener("change", () => { state.group = $("group").checked; saveState(); reset(); });
  $("compare").addEventListener("click", (e) => { if ($("compare").classList.contains("disabled")) e.preventDefault(); });
  let pending = false;
  viewport.addEventListener("scroll", () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; draw(); });
  });
  buildPicker();
  updateCompare();
  drawHeader();
  loadMore();
})();
