"""The commands: one function per subcommand, each taking the parsed arguments and returning an exit status.

The parser (:mod:`hello_bench.cli`) builds the arguments; everything a command
does goes through the harness's modules. A :class:`~hello_bench.errors.UserError`
raised here becomes one line on stderr (``error: ...``) in :func:`hello_bench.cli.main`.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from hello_bench.errors import UserError

#: Exit statuses, documented in ``bench --help`` and the README.
EXIT = {
    "ok": 0,
    "bad input": 1,
    "usage": 2,
    "trials failed": 3,  # some trial ended in error or timeout
    "regression": 4,  # bench compare's gate: FAIL (a metric worse than the threshold, with confidence)
    "inconclusive": 5,  # bench compare's gate: INCONCLUSIVE (it could not decide; the line says why)
    "interrupted": 130,
}
EXIT_HELP = (
    "exit status: 0 ok (bench compare's gate: PASS); 1 bad input (one line on stderr, nothing written); 2 bad "
    "usage; 3 some trial ended in error or timeout (bench run, bench seed, bench scale, bench calibrate); 4 bench "
    "compare's gate: FAIL; 5 bench compare's gate: INCONCLUSIVE (the line says why); 130 interrupted (Ctrl-C)."
)


QUICK_NOTE = (
    "Quick run: a smoke check (few splits, faster MLP settings); its numbers are not comparable with full runs."
)


def _json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, default=str))


def _csv(text: str | None, what: str) -> list[str] | None:
    """A comma-separated flag: None when not given; an empty or blank list is an error, not a default."""
    if text is None:
        return None
    parts = [part.strip() for part in text.split(",")]
    if not any(parts) or not all(parts):
        raise UserError(f"--{what} {text!r}: expected a comma-separated list with no empty entries.")
    return parts


# -- run ---------------------------------------------------------------------------
def resolve_config(args: argparse.Namespace) -> tuple[Any, list[str]]:
    """The config a ``run`` command asks for (file or built-in, then flags; validated), and what was chosen for it
    (``max_fit_steps``), said once nothing can be refused any more."""
    from hello_bench.run.config import AdapterSpec, env_flags, parse_environments, validate, with_overrides
    from hello_bench.run.config_files import builtin_config_path, load_config

    if args.config and args.quick:
        raise UserError("Use either --config or --quick, not both.")
    environments = parse_environments(env_flags(args.env), "--env") if args.env else None
    config = load_config(args.config or builtin_config_path("quick" if args.quick else "default"), environments)
    adapters = _csv(args.adapters, "adapters")
    if adapters and config.quick:
        # --quick's adapters carry quick settings (batch 16, few epochs): keep them for named adapters too.
        quick = {spec.name: spec for spec in config.adapters}
        specs: tuple | None = tuple(_with_quick(AdapterSpec.parse(a), quick) for a in adapters)
    else:
        specs = tuple(AdapterSpec.parse(a) for a in adapters) if adapters else None
    config = with_overrides(
        config,
        environments=environments,
        datasets=datasets_from_flags(args),
        preprocessing=tuple(_csv(args.preprocessing, "preprocessing") or ()) or None,
        adapters=specs,
        devices=tuple(_csv(args.devices, "devices") or ()) or None,
        splits=args.splits,
        threads=args.threads,
        trial_timeout_s=args.trial_timeout,
    )
    if adapters:  # adapters named on the command line run as named
        return config, []
    from hello_bench.run.sizing import fit_to_data

    config, notes = fit_to_data(config)
    return validate(config, "command line"), notes


def _with_quick(spec: Any, quick: dict) -> Any:
    from dataclasses import replace

    base = quick.get(spec.name)
    return replace(spec, params=base.params) if base is not None and not spec.params else spec


def split_datasets(text: str) -> list[str]:
    """Split ``iris,synthetic:n_samples=500,n_features=8,data.csv`` on the commas between datasets."""
    out: list[str] = []
    for part in _csv(text, "datasets") or []:
        if out and out[-1].startswith("synthetic") and "=" in part and "/" not in part and ":" not in part:
            out[-1] += "," + part
        else:
            out.append(part)
    return out


def datasets_from_flags(args: argparse.Namespace) -> Any:
    from hello_bench.run.config import parse_dataset

    if args.datasets is None:
        if args.target or args.categorical or args.missing:
            raise UserError("--target, --categorical and --missing apply to --datasets files; give --datasets too.")
        return None
    specs = []
    for text in split_datasets(args.datasets):
        spec = parse_dataset(text)
        if spec.kind == "file":
            spec = parse_dataset(text, target=args.target, categorical=args.categorical, missing=args.missing)
        specs.append(spec)
    if (args.target or args.categorical or args.missing) and not any(s.kind == "file" for s in specs):
        raise UserError("--target, --categorical and --missing apply to data files; none of --datasets is a file "
                        "(bundled and synthetic datasets bring their own labels and columns).")  # fmt: skip
    return tuple(specs)


def make_executor(args: argparse.Namespace) -> Any:
    """The executor ``--executor`` names, its own options checked; other executors' options refused."""
    from hello_bench.run import executors

    chosen = executors.module(args.executor)
    for name in executors.names():
        if name == args.executor:
            continue
        for dest, flag in getattr(args, "_executor_flags", {}).get(name, []):
            if getattr(args, dest, None) not in (None, False):
                raise UserError(f"{flag} needs --executor {name}.")
    return chosen.from_args(args) if hasattr(chosen, "from_args") else chosen.EXECUTOR()


