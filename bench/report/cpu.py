"""Wall time beside CPU time, per timed call: which calls waited for the machine.

Every timed call also records its process CPU time (all threads; :mod:`hello_bench.measure.timing`). A
single-threaded call that had a core to itself takes about as much wall time as CPU time; one that
waited (another process had the core, or it waited for a device or for I/O) takes more wall time
than CPU time. A multi-threaded call takes more CPU time than wall time. So the ratio wall/CPU says
how far a timing was stretched by waiting, and a call whose wall time exceeds its CPU time by
:data:`BUSY_RATIO` or more is flagged: on a CPU that usually means the machine was busy, and its wall
time says more about the neighbours than about the code (its CPU time much less so).

The table (``wall-cpu``; in ``bench report --json`` too) gives, per dataset x adapter x device and
timed call, the median wall and CPU time over the trials, the median ratio with its range, and how
many trials were flagged. Where instructions were counted (``[timing] instructions = true``), a second
table (``instructions``) gives them: a count that no neighbour moves.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# BUSY_RATIO: wall time this many times the CPU time or more, the call waited (a busy machine, a device, I/O); the
# same rule the gate uses to decide a timed call on its CPU time.
from hello_bench.analysis.comparison import BUSY_RATIO
from hello_bench.metrics import RATE
from hello_bench.record import cpu_twins, metrics
from hello_bench.report.document import Doc
from hello_bench.report.tables import fmt

KEYS = ["dataset", "adapter", "device"]


def pairs(frame: pd.DataFrame) -> list[tuple[str, pd.Series, pd.Series, str]]:
    """(call, wall, CPU, unit) for every timed call the frame has both times of (the registry's CPU twins); rates
    as time per batch (the inverse of samples per second, so that a larger number is a longer call, as for the
    others)."""
    out = []
    for wall, cpu in cpu_twins():
        for column in wall.expand(frame.columns):
            key = wall.key_of(column) or ""
            twin = cpu.column_for(key)
            if twin not in frame.columns:
                continue
            if wall.kind == RATE:  # samples per second: one call on a batch of ``key`` rows, in microseconds
                batch = int(key)
                out.append((f"batch {batch}", batch / frame[column] * 1e6, batch / frame[twin] * 1e6, "us"))
            else:
                out.append((wall.label, frame[column], frame[twin], wall.unit))
    return out


def ratios(wall: pd.Series, cpu: pd.Series) -> np.ndarray:
    """wall / CPU per trial, where both are positive and finite."""
    w, c = wall.to_numpy(dtype=float), cpu.to_numpy(dtype=float)  # pragma: no mutate (numbers: float either way)
    keep = np.isfinite(w) & np.isfinite(c) & (w > 0) & (c > 0)
    return w[keep] / c[keep]


def rows(ok: pd.DataFrame) -> list[dict]:
    """One row per group and timed call: medians, the ratio's median and range, trials flagged busy."""
    out = []
    for key, g in ok.groupby(KEYS):
        for call, wall, cpu, unit in pairs(g):
            r = ratios(wall, cpu)
            if not len(r):
                continue
            out.append({**dict(zip(KEYS, key)), "call": call, "unit": unit, "wall": float(np.nanmedian(wall)),
                        "cpu": float(np.nanmedian(cpu)), "ratio": float(np.median(r)), "low": float(r.min()),
                        "high": float(r.max()), "busy": int(np.sum(r >= BUSY_RATIO)), "trials": int(len(r))})  # fmt: skip
    return out


def section(doc: Doc, ok: pd.DataFrame) -> list[dict]:
    """The wall/CPU table with its flags, and the instruction counts; returns the wall/CPU rows (nothing is added
    without CPU times)."""
    found = rows(ok)
    if not found:
        instructions(doc, ok)
        return found
    doc.heading("Wall time and CPU time", 3)
    busy = [r for r in found if r["busy"]]
    doc.para(f"Each timed call's wall time beside its process CPU time (all threads), median over the trials. Wall "
             f"time {BUSY_RATIO:g}x the CPU time or more is flagged: the call waited (on a CPU, usually for a core "
             "another process held: the machine was busy), so its wall time says more about the machine than about "
             "the code; its CPU time is the steadier signal. A ratio under 1 is a call that used several threads.")  # fmt: skip
    table = [[r["dataset"], r["adapter"], r["device"], r["call"], f"{fmt(r['wall'])} {r['unit']}",
              f"{fmt(r['cpu'])} {r['unit']}", f"{fmt(r['ratio'])} [{fmt(r['low'])}, {fmt(r['high'])}]",
              f"busy: {r['busy']}/{r['trials']}" if r["busy"] else ""] for r in found]  # fmt: skip
    doc.table(["dataset", "adapter", "device", "call", "wall (median)", "CPU (median)", "wall/CPU [range]", "flag"],
              table, "wall-cpu")  # fmt: skip
    if busy:
        worst = max(busy, key=lambda r: (r["busy"] / r["trials"], r["ratio"]))
        doc.para(f"{len(busy)} of {len(found)} timed calls waited in some trials (wall time at least {BUSY_RATIO:g}x "
                 f"the CPU time); the most: {worst['adapter']} {worst['call']}, {worst['busy']} of {worst['trials']} "
                 f"trials, median ratio {fmt(worst['ratio'])}.")  # fmt: skip
    instructions(doc, ok)
    return found


def instructions(doc: Doc, ok: pd.DataFrame) -> None:
    """The instructions counted under valgrind, per group (nothing is added where none were counted)."""
    columns = [(m.label, c) for m in metrics() if m.table == "instruction-counts" for c in m.expand(ok.columns)
               if ok[c].notna().any()]  # fmt: skip
    if not columns:
        return
    rows = [[*key, *(fmt(float(g[c].dropna().median())) if g[c].notna().any() else "-" for _, c in columns),
             int(g[columns[0][1]].notna().sum())] for key, g in ok.groupby(KEYS)]  # fmt: skip
    doc.para("Instructions counted under valgrind (cachegrind) on the first trial of each group: every user-space "
             "instruction of the operation, whatever else the machine was doing (`bench/measure/instructions.py` says "
             "what a count includes and how precise it is).")  # fmt: skip
    doc.table([*KEYS, *(label for label, _ in columns), "trials counted"], rows, "instruction-counts")
