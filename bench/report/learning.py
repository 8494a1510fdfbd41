"""Learning curves, time-to-accuracy (DAWNBench's metric) and "not converged" flags, from stored curves.

The rules (target, reached-and-held, censoring, orderings) live in
:mod:`hello_bench.analysis.time_to_accuracy`; this module lays them out.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Iterable, Sequence

import numpy as np
import pandas as pd

from hello_bench.analysis import stats, verdicts
from hello_bench.analysis import time_to_accuracy as tta
from hello_bench.analysis.pairing import IDENTITY
from hello_bench.record import role
from hello_bench.report.document import Doc
from hello_bench.report.tables import fmt


def fields() -> tuple[str, ...]:
    """What the section reads of each record (besides the frame): identity, final accuracy and fit time, the curve."""
    return ("dataset", "adapter", "split_seed", "init_seed", role("accuracy").column, role("fit").column, "curve",
            *IDENTITY)  # fmt: skip


def _values(curve: dict, key: str) -> np.ndarray:
    values = curve.get(key)
    return np.asarray([] if values is None else values, dtype=float)


def still_improving(curve: dict, window: int = 10, loss_tol: float = 0.01, acc_tol: float = 0.005) -> tuple[bool, bool]:
    """Whether a curve had not finished learning at its last epoch: (training loss still falling,
    held-out accuracy still rising).

    Compares the mean of the last ``window`` epochs with the mean of the
    ``window`` before them, so one noisy epoch does not decide: loss falling by
    more than ``loss_tol`` (relative), accuracy rising by more than ``acc_tol``
    (absolute).
    """
    loss = _values(curve, "loss")
    acc = _values(curve, "test_accuracy")
    window = min(window, len(loss) // 2)
    if window < 1:
        return False, False
    before, last = loss[-2 * window : -window].mean(), loss[-window:].mean()
    loss_falling = bool(before - last > loss_tol * max(abs(before), 1e-12))
    acc_rising = bool(len(acc) >= 2 * window and acc[-window:].mean() - acc[-2 * window : -window].mean() > acc_tol)
    return loss_falling, acc_rising


def targets(ok: pd.DataFrame, override: float | None) -> dict[str, float]:
    """Target accuracy per dataset (:func:`target_choices`, without the reasons)."""
    return {dataset: target for dataset, (target, _) in target_choices(ok, override).items()}


def target_choices(ok: pd.DataFrame, override: float | None) -> dict[str, tuple[float, str]]:
    """Per dataset: the target accuracy and how it was chosen, in words. The override; else a level set from the
    adapters' training accuracies (:func:`hello_bench.analysis.time_to_accuracy.relative_target`: no test row read);
    else, for records without training accuracy, the rule from the number of classes (no accuracy read)."""
    out = {}
    for dataset, g in ok.groupby("dataset"):
        classes = pd.to_numeric(g.get("n_classes"), errors="coerce").dropna() if "n_classes" in g else pd.Series()
        if override is not None:
            out[str(dataset)] = (override, f"target {override:g}, set with --target-accuracy")
            continue
        if not len(classes):
            continue
        k = int(classes.max())
        column = role("train-accuracy").column
        train = pd.to_numeric(g[column], errors="coerce") if column in g else pd.Series()
        medians = train.groupby(g["adapter"]).median().dropna() if len(train) else pd.Series()
        if len(medians):
            target, weakest = tta.relative_target(k, {str(a): float(v) for a, v in medians.items()})
            out[str(dataset)] = (target, f"target {fmt(target)}, {tta.TRAIN_SHARE:.0%} of the way from a uniform guess "
                                 f"(1/{k}) to the median training accuracy of `{weakest}` ({fmt(float(medians[weakest]))}), "
                                 "the adapter that fits its own training rows least well")  # fmt: skip
        else:
            target = tta.default_target(k)
            out[str(dataset)] = (target, f"target {fmt(target)}: an error at most {tta.TARGET_ERROR_SHARE:.0%} of a uniform "
                                 f"guess's among {k} classes (these records have no training accuracy)")  # fmt: skip
    return out


def time_to_target(record: dict, target: float) -> float:
    """Seconds of training until held-out accuracy reached ``target`` and held it to the end; inf if not."""
    return tta.time_to_target(record, target)


def split_identity(record: dict) -> tuple:
    """A record's split, as pairing sees it: the seed and every identity field it carries."""
    return (record.get("split_seed"), *(str(record.get(name)) for name in IDENTITY))


