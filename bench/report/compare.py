"""``bench compare A B [C ...]``: one baseline run against each other run.

Typical uses: two machines, CPU vs GPU, two library versions, a CI gate.
Trials are matched on dataset, adapter (with its parameters) and split
identity (and device, unless ``--ignore-device``), init seeds averaged within a
split; whatever cannot be matched is listed, and so are split seeds whose rows
differ between the runs (:mod:`bench.analysis.pairing`). Time ratios are B/A:
the geometric mean of per-split ratios with a t-interval on the log ratios, and
a verdict only from :data:`bench.analysis.stats.MIN_RATIO_PAIRS` pairs on.
Accuracy is compared as a difference with the corrected interval; its verdicts
come from Holm's adjustment over the distinct accuracy tests of each pair of
runs (:func:`accuracy_rows`, :mod:`bench.analysis.family`), with a TOST
equivalence verdict when ``--equivalence-margin`` is given.

As a CI gate (``--fail-above PCT``, ``--fail-accuracy-drop POINTS``): one-sided tests of every
metric with a direction against the threshold, Holm over the FAIL tests (:mod:`bench.analysis.gate`,
inputs from :mod:`bench.report.gating`), ending in one line: PASS (exit 0), FAIL (exit 4, naming the
metrics) or INCONCLUSIVE (exit 5, with the reasons). Two separate runs need this machine's run-to-run
variance (``bench calibrate``); two sides of one run (a duet, ``RUN%base RUN%head``) do not.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.analysis import gate, stats, verdicts
from bench.analysis.family import assess
from bench.analysis.family import comparison_key as family_key
from bench.analysis.load import Loaded, by_content, load_runs, split_ref
from bench.analysis.pairing import Unpaired, match, pair
from bench.errors import UserError
from bench.record import label_of, metrics
from bench.report import plots
from bench.report.document import Doc
from bench.report.tables import fmt, fmt_ci
from bench.store.reader import RunFolder
from bench.store.safefs import OutputDir, file_name

SKIP_ENV_KEYS = ("load_average", "python.executable", "control.", "git_commit", "hostname")


def _flatten(d: Any, prefix: str = "") -> dict:
    out = {}
    if isinstance(d, dict):
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}{k}."))
    elif isinstance(d, list) and all(isinstance(v, dict) for v in d):
        for i, v in enumerate(sorted(d, key=lambda v: json.dumps(v, sort_keys=True))):
            out.update(_flatten(v, f"{prefix}{i}."))
    elif isinstance(d, list):
        out[prefix[:-1]] = json.dumps(d, sort_keys=True)
    else:
        out[prefix[:-1]] = d
    return out


def environment_differences(env_a: dict, env_b: dict) -> list[list]:
    a, b = _flatten(env_a), _flatten(env_b)
    return [[key, str(a.get(key, "-"))[:80], str(b.get(key, "-"))[:80]]
            for key in sorted(set(a) | set(b)) if not key.startswith(SKIP_ENV_KEYS) and a.get(key) != b.get(key)]  # fmt: skip


@dataclass
class Side:
    name: str
    path: Path
    frame: pd.DataFrame
    env: dict
    notes: list[str] = field(default_factory=list)


def load_side(run: str, results_dir: str | Path) -> Side:
    """A run, one environment of it with ``RUN%NAME``, or one machine of it with ``RUN@host``."""
    run_id, _, host = run.partition("@")
    loaded: Loaded = load_runs([run_id], results_dir, kind=None)
    path, df = loaded.paths[0], loaded.frame
    folder = RunFolder(path)
    env = folder.environment()
    environment = split_ref(run_id)[1]
    held = sorted(map(str, df["environment"].dropna().unique())) if "environment" in df.columns else []
    if environment is None and len(held) > 1:
        raise UserError(f"Run {path.name!r} holds {len(held)} environments ({', '.join(held)}): compare one of them, "
                        f"e.g. {path.name}%{held[0]} {path.name}%{held[-1]}.")  # fmt: skip
    if environment:
        built = folder.info().get("environments", {}).get(environment, {})
        env = {**env, "packages": built.get("packages", env.get("packages", {})), "environment": environment}
    if host:
        machines = sorted(map(str, df["machine"].dropna().unique()))
        df = df[df["machine"] == host].copy()
        if df.empty:
            raise UserError(f"Run {path.name!r} has no records from machine {host!r}. Machines: {', '.join(machines)}.")
        df["device"] = df["device"].str.replace(f"@{host}", "", regex=False)
        from bench.names import machine_key

        ids = df["machine_id"].dropna().unique() if "machine_id" in df.columns else []
        found = {machine_key({"machine_id": ids[0], "hostname": host})} if len(ids) else set()
        fingerprints = [e for k, e in folder.environments().items() if k in found or e.get("hostname") == host]
        if fingerprints:
            env = fingerprints[0]
    return Side(run, path, df, env, loaded.notes)


def _same_records(a: Side, b: Side) -> bool:
    """Two sides naming the same records (``RUN`` twice, ``RUN%a`` twice, ``./results/runs/RUN`` and ``RUN``)."""
    keys = ["run_id", "trial_id", "device"]
    return (
        a.path.resolve() == b.path.resolve()
        and len(a.frame) == len(b.frame)
        and a.frame[keys]
        .astype(str)
        .sort_values(keys)
        .reset_index(drop=True)
        .equals(b.frame[keys].astype(str).sort_values(keys).reset_index(drop=True))
    )


def unmatched(side: pd.DataFrame, other: pd.DataFrame, keys: list[str]) -> list[list]:
    """Trials of ``side`` with no ok counterpart in ``other`` (by keys and split), per group."""
    ok_other = other[other["status"] == "ok"]
    matched = set(map(tuple, ok_other[[*keys, "split_seed"]].astype(str).to_numpy().tolist()))
    rows = side[
        [
            tuple(k) not in matched or s != "ok"
            for k, s in zip(side[[*keys, "split_seed"]].astype(str).to_numpy().tolist(), side["status"])
        ]
    ]
    return [[f"{d}/{ad}/{dev}", len(g), ", ".join(f"{c} {s}" for s, c in sorted(g["status"].value_counts().items()))]
            for (d, ad, dev), g in rows.groupby(["dataset", "adapter", "device"], sort=True)]  # fmt: skip


@dataclass
class Row:
    trials: str
    metric: str
    value: str
    pairs: int
    verdict: str
    #: The ratio divided by the control ratio of the two sides (a throughput's multiplied), with its interval.
    normalised: str = "-"


def _accuracy_group(key: Any, g: pd.DataFrame) -> tuple[str, np.ndarray, stats.PairedTest | None, tuple]:
    """One matched group: its label, per-split differences B - A, the corrected test, and the test's identity."""
    diffs = (g["b"] - g["a"]).to_numpy(float)
    n_train, n_test = int(g["n_train"].iloc[0]), int(g["n_test"].iloc[0])
    test = stats.corrected_resampled_ttest(diffs, n_train, n_test) if len(diffs) >= 2 else None
    splits = list(zip(g["split_seed"], g["test_rows_sha"].astype(str)))
    label = "/".join(map(str, key if isinstance(key, tuple) else (key,)))
    return label, diffs, test, family_key(splits, diffs, n_train, n_test)