def cmd_run(args: argparse.Namespace) -> int:
    from hello_bench.measure.machine import fingerprint, project_commit
    from hello_bench.run.data_info import describe_all
    from hello_bench.run.environments import ensure_all
    from hello_bench.run.estimate import estimate, summary
    from hello_bench.run.matrix import expand
    from hello_bench.run.precision import check_target
    from hello_bench.run.progress import Progress
    from hello_bench.run.resolve import resolve
    from hello_bench.run.runner import run
    from hello_bench.store.safefs import check_run_id
    from hello_bench.store.writer import RunStore

    config, notes = resolve_config(args)
    if args.retry_errors and args.run_id is None:
        raise UserError("--retry-errors reruns the failed trials of a run: name it with --run-id.")
    check_target(args.until_precise, args.max_time)
    run_id = check_run_id(time.strftime("%Y%m%d-%H%M%S") if args.run_id is None else args.run_id)
    if args.retry_errors and not (Path(args.results_dir) / "runs" / run_id).is_dir():
        raise UserError(f"--retry-errors: there is no run {run_id!r} under {Path(args.results_dir) / 'runs'} to retry.")
    executor = make_executor(args)
    if config.environments and executor.name != "local":
        raise UserError("Environment matrices (--env, [[environments]]) run on the local executor only.")
    check_store(args.results_dir, run_id, config, "matrix")
    if config.environments:
        from hello_bench.run.environments import cache_root

        cache_root()  # where they will be built: a bad place is one line, --dry-run included
    if args.dry_run:
        return _dry_run(config, args, notes)
    built = ensure_all(config, say=_say)  # before anything is written: a failed build is one line
    _check_built(args.results_dir, run_id, built)
    pythons = {name: b.python for name, b in built.items()}
    facts = resolve(config, pythons, say=notes.append)  # adapters only the environments load, asked about there
    info = {"project": project_commit(Path.cwd()), "environments": {n: b.to_dict() for n, b in built.items()},
            "datasets": describe_all(config.datasets)}  # fmt: skip
    with executor:
        store = RunStore.open(args.results_dir, run_id, config.to_dict(), fingerprint(), info=info)
        with store:
            if config.quick:
                _say(QUICK_NOTE)
            for note in notes:  # the folder is ours now: nothing can be refused any more
                _say(note)
            matrix = list(expand(config, None, facts))
            expected = estimate(config, matrix, args.results_dir, pilots="none" if args.no_pilot else "long",
                                pythons=pythons, say=_say)  # fmt: skip
            for line in summary(expected, matrix, config)[-1:] + expected.warnings(config):  # before any trial
                _say(line)
            hosts = len(executor.hosts() or [1])
            if args.until_precise is None:
                trials = f"{config.n_trials() * hosts} trials"
            else:
                from hello_bench.run.precision import first_look_trials

                trials = (f"{first_look_trials(config, args.until_precise) * hosts} trials in its first round "
                          "(--until-precise adds rounds until it decides)")  # fmt: skip
            _say(f"Run {run_id}: {trials} -> {store.path}; executor {executor.describe()}")

            def run_once(cfg: Any) -> Any:
                return run(cfg, store, executor, Progress(live=None if not args.json else False), args.retry_errors,
                           pythons, facts, expected)  # fmt: skip

            if args.until_precise is None:
                result = run_once(config)
            else:
                from hello_bench.run.precision import DEFAULT_MAX_TIME_S, run_until_precise

                result = run_until_precise(config, store, args.until_precise, args.max_time or DEFAULT_MAX_TIME_S,
                                           run_once, say=_say)  # fmt: skip
    return _finish(args, result, f"bench report {shlex.quote(run_id)}", quick=config.quick)


