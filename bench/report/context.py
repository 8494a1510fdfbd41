"""Report sections about where and how the runs ran: machines, settings, controls, trial statuses."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hello_bench.report.document import Doc
from hello_bench.store.reader import RunFolder

KEYS = ["dataset", "adapter", "device"]


def run_configs(paths: list[Path]) -> list[dict]:
    return [RunFolder(p).config() for p in paths]


def quick_banner(doc: Doc, configs: list[dict]) -> None:
    """``--quick`` runs say at the top that their numbers are not comparable to full runs."""
    quick = [c for c in configs if c.get("quick")]
    if quick:
        doc.para(
            "**Quick run: not comparable.** These records come from `bench run --quick` (few splits, MLPs at a "
            "larger batch size and fewer epochs than the post). Their accuracies and times check that everything "
            "works; do not compare them with full runs or draw conclusions from them."
        )


#: Settings shown in the settings table, in this order, with how to read them.
SETTINGS = (
    ("splits", "seeded splits"), ("first_seed", "first split seed"), ("init_seeds", "init seeds per split (0: the split's own)"),
    ("test_size", "test share of each split"), ("stratify", "stratified splits"), ("threads", "threads per framework"),
    ("devices", "devices asked"), ("interleave", "trials interleaved across adapters"), ("trial_timeout_s", "trial timeout, s"),
    ("startup_timeout_s", "worker start-up allowance, s"), ("quick", "quick run (not comparable)"),
)  # fmt: skip


def _word(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "-"
    return "-" if value is None else str(value)


def environment(doc: Doc, paths: list[Path], selected: dict[str, str] | None = None) -> None:
    """Where each run ran and with which settings, as two readable tables (a column per run). A run
    restricted to one environment (``RUN%NAME``) shows that environment's packages, not the parent's."""
    doc.heading("Environment and settings")
    selected = selected or {}
    envs = [_environment_of(RunFolder(p), selected.get(p.name)) for p in paths]
    configs = [RunFolder(p).config() for p in paths]
    names = [f"`{p.name}%{selected[p.name]}`" if p.name in selected else f"`{p.name}`" for p in paths]
    doc.table(["machine", *names], _machine_rows(envs), "environment")
    rows = [[label, *(_word(c.get(key)) for c in configs)] for key, label in SETTINGS if any(key in c for c in configs)]
    grown = [_splits(RunFolder(p), c) for p, c in zip(paths, configs)]
    if any("configured" in g for g in grown):  # --until-precise added splits: say how many and why it stopped
        rows.insert(1, ["splits run (--until-precise)", *grown])
    timing_keys = sorted({k for c in configs for k in (c.get("timing") or {})})
    rows += [[f"timing: {k}", *(_word((c.get("timing") or {}).get(k)) for c in configs)] for k in timing_keys]
    doc.table(["setting", *names], rows, "settings")
    for path, env in zip(paths, envs):
        controls(doc, path, env)


def _environment_of(folder: RunFolder, name: str | None) -> dict:
    env = folder.environment()
    if name is None:
        return env
    built = (folder.info().get("environments") or {}).get(name) or {}
    return {**env, "packages": built.get("packages") or {}}


def _machine_rows(envs: list[dict]) -> list[list]:
    def gpus(env: dict) -> str:
        return (
            "; ".join(f"{g['name']} ({g['memory_mib']} MiB, driver {g['driver']})" for g in env.get("gpus", []))
            or "none"
        )

    def blas(env: dict) -> str:
        return (
            ", ".join(
                " ".join(str(v) for v in (b.get("internal_api"), b.get("version")) if v) for b in env.get("blas", [])
            )
            or "?"
        )

    rows = [
        ["host", *(f"{e.get('hostname', '?')} (id {e.get('machine_id', '?')})" for e in envs)],
        ["CPU", *(f"{e.get('cpu', {}).get('model', '?')}, {e.get('cpu', {}).get('logical_cores', '?')} logical cores" for e in envs)],
        ["memory GiB", *(str(e.get("memory_gib", "?")) for e in envs)],
        ["GPUs", *(gpus(e) for e in envs)],
        ["OS", *(f"{e.get('os', {}).get('system', '?')} {e.get('os', {}).get('release', '')}" for e in envs)],
        ["Python", *(str(e.get("python", {}).get("version", "?")) for e in envs)],
        ["BLAS", *(blas(e) for e in envs)],
        ["project commit", *(str(e.get("git_commit") or "?")[:12] for e in envs)],
    ]  # fmt: skip
    packages = sorted({k for e in envs for k, v in (e.get("packages") or {}).items() if v})
    return rows + [[name, *(str((e.get("packages") or {}).get(name) or "-") for e in envs)] for name in packages]


def _splits(folder: RunFolder, config: dict) -> str:
    """The configured splits, and those --until-precise added (run.json's ``until_precise``)."""
    grown = folder.info().get("until_precise")
    if not isinstance(grown, dict):
        return f"{config.get('splits', '?')} splits"
    widest = grown.get("widest_pct")
    return (f"{grown.get('splits', '?')} splits ({config.get('splits', '?')} configured, then added until every timing "
            f"interval was narrower than {grown.get('target_pct', '?')}% or {grown.get('max_time_s', '?')} s ran out: "
            f"{grown.get('stopped', '?')}, widest {widest if widest is None else f'{widest:.1f}'}%)")  # fmt: skip


def controls(doc: Doc, path: Path, env: dict) -> None:
    """Raw machine speed in a worker at the trials' thread count: before, every round, after (hello_bench.report.noise)."""
    from hello_bench.report.noise import controls as table

    table(doc, path)


def status(doc: Doc, df: pd.DataFrame) -> None:
    doc.heading("Trials")
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
    doc.table(["dataset", "adapter", "device", "ok", "skipped", "error", "timeout", "reasons"], rows, "trials")
