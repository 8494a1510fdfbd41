"""The README's numbers, generated from stored reference runs (never typed).

The README marks each generated block with ``<!-- generated:NAME -->`` and
``<!-- /generated:NAME -->``; ``scripts/update-readme`` rewrites them from the
runs named in :data:`BLOCKS`, and a test fails when the README and the
records disagree.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from hello_bench.analysis import stats, verdicts
from hello_bench.analysis import time_to_accuracy as tta
from hello_bench.analysis.load import Loaded, load_runs
from hello_bench.analysis.pairing import pair, per_split
from hello_bench.record import role
from hello_bench.report import accuracy, learning, serving
from hello_bench.report.tables import fmt, fmt_ci, fmt_p, table


def _duration(records: list[dict]) -> str:
    started = [r["started_at"] for r in records if r.get("started_at")]
    finished = [r["finished_at"] for r in records if r.get("finished_at")]
    if not started or not finished:
        return "-"
    seconds = max(finished) - min(started)
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"


def _iris_cpu(loaded: Loaded) -> pd.DataFrame:
    f = loaded.frame
    return f[(f["status"] == "ok") & (f["device"] == "cpu") & (f["dataset"] == "iris")]


def _baseline(loaded: Loaded, ok: pd.DataFrame) -> str:
    from hello_bench.report.build import config_order, pick_baseline

    return pick_baseline(ok, None, config_order(loaded))


def _split_times(loaded: Loaded, ok: pd.DataFrame, goal: float) -> dict[str, dict]:
    """Per adapter: {split identity: time to target} (reached and held; +inf: not reached)."""
    out = {}
    for adapter in sorted(ok["adapter"].unique()):
        recs = [r for r in loaded.records if r.get("adapter") == adapter and r.get("status") == "ok"
                and r.get("device") == "cpu" and r.get("dataset") == "iris"]  # fmt: skip
        out[adapter] = learning.split_times(recs, goal)
    return out


def headline(loaded: Loaded) -> str:
    """One row per adapter: accuracy, the corrected test against the baseline, cost, speed to target, serving."""
    ok = _iris_cpu(loaded)
    baseline = _baseline(loaded, ok)
    tested = accuracy.comparisons(ok, baseline)
    comps = {c.b: c for c in tested.comparisons if c.family == "baseline"}
    goal = learning.targets(ok, None)["iris"]
    frame = serving.serving_frame(loaded.records)
    best = serving.fastest_valid(frame, serving.summary(frame)).set_index("adapter") if len(frame) else pd.DataFrame()
    quality, fit = role("accuracy"), role("fit")
    splits = per_split(ok, ["adapter"], quality.column)
    times = {a: list(t.values()) for a, t in _split_times(loaded, ok, goal).items()}
    rows = []
    for adapter, g in splits.groupby("adapter", sort=True):
        ci = stats.corrected_mean_ci(
            g[quality.column], int(g["n_train"].iloc[0]), int(g["n_test"].iloc[0]), bounds=quality.valid
        )
        versus = "baseline" if adapter == baseline else _versus(comps.get(adapter))
        fits = ok[ok["adapter"] == adapter][fit.column]
        reached = sum(map(math.isfinite, times[adapter]))
        lat = ok[ok["adapter"] == adapter]
        rows.append([f"`{adapter}`", fmt_ci(ci.mean, ci.low, ci.high), versus, fmt(float(fits.median())),
                     f"{learning.median_cell(times[adapter])} ({reached}/{len(times[adapter])})",
                     f"{fmt(float(lat[role('p50').column].median()))} / {fmt(float(lat[role('stock-p50').column].median()))} / {_fastest_cell(best, adapter)}"])  # fmt: skip
    headers = ["adapter (iris, CPU)", "accuracy [corrected 95% CI]", f"vs {baseline} (corrected t-test, Holm over {tested.m})",
               "fit s (median)", f"s to {goal:.3f} accuracy, reached and held: median [95% CI] (splits)",
               "predict p50 us: adapter / stock API / fastest valid path"]  # fmt: skip
    return (
        table(rows, headers)
        + f"\n\nFrom run `{loaded.paths[0].name}` ({len(splits['split_seed'].unique())} splits, {_duration(loaded.records)} from first to last trial)."
    )


def _fastest_cell(best: pd.DataFrame, adapter: str) -> str:
    if adapter not in best.index:
        return "-"
    r = best.loc[adapter]
    return f"{r['path']} {fmt(r['p50_us'])}" if r["fastest"] else f"none single ({r['path']} {fmt(r['p50_us'])} ties)"


def _versus(c: accuracy.Comparison | None) -> str:
    if c is None or c.test is None:
        return "-"
    t = c.test
    verdict = verdicts.accuracy_verdict(t, c.p_holm, c.assessed.detectable, c.b)
    if t.constant:
        return verdict
    return f"{t.mean_diff:+.3f}, p = {fmt_p(t.p)} (Holm {fmt_p(c.p_holm)}), {verdict}"


def _tuned_sentence(c: accuracy.Comparison) -> str:
    r = c.fit_ratio
    assert r is not None
    accuracy_said = verdicts.accuracy_verdict(c.test, c.p_holm, c.assessed.detectable, c.b)
    return f"`{c.b}` {verdicts.ratio_text(r)} the fit time ({verdicts.ratio_verdict(r)}), accuracy {accuracy_said}"


def _seed_claim(ok: pd.DataFrame, baseline: str) -> str:
    """The post's LR vs MLP gap: which LR settings these splits repeated (from record fields, not labels)."""
    from hello_bench.report.seed import POST_ACCURACY
    from hello_bench.run.config import AdapterSpec

    base = ok[ok["adapter"] == baseline].iloc[0]
    specs = {label: AdapterSpec.parse(label) for label in POST_ACCURACY}
    lr = next((label for label, spec in specs.items() if spec.name == base.get("adapter_name")), None)
    if lr is None:
        return ""
    profile = base.get("profile") if isinstance(base.get("profile"), str) else None
    ran = ((ok["adapter_name"] == specs[lr].name) & (ok["profile"] == specs[lr].profile)).any()
    others = [POST_ACCURACY[label] for label in POST_ACCURACY if label != lr]
    gap = f"{POST_ACCURACY[lr]:g} vs {max(others):g}" if others else f"{POST_ACCURACY[lr]:g}"
    version = base.get("framework_version") if isinstance(base.get("framework_version"), str) else None
    return verdicts.seed_claim(lr, gap, bool(ran), baseline, profile, version)


