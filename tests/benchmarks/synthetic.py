"""Synthetic runs for read-side scale benchmarks: the records of a reference run, repeated over many splits.

Each of the template run's records (adapters, devices, curves, serving paths, raw latencies) is repeated
over ``n / len(template)`` splits, with its numbers jittered and the split's identity renewed, so the read
side sees ``n`` distinct, valid trials written by the real store.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

from hello_bench import record as rec
from hello_bench.store.reader import RunFolder
from hello_bench.store.writer import RunStore

ROOT = Path(__file__).resolve().parents[2]


def jitter(value: Any, rng: random.Random) -> Any:
    if isinstance(value, float):
        return value * rng.uniform(0.9, 1.1)
    if isinstance(value, dict):
        return {k: jitter(v, rng) for k, v in value.items()}
    if isinstance(value, list):
        return [jitter(v, rng) for v in value]
    return value


def within_ranges(fields: dict) -> dict:
    """Jittered values kept inside their metrics' valid ranges (an accuracy of 1.0 jittered up stays 1.0)."""
    for m in rec.metrics():
        value = fields.get(m.path[0])
        if len(m.path) == 1 and isinstance(value, float):
            low, high = m.valid or (-float("inf"), float("inf"))
            fields[m.path[0]] = min(max(value, low), high)
    return fields


def make_run(n: int, results_dir: Path, run_id: str, template: str = "reference-full-cpu-2core", seed: int = 0) -> Path:
    """Write (or complete) run ``run_id`` with ``n`` trials made from ``template``'s records; ``seed`` jitters the
    numbers (two runs of one ``n`` and two seeds hold the same trials and splits with other numbers: a comparison)."""
    source = RunFolder.resolve(template, ROOT / "results")
    templates = source.records()
    raw = source.raw()
    config = dict(source.config(), splits=max(1, -(-n // len(templates))), description="synthetic")
    rng = random.Random(seed)
    with RunStore.open(
        results_dir, run_id, config, source.environment(), info={"synthetic_from": source.run_id}
    ) as store:
        for i in range(len(store.folder.records()), n):
            t = templates[i % len(templates)]
            split = (i // len(templates)) * 1000 + int(t["split_seed"])  # distinct from every other trial's split
            base_id = t["trial_id"].rsplit("/split-", 1)[0]
            fields = {k: v for k, v in t.items() if k not in rec.RAW_FIELDS}
            fields.update(jitter({k: v for k, v in fields.items() if k not in ("trial_id", "run_id", "params")}, rng))
            fields.update(trial_id=f"{base_id}/split-{split:07d}", run_id=run_id, split_seed=split, init_seed=split,
                          schema_version=rec.SCHEMA_VERSION,
                          test_rows_sha=hashlib.sha1(f"rows-{split}".encode()).hexdigest()[:16])  # fmt: skip
            arrays = {k: t[k] for k in rec.RAW_FIELDS if isinstance(t.get(k), list)} or raw.get(t["trial_id"], {})
            store.append(rec.build(within_ranges(fields)), arrays or None)
        return store.path
