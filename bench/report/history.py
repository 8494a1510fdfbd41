"""``bench history``: each adapter's metrics across stored runs, with uncertainty, and the steps in them.

Writes HISTORY.md, history.html and one figure per metric (default under
``results/reports/history/``); ``--json`` prints the steps and the points.
Every number comes from stored records (:mod:`hello_bench.analysis.history`). The
points of a run with environments are its environments. Each figure is a PNG
for the Markdown and an interactive plotly chart (the same points, intervals
and steps, :mod:`hello_bench.report.chart` primitives) on the HTML page, beside its
table, as the report's figures are.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from hello_bench.analysis import history
from hello_bench.analysis import steps as steps_mod
from hello_bench.analysis.load import Loaded, load_runs, split_ref
from hello_bench.errors import UserError
from hello_bench.record import label_of
from hello_bench.report import chart, plots
from hello_bench.report.document import Doc, interval
from hello_bench.report.html import render
from hello_bench.report.tables import fmt_ci
from hello_bench.store.reader import run_dirs
from hello_bench.store.safefs import OutputDir

#: How each kind of point is described in its table's header and on the page.
MEANS = {history.ARITHMETIC: "mean [corrected 95% CI]", history.GEOMETRIC: "geometric mean [95% CI]"}
STEP_LEVEL = 1 - steps_mod.ALPHA


@dataclass
class History:
    doc: Doc
    steps: list[dict]
    points: pd.DataFrame
    markdown: Path
    #: Fewest points of any series: under steps.MIN_POINTS no step can be decided.
    fewest: int = 0
    #: The series too short to decide on (history.undecided), apart from the steps found in the others.
    undecided: tuple[dict, ...] = ()
    #: Series (metric x dataset x adapter x device) in all.
    series: int = 0

    @property
    def decidable(self) -> bool:
        return self.fewest >= steps_mod.MIN_POINTS

    def summary(self) -> list[str]:
        """What was decided, apart from what could not be: the steps, then the series too short to tell."""
        decided = self.series - len(self.undecided)
        out = [f"{len(self.steps)} step(s) in {decided} series with enough points ({steps_mod.MIN_POINTS}; a count's 2)"
               + (" (no change stands out from the noise between these runs)" if decided and not self.steps else "")
               + "."]  # fmt: skip
        if self.undecided:
            names = ", ".join(f"{u['adapter']} {u['metric']} ({u['points']})" for u in self.undecided[:3])
            more = f" and {len(self.undecided) - 3} more" if len(self.undecided) > 3 else ""
            out.append(f"Cannot decide for {len(self.undecided)} series with fewer than {steps_mod.MIN_POINTS} points (a "
                       f"count: 2; points in brackets): {names}{more}. For two versions in one run, `bench compare RUN%a RUN%b` "
                       "pairs their splits and decides.")  # fmt: skip
        return out


def _bars(g: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Error bar lengths below and above each point (0 where a point has no interval)."""
    return (g["value"] - g["low"]).fillna(0), (g["high"] - g["value"]).fillna(0)


def _positions(frame: pd.DataFrame) -> list[str]:
    """The points of a metric's frame in their order (the x axis)."""
    return list(dict.fromkeys(frame.sort_values("rank")["point"]))


def _geometric(frame: pd.DataFrame) -> bool:
    """Whether a metric's points are geometric means (drawn on a log axis: a step is a factor)."""
    return bool((frame["mean"] == history.GEOMETRIC).all())


def _title(metric: str) -> str:
    return f"{label_of(metric, unit=False)} across runs (95% intervals; dashed: a step)"


def _figure(frame: pd.DataFrame, metric: str, steps: list[dict], short: Callable[[str], str]) -> bytes:
    fig, ax = plots.plt.subplots(figsize=(7.5, 3.8))
    labels = _positions(frame)
    for (dataset, adapter, device), g in frame.groupby(history.KEYS, sort=True):
        g = g.sort_values("rank")
        x = [labels.index(p) for p in g["point"]]
        ax.errorbar(x, g["value"], yerr=list(_bars(g)), marker="o", capsize=3, color=plots.colour(adapter),
                    label=short(f"{adapter} ({dataset}, {device})"))  # fmt: skip
    for step in (s for s in steps if s["metric"] == metric):
        ax.axvline(labels.index(step["run"]) - 0.5, color="red", lw=1, ls="--")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(label_of(metric))
    if _geometric(frame):
        ax.set_yscale("log")
    ax.set_title(_title(metric))
    plots.legend_outside(ax, fontsize=8)
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=110, bbox_inches="tight", metadata={"Software": None}, format="png")
    plots.plt.close(fig)
    return buffer.getvalue()