def check_store(results_dir: str, run_id: str, config: Any, kind: str) -> None:
    """Everything about the run folder that a real run checks, read-only: usable, same config, same code and data."""
    from hello_bench.run.runner import check_resumable
    from hello_bench.store.reader import RunFolder, check_reusable

    path = Path(results_dir) / "runs" / run_id
    if check_reusable(path, run_id, _stored(config.to_dict()), kind):
        check_resumable(config, RunFolder(path).records(), run_id)


def _check_built(results_dir: str, run_id: str, built: dict) -> None:
    """A run resumed with environments: each must be the one its records were made with."""
    from hello_bench.run.runner import check_environments
    from hello_bench.store.reader import RunFolder

    path = Path(results_dir) / "runs" / run_id
    if built and (path / "run.json").is_file():
        folder = RunFolder(path)
        check_environments(folder.info().get("environments") or {}, built, folder.records(), run_id)


def _stored(config: dict) -> dict:
    from hello_bench.store.writer import dumps

    return json.loads(dumps(config))


def _dry_run(config: Any, args: argparse.Namespace, notes: list[str]) -> int:
    from hello_bench.run.estimate import estimate, summary
    from hello_bench.run.matrix import expand

    for note in [] if args.json else notes:
        _say(note)

    matrix = list(expand(config))
    found = estimate(config, matrix, args.results_dir, pilots="none" if args.no_pilot else "all",
                     say=None if args.json else _say)  # fmt: skip
    groups = {trial.group for trial in matrix}
    if args.json:
        trials = [{"trial_id": t.trial_id, "dataset": t.data_label, "adapter": t.adapter.label, "device": t.device,
                   "split_seed": t.split_seed, "init_seed": t.init_seed, "group": t.group, "environment": t.environment,
                   "skipped": t.skip_reason is not None, "skip_reason": t.skip_reason,
                   "estimated_s": _finite(found.trial_s(t))} for t in matrix]  # fmt: skip
        _json({"command": "run", "dry_run": True, "n_trials": len(matrix), "n_groups": len(groups), "trials": trials,
               "estimate": _estimate_json(found, matrix, config)})  # fmt: skip
        return 0
    for trial in matrix:  # stdout: the trials; stderr: what they will take, by worker group
        print(trial.trial_id + (f"  (skipped: {trial.skip_reason})" if trial.skip_reason else ""))
    print(f"{len(matrix)} trials in {len(groups)} worker groups.", file=sys.stderr)
    for line in summary(found, matrix, config) + found.warnings(config):
        _say(line)
    return 0


def _finite(value: float | None) -> float | None:
    import math

    return value if value is not None and math.isfinite(value) else None


def _estimate_json(found: Any, matrix: list, config: Any) -> dict:
    total, unknown = found.total(matrix)
    groups = [{"group": g.group, "trial_s": _finite(g.trial_s), "startup_s": g.startup_s, "source": g.source,
               "over_timeout": g.trial_s is not None and g.trial_s > config.trial_timeout_s}
              for g in found.groups.values()]  # fmt: skip
    return {"total_s": _finite(total) or 0.0, "unknown_trials": unknown, "groups": groups,
            "warnings": found.warnings(config)}  # fmt: skip


def _say(text: str) -> None:
    print(text, file=sys.stderr)


def _finish(args: argparse.Namespace, result: Any, next_step: str, quick: bool = False) -> int:
    code = EXIT["trials failed"] if result.failed else EXIT["ok"]
    if args.json:
        _json({"command": args.command, "run_id": result.run_id, "path": str(result.path), "statuses": dict(result.statuses),
               "new": dict(result.new), "resumed": result.resumed, "total": result.total, "failed": result.failed,
               "failed_trials": result.failed_ids, "exit_status": code})  # fmt: skip
        return code
    if quick:
        print(QUICK_NOTE)
    print(f"Done: {result.summary()}. Records: {result.path / 'records.jsonl'}")
    if result.failed:
        print(
            f"{result.failed} trial(s) of the run ended in error or timeout (see their reasons in the report); "
            f"exit status {code}. Rerun them with: bench run ... --run-id {shlex.quote(result.run_id)} --retry-errors"
        )
    print(f"Next: {next_step}")
    return code


