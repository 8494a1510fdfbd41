"""``bench history``: each adapter's metrics across stored runs, with uncertainty, and the steps in them.

Writes HISTORY.md, history.html and one figure per metric (default under
``results/reports/history/``); ``--json`` prints the steps and the points.
Every number comes from stored records (:mod:`bench.analysis.history`).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from bench.analysis import history
from bench.analysis import steps as steps_mod
from bench.analysis.load import load_runs
from bench.errors import UserError
from bench.record import label_of
from bench.report import plots
from bench.report.document import Doc
from bench.report.html import render
from bench.report.tables import fmt
from bench.store.reader import run_dirs
from bench.store.safefs import OutputDir

Z95 = 1.959964


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
        out = [f"{len(self.steps)} step(s) in {decided} series with at least {steps_mod.MIN_POINTS} points"
               + (" (no change stands out from the noise between these runs)" if decided and not self.steps else "")
               + "."]  # fmt: skip
        if self.undecided:
            names = ", ".join(f"{u['adapter']} {u['metric']} ({u['points']})" for u in self.undecided[:3])
            more = f" and {len(self.undecided) - 3} more" if len(self.undecided) > 3 else ""
            out.append(f"Cannot decide for {len(self.undecided)} series with fewer than {steps_mod.MIN_POINTS} points "
                       f"(points in brackets): {names}{more}. For two versions in one run, `bench compare RUN%a RUN%b` "
                       "pairs their splits and decides.")  # fmt: skip
        return out


def _interval(row: pd.Series) -> str:
    value = math.exp(row["log_mean"])
    if not math.isfinite(row["se"]):
        return f"{fmt(value)} (n={row['n']})"
    low, high = math.exp(row["log_mean"] - Z95 * row["se"]), math.exp(row["log_mean"] + Z95 * row["se"])
    return f"{fmt(value)} [{fmt(low)}, {fmt(high)}] (n={row['n']})"


def _figure(frame: pd.DataFrame, metric: str, steps: list[dict]) -> bytes:
    fig, ax = plots.plt.subplots(figsize=(7.5, 3.8))
    labels = list(dict.fromkeys(frame.sort_values("rank")["point"]))
    for (dataset, adapter, device), g in frame.groupby(history.KEYS, sort=True):
        g = g.sort_values("rank")
        x = [labels.index(p) for p in g["point"]]
        y = g["log_mean"].map(math.exp)
        err = [y - (g["log_mean"] - Z95 * g["se"].fillna(0)).map(math.exp),
               (g["log_mean"] + Z95 * g["se"].fillna(0)).map(math.exp) - y]  # fmt: skip
        ax.errorbar(
            x, y, yerr=err, marker="o", capsize=3, color=plots.colour(adapter), label=f"{adapter} ({dataset}, {device})"
        )
    for step in (s for s in steps if s["metric"] == metric):
        ax.axvline(labels.index(step["run"]) - 0.5, color="red", lw=1, ls="--")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(label_of(metric))
    ax.set_title(f"{label_of(metric, unit=False)} across runs (95% intervals; dashed: a step)")
    plots.legend_outside(ax, fontsize=8)
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=110, bbox_inches="tight", metadata={"Software": None}, format="png")
    plots.plt.close(fig)
    return buffer.getvalue()


def build(runs: list[str], results_dir: str | Path, by: str, metrics: tuple[str, ...], out: OutputDir) -> History:
    names = runs or [p.name for p in run_dirs(results_dir, kind="matrix")]
    if len(names) < 2 and not any("%" in n for n in names):
        raise UserError(f"bench history needs at least two runs (or a run with environments); found {len(names)}.")
    loaded = load_runs(names, results_dir, kind=None, dedupe_splits=False, split_environments=False)
    frame = history.series(loaded, by, metrics)
    fewest = int(frame.groupby(["metric", "dataset", "adapter", "device"]).size().min()) if not frame.empty else 0
    plots.register_colours(loaded.frame)
    steps = history.steps(frame) if not frame.empty else []
    doc = Doc("History")
    n_points = frame["point"].nunique() if not frame.empty else 0
    doc.para(f"{n_points} point(s) from {len(loaded.folders)} run(s), ordered by {'when they ran' if by in ('time', 'commit') else by + ' version'}. "
             "Each point: the geometric mean over the run's splits with its 95% interval. Steps: a piecewise-constant fit "
             "weighted by each point's uncertainty plus the spread between runs; a step is kept only when it stands out "
             "beyond the largest step found in 95% of histories simulated without any (the between-run spread at its "
             "estimate and at its upper bound), and its after/before interval is drawn at that same threshold.")  # fmt: skip
    doc.heading("Steps")
    doc.table(["metric", "dataset", "adapter", "device", "before", "after", "after/before [interval]", "p"],
              [[label_of(s["metric"], unit=False), s["dataset"], s["adapter"], s["device"], s["before"], s["run"],
                f"{fmt(s['value'])} [{fmt(s['low'])}, {fmt(s['high'])}]", f"{s['p']:.2g}"] for s in steps], "steps")  # fmt: skip
    found = History(doc, steps, frame, Path(), fewest, tuple(history.undecided(frame)),
                    frame.groupby(history.SERIES).ngroups if not frame.empty else 0)  # fmt: skip
    for sentence in found.summary():
        doc.para(sentence)
    for metric, g in frame.groupby("metric", sort=False) if not frame.empty else []:
        doc.heading(label_of(metric))
        rows = [[r["dataset"], r["adapter"], r["device"], r["point"], _interval(r)] for _, r in g.iterrows()]
        doc.table(["dataset", "adapter", "device", "run", "value [95% CI]"], rows, f"history-{metric}")
        png = _figure(g, metric, steps)
        doc.figure(f"{label_of(metric, unit=False)} across runs", out.stage(f"figures/history-{metric}.png", png),
                   data=png)  # fmt: skip
    # Staged, then written together: a refused target (HISTORY.md a link, a folder inside a run) leaves no figure.
    markdown = out.stage("HISTORY.md", doc.markdown(out.path))
    out.stage("history.html", render(doc))
    out.commit()
    return replace(found, markdown=markdown)


def json_data(result: History) -> dict:
    points = [
        {"run": r["point"], "metric": r["metric"], "dataset": r["dataset"], "adapter": r["adapter"], "device": r["device"],
         "value": math.exp(r["log_mean"]), "low": math.exp(r["log_mean"] - Z95 * r["se"]) if math.isfinite(r["se"]) else None,
         "high": math.exp(r["log_mean"] + Z95 * r["se"]) if math.isfinite(r["se"]) else None, "n": int(r["n"])}
        for _, r in result.points.iterrows()
    ]  # fmt: skip
    return {"steps": result.steps, "points": points, "decidable": result.decidable, "undecided": list(result.undecided),
            "summary": result.summary(), "markdown": str(result.markdown)}  # fmt: skip
