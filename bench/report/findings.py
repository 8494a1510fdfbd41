"""The report's findings: its verdicts with their uncertainty, in a few lines, read from its own tables.

Every sentence here is assembled from the typed cells of tables the report
already holds (:func:`hello_bench.report.document.table_data`), so the findings
can never say more, or other, than the tables below them; a table that is
missing (no baseline comparison, no learning curves) gives no sentence.
"""

from __future__ import annotations

from typing import Any

from hello_bench.analysis.stats import ALPHA
from hello_bench.report.document import Doc, slug, table_data
from hello_bench.report.tables import fmt

CARE = "Measurements to read with care"


def tables(doc: Doc) -> dict[str, dict]:
    return {b[1].name: table_data(b[1]) for b in doc.blocks if b[0] == "table" and b[1].name}


def _bracket(table: dict, prefix: str) -> str:
    """What a column's interval is, from its label: 'time to target s, median [IQR]' -> 'IQR'."""
    label = next((c["label"] for c in table.get("columns", []) if c["key"].startswith(prefix)), "")
    return label.rsplit("[", 1)[1].rstrip("]") if "[" in label else "interval"


def _get(row: dict, prefix: str) -> Any:
    """The first cell whose key starts with ``prefix`` ('reached' finds 'reached' and 'reached_and_held')."""
    return next((v for k, v in row.items() if k.startswith(prefix)), None)


def _p(value: Any) -> float:
    """A p-value cell: its number, 0 for '< 0.001', 1 where there is none (no test: nothing significant)."""
    if isinstance(value, (int, float)):
        return float(value)
    return 0.0 if isinstance(value, str) and value.startswith("<") else 1.0


def _num(value: Any) -> float | None:
    value = value.get("value") if isinstance(value, dict) else value
    return float(value) if isinstance(value, (int, float)) else None


def _interval(value: Any, signed: bool = False, unit: str = "") -> str:
    """'+0.004 [-0.050, +0.058]' from a typed cell."""
    if not isinstance(value, dict) or value.get("value") is None:
        return "-"
    spec = "+.3f" if signed else ".3g"
    # a typed cell: {"value", "interval": [low, high], "level"} (older cells spelled "low" and "high")
    low, high = value.get("interval") or (value.get("low"), value.get("high"))
    if low is None or high is None:
        return f"{value['value']:{spec}}{unit}"
    return f"{value['value']:{spec}}{unit} [{low:{spec}}, {high:{spec}}]"


def accuracy(rows: list[dict], baseline: str) -> str | None:
    if not rows:
        return None
    significant = [r for r in rows if _p(r.get("p_holm")) < ALPHA]  # the adjusted p-value the verdicts use
    detectable = [d for d in (_num(_get(r, "detectable")) for r in rows) if d is not None]
    text = f"**Accuracy** against `{baseline}` (paired over the same splits, corrected 95% CI, Holm-adjusted): "
    if significant:
        listed = "; ".join(
            f"`{r['adapter']}` {_interval(r.get('accuracy_difference'), True)} ({r.get('verdict')})"
            for r in significant
        )
        text += f"{len(significant)} of {len(rows)} differences are significant: {listed}."
    elif all(_same_on_every_split(r) for r in rows):  # nothing to test: say what the numbers are
        text += f"identical on every split ({len(rows)} comparison(s): every difference exactly 0)."
        return text
    else:
        text += f"none of the {len(rows)} differences is significant"
        text += (
            f" (a difference had to be {fmt(min(detectable))}-{fmt(max(detectable))} to be detected 80% of the time)."
            if detectable
            else "."
        )
        text += " *Not significant* means these splits cannot tell them apart, not that they are equal."
    return text


def _same_on_every_split(row: dict) -> bool:
    """The same accuracy on every split (a difference of exactly 0, nothing to test): the row's verdict says so."""
    return str(row.get("verdict", "")).startswith("identical on every split")


def _extremes(rows: list[dict], metric: str) -> tuple[dict, dict] | None:
    chosen = [r for r in rows if r.get("metric") == metric and _num(r.get("ratio_to_baseline")) is not None]
    if not chosen:
        return None
    chosen.sort(key=lambda r: _num(r["ratio_to_baseline"]) or 0.0)
    return chosen[0], chosen[-1]


def ratios(rows: list[dict], baseline: str) -> str | None:
    parts = []
    for metric in ("fit time", "predict p50"):
        ends = _extremes(rows, metric)
        if ends is None:
            continue
        low, high = ends

        def one(r: dict) -> str:
            return f"{_interval(r['ratio_to_baseline'], unit='x')} (`{r['adapter']}`, {r.get('verdict')})"

        # one adapter against the baseline has one ratio, not a range from it to itself
        parts.append(f"{metric} {one(low)}" if low is high else f"{metric} from {one(low)} to {one(high)}")
    return (
        f"**Time** relative to `{baseline}` (geometric mean of per-split ratios, 95% CI): " + "; ".join(parts) + "."
        if parts
        else None
    )


def time_to_accuracy(table: dict) -> str | None:
    rows = table.get("rows", [])
    timed = [r for r in rows if _num(_get(r, "time_to_target")) is not None]
    if not timed:
        return None
    timed.sort(key=lambda r: _num(_get(r, "time_to_target")) or 0.0)
    best, worst = timed[0], timed[-1]
    target = _num(best.get("target"))
    return (
        f"**Time to {fmt(target)} accuracy** (median over splits [{_bracket(table, 'time_to_target')}], censored splits counted): fastest `{best['adapter']}` "
        f"{_interval(_get(best, 'time_to_target'), unit=' s')} (reached {_get(best, 'reached')}), slowest `{worst['adapter']}` "
        f"{_interval(_get(worst, 'time_to_target'), unit=' s')} (reached {_get(worst, 'reached')})."
    )


def add(doc: Doc, baseline: str) -> None:
    """Set the doc's findings from its tables (a few lines; nothing when the tables are absent)."""
    held = tables(doc)
    items = [
        accuracy(held.get("significance", {}).get("rows", []), baseline),
        ratios(held.get("ratios", {}).get("rows", []), baseline),
        time_to_accuracy(held.get("time-to-accuracy", {})),
    ]
    if any(b[0] == "h" and b[2] == CARE for b in doc.blocks):
        items.append(f"Some timings are flagged: see [{CARE.lower()}](#{slug(CARE)}).")
    doc.findings([i for i in items if i])