# -- seed, scale ---------------------------------------------------------------------
def cmd_seed(args: argparse.Namespace) -> int:
    from hello_bench.measure.machine import fingerprint
    from hello_bench.report.build import REPORTS
    from hello_bench.report.plots import iris_pairplot
    from hello_bench.report.seed import seed_config, seed_report, seed_rows
    from hello_bench.run.executors.local import LocalExecutor
    from hello_bench.run.progress import Progress
    from hello_bench.run.runner import run
    from hello_bench.store.safefs import OutputDir, check_run_id
    from hello_bench.store.writer import RunStore

    config = seed_config(random_state=args.random_state, threads=args.threads)
    run_id = check_run_id("seed-" + time.strftime("%Y%m%d-%H%M%S") if args.run_id is None else args.run_id)
    check_store(args.results_dir, run_id, config, "seed")
    # Where the pairplot goes is checked now: a refusal must come before the run writes anything.
    pairplot = None if args.json else OutputDir.owned(Path(args.results_dir) / REPORTS / "seed", Path(args.results_dir))
    start = time.perf_counter()
    print(f"Running the blog post's experiment ({args.threads} thread(s) per framework) ...", file=sys.stderr)
    with RunStore.open(args.results_dir, run_id, config.to_dict(), fingerprint(), kind="seed") as store:
        result = run(config, store, LocalExecutor(), Progress())
        records = store.folder.records()
    rows = seed_rows(records)
    threads: dict = {k: v for r in records for k, v in (r.get("threads") or {}).items()}
    if args.json:
        _json(seed_json(run_id, rows, EXIT["trials failed"] if result.failed else EXIT["ok"]))
    else:
        print(seed_report(rows, time.perf_counter() - start, threads, run_id))
        assert pairplot is not None
        iris_pairplot(pairplot / "iris-pairplot.png")
        print(f"Pairplot saved to {pairplot.commit()[0]}")
    return EXIT["trials failed"] if result.failed else EXIT["ok"]


def seed_json(run_id: str, rows: list[dict], code: int) -> dict:
    """``bench seed --json``: the table's rows under snake_case keys (the seed schema)."""
    from hello_bench.report.document import column_keys
    from hello_bench.report.seed import HEADERS

    keys = dict(zip(HEADERS, column_keys(HEADERS)))
    return {"command": "seed", "run_id": run_id, "exit_status": code,
            "rows": [{keys.get(k, k): v for k, v in row.items()} for row in rows]}  # fmt: skip


def cmd_scale(args: argparse.Namespace) -> int:
    from hello_bench.measure.machine import fingerprint
    from hello_bench.report.scale import scale_config
    from hello_bench.run.progress import Progress
    from hello_bench.run.runner import run
    from hello_bench.store.reader import RunFolder
    from hello_bench.store.safefs import check_run_id
    from hello_bench.store.writer import RunStore

    if args.report:
        folder = RunFolder.resolve(args.report, args.results_dir)
        run_path = folder.path
        if folder.kind() != "scale":
            raise UserError(
                f"Run {run_path.name!r} is a {folder.kind()} run, not a scale sweep: use `bench report {run_path.name}`."
            )
        return _scale_written(args, run_path, _out_dir(args, run_path.name), None)
    sizes = []
    for text in _csv(args.sizes, "sizes") or []:
        try:
            value = float(text)
        except ValueError:
            raise UserError(f"--sizes: {text!r} is not a number of rows.") from None
        if not value.is_integer():
            raise UserError(f"--sizes: {text!r} is not a whole number of rows.")
        sizes.append(int(value))
    config = scale_config(sizes=sizes, adapters=tuple(_csv(args.adapters, "adapters") or ()), n_features=args.n_features,
                          n_classes=args.n_classes, epochs=args.epochs, budget_s=args.budget, threads=args.threads,
                          devices=tuple(_csv(args.devices, "devices") or ()))  # fmt: skip
    run_id = check_run_id("scale-" + time.strftime("%Y%m%d-%H%M%S") if args.run_id is None else args.run_id)
    executor = make_executor(args)
    check_store(args.results_dir, run_id, config, "scale")
    out = _out_dir(args, run_id)  # checked before the sweep writes anything
    with executor:
        with RunStore.open(args.results_dir, run_id, config.to_dict(), fingerprint(), kind="scale") as store:
            print(
                f"Scale sweep {run_id}: sizes {args.sizes}, budget {args.budget:g} s per fit -> {store.path}",
                file=sys.stderr,
            )
            result = run(config, store, executor, Progress(live=False if args.json else None))
    return _scale_written(args, store.path, out, result)


