// The usage dashboard's charts, drawn by Chart.js (vendored) from the figures the page
// carries as JSON. Every chart's figures are also in a table beside it: without this
// file, or without sight, nothing is lost.
(function () {
  "use strict";
  const source = document.getElementById("usage-chart-data");
  if (!source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  // Colours told apart by most colour-blind readers (Okabe and Ito's palette).
  const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];
  const DECISIONS = { allowed: "#1c7a45", redacted: "#8a5a00", denied: "#b3261e" };
  const common = { responsive: true, maintainAspectRatio: false, animation: false };

  function draw(id, config) {
    const canvas = document.getElementById(id);
    if (canvas) new Chart(canvas, { ...config, options: { ...common, ...config.options } });
  }

  draw("chart-calls", {
    type: "line",
    data: {
      labels: data.days,
      datasets: Object.entries(data.series).map(([tool, counts], index) => ({
        label: tool,
        data: counts,
        borderColor: PALETTE[index % PALETTE.length],
        backgroundColor: PALETTE[index % PALETTE.length],
        tension: 0.2,
        pointRadius: 2,
      })),
    },
    options: { scales: { y: { beginAtZero: true, title: { display: true, text: "calls" } } } },
  });

  draw("chart-decisions", {
    type: "bar",
    data: {
      labels: data.decisions.tools,
      datasets: Object.keys(DECISIONS).map((name) => ({
        label: name,
        data: data.decisions[name],
        backgroundColor: DECISIONS[name],
      })),
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
  });

  draw("chart-refusals", {
    type: "bar",
    data: {
      labels: data.refusals.map(([rule]) => rule),
      datasets: [{ label: "refused calls", data: data.refusals.map(([, n]) => n), backgroundColor: DECISIONS.denied }],
    },
    options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true } } },
  });

  draw("chart-slowest", {
    type: "bar",
    data: {
      labels: data.slowest.tools,
      datasets: [
        { label: "p50 (ms)", data: data.slowest.p50, backgroundColor: PALETTE[4] },
        { label: "p95 (ms)", data: data.slowest.p95, backgroundColor: PALETTE[0] },
      ],
    },
    options: { scales: { y: { beginAtZero: true, title: { display: true, text: "ms" } } } },
  });
})();
