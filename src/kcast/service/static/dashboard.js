// kcast dashboard: draws every chart with vega-embed (served by the worker) and sorts the day.
// No inline script: data comes from <script type="application/json"> blocks.
"use strict";

(function () {
  const OPTIONS = { renderer: "svg", actions: false, ast: true };

  function readJSON(id) {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function draw(el, spec, mode) {
    return vegaEmbed(el, spec, Object.assign({ mode: mode || "vega-lite" }, OPTIONS))
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

  // The day's cards share one chart: its Vega-Lite template is compiled to Vega once, and each
  // card's spec is that Vega spec with the card's rows in its named data sets.
  function cardSpecs() {
    const template = readJSON("dist-template");
    if (!template) return null;
    const compiled = vegaLite.compile(template).spec;
    return function (data) {
      const spec = Object.assign({}, compiled);
      spec.data = compiled.data.map(function (d) {
        return Object.prototype.hasOwnProperty.call(data, d.name)
          ? Object.assign({}, d, { values: data[d.name] })
          : d;
      });
      return spec;
    };
  }

  // Charts in view are drawn first; the rest follow a few at a time, so the page is usable
  // at once and stays responsive while the remaining cards draw.
  function drawAll() {
    const jobs = [];
    const cards = document.querySelectorAll("[data-card]");
    const specFor = cards.length ? cardSpecs() : null;
    cards.forEach(function (el) {
      const data = readJSON("data-" + el.dataset.card);
      if (specFor && data) jobs.push({ el: el, spec: function () { return specFor(data); }, mode: "vega" });
    });
    document.querySelectorAll("[data-spec]").forEach(function (el) {
      const spec = readJSON(el.dataset.spec);
      if (spec) jobs.push({ el: el, spec: function () { return spec; }, mode: "vega-lite" });
    });
    const fold = window.innerHeight * 1.25;
    const seen = jobs.filter(function (j) { return j.el.getBoundingClientRect().top < fold; });
    const later = jobs.filter(function (j) { return seen.indexOf(j) < 0; });
    const run = function (j) { return draw(j.el, j.spec(), j.mode); };
    Promise.all(seen.map(run))
      .then(function () {
        // milliseconds from the start of navigation (docs/dashboard.md)
        document.body.dataset.firstChartsMs = String(Math.round(performance.now()));
        return inChunks(later, run, 4);
      })
      .then(function () {
        document.body.dataset.chartsMs = String(Math.round(performance.now()));
        document.body.dataset.chartsReady = String(jobs.length);
      });
  }

  function inChunks(jobs, run, size) {
    return new Promise(function (resolve) {
      let i = 0;
      const pending = [];
      (function step() {
        jobs.slice(i, i + size).forEach(function (j) { pending.push(run(j)); });
        i += size;
        if (i < jobs.length) setTimeout(step, 0);
        else Promise.all(pending).then(resolve);
      })();
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