def _scale_written(args: argparse.Namespace, run_path: Path, out: Any, result: Any) -> int:
    """SCALE.md written; the summary on stdout (``--json``: the sweep's tables, numbers as numbers)."""
    from hello_bench.report.scale import write_scale_doc

    code = EXIT["trials failed"] if result is not None and result.failed else EXIT["ok"]
    path, doc = write_scale_doc(run_path, out)
    if args.json:
        summary = {} if result is None else {"statuses": dict(result.statuses), "failed": result.failed}
        _json(
            {
                "command": "scale",
                **doc.data(),
                "run_id": run_path.name,
                "markdown": str(path),
                **summary,
                "exit_status": code,
            }
        )
    else:
        print(f"Scale report written to {path}")
    return code


def _out_dir(args: argparse.Namespace, run_id: str) -> Any:
    from hello_bench.report.build import REPORTS
    from hello_bench.store.safefs import OutputDir

    default = Path(args.results_dir) / REPORTS / run_id
    return OutputDir.choose(getattr(args, "out", None), default, args.results_dir).check_writable()


# -- read side ---------------------------------------------------------------------------
def _quiet_numbers() -> Any:
    """Reports compute with censored times (+inf) and empty groups on purpose: NaN results show as '-', so numpy's
    'invalid value' and 'divide by zero' notes are not printed on the console."""
    import numpy as np

    return np.errstate(invalid="ignore", divide="ignore")


def cmd_report(args: argparse.Namespace) -> int:
    with _quiet_numbers():
        return _report(args)


def _report(args: argparse.Namespace) -> int:
    from hello_bench.report.build import write_report

    written = write_report(
        args.runs, args.results_dir, baseline=args.baseline, out_dir=args.out, target_accuracy=args.target_accuracy,
        equivalence_margin=args.equivalence_margin,
    )  # fmt: skip
    if args.json:
        _json({"command": "report", **written.doc.data(), "markdown": str(written.markdown), "html": str(written.html)})
    else:
        print(
            f"Report written to {written.markdown} and {written.html.name} (figures in {written.markdown.parent / 'figures'}, CSVs beside it)"
        )
    return EXIT["ok"]


def cmd_compare(args: argparse.Namespace) -> int:
    with _quiet_numbers():
        return _compare(args)


def gate_options(args: argparse.Namespace) -> dict:
    """The gate options a command was given, by :data:`hello_bench.analysis.policy.OPTIONS` name."""
    from hello_bench.analysis.policy import OPTIONS

    return {o.name: getattr(args, f"gate_{o.name}", None) for o in OPTIONS}


def _compare(args: argparse.Namespace) -> int:
    from hello_bench.report.compare import compare_runs

    result = compare_runs(args.runs, args.results_dir, out_dir=args.out, ignore_device=args.ignore_device,
                          **gate_options(args))  # fmt: skip
    outcome = result.outcome
    code = {None: EXIT["ok"], "PASS": EXIT["ok"], "FAIL": EXIT["regression"], "INCONCLUSIVE": EXIT["inconclusive"]}[
        outcome
    ]
    if args.json:
        _json({"command": "compare", **result.doc.data(), **result.to_json(), "markdown": str(result.path),
               "html": str(result.html), "regressions": result.regressions,
               "gate": None if outcome is None else {"outcome": outcome, "lines": result.lines()},
               "exit_status": code})  # fmt: skip
        return code
    print(f"Comparison written to {result.path}")
    for line in result.lines():
        print(line)
    return code