def findings(loaded: Loaded) -> str:
    """The sentences under the headline table, derived from the same records (so they cannot drift)."""
    ok = _iris_cpu(loaded)
    baseline = _baseline(loaded, ok)
    tested = accuracy.comparisons(ok, baseline)
    comps = tested.comparisons
    significant = {c.key for c in comps if c.p_holm < stats.ALPHA}
    detectable = [
        c.assessed.detectable for c in comps if c.family == "baseline" and math.isfinite(c.assessed.detectable)
    ]
    goal = learning.targets(ok, None)["iris"]
    by_split = _split_times(loaded, ok, goal)
    times = {a: list(t.values()) for a, t in by_split.items()}
    found = tta.orderings(by_split, [(a, b) for _, a, b in accuracy.comparison_pairs(ok, baseline)])
    tuned = [c for c in comps if c.family == "tuned" and c.fit_ratio is not None]
    frame = serving.serving_frame(loaded.records)
    best = serving.fastest_valid(frame, serving.summary(frame))
    best = best[(best["dataset"] == "iris") & (best["device"] == "cpu")]
    families = ", ".join(sorted({c.family for c in comps}))
    lines = [
        f"**Accuracy**: {len(significant)} of {tested.m} distinct paired accuracy tests ({len(comps)} comparisons: {families}; "
        f"a comparison repeating another's per-split differences is one test) {'is' if len(significant) == 1 else 'are'} "
        f"significant after the Nadeau-Bengio correction and Holm's adjustment. At Holm's first step (alpha/{tested.m} = "
        f"{tested.level:.2g}) a difference against `{baseline}` had to be {min(detectable):.3f}-{max(detectable):.3f} to be "
        "detected 80% of the time (exact power, with the observed spread of these splits). "
        f"{_seed_claim(ok, baseline)} 'No detectable difference' is all these splits can say, not 'equal'."
        if detectable else "**Accuracy**: too few splits for a test.",
        f"**Time to {goal:.3f} accuracy, reached and held to the end of training** (median over splits [95% CI], censored "
        "splits counted): " + ", ".join(f"`{a}` {learning.median_cell(t)}" for a, t in times.items()) + ". "
        + verdicts.ordering_summary(found),
        "**At its best** (tuned vs seed, same splits): " + "; ".join(_tuned_sentence(c) for c in tuned) + ".",
        "**Serving** (fastest valid path per adapter, and its p50 against the numpy forward pass with the same weights, "
        "geometric mean over trials [95% CI]): " + "; ".join(serving.best_sentence(r) for _, r in best.iterrows()) + ".",
    ]  # fmt: skip
    return "\n".join(f"- {line}" for line in lines)


