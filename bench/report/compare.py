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

As a CI gate (``--fail-above PCT``): exit status 1 when any metric of B is
significantly worse than A's (its interval excludes no change) by more than
PCT percent, listing which.
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

from bench.analysis import stats, verdicts
from bench.analysis.family import assess
from bench.analysis.family import comparison_key as family_key
from bench.analysis.load import Loaded, by_content, load_runs, split_ref
from bench.analysis.pairing import Unpaired, match, pair
from bench.errors import UserError
from bench.record import label_of, metrics
from bench.report import plots
from bench.report.document import Doc
from bench.report.tables import fmt, fmt_ci
from bench.store.reader import RunFolder, read_json
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
    if environment:
        built = folder.info().get("environments", {}).get(environment, {})
        env = {**env, "packages": built.get("packages", env.get("packages", {})), "environment": environment}
    if host:
        machines = sorted(map(str, df["machine"].dropna().unique()))
        df = df[df["machine"] == host].copy()
        if df.empty:
            raise UserError(f"Run {path.name!r} has no records from machine {host!r}. Machines: {', '.join(machines)}.")
        df["device"] = df["device"].str.replace(f"@{host}", "", regex=False)
        ids = df["machine_id"].dropna().unique() if "machine_id" in df.columns else []
        env_file = path / "environments" / f"{ids[0]}.json" if len(ids) else None
        if env_file is not None and env_file.exists():
            env = read_json(env_file, "machine's environment")
    return Side(run, path, df, env, loaded.notes)


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
    worse_by: float = math.nan  # fraction by which B is significantly worse (NaN: not significantly worse)


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
    a: pd.DataFrame, b: pd.DataFrame, keys: list[str], margin: float | None = None
) -> tuple[list[Row], pd.DataFrame, list[Unpaired]]:
    """Accuracy difference and every comparable metric's B/A ratio, per matched group."""
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
                worse = _worse_by(r, lower)
                rows.append(
                    Row(
                        label,
                        f"{label_of(column, unit=False)} (B/A)",
                        f"{fmt(r.ratio)} [{fmt(r.low)}, {fmt(r.high)}]",
                        r.n,
                        verdict,
                        worse,
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


def _worse_by(r: stats.RatioCI, lower_is_better: bool) -> float:
    """How much worse B is, when its whole interval says so (with enough pairs); else NaN."""
    if r.n < stats.MIN_RATIO_PAIRS or math.isnan(r.low):
        return math.nan
    if lower_is_better and r.low > 1:
        return r.ratio - 1
    if not lower_is_better and r.high < 1:
        return 1 - r.ratio
    return math.nan


@dataclass
class Comparison:
    path: Path
    html: Path
    doc: Doc
    regressions: list[str]


def compare_runs(
    runs: list[str],
    results_dir: str | Path = "results",
    out_dir: str | Path | None = None,
    ignore_device: bool = False,
    fail_above: float | None = None,
    equivalence_margin: float | None = None,
) -> Comparison:
    """Write ``COMPARE-<A>-vs-<B>.md`` and ``.html`` (and a heatmap per pair)."""
    if len(runs) < 2:
        raise UserError("bench compare needs at least two runs: a baseline and one to compare with it.")
    if fail_above is not None and not (math.isfinite(fail_above) and fail_above >= 0):
        raise UserError(f"--fail-above must be a percentage >= 0. Got {fail_above}.")
    from bench.report.build import REPORTS, check_margin

    check_margin(equivalence_margin)

    base = load_side(runs[0], results_dir)
    others = [load_side(r, results_dir) for r in runs[1:]]
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
    regressions: list[str] = []
    for other in others:
        regressions += _section(doc, base, other, keys, out, fail_above, equivalence_margin)
    if fail_above is not None:
        doc.heading("CI gate")
        doc.para(
            f"--fail-above {fail_above:g}%: "
            + (
                "FAILED: " + "; ".join(regressions)
                if regressions
                else "passed: no metric is significantly worse by more than that."
            )
        )
    names = [base.name] + [o.name for o in others]
    stem = file_name("COMPARE-" + "-vs-".join(names))
    path = out.stage(f"{stem}.md", doc.markdown(out.path))
    html = out.stage(f"{stem}.html", doc.html())
    out.commit()
    return Comparison(path, html, doc, regressions)


def _section(
    doc: Doc, base: Side, other: Side, keys: list[str], out: OutputDir, fail_above: float | None, margin: float | None
) -> list[str]:
    doc.heading(f"`{base.name}` (A) vs `{other.name}` (B)")
    doc.heading("Environment differences", 3)
    diffs = environment_differences(base.env, other.env)
    doc.table(["field", "A", "B"], diffs, "environment") if diffs else doc.para("None recorded.")
    doc.heading("Raw machine speed (control measurement, B/A; < 1 means B is faster)", 3)
    ctrl_a, ctrl_b = _control(base), _control(other)
    rows = [[k, fmt(ctrl_a.get(k)), fmt(ctrl_b.get(k)), fmt(ctrl_b[k] / ctrl_a[k]) if ctrl_a.get(k) and ctrl_b.get(k) else "-"]
            for k in sorted(set(ctrl_a) | set(ctrl_b))]  # fmt: skip
    doc.table(["measurement (ms)", "A", "B", "B/A"], rows, "control") if rows else doc.para("Not recorded.")
    metric_rows, heat, unpaired = compare_metrics(base.frame, other.frame, keys, margin)
    doc.heading(f"Matched trials ({sum(1 for r in metric_rows if r.metric.startswith('accuracy'))} groups)", 3)
    doc.table(
        ["trials", "metric", "value [95% CI]", "pairs", "verdict"],
        [[r.trials, r.metric, r.value, r.pairs, r.verdict] for r in metric_rows],
        "ratios",
    )
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
    limit = None if fail_above is None else fail_above / 100
    return [f"{other.name}: {r.trials} {r.metric} {r.worse_by:.0%} worse" for r in metric_rows
            if limit is not None and math.isfinite(r.worse_by) and r.worse_by > limit]  # fmt: skip


def _control(side: Side) -> dict:
    stored = (
        read_json(side.path / "control.json", "control measurement") if (side.path / "control.json").exists() else {}
    )
    return {k: v for k, v in (stored.get("before") or side.env.get("control") or {}).items() if k.endswith("_ms")}
