"""Where the time goes: each trial's time as the compiled floor, the framework's dispatch, and the rest.

For every trial of a model family that has a **reference floor** in the
frame (records with ``reference_floor``: the same model's arithmetic as
plain compiled loops), three parts of each measured time:

- **floor**: the floor's time for the same work: the floor trial on the same
  split (test rows), init seed, machine and training parameters;
- **dispatch**: the framework's cost per call above the floor's, times the
  calls: for ``fit``, ``n_steps`` x (``step_overhead_s`` - the floor's) plus
  ``n_epochs`` x (``epoch_overhead_s`` - the floor's); for one predict call
  (a single row, or the whole test set at once), ``predict_overhead_s`` -
  the floor's. Each per-call difference counts from 0 (a framework whose call
  costs less than the floor's has no dispatch to explain). Without a floor on
  the trial's split, the whole per-call cost (floor's unknown);
- **rest** = total - floor - dispatch: building and compiling the model,
  arithmetic slower than the floor's, anything per call the empty-call probe
  did not see. A negative rest says the parts over-explain the total (the
  probe's cost ran higher than in the trial): it is kept, and flagged by
  the report, never clipped.

The parts add up to the measured total on every trial (:func:`check_parts`).
The floor's own row is floor = total, dispatch = 0, rest = 0.

Matching parameters: every parameter of the floor (its class's defaults
filled in) must be equal in the trial's (its class's defaults filled in);
device, seed and backend are not parameters of the work. Nothing here names
an adapter.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from hello_bench.analysis import stats
from hello_bench.metrics import RATE
from hello_bench.record import metrics, role

#: The three timed quantities explained: (name, total column, unit scale to the column's unit, calls).
#: ``batch``: the whole test set in one call (its time from the throughput at that batch size).
QUANTITIES = ("fit", "predict", "batch")
PARTS = ("floor", "dispatch", "rest")
#: Columns of the frame each quantity's parts land in.
COLUMNS = {q: {p: f"{p}_{q}_{'s' if q == 'fit' else 'us'}" for p in PARTS} for q in QUANTITIES}
BATCH = "batch_predict_us"


def totals() -> dict[str, str]:
    """The column each quantity's total is read from: fit time, the single-row predict p50, one whole-test-set call."""
    return {"fit": role("fit").column, "predict": role("p50").column, "batch": BATCH}


def costs() -> tuple[str, str, str]:
    """The per-call cost columns: an empty step, an empty epoch, an empty predict call (adapters' empty_call_costs)."""
    return role("empty-step").column, role("empty-epoch").column, role("empty-predict").column


#: Where two trials did the same work on the same data.
MATCH = ("dataset", "machine", "test_rows_sha", "init_seed")
#: Parameters that say where and how reproducibly the work runs, not what it is.
NOT_WORK = ("device", "random_state", "backend")
#: Relative tolerance of the parts' sum against the total (float rounding only).
SUM_TOLERANCE = 1e-9


class PartsError(AssertionError):
    """Parts that do not add up to their total (a bug, never a measurement)."""


def _params(value: object) -> dict:
    if isinstance(value, dict):
        return value
    try:
        loaded = json.loads(value) if isinstance(value, str) else {}
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def effective_params(name: str, params: object) -> dict | None:
    """The work's parameters: the class's defaults overridden by the record's; None if the class does not load."""
    from hello_bench.adapters import adapter_class

    try:
        defaults = adapter_class(str(name))().get_params()
    except Exception:  # an adapter this process cannot load (a plugin not installed here): no match
        return None
    merged = {**defaults, **_params(params)}
    return {k: v for k, v in merged.items() if k not in NOT_WORK}


def _same_work(mine: dict | None, floor: dict | None) -> bool:
    """Every parameter of the floor is the trial's too, with the same value."""
    missing = object()
    return bool(mine is not None and floor and all(mine.get(k, missing) == v for k, v in floor.items()))


WORK = ("adapter_name", "params", "model")


def _work_keys(frame: pd.DataFrame, floors: pd.DataFrame) -> pd.Series:
    """Per row, the index of the floor configuration doing the same work (NaN: none)."""
    text = frame.reindex(columns=list(WORK)).astype(str)
    floor_combos = text[frame.index.isin(floors.index)].drop_duplicates().to_numpy()
    floor_params = [(model, effective_params(name, params)) for name, params, model in floor_combos]
    key: dict[tuple, float] = {}
    for name, params, model in text.drop_duplicates().to_numpy():
        mine = effective_params(name, params)
        matches = [i for i, (m, wanted) in enumerate(floor_params) if m == model and _same_work(mine, wanted)]
        key[(name, params, model)] = float(matches[0]) if matches else math.nan
    return pd.Series([key[tuple(r)] for r in text.to_numpy()], index=frame.index, dtype=float)


def _batch_us(frame: pd.DataFrame) -> pd.Series:
    """One predict call on the whole test set, in microseconds (from the throughput at that batch size)."""
    out = pd.Series(np.nan, index=frame.index)
    if "n_test" not in frame.columns:
        return out
    for n in pd.to_numeric(frame["n_test"], errors="coerce").dropna().unique():
        column = next(m for m in metrics() if m.keyed and m.kind == RATE).column_for(str(int(n)))
        if column in frame.columns:
            rows = frame["n_test"] == n
            out[rows] = int(n) / pd.to_numeric(frame.loc[rows, column], errors="coerce") * 1e6
    return out


def _is_floor(frame: pd.DataFrame) -> pd.Series:
    return (
        frame["reference_floor"].eq(True) if "reference_floor" in frame.columns else pd.Series(False, index=frame.index)
    )


