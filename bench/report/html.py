"""The HTML page of a :class:`~hello_bench.report.document.Doc`: one file to read and explore, offline.

- Findings first, with the headline tables a page leads with (a comparison's
  "what differs", worst first) and the legend of its shortened labels, then a
  table of contents linking every section (``id=`` anchors compatible with
  GitHub's Markdown anchors).
- Tables sort by any column (click its header); numbers are right-aligned and
  sort as numbers (an interval by its value); text cells wrap instead of being
  clipped.
- A figure sits beside the table it illustrates. Figures that carry a chart
  spec are interactive (hover for values, click a legend entry to hide or show
  a series) with plotly.js; the others are inline PNGs.
- Nothing is fetched: plotly.js (from the ``plotly`` wheel, MIT licence) is
  inlined gzip-compressed and unpacked by the browser's own
  ``DecompressionStream`` (about 2 MB instead of 4.8 MB). ``bench publish``
  passes ``script=`` to link one shared copy instead.
"""

from __future__ import annotations

import base64
import functools
import gzip
import html
import json
import re
from importlib import resources

from hello_bench.report.document import LEGEND, LEGEND_NOTE, Doc, Figure, Table, _split_lead, inline, slug, sort_key


@functools.lru_cache(maxsize=1)
def plotly_js() -> bytes | None:
    """plotly.js as shipped in the plotly wheel, or None where plotly is not installed."""
    try:
        return (resources.files("plotly") / "package_data" / "plotly.min.js").read_bytes()
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        return None


@functools.lru_cache(maxsize=1)
def _plotly_gzip_b64() -> str:
    js = plotly_js() or b""
    return base64.b64encode(gzip.compress(js, compresslevel=9, mtime=0)).decode()


def render(doc: Doc, script: str | None = None) -> str:
    """The page; ``script``: a relative URL of plotly.min.js to link (a site), else it is inlined."""
    doc = doc.shown()
    blocks = doc.ordered()
    lead, rest = _split_lead(blocks)
    interactive = plotly_js() is not None or script is not None
    body = [f"<header><h1>{inline(doc.title)}</h1>", *(f"<p>{inline(b[1])}</p>" for b in lead), "</header>"]
    body += _findings(doc)
    body.append(_toc(doc))
    body += _body(rest, doc, interactive)
    has_plots = interactive and any(b[0] == "figure" and b[1].spec for b in rest)
    return PAGE.format(
        title=html.escape(doc.title), style=STYLE, body="\n".join(body), scripts=_scripts(has_plots, script)
    )


def _findings(doc: Doc) -> list[str]:
    """The verdicts, the headline tables and the legend of the page's short labels: the first screen."""
    out = []
    if doc.lead or doc.lead_tables:
        items = f"<ul>{''.join(f'<li>{inline(i)}</li>' for i in doc.lead)}</ul>" if doc.lead else ""
        tables = "".join(_table(t) for t in doc.lead_tables)
        out.append(f'<section class="findings" id="findings"><h2>Findings</h2>{items}{tables}</section>')
    if not doc.legend_placed:
        out.append(_legend(doc))
    return out


def _legend(doc: Doc) -> str:
    if not doc.labels:
        return ""
    legend = _table(Table(["short", "full"], doc.labels.legend(), "labels"))
    note = LEGEND_NOTE[0].upper() + LEGEND_NOTE[1:]
    return f'<section class="legend" id="labels"><h2>{LEGEND}</h2><p>{note}.</p>{legend}</section>'


def _toc(doc: Doc) -> str:
    items, depth = [], 2
    for level, text, anchor in doc.sections():
        if level > 3:
            continue
        while depth < level:
            items.append("<ul>")
            depth += 1
        while depth > level:
            items.append("</ul>")
            depth -= 1
        items.append(f'<li><a href="#{anchor}">{inline(text)}</a></li>')
    items += ["</ul>"] * (depth - 2)
    return f'<nav class="toc" id="contents"><h2>Contents</h2><ul>{"".join(items)}</ul></nav>' if items else ""


