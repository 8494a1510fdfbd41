"""A small document model rendered three ways: Markdown, one self-contained HTML page, JSON.

Reports and comparisons are built once as a list of blocks (headings,
paragraphs, tables, bullet lists, collapsible lists, figures, findings); each
renderer writes the same content:

- **Markdown**: findings first (with the headline tables a page leads with), a
  table of contents, each figure (PNG) right after the table it illustrates.
- **HTML** (:func:`hello_bench.report.html.render`, which imports this module, never the other way): findings first, a table of contents
  with anchors, sortable tables with right-aligned numbers, figures beside
  their tables, interactive where a figure carries a chart spec; nothing is
  loaded from the network.
- **JSON** (:meth:`Doc.data`): every table with stable snake_case keys and
  numbers as numbers (an interval is ``{"value", "low", "high"}``).

Long labels (a trial's adapter with all its parameter overrides) are shortened
by Markdown and HTML alike, with a legend (:mod:`hello_bench.report.labels`); the
JSON keeps them whole.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hello_bench.report.labels import Labels, short_strings, shorten
from hello_bench.report.tables import Cell, table

#: Headers whose text carries a run-dependent name: their JSON key is fixed here.
KEY_ALIASES = (
    (re.compile(r"^accuracy - .*\[95% CI\]$"), "accuracy_difference"),
    (re.compile(r"^ratio to .*\[95% CI\]$"), "ratio_to_baseline"),
    (re.compile(r"^equivalent within"), "equivalent"),
)
_NUMBER = r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:e[-+]?\d+)?"
_NUMBER_RE = re.compile(rf"^{_NUMBER}$")
_INTERVAL_RE = re.compile(rf"^({_NUMBER})x? \[({_NUMBER})x?, ({_NUMBER})x?\]$")


@dataclass
class Table:
    headers: list[str]
    rows: list[list]
    name: str = ""
    keys: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.keys:
            self.keys = column_keys(self.headers)


@dataclass
class Figure:
    title: str
    path: Path
    #: The name of the table it illustrates: drawn beside it.
    beside: str = ""
    #: An interactive chart (a plotly figure: ``{"data": [...], "layout": {...}}``) for the HTML page.
    spec: dict | None = None
    #: The PNG's bytes, when the page is rendered after its file is gone (``bench publish``).
    data: bytes | None = None


@dataclass
class Doc:
    """An ordered list of blocks; each method appends one."""

    title: str
    blocks: list = field(default_factory=list)
    #: The verdicts in a few lines, shown first (before the table of contents).
    lead: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    #: The headline numbers, shown with the findings (before the table of contents).
    lead_tables: list[Table] = field(default_factory=list)
    #: Long labels and their short forms on the page (Markdown, HTML); the JSON keeps the full labels.
    labels: Labels = field(default_factory=Labels)

    def heading(self, text: str, level: int = 2) -> Doc:
        self.blocks.append(("h", level, text))
        return self

    def para(self, text: str) -> Doc:
        if text:
            self.blocks.append(("p", text))
        return self

    def bullets(self, items: list[str]) -> Doc:
        if items:
            self.blocks.append(("ul", list(items)))
        return self

    def details(self, summary: str, items: list[str]) -> Doc:
        """A list folded under a one-line summary (HTML ``<details>``; Markdown: the summary, then the items)."""
        if items:
            self.blocks.append(("details", summary, list(items)))
        return self

    def table(self, headers: list[str], rows: list[list], name: str = "", keys: list[str] | None = None) -> Doc:
        cells = [[c if isinstance(c, Cell) else str(c) for c in r] for r in rows]
        self.blocks.append(("table", Table(list(headers), cells, name, list(keys or []))))
        return self

    def figure(
        self, title: str, path: Path, beside: str = "", spec: dict | None = None, data: bytes | None = None
    ) -> Doc:
        """A figure; ``data``: its PNG when the file is staged, not written yet."""
        self.blocks.append(("figure", Figure(title, Path(path), beside, spec, data)))
        return self

    def findings(self, items: list[str]) -> Doc:
        """The report's verdicts in a few lines; every renderer puts them first."""
        self.lead = list(items)
        return self

    def lead_table(self, headers: list[str], rows: list[list], name: str) -> Doc:
        """A table of headline numbers shown with the findings, before the table of contents."""
        cells = [[c if isinstance(c, Cell) else str(c) for c in r] for r in rows]
        self.lead_tables.append(Table(list(headers), cells, name))
        return self

    def shorten(self, labels: Iterable[str]) -> Doc:
        """Show every long label among ``labels`` short, with a legend (:mod:`hello_bench.report.labels`)."""
        self.labels = Labels(shorten(labels))
        return self

    def legend(self) -> Doc:
        """The legend of the shortened labels here (by default it follows the findings)."""
        self.blocks.append(("legend",))
        return self

    @property
    def legend_placed(self) -> bool:
        """Whether :meth:`legend` placed the legend of the short labels in the body."""
        return any(b[0] == "legend" for b in self.blocks)

    def shown(self) -> Doc:
        """The document as a page shows it: a copy with every long label in every block shortened."""
        if not self.labels:
            return self
        s = self.labels.short
        return Doc(s(self.title), [_short_block(b, s) for b in self.blocks], [s(i) for i in self.lead], self.meta,
                   [_short_table(t, s) for t in self.lead_tables], self.labels)  # fmt: skip

    # -- order ----------------------------------------------------------------------
    def ordered(self) -> list[tuple]:
        """Blocks in reading order: each figure that names a table right after that table."""
        tables = {b[1].name for b in self.blocks if b[0] == "table" and b[1].name}
        placed = [b for b in self.blocks if b[0] == "figure" and b[1].beside in tables]
        out: list[tuple] = []
        for block in self.blocks:
            if block in placed:
                continue
            out.append(block)
            if block[0] == "table" and block[1].name:
                out += [f for f in placed if f[1].beside == block[1].name]
        return _drop_empty_headings(out)

    def sections(self) -> list[tuple[int, str, str]]:
        """(level, text, anchor) of every heading, anchors unique and GitHub-compatible."""
        seen: dict[str, int] = {}
        out = []
        for block in self.ordered():
            if block[0] == "h":
                out.append((block[1], block[2], _unique(slug(block[2]), seen)))
        return out

    # -- renderers ------------------------------------------------------------------
    def markdown(self, base: Path) -> str:
        """Markdown, with figures linked relative to ``base``."""
        if self.labels:
            return self.shown()._markdown(base)
        return self._markdown(base)

    def _markdown(self, base: Path) -> str:
        blocks = self.ordered()
        lead, rest = _split_lead(blocks)
        out = [f"# {self.title}", ""]
        for block in lead:
            out += _markdown_block(block, base)
        if self.lead or self.lead_tables:
            out += ["## Findings", "", *(f"- {item}" for item in self.lead), ""]
            for t in self.lead_tables:
                out += _markdown_block(("table", t), base)
        if self.labels and not self.legend_placed:
            out += self._legend_markdown()
        toc = [
            f"{'  ' * (level - 2)}- [{_plain(text)}](#{anchor})"
            for level, text, anchor in self.sections()
            if level <= 3
        ]
        if toc:
            out += ["**Contents**", "", *toc, ""]
        for block in rest:
            out += self._legend_markdown() if block[0] == "legend" else _markdown_block(block, base)
        return "\n".join(out).rstrip() + "\n"

    def _legend_markdown(self) -> list[str]:
        if not self.labels:
            return []
        return [f"**{LEGEND}** ({LEGEND_NOTE})", "", table(self.labels.legend(), ["short", "full"]), ""]

    def data(self) -> dict:
        """The document as data (``--json``): findings, sections, and every table with typed cells."""
        out: dict = {"title": self.title, **self.meta, "findings": [_plain(f) for f in self.lead], "figures": [],
                     "tables": [table_data(t, "Findings") for t in self.lead_tables]}  # fmt: skip
        heading = ""
        for block in self.ordered():
            if block[0] == "h":
                heading = _plain(block[2])
            elif block[0] == "table":
                out["tables"].append(table_data(block[1], heading))
            elif block[0] == "figure":
                f = block[1]
                out["figures"].append({"title": f.title, "file": f.path.name, "beside": f.beside or None})
        out["sections"] = [{"level": lv, "title": _plain(t), "anchor": a} for lv, t, a in self.sections()]
        return out