def accuracy_rows(
    a_ok: pd.DataFrame, b_ok: pd.DataFrame, keys: list[str], margin: float | None
) -> tuple[list[Row], list[Unpaired]]:
    """B - A accuracy per matched group, paired on split identity, verdicts from Holm over this comparison's tests."""
    matched = match(a_ok, b_ok, keys, "accuracy")
    groups = [_accuracy_group(key, g) for key, g in matched.pairs.groupby(keys, sort=True)]
    fam = assess([t for _, _, t, _ in groups], [k for *_, k in groups], margin)
    metric = f"accuracy (B - A), Holm over {fam.m}" if fam.m else "accuracy (B - A)"
    rows = []
    for (label, diffs, test, _), judged in zip(groups, fam.assessed):
        verdict = verdicts.accuracy_verdict(test, judged.p_holm, judged.detectable)
        if margin is not None:
            verdict += "; " + verdicts.equivalence_verdict(test, judged.p_equivalent, margin)
        value = (
            fmt_ci(test.mean_diff, test.low, test.high, signed=True)
            if test is not None and not test.constant
            else f"{diffs.mean():+.3f}"
        )
        rows.append(Row(label, metric, value, len(diffs), verdict))
    return rows, matched.unpaired


def compare_metrics(
    a: pd.DataFrame, b: pd.DataFrame, keys: list[str], margin: float | None = None, control: Any = None,
    floor: float = math.nan,
) -> tuple[list[Row], pd.DataFrame, list[Unpaired]]:  # fmt: skip
    """Accuracy difference and every comparable metric's B/A ratio (raw, and normalised by ``control``, the
    sides' control ratio), per matched group; a ratio within the noise ``floor`` is said to be."""
    from bench.analysis.noise import within_floor
    from bench.report.machines import normalised_text

    heat = []
    a_ok, b_ok = a[a["status"] == "ok"], b[b["status"] == "ok"]
    rows, unpaired = accuracy_rows(a_ok, b_ok, keys, margin)
    for metric in (m for m in metrics() if m.compare):
        columns = [
            c
            for c in a_ok.columns
            if c in b_ok.columns
            and (
                c == metric.column
                or (
                    "{key}" in metric.column
                    and c.startswith(metric.column.split("{")[0])
                    and c[len(metric.column.split("{")[0]) :].isdigit()
                )
            )
        ]
        for column in columns:
            joined = pair(a_ok, b_ok, keys, column)
            for key, g in joined.groupby(keys, sort=True):
                label = "/".join(map(str, key if isinstance(key, tuple) else (key,)))
                x, y = g["a"].to_numpy(float), g["b"].to_numpy(float)
                mask = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
                if not mask.any():
                    continue
                r = stats.ratio_ci(x[mask], y[mask])
                lower = metric.lower_is_better
                verdict = (
                    verdicts.ratio_verdict(r, "faster", "slower")
                    if lower
                    else verdicts.ratio_verdict(r, "lower", "higher")
                )
                if within_floor(r.ratio, floor):
                    verdict += f"; within the noise floor (±{floor:.0%})"
                rows.append(
                    Row(
                        label,
                        f"{label_of(column, unit=False)} (B/A)",
                        f"{fmt(r.ratio)} [{fmt(r.low)}, {fmt(r.high)}]",
                        r.n,
                        verdict,
                        normalised_text(np.log(y[mask] / x[mask]), lower, control),
                    )
                )
                goodness = -math.log2(r.ratio) if lower else math.log2(r.ratio)
                heat.append(
                    {
                        "trials": label,
                        "metric": label_of(column, unit=False),
                        "ratio": r.ratio,
                        "goodness": goodness,
                        "pairs": r.n,
                    }
                )
    return rows, pd.DataFrame(heat), unpaired