def _numeric(frame: pd.DataFrame, column: str) -> pd.Series:
    return (
        pd.to_numeric(frame[column], errors="coerce")
        if column in frame.columns
        else pd.Series(np.nan, index=frame.index)
    )


def with_parts(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each quantity's floor, dispatch and rest columns (and ``batch_predict_us``, ``floor_ratio_fit``,
    ``dispatch_per_step_s``).

    The columns are added to ``frame`` itself, which is returned; frames without per-call costs and without a
    floor come back unchanged.
    """
    has_floor = bool(_is_floor(frame).any())
    step, epoch, call = costs()
    if not has_floor and not _numeric(frame, step).notna().any():
        return frame
    out = frame  # columns added in place: a copy of a 100,000-trial frame would double the read side's memory
    out[BATCH] = _batch_us(out)
    floor = _floor_values(out) if has_floor else pd.DataFrame(index=out.index)
    steps, epochs = _numeric(out, role("steps").column), _numeric(out, role("epochs").column)

    def above(own: str) -> pd.Series:
        """The trial's per-call cost above the floor's (from 0; the whole cost where there is no floor)."""
        theirs = floor[own] if own in floor.columns else pd.Series(np.nan, index=out.index)
        return (_numeric(out, own) - theirs.fillna(0.0)).clip(lower=0.0)

    out["dispatch_per_step_s"] = above(step)
    dispatch = {
        "fit": steps * out["dispatch_per_step_s"] + epochs.fillna(0.0) * above(epoch),
        "predict": above(call) * 1e6,
        "batch": above(call) * 1e6,
    }
    for q, column in totals().items():
        total, cols = _numeric(out, column), COLUMNS[q]
        out[cols["floor"]] = floor[column] if column in floor.columns else np.nan
        out[cols["dispatch"]] = dispatch[q]
        out[cols["rest"]] = total - out[cols["floor"]] - out[cols["dispatch"]]
    out["floor_ratio_fit"] = _numeric(out, totals()["fit"]) / out[COLUMNS["fit"]["floor"]]
    check_parts(out)
    return out


def _floor_values(frame: pd.DataFrame) -> pd.DataFrame:
    """For every row, the floor trial's totals and per-call costs on the same work (NaN where none)."""
    is_floor = _is_floor(frame)
    work = _work_keys(frame, frame[is_floor])
    values = [*totals().values(), *costs()]
    # The split's rows and the init seed must be known to match; an unknown machine is the run's one machine.
    where = frame.reindex(columns=list(MATCH)).assign(machine=lambda f: f["machine"].astype(object).fillna(""))
    floors = where[is_floor].assign(_work=work[is_floor], **{c: _numeric(frame, c)[is_floor] for c in values})
    floors = floors.dropna(subset=[*MATCH, "_work"])
    # Several records of one floor trial (runs read together): their mean.
    floors = floors.groupby([*MATCH, "_work"]).mean().reset_index()
    left = where.assign(_work=work, _row=np.arange(len(frame)))
    joined = left.merge(floors, on=[*MATCH, "_work"], how="left").sort_values("_row")
    return joined.drop(columns=[*MATCH, "_work", "_row"]).set_index(frame.index)


def check_parts(frame: pd.DataFrame) -> None:
    """Every trial's parts add up to its measured total (within float rounding); raises PartsError if not."""
    for q in QUANTITIES:
        cols = COLUMNS[q]
        if cols["rest"] not in frame.columns:
            continue
        total = _numeric(frame, totals()[q])
        parts = frame[cols["floor"]] + frame[cols["dispatch"]] + frame[cols["rest"]]
        known = total.notna() & parts.notna()
        error = ((parts - total).abs() / total.abs().clip(lower=1e-300))[known]
        if len(error) and float(error.max()) > SUM_TOLERANCE:
            raise PartsError(f"the parts of {totals()[q]} miss its total by up to {float(error.max()):.3g} of it")


KEYS = ["dataset", "adapter", "device"]


def summary(ok: pd.DataFrame) -> pd.DataFrame:
    """Per dataset, adapter, device and quantity, over the trials whose parts are known: the mean total and the
    mean parts (means add up as the parts do, medians would not), the trials, those with a negative rest and the
    lowest rest, the ratio of total to floor (geometric mean of per-trial ratios, 95% CI), and for fit the mean
    optimiser steps, epochs and the per-step cost above the floor's."""
    rows = []
    floor_flag = _is_floor(ok)
    for q in QUANTITIES:
        cols = COLUMNS[q]
        if cols["rest"] not in ok.columns:
            continue
        known = ok[_numeric(ok, cols["rest"]).notna()]
        for key, g in known.groupby(KEYS, sort=True):
            total = _numeric(g, totals()[q])
            rest = g[cols["rest"]].astype(float)
            ratio = stats.ratio_ci(g[cols["floor"]].astype(float).to_numpy(), total.to_numpy())
            row = dict(zip(KEYS, key), quantity=q, floor_adapter=bool(floor_flag[g.index].all()), trials=len(g),
                       total=total.mean(), floor=g[cols["floor"]].mean(), dispatch=g[cols["dispatch"]].mean(),
                       rest=rest.mean(), negative=int((rest < 0).sum()), lowest_rest=rest.min(), ratio=ratio)  # fmt: skip
            if q == "fit":
                steps = _numeric(g, role("steps").column)
                row.update(steps=steps.mean(), epochs=_numeric(g, role("epochs").column).mean(),
                           step_cost=_numeric(g, "dispatch_per_step_s").mean())  # fmt: skip
            rows.append(row)
    return pd.DataFrame(rows)