#: The legend of the shortened labels, as every renderer titles it.
LEGEND = "Labels shortened on this page"
LEGEND_NOTE = "the JSON output keeps the full labels"


def _short_table(t: Table, short: Callable[[str], str]) -> Table:
    """The table with its labels shortened; the numbers its cells carry, and its keys, unchanged."""
    rows = [[Cell(short(c), c.value, c.low, c.high, c.level) if isinstance(c, Cell) else short(c) for c in r]
            for r in t.rows]  # fmt: skip
    return Table([short(h) for h in t.headers], rows, t.name, list(t.keys))


def _short_block(block: tuple, short: Callable[[str], str]) -> tuple:
    kind = block[0]
    if kind == "h":
        return ("h", block[1], short(block[2]))
    if kind == "p":
        return ("p", short(block[1]))
    if kind == "ul":
        return ("ul", [short(i) for i in block[1]])
    if kind == "details":
        return ("details", short(block[1]), [short(i) for i in block[2]])
    if kind == "table":
        return ("table", _short_table(block[1], short))
    if kind == "figure":
        f = block[1]
        spec = short_strings(f.spec, short) if f.spec else f.spec
        return ("figure", Figure(short(f.title), f.path, f.beside, spec, f.data))
    return block


# -- Markdown -----------------------------------------------------------------------
def _split_lead(blocks: list[tuple]) -> tuple[list[tuple], list[tuple]]:
    """The paragraphs before the first heading (provenance, a quick-run banner), and the rest."""
    for i, block in enumerate(blocks):
        if block[0] != "p":
            return blocks[:i], blocks[i:]
    return blocks, []


