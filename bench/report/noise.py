"""The report's noise sections: each run's controls and noise floor, order effects, and a short "read with care" list.

Numbers come from :mod:`hello_bench.analysis.noise` and :mod:`hello_bench.analysis.order_effects`; this module
only reads run folders and frames and lays the tables out.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from hello_bench.analysis import noise, stats
from hello_bench.analysis.order_effects import OrderEffect, order_effect
from hello_bench.measure.noise import CONTROL_KEYS
from hello_bench.measure.timing import DRIFT_LIMIT
from hello_bench.record import headline_durations, role
from hello_bench.report.document import Doc
from hello_bench.report.tables import fmt, fmt_p
from hello_bench.store.reader import RunFolder


def _threads(folder: RunFolder) -> int:
    threads = folder.config().get("threads", 1)
    return int(threads) if isinstance(threads, int) and not isinstance(threads, bool) else 1


def run_floor(path: Path, host: str | None = None) -> noise.Floor:
    """A run's noise floor from its per-round controls (one host's, when named)."""
    folder = RunFolder(path)
    rounds = [r for r in folder.control().get("rounds", []) if isinstance(r, dict) and r.get("host") == host]
    return noise.run_floor(rounds, _threads(folder))


def speed_indices(path: Path, host: str | None = None) -> list[float]:
    """Every control of a run (rounds, or before and after when it has none), as speed indices."""
    folder = RunFolder(path)
    stored = folder.control()
    entries = [r for r in stored.get("rounds", []) if isinstance(r, dict) and r.get("host") == host]
    if not entries and host is None:
        entries = [stored[w] for w in ("before", "after") if isinstance(stored.get(w), dict)]
    if not entries and host is None and isinstance(folder.environment().get("control"), dict):
        entries = [folder.environment()["control"]]
    threads = _threads(folder)
    return [noise.speed_index(e, threads) for e in entries]


def controls(doc: Doc, path: Path) -> noise.Floor:
    """The run's controls: before, after and over its rounds, with the noise floor and the machine's CPU shares."""
    folder = RunFolder(path)
    stored = folder.control()
    rounds = [r for r in stored.get("rounds", []) if isinstance(r, dict) and r.get("host") is None]
    threads = _threads(folder)
    floor = noise.run_floor(rounds, threads)
    rows = []
    for key, label in CONTROL_KEYS.items():
        values = [r.get(key) for r in rounds]
        f = noise.floor_of([v for v in values if isinstance(v, (int, float))])
        before, after = (stored.get(w, {}) if isinstance(stored.get(w), dict) else {} for w in ("before", "after"))
        if f.n == 0 and before.get(key) is None:
            continue
        rows.append([label, fmt(before.get(key)), fmt(after.get(key)), f.n, fmt(f.median),
                     f"{fmt(f.low)} - {fmt(f.high)}" if f.n else "-", _pct(f.floor)])  # fmt: skip
    legacy = [w for w in ("before", "after") if isinstance(stored.get(w), dict) and "python_loop_200k_ms" in stored[w]]
    if legacy and not rows:
        _legacy_controls(doc, stored, legacy)
        return floor
    if not rows:
        return floor
    doc.para(
        "Control measurement (raw machine speed, ms per unit, each workload timed over "
        f"{fmt(rounds[0].get('span_s', 0.25) if rounds else 0.25)} s so that throttling and neighbours' bursts show): in "
        "a fresh worker at the trials' thread count before the run, before every round and after the run. The noise "
        "floor is exp(2 sd) - 1 of a control's log values over the rounds: the machine's own movement; an effect "
        "smaller than the floor of the speed index (below) is said to be within it."
    )
    doc.table(
        ["control", "before", "after", "rounds", "rounds median", "rounds min - max", "noise floor"], rows, "control"
    )
    shares: list[dict] = [r["cpu_since_last"] for r in rounds if isinstance(r.get("cpu_since_last"), dict)]
    busy = [s["busy"] for s in shares if isinstance(s.get("busy"), (int, float))]
    steal = [s["steal"] for s in shares if isinstance(s.get("steal"), (int, float))]
    sentence = (
        f"Speed index ({'Python loop and one-thread matmul, geometric mean' if threads <= 1 else 'multi-threaded matmul'}) "
        f"over {floor.n} rounds: median {fmt(floor.median)} ms, slowest/fastest {_pct(floor.range)}, **noise floor "
        f"{_pct(floor.floor)}**."
        if floor.n
        else "No per-round controls in this run (older runs, or groups run one after another): no noise floor."
    )
    if busy:
        cores = shares[0].get("cores") or "?"
        sentence += (f" Machine-wide CPU (all processes, {cores} cores, from /proc/stat, per round): busy median "
                     f"{_pct(float(pd.Series(busy).median()))}, max {_pct(max(busy))}; steal max {_pct(max(steal) if steal else math.nan)}.")  # fmt: skip
    doc.para(sentence)
    return floor


def _legacy_controls(doc: Doc, stored: dict, legacy: list[str]) -> None:
    """Runs made before the long-span control: its short version, before and after, as those runs reported it."""
    doc.para("Control measurement (raw machine speed, in a fresh worker at the trials' thread count; a change between "
             "before and after means the machine's speed drifted during the run; this older run measured a short "
             "control, too short to see a CPU quota, and no per-round controls: no noise floor):")  # fmt: skip
    rows = [[w, stored[w].get("threads", "?"), fmt(stored[w].get("numpy_matmul_256_ms")),
             fmt(stored[w].get("python_loop_200k_ms")), fmt(stored[w].get(role("load").column))] for w in legacy]  # fmt: skip
    doc.table(
        ["when", "threads", "numpy 256x256 matmul ms", "Python 200k-add loop ms", "load average"], rows, "control"
    )


def _pct(x: float) -> str:
    return (
        "-" if not isinstance(x, (int, float)) or not math.isfinite(x) else f"{x:.1%}" if abs(x) < 0.1 else f"{x:.0%}"
    )


# -- order effects -------------------------------------------------------------------------------


def within_round(ok: pd.DataFrame) -> pd.DataFrame:
    """Trials with a recorded position, with their rank within their round (0 = first) and a round id."""
    if "position" not in ok.columns:
        return ok.iloc[:0]
    df = ok[pd.to_numeric(ok["position"], errors="coerce").notna()].copy()
    if df.empty:
        return df
    machine = df["machine"] if "machine" in df.columns else pd.Series("", index=df.index)
    df["round_id"] = list(zip(df["run_id"].astype(str), df["dataset"].astype(str), df["split_seed"].astype(str),
                              df["init_seed"].astype(str), machine.astype(str)))  # fmt: skip
    df["in_round"] = df.groupby("round_id")["position"].rank(method="first").astype(int) - 1
    env = df["environment"].astype(str) if "environment" in df.columns else ""
    df["unit"] = df["adapter"].astype(str) + "|" + df["device"].astype(str) + "|" + env
    return df


@dataclass
class Orders:
    effects: dict[str, OrderEffect] = field(default_factory=dict)
    p_holm: dict[str, float] = field(default_factory=dict)

    def findings(self) -> list[str]:
        return [f"{label}: {fmt(e.ratio)}x per position later in the round [{fmt(e.low)}, {fmt(e.high)}], p (Holm) = "
                f"{fmt_p(self.p_holm[label])}" for label, e in self.effects.items()
                if self.p_holm.get(label, 1.0) < stats.ALPHA]  # fmt: skip


def order_effects(ok: pd.DataFrame) -> Orders:
    df = within_round(ok)
    out = Orders()
    if df.empty or df["in_round"].max() < 1:
        return out
    for metric in headline_durations():
        column, label = metric.column, metric.label
        if column in df.columns:
            values = pd.to_numeric(df[column], errors="coerce").tolist()
            out.effects[label] = order_effect(
                df["unit"].tolist(), df["round_id"].tolist(), df["in_round"].tolist(), values
            )
    tested = [label for label, e in out.effects.items() if e.tested]
    out.p_holm = dict(zip(tested, stats.holm([out.effects[label].p for label in tested])))
    return out


def order_section(doc: Doc, ok: pd.DataFrame) -> Orders:
    """The order-effects table: change per position within a round, Holm over the metrics tested."""
    orders = order_effects(ok)
    if not orders.effects:
        return orders
    doc.heading("Order within a round", 3)
    seeds = (
        sorted({int(s) for s in pd.to_numeric(ok.get("order_seed"), errors="coerce").dropna()})
        if "order_seed" in ok.columns
        else []
    )
    if not seeds:  # records from before the seeded order: every round ran in the same order
        doc.para("These records predate the seeded random order: the adapters ran in the same order in every round, "
                 "so an order effect cannot be told apart from the adapter's own. Not tested.")  # fmt: skip
        return Orders()
    doc.para(
        "The adapters of each round ran in a seeded random order (`order_seed`"
        + (f" {', '.join(map(str, seeds))}" if seeds else "")
        + ", recorded with every trial), so running first cannot favour one adapter on average. Change of the log "
        "time per position within the round (0 = first), with group and round effects taken out (least squares); "
        f"Holm over the {len(orders.p_holm)} metric(s) tested."
    )
    rows = []
    for label, e in orders.effects.items():
        shape = ", ".join(f"{p}: {fmt(r)}x ({n})" for p, (r, n) in sorted(e.by_position.items()))
        rows.append([label, f"{fmt(e.ratio)}x [{fmt(e.low)}, {fmt(e.high)}]" if e.tested else "-", e.n,
                     fmt_p(e.p) if e.tested else "-", fmt_p(orders.p_holm.get(label, math.nan)) if e.tested else "-",
                     "order effect" if orders.p_holm.get(label, 1.0) < stats.ALPHA else "none detected", shape])  # fmt: skip
    doc.table(["metric", "per position [95% CI]", "trials", "p", "p (Holm)", "verdict",
               "mean residual by position (trials)"], rows, "order")  # fmt: skip
    return orders


# -- read with care: grouped, counted, ranked ------------------------------------------------------


@dataclass(frozen=True)
class Caution:
    what: str
    count: int
    examples: list[str]

    def line(self) -> str:
        shown = f" ({'; '.join(self.examples[:3])}{'; ...' if len(self.examples) > 3 else ''})" if self.examples else ""
        return f"**{self.what}**: {self.count}{shown}"


def _by_adapter(rows: pd.DataFrame) -> list[str]:
    counts = Counter(rows["adapter"].astype(str))
    return [f"{a} {n}" for a, n in counts.most_common()]


def _attempts(ok: pd.DataFrame) -> pd.Series:
    """Earlier latency attempts per re-measured trial (the frame keeps the list as JSON text), indexed like ``ok``."""
    if "latency_attempts" not in ok.columns:
        return pd.Series(dtype=int)
    kept = ok["latency_attempts"].dropna()
    counts = kept.map(lambda v: len(json.loads(v) if isinstance(v, str) else v))
    return counts[counts > 0]


def cautions(ok: pd.DataFrame, noisy: list[tuple[str, str, float]], floors: dict[str, noise.Floor],
             orders: Orders) -> list[Caution]:  # fmt: skip
    """Everything that says a timing may be off, one line per kind, counted and ranked (most trials first)."""
    out: list[Caution] = []
    column = role("drift").column
    drift = pd.to_numeric(ok[column], errors="coerce") if column in ok.columns else pd.Series(dtype=float)
    drifting = ok[(drift - 1).abs() > DRIFT_LIMIT] if len(drift) else ok.iloc[:0]
    attempts = _attempts(ok)
    if len(drifting):
        out.append(Caution(f"trials whose latency still drifted by more than {DRIFT_LIMIT:.0%} within the measurement "
                           "(last third of calls vs first)", len(drifting), _by_adapter(drifting)))  # fmt: skip
    if len(attempts):
        remeasured = ok.loc[attempts.index]
        out.append(Caution(f"trials whose latency drifted and was measured again ({int(attempts.sum())} earlier "
                           "attempt(s) kept in their records)", len(remeasured), _by_adapter(remeasured)))  # fmt: skip
    if noisy:
        cases = [f"{where}: {what} by {cv:.0%} across trials" for what, where, cv in noisy]
        out.append(
            Caution("groups whose time varies by more than 10% across trials (pyperf's threshold)", len(cases), cases)
        )
    gc_column = role("gc-latency").column
    if gc_column in ok.columns and (ok[gc_column].fillna(0) > 0).any():
        gc = ok[ok[gc_column].fillna(0) > 0]
        out.append(Caution("trials with garbage collections inside the latency loop", len(gc), _by_adapter(gc)))
    moved = {run: f for run, f in floors.items() if f.drifted}
    if moved:
        out.append(Caution(f"runs whose raw speed moved by more than {noise.DRIFT_RANGE:.0%} between control rounds",
                           len(moved), [f"{run}: slowest/fastest round {_pct(f.range)}, floor {_pct(f.floor)}"
                                        for run, f in moved.items()]))  # fmt: skip
    found = orders.findings()
    if found:
        out.append(Caution("metrics with an order effect within rounds", len(found), found))
    return sorted(out, key=lambda c: -c.count)


def read_with_care(doc: Doc, items: list[Caution]) -> None:
    if not items:
        return
    doc.heading("Measurements to read with care")
    doc.para("Grouped by kind and ranked by how many they concern. Advice: close other programs, keep `threads` at or "
             "below the physical cores, raise the timing budgets, or run more splits (`bench run --until-precise`).")  # fmt: skip
    doc.bullets([c.line() for c in items])