@dataclass
class Comparison:
    path: Path
    html: Path
    doc: Doc
    regressions: list[str]
    #: One gate verdict per compared pair (B against A), when a gate was asked for.
    verdicts: list[tuple[str, gate.Verdict]] = field(default_factory=list)

    @property
    def outcome(self) -> str | None:
        """The gate's outcome over every pair: FAIL if any failed, else INCONCLUSIVE if any was, else PASS."""
        outcomes = {v.outcome for _, v in self.verdicts}
        for outcome in (gate.FAIL, gate.INCONCLUSIVE, gate.PASS):
            if outcome in outcomes:
                return outcome
        return None

    def lines(self) -> list[str]:
        """The gate's one line per pair, naming the pair when there are several."""
        if len(self.verdicts) == 1:
            return [gate.line(self.verdicts[0][1])]
        return [f"{name}: {gate.line(v)}" for name, v in self.verdicts]


@dataclass(frozen=True)
class GateSettings:
    """What the gate tests: times by more than ``fail_above`` percent, accuracy by more than ``accuracy_drop`` points."""

    fail_above: float | None = None
    accuracy_drop: float | None = None
    calibration: str | None = None
    results_dir: str | Path = "results"

    @property
    def active(self) -> bool:
        return self.fail_above is not None or self.accuracy_drop is not None