def cmd_calibrate(args: argparse.Namespace) -> int:
    """``bench calibrate``: false alarms and detection power of the gate on this machine (hello_bench.run.calibrate)."""
    from dataclasses import replace

    from hello_bench.analysis.run_variance import duration_text
    from hello_bench.report.calibration import lines, with_provenance, write
    from hello_bench.run import calibrate as cal
    from hello_bench.run.config import AdapterSpec
    from hello_bench.run.spread import parse_spread
    from hello_bench.store.reader import RunFolder
    from hello_bench.store.safefs import check_run_id

    if args.report:
        folder = RunFolder.resolve(args.report, args.results_dir)
        if folder.kind() != "calibration":
            raise UserError(f"Run {folder.run_id!r} is a {folder.kind()} run, not a calibration.")
        summary = folder.info().get("calibration")
        if not isinstance(summary, dict):
            raise UserError(f"Run {folder.run_id!r} has no calibration results yet (interrupted?): rerun it to resume.")
        from hello_bench.store.runfiles import REPORTED

        missing = [part for part in REPORTED if summary.get(part) is None]
        if missing:
            raise UserError(f"Run {folder.run_id!r}: its calibration results lack {', '.join(missing)} (damaged); "
                            "rerun the calibration under a new --run-id.")  # fmt: skip
        summary = with_provenance(summary, folder)
        return _calibration_out(args, summary, folder.run_id, lines, write, _out_dir(args, folder.run_id))
    plan = cal.THOROUGH if args.thorough else cal.THOROUGH_SEPARATE if args.thorough_separate else cal.QUICK
    if args.adapters is not None:
        plan = replace(plan, adapters=tuple(AdapterSpec.parse(a) for a in _csv(args.adapters, "adapters") or ()))
    if args.splits is not None:
        plan = replace(plan, splits=args.splits)
    if args.repeats is not None:
        plan = replace(plan, repeats=args.repeats, disturbed=tuple(r for r in cal.every_third(args.repeats)))
    if args.slowdowns is not None:
        plan = replace(
            plan, slowdowns=tuple(_percent(t, "slowdowns") / 100 for t in _csv(args.slowdowns, "slowdowns") or ())
        )
    if args.disturbed is not None:
        plan = replace(plan, disturbed=_repeat_numbers(args.disturbed))
    if args.fail_above is not None:
        plan = replace(plan, fail_above=args.fail_above)
    if args.fail_accuracy_drop is not None:
        plan = replace(plan, accuracy_drop=args.fail_accuracy_drop)
    if args.spread is not None:
        plan = replace(plan, spread_s=parse_spread(args.spread))
    if args.adapters is not None or args.splits is not None or args.repeats is not None or args.slowdowns is not None:
        plan = replace(plan, mode="custom")
    cal.check_plan(plan)
    run_id = check_run_id("calibrate-" + time.strftime("%Y%m%d-%H%M%S") if args.run_id is None else args.run_id)
    command = (
        "bench calibrate " + " ".join(shlex.quote(a) for a in sys.argv[2:])
        if sys.argv[1:2] == ["calibrate"]
        else "bench calibrate"
    )
    _say(f"Calibration {run_id} ({plan.mode}): {plan.repeats} repeats x {plan.splits} splits x {len(plan.adapters)} adapter(s) "
         f"x {len(plan.sides())} sides; repeats {', '.join(str(r + 1) for r in plan.disturbed) or 'none'} disturbed by a second job"
         + (f"; starts spread over {duration_text(plan.spread_s)}." if plan.spread_s else "."))  # fmt: skip
    from hello_bench.run.executors.local import LocalExecutor

    out = _out_dir(args, run_id)  # checked before the calibration runs, written after
    done = cal.calibrate(plan, args.results_dir, run_id, LocalExecutor(), _say, command)
    code = _calibration_out(args, done.summary, run_id, lines, write, out)
    return EXIT["trials failed"] if done.failed else code


def _repeat_numbers(text: str) -> tuple[int, ...]:
    """``--disturbed 3,6`` (1-based repeat numbers) as 0-based repeats; ``none``: no repeat."""
    if text.strip() == "none":
        return ()
    out = []
    for part in _csv(text, "disturbed") or ():
        if not part.isdigit() or int(part) < 1:
            raise UserError(f"--disturbed: {part!r} is not a repeat number (1, 2, ...) nor 'none'.")
        out.append(int(part) - 1)
    return tuple(out)


def _percent(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"--{what}: {text!r} is not a number.") from None
    return value


def _calibration_out(args: argparse.Namespace, summary: dict, run_id: str, lines: Any, write: Any, out: Any) -> int:
    path = write(summary, run_id, out)
    if args.json:
        _json({"command": "calibrate", "run_id": run_id, "calibration": summary, "markdown": str(path),
               "exit_status": EXIT["ok"]})  # fmt: skip
        return EXIT["ok"]
    for line in lines(summary):
        print("- " + line.replace("**", ""))
    print(f"Calibration written to {path}; bench compare finds this machine's run-to-run variance in run {run_id}.")
    return EXIT["ok"]


