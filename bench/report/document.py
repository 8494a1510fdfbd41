"""A small document model rendered three ways: Markdown, self-contained HTML, JSON.

Reports and comparisons are built once as a list of blocks (headings,
paragraphs, tables, bullet lists, figures); each renderer writes the same
content. The HTML inlines every figure as a data URI and loads nothing from
the network, so it reads offline and can be mailed as one file.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

from bench.report.tables import table


@dataclass
class Table:
    headers: list[str]
    rows: list[list]
    name: str = ""


@dataclass
class Figure:
    title: str
    path: Path
    #: The PNG itself, when the figure is not on disk yet (staged with the report's other files).
    data: bytes | None = None


@dataclass
class Doc:
    """An ordered list of blocks; each ``add_*`` appends one."""

    title: str
    blocks: list = field(default_factory=list)

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

    def table(self, headers: list[str], rows: list[list], name: str = "") -> Doc:
        self.blocks.append(("table", Table(list(headers), [list(map(str, r)) for r in rows], name)))
        return self

    def figure(self, title: str, path: Path, data: bytes | None = None) -> Doc:
        self.blocks.append(("figure", Figure(title, Path(path), data)))
        return self

    # -- renderers -----------------------------------------------------------------
    def markdown(self, base: Path) -> str:
        """Markdown, with figures linked relative to ``base``."""
        out = [f"# {self.title}", ""]
        for block in self.blocks:
            kind = block[0]
            if kind == "h":
                out += ["#" * block[1] + " " + block[2], ""]
            elif kind == "p":
                out += [block[1], ""]
            elif kind == "ul":
                out += [f"- {item}" for item in block[1]] + [""]
            elif kind == "table":
                out += [table(block[1].rows, block[1].headers) if block[1].rows else "(none)", ""]
            elif kind == "figure":
                out += [f"![{block[1].title}]({block[1].path.relative_to(base).as_posix()})", ""]
        return "\n".join(out).rstrip() + "\n"

    def html(self) -> str:
        """One self-contained HTML page: figures inline (data URIs), no external requests."""
        body = [f"<h1>{_inline(self.title)}</h1>"]
        for block in self.blocks:
            kind = block[0]
            if kind == "h":
                body.append(f"<h{block[1]}>{_inline(block[2])}</h{block[1]}>")
            elif kind == "p":
                body.append(f"<p>{_inline(block[1])}</p>")
            elif kind == "ul":
                body.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in block[1]) + "</ul>")
            elif kind == "table":
                body.append(_html_table(block[1]))
            elif kind == "figure":
                png = block[1].data if block[1].data is not None else block[1].path.read_bytes()
                data = base64.b64encode(png).decode()
                alt = html.escape(block[1].title)
                body.append(
                    f'<figure><img alt="{alt}" src="data:image/png;base64,{data}"><figcaption>{alt}</figcaption></figure>'
                )
        return HTML_PAGE.format(title=html.escape(self.title), body="\n".join(body))

    def data(self) -> dict:
        """The tables as data (``--json``): name or heading -> list of row dicts."""
        out: dict = {"title": self.title, "tables": []}
        heading = ""
        for block in self.blocks:
            if block[0] == "h":
                heading = block[2]
            elif block[0] == "table":
                t = block[1]
                out["tables"].append({"name": t.name or heading, "rows": [dict(zip(t.headers, r)) for r in t.rows]})
        return out


def _inline(text: str) -> str:
    """Escape, then the few Markdown spans reports use: `code`, **bold**, [text](link)."""
    text = html.escape(text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", text)
    return re.sub(
        r"\[([^\]]+)\]\(([^)\s]+)\)",
        lambda m: (
            f'<a href="{m.group(2)}">{m.group(1)}</a>'
            if not m.group(2).startswith(("http:", "https:", "//"))
            else m.group(1)
        ),
        text,
    )


def _html_table(t: Table) -> str:
    head = "".join(f"<th>{_inline(h)}</th>" for h in t.headers)
    rows = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in t.rows)
    name = f' data-name="{html.escape(t.name)}"' if t.name else ""
    return f"<table{name}><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


HTML_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 80rem; padding: 0 1rem; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.85rem; display: block; overflow-x: auto; }}
th, td {{ border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; white-space: nowrap; }}
th {{ background: #f2f2f2; }}
tr:nth-child(even) td {{ background: #fafafa; }}
figure {{ margin: 1rem 0 2rem; }}
img {{ max-width: 100%; height: auto; }}
code {{ background: #f4f4f4; padding: 0 0.2rem; }}
</style>
</head>
<body>
{body}
</body>
</html>
"""
