"""The "Where the time goes" section: every adapter's fit and predict times as floor + dispatch + rest.

The parts come from :mod:`hello_bench.analysis.breakdown` (the compiled floor on
the same splits, the framework's measured per-call cost times its calls, and
what remains); this module renders them as two tables, a stacked bar figure
(PNG and interactive) and sentences generated from the same numbers, so that
"why is this framework 8x slower than that one on my small data?" is
answered by the report itself.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from hello_bench.analysis import breakdown
from hello_bench.record import role
from hello_bench.report.document import Doc
from hello_bench.report.tables import Cell, fmt, fmt_range

#: Within this many times the floor counts as "near the floor" (issue 32's target for a tuned route).
NEAR = 3.0
WHAT = {"fit": "fit", "predict": "single-row predict", "batch": "whole-test-set predict"}
UNIT = {"fit": "s", "predict": "us", "batch": "us"}
PART_LABELS = {"floor": "compiled floor", "dispatch": "dispatch (per-call overhead)", "rest": "rest"}
#: tab20 shades: the floor grey, dispatch orange, the rest blue.
PART_COLOURS = {"floor": "rgb(127,127,127)", "dispatch": "rgb(255,127,14)", "rest": "rgb(31,119,180)"}

NOTE = (
    "Each time split in three parts that add up to it, trial by trial (means over trials here, which add up as the "
    "parts do). **Floor**: the compiled reference floor's time for the same work: the adapter that declares itself "
    "the model's reference floor, on the same split, init seed and training parameters. **Dispatch**: the "
    "framework's cost per call above the floor's, times the calls: optimiser steps x the cost of one step, plus "
    "epochs x the cost of one epoch's own work, both measured once per worker on the same settings with a model "
    "that has nothing to compute; one predict call x the cost of an empty predict call. **Rest**: the measured "
    "total less both: building and compiling the model, arithmetic slower than the floor's, whatever the empty "
    "model did not show. A negative rest (the parts over-explain the total) is shown, never clipped, and counted."
)


def section(doc: Doc, ok: pd.DataFrame) -> pd.DataFrame:
    """The section (when some trial has a floor to be shown against); returns the summary the figure draws."""
    parts = breakdown.summary(ok)
    if parts.empty:
        step = role("empty-step").column
        if step in ok.columns and ok[step].notna().any():
            doc.heading("Where the time goes", 3)
            doc.para("These runs hold no compiled reference floor on the same work, so fit and predict times cannot "
                     "be split into floor, dispatch and rest: add the floor adapter with the same parameters to the "
                     "run's adapters.")  # fmt: skip
        return parts
    doc.heading("Where the time goes: the compiled floor, dispatch and the rest", 3)
    doc.para(NOTE)
    fit = parts[parts["quantity"] == "fit"]
    doc.table(["dataset", "adapter", "device", "fit s (mean)", "floor s", "dispatch s", "rest s",
               "x the floor [95% CI]", "optimiser steps", "dispatch per step us", "rest < 0 (trials)"],
              [_fit_row(r) for _, r in fit.iterrows()], "time-breakdown",
              ["dataset", "adapter", "device", "fit_s", "floor_s", "dispatch_s", "rest_s", "x_floor", "steps",
               "dispatch_per_step_us", "negative_rest_trials"])  # fmt: skip
    calls = parts[parts["quantity"] != "fit"]
    doc.table(["dataset", "adapter", "device", "call", "total us (mean)", "floor us", "dispatch us", "rest us",
               "x the floor [95% CI]", "rest < 0 (trials)"],
              [_call_row(r) for _, r in calls.iterrows()], "predict-breakdown",
              ["dataset", "adapter", "device", "call", "total_us", "floor_us", "dispatch_us", "rest_us", "x_floor",
               "negative_rest_trials"])  # fmt: skip
    doc.bullets(sentences(parts) + _unsplit(ok))
    return parts


def _unsplit(ok: pd.DataFrame) -> list[str]:
    """Adapters shown against a floor whose fit could not be split (their worker measured no per-step cost)."""
    cols = breakdown.COLUMNS["fit"]
    if cols["floor"] not in ok.columns:
        return []
    rows = ok[ok[cols["floor"]].notna() & ok[cols["rest"]].isna()]
    names = sorted({f"`{a}`" for a in rows["adapter"].astype(str)})
    return (
        [
            f"Fit not split for {', '.join(names)}: its worker's probe did not resolve a cost per step (the "
            "adapter reports none, or the machine's noise hid it within the probe's budget)."
        ]
        if names
        else []
    )


def _ratio(r: pd.Series) -> Any:
    ci = r["ratio"]
    return fmt_range(ci.ratio, ci.low, ci.high) if math.isfinite(ci.low) else fmt(ci.ratio)


def _negatives(r: pd.Series) -> Cell:
    return Cell(f"{int(r['negative'])} of {int(r['trials'])}", int(r["negative"]))


def _fit_row(r: pd.Series) -> list:
    return [r["dataset"], r["adapter"], r["device"], fmt(r["total"]), fmt(r["floor"]), fmt(r["dispatch"]),
            fmt(r["rest"]), _ratio(r), fmt(r["steps"]), fmt(r["step_cost"] * 1e6), _negatives(r)]  # fmt: skip


def _call_row(r: pd.Series) -> list:
    call = "one row" if r["quantity"] == "predict" else "whole test set"
    return [r["dataset"], r["adapter"], r["device"], call, fmt(r["total"]), fmt(r["floor"]), fmt(r["dispatch"]),
            fmt(r["rest"]), _ratio(r), _negatives(r)]  # fmt: skip


# -- sentences, generated from the numbers ---------------------------------------------------
def _share(part: float, total: float) -> str:
    return f"{part / total:.0%}" if total > 0 and math.isfinite(part) else "-"


def _explain_fit(r: pd.Series) -> str:
    per_epoch = r["dispatch"] - r["steps"] * r["step_cost"]
    # a difference of two products: below a millionth of the dispatch it is rounding, not an epoch's work
    epochs = (
        f" and {fmt(r['epochs'])} epochs' own work ({fmt(per_epoch)} s)" if per_epoch > 1e-6 * r["dispatch"] else ""
    )
    return (
        f"`{r['adapter']}` ({r['dataset']}, {r['device']}): fit {fmt(r['total'])} s, {fmt(r['ratio'].ratio)}x the "
        f"compiled floor's {fmt(r['floor'])} s for the same work. Dispatch: {fmt(r['steps'])} optimiser steps at "
        f"{fmt(r['step_cost'] * 1e6)} us each above the floor's per-step cost{epochs}, {fmt(r['dispatch'])} s "
        f"({_share(r['dispatch'], r['total'])} of the fit); the rest, {fmt(r['rest'])} s "
        f"({_share(r['rest'], r['total'])}), is building and compiling the model and arithmetic slower than the floor's."
    )


def _explain_gap(slow: pd.Series, fast: pd.Series) -> str:
    gap = slow["total"] - fast["total"]
    parts = [(p, slow[p] - fast[p]) for p in ("dispatch", "rest", "floor")]
    said = ", ".join(f"{fmt(d)} s ({_share(d, gap)}) {p}" for p, d in parts if p != "floor" or abs(d) > 1e-12)
    return (
        f"Why `{slow['adapter']}` takes {fmt(slow['total'] / fast['total'])}x `{fast['adapter']}`'s fit time "
        f"({slow['dataset']}, {slow['device']}: {fmt(slow['total'])} s vs {fmt(fast['total'])} s): of the "
        f"{fmt(gap)} s more, {said}; {fmt(slow['steps'])} steps at {fmt(slow['step_cost'] * 1e6)} us of dispatch "
        f"each against {fmt(fast['step_cost'] * 1e6)} us."
    )


def _near(fit: pd.DataFrame) -> list[str]:
    """Which adapters come within NEAR x the floor, and for the others whether dispatch is what keeps them away."""
    out = []
    for (dataset, device), g in fit.groupby(["dataset", "device"], sort=True):
        near = [f"`{r['adapter']}` ({fmt(r['ratio'].ratio)}x)" for _, r in g.iterrows() if r["ratio"].ratio <= NEAR]
        far = []
        for _, r in g[[r.ratio > NEAR for r in g["ratio"]]].iterrows():
            far.append(f"`{r['adapter']}` {fmt(r['ratio'].ratio)}x: {_why_far(r)}")
        out.append(
            f"Near the floor ({dataset}, {device}; within {NEAR:g}x its fit time): "
            + (", ".join(near) if near else "none")
            + (". Further: " + "; ".join(far) + "." if far else ".")
        )
    return out


def _why_far(r: pd.Series) -> str:
    """Why an adapter stays above NEAR x the floor, from its parts."""
    alone = r["dispatch"] / r["floor"] if r["floor"] > 0 else math.nan
    if not alone > NEAR:
        return (
            f"dispatch explains {_share(r['dispatch'], r['total'])} of it; the rest ({fmt(r['rest'])} s) keeps it there"
        )
    per_step = r["floor"] / r["steps"] if r["steps"] > 0 else math.nan
    steps = r["steps"] * r["step_cost"]
    # the dispatch is steps and, where measured, each epoch's own work: say both, and what the steps alone come to
    epochs = (f" plus {fmt(r['epochs'])} epochs' own work ({fmt(r['dispatch'] - steps)} s)"
              if r["dispatch"] - steps > 1e-6 * r["dispatch"] else "")  # fmt: skip
    over = f"; its parts over-explain its fit by {fmt(-r['rest'])} s, so take it as rough" if r["rest"] < 0 else ""
    return (
        f"its dispatch alone, {fmt(r['steps'])} steps x {fmt(r['step_cost'] * 1e6)} us above the floor's cost per "
        f"step (the floor's whole step takes {fmt(per_step * 1e6)} us; the steps alone {fmt(steps / r['floor'])}x the "
        f"floor's fit){epochs}, is {fmt(alone)}x the floor's whole fit{over}: while it pays that dispatch it cannot "
        f"come within {NEAR:g}x"
    )


def _negative(parts: pd.DataFrame) -> list[str]:
    rows = parts[parts["negative"] > 0]
    if rows.empty:
        return []
    items = [f"`{r['adapter']}` {WHAT[r['quantity']]} on {_negatives(r)} trials (lowest {fmt(r['lowest_rest'])} "
             f"{UNIT[r['quantity']]}, {_share(-r['lowest_rest'], r['total'])} of its mean total)"
             for _, r in rows.iterrows()]  # fmt: skip
    return [
        "Rest below 0, the parts over-explaining the total (the empty-call probe paid more per call than the trial "
        "did, or the framework's arithmetic beat the floor's loops): " + "; ".join(items) + "."
    ]


def sentences(parts: pd.DataFrame) -> list[str]:
    """Every sentence of the section, each from the summary's numbers."""
    fit = parts[(parts["quantity"] == "fit") & ~parts["floor_adapter"]]
    out = [_explain_fit(r) for _, r in fit.iterrows()]
    for _, g in fit.groupby(["dataset", "device"], sort=True):
        fastest = g.loc[g["total"].idxmin()]
        out += [
            _explain_gap(r, fastest) for _, r in g.sort_values("total").iterrows() if r["adapter"] != fastest["adapter"]
        ]
    return out + _near(fit) + _negative(parts)