def cmd_export(args: argparse.Namespace) -> int:
    from hello_bench.report.export import export_mlflow, export_parquet

    if args.to == "parquet":
        summary = export_parquet(args.runs, args.results_dir, args.out)
        text = f"Exported {summary['rows']} rows of {len(summary['run_ids'])} run(s) to {summary['path']}"
    else:
        with _quiet_numbers():
            summary = export_mlflow(args.runs, args.results_dir, args.tracking_uri, args.experiment)
        text = (f"Exported {summary['trials']} trials ({summary['mlflow_runs']} MLflow runs with their parent runs) "
                f"to experiment {summary['experiment']!r} at {summary['tracking_uri']}")  # fmt: skip
    if args.json:
        _json({"command": "export", "to": args.to, **summary})
    else:
        print(text)
    return EXIT["ok"]


def cmd_env(args: argparse.Namespace) -> int:
    from hello_bench.measure.machine import fingerprint

    _json({"command": "env", **fingerprint(control=not args.no_control)})
    return EXIT["ok"]


def cmd_history(args: argparse.Namespace) -> int:
    from hello_bench.analysis import history
    from hello_bench.report.history import build, json_data
    from hello_bench.store.safefs import OutputDir

    metrics = tuple(_csv(args.metrics, "metrics") or ())
    out = (
        OutputDir.user(Path(args.out), args.results_dir)
        if args.out
        else OutputDir.owned(Path(args.results_dir) / "reports" / "history", Path(args.results_dir))
    ).check_writable()
    result = build(args.runs, args.results_dir, args.by, metrics, out)
    if args.json:
        _json({"command": "history", **json_data(result)})
        return EXIT["ok"]
    for step in result.steps:
        p = "exact" if step["p"] is None else f"p = {step['p']:.2g}"
        print(f"step: {step['adapter']} {step['metric']} {history.change_text(step)} from {step['before']} to "
              f"{step['run']} ({p})")  # fmt: skip
    for sentence in result.summary():
        print(sentence)
    print(f"History written to {result.markdown}")
    return EXIT["ok"]


def cmd_check(args: argparse.Namespace) -> int:
    """Run hello_bench.checks on each adapter (here, or in each environment); exit 1 when any check fails."""
    from hello_bench.adapters import AdapterLoadError, UnknownAdapterError
    from hello_bench.checks import run_checks

    if args.env or args.python:
        results = [row for where, python in _check_pythons(args) for row in _checks_in(where, python, args.adapters)]
    else:
        try:
            results = run_checks(args.adapters)
        except (UnknownAdapterError, AdapterLoadError) as err:
            raise UserError(str(err)) from None
    failed = [r for r in results if not r["ok"]]
    if args.json:
        _json({"command": "check", "checks": results, "failed": len(failed)})
    else:
        for r in results:
            where = f"[{r['environment']}] " if "environment" in r else ""
            print(f"{'ok  ' if r['ok'] else 'FAIL'} {where}{r['check']}{'' if r['ok'] else ': ' + r['reason']}")
        print(f"{len(results) - len(failed)} of {len(results)} checks passed.")
    return EXIT["bad input"] if failed else EXIT["ok"]


