// Metric charts of the run page: each figure fetches its history, already cut on the
// server to the chart's width (min and max per pixel), and draws it with uPlot when seen.
"use strict";
(function () {
  const figures = document.querySelectorAll("figure.chart[data-run]");
  if (!figures.length) return;
  const HEIGHT = 220;

  async function drawChart(fig) {
    const width = Math.max(200, Math.floor(fig.clientWidth || 400));
    const url = "/ui/api/runs/" + encodeURIComponent(fig.dataset.run) + "/history?key=" +
      encodeURIComponent(fig.dataset.key) + "&width=" + width;
    const started = performance.now();
    const reply = await fetch(url);
    const data = await reply.json();
    if (!reply.ok) { fig.appendChild(document.createTextNode(data.error || "error")); return; }
    const opts = {
      width: width, height: HEIGHT, legend: { show: false },
      scales: { x: { time: false } },
      axes: [{ label: "step" }, {}],
      series: [{}, { label: fig.dataset.key, stroke: "#2563eb", width: 1.5, spanGaps: false }],
    };
    new uPlot(opts, [data.x, data.y], fig);
    const took = performance.now() - started;
    fig.dataset.drawn = String(data.x.length);
    fig.dataset.points = String(data.n);
    fig.dataset.ms = took.toFixed(1);
    performance.mark("autolog-chart-drawn");
  }

  const seen = new IntersectionObserver((entries) => {
    entries.forEach((e) => {
      if (e.isIntersecting) { seen.unobserve(e.target); drawChart(e.target); }
    });
  }, { rootMargin: "200px" });
  figures.forEach((f) => seen.observe(f));
})();