def gate_settings(fail_above: float | None, accuracy_drop: float | None, calibration: str | None,
                  results_dir: str | Path) -> GateSettings:  # fmt: skip
    """Validated gate settings: accuracy is gated by default (at :data:`gate.DEFAULT_ACCURACY_DROP`) whenever times are."""
    if fail_above is not None and not (math.isfinite(fail_above) and fail_above >= 0):
        raise UserError(f"--fail-above must be a percentage >= 0. Got {fail_above}.")
    if accuracy_drop is not None and not (math.isfinite(accuracy_drop) and 0 <= accuracy_drop < 100):
        raise UserError(f"--fail-accuracy-drop must be accuracy points in [0, 100), e.g. 2. Got {accuracy_drop}.")
    if accuracy_drop is None and fail_above is not None:
        accuracy_drop = gate.DEFAULT_ACCURACY_DROP
    return GateSettings(fail_above, accuracy_drop, calibration, results_dir)


def compare_runs(
    runs: list[str],
    results_dir: str | Path = "results",
    out_dir: str | Path | None = None,
    ignore_device: bool = False,
    fail_above: float | None = None,
    equivalence_margin: float | None = None,
    fail_accuracy_drop: float | None = None,
    calibration: str | None = None,
) -> Comparison:
    """Write ``COMPARE-<A>-vs-<B>.md`` and ``.html`` (and a heatmap per pair); gate when asked."""
    if len(runs) < 2:
        raise UserError("bench compare needs at least two runs: a baseline and one to compare with it.")
    settings = gate_settings(fail_above, fail_accuracy_drop, calibration, results_dir)
    from bench.report.build import REPORTS, check_margin

    check_margin(equivalence_margin)

    base = load_side(runs[0], results_dir)
    others = [load_side(r, results_dir) for r in runs[1:]]
    for other in others:
        if _same_records(base, other):
            raise UserError(f"{other.name!r} is the same records as the baseline {base.name!r}: nothing to compare.")
    # Two runs' "data.csv" with different contents are two datasets: never paired.
    for side, frame in zip([base, *others], by_content([base.frame, *(o.frame for o in others)])):
        side.frame = frame
    out = OutputDir.choose(out_dir, Path(results_dir) / REPORTS, results_dir).check_writable()
    keys = ["dataset", "adapter"] + ([] if ignore_device else ["device"])
    doc = Doc(f"Comparison: `{base.name}` (A) against {', '.join(f'`{o.name}`' for o in others)} (B)")
    doc.para(
        f"Generated {time.strftime('%Y-%m-%d %H:%M:%S %Z')} by `bench compare` from stored records. Ratios are B/A (geometric "
        f"mean of per-split ratios, Student-t 95% interval on the log ratios; no verdict from fewer than {stats.MIN_RATIO_PAIRS} "
        "pairs); 'no difference' when the interval contains 1. Accuracy: B - A with the corrected interval, on splits "
        "with the same identity (test rows, sizes, dataset); its verdicts use Holm's adjustment over the accuracy tests "
        "of each pair of runs (distinct tests counted once), never the raw p."
        + " ".join(["", *base.notes, *(n for o in others for n in o.notes)])
    )
    results: list[tuple[str, gate.Verdict]] = []
    for other in others:
        verdict = _section(doc, base, other, keys, out, settings, equivalence_margin)
        if verdict is not None:
            results.append((f"{base.name} vs {other.name}", verdict))
    comparison = Comparison(Path(), Path(), doc, [], results)
    comparison.regressions = [f"{name.split(' vs ')[-1]}: {j.tested.measured.group} {j.tested.measured.metric} "
                              f"{gate.estimate_text(j.tested)}" for name, v in results for j in v.failures]  # fmt: skip
    if results:
        doc.heading("CI gate: verdict")
        doc.bullets(comparison.lines())
    names = [base.name] + [o.name for o in others]
    stem = file_name("COMPARE-" + "-vs-".join(names))
    path = out.stage(f"{stem}.md", doc.markdown(out.path))
    html = out.stage(f"{stem}.html", doc.html())
    out.commit()
    comparison.path, comparison.html = path, html
    return comparison


