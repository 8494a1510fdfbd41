"""``bench run --until-precise PCT``: add interleaved splits until the gate decides (a duet), or until the
gated timing ratios are narrow (a run of one environment).

**A duet** (``--env``, two or more environments): a sequential gate. After each round of splits the run's
records are read back and every environment is compared with the first exactly as ``bench compare
RUN%first RUN%other --fail-above PCT`` would compare them (:func:`hello_bench.analysis.comparison.build`), at
look ``k``'s level ``alpha / (k (k + 1))`` (:func:`hello_bench.analysis.policy.spent`): the levels of all looks
sum to alpha, so stopping at the first decision keeps the false-alarm and false-pass rates at most alpha
however many looks are taken. It stops at PASS or FAIL; at the time budget (``--max-time``, 300 s by
default) it stops INCONCLUSIVE and says how many more splits would decide if the spread holds. What
happened is kept in ``run.json`` (``until_precise``: looks, outcome, the line, why it stopped), where
``bench compare`` finds the look it must test at.

**One environment**: the widest 95% interval among the timing ratios the gate would test (the gated-by-
default durations and rates of each adapter against the run's baseline adapter, or its own geometric
means for a single adapter) is narrowed to PCT percent, as before.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from hello_bench.analysis import gate
from hello_bench.analysis.precision import mean_width, ratio_width, splits_for_decision, splits_needed
from hello_bench.run.config import MAX_SPLITS, Config

if TYPE_CHECKING:
    from hello_bench.run.runner import RunResult
    from hello_bench.store.writer import RunStore

#: The default time budget of --until-precise (seconds): five CI minutes.
DEFAULT_MAX_TIME_S = 300.0
KEYS = ["dataset", "adapter", "device"]


@dataclass
class Precision:
    """The widest timing interval of a run: its width, what it is, and over how many splits."""

    width: float
    what: str
    splits: int


def _timing_columns(frame: Any) -> list[str]:
    """The columns the gate tests by default among the machine-dependent ratios (times, rates)."""
    from hello_bench.record import metrics

    return [c for m in metrics() if m.gated and m.normalisable for c in m.expand(frame.columns)]


def widest(records: list[dict], config: Config) -> Precision:
    """The widest 95% interval among the run's gated timing ratios (see the module docstring)."""
    from hello_bench.analysis.load import tidy
    from hello_bench.analysis.pairing import pair

    df = tidy(records)
    ok = df[df["status"] == "ok"]
    splits = int(ok["split_seed"].nunique()) if len(ok) else 0
    worst = Precision(math.inf if ok.empty else 0.0, "no ok trial yet", splits)
    comparisons: list[tuple[str, Any, Any]] = []
    keys = KEYS
    if ok["adapter"].nunique() > 1:
        baseline = _baseline(ok, config)
        keys = ["dataset", "device"]
        for adapter in sorted(set(ok["adapter"]) - {baseline}):
            comparisons.append((f"{adapter}/{baseline}", ok[ok["adapter"] == baseline], ok[ok["adapter"] == adapter]))
    for metric in _timing_columns(ok):
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


def _baseline(ok: Any, config: Config) -> str:
    """The run's baseline adapter: the first its config lists that has records (the report's default)."""
    present = set(ok["adapter"])
    listed = [a.label for a in config.adapters if a.label in present]
    return listed[0] if listed else sorted(present)[0]


# -- a duet: the sequential gate ------------------------------------------------------------------------------
@dataclass
class Look:
    """One look of the sequential gate: its number, each environment's verdict against the first, and the splits."""

    number: int
    verdicts: list[tuple[str, gate.Verdict]]
    splits: int

    @property
    def outcome(self) -> str:
        outcomes = {v.outcome for _, v in self.verdicts}
        return next((o for o in (gate.FAIL, gate.INCONCLUSIVE, gate.PASS) if o in outcomes), gate.INCONCLUSIVE)

    def line(self) -> str:
        if len(self.verdicts) == 1:
            return gate.line(self.verdicts[0][1])
        return " | ".join(f"{name}: {gate.line(v)}" for name, v in self.verdicts)

    def can_improve(self) -> bool:
        """Whether more splits could decide: only when every reason is statistical (too few pairs, an interval)."""
        statistical = {gate.TOO_FEW, gate.ACROSS, gate.BEYOND}
        return all(set(v.reasons) <= statistical for _, v in self.verdicts if v.outcome == gate.INCONCLUSIVE)


def look(records: list[dict], config: Config, policy: Any, number: int) -> Look:
    """Every environment against the first, as ``bench compare RUN%first RUN%other`` compares them, at look ``number``."""
    from hello_bench.analysis.comparison import DUET, Context, build
    from hello_bench.analysis.load import tidy

    df = tidy(records)
    first = config.environments[0].name
    base = df[df["environment"] == first]
    found = []
    for spec in config.environments[1:]:
        c = build(base, df[df["environment"] == spec.name], KEYS, policy.at_look(number), Context(DUET))
        assert c.verdict is not None
        found.append((f"%{first} vs %{spec.name}", c.verdict))
    splits = int(df[df["status"] == "ok"]["split_seed"].nunique()) if len(df) else 0
    return Look(number, found, splits)


