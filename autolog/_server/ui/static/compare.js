// The compare page's charts: overlaid curves (uPlot), parallel coordinates and a scatter
// of two columns (plain canvas). Data comes from the page's data-chart attribute and the
// history endpoint; names are drawn as canvas text, never as HTML.
"use strict";
(function () {
  const root = document.getElementById("compare-charts");
  if (!root) return;
  const chart = JSON.parse(root.dataset.chart);
  const runs = chart.runs;
  const $ = (id) => document.getElementById(id);
  const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04",
    "#db2777", "#4b5563", "#65a30d"];
  const color = (i) => COLORS[i % COLORS.length];

  function option(select, value, label) {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = label;
    select.appendChild(o);
  }

  // -- curves -----------------------------------------------------------------------------------
  let plot = null;
  async function drawCurves() {
    const key = $("curve-key").value;
    const fig = $("curves");
    if (!key) return;
    const width = Math.max(300, Math.floor(fig.clientWidth || 800));
    const q = runs.map((r) => "run=" + encodeURIComponent(r.id)).join("&");
    const reply = await fetch("/ui/api/compare/history?" + q + "&key=" + encodeURIComponent(key) + "&width=" + width);
    const data = await reply.json();
    if (!reply.ok) { fig.textContent = data.error || "error"; return; }
    // uPlot wants one x array: the union of steps, with gaps where a run has no point.
    const xs = [...new Set(data.series.flatMap((s) => s.x))].sort((a, b) => a - b);
    const at = new Map(xs.map((x, i) => [x, i]));
    const ys = data.series.map((s) => {
      const y = new Array(xs.length).fill(null);
      s.x.forEach((x, i) => { y[at.get(x)] = s.y[i]; });
      return y;
    });
    if (plot) plot.destroy();
    fig.textContent = "";
    plot = new uPlot({
      width: width, height: 300, scales: { x: { time: false } }, axes: [{ label: "step" }, {}],
      series: [{}, ...runs.map((r, i) => ({ label: r.name, stroke: color(i), width: 1.5, spanGaps: true }))],
    }, [xs, ...ys], fig);
    fig.dataset.drawn = String(xs.length);
  }

  // -- shared canvas helpers --------------------------------------------------------------------
  function numericScale(values) {
    const nums = values.filter((v) => typeof v === "number" && isFinite(v));
    if (nums.length === values.filter((v) => v !== null && v !== undefined).length && nums.length) {
      let lo = Math.min(...nums), hi = Math.max(...nums);
      if (lo === hi) { lo -= 1; hi += 1; }
      return { pos: (v) => (typeof v === "number" ? (v - lo) / (hi - lo) : null), ticks: [lo, hi] };
    }
    const cats = [...new Set(values.filter((v) => v !== null && v !== undefined).map(String))].sort();
    const n = Math.max(cats.length - 1, 1);
    return { pos: (v) => (v === null || v === undefined ? null : cats.indexOf(String(v)) / n), ticks: cats };
  }
  function label(v) {
    return typeof v === "number" ? Number(v.toPrecision(4)).toString() : String(v);
  }
  function setup(canvas) {
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.font = "11px sans-serif";
    ctx.fillStyle = "#111";
    return ctx;
  }

  // -- parallel coordinates ---------------------------------------------------------------------
  function drawParallel() {
    const canvas = $("parallel");
    const cols = chart.columns;
    const ctx = setup(canvas);
    if (cols.length < 2) { ctx.fillText("Parallel coordinates need two columns that differ.", 10, 20); return; }
    const left = 60, right = canvas.width - 60, top = 30, bottom = canvas.height - 30;
    const step = (right - left) / (cols.length - 1);
    const scales = cols.map((c) => numericScale(c.values));
    runs.forEach((r, i) => {
      ctx.strokeStyle = color(i);
      ctx.beginPath();
      let pen = false;
      cols.forEach((c, j) => {
        const p = scales[j].pos(c.values[i]);
        if (p === null) { pen = false; return; }
        const x = left + j * step, y = bottom - p * (bottom - top);
        if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
        pen = true;
      });
      ctx.stroke();
    });
    ctx.strokeStyle = "#999";
    cols.forEach((c, j) => {
      const x = left + j * step;
      ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, bottom); ctx.stroke();
      ctx.textAlign = "center";
      ctx.fillText(c.name.length > 24 ? c.name.slice(0, 23) + "…" : c.name, x, top - 12);
      const t = scales[j].ticks;
      ctx.fillText(label(t[t.length - 1]), x, top - 1);
      ctx.fillText(label(t[0]), x, bottom + 12);
    });
    canvas.dataset.drawn = String(runs.length);
  }

  // -- scatter ----------------------------------------------------------------------------------
  function drawScatter() {
    const canvas = $("scatter");
    const ctx = setup(canvas);
    const cx = chart.columns.find((c) => c.name === $("scatter-x").value);
    const cy = chart.columns.find((c) => c.name === $("scatter-y").value);
    if (!cx || !cy) { ctx.fillText("Pick two columns.", 10, 20); return; }
    const sx = numericScale(cx.values), sy = numericScale(cy.values);
    const left = 50, right = canvas.width - 20, top = 20, bottom = canvas.height - 40;
    ctx.strokeStyle = "#999";
    ctx.strokeRect(left, top, right - left, bottom - top);
    ctx.textAlign = "center";
    ctx.fillText(cx.name, (left + right) / 2, canvas.height - 8);
    ctx.fillText(label(sx.ticks[0]), left, bottom + 14);
    ctx.fillText(label(sx.ticks[sx.ticks.length - 1]), right, bottom + 14);
    ctx.save(); ctx.translate(12, (top + bottom) / 2); ctx.rotate(-Math.PI / 2); ctx.fillText(cy.name, 0, 0); ctx.restore();
    ctx.textAlign = "right";
    ctx.fillText(label(sy.ticks[0]), left - 4, bottom);
    ctx.fillText(label(sy.ticks[sy.ticks.length - 1]), left - 4, top + 8);
    let drawn = 0;
    runs.forEach((r, i) => {
      const px = sx.pos(cx.values[i]), py = sy.pos(cy.values[i]);
      if (px === null || py === null) return;
      ctx.fillStyle = color(i);
      ctx.beginPath();
      ctx.arc(left + px * (right - left), bottom - py * (bottom - top), 4, 0, 2 * Math.PI);
      ctx.fill();
      drawn++;
    });
    canvas.dataset.drawn = String(drawn);
  }

  $("only-differences").addEventListener("change", (e) => {
    $("compare-table").classList.toggle("only-differences", e.target.checked);
  });
  chart.metrics.forEach((k) => option($("curve-key"), k, k));
  chart.columns.forEach((c) => { option($("scatter-x"), c.name, c.name); option($("scatter-y"), c.name, c.name); });
  if (chart.columns.length > 1) $("scatter-y").selectedIndex = chart.columns.length - 1;
  $("curve-key").addEventListener("change", drawCurves);
  $("scatter-x").addEventListener("change", drawScatter);
  $("scatter-y").addEventListener("change", drawScatter);
  drawCurves();
  drawParallel();
  drawScatter();
})();