def split_times(records: Sequence[dict], target: float) -> dict[Hashable, float]:
    """One time to target per split (median over its init seeds; +inf: not reached)."""
    by_split: dict[Hashable, list[float]] = {}
    for r in records:
        by_split.setdefault(split_identity(r), []).append(time_to_target(r, target))
    return {k: tta.split_time(v) for k, v in by_split.items()}


def median_cell(times: Sequence[float]) -> str:
    """Median with its distribution-free 95% interval, censored splits (+inf) included."""
    if not len(times):
        return "-"
    med, low, high = stats.median_ci(times)
    if math.isinf(med):
        return "not reached (median split)"
    if math.isnan(low):
        return f"{fmt(med)} (too few splits for an interval)"
    return f"{fmt(med)} [{fmt(low)}, {fmt(high) if math.isfinite(high) else 'not reached'}]"


def _curves_by_model(records: Iterable[dict]) -> dict[tuple[str, str], list[tuple[np.ndarray, np.ndarray]]]:
    """(time, held-out accuracy) of every ok trial's curve, by (model, dataset); each as long as its shortest series."""
    found: dict[tuple[str, str], list[tuple[np.ndarray, np.ndarray]]] = {}
    for r in records:
        curve = (r.get("curve") if r.get("status") == "ok" else None) or {}
        t, loss, acc = (_values(curve, k) for k in ("train_time_s", "loss", "test_accuracy"))
        n = min(len(t), len(loss), len(acc))
        if n and r.get("dataset") is not None:
            found.setdefault((f"{r['adapter']} / {r['device']}", str(r["dataset"])), []).append((t[:n], acc[:n]))
    return found


def _padded(series: list[np.ndarray]) -> np.ndarray:
    """Curves as rows of one matrix, NaN past each curve's last epoch."""
    out = np.full((len(series), max(len(s) for s in series)), np.nan)
    for i, s in enumerate(series):
        out[i, : len(s)] = s
    return out


def curve_summary(records: Iterable[dict]) -> pd.DataFrame:
    """Median time and accuracy per epoch over splits, with the accuracy's interquartile range, per (model, dataset).

    One (model, dataset) at a time, as a matrix of its curves (one row per trial, NaN past its last epoch), never
    one long frame of every epoch of every curve (100,000 trials of 100 epochs would be ten million rows). An epoch
    appears where at least one curve reaches it; a missing value is skipped, as pandas' group medians do.
    """
    columns = ["model", "dataset", "epoch", "t_median", "acc_median", "acc_q1", "acc_q3"]
    parts = []
    for (model, dataset), curves in sorted(_curves_by_model(records).items()):
        t, acc = _padded([c[0] for c in curves]), _padded([c[1] for c in curves])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an epoch whose values are all missing: NaN, as pandas
            q1, med, q3 = np.nanquantile(acc, [0.25, 0.5, 0.75], axis=0)
            t_median = np.nanmedian(t, axis=0)
        epochs = np.arange(1, t.shape[1] + 1)
        parts.append(pd.DataFrame({"model": model, "dataset": dataset, "epoch": epochs, "t_median": t_median,
                                   "acc_median": med, "acc_q1": q1, "acc_q3": q3}))  # fmt: skip
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame()


RULE = (
    "Time to accuracy (DAWNBench's metric): training time until held-out accuracy reached the target **and held it to "
    "the end of training**; a split whose final model is below the target has not reached it, whatever it touched "
    "on the way (the MLPs measure accuracy after each of their epochs, the logistic regression once, after its single "
    "fit: both are judged on the model they end with, the same rule on a one-point curve). Held-out accuracy is on "
    "the split's test rows with the clock paused: it dates when the final level was reached, and chooses no epoch and "
    "no model. Splits that never reach it are censored (+inf): counted, never dropped, and the median is 'not "
    "reached' when the middle split never got there; the interval is distribution-free (order statistics)."
)


def _target_rule(override: float | None) -> str:
    if override is not None:
        return "The target is set with --target-accuracy:"
    return (
        "The target is stated relative to what the adapters reach on this data, from their **training rows only**: "
        f"{tta.TRAIN_SHARE:.0%} of the way from a uniform guess to the training accuracy of the adapter that fits its "
        "training rows least well, so every adapter can reach it and the bar is never chosen from the test rows it is "
        "scored on (set another with --target-accuracy):"
    )


def _by_key(records: list[dict], goals: dict[str, float]) -> dict[tuple, list[dict]]:
    by_key: dict[tuple, list[dict]] = {}
    for r in records:
        if r.get("status") == "ok" and r.get("dataset") in goals:
            by_key.setdefault((r["dataset"], r["adapter"], r["device"]), []).append(r)
    return by_key