def _section(
    doc: Doc, base: Side, other: Side, keys: list[str], out: OutputDir, settings: GateSettings, margin: float | None
) -> gate.Verdict | None:
    doc.heading(f"`{base.name}` (A) vs `{other.name}` (B)")
    doc.heading("Environment differences", 3)
    diffs = environment_differences(base.env, other.env)
    doc.table(["field", "A", "B"], diffs, "environment") if diffs else doc.para("None recorded.")
    from bench.report import machines

    doc.heading("Raw machine speed (control measurements; B/A > 1 means B's machine is slower)", 3)
    control = machines.control_section(doc, base.path, base.name, other.path, other.name)
    floor = machines.noise_floor(doc, base.path, base.name, other.path, other.name)
    metric_rows, heat, unpaired = compare_metrics(base.frame, other.frame, keys, margin, control, floor)
    doc.heading(f"Matched trials ({sum(1 for r in metric_rows if r.metric.startswith('accuracy'))} groups)", 3)
    doc.para("Raw B/A ratios beside the same ratios normalised by the control ratio above (a time divided by it, a "
             "throughput multiplied): near 1 when B's machine is slower or faster uniformly, as its raw speed says.")  # fmt: skip
    doc.table(
        ["trials", "metric", "value [95% CI]", "normalised by the control [95% CI]", "pairs", "verdict"],
        [[r.trials, r.metric, r.value, r.normalised, r.pairs, r.verdict] for r in metric_rows],
        "ratios",
    )
    machines.ranking_section(doc, base.frame, other.frame, [k for k in keys if k != "adapter"])
    fig = plots.ratio_heatmap(
        heat,
        out / "figures" / file_name(f"compare-{base.path.name}-vs-{other.path.name}.png"),
        f"B/A: {other.path.name} vs {base.path.name}",
    )
    if fig:
        doc.figure("ratios", fig.path, data=fig.data())
    doc.heading("Not matched (listed, not dropped silently)", 3)
    only = [["A only", *r] for r in unmatched(base.frame, other.frame, keys)] + [
        ["B only", *r] for r in unmatched(other.frame, base.frame, keys)
    ]
    doc.table(["side", "trials", "count", "statuses"], only, "unmatched") if only else doc.para(
        "Every trial was matched."
    )
    if unpaired:
        doc.para(
            "Never paired: the same split seed on both sides, but not the same split (left out of every comparison):"
        )
        doc.bullets([u.describe() for u in unpaired])
    if not settings.active:
        return None
    return gate_section(doc, base, other, keys, settings)


