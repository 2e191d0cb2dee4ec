/* The dashboard's charts (Chart.js, served with the app): the daily trend of requests
 * accepted and closed, and requests by channel. The numbers come in data-charts. */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || typeof window.Chart !== "function") {
    return;
  }
  var data = JSON.parse(script.dataset.charts || "{}");
  var trend = document.getElementById("trend-chart");
  var channels = document.getElementById("channel-chart");
  window.hotlineCharts = {};
  if (trend && data.trend) {
    window.hotlineCharts.trend = new window.Chart(trend, {
      type: "line",
      data: {
        labels: data.trend.labels,
        datasets: [
          { label: script.dataset.msgAccepted, data: data.trend.accepted, borderColor: "#1f6feb" },
          { label: script.dataset.msgClosed, data: data.trend.closed, borderColor: "#2da44e" },
        ],
      },
      options: { animation: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
  }
  if (channels && data.channels) {
    window.hotlineCharts.channels = new window.Chart(channels, {
      type: "bar",
      data: {
        labels: data.channels.labels,
        datasets: [{ label: script.dataset.msgAccepted, data: data.channels.counts, backgroundColor: "#1f6feb" }],
      },
      options: { animation: false, plugins: { legend: { display: false } } },
    });
  }
})();