def _check_pythons(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(name, interpreter) of every ``--python`` and ``--env`` of ``bench check`` (environments built or reused)."""
    import os

    from hello_bench.run.config import AdapterSpec, Config, env_flags, parse_environments, validate
    from hello_bench.run.environments import ensure

    out = []
    for path in args.python or []:
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise UserError(f"--python {path}: not an executable file.")
        out.append((path, path))
    if args.env:
        environments = parse_environments(env_flags(args.env), "--env")
        config = validate(Config(adapters=tuple(AdapterSpec.parse(a) for a in args.adapters), devices=("cpu",),
                                 environments=environments), "bench check")  # fmt: skip
        out += [(spec.name, ensure(spec, config, say=_say).python) for spec in environments]
    return out


def _checks_in(where: str, python: str, names: list[str]) -> list[dict]:
    """The checks' rows as that interpreter runs them, each marked with where it ran."""
    from hello_bench.run.resolve import ask

    answer = ask(
        python, where, "from hello_bench.checks import main; raise SystemExit(main())", names, "running the checks"
    )
    if "error" in answer:
        raise UserError(f"Environment {where!r}: {answer['error']}")
    return [{**row, "environment": where} for row in answer.get("checks", [])]


def cmd_list(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from hello_bench.adapters import list_adapters
    from hello_bench.data.datasets import BUNDLED, load_dataset
    from hello_bench.measure.devices import describe_devices
    from hello_bench.record import metrics, named_metric_problems

    adapters = list_adapters()
    datasets: list[dict] = []
    for name in BUNDLED:
        ds = load_dataset(name)
        datasets.append({"name": name, "samples": ds.n_samples, "features": ds.n_features, "classes": len(ds.classes),
                         "labels": [str(c) for c in ds.classes[:4]]})  # fmt: skip
    devices = describe_devices()
    metric_problems = named_metric_problems()
    gateable = [_metric_entry(m) for m in metrics() if m.directed and (m.compare or m.gated)]
    if args.json:
        _json({"command": "list", "adapters": [a.__dict__ for a in adapters], "datasets": datasets,
               "devices": [{"device": d[0], "present": d[1] == "yes", "detail": d[2]} for d in devices],
               "metrics": gateable, "metric_plugin_problems": metric_problems})  # fmt: skip
        return EXIT["ok"]
    rows = [[a.name, a.framework, ",".join(a.backends), ",".join(a.devices), ",".join(a.profiles) or "-",
             "yes" if a.available else f"no: {a.reason}"] for a in adapters]  # fmt: skip
    print(
        "Adapters (also: any scikit-learn classifier by its dotted path, e.g. sklearn.ensemble.HistGradientBoostingClassifier)"
    )
    print(
        tabulate(rows, headers=["name", "framework", "backends", "devices", "profiles", "available"], tablefmt="github")
    )
    print("\nProfiles: seed = the blog post's settings (16 units, 100 epochs, batch size 1); tuned = the same training on the "
          "framework's fastest execution path; no profile = each adapter's own defaults (MLPs: Keras' fit defaults, batch 32).")  # fmt: skip
    print("\nDatasets")
    data_rows = [
        [
            d["name"],
            d["samples"],
            d["features"],
            d["classes"],
            ", ".join(d["labels"]) + (", ..." if d["classes"] > 4 else ""),
        ]
        for d in datasets
    ]
    print(tabulate(data_rows, headers=["name", "samples", "features", "classes", "labels"], tablefmt="github"))
    print("\nDevices")
    print(tabulate(devices, headers=["device", "present", "detail"], tablefmt="github"))
    print("\nMetrics to compare and gate (--gate-metrics SHORT, --threshold SHORT=VALUE; keyed ones also SHORT:KEY)")
    print(tabulate([[m["short"], m["label"], m["kind"], m["better"], "yes" if m["gated"] else "when named",
                     m["threshold_text"]] for m in gateable],
                   headers=["short", "metric", "kind", "better", "gated by default", "default threshold"],
                   tablefmt="github"))  # fmt: skip
    if metric_problems:
        print("\nMetric plugins that give no metric (every other command refuses until fixed):")
        print("\n".join(f"- {p}" for p in metric_problems))
    return EXIT["ok"]


def _metric_entry(m: Any) -> dict:
    """A metric as ``bench list`` shows it: the names a user types and what the gate does with it by default."""
    from hello_bench.metrics import DIFFERENCE, EXACT

    how = {EXACT: f"changed by more than {m.threshold:g}", DIFFERENCE: f"worse by more than {m.threshold:g} points"}
    return {"short": m.short, "column": m.column, "label": m.label.replace("{key}", "KEY"), "kind": m.kind,
            "better": m.better, "keyed": m.keyed, "gated": bool(m.gated), "threshold": m.threshold,
            "threshold_text": how.get(m.compared_as, f"{m.threshold:g}% worse")}  # fmt: skip


def cmd_publish(args: argparse.Namespace) -> int:
    from hello_bench.report.publish import publish

    with _quiet_numbers():
        written = publish(args.out, args.results_dir, args.runs)
    if args.json:
        _json({"command": "publish", **written})
    else:
        print(f"Site written to {written['index']} ({written['runs']} runs, {len(written['pages'])} pages)")
    return EXIT["ok"]


def cmd_schema(args: argparse.Namespace) -> int:
    from hello_bench.schemas import INPUTS, NAMES, schema

    if args.name is None:
        print("\n".join(NAMES + INPUTS))
        return EXIT["ok"]
    print(json.dumps(schema(args.name), indent=2))
    return EXIT["ok"]