def _markdown_block(block: tuple, base: Path) -> list[str]:
    kind = block[0]
    if kind == "h":
        return ["#" * block[1] + " " + block[2], ""]
    if kind == "p":
        return [block[1], ""]
    if kind == "ul":
        return [f"- {item}" for item in block[1]] + [""]
    if kind == "details":
        return [block[1], "", *(f"- {item}" for item in block[2]), ""]
    if kind == "table":
        return [table(block[1].rows, block[1].headers) if block[1].rows else "(none)", ""]
    if kind == "figure":
        return [f"![{block[1].title}]({_relative(block[1].path, base)})", ""]
    return []


def _relative(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.as_posix()


def _drop_empty_headings(blocks: list[tuple]) -> list[tuple]:
    """A heading whose section lost all its blocks (figures moved beside their tables) is dropped."""
    out: list[tuple] = []
    for i, block in enumerate(blocks):
        nxt = blocks[i + 1] if i + 1 < len(blocks) else None
        if block[0] == "h" and (nxt is None or (nxt[0] == "h" and nxt[1] <= block[1])):
            continue
        out.append(block)
    return out


# -- anchors and keys ---------------------------------------------------------------
def _plain(text: str) -> str:
    """Heading text without its Markdown spans."""
    return re.sub(r"\*\*([^*]+)\*\*|`([^`]+)`", lambda m: m.group(1) or m.group(2), text)


def slug(text: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", _plain(text).lower()).replace(" ", "-")


def _unique(anchor: str, seen: dict[str, int]) -> str:
    count = seen.get(anchor, 0)
    seen[anchor] = count + 1
    return anchor if count == 0 else f"{anchor}-{count}"


def _snake(text: str) -> str:
    """A key as every --json schema spells one (``^[a-z][a-z0-9_]*$``): a label starting with a digit gets ``n_``."""
    key = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "column"
    return key if key[0].isalpha() else f"n_{key}"


def column_keys(headers: list[str]) -> list[str]:
    """Stable snake_case keys: the header without its bracketed notes (kept where two would collide)."""
    short = []
    for header in headers:
        alias = next((key for pattern, key in KEY_ALIASES if pattern.search(header)), None)
        short.append(alias or _snake(re.sub(r"\[[^\]]*\]|\([^)]*\)|`", "", header)))
    keys: list[str] = []
    for header, key in zip(headers, short):
        if short.count(key) > 1:
            key = _snake(re.sub(r"\[[^\]]*\]|`", "", header))
        keys.append(key if key not in keys else f"{key}_{len(keys)}")
    return keys


# -- typed cells --------------------------------------------------------------------
def _parse_number(text: str) -> int | float:
    value = float(text.replace(",", ""))
    return int(value) if value.is_integer() and re.fullmatch(r"[-+]?[\d,]+", text) else value


def interval(value: Any, low: Any, high: Any, level: float | str | None) -> dict:
    """An interval as JSON: ``{"value", "interval": [low, high], "level"}`` (interval and level null when absent)."""
    both = low is not None and high is not None
    return {"value": value, "interval": [low, high] if both else None, "level": level if both else None}


def level_of(header: str) -> float | str:
    """The level a column's intervals are at, from its header: ``[90%]`` 0.9, ``IQR``, else 0.95 (the default)."""
    found = re.search(r"(\d+(?:\.\d+)?)%\s*(?:CI|\]|:)", header)
    if "IQR" in header:
        return "IQR"
    return float(found.group(1)) / 100 if found else 0.95


def cell_value(cell: Any, level: float | str = 0.95) -> Any:
    """A cell as JSON: a number, an :func:`interval`, null for '-', else its text."""
    if isinstance(cell, Cell):
        if cell.interval:
            return interval(cell.value, cell.low, cell.high, cell.level if cell.level is not None else level)
        if cell.value is not None:
            return cell.value
    text = str(cell).strip()
    if text in ("", "-"):
        return None
    if _NUMBER_RE.match(text) and any(ch.isdigit() for ch in text):
        return _parse_number(text)
    match = _INTERVAL_RE.match(text)
    if match and all(any(ch.isdigit() for ch in g) for g in match.groups()):
        value, low, high = (_parse_number(g) for g in match.groups())
        return interval(value, low, high, level)
    return text


def sort_key(cell: Any) -> float | None:
    """The number a column sorts by (an interval by its value), or None for text."""
    value = cell_value(cell)
    if isinstance(value, dict):
        value = value["value"]
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def table_data(t: Table, heading: str = "") -> dict:
    """One table as data; a column holding any interval holds only intervals (or nulls, or text)."""
    levels = [level_of(h) for h in t.headers]
    values = [[cell_value(c, levels[j] if j < len(levels) else 0.95) for j, c in enumerate(row)] for row in t.rows]
    for j in range(len(t.keys)):
        if any(isinstance(row[j], dict) for row in values if j < len(row)):
            for row in values:
                if j < len(row) and isinstance(row[j], (int, float)):
                    row[j] = interval(row[j], None, None, None)
    return {
        "name": t.name or _snake(heading),
        "heading": heading,
        "columns": [{"key": k, "label": h} for k, h in zip(t.keys, t.headers)],
        "rows": [dict(zip(t.keys, row)) for row in values],
    }


def inline(text: str) -> str:
    """Escape, then the few Markdown spans reports use: `code`, **bold**, *emphasis*, [text](link)."""
    text = html.escape(text, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", text)
    text = re.sub(r"(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])", r"<em>\1</em>", text)
    return re.sub(
        r"\[([^\]]+)\]\(([^)\s]+)\)",
        lambda m: (
            f'<a href="{html.escape(m.group(2))}">{m.group(1)}</a>'
            if not m.group(2).startswith(("http:", "https:", "//"))
            else m.group(1)
        ),
        text,
    )


def blocks_of(doc: Doc, kind: str) -> Iterator[tuple]:
    return (b for b in doc.ordered() if b[0] == kind)


__all__ = ["Doc", "Figure", "Table", "cell_value", "column_keys", "inline", "slug", "table_data"]