# -- the figure ---------------------------------------------------------------------------------
def _bars(parts: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """Fit and single-row predict rows, labelled as the other figures label adapters, in one order (by fit time)."""
    rows = parts[parts["quantity"].isin(["fit", "predict"])].copy()
    model = rows["adapter"].astype(str) + " / " + rows["device"].astype(str)
    rows["model"] = model.map(lambda m: labels.get(m, m))
    if rows["dataset"].nunique() > 1:
        rows["model"] = rows["model"] + " (" + rows["dataset"].astype(str) + ")"
    order = rows[rows["quantity"] == "fit"].sort_values("total")["model"].tolist()
    rank = {m: i for i, m in enumerate(dict.fromkeys(order + sorted(rows["model"])))}
    return rows.assign(_rank=rows["model"].map(rank)).sort_values(["quantity", "_rank"])


def _mpl(rgb: str) -> tuple[float, ...]:
    return tuple(int(c) / 255 for c in rgb.removeprefix("rgb(").removesuffix(")").split(","))


def figure(parts: pd.DataFrame, labels: dict[str, str], path: Any) -> Any:
    """Stacked horizontal bars: fit (s) and single-row predict (us), each as floor, dispatch and rest (PNG)."""
    import matplotlib.pyplot as plt

    from hello_bench.report.plots import legend_outside, save_figure

    rows = _bars(parts, labels)
    n = rows["model"].nunique()
    fig, axes = plt.subplots(1, 2, figsize=(12, 1.2 + 0.45 * n), squeeze=False, sharey=True)
    for ax, (quantity, unit) in zip(axes[0], (("fit", "s"), ("predict", "us"))):
        g = rows[rows["quantity"] == quantity]
        left = pd.Series(0.0, index=g.index)
        for part in breakdown.PARTS:
            values = g[part].astype(float)
            start = left.where(values >= 0, 0.0)  # a negative rest is drawn left of 0, not stacked on top
            ax.barh(g["model"], values, left=start, color=_mpl(PART_COLOURS[part]), label=PART_LABELS[part])
            left = left + values.clip(lower=0.0)
        for y, (_, r) in enumerate(g.iterrows()):  # each bar's multiple of the floor, at its end
            ax.annotate(f" {fmt(r['ratio'].ratio)}x", (left.loc[r.name], y), va="center", fontsize=8)
        what = "fit time" if quantity == "fit" else "single-row predict p50"
        ax.set(xlabel=f"{what}, mean over trials ({unit})", ylabel="")
        ax.axvline(0, color="black", lw=0.6)
        ax.margins(x=0.15)
    legend_outside(axes[0][1], fontsize=8)
    fig.suptitle("Where the time goes: compiled floor + dispatch + rest (x: the multiple of the floor)", y=1.02)
    return save_figure(fig, path)


def spec(parts: pd.DataFrame, labels: dict[str, str]) -> dict:
    """The same figure as a plotly spec: stacked (negative parts below 0), hover gives every part."""
    from hello_bench.report.chart import FONT
    from hello_bench.report.chart import numbers as _num

    rows = _bars(parts, labels)
    data = []
    for axis, (quantity, unit) in enumerate((("fit", "s"), ("predict", "us")), start=1):
        g = rows[rows["quantity"] == quantity]
        for part in breakdown.PARTS:
            data.append({
                "type": "bar", "orientation": "h", "name": PART_LABELS[part], "legendgroup": part,
                "showlegend": axis == 1, "y": list(g["model"]), "x": _num(g[part]),
                "xaxis": f"x{axis if axis > 1 else ''}", "yaxis": f"y{axis if axis > 1 else ''}",
                "marker": {"color": PART_COLOURS[part]},
                "hovertemplate": f"%{{y}}: %{{x:.4g}} {unit} {part}<extra></extra>",
            })  # fmt: skip
    height = 120 + 28 * rows["model"].nunique()
    return {"data": data, "layout": {
        "title": {"text": "Where the time goes: compiled floor + dispatch + rest (mean over trials)",
                  "font": {"size": 14}, "x": 0.01, "xanchor": "left"},
        "font": FONT, "barmode": "relative", "height": max(300, height), "hovermode": "closest",
        "margin": {"l": 60, "r": 10, "t": 40, "b": 50}, "plot_bgcolor": "#fbfbfd",
        "xaxis": {"domain": [0, 0.47], "title": {"text": "fit time, s"}}, "yaxis": {"automargin": True},
        "xaxis2": {"domain": [0.53, 1], "title": {"text": "single-row predict p50, us"}},
        "yaxis2": {"anchor": "x2", "showticklabels": False, "matches": "y"},
    }}  # fmt: skip
