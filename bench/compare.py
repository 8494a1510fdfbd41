"""``bench compare A B [C ...]``: one baseline run against each other run.

Typical uses: two machines, CPU vs GPU, two library versions. Trials are
matched on dataset, adapter (with its parameters), split and init seed (and
device, unless ``--ignore-device``); whatever cannot be matched is listed.
Time ratios are B/A as the geometric mean of per-trial ratios with a
bootstrap CI, read with a verdict: faster, slower or no difference.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from . import stats
from .errors import UserError
from .report import fmt, table
from .store import load_environment, read_records, resolve_run
from .tidy import tidy

#: metric column, label, whether smaller is better
METRICS = [
    ("fit_wall_s", "fit time", True),
    ("cold_predict_s", "first predict", True),
    ("latency_p50_us", "predict p50", True),
    ("latency_p99_us", "predict p99", True),
    ("stock_latency_p50_us", "stock predict p50", True),
    ("tput_1", "throughput batch 1", False),
    ("tput_32", "throughput batch 32", False),
]
SKIP_ENV_KEYS = ("load_average", "python.executable", "control.", "git_commit")


def _flatten(d, prefix=""):
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
    rows = []
    for key in sorted(set(a) | set(b)):
        if any(key.startswith(s) for s in SKIP_ENV_KEYS):
            continue
        if a.get(key) != b.get(key):
            rows.append([key, str(a.get(key, "-"))[:80], str(b.get(key, "-"))[:80]])
    return rows


def _load(run: str, results_dir) -> tuple[pd.DataFrame, dict, Path, str]:
    """Records of ``run``, or of one machine of it with ``run@host``."""
    run_id, _, host = run.partition("@")
    path = resolve_run(run_id, results_dir)
    records = read_records(path / "records.jsonl")
    if not records:
        raise UserError(f"Run {path.name!r} has no records.")
    df = tidy(pd.DataFrame(records))
    env = load_environment(path)
    if host:
        df = df[df["machine"] == host].copy()
        if df.empty:
            known = ", ".join(sorted(map(str, tidy(pd.DataFrame(records))["machine"].dropna().unique())))
            raise UserError(f"Run {path.name!r} has no records from machine {host!r}. Machines: {known}.")
        df["device"] = df["device"].str.replace(f"@{host}", "", regex=False)
        machine_ids = df["machine_id"].dropna().unique() if "machine_id" in df.columns else []
        env_file = path / "environments" / f"{machine_ids[0]}.json" if len(machine_ids) else None
        if env_file is not None and env_file.exists():
            env = json.loads(env_file.read_text())
    return df, env, path, run


def match(a: pd.DataFrame, b: pd.DataFrame, ignore_device: bool):
    """Matched ok-trials (joined frame) and the unmatched trial ids of each side."""
    key = ["dataset", "adapter", "split_seed", "init_seed"] + ([] if ignore_device else ["device"])
    a_ok, b_ok = a[a["status"] == "ok"], b[b["status"] == "ok"]
    joined = a_ok.merge(b_ok, on=key, suffixes=("_a", "_b"))
    matched = set(map(tuple, joined[key].to_numpy().tolist()))

    def unmatched(df):
        rows = df[[tuple(k) not in matched for k in df[key].to_numpy().tolist()]]
        return [[f"{d}/{ad}/{dev}", n, ", ".join(f"{c} {s}" for s, c in sorted(g["status"].value_counts().items()))]
                for (d, ad, dev), g in rows.groupby(["dataset", "adapter", "device"], sort=True)
                for n in [len(g)]]  # fmt: skip

    return joined, unmatched(a), unmatched(b)


def ratio_rows(joined: pd.DataFrame, ignore_device: bool) -> tuple[list[list], pd.DataFrame]:
    rows, heat = [], []
    group_cols = ["dataset", "adapter"] + ([] if ignore_device else ["device"])
    for key, g in joined.groupby(group_cols, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        label = "/".join(map(str, key))
        acc = stats.mean_ci((g["accuracy_b"] - g["accuracy_a"]).to_numpy(float))
        rows.append([label, "accuracy (B - A)", f"{acc.mean:+.3f} [{fmt(acc.low)}, {fmt(acc.high)}]", acc.n,
                     "no difference" if (acc.n < 2 or math.isnan(acc.low) or acc.low <= 0 <= acc.high) else ("higher" if acc.mean > 0 else "lower")])  # fmt: skip
        for col, name, smaller_better in METRICS:
            if f"{col}_a" not in g or f"{col}_b" not in g:
                continue
            a, b = g[f"{col}_a"].to_numpy(float), g[f"{col}_b"].to_numpy(float)
            mask = np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0)
            if mask.sum() == 0:
                continue
            r = stats.ratio_ci(a[mask], b[mask])
            verdict = r.verdict("faster", "slower") if smaller_better else r.verdict("slower", "faster")
            rows.append([label, f"{name} (B/A)", f"{fmt(r.ratio)} [{fmt(r.low)}, {fmt(r.high)}]", r.n, verdict])
            heat.append({"trials": label, "metric": name, "ratio": r.ratio})
    return rows, pd.DataFrame(heat)


def heatmap(heat: pd.DataFrame, path: Path, title: str) -> Path | None:
    if heat.empty:
        return None
    from .plots import plt, sns

    grid = heat.pivot(index="trials", columns="metric", values="ratio")
    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * grid.shape[1], 1.2 + 0.6 * grid.shape[0]))
    sns.heatmap(np.log2(grid), annot=grid.map(lambda v: f"{v:.2f}x"), fmt="", center=0, cmap="vlag", ax=ax,
                cbar_kws={"label": "log2(B/A): > 0 means B takes longer / serves more"})  # fmt: skip
    ax.set(title=title, xlabel="", ylabel="")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return path


def compare_runs(runs: list[str], results_dir="results", out_dir=None, ignore_device: bool = False) -> Path:
    """Write ``COMPARE-<A>-vs-<B>.md`` (and a heatmap per pair); return the Markdown path."""
    if len(runs) < 2:
        raise UserError("bench compare needs at least two runs: a baseline and one to compare with it.")
    out = Path(out_dir or results_dir)
    base_df, base_env, base_path, base_name = _load(runs[0], results_dir)
    others = [_load(r, results_dir) for r in runs[1:]]
    names = [base_name.replace("/", "_")] + [n.replace("/", "_") for *_, n in others]
    sections = [
        f"# Comparison: `{base_name}` (A) against {', '.join(f'`{n}`' for *_, n in others)} (B)",
        "",
        f"Generated {time.strftime('%Y-%m-%d %H:%M:%S %Z')} by `bench compare` from stored records. Ratios are B/A "
        "(geometric mean of per-trial ratios, bootstrap 95% CI over matched trials); 'no difference' when the CI contains 1.",
        "",
    ]
    for df, env, path, name in others:
        joined, only_a, only_b = match(base_df, df, ignore_device)
        ctrl_a, ctrl_b = base_env.get("control", {}), env.get("control", {})
        sections += [f"## `{base_name}` (A) vs `{name}` (B)", "", "### Environment differences", ""]
        diffs = environment_differences(base_env, env)
        sections.append(table(diffs, ["field", "A", "B"]) if diffs else "None recorded.")
        sections += ["", "### Raw machine speed (control measurement, B/A; < 1 means B is faster)", ""]
        ctrl_rows = [[k, fmt(ctrl_a.get(k)), fmt(ctrl_b.get(k)), fmt(ctrl_b[k] / ctrl_a[k]) if ctrl_a.get(k) and ctrl_b.get(k) else "-"]
                     for k in sorted(set(ctrl_a) | set(ctrl_b))]  # fmt: skip
        sections.append(table(ctrl_rows, ["measurement (ms)", "A", "B", "B/A"]) if ctrl_rows else "Not recorded.")
        rows, heat = ratio_rows(joined, ignore_device)
        sections += ["", f"### Matched trials ({len(joined)})", ""]
        sections.append(
            table(rows, ["trials", "metric", "value [95% CI]", "pairs", "verdict"])
            if rows
            else "No trials could be matched."
        )
        fig = heatmap(
            heat,
            out / "figures" / f"compare-{base_path.name}-vs-{path.name}.png",
            f"B/A: {path.name} vs {base_path.name}",
        )
        if fig:
            sections += ["", f"![ratios]({fig.relative_to(out).as_posix()})"]
        sections += ["", "### Not matched (listed, not dropped silently)", ""]
        if not only_a and not only_b:
            sections.append("Every trial was matched.")
        else:
            rows = [["A only", *r] for r in only_a] + [["B only", *r] for r in only_b]
            sections.append(table(rows, ["side", "trials", "count", "statuses"]))
        sections.append("")
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"COMPARE-{'-vs-'.join(names)}.md"
    path.write_text("\n".join(sections).rstrip() + "\n")
    return path
