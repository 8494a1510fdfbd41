"""Learning curves, time-to-accuracy (DAWNBench's metric) and "not converged" flags, from stored curves.

Time to a target accuracy is the cumulative training time (evaluation
excluded) at the first epoch whose held-out accuracy reaches the target. A
split that never reaches it is *censored*: counted, never dropped, and the
median is "not reached" when more than half the splits never get there. A
non-iterative model (the logistic regression) is a single point: its fit
time, if its accuracy reaches the target.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bench.report.document import Doc
from bench.report.tables import fmt

#: Default target: this share of the best adapter's median final accuracy, per dataset.
TARGET_SHARE = 0.99


def still_improving(curve: dict, window: int = 10, loss_tol: float = 0.01, acc_tol: float = 0.005) -> tuple[bool, bool]:
    """Whether a curve had not finished learning at its last epoch: (training loss still falling,
    held-out accuracy still rising).

    Compares the mean of the last ``window`` epochs with the mean of the
    ``window`` before them, so one noisy epoch does not decide: loss falling by
    more than ``loss_tol`` (relative), accuracy rising by more than ``acc_tol``
    (absolute).
    """
    loss = np.asarray(curve.get("loss") or [], dtype=float)
    acc = np.asarray(curve.get("test_accuracy") or [], dtype=float)
    window = min(window, len(loss) // 2)
    if window < 1:
        return False, False
    before, last = loss[-2 * window : -window].mean(), loss[-window:].mean()
    loss_falling = bool(before - last > loss_tol * max(abs(before), 1e-12))
    acc_rising = bool(len(acc) >= 2 * window and acc[-window:].mean() - acc[-2 * window : -window].mean() > acc_tol)
    return loss_falling, acc_rising


def targets(ok: pd.DataFrame, override: float | None) -> dict[str, float]:
    """Target accuracy per dataset: the override, or 99% of the best adapter's median final accuracy."""
    out = {}
    for dataset, g in ok.groupby("dataset"):
        out[dataset] = (
            override if override is not None else TARGET_SHARE * float(g.groupby("adapter")["accuracy"].median().max())
        )
    return out


def time_to_target(record: dict, target: float) -> float:
    """Seconds of training until held-out accuracy first reaches ``target``; inf if never."""
    curve = record.get("curve")
    if curve and curve.get("test_accuracy"):
        for t, acc in zip(curve["train_time_s"], curve["test_accuracy"]):
            if acc >= target - 1e-12:
                return float(t)
        return math.inf
    return float(record["fit_wall_s"]) if record.get("accuracy", -1) >= target - 1e-12 else math.inf


def _median_time(times: list[float]) -> str:
    """Median with censored (inf) values included: 'not reached' when the median split never got there."""
    if not times:
        return "-"
    med = float(np.median(times))
    if math.isinf(med):
        return "not reached (median split)"
    finite = [t for t in times if math.isfinite(t)]
    q1, q3 = np.percentile(times, [25, 75])
    return (
        f"{fmt(med)} [{fmt(q1) if math.isfinite(q1) else '-'}, {fmt(q3) if math.isfinite(q3) else 'not reached'}]"
        if finite
        else "-"
    )


def curve_frame(records: list[dict]) -> pd.DataFrame:
    rows = []
    for r in records:
        curve = r.get("curve") if r.get("status") == "ok" else None
        if not curve:
            continue
        for epoch, (t, loss, acc) in enumerate(
            zip(curve["train_time_s"], curve["loss"], curve["test_accuracy"]), start=1
        ):
            rows.append({"model": f"{r['adapter']} / {r['device']}", "dataset": r["dataset"], "split_seed": r["split_seed"],
                         "init_seed": r["init_seed"], "epoch": epoch, "t": t, "loss": loss, "acc": acc})  # fmt: skip
    return pd.DataFrame(rows)


