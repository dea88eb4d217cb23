"""The page's inline stylesheet and script (no external fonts, styles or scripts).

The script sorts the ranking tables: a click on a column header (a button,
so the keyboard works too) orders the rows by that column's ``data-v``
values, numerically for ``data-sort="num"`` columns and as text otherwise;
the first click orders best-first (``data-first``), the next one reverses;
empty values always sort last. It reads only data attributes, never embedded
JSON, so nothing in the data can end the script early.
"""

from __future__ import annotations

__all__ = ["CSS", "SORT_JS"]

CSS = """
:root {
  --fg: #1f2328; --muted: #59636e; --faint: #818b98; --line: #d8dee4;
  --bg: #f5f6f8; --card: #ffffff; --accent: #0969da; --accent-soft: #ddf4ff;
  --good: #1a7f37; --bad: #cf222e; --warn: #9a6700;
  --font: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
    "Noto Sans", "Liberation Sans", sans-serif;
  --mono: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono",
    "DejaVu Sans Mono", monospace;
}
* { box-sizing: border-box; }
html { color-scheme: light; -webkit-text-size-adjust: 100%; }
body { margin: 0; font: 15px/1.55 var(--font); color: var(--fg); background: var(--bg); }
.wrap { max-width: 1240px; margin: 0 auto; padding: 0 28px; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
code, .mono { font-family: var(--mono); font-size: 0.88em; }
h1, h2, h3 { line-height: 1.25; margin: 0; }
h1 { font-size: 28px; font-weight: 650; letter-spacing: -0.01em; }
h2 { font-size: 22px; font-weight: 650; overflow-wrap: anywhere; }
h3 { font-size: 16px; font-weight: 650; margin: 34px 0 6px; }
p { margin: 6px 0; }
header.top { background: var(--card); border-bottom: 1px solid var(--line); padding: 28px 0 24px; }
.brand { font-size: 13px; font-weight: 600; letter-spacing: 0.08em; text-transform: uppercase;
  color: var(--accent); margin-bottom: 4px; }
.meta { color: var(--muted); font-size: 13.5px; margin-top: 6px; overflow-wrap: anywhere; }
.meta span + span::before { content: "\\00b7"; margin: 0 8px; color: var(--faint); }
.stats { display: grid; grid-template-columns: repeat(auto-fill, minmax(128px, 1fr)); gap: 10px;
  margin-top: 20px; }
.stat { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px;
  background: #fbfcfd; }
.stat b { display: block; font-size: 22px; font-weight: 650; font-variant-numeric: tabular-nums; }
.stat span { color: var(--muted); font-size: 12.5px; }
main { padding: 24px 0 40px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 22px 28px 26px; margin: 0 0 24px; }
nav.toc h2 { font-size: 15px; text-transform: uppercase; letter-spacing: 0.06em;
  color: var(--muted); }
nav.toc ol { margin: 10px 0 0; padding-left: 22px; }
nav.toc li { margin: 5px 0; }
nav.toc li a { font-weight: 600; overflow-wrap: anywhere; }
nav.toc .sub { color: var(--muted); font-size: 13.5px; margin-left: 8px; }
.task-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 6px 14px;
  border-bottom: 1px solid var(--line); padding-bottom: 14px; }
.pills { display: flex; flex-wrap: wrap; gap: 6px; }
.pill { font-size: 12.5px; border: 1px solid var(--line); border-radius: 999px; padding: 1px 10px;
  color: var(--muted); background: #f6f8fa; white-space: nowrap; }
.pill.bad { color: var(--bad); border-color: #ffcecb; background: #fff5f5; }
.pill.good { color: var(--good); border-color: #aceebb; background: #f0fff4; }
.dl { display: flex; flex-wrap: wrap; gap: 4px 22px; margin: 12px 0 0; font-size: 13.5px; }
.dl div { color: var(--muted); }
.dl b { color: var(--fg); font-weight: 600; overflow-wrap: anywhere; }
.best { margin: 16px 0 0; padding: 12px 16px; border-radius: 8px; background: var(--accent-soft);
  border: 1px solid #b6e3ff; font-size: 14.5px; }
.best code { font-size: 13.5px; font-weight: 600; overflow-wrap: anywhere; }
figure { margin: 10px 0 0; }
svg.plot { display: block; width: 100%; height: auto; }
svg.plot text { font-family: var(--font); }
figcaption { color: var(--muted); font-size: 13.5px; margin-top: 4px; max-width: 80ch; }
.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 18px; padding: 0;
  margin: 10px 0 0; font-size: 13px; }
.legend li { display: flex; align-items: center; gap: 7px; min-width: 0; }
.legend code { overflow-wrap: anywhere; }
.chip { display: inline-block; width: 12px; height: 12px; border-radius: 3px; flex: none; }
.note { color: var(--warn); font-size: 13.5px; }
.empty { color: var(--muted); font-style: italic; }
.table-wrap.compact { display: inline-block; max-width: 100%; }
.table-wrap.tall { max-height: 78vh; overflow-y: auto; }
.table-wrap.tall th { position: sticky; top: 0; z-index: 1; box-shadow: 0 1px 0 var(--line); }
.table-wrap { overflow-x: auto; margin-top: 10px; border: 1px solid var(--line);
  border-radius: 8px; }
table { border-collapse: collapse; width: 100%; font-size: 13px;
  font-variant-numeric: tabular-nums; }
th, td { padding: 6px 7px; border-bottom: 1px solid #eaeef2; text-align: right;
  white-space: nowrap; }
th { background: #f6f8fa; font-weight: 600; color: var(--fg); white-space: normal;
  vertical-align: bottom; line-height: 1.25; }
th.l, td.l { text-align: left; }
th.c, td.c { text-align: center; }
.front { color: var(--accent); }
td.spec { white-space: normal; min-width: 180px; max-width: 300px; }
td.spec div { display: flex; align-items: baseline; gap: 7px; }
td.spec code { overflow-wrap: break-word; }
td.spec .chip { transform: translateY(1px); }
tbody tr:hover { background: #f6f8fa; }
tbody tr.top { background: #f3f9ff; }
tbody tr:last-child td { border-bottom: 0; }
.sd { display: block; color: var(--faint); font-size: 11px; line-height: 1.2; }
.na { color: var(--faint); }
.sd.bad { color: var(--bad); }
th button { font: inherit; color: inherit; background: none; border: 0; padding: 0; cursor: pointer;
  text-align: inherit; line-height: inherit; }
th button::after { content: "\\2195"; color: var(--faint); font-size: 10px; margin-left: 3px; }
th[aria-sort="ascending"] button::after { content: "\\25B2"; color: var(--accent); }
th[aria-sort="descending"] button::after { content: "\\25BC"; color: var(--accent); }
th button:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
.small { font-size: 12.5px; color: var(--muted); }
.sugg td:first-child { font-family: var(--mono); }
footer { color: var(--faint); font-size: 12.5px; padding: 8px 0 36px; }
@media (max-width: 720px) { .wrap { padding: 0 14px; } .card { padding: 16px; } }
@media print { body { background: #fff; } .card { border: 0; padding: 0; } }
"""