def seed(loaded: Loaded) -> str:
    from hello_bench.report.seed import format_seed_table, seed_rows

    return (
        format_seed_table(seed_rows(loaded.records))
        + f"\n\nFrom run `{loaded.paths[0].name}` ({_duration(loaded.records)})."
    )


def _setting_ratios(ok: pd.DataFrame) -> dict[str, stats.RatioCI | None]:
    """Each setting's fit time over its stock setting's, on the same splits (None: it is the stock setting)."""
    out: dict[str, stats.RatioCI | None] = {}
    meta = accuracy.adapter_meta(ok)
    for adapter in sorted(ok["adapter"].unique()):
        stock = accuracy.stock_setting(meta, adapter)
        if stock is None:
            out[adapter] = None
            continue
        joined = pair(ok[ok["adapter"] == stock], ok[ok["adapter"] == adapter], [], role("fit").column)
        out[adapter] = stats.ratio_ci(joined["a"].to_numpy(), joined["b"].to_numpy())
    return out


def tuning(loaded: Loaded) -> str:
    """Each execution setting's fit time against the same framework's seed setting, on the same splits."""
    ok = loaded.frame[loaded.frame["status"] == "ok"]
    rows = []
    for adapter, r in _setting_ratios(ok).items():
        g = ok[ok["adapter"] == adapter]
        ratio = "-" if r is None else f"{fmt(r.ratio)} [{fmt(r.low)}, {fmt(r.high)}]"
        verdict = "-" if r is None else verdicts.ratio_verdict(r)
        rows.append(
            [
                f"`{adapter}`",
                fmt(float(g[role("fit").column].median())),
                ratio,
                verdict,
                fmt(float(g[role("accuracy").column].mean())),
            ]
        )
    headers = ["setting", "fit s (median)", "fit time / the seed setting [95% CI]", "verdict", "accuracy (mean)"]
    return table(rows, headers) + (
        f"\n\nFrom run `{loaded.paths[0].name}` ({len(ok['split_seed'].unique())} splits, interleaved, {_duration(loaded.records)})."
    )


def tuning_effects(loaded: Loaded) -> str:
    """What each non-seed setting did to the fit time, in words that follow the ratio rule."""
    ok = loaded.frame[loaded.frame["status"] == "ok"]
    return "\n".join(
        f"- `{adapter}` {verdicts.setting_effect(r)}." for adapter, r in _setting_ratios(ok).items() if r is not None
    )


def serving_table(loaded: Loaded) -> str:
    """iris, CPU: p50 of every serving path per adapter, and its ratio to the numpy reference."""
    summ = serving.summary(serving.serving_frame(loaded.records))
    summ = summ[(summ["dataset"] == "iris") & (summ["device"] == "cpu")]
    own = ["adapter", "stock", "numpy-reference"]
    paths = own + sorted(set(summ["path"]) - set(own))
    rows = []
    for adapter, g in summ.groupby("adapter", sort=True):
        by_path = g.set_index("path")
        cells = []
        for path in paths:
            if path not in by_path.index:
                cells.append("")
                continue
            r = by_path.loc[path]
            if r["valid"] < r["trials"]:
                cells.append(
                    str(r["status"]).split(",")[0] if pd.isna(r["p50_us"]) else f"{fmt(r['p50_us'])} ({r['status']})"
                )
            elif r["reference"]:
                cells.append(f"{fmt(r['p50_us'])} (1x)")
            else:
                cells.append(f"{fmt(r['p50_us'])} ({verdicts.ratio_text(r['ref_ratio'])})")
        rows.append([f"`{adapter}`", *cells])
    return (
        table(rows, ["adapter", *paths])
        + f"\n\np50 in microseconds, one sample per call, median over trials (x: the path's p50 over the numpy reference's on the same trial, geometric mean over trials [95% CI]). From run `{loaded.paths[0].name}`."
    )


def scale(loaded: Loaded) -> str:
    """Log-log slope, fixed overhead and crossover per adapter, from the scale sweep."""
    from hello_bench.report.scale import scale_table

    df = loaded.frame.copy()
    df["dataset_n"] = df["dataset_source"].map(lambda s: int(s.split("n_samples=")[1].split(",")[0]))
    _, summary = scale_table(df)
    headers = ["adapter", "sizes fitted", "log-log slope", "overhead s", "per-row us", "n* (rows)"]
    return table(summary, headers) + f"\n\nFrom run `{loaded.paths[0].name}` ({_duration(loaded.records)})."


def durations(loaded: Loaded) -> str:
    return _duration(loaded.records)


