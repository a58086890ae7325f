// kcast dashboard: draws the charts that come as specs with vega-embed (served by the worker)
// and sorts the day (whose charts come drawn from the server as SVG).
// No inline script: data comes from <script type="application/json"> blocks.
"use strict";

(function () {
  const OPTIONS = { mode: "vega-lite", renderer: "svg", actions: false, ast: true };

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

  // The day's cards come as images drawn by the server (SVG, kept by the browser): those in
  // view are waited for. Charts given as specs are drawn here, those in view first; the rest
  // follow a few at a time, so the page is usable at once while the others draw.
  function drawAll() {
    const fold = window.innerHeight * 1.25;
    const inView = function (el) { return el.getBoundingClientRect().top < fold; };
    const images = Array.from(document.querySelectorAll("img.chart")).filter(inView);
    const jobs = [];
    document.querySelectorAll("[data-spec]").forEach(function (el) {
      const spec = readJSON(el.dataset.spec);
      if (spec) jobs.push({ el: el, spec: spec });
    });
    const seen = jobs.filter(function (j) { return inView(j.el); });
    const later = jobs.filter(function (j) { return seen.indexOf(j) < 0; });
    const run = function (j) { return draw(j.el, j.spec); };
    Promise.all(images.map(shown).concat(seen.map(run)))
      .then(function () {
        // milliseconds from the start of navigation (docs/dashboard.md)
        document.body.dataset.firstChartsMs = String(Math.round(performance.now()));
        return inChunks(later, run, 4);
      })
      .then(function () {
        document.body.dataset.chartsMs = String(Math.round(performance.now()));
        document.body.dataset.chartsReady = String(images.length + jobs.length);
      });
  }

  function shown(img) {
    return img.decode()
      .then(function () { img.dataset.rendered = "true"; })
      .catch(function () {
        img.dataset.rendered = "error";
        console.error("kcast chart failed to load", img.currentSrc);
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