SORT_JS = """
(function () {
  "use strict";
  function value(cell, numeric) {
    var raw = cell.getAttribute("data-v");
    if (raw === null) { raw = cell.textContent; }
    if (!numeric) { return raw.trim().toLowerCase(); }
    if (raw === "") { return null; }
    var number = parseFloat(raw);
    return isFinite(number) ? number : null;
  }
  function sortTable(table, index, header) {
    var numeric = header.getAttribute("data-sort") === "num";
    var first = header.getAttribute("data-first") === "desc" ? "descending" : "ascending";
    var current = header.getAttribute("aria-sort");
    var order = current === first ? (first === "ascending" ? "descending" : "ascending") : first;
    var sign = order === "ascending" ? 1 : -1;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var keyed = rows.map(function (row, position) {
      return { row: row, key: value(row.cells[index], numeric), position: position };
    });
    keyed.sort(function (a, b) {
      if (a.key === null || b.key === null) {
        if (a.key === b.key) { return a.position - b.position; }
        return a.key === null ? 1 : -1;
      }
      if (a.key < b.key) { return -sign; }
      if (a.key > b.key) { return sign; }
      return a.position - b.position;
    });
    var headers = table.tHead.rows[0].cells;
    for (var i = 0; i < headers.length; i++) { headers[i].removeAttribute("aria-sort"); }
    header.setAttribute("aria-sort", order);
    var fragment = document.createDocumentFragment();
    keyed.forEach(function (item) { fragment.appendChild(item.row); });
    body.appendChild(fragment);
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    var headers = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(headers, function (header, index) {
      var button = header.querySelector("button");
      if (!button) { return; }
      button.addEventListener("click", function () { sortTable(table, index, header); });
    });
  });
})();
"""