def benchmarks(saved: dict) -> str:
    """The pytest-benchmark reference save: the adapters' paths against the frameworks' direct calls,
    and what learning-curve bookkeeping costs the fit."""
    by_name = {b["name"]: b for b in saved["benchmarks"]}
    # The adapter's path and the direct call timed in alternation in one benchmark (drift lands on both).
    targets = [
        ("`torch-mlp` predict one sample vs the module under `inference_mode`", "test_direct_predict_one[torch-mlp-cpu]", "us", 1.5),
        ("`keras-mlp` predict one sample vs `model.predict_on_batch`", "test_direct_predict_one[keras-mlp-cpu]", "us", 1.5),
        ("`torch-mlp` fit (seed settings) vs a minimal hand-written torch loop", "test_direct_torch_fit_loop[cpu]", "s", 1.2),
    ]  # fmt: skip
    rows = []
    for label, name, unit, limit in targets:
        info = by_name.get(name, {}).get("extra_info", {})
        if "adapter_over_direct" in info:
            ours, direct, ratio = (
                info[f"interleaved_adapter_{unit}"],
                info[f"interleaved_direct_{unit}"],
                info["adapter_over_direct"],
            )
            rows.append(
                [
                    label,
                    f"{fmt(ours)} {unit} vs {fmt(direct)} {unit}",
                    f"{ratio:.2f}x",
                    f"{'yes' if ratio <= limit else 'no'} (<= {limit}x)",
                ]
            )
    out = table(rows, ["target", "measured (median)", "ratio", "met"])
    curves = [[f"`{b['name'].split('[')[1].rstrip(']')}`", fmt(b["extra_info"]["fit_without_curves_s"]), fmt(b["extra_info"]["fit_with_curves_s"]),
               f"{b['extra_info']['curve_bookkeeping_ratio']:.3f}"]
              for b in saved["benchmarks"] if b["name"].startswith("test_fit_curve_bookkeeping")]  # fmt: skip
    if curves:
        out += "\n\n" + table(
            curves,
            ["adapter (seed settings)", "fit s without curves", "fit s with curves (evaluation excluded)", "ratio"],
        )
    when = saved.get("datetime", "?")[:19]
    return (
        out
        + f"\n\nFrom the saved benchmark run `{saved.get('_file', '?')}` ({when}, {saved['machine_info'].get('bench_machine_folder', '?')})."
    )


def _saved_benchmarks(results_dir: str | Path) -> dict:
    import json

    saves = sorted(Path(results_dir).joinpath("benchmarks").glob("*/*_reference.json"))
    if not saves:
        raise FileNotFoundError(f"no reference benchmark save under {Path(results_dir) / 'benchmarks'}")
    data = json.loads(saves[-1].read_text())
    data["_file"] = (
        str(saves[-1].relative_to(Path(results_dir).parent)) if Path(results_dir).is_absolute() else str(saves[-1])
    )
    return data


def _from_run(run: str, make: Callable[[Loaded], str]) -> Callable[[str | Path], str]:
    return lambda results_dir: make(load_runs([run], results_dir, kind=None))


#: The reference runs the README's blocks come from.
RUNS: dict[str, tuple[str, Callable[[Loaded], str]]] = {
    "headline": ("reference-full-cpu-2core", headline),
    "findings": ("reference-full-cpu-2core", findings),
    "seed": ("reference-seed-cpu-2core", seed),
    "tuning": ("tuning-cpu-2core", tuning),
    "tuning-effects": ("tuning-cpu-2core", tuning_effects),
    "serving": ("reference-full-cpu-2core", serving_table),
    "scale": ("reference-scale-cpu-2core", scale),
    "default-duration": ("reference-cpu-2core", durations),
    "full-duration": ("reference-full-cpu-2core", durations),
    "quick-duration": ("reference-quick-cpu-2core", durations),
}


def floor(loaded: Loaded) -> str:
    """The README's "Where the time goes" numbers: the report's fit table (floor, dispatch, rest, the multiple of the
    floor) and its sentence on who comes within 3x the floor, from the floor reference run (``bench run --config
    floor``)."""
    from hello_bench.report import breakdown
    from hello_bench.report.document import Doc

    frame = loaded.frame
    doc = Doc("floor")
    breakdown.section(doc, frame[frame["status"] == "ok"])
    fit = next(b[1] for b in doc.blocks if b[0] == "table" and b[1].name == "time-breakdown")
    said = [line for line in next(b[1] for b in doc.blocks if b[0] == "ul") if line.startswith("Near the floor")]
    keep = [fit.headers.index(h) for h in ("adapter", "fit s (mean)", "floor s", "dispatch s", "rest s",
                                           "x the floor [95% CI]", "dispatch per step us")]  # fmt: skip
    rows = [[str(r[i]) for i in keep] for r in fit.rows]
    run = loaded.folders[0].run_id
    return "\n".join([f"Run `{run}` (`bench run --config floor`), {len(frame)} trials:", "",
                      table(rows, [fit.headers[i] for i in keep]), "", *(f"- {line}" for line in said)])  # fmt: skip


