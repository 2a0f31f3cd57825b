// Glue only: draw each figure the server embedded as JSON; a job's bar links to its page.
"use strict";
document.querySelectorAll(".chart").forEach(function (div) {
  var figure = JSON.parse(document.getElementById(div.dataset.figure).textContent);
  Plotly.newPlot(div, figure.data, figure.layout, { responsive: true, displaylogo: false });
  div.on("plotly_click", function (event) {
    var job = event.points[0] && event.points[0].customdata;
    if (typeof job === "number") { window.location.href = "/jobs/" + job; }
  });
});
