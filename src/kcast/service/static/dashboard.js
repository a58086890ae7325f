// kcast dashboard: draws every chart with vega-embed (served by the worker) and sorts the day.
// No inline script: data comes from <script type="application/json"> blocks.
"use strict";

(function () {
  const OPTIONS = { renderer: "svg", actions: false, ast: true };

  function readJSON(id) {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function draw(el, spec) {
    return vegaEmbed(el, spec, OPTIONS)
      .then(function (result) {
        el.dataset.rendered = "true";
        return result;
      })
      .catch(function (err) {
        el.dataset.rendered = "error";
        el.textContent = "This chart could not be drawn: " + err;
        console.error("kcast chart failed", err);
      });
  }

  function drawAll() {
    const template = readJSON("dist-template");
    const pending = [];
    document.querySelectorAll("[data-card]").forEach(function (el) {
      const data = readJSON("data-" + el.dataset.card);
      if (!template || !data) return;
      const spec = Object.assign({}, template, { datasets: data });
      pending.push(draw(el, spec));
    });
    document.querySelectorAll("[data-spec]").forEach(function (el) {
      const spec = readJSON(el.dataset.spec);
      if (spec) pending.push(draw(el, spec));
    });
    Promise.all(pending).then(function () {
      // milliseconds from the start of navigation to the last chart drawn (docs/dashboard.md)
      document.body.dataset.chartsMs = String(Math.round(performance.now()));
      document.body.dataset.chartsReady = String(pending.length);
    });
  }

  function key(el, by) {
    const v = el.dataset[by];
    if (by === "name" || by === "game") return v || "";
    const n = parseFloat(v);
    if (Number.isNaN(n)) return -Infinity;
    return by === "edge" ? Math.abs(n) : n;
  }

  function sortChildren(parent, selector, by) {
    if (!parent) return;
    const items = Array.from(parent.querySelectorAll(selector));
    const text = by === "name" || by === "game";
    items.sort(function (a, b) {
      const ka = key(a, by), kb = key(b, by);
      if (text) return ka.localeCompare(kb);
      return kb - ka;
    });
    items.forEach(function (el) { parent.appendChild(el); });
  }

  function setUpSort() {
    const select = document.getElementById("sort");
    if (!select) return;
    const apply = function () {
      sortChildren(document.getElementById("cards"), ":scope > article", select.value);
      const table = document.getElementById("day-table");
      sortChildren(table && table.tBodies[0], ":scope > tr", select.value);
    };
    select.addEventListener("change", apply);
    apply();
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpSort();
    drawAll();
  });
})();