def spec(frame: pd.DataFrame, metric: str, steps: list[dict]) -> dict:
    """The figure as a plotly spec for the HTML page: the PNG's points, intervals and steps; hover shows each
    point's interval and splits, a legend entry hides or shows its series."""
    labels = _positions(frame)
    data = []
    for (dataset, adapter, device), g in frame.groupby(history.KEYS, sort=True):
        g = g.sort_values("rank")
        below, above = _bars(g)
        text = [f"{r['point']}<br>{fmt_ci(r['value'], r['low'], r['high'])} (n={r['n']})" for _, r in g.iterrows()]
        data.append({
            "type": "scatter", "mode": "lines+markers", "name": f"{adapter} ({dataset}, {device})",
            "x": [labels.index(p) for p in g["point"]], "y": chart.numbers(g["value"]),
            "error_y": {"type": "data", "symmetric": False, "array": chart.numbers(above), "arrayminus": chart.numbers(below)},
            "line": {"color": chart.rgb(plots.colour(adapter))}, "text": text,
            "hovertemplate": "%{text}<extra>%{fullData.name}</extra>",
        })  # fmt: skip
    shapes = [{"type": "line", "xref": "x", "yref": "paper", "x0": labels.index(s["run"]) - 0.5,
               "x1": labels.index(s["run"]) - 0.5, "y0": 0, "y1": 1, "line": {"color": "red", "width": 1, "dash": "dash"}}
              for s in steps if s["metric"] == metric]  # fmt: skip
    layout = chart.layout(_title(metric), "", label_of(metric), shapes=shapes, height=480)
    if _geometric(frame):  # times and speeds change by factors; plotly's own log ticks suit a narrow range too
        layout["yaxis"]["type"] = "log"
    # Run labels are long (``run%environment (scikit-learn 1.9.1)``): a label slanted across its neighbours runs
    # off the plot's edge, so each is wrapped into short lines, upright when there are many points.
    layout["xaxis"].update(tickvals=list(range(len(labels))), ticktext=[_wrapped(t) for t in labels],
                           tickangle=0 if len(labels) <= 6 else -90, range=[-0.5, len(labels) - 0.5], zeroline=False)  # fmt: skip
    return {"data": data, "layout": layout}


def _wrapped(label: str, width: int = 18) -> str:
    """A point's label in lines of about ``width`` characters (plotly's ``<br>``): the run broken after '-', '%' or
    '_', then its commit or version (in brackets) on a line of its own."""
    run, bracket, rest = label.partition(" (")
    lines = [""]
    for part in re.split(r"(?<=[-%_])", run):
        if lines[-1] and len(lines[-1]) + len(part) > width:
            lines.append(part)
        else:
            lines[-1] += part
    lines += [f"({rest}"] if bracket else []
    return "<br>".join(lines)


def _load(runs: list[str], results_dir: str | Path, by: str) -> Loaded:
    """The runs (default: every matrix run), refused in one line when they hold fewer than two points."""
    names = runs or [p.name for p in run_dirs(results_dir, kind="matrix")]
    if not names:
        raise UserError(f"bench history needs at least two runs (or a run with environments); none under "
                        f"{Path(results_dir) / 'runs'}.")  # fmt: skip
    loaded = load_runs(
        names, results_dir, kind=None, dedupe_splits=False, split_environments=False, skip_empty=not runs
    )  # every run listed, not named: one without records is left out
    loaded = _named(loaded, names)
    found = sorted(p.run + (f"%{p.environment}" if p.environment else "") for p in history.points(loaded, by).values())
    if len(found) < 2:
        raise UserError(f"bench history needs at least two points: two runs, or a run with two or more environments; "
                        f"found {len(found)} ({', '.join(found)}).")  # fmt: skip
    return loaded


def _named(loaded: Loaded, names: list[str]) -> Loaded:
    """Only the environments named (``d1%a d1%b`` of a run of three is two points); a run named whole keeps all."""
    wanted: dict[str, set[str | None]] = {}
    for name in names:
        run, environment = split_ref(name)
        wanted.setdefault(Path(run).name, set()).add(environment)
    frame = loaded.frame
    envs = frame["environment"] if "environment" in frame.columns else pd.Series(None, index=frame.index, dtype=object)
    keep = [None in wanted.get(r, {None}) or e in wanted[r] for r, e in zip(frame["run_id"], envs)]
    return replace(loaded, frame=frame[keep].reset_index(drop=True))