def _calibration(loaded: Loaded) -> str:
    from hello_bench.report.calibration import readme_block

    return readme_block(loaded)


#: Real upgrades measured as duets (``examples/versions/*.toml``): README block -> run id.
VERSION_RUNS = {"versions-sklearn": "reference-versions-sklearn-cpu-2core",
                "versions-keras": "reference-versions-keras-cpu-2core"}  # fmt: skip


def version_metrics() -> set[str]:
    """The rows of a version comparison the README shows (the report has every metric), by their labels."""
    return {role("accuracy").label, role("fit").label, role("p50").label, role("p99").label, role("cold").label}


def versions(run: str, results_dir: str | Path) -> str:
    """``bench compare RUN%before RUN%after --fail-above 10`` of a duet, as the README shows it: the
    exact versions, the main metrics' ratios with intervals and verdicts, and the gate's line."""
    import tempfile

    from hello_bench.report.compare import compare_runs
    from hello_bench.store.reader import RunFolder

    envs = RunFolder(Path(results_dir) / "runs" / run).info().get("environments") or {}
    with tempfile.TemporaryDirectory() as tmp:
        result = compare_runs([f"{run}%before", f"{run}%after"], results_dir, tmp, fail_above=10.0)
    ratios = next(b[1] for b in result.doc.blocks if b[0] == "table" and b[1].name == "ratios")
    rows = [[str(c) for c in r] for r in ratios.rows if str(r[1]).split(" (")[0] in version_metrics()]
    changed = {n: _changed_packages(e) for n, e in envs.items() if isinstance(e, dict)}
    lines = [
        f"Run `{run}` (`{_config_name(run)}`): " + "; ".join(f"**{n}**: {v}" for n, v in changed.items()) + ".",
        "",
        table(rows, [str(h) for h in ratios.headers]),
        "",
        f"`bench compare {run}%before {run}%after --fail-above 10`: **{' '.join(result.lines())}**",
    ]
    return "\n".join(lines)


def _versions_of(run: str) -> Callable[[str | Path], str]:
    return lambda results_dir: versions(run, results_dir)


def _changed_packages(env: dict) -> str:
    """The environment's requirements with the exact versions installed for them."""
    packages = env.get("packages") or {}
    out = []
    for req in env.get("requirements") or []:
        name = re.split(r"[=<>!~\[ ;@]", str(req), maxsplit=1)[0].strip().lower()
        version = packages.get(name) or packages.get(name.replace("-", "_"))
        out.append(f"{name} {version}" if version else str(req))
    return ", ".join(out)


def _config_name(run: str) -> str:
    return {"reference-versions-sklearn-cpu-2core": "examples/versions/sklearn.toml",
            "reference-versions-keras-cpu-2core": "examples/versions/keras.toml"}.get(run, run)  # fmt: skip


RUNS.update({
    "calibration-quick": ("reference-calibration-quick-cpu-2core", _calibration),
    "calibration-thorough": ("reference-calibration-thorough-cpu-2core", _calibration),
    "floor": ("reference-floor-cpu-2core", floor),
})  # fmt: skip
#: README block -> what writes it, from the results folder.
BLOCKS: dict[str, Callable[[str | Path], str]] = {
    **{name: _from_run(run, make) for name, (run, make) in RUNS.items()},
    "benchmarks": lambda results_dir: benchmarks(_saved_benchmarks(results_dir)),
    **{name: _versions_of(run) for name, run in VERSION_RUNS.items()},
}
MARK = re.compile(r"(<!-- generated:(?P<name>[\w-]+) -->)(?P<body>.*?)(<!-- /generated:(?P=name) -->)", re.S)


def render(name: str, results_dir: str | Path = "results") -> str:
    return BLOCKS[name](results_dir)


def update(readme: str, results_dir: str | Path = "results") -> str:
    """The README with every generated block rewritten from the records."""

    def replace(match: re.Match) -> str:
        body = render(match.group("name"), results_dir)
        inline = "\n" not in body
        return match.group(1) + (body if inline else "\n" + body + "\n") + match.group(4)

    return MARK.sub(replace, readme)