def curve_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Median time and accuracy per epoch over splits, with the accuracy's interquartile range."""
    if frame.empty:
        return frame
    return frame.groupby(["model", "dataset", "epoch"]).agg(
        t_median=("t", "median"), acc_median=("acc", "median"),
        acc_q1=("acc", lambda s: s.quantile(0.25)), acc_q3=("acc", lambda s: s.quantile(0.75)),
    ).reset_index()  # fmt: skip


def section(doc: Doc, ok: pd.DataFrame, records: list[dict], override: float | None) -> dict[str, float]:
    """Time-to-accuracy and convergence tables; returns the targets (for the figure)."""
    goals = targets(ok, override)
    by_key: dict[tuple, list[dict]] = {}
    for r in records:
        if r.get("status") == "ok" and r.get("dataset") in goals:
            by_key.setdefault((r["dataset"], r["adapter"], r["device"]), []).append(r)
    if not any(r.get("curve") for rs in by_key.values() for r in rs):
        return goals
    doc.heading("How fast each framework gets good")
    rule = (
        f"{override:g} (set with --target-accuracy)"
        if override is not None
        else f"{TARGET_SHARE:.0%} of the best adapter's median final accuracy on each dataset"
    )
    doc.para(
        f"Time to accuracy (DAWNBench's metric): training time until held-out accuracy first reaches the target, "
        f"{rule}. Held-out accuracy is measured after every epoch with the clock paused; this only measures *when* the "
        "target is reached and selects nothing (no early stopping, no best epoch). Splits that never reach it are "
        "censored: counted in 'reached', never dropped."
    )
    rows, flags, settled = [], [], []
    for (dataset, adapter, device), rs in sorted(by_key.items()):
        times = [time_to_target(r, goals[dataset]) for r in rs]
        curved = [r for r in rs if r.get("curve")]
        flags_of = [still_improving(r["curve"]) for r in curved]
        loss_falling, acc_rising = sum(f[0] for f in flags_of), sum(f[1] for f in flags_of)
        epochs = [
            r["curve"]["test_accuracy"].index(max(r["curve"]["test_accuracy"])) + 1
            for r in curved
            if r["curve"]["test_accuracy"]
        ]
        rows.append([dataset, adapter, device, fmt(goals[dataset]), f"{sum(map(math.isfinite, times))}/{len(times)}", _median_time(times),
                     fmt(float(np.median([r["accuracy"] for r in rs]))), fmt(float(np.median(epochs))) if epochs else "-",
                     f"{loss_falling}/{len(curved)}" if curved else "-", f"{acc_rising}/{len(curved)}" if curved else "-"])  # fmt: skip
        if curved and acc_rising > len(curved) / 2:
            flags.append(
                f"{adapter} on {dataset} ({device}): accuracy still rising at the last epoch in {acc_rising} of {len(curved)} splits"
            )
        elif curved and loss_falling > len(curved) / 2:
            settled.append(f"{adapter} on {dataset} ({device}): {loss_falling} of {len(curved)} splits")
    doc.table(["dataset", "adapter", "device", "target", "reached", "time to target s, median [IQR]", "final accuracy (median)",
               "epoch of best held-out accuracy (median)", "loss still falling", "accuracy still rising"], rows, "time-to-accuracy")  # fmt: skip
    doc.para("Still falling / still rising: over the last 10 epochs compared with the 10 before, the training loss fell by "
             "more than 1%, or held-out accuracy rose by more than 0.005.")  # fmt: skip
    if flags:
        doc.para("**Not finished learning.** Held-out accuracy was still rising at the last epoch: these models stopped "
                 "early for their settings, so their accuracy understates the model. More epochs, a larger learning rate "
                 "or standardised features would help.")  # fmt: skip
        doc.bullets(flags)
    if settled:
        doc.para("Training loss still falling, held-out accuracy settled: more epochs would lower the training loss, "
                 "but held-out accuracy had stopped improving (its best epoch is in the table) in:")  # fmt: skip
        doc.bullets(settled)
    return goals
