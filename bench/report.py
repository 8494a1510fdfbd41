"""``bench report``: REPORT.md, CSV summaries and figures, from stored records only.

Nothing is re-run. Every number is computed here (or in bench.stats) from the
records; the report never names a winner where the test says not significant.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pandas as pd
from tabulate import tabulate

from . import stats
from .errors import UserError
from .store import load_environment, read_records, resolve_run, run_dirs
from .tidy import throughput_columns, tidy

KEYS = ["dataset", "adapter", "device"]


def fmt(x, digits=3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}g}" if abs(x) < 1e3 else f"{x:,.0f}"
    return str(x)


def table(rows, headers) -> str:
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def load_runs(runs: list[str], results_dir) -> tuple[pd.DataFrame, list[Path]]:
    """Records of the named runs (default: the latest) and their folders."""
    if runs:
        paths = [resolve_run(r, results_dir) for r in runs]
    else:
        all_runs = run_dirs(results_dir, kind="matrix")
        if not all_runs:
            raise UserError(f"No runs under {Path(results_dir) / 'runs'}. Run `bench run` first.")
        paths = [all_runs[-1]]
    records = []
    for path in paths:
        records.extend(read_records(path / "records.jsonl"))
    if not records:
        raise UserError(f"No records in {', '.join(str(p) for p in paths)}.")
    return tidy(pd.DataFrame(records)), paths


# -- sections ------------------------------------------------------------------
def environment_section(paths: list[Path]) -> str:
    lines = []
    for path in paths:
        env = load_environment(path)
        config = json.loads((path / "config.json").read_text()) if (path / "config.json").exists() else {}
        pk = env.get("packages", {})
        versions = ", ".join(f"{k} {v}" for k, v in sorted(pk.items()) if v)
        gpus = (
            "; ".join(f"{g['name']} ({g['memory_mib']} MiB, driver {g['driver']})" for g in env.get("gpus", []))
            or "none"
        )
        blas = ", ".join(
            f"{b.get('internal_api')} {b.get('version')} ({b.get('architecture')})" for b in env.get("blas", [])
        )
        control = env.get("control", {})
        lines += [
            f"### Run `{path.name}`",
            "",
            f"- Machine: {env.get('hostname', '?')} (id {env.get('machine_id', '?')}), CPU {env.get('cpu', {}).get('model', '?')}, "
            f"{env.get('cpu', {}).get('logical_cores', '?')} logical cores, {env.get('memory_gib', '?')} GiB RAM; GPUs: {gpus}",
            f"- OS {env.get('os', {}).get('system', '?')} {env.get('os', {}).get('release', '')}, "
            f"Python {env.get('python', {}).get('version', '?')}; BLAS: {blas or '?'}",
            f"- Versions: {versions or '?'}; project commit {env.get('git_commit') or '?'}",
            f"- Control (raw speed): numpy 256x256 matmul {fmt(control.get('numpy_matmul_256_ms'))} ms, "
            f"pure-Python 200k-add loop {fmt(control.get('python_loop_200k_ms'))} ms",
            f"- Settings: {config.get('splits', '?')} splits from seed {config.get('first_seed', '?')}, "
            f"test size {config.get('test_size', '?')}, {config.get('threads', '?')} thread(s) per framework, "
            f"trial timeout {config.get('trial_timeout_s', '?')} s; timing {json.dumps(config.get('timing', {}), sort_keys=True)}",
            "",
        ]
    return "\n".join(lines)


def status_section(df: pd.DataFrame) -> str:
    rows = []
    for key, g in df.groupby(KEYS, sort=True):
        counts = g["status"].value_counts()
        reasons = sorted({r for r in g.loc[g["status"] != "ok", "reason"] if r})
        rows.append(
            [
                *key,
                *(int(counts.get(s, 0)) for s in ("ok", "skipped", "error", "timeout")),
                "; ".join(r[:160] for r in reasons),
            ]
        )
    return table(rows, ["dataset", "adapter", "device", "ok", "skipped", "error", "timeout", "reasons"])


def accuracy_section(ok: pd.DataFrame) -> str:
    rows = []
    for key, g in ok.groupby(KEYS, sort=True):
        ci = stats.mean_ci(g["accuracy"].dropna())
        rows.append(
            [
                *key,
                ci.n,
                f"{fmt(ci.mean)} [{fmt(ci.low)}, {fmt(ci.high)}]",
                fmt(g["f1_macro"].mean()),
                fmt(g["log_loss"].mean()),
            ]
        )
    return table(rows, ["dataset", "adapter", "device", "splits", "accuracy mean [95% CI]", "macro-F1", "log loss"])


def paired(ok: pd.DataFrame, baseline: str, metric: str):
    """Per (dataset, device, adapter): baseline and adapter values on shared splits."""
    for (dataset, device), g in ok.groupby(["dataset", "device"], sort=True):
        base = g[g["adapter"] == baseline].set_index(["split_seed", "init_seed"])
        for adapter, h in g[g["adapter"] != baseline].groupby("adapter", sort=True):
            other = h.set_index(["split_seed", "init_seed"])
            shared = base.index.intersection(other.index)
            if len(shared) == 0:
                continue
            a = base.loc[shared, metric].astype(float)
            b = other.loc[shared, metric].astype(float)
            yield dataset, device, adapter, a, b, base.loc[shared]


def significance_section(ok: pd.DataFrame, baseline: str) -> str:
    rows = []
    for dataset, device, adapter, a, b, base in paired(ok, baseline, "accuracy"):
        diffs = (b - a).to_numpy()
        if len(diffs) < 2:
            rows.append(
                [dataset, device, adapter, fmt(float(diffs.mean())), "-", "-", "-", "too few splits for a test"]
            )
            continue
        n_train, n_test = int(base["n_train"].iloc[0]), int(base["n_test"].iloc[0])
        res = stats.corrected_resampled_ttest(diffs, n_train, n_test)
        if res.significant:
            verdict = f"{adapter} {'more' if res.mean_diff > 0 else 'less'} accurate (p < 0.05)"
        else:
            verdict = "not significant"
        rows.append(
            [dataset, device, adapter, f"{res.mean_diff:+.3f} [{res.low:+.3f}, {res.high:+.3f}]", f"{res.p:.3f}",
             f"{res.wins}/{res.ties}/{res.losses}", res.n_splits, verdict]
        )  # fmt: skip
    return table(
        rows,
        [
            "dataset",
            "device",
            "adapter",
            f"accuracy - {baseline} [95% CI]",
            "p (corrected)",
            "won/tied/lost",
            "splits",
            "verdict",
        ],
    )


def timing_section(ok: pd.DataFrame) -> tuple[str, list[str]]:
    rows, noisy = [], []
    for key, g in ok.groupby(KEYS, sort=True):
        med, q1, q3 = stats.median_iqr(g["fit_wall_s"].dropna()) if g["fit_wall_s"].notna().any() else (math.nan,) * 3
        lat_p50 = g["latency_p50_us"].median()
        if stats.is_noisy(g["fit_wall_s"].dropna()):
            cv = stats.coefficient_of_variation(g["fit_wall_s"].dropna())
            noisy.append(f"{'/'.join(key)}: fit time varies by {cv:.0%} across splits")
        if stats.is_noisy(g["latency_p50_us"].dropna()):
            cv = stats.coefficient_of_variation(g["latency_p50_us"].dropna())
            noisy.append(f"{'/'.join(key)}: predict p50 varies by {cv:.0%} across trials")
        stock_n = g["stock_latency_n"].median()
        rows.append(
            [*key, f"{fmt(med)} [{fmt(q1)}, {fmt(q3)}]", fmt(g["first_epoch_s"].median()), fmt(g["cold_predict_s"].median() * 1e3),
             fmt(lat_p50), fmt(g["latency_p99_us"].median()), fmt(g["latency_n"].median()),
             fmt(g["stock_latency_p50_us"].median()), fmt(g["stock_latency_p99_us"].median()) + (" (n<100)" if stock_n < 100 else ""),
             fmt(g["import_s"].median())]
        )  # fmt: skip
    headers = ["dataset", "adapter", "device", "fit s median [IQR]", "first epoch s", "first predict ms", "predict p50 us",
               "predict p99 us", "calls", "stock p50 us", "stock p99 us", "import s"]  # fmt: skip
    return table(rows, headers), noisy


def throughput_section(ok: pd.DataFrame) -> str:
    cols = throughput_columns(ok)
    rows = []
    for key, g in ok.groupby(KEYS, sort=True):
        rows.append([*key, *(fmt(g[c].median()) for c in cols)])
    return table(rows, ["dataset", "adapter", "device", *(f"batch {c.split('_')[1]} (samples/s)" for c in cols)])


def memory_section(ok: pd.DataFrame) -> str:
    rows = []
    for key, g in ok.groupby(KEYS, sort=True):
        rows.append(
            [*key, fmt(g["rss_peak_mb"].max()), fmt(g["rss_fit_delta_mb"].median()), fmt(g["gpu_peak_mb"].max())]
        )
    return table(
        rows, ["dataset", "adapter", "device", "peak RSS MiB (trial, max)", "RSS growth in fit MiB", "peak GPU MiB"]
    )


def ratio_section(ok: pd.DataFrame, baseline: str) -> str:
    rows = []
    for metric, label in (("fit_wall_s", "fit time"), ("latency_p50_us", "predict p50")):
        for dataset, device, adapter, a, b, _ in paired(ok, baseline, metric):
            mask = a.notna() & b.notna() & (a > 0) & (b > 0)
            r = stats.ratio_ci(a[mask].to_numpy(), b[mask].to_numpy())
            rows.append(
                [dataset, device, adapter, label, f"{fmt(r.ratio)} [{fmt(r.low)}, {fmt(r.high)}]", r.n, r.verdict()]
            )
    return table(rows, ["dataset", "device", "adapter", "metric", f"ratio to {baseline} [95% CI]", "splits", "verdict"])


def device_section(ok: pd.DataFrame) -> str | None:
    if set(ok["device"]) < {"cpu", "gpu"}:
        return None
    rows = []
    for (dataset, adapter), g in ok.groupby(["dataset", "adapter"], sort=True):
        cpu = g[g["device"] == "cpu"].set_index(["split_seed", "init_seed"])
        gpu = g[g["device"] == "gpu"].set_index(["split_seed", "init_seed"])
        shared = cpu.index.intersection(gpu.index)
        if len(shared) == 0:
            continue
        for metric, label in (("fit_wall_s", "fit time"), ("latency_p50_us", "predict p50")):
            r = stats.ratio_ci(cpu.loc[shared, metric].to_numpy(float), gpu.loc[shared, metric].to_numpy(float))
            rows.append(
                [
                    dataset,
                    adapter,
                    label,
                    f"{fmt(r.ratio)} [{fmt(r.low)}, {fmt(r.high)}]",
                    r.n,
                    r.verdict("GPU faster", "GPU slower"),
                ]
            )
    return table(rows, ["dataset", "adapter", "metric", "GPU / CPU [95% CI]", "splits", "verdict"])


def datasets_section(ok: pd.DataFrame) -> str | None:
    if ok["dataset"].nunique() < 2:
        return None
    parts = []
    for device, g in ok.groupby("device", sort=True):
        means = g.groupby(["adapter", "dataset"])["accuracy"].mean().unstack()
        means = means.dropna(axis=1)
        if means.shape[1] < 2:
            continue
        res = stats.friedman({a: means.loc[a].tolist() for a in means.index})
        rows = [[a, f"{r:.2f}"] for a, r in sorted(res.mean_ranks.items(), key=lambda kv: kv[1])]
        parts.append(
            f"Device {device}, {res.n_datasets} datasets: mean accuracy rank (1 = best)\n\n"
            + table(rows, ["adapter", "mean rank"])
        )
        parts.append(f"Friedman chi2 = {fmt(res.statistic)}, p = {fmt(res.p)}. {res.note}".strip())
    return "\n\n".join(parts) or None


# -- the whole report ------------------------------------------------------------
DEFAULT_BASELINE = "sklearn-lr"


def build_report(
    df: pd.DataFrame, paths: list[Path], baseline: str | None, figures: dict[str, Path], out_dir: Path
) -> str:
    ok = df[df["status"] == "ok"]
    adapters = sorted(df["adapter"].dropna().unique())
    if baseline is None:  # the default: sklearn-lr where it ran, else the first adapter
        baseline = DEFAULT_BASELINE if DEFAULT_BASELINE in adapters or not adapters else adapters[0]
    if baseline not in adapters:
        matches = [a for a in adapters if a.split(":")[0].split("[")[0].split("(")[0] == baseline]
        if len(matches) != 1:
            raise UserError(f"Baseline {baseline!r} is not in these runs. Adapters: {', '.join(adapters)}.")
        baseline = matches[0]
    timing, noisy = timing_section(ok)
    sections = [
        "# Benchmark report",
        "",
        f"Generated {time.strftime('%Y-%m-%d %H:%M:%S %Z')} by `bench report` from {len(df)} stored records "
        f"({', '.join(f'`{p.name}`' for p in paths)}). Nothing here was re-run; every number is computed from the records.",
        "",
        "## Environment and settings",
        "",
        environment_section(paths),
        "## Trials",
        "",
        status_section(df),
        "",
        "## Accuracy",
        "",
        accuracy_section(ok),
        "",
        f"### Is the difference real? Paired over the same splits, against `{baseline}`",
        "",
        "Nadeau-Bengio corrected resampled t-test: the splits overlap, so the variance of the per-split differences is "
        "scaled by (1/J + n_test/n_train), not 1/J. The plain paired t-test over such splits is badly over-confident "
        "and is not used. 'not significant' means these splits cannot tell the models apart.",
        "",
        significance_section(ok, baseline),
        "",
        "## Time",
        "",
        "Fit: wall time of `fit` (median and interquartile range over splits). First predict: the first call on one "
        "sample after fit (includes tracing/compilation). Predict p50/p99: one sample per call, after warm-up, through "
        "the adapter's path; stock: the framework's plain API (Keras `model.predict`, a torch module call with autograd on). "
        "p99 over fewer than 100 calls is marked (n<100): too few calls for a tail estimate.",
        "",
        timing,
        "",
        f"### Ratios to `{baseline}` (geometric mean of per-split ratios, bootstrap 95% CI)",
        "",
        ratio_section(ok, baseline),
        "",
        "### Throughput (median over trials)",
        "",
        throughput_section(ok),
        "",
        "### Memory",
        "",
        memory_section(ok),
        "",
    ]
    device = device_section(ok)
    if device:
        sections += ["### GPU vs CPU", "", device, ""]
    across = datasets_section(ok)
    if across:
        sections += ["## Across datasets", "", across, ""]
    if "workers_on_host" in df.columns:
        shared = ok[pd.to_numeric(ok["workers_on_host"], errors="coerce").fillna(1) > 1]
        if len(shared):
            counts = shared.groupby("machine")["workers_on_host"].agg(["count", "max"]).reset_index()
            sections += [
                "## Shared machines",
                "",
                "These records ran while other Dask workers shared their host, so their timings may include "
                "contention (accuracy is unaffected). For timing runs, start one single-threaded worker per machine.",
                "",
                table(
                    [[m, int(c), int(mx)] for m, c, mx in counts.to_numpy()], ["machine", "records", "workers on host"]
                ),
                "",
            ]
    if noisy:
        sections += [
            "## Noisy measurements",
            "",
            "These vary by more than 10% (pyperf's threshold); treat their ratios with care. Advice: close other "
            "programs, keep `threads` at or below the physical cores, and raise the timing budgets in the config.",
            "",
            *(f"- {n}" for n in noisy),
            "",
        ]
    if figures:
        sections += ["## Figures", ""]
        for title, path in figures.items():
            sections.append(f"![{title}]({path.relative_to(out_dir).as_posix()})")
            sections.append("")
    return "\n".join(sections).rstrip() + "\n"


def summary_csv(df: pd.DataFrame) -> pd.DataFrame:
    ok = df[df["status"] == "ok"]
    cols = ["accuracy", "f1_macro", "log_loss", "fit_wall_s", "cold_predict_s", "latency_p50_us", "latency_p99_us",
            "stock_latency_p50_us", *throughput_columns(ok), "rss_peak_mb"]  # fmt: skip
    return ok.groupby(KEYS, sort=True)[cols].median().reset_index()


def write_report(runs: list[str], results_dir, baseline: str | None = None, out_dir=None) -> Path:
    """Regenerate REPORT.md, CSVs and figures under ``out_dir`` (default: results_dir)."""
    from . import plots

    df, paths = load_runs(runs, results_dir)
    out = Path(out_dir or results_dir)
    fig_dir = out / "figures"
    figures = plots.report_figures(df, fig_dir)
    text = build_report(df, paths, baseline, figures, out)
    out.mkdir(parents=True, exist_ok=True)
    summary_csv(df).to_csv(out / "summary.csv", index=False, float_format="%.6g")
    cols = [
        c
        for c in df.columns
        if c
        not in (
            "latency_raw_ns",
            "stock_latency_raw_ns",
            "latency",
            "stock_latency",
            "throughput_sps",
            "params",
            "threads",
            "traceback",
            "warnings",
        )
    ]
    df[cols].sort_values("trial_id").to_csv(out / "trials.csv", index=False, float_format="%.6g")
    path = out / "REPORT.md"
    path.write_text(text)
    return path
