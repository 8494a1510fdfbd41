"""The two sides of a comparison: a run, one environment of it (``RUN%NAME``) or one machine of it
(``RUN@host``), with what the comparison needs to know about each (records, machine, controls, when).

Read through the one loader (:mod:`hello_bench.analysis.load`) and the one run-folder reader; nothing here
computes a statistic. :func:`relation` says what the two sides are to each other, which decides what a
comparison may do: a **duet** (two environments of one run, interleaved on one machine: pairing on the
split is valid, no normalisation, no noise floor), **hosts** (two machines of one run: their raw speeds
differ, so machine-dependent ratios are also shown normalised by the control ratio) or **separate** runs
(each run's machine state is shared by all its splits: normalised ratios, the noise floor, and the
machine's run-to-run variance for the gate).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from hello_bench.analysis import noise
from hello_bench.analysis.load import Loaded, load_runs, split_ref
from hello_bench.errors import UserError
from hello_bench.store.reader import RunFolder

DUET, HOSTS, SEPARATE = "duet", "hosts", "separate"
#: Environment keys that differ between any two runs and say nothing about the comparison.
SKIP_ENV_KEYS = ("load_average", "python.executable", "control.", "git_commit", "hostname")


@dataclass
class Side:
    """One side: its name as given, its run folder, its tidy frame, and its machine's fingerprint."""

    name: str
    path: Path
    frame: pd.DataFrame
    env: dict
    notes: list[str] = field(default_factory=list)

    @property
    def host(self) -> str | None:
        """The host a side names (``RUN@host``), or None."""
        return self.name.partition("@")[2] or None

    @property
    def machine(self) -> tuple[str, str]:
        """The machine it ran on: hardware id and hostname."""
        return str(self.env.get("machine_id")), str(self.env.get("hostname"))

    @property
    def threads(self) -> int:
        threads = RunFolder(self.path).config().get("threads", 1)
        return threads if isinstance(threads, int) and not isinstance(threads, bool) else 1

    def span(self) -> tuple[float, float]:
        """(first start, last end) of its trials, in Unix seconds (NaN when unrecorded)."""
        times = []
        for column in ("started_at", "finished_at"):
            values = self.frame[column].dropna() if column in self.frame.columns else pd.Series(dtype=float)
            values = values.map(lambda t: t.timestamp() if hasattr(t, "timestamp") else float(t))
            times.append(values)
        start = float(times[0].min()) if len(times[0]) else math.nan
        end = float(times[1].max()) if len(times[1]) else start
        return start, end

    def controls(self) -> list[dict]:
        """Its control measurements: its host's rounds, else the run's rounds, else before/after, else the fingerprint's."""
        folder = RunFolder(self.path)
        stored = folder.control()
        rounds = [r for r in stored.get("rounds", []) if isinstance(r, dict) and r.get("host") == self.host]
        if rounds or self.host is not None:
            return rounds
        entries = [stored[w] for w in ("before", "after") if isinstance(stored.get(w), dict)]
        if not entries and isinstance(folder.environment().get("control"), dict):
            entries = [folder.environment()["control"]]
        return entries

    def speed(self) -> list[float]:
        """Its controls' speed indices (ms; lower is faster)."""
        return [noise.speed_index(e, self.threads) for e in self.controls()]

    def floor(self) -> noise.Floor:
        return noise.run_floor(self.controls(), self.threads)


def load_side(run: str, results_dir: str | Path) -> Side:
    """A run, one environment of it with ``RUN%NAME``, or one machine of it with ``RUN@host``."""
    run_id, at, host = run.partition("@")
    if at and not host.strip():
        raise UserError(f"{run!r}: name the host after '@' (RUN@host), or leave '@' out for every host of the run.")
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
        env = {
            **env,
            "packages": built.get("packages", env.get("packages", {})),
            "environment": environment,
            "requirements": "; ".join(map(str, built.get("requirements") or [])) or "-",
        }  # what it was built from
    if host:
        df, env = _one_host(df, folder, path, host, env)
    return Side(run, path, df, env, loaded.notes)


def _one_host(df: pd.DataFrame, folder: RunFolder, path: Path, host: str, env: dict) -> tuple[pd.DataFrame, dict]:
    from hello_bench.names import machine_key

    machines = sorted(map(str, df["machine"].dropna().unique()))
    df = df[df["machine"] == host].copy()
    if df.empty:
        raise UserError(f"Run {path.name!r} has no records from machine {host!r}. Machines: {', '.join(machines)}.")
    df["device"] = df["device"].str.replace(f"@{host}", "", regex=False)
    ids = df["machine_id"].dropna().unique() if "machine_id" in df.columns else []
    found = {machine_key({"machine_id": ids[0], "hostname": host})} if len(ids) else set()
    fingerprints = [e for k, e in folder.environments().items() if k in found or e.get("hostname") == host]
    return df, (fingerprints[0] if fingerprints else env)


def same_records(a: Side, b: Side) -> bool:
    """Two sides naming the same records (``RUN`` twice, ``RUN%a`` twice, ``./results/runs/RUN`` and ``RUN``)."""
    keys = ["run_id", "trial_id", "device"]
    if a.path.resolve() != b.path.resolve() or len(a.frame) != len(b.frame):
        return False
    ordered = [s.frame[keys].astype(str).sort_values(keys).reset_index(drop=True) for s in (a, b)]
    return bool(ordered[0].equals(ordered[1]))