def gate_section(doc: Doc, base: Side, other: Side, keys: list[str], settings: GateSettings) -> gate.Verdict:
    """The CI gate for B against A: its settings, every gated metric's one-sided tests, and the verdict line."""
    from bench.report.gating import find_calibration, gate_inputs

    separate = base.path.resolve() != other.path.resolve()
    variance = find_calibration(settings.results_dir, base.env, other.env, settings.calibration) if separate else None
    measured, problems = gate_inputs(base.frame, other.frame, keys, settings.fail_above, settings.accuracy_drop,
                                     separate, variance)  # fmt: skip
    verdict = gate.decide(measured, problems)
    doc.heading("CI gate", 3)
    doc.para(_gate_settings_text(settings, separate, variance, verdict))
    rows = []
    for j in verdict.judged:
        t = j.tested
        rows.append([t.measured.group, t.measured.metric, gate.estimate_text(t), gate.threshold_text(t.measured), t.n,
                     _p(t.p_fail), _p(j.p_holm), _p(t.p_pass), gate.detectable_text(t, j.detectable),
                     j.state if j.reason is None else f"undecided: {j.reason}"])  # fmt: skip
    if rows:
        doc.table(["trials", "metric", "B vs A [90%]", "fails when", "pairs", "p (worse than that)", "p (Holm)",
                   "p (better than that)", "detectable (80%)", "decision"], rows, "gate")  # fmt: skip
    if problems:
        doc.para("Found before any test (each keeps the gate from passing):")
        doc.bullets([f"{p.reason}: {p.detail}" for p in problems])
    ranges = gate.detectable_range(verdict)
    if ranges:
        doc.para("The smallest regression this comparison could have detected (80% power at Holm's first level, "
                 f"alpha/m = {gate.ALPHA:g}/{max(verdict.m, 1)}, with the observed spread): "
                 + "; ".join(f"{name} {_range(verdict, name, lo, hi)}" for name, (lo, hi) in ranges.items()) + ".")  # fmt: skip
    doc.para(f"**{gate.line(verdict)}**")
    return verdict


def _range(v: gate.Verdict, name: str, low: float, high: float) -> str:
    j = next(j for j in v.judged if j.tested.measured.metric == name)
    a, b = gate.detectable_text(j.tested, low), gate.detectable_text(j.tested, high)
    return a if a == b else f"{a}-{b}"


def _p(p: float) -> str:
    return "-" if math.isnan(p) else f"{p:.2g}"


def _gate_settings_text(settings: GateSettings, separate: bool, variance: Any, verdict: gate.Verdict) -> str:
    parts = []
    if settings.fail_above is not None:
        parts.append(f"every compared metric with a direction (times, latencies, throughputs) fails when B is worse by "
                     f"more than {settings.fail_above:g}%")  # fmt: skip
    if settings.accuracy_drop is not None:
        default = " (the default)" if settings.accuracy_drop == gate.DEFAULT_ACCURACY_DROP else ""
        parts.append(f"accuracy fails when it drops by more than {settings.accuracy_drop:g} points{default}")
    how = ("Both sides come from one run, interleaved split by split, so pairing on the split is valid. " if not separate
           else f"Two separate runs: the run-to-run variance of this machine from calibration `{variance.source}` is "
           "added to every timing metric (two run offsets). " if variance is not None
           else "Two separate runs, and no calibration of the machine they ran on (`bench calibrate`): every split of a "
           "run shares that run's machine state, so their timing intervals would ignore run-to-run variance; timing "
           "metrics are not tested (run both sides in one run: `bench run --env base=... --env head=...`). ")  # fmt: skip
    said = "; ".join(parts)
    return (
        said[:1].upper()
        + said[1:]
        + ". "
        + how
        + f"FAIL: the one-sided test of 'worse than the threshold', Holm-adjusted over all {verdict.m} such tests, "
        f"below {gate.ALPHA:g}. PASS: every metric's one-sided 95% bound inside the threshold (an intersection-union "
        f"test, no correction needed). Anything else is INCONCLUSIVE, with its reason; fewer than {gate.MIN_PAIRS} "
        "pairs decide nothing. Intervals here are 90% (the two one-sided 95% bounds)."
    )