def _body(blocks: list[tuple], doc: Doc, interactive: bool) -> list[str]:
    anchors = iter(anchor for _, _, anchor in doc.sections())
    out: list[str] = []
    i = 0
    while i < len(blocks):
        kind = blocks[i][0]
        if kind == "table":
            name, figures = blocks[i][1].name, []
            table = _table(blocks[i][1])
            while i + 1 < len(blocks) and blocks[i + 1][0] == "figure" and name and blocks[i + 1][1].beside == name:
                figures.append(blocks[i + 1][1])
                i += 1
            out.append(
                f'<div class="pair">{table}{"".join(_figure(f, interactive) for f in figures)}</div>'
                if figures
                else table
            )
        elif kind == "h":
            level, text = blocks[i][1], blocks[i][2]
            out.append(f'<h{level} id="{next(anchors, slug(text))}">{inline(text)}</h{level}>')
        else:
            out.append(_legend(doc) if kind == "legend" else _block(blocks[i], interactive))
        i += 1
    return out


def _block(block: tuple, interactive: bool) -> str:
    kind = block[0]
    if kind == "p":
        return f"<p>{inline(block[1])}</p>"
    if kind == "ul":
        return "<ul>" + "".join(f"<li>{inline(i)}</li>" for i in block[1]) + "</ul>"
    if kind == "details":
        items = "".join(f"<li>{inline(i)}</li>" for i in block[2])
        return f"<details><summary>{inline(block[1])}</summary><ul>{items}</ul></details>"
    if kind == "figure":
        return _figure(block[1], interactive)
    return ""


def _table(t: Table) -> str:
    if not t.rows:
        return "<p>(none)</p>"
    keys = [[_leading_number(c) for c in r] for r in t.rows]
    numeric = [sum(k[j] is not None for k in keys if j < len(k)) * 2 > len(keys) for j in range(len(t.headers))]
    head = "".join(
        f'<th scope="col" data-key="{k}"{" class=num" if n else ""}><button type="button">{inline(h)}</button></th>'
        for h, k, n in zip(t.headers, t.keys, numeric)
    )
    rows = "".join(
        "<tr>" + "".join(_td(c, k, n) for c, k, n in zip(r, ks, numeric)) + "</tr>" for r, ks in zip(t.rows, keys)
    )
    name = f' data-name="{html.escape(t.name)}"' if t.name else ""
    return f'<div class="table-wrap"><table class="sortable"{name}><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'


def _leading_number(cell: object) -> float | None:
    """The number a cell shows first ('87,076 (n<100)' -> 87076): right-aligned and sorted as a number."""
    key = sort_key(cell)
    if key is not None:
        return key
    match = _LEADING.match(str(cell))
    return float(match.group(1).replace(",", "")) if match else None


_LEADING = re.compile(r"^([-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:e[-+]?\d+)?)(?:x|%|\s\(|$)")


def _td(cell: object, key: float | None, numeric: bool) -> str:
    """Numbers right-aligned in a column of numbers ('-' with them); a column of mixed values stays left-aligned."""
    align = " class=num" if numeric and (key is not None or str(cell) == "-") else ""
    sort = f' data-sort="{key!r}"' if key is not None else ""
    return f"<td{align}{sort}>{inline(str(cell))}</td>"


