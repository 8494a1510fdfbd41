"""``bench run --until-precise PCT``: keep adding interleaved splits until the timing ratios are precise enough.

After the configured splits, the run's records are read back and every timing ratio's 95% interval is
measured (:mod:`bench.analysis.precision`): with environments (a duet), each environment against the
first, cell by cell; otherwise every adapter against the baseline adapter (``sklearn-lr`` where it
runs, else the first); a single adapter, its own geometric means. The metrics are those the gate
tests (every compared metric with a direction: fit time, first predict, latencies, throughputs), so
that ``bench compare --fail-above`` can decide on each of them. While the widest interval is wider than
PCT percent and the time budget allows, more splits run, interleaved like the first ones (new split
seeds after the last; the same rounds, order and controls). What happened is kept in ``run.json``
(``until_precise``: the target, the splits run, the widest interval, why it stopped).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from bench.analysis.precision import mean_width, ratio_width, splits_needed
from bench.run.config import MAX_SPLITS, Config

if TYPE_CHECKING:
    from bench.run.runner import RunResult
    from bench.store.writer import RunStore

#: The default time budget of --until-precise (seconds).
DEFAULT_MAX_TIME_S = 900.0


@dataclass
class Precision:
    """The widest timing interval of a run: its width, what it is, and over how many splits."""

    width: float
    what: str
    splits: int


def widest(records: list[dict], config: Config) -> Precision:
    """The widest 95% interval among the run's timing ratios (see the module docstring)."""
    from bench.analysis.load import tidy
    from bench.analysis.pairing import pair

    df = tidy(records)
    ok = df[df["status"] == "ok"]
    splits = int(ok["split_seed"].nunique()) if len(ok) else 0
    worst = Precision(math.inf if ok.empty else 0.0, "no ok trial yet", splits)
    keys = ["dataset", "adapter", "device"]
    comparisons: list[tuple[str, Any, Any]] = []
    if config.environments:
        first = config.environments[0].name
        base = ok[ok["environment"] == first]
        for spec in config.environments[1:]:
            comparisons.append((f"%{spec.name}/%{first}", base, ok[ok["environment"] == spec.name]))
    elif ok["adapter"].nunique() > 1:
        from bench.report.build import pick_baseline

        baseline = pick_baseline(ok, None)
        keys = ["dataset", "device"]
        for adapter in sorted(set(ok["adapter"]) - {baseline}):
            comparisons.append((f"{adapter}/{baseline}", ok[ok["adapter"] == baseline], ok[ok["adapter"] == adapter]))
    from bench.report.gating import gated_columns

    for metric, _ in gated_columns(ok, ok):
        if comparisons:
            for label, a, b in comparisons:
                for key, g in pair(a, b, keys, metric).groupby(keys, sort=True):
                    g = g[(g["a"] > 0) & (g["b"] > 0)]
                    width = ratio_width(g["a"].to_numpy(float), g["b"].to_numpy(float))
                    if width > worst.width or worst.what == "no ok trial yet":
                        worst = Precision(width, f"{'/'.join(map(str, key))} {label} {metric}", len(g))
        else:
            for key, g in ok.groupby(keys, sort=True):
                values = g[metric].dropna().to_numpy(float)
                width = mean_width(values)
                if width > worst.width or worst.what == "no ok trial yet":
                    worst = Precision(width, f"{'/'.join(map(str, key))} {metric}", len(values))
    return worst


def run_until_precise(
    config: Config, store: RunStore, target_pct: float, max_time_s: float, run_once: Any, say: Any = print
) -> RunResult:
    """Run ``config``, then more splits until the widest timing interval is under ``target_pct`` or time is up.

    ``run_once(config)`` runs a config into the store (the runner, with its executor and progress).
    """
    target = target_pct / 100
    start = time.monotonic()
    splits = config.splits
    while True:
        result = run_once(replace(config, splits=splits))
        precision = widest(store.folder.records(), config)
        elapsed = time.monotonic() - start
        if precision.width <= target:
            stopped = "precise"
            break
        want = splits_needed(max(precision.splits, 1), precision.width, target)
        per_split = elapsed / max(splits, 1)
        affordable = int((max_time_s - elapsed) / per_split) if per_split > 0 else 0
        more = min(want - precision.splits, affordable, MAX_SPLITS - splits)
        if more < 1:
            stopped = "time budget" if affordable < 1 else "split limit"
            break
        say(f"Until precise: the widest timing interval is {_pct(precision.width)} ({precision.what}, "
            f"{precision.splits} splits), wider than {target_pct:g}%: adding {more} split(s).")  # fmt: skip
        splits += more
    info = {**store.folder.info(), "until_precise": {"target_pct": target_pct, "max_time_s": max_time_s, "splits": splits,
            "widest_pct": None if not math.isfinite(precision.width) else precision.width * 100,
            "widest": precision.what, "stopped": stopped}}  # fmt: skip
    store.write_json("run.json", info)
    say(f"Until precise: {'reached' if stopped == 'precise' else 'stopped by the ' + stopped}: the widest timing "
        f"interval is {_pct(precision.width)} ({precision.what}) over {precision.splits} splits (target {target_pct:g}%).")  # fmt: skip
    return result


def _pct(width: float) -> str:
    return f"{width:.1%}" if math.isfinite(width) else "unbounded (too few pairs)"


def check_target(target_pct: float | None, max_time_s: float | None) -> None:
    from bench.errors import UserError

    if target_pct is not None and not (math.isfinite(target_pct) and 0 < target_pct < 1000):
        raise UserError(f"--until-precise must be a percentage in (0, 1000), e.g. 10. Got {target_pct}.")
    if max_time_s is not None and not (math.isfinite(max_time_s) and max_time_s > 0):
        raise UserError(f"--max-time must be a number of seconds > 0. Got {max_time_s}.")
    if max_time_s is not None and target_pct is None:
        raise UserError("--max-time needs --until-precise PCT (it bounds the splits added).")