def _intro(frame: pd.DataFrame, loaded: Loaded, by: str) -> str:
    n_points = frame["point"].nunique() if not frame.empty else 0
    order = "when they ran" if by in ("time", "commit") else by + " version"
    return (f"{n_points} point(s) from {len(loaded.folders)} run(s), ordered by {order}; a run with environments is "
            "one point per environment. Each point, over its splits (init seeds averaged within a split): accuracy and "
            "the other statistics of the test rows as the mean with its Nadeau-Bengio corrected 95% interval, as the "
            "report shows them (the splits share training rows: the plain interval is far too narrow); times, speeds "
            "and the rest as the geometric mean with its 95% interval. Steps: a piecewise-constant fit of the log "
            "geometric means weighted by each point's uncertainty plus the spread between runs; a step is kept only "
            "when it stands out beyond the largest step found in 95% of histories simulated without any (the "
            "between-run spread at its estimate and at its upper bound), and its after/before interval is drawn at "
            "that same threshold.")  # fmt: skip


def _metric_sections(doc: Doc, frame: pd.DataFrame, steps: list[dict], out: OutputDir) -> None:
    """Per metric: its table, and its figure beside it (a PNG for the Markdown, a plotly chart on the page)."""
    for metric, g in frame.groupby("metric", sort=False) if not frame.empty else []:
        doc.heading(label_of(metric))
        rows = [[r["dataset"], r["adapter"], r["device"], r["point"], r["n"], fmt_ci(r["value"], r["low"], r["high"])]
                for _, r in g.iterrows()]  # fmt: skip
        name = f"history-{metric}"
        doc.table(["dataset", "adapter", "device", "run", "splits", MEANS[g["mean"].iloc[0]]], rows, name)
        png = _figure(g, metric, steps, doc.labels.short)
        doc.figure(f"{label_of(metric, unit=False)} across runs", out.stage(f"figures/{name}.png", png), beside=name,
                   spec=spec(g, metric, steps), data=png)  # fmt: skip


def build(runs: list[str], results_dir: str | Path, by: str, metrics: tuple[str, ...], out: OutputDir) -> History:
    loaded = _load(runs, results_dir, by)
    frame = history.series(loaded, by, metrics)
    fewest = int(frame.groupby(["metric", "dataset", "adapter", "device"]).size().min()) if not frame.empty else 0
    plots.register_colours(loaded.frame)
    steps = history.steps(frame) if not frame.empty else []
    doc = Doc("History").shorten(frame["adapter"] if not frame.empty else [])
    doc.para(_intro(frame, loaded, by))
    doc.heading("Steps")
    doc.table(["metric", "dataset", "adapter", "device", "before", "after", "change [95% interval]", "p"],
              [[label_of(s["metric"], unit=False), s["dataset"], s["adapter"], s["device"], s["before"], s["run"],
                history.change_text(s), "exact" if s["p"] is None else f"{s['p']:.2g}"] for s in steps], "steps")  # fmt: skip
    found = History(doc, steps, frame, Path(), fewest, tuple(history.undecided(frame)),
                    frame.groupby(history.SERIES).ngroups if not frame.empty else 0)  # fmt: skip
    for sentence in found.summary():
        doc.para(sentence)
    _metric_sections(doc, frame, steps, out)
    # Staged, then written together: a refused target (HISTORY.md a link, a folder inside a run) leaves no figure.
    markdown = out.stage("HISTORY.md", doc.markdown(out.path))
    out.stage("history.html", render(doc))
    out.commit()
    return replace(found, markdown=markdown)


def _num(x: object) -> float | None:
    """A number for JSON: NaN (no value, no bound) becomes null."""
    return chart.numbers([x])[0]


def json_data(result: History) -> dict:
    """The points and steps as --json prints them: every interval ``{"value", "interval": [low, high], "level"}``."""
    points = [
        {"run": r["point"], "metric": r["metric"], "dataset": r["dataset"], "adapter": r["adapter"], "device": r["device"],
         "estimate": interval(_num(r["value"]), _num(r["low"]), _num(r["high"]), history.LEVEL), "mean": r["mean"],
         "n": int(r["n"])}
        for _, r in result.points.iterrows()
    ]  # fmt: skip
    steps = [{**{k: s[k] for k in ("run", "before", "metric", "dataset", "adapter", "device")},
              "ratio": interval(_num(s["value"]), _num(s["low"]), _num(s["high"]), STEP_LEVEL), "p": s["p"],
              "better": s["better"], "compared_as": s["compared_as"],
              "change": interval(_num(s["change"][0]), _num(s["change"][1]), _num(s["change"][2]),
                                 1.0 if s["p"] is None else STEP_LEVEL)}
             for s in result.steps]  # fmt: skip
    return {"steps": steps, "points": points, "decidable": result.decidable, "undecided": list(result.undecided),
            "summary": result.summary(), "markdown": str(result.markdown),
            "html": str(result.markdown.with_name("history.html"))}  # fmt: skip