def orderings(by_key: dict[tuple, list[dict]], goals: dict[str, float], pairs: Sequence[tuple[str, str]]) -> list[str]:
    """Per (dataset, device): the orderings a paired sign test with Holm supports, in words."""
    out = []
    for dataset, device in sorted({(d, dev) for d, _, dev in by_key}):
        times = {a: split_times(rs, goals[d]) for (d, a, dev), rs in by_key.items() if (d, dev) == (dataset, device)}
        found = tta.orderings(times, [(a, b) for a, b in pairs if a in times and b in times])
        out.append(f"{dataset} ({device}): {verdicts.ordering_summary(found)}")
    return out


def section(
    doc: Doc,
    ok: pd.DataFrame,
    records: list[dict],
    override: float | None,
    pairs: Sequence[tuple[str, str]] = (),
    unscaled: set[str] | None = None,
) -> dict[str, float]:
    """Time-to-accuracy and convergence tables; returns the targets (for the figure). ``unscaled``: the datasets
    known to have unstandardised features (where standardising is advice worth giving)."""
    chosen = target_choices(ok, override)
    goals = {dataset: target for dataset, (target, _) in chosen.items()}
    by_key = _by_key(records, goals)
    if not any(r.get("curve") for rs in by_key.values() for r in rs):
        return goals
    doc.heading("How fast each framework gets good")
    doc.para(f"{RULE} {_target_rule(override)}")
    doc.bullets([f"{dataset}: {how}" for dataset, (_, how) in sorted(chosen.items())])
    rows, flags, settled, rising = [], [], [], set()
    for (dataset, adapter, device), rs in sorted(by_key.items()):
        times = list(split_times(rs, goals[dataset]).values())
        curved = [r for r in rs if r.get("curve")]
        flags_of = [still_improving(r["curve"]) for r in curved]
        loss_falling, acc_rising = sum(f[0] for f in flags_of), sum(f[1] for f in flags_of)
        accs = [_values(r["curve"], "test_accuracy") for r in curved]
        epochs = [int(np.argmax(a)) + 1 for a in accs if len(a)]
        rows.append([dataset, adapter, device, fmt(goals[dataset]), f"{sum(map(math.isfinite, times))}/{len(times)}", median_cell(times),
                     fmt(float(np.median([r[role("accuracy").column] for r in rs]))), fmt(float(np.median(epochs))) if epochs else "-",
                     f"{loss_falling}/{len(curved)}" if curved else "-", f"{acc_rising}/{len(curved)}" if curved else "-"])  # fmt: skip
        if curved and acc_rising > len(curved) / 2:
            rising.add(dataset)
            flags.append(
                f"{adapter} on {dataset} ({device}): accuracy still rising at the last epoch in {acc_rising} of {len(curved)} splits"
            )
        elif curved and loss_falling > len(curved) / 2:
            settled.append(f"{adapter} on {dataset} ({device}): {loss_falling} of {len(curved)} splits")
    doc.table(["dataset", "adapter", "device", "target", "reached and held (splits)", "time to target s, median [95% CI]",
               "final accuracy (median)", "epoch of best held-out accuracy (median)", "loss still falling",
               "accuracy still rising"], rows, "time-to-accuracy")  # fmt: skip
    if pairs:
        doc.para("Which adapter gets there first, only where a paired test says so (the same pairs as the accuracy "
                 "comparisons; overlapping or separate intervals are not evidence of an order):")  # fmt: skip
        doc.bullets(orderings(by_key, goals, pairs))
    doc.para("Still falling / still rising: over the last 10 epochs compared with the 10 before, the training loss fell by "
             "more than 1%, or held-out accuracy rose by more than 0.005.")  # fmt: skip
    if flags:
        scale = " or standardised features (--preprocessing standard)" if rising & (unscaled or set()) else ""
        doc.para("**Not finished learning.** Held-out accuracy was still rising at the last epoch: these models stopped "
                 f"early for their settings, so their accuracy understates the model. More epochs, a larger learning "
                 f"rate{scale} would help.")  # fmt: skip
        doc.bullets(flags)
    if settled:
        doc.para("Training loss still falling, held-out accuracy settled: more epochs would lower the training loss, "
                 "but held-out accuracy had stopped improving (its best epoch is in the table) in:")  # fmt: skip
        doc.bullets(settled)
    return goals