def _figure(f: Figure, interactive: bool) -> str:
    title = html.escape(f.title)
    if f.spec and interactive:
        spec = json.dumps(f.spec, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
        height = int(f.spec.get("layout", {}).get("height", 420))
        return (
            f'<figure class="fig"><div class="plot" style="height:{height}px" role="img" aria-label="{title}">'
            f'<script type="application/json">{spec}</script></div><figcaption>{title} '
            "<small>(hover for values; click a legend entry to hide or show it)</small></figcaption></figure>"
        )
    if f.data is not None or f.path.is_file():
        data = base64.b64encode(f.data if f.data is not None else f.path.read_bytes()).decode()
        return f'<figure class="fig"><img alt="{title}" src="data:image/png;base64,{data}"><figcaption>{title}</figcaption></figure>'
    return ""


def _scripts(has_plots: bool, script: str | None) -> str:
    parts = [f"<script>{SORT_JS}</script>"]
    if has_plots:
        if script:
            parts.append(f'<script src="{html.escape(script)}"></script><script>{DRAW_JS}drawPlots();</script>')
        else:
            parts.append(f'<script type="application/gzip;base64" id="plotly-gz">{_plotly_gzip_b64()}</script>')
            parts.append(f"<script>{DRAW_JS}{LOAD_JS}</script>")
    return "\n".join(parts)


SORT_JS = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, col) {
    th.querySelector('button').addEventListener('click', function () {
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      function key(row) {
        var cell = row.cells[col];
        if (!cell) return [2, ''];
        var v = cell.getAttribute('data-sort');
        if (v !== null) return [0, parseFloat(v)];
        var t = cell.textContent.trim();
        return t === '-' || t === '' ? [2, ''] : [1, t.toLowerCase()];
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x[0] !== y[0]) return x[0] - y[0];
        var d = x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0;
        return asc ? d : -d;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""

DRAW_JS = """
function drawPlots() {
  document.querySelectorAll('div.plot').forEach(function (div) {
    var spec = JSON.parse(div.querySelector('script').textContent);
    var config = {responsive: true, displaylogo: false, showLink: false, showSendToCloud: false,
                  modeBarButtonsToRemove: ['select2d', 'lasso2d']};
    Plotly.newPlot(div, spec.data, spec.layout, config);
  });
  document.body.setAttribute('data-plots', 'drawn');
}
"""

LOAD_JS = """
(function () {
  var packed = document.getElementById('plotly-gz').textContent;
  var bytes = Uint8Array.from(atob(packed), function (c) { return c.charCodeAt(0); });
  var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  new Response(stream).text().then(function (code) {
    var tag = document.createElement('script');
    tag.textContent = code;
    document.head.appendChild(tag);
    drawPlots();
  });
})();
"""

STYLE = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --head: #f6f8fa; --accent: #0969da; }
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 110rem;
       padding: 1rem 2rem 4rem; color: var(--fg); line-height: 1.45; }
header p { color: var(--muted); max-width: 75rem; }
h1 { margin-bottom: 0.3rem; }
h2 { border-bottom: 1px solid var(--line); padding-bottom: 0.2rem; margin-top: 2.2rem; }
h2, h3 { scroll-margin-top: 1rem; }
p, li { max-width: 75rem; }
.findings { background: #f0f6ff; border-left: 4px solid var(--accent); padding: 0.2rem 1.2rem 0.6rem; margin: 1rem 0; }
.findings h2 { border: none; margin-top: 0.6rem; }
.findings li { margin: 0.35rem 0; }
.findings .table-wrap { margin: 0.3rem 1rem 0.6rem 0; background: #fff; }
.legend h2 { border: none; font-size: 1.1rem; margin: 0.5rem 0 0; }
.legend p { color: var(--muted); margin: 0.1rem 0; font-size: 0.85rem; }
.legend .table-wrap { margin-bottom: 0.5rem; }
nav.toc { columns: 2 22rem; font-size: 0.92rem; margin: 0.5rem 0 1.5rem; }
nav.toc h2 { column-span: all; border: none; font-size: 1.1rem; margin: 0.5rem 0; }
nav.toc ul { margin: 0; padding-left: 1.1rem; }
nav.toc a { color: var(--accent); text-decoration: none; }
.pair { display: flex; flex-wrap: wrap; gap: 1rem 2rem; align-items: flex-start; }
.pair > .table-wrap { flex: 0 1 auto; margin-right: 0; }
.pair > figure { flex: 1 1 30rem; min-width: 0; }
.table-wrap { display: inline-block; vertical-align: top; max-width: 100%; overflow-x: auto; margin: 0.5rem 2rem 1.5rem 0; }
table { border-collapse: collapse; font-size: 0.85rem; }
th, td { border: 1px solid var(--line); padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
td { max-width: 34rem; overflow-wrap: break-word; }
th { background: var(--head); position: sticky; top: 0; }
th button { all: unset; cursor: pointer; display: block; }
th[aria-sort=ascending] button::after { content: " \\25B2"; font-size: 0.7em; }
th[aria-sort=descending] button::after { content: " \\25BC"; font-size: 0.7em; }
.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
th.num button { text-align: right; }
tr:nth-child(even) td { background: #fafbfc; }
figure { margin: 0.5rem 0 1.5rem; }
figure img { max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 0.85rem; }
.plot { width: 100%; min-width: 0; }
details { margin: 0.5rem 0 1rem; }
summary { cursor: pointer; }
code { background: #eff1f3; padding: 0 0.2rem; border-radius: 3px; font-size: 0.92em; }
"""

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
{body}
{scripts}
</body>
</html>
"""