def more_splits(found: Look, policy: Any) -> int:
    """Splits that would let the next look decide every undecided metric, if the spread holds (plug-in); 0: unknown."""
    level = policy.at_look(found.number + 1).level
    needed = 0
    for _, v in found.verdicts:
        for j in v.undecided:
            n = splits_for_decision(j.tested, level)
            if n is None:
                return 0
            needed = max(needed, n)
    return max(needed - found.splits, 0)


def first_look_splits(config: Config, policy: Any) -> int:
    """The splits of a sequential gate's first look. An unchanged, deterministic metric (accuracy) is decided by an
    exact sign test: n splits all below the threshold give p = 2^-n, which must beat the first look's level; fewer
    splits would waste the first look."""
    return max(config.splits, math.ceil(math.log2(1 / policy.at_look(1).level)))


def first_look_trials(config: Config, target_pct: float) -> int:
    """The trials of the first round of ``--until-precise`` (a duet's first look may take more splits than asked)."""
    if len(config.environments) < 2:
        return config.n_trials()
    from hello_bench.analysis.policy import GatePolicy

    splits = first_look_splits(config, GatePolicy.from_options(fail_above=target_pct))
    return replace(config, splits=splits).n_trials()


def run_until_decided(
    config: Config, store: RunStore, policy: Any, max_time_s: float, run_once: Any, say: Any
) -> tuple[RunResult, dict]:
    """The sequential gate of a duet (see the module docstring); returns the last run's result and what happened."""
    start = time.monotonic()
    splits, number = first_look_splits(config, policy), 0
    while True:
        result = run_once(replace(config, splits=splits))
        number += 1
        found = look(store.folder.records(), config, policy, number)
        elapsed = time.monotonic() - start
        if found.outcome != gate.INCONCLUSIVE or not found.can_improve():
            stopped = "decided" if found.outcome != gate.INCONCLUSIVE else "cannot decide"
            break
        want = more_splits(found, policy)
        per_split = elapsed / max(splits, 1)
        affordable = int((max_time_s - elapsed) / per_split) if per_split > 0 else 0
        more = min(max(want, config.splits), affordable, MAX_SPLITS - splits)
        if more < 1:
            stopped = "time budget" if affordable < 1 else "split limit"
            break
        say(f"Until decided: look {number} at alpha {policy.at_look(number).level:.3g} over {found.splits} splits is "
            f"INCONCLUSIVE ({_reasons(found)}): adding {more} split(s).")  # fmt: skip
        splits += more
    want = more_splits(found, policy) if found.outcome == gate.INCONCLUSIVE and found.can_improve() else 0
    per_split = (time.monotonic() - start) / max(splits, 1)
    info = {"target_pct": policy.fail_above, "max_time_s": max_time_s, "splits": splits, "looks": number,
            "level": policy.at_look(number).level, "outcome": found.outcome, "line": found.line(), "stopped": stopped,
            "more_splits": want or None, "more_seconds": round(want * per_split, 1) if want else None,
            "seconds": round(time.monotonic() - start, 1)}  # fmt: skip
    store.write_json("run.json", {**store.folder.info(), "until_precise": info})
    say(decision_text(info))
    return result, info


def _reasons(found: Look) -> str:
    reasons = sorted({r for _, v in found.verdicts for r in v.reasons})
    return ", ".join(reasons) or "undecided"


def decision_text(info: dict) -> str:
    """What the sequential gate concluded, in one line."""
    head = (f"Until decided: {info['outcome']} at look {info['looks']} (alpha {info['level']:.3g}) after "
            f"{info['splits']} splits, {info['seconds']:g} s: {info['line']}")  # fmt: skip
    if info["outcome"] != gate.INCONCLUSIVE:
        return head
    if info["more_splits"]:
        return head + (f". Stopped by the {info['stopped']}; about {info['more_splits']} more split(s) "
                       f"(~{info['more_seconds']:g} s) would decide if the spread holds: raise --max-time.")  # fmt: skip
    return head + f". Stopped: {info['stopped']} (more splits would not decide: see the reasons)."


# -- one environment: until narrow ---------------------------------------------------------------------------
def run_until_precise(
    config: Config, store: RunStore, target_pct: float, max_time_s: float, run_once: Any, say: Any = print
) -> RunResult:
    """Run ``config``, then more splits until decided (a duet) or the widest gated timing interval is under
    ``target_pct`` (one environment), or time is up. ``run_once(config)`` runs a config into the store."""
    if len(config.environments) >= 2:
        from hello_bench.analysis.policy import GatePolicy

        policy = GatePolicy.from_options(fail_above=target_pct)
        return run_until_decided(config, store, policy, max_time_s, run_once, say)[0]
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
    from hello_bench.errors import UserError

    if target_pct is not None and not (math.isfinite(target_pct) and 0 < target_pct < 1000):
        raise UserError(f"--until-precise must be a percentage in (0, 1000), e.g. 10. Got {target_pct}.")
    if max_time_s is not None and not (math.isfinite(max_time_s) and max_time_s > 0):
        raise UserError(f"--max-time must be a number of seconds > 0. Got {max_time_s}.")
    if max_time_s is not None and target_pct is None:
        raise UserError("--max-time needs --until-precise PCT (it bounds the splits added).")