def relation(a: Side, b: Side) -> str:
    """``duet`` (one run, one machine), ``hosts`` (one run, two machines) or ``separate`` (two runs)."""
    if a.path.resolve() != b.path.resolve():
        return SEPARATE
    return DUET if a.host == b.host else HOSTS


# -- what differs between A and B, beyond the metrics ----------------------------------------------
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


def environment_differences(env_a: dict, env_b: dict) -> list[tuple[str, str, str]]:
    """(field, A, B) for every fingerprint field that differs, apart from those that always do."""
    a, b = _flatten(env_a), _flatten(env_b)
    return [(key, _clip(a.get(key, "-")), _clip(b.get(key, "-")))
            for key in sorted(set(a) | set(b)) if not key.startswith(SKIP_ENV_KEYS) and a.get(key) != b.get(key)]  # fmt: skip


def _clip(value: object, width: int = 80) -> str:
    """A value shortened in its middle: two URLs of one project differ at their ends (a commit, a path)."""
    text = str(value)
    return text if len(text) <= width else f"{text[: width // 2 - 1]}…{text[-(width // 2 - 1) :]}"


def design_differences(a: pd.DataFrame, b: pd.DataFrame, keys: list[str]) -> list[str]:
    """How the two sides' designs differ where a metric would otherwise just look missing: the split sizes
    (another ``test_size``), and an adapter name that resolved to another class on each side."""
    found = []
    for column, what in (("test_size", "test size"), ("stratify", "stratification")):
        va, vb = _values(a, column), _values(b, column)
        if va and vb and va != vb:
            found.append(f"the splits differ: {what} {', '.join(va)} in A, {', '.join(vb)} in B (no split pairs)")
    if "adapter_class" in a.columns and "adapter_class" in b.columns:
        ca = a.dropna(subset=["adapter_class"]).groupby("adapter")["adapter_class"].agg(lambda s: sorted(set(s)))
        cb = b.dropna(subset=["adapter_class"]).groupby("adapter")["adapter_class"].agg(lambda s: sorted(set(s)))
        for adapter in sorted(set(ca.index) & set(cb.index)):
            if ca[adapter] != cb[adapter]:
                found.append(f"adapter {adapter!r} is another class on each side: {', '.join(ca[adapter])} in A, "
                             f"{', '.join(cb[adapter])} in B")  # fmt: skip
    return found


def _values(frame: pd.DataFrame, column: str) -> list[str]:
    if column not in frame.columns:
        return []
    return sorted({f"{v:g}" if isinstance(v, float) else str(v) for v in frame[column].dropna()})


def unmatched(side: pd.DataFrame, other: pd.DataFrame, keys: list[str]) -> list[tuple[str, int, str]]:
    """(trials, count, statuses) of ``side``'s trials with no ok counterpart in ``other`` (by keys and split)."""
    ok_other = other[other["status"] == "ok"]
    matched = set(map(tuple, ok_other[[*keys, "split_seed"]].astype(str).to_numpy().tolist()))
    own = side[[*keys, "split_seed"]].astype(str).to_numpy().tolist()
    rows = side[[tuple(k) not in matched or s != "ok" for k, s in zip(own, side["status"])]]
    return [("/".join(map(str, key)), len(g), ", ".join(f"{c} {s}" for s, c in sorted(g["status"].value_counts().items())))
            for key, g in rows.groupby(["dataset", "adapter", "device"], sort=True)]  # fmt: skip


def _history_or(variance: Any, results_dir: str | Path, config: dict, env: dict, compared: tuple[Path, Path],
                starts: tuple[float, float]) -> Any:  # fmt: skip
    """The stored history's run-to-run variance where it is usable, else ``variance`` (the calibration's reason).

    The history is other runs the user did not name: one of them damaged is a reason it cannot be used, never an
    error that stops the comparison of the two that were named."""
    import warnings

    from hello_bench.analysis.separate import from_stored_history

    try:
        with warnings.catch_warnings():  # a torn last line in a run nobody named: not the user's question here
            warnings.simplefilter("ignore")
            history = from_stored_history(results_dir, config, env, compared, starts)
    except UserError as err:
        variance.why = f"{variance.why}; the stored history of this matrix cannot be read ({err})"
        return variance
    if history.why is None:
        return history
    variance.why = f"{variance.why}; {history.why}"  # neither source usable: both reasons
    return variance


def context_for(a: Side, b: Side, keys: list[str], calibration: str | None, results_dir: str | Path) -> Any:
    """What the two sides bring to their comparison: relation, control ratio, noise floor, run-to-run variance."""
    from hello_bench.analysis.comparison import Context
    from hello_bench.analysis.separate import find_calibration, within_span

    kind = relation(a, b)
    context = Context(kind, design=design_differences(a.frame, b.frame, keys))
    if (
        calibration is not None and kind != SEPARATE
    ):  # a name is checked wherever given, though only separate runs use it
        find_calibration(results_dir, a.env, b.env, calibration)
    if kind == DUET:
        return context
    context.control = noise.control_ratio(a.speed(), b.speed())
    if kind == SEPARATE:
        context.floor = noise.combined(a.floor(), b.floor())
        starts = (a.span()[0], b.span()[0])  # from the loaded frames: reading the records again cost GBs at 100k
        apart = abs(starts[1] - starts[0])
        variance = within_span(find_calibration(results_dir, a.env, b.env, calibration), apart)
        config = RunFolder(a.path).config()
        if variance.why is not None and calibration is None and config == RunFolder(b.path).config():
            variance = _history_or(variance, results_dir, config, a.env, (a.path, b.path), starts)
        context.variance = variance
    return context
