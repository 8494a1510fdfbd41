"""Report sections about where and how the runs ran: machines, settings, controls, trial statuses."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bench.report.document import Doc
from bench.store.reader import RunFolder

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


def environment(doc: Doc, paths: list[Path]) -> None:
    doc.heading("Environment and settings")
    for path in paths:
        env = RunFolder(path).environment()
        config = RunFolder(path).config()
        pk = env.get("packages", {})
        versions = ", ".join(f"{k} {v}" for k, v in sorted(pk.items()) if v)
        gpus = (
            "; ".join(f"{g['name']} ({g['memory_mib']} MiB, driver {g['driver']})" for g in env.get("gpus", []))
            or "none"
        )
        blas = ", ".join(
            f"{b.get('internal_api')} {b.get('version')} ({b.get('architecture')})" for b in env.get("blas", [])
        )
        cpu = env.get("cpu", {})
        timing = json.dumps(config.get("timing", {}), sort_keys=True)
        doc.heading(f"Run `{path.name}`", 3)
        doc.bullets([
            f"Machine: {env.get('hostname', '?')} (id {env.get('machine_id', '?')}), CPU {cpu.get('model', '?')}, "
            f"{cpu.get('logical_cores', '?')} logical cores, {env.get('memory_gib', '?')} GiB RAM; GPUs: {gpus}",
            f"OS {env.get('os', {}).get('system', '?')} {env.get('os', {}).get('release', '')}, "
            f"Python {env.get('python', {}).get('version', '?')}; BLAS: {blas or '?'}",
            f"Versions: {versions or '?'}; project commit {env.get('git_commit') or '?'}",
            f"Settings: {_splits(RunFolder(path), config)} from seed {config.get('first_seed', '?')}"
            f"{', ' + str(config.get('init_seeds')) + ' init seeds per split' if config.get('init_seeds') else ''}, "
            f"test size {config.get('test_size', '?')}, {'stratified' if config.get('stratify', True) else 'unstratified'} splits, "
            f"{config.get('threads', '?')} thread(s) per framework, trials {'interleaved across adapters' if config.get('interleave', True) else 'group by group'}, "
            f"trial timeout {config.get('trial_timeout_s', '?')} s; timing {timing}",
        ])  # fmt: skip
        controls(doc, path, env)


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
    """Raw machine speed in a worker at the trials' thread count: before, every round, after (bench.report.noise)."""
    from bench.report.noise import controls as table

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
