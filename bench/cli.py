"""The command line: argparse, one function per subcommand, one error path.

Each ``cmd_*`` function takes the parsed arguments and returns an exit code;
tests call them through :func:`main`. A :class:`~bench.errors.UserError`
anywhere (and any usage mistake argparse finds) becomes one line on stderr,
``error: <message>``, without a traceback. Exit statuses are :data:`EXIT`.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

from .errors import UserError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: Exit statuses, documented in ``bench --help`` and the README.
EXIT = {
    "ok": 0,
    "bad input": 1,
    "usage": 2,
    "trials failed": 3,  # some trial ended in error or timeout
    "regression": 4,  # bench compare --fail-above found a metric significantly worse
    "interrupted": 130,
}
EXIT_HELP = (
    "exit status: 0 ok; 1 bad input (one line on stderr, nothing written); 2 bad usage; 3 some trial ended in "
    "error or timeout (bench run, bench seed, bench scale); 4 bench compare --fail-above found a regression; "
    "130 interrupted (Ctrl-C)."
)


def _json(data) -> None:
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
def resolve_config(args):
    """The config a ``run`` command asks for: file (or built-in), then flags; validated."""
    from .config import AdapterSpec, builtin_config_path, load_config, with_overrides

    if args.config and args.quick:
        raise UserError("Use either --config or --quick, not both.")
    config = load_config(args.config or builtin_config_path("quick" if args.quick else "default"))
    adapters = _csv(args.adapters, "adapters")
    if adapters and config.quick:
        # --quick's adapters carry quick settings (batch 16, few epochs): keep them for named adapters too.
        quick = {spec.name: spec for spec in config.adapters}
        specs: tuple | None = tuple(_with_quick(AdapterSpec.parse(a), quick) for a in adapters)
    else:
        specs = tuple(AdapterSpec.parse(a) for a in adapters) if adapters else None
    return with_overrides(
        config,
        datasets=datasets_from_flags(args),
        preprocessing=tuple(_csv(args.preprocessing, "preprocessing") or ()) or None,
        adapters=specs,
        devices=tuple(_csv(args.devices, "devices") or ()) or None,
        splits=args.splits,
        threads=args.threads,
        trial_timeout_s=args.trial_timeout,
    )


def _with_quick(spec, quick: dict):
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


def datasets_from_flags(args):
    from .config import parse_dataset

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
    return tuple(specs)


def make_executor(args):
    """The executor ``--executor`` names, its own options checked; other executors' options refused."""
    from . import executors

    chosen = executors.module(args.executor)
    for name in executors.names():
        if name == args.executor:
            continue
        for dest, flag in getattr(args, "_executor_flags", {}).get(name, []):
            if getattr(args, dest, None) not in (None, False):
                raise UserError(f"{flag} needs --executor {name}.")
    return chosen.from_args(args) if hasattr(chosen, "from_args") else chosen.EXECUTOR()


def cmd_run(args) -> int:
    from .config import AdapterSpec  # noqa: F401  (validation imports)
    from .environment import fingerprint
    from .progress import Progress
    from .runner import run
    from .safefs import check_run_id
    from .store import RunStore, check_reusable

    config = resolve_config(args)
    if args.dry_run:
        return _dry_run(config, args)
    run_id = check_run_id(time.strftime("%Y%m%d-%H%M%S") if args.run_id is None else args.run_id)
    executor = make_executor(args)
    check_reusable(Path(args.results_dir) / "runs" / run_id, run_id, _stored(config.to_dict()), "matrix")
    with executor:
        store = RunStore.open(args.results_dir, run_id, config.to_dict(), fingerprint())
        with store:
            _say(
                args,
                f"Run {run_id}: {config.n_trials() * (len(executor.hosts() or [1]))} trials -> {store.path}; executor {executor.describe()}",
            )
            result = run(config, store, executor, Progress(live=None if not args.json else False))
    return _finish(args, result, f"bench report {shlex.quote(run_id)}")


def _stored(config: dict) -> dict:
    from .store import dumps

    return json.loads(dumps(config))


def _dry_run(config, args) -> int:
    from .matrix import expand

    count, groups = 0, set()
    for trial in expand(config):
        note = f"  (skipped: {trial.skip_reason})" if trial.skip_reason else ""
        print(trial.trial_id + note)
        count += 1
        groups.add(trial.group)
    print(f"{count} trials in {len(groups)} worker groups.", file=sys.stderr)
    return 0


def _say(args, text: str) -> None:
    print(text, file=sys.stderr)


def _finish(args, result, next_step: str) -> int:
    code = EXIT["trials failed"] if result.failed else EXIT["ok"]
    if args.json:
        _json({"run_id": result.run_id, "path": str(result.path), "statuses": dict(result.statuses), "resumed": result.resumed,
               "total": result.total, "failed": result.failed, "exit_status": code})  # fmt: skip
        return code
    print(f"Done: {result.summary()}. Records: {result.path / 'records.jsonl'}")
    if result.failed:
        print(
            f"{result.failed} trial(s) ended in error or timeout (see their reasons in the report); exit status {code}."
        )
    print(f"Next: {next_step}")
    return code


# -- seed, scale ---------------------------------------------------------------------
def cmd_seed(args) -> int:
    from .environment import fingerprint
    from .executors.local import LocalExecutor
    from .plots import iris_pairplot
    from .progress import Progress
    from .runner import run
    from .seed import seed_config, seed_report, seed_rows
    from .store import RunStore, read_records

    config = seed_config(random_state=args.random_state, threads=args.threads)
    run_id = "seed-" + time.strftime("%Y%m%d-%H%M%S")
    start = time.perf_counter()
    print(f"Running the blog post's experiment ({args.threads} thread(s) per framework) ...", file=sys.stderr)
    with RunStore.open(args.results_dir, run_id, config.to_dict(), fingerprint(), kind="seed") as store:
        result = run(config, store, LocalExecutor(), Progress())
        records = read_records(store.records_path)
    rows = seed_rows(records)
    threads: dict = next((r["threads"] for r in records if r.get("threads")), {})
    if args.json:
        _json({"run_id": run_id, "rows": rows})
    else:
        print(seed_report(rows, time.perf_counter() - start, threads, run_id))
        figure = iris_pairplot(Path(args.results_dir) / "reports" / "seed" / "iris-pairplot.png")
        print(f"Pairplot saved to {figure}")
    return EXIT["trials failed"] if result.failed else EXIT["ok"]


def cmd_scale(args) -> int:
    from .environment import fingerprint
    from .progress import Progress
    from .runner import run
    from .safefs import check_run_id
    from .scale import scale_config, write_scale_report
    from .store import RunStore, check_reusable, resolve_run, run_kind

    if args.report:
        run_path = resolve_run(args.report, args.results_dir)
        if run_kind(run_path) != "scale":
            raise UserError(
                f"Run {run_path.name!r} is a {run_kind(run_path)} run, not a scale sweep: use `bench report {run_path.name}`."
            )
        print(f"Scale report written to {write_scale_report(run_path, _out_dir(args, run_path.name))}")
        return EXIT["ok"]
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
    check_reusable(Path(args.results_dir) / "runs" / run_id, run_id, _stored(config.to_dict()), "scale")
    with executor:
        with RunStore.open(args.results_dir, run_id, config.to_dict(), fingerprint(), kind="scale") as store:
            print(
                f"Scale sweep {run_id}: sizes {args.sizes}, budget {args.budget:g} s per fit -> {store.path}",
                file=sys.stderr,
            )
            result = run(config, store, executor, Progress())
    path = write_scale_report(store.path, _out_dir(args, run_id))
    print(f"Scale report written to {path}")
    return EXIT["trials failed"] if result.failed else EXIT["ok"]


def _out_dir(args, run_id: str) -> Path:
    from .report import writable_dir

    return writable_dir(Path(args.out) if getattr(args, "out", None) else Path(args.results_dir) / "reports" / run_id)


# -- read side ---------------------------------------------------------------------------
def cmd_report(args) -> int:
    from .report import write_report

    written = write_report(
        args.runs, args.results_dir, baseline=args.baseline, out_dir=args.out, target_accuracy=args.target_accuracy
    )
    if args.json:
        _json({**written.doc.data(), "markdown": str(written.markdown), "html": str(written.html)})
    else:
        print(
            f"Report written to {written.markdown} and {written.html.name} (figures in {written.markdown.parent / 'figures'}, CSVs beside it)"
        )
    return EXIT["ok"]


def cmd_compare(args) -> int:
    from .compare import compare_runs

    result = compare_runs(
        args.runs, args.results_dir, out_dir=args.out, ignore_device=args.ignore_device, fail_above=args.fail_above
    )
    code = EXIT["regression"] if result.regressions else EXIT["ok"]
    if args.json:
        _json(
            {**result.doc.data(), "markdown": str(result.path), "regressions": result.regressions, "exit_status": code}
        )
        return code
    print(f"Comparison written to {result.path}")
    for line in result.regressions:
        print(f"regression: {line}")
    return code


def cmd_export(args) -> int:
    from .export import export_mlflow, export_parquet

    if args.to == "parquet":
        path = export_parquet(args.runs, args.results_dir, args.out)
        print(f"Exported to {path}")
    else:
        summary = export_mlflow(args.runs, args.results_dir, args.tracking_uri, args.experiment)
        print(
            f"Exported {summary['runs']} MLflow runs to experiment {summary['experiment']!r} at {summary['tracking_uri']}"
        )
    return EXIT["ok"]


def cmd_env(args) -> int:
    from .environment import fingerprint

    _json(fingerprint(control=not args.no_control))
    return EXIT["ok"]


def cmd_list(args) -> int:
    from tabulate import tabulate

    from adapters import list_adapters

    from .datasets import BUNDLED, load_dataset
    from .devices import describe_devices

    adapters = list_adapters()
    datasets: list[dict] = []
    for name in BUNDLED:
        ds = load_dataset(name)
        datasets.append({"name": name, "samples": ds.n_samples, "features": ds.n_features, "classes": len(ds.classes),
                         "labels": [str(c) for c in ds.classes[:4]]})  # fmt: skip
    devices = describe_devices()
    if args.json:
        _json({"adapters": [a.__dict__ for a in adapters], "datasets": datasets,
               "devices": [dict(zip(["device", "present", "detail"], d)) for d in devices]})  # fmt: skip
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
    return EXIT["ok"]


# -- parser ---------------------------------------------------------------------------------
class OneLineParser(argparse.ArgumentParser):
    """Usage mistakes as one line (``error: ...``), exit status 2, like every other bad input."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT["usage"], f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _number(text: str) -> float:
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _sub(sub, name: str, help_text: str, examples: list[str]):
    epilog = "examples:\n" + "\n".join(f"  {e}" for e in examples) + "\n\n" + EXIT_HELP
    return sub.add_parser(
        name, help=help_text, description=help_text, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def _executor_options(p, args_holder: dict) -> None:
    from . import executors

    group = p.add_argument_group("executor")
    group.add_argument(
        "--executor",
        choices=executors.names(),
        default="local",
        help="where trials run (default: local worker processes)",
    )
    for name in executors.names():
        mod = executors.module(name)
        if hasattr(mod, "add_arguments"):
            sub = p.add_argument_group(f"{name} executor")
            before = {a.dest for a in p._actions}
            mod.add_arguments(sub)
            args_holder[name] = [(a.dest, a.option_strings[0]) for a in p._actions if a.dest not in before]


def _run_parser(sub) -> None:
    p = _sub(sub, "run", "run the trial matrix into results/runs/<run-id>/", [
        "bench run                                  # the default matrix (iris, every adapter and backend, 10 splits)",
        "bench run --quick                          # a check in under a minute (not comparable: says so in its report)",
        "bench run --config full                    # everything: tuned profiles, serving paths on every split",
        "bench run --adapters sklearn-mlp,keras-mlp@jax,torch-mlp:tuned --splits 5",
        "bench run --adapters sklearn.ensemble.HistGradientBoostingClassifier --splits 3 --devices cpu",
        "bench run --datasets data.csv --target label --executor dask",
    ])  # fmt: skip
    what = p.add_argument_group("what to run")
    what.add_argument(
        "--config", metavar="TOML", help="config file, or a built-in name: default, quick, full (default: default)"
    )
    what.add_argument("--quick", action="store_true", help="the built-in quick matrix (3 splits, faster MLP settings)")
    what.add_argument(
        "--adapters",
        metavar="LIST",
        help="name[:profile][@backend],... or dotted classifier paths (default: the config's)",
    )
    what.add_argument("--devices", metavar="LIST", help="cpu,gpu (default: the config's)")
    what.add_argument("--splits", type=_positive_int, metavar="N", help="seeded splits (default: the config's, 10)")
    data = p.add_argument_group("data")
    data.add_argument("--datasets", metavar="LIST", help="bundled names (iris,wine,breast_cancer,digits), CSV/Parquet paths, "
                      "or synthetic:n_samples=N,n_features=F,n_classes=C (default: iris)")  # fmt: skip
    data.add_argument("--target", help="label column of CSV/Parquet datasets")
    data.add_argument(
        "--categorical",
        choices=["error", "onehot", "drop"],
        help="non-numeric feature columns of files (default: error)",
    )
    data.add_argument("--missing", choices=["error", "drop", "impute"], help="missing values in files (default: error)")
    data.add_argument(
        "--preprocessing",
        metavar="LIST",
        help="none,standard: StandardScaler fitted on each training split (default: none)",
    )
    how = p.add_argument_group("how")
    how.add_argument(
        "--threads", type=_positive_int, metavar="N", help="threads per framework, equal for all (default: 1)"
    )
    how.add_argument(
        "--trial-timeout",
        type=_number,
        metavar="S",
        help="seconds before a trial is killed and recorded as timeout (default: the config's)",
    )
    out = p.add_argument_group("output")
    out.add_argument(
        "--run-id", help="name of the run (letters, digits, . _ -); an existing one is resumed (default: a timestamp)"
    )
    out.add_argument("--results-dir", default="results", help="default: results")
    out.add_argument("--dry-run", action="store_true", help="list the trials and exit")
    out.add_argument("--json", action="store_true", help="print the run's summary as JSON on stdout")
    holder: dict = {}
    _executor_options(p, holder)
    p.set_defaults(func=cmd_run, _executor_flags=holder)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = OneLineParser(prog="bench", description="Fair, repeated, timed comparisons of scikit-learn, Keras and PyTorch.",
                           epilog=EXIT_HELP)  # fmt: skip
    parser.add_argument("--version", action="version", version=f"bench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=OneLineParser)

    p = _sub(
        sub,
        "seed",
        "run the 2016 blog post's experiment and print it beside the post's figures",
        ["bench seed", "bench seed --json"],
    )
    p.add_argument("--threads", type=_positive_int, default=1, help="threads per framework (default: 1)")
    p.add_argument(
        "--random-state", type=int, default=0, help="seed for model initialisation and shuffling (default: 0)"
    )
    p.add_argument("--results-dir", default="results", help="where the run and the pairplot go (default: results)")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.set_defaults(func=cmd_seed)

    _run_parser(sub)

    p = _sub(sub, "report", "regenerate REPORT.md, report.html, figures and CSVs from stored records", [
        "bench report                      # the latest run -> results/reports/<run-id>/",
        "bench report RUN1 RUN2 --out my-report",
        "bench report --target-accuracy 0.95 --json",
    ])  # fmt: skip
    p.add_argument("runs", nargs="*", help="run ids or folders (default: the latest run)")
    p.add_argument(
        "--baseline", default=None, help="adapter the others are compared with (default: sklearn-lr where it ran)"
    )
    p.add_argument(
        "--target-accuracy",
        type=_number,
        metavar="X",
        help="time-to-accuracy target (default: 99%% of the best median final accuracy per dataset)",
    )
    p.add_argument("--results-dir", default="results", help="where runs are stored (default: results)")
    p.add_argument("--out", help="where to write the report (default: results/reports/<run-id>)")
    p.add_argument("--json", action="store_true", help="print the report's tables as JSON")
    p.set_defaults(func=cmd_report)

    p = _sub(sub, "compare", "compare runs (two machines, versions, CPU vs GPU): B/A ratios with CIs and verdicts; a CI gate", [
        "bench compare laptop server",
        "bench compare main-branch my-branch --fail-above 10    # exit 4 if anything is >10% worse, significantly",
        "bench compare two-machines@hostA two-machines@hostB",
    ])  # fmt: skip
    p.add_argument(
        "runs",
        nargs="+",
        help="baseline run, then one or more runs to compare with it (RUN@host: one machine of a run)",
    )
    p.add_argument("--ignore-device", action="store_true", help="match trials across devices (a CPU run vs a GPU run)")
    p.add_argument(
        "--fail-above",
        type=_number,
        metavar="PCT",
        help="exit 4 when any metric is significantly worse by more than PCT percent",
    )
    p.add_argument("--results-dir", default="results", help="where runs are stored (default: results)")
    p.add_argument("--out", help="where to write the comparison (default: results/reports)")
    p.add_argument("--json", action="store_true", help="print ratios and verdicts as JSON")
    p.set_defaults(func=cmd_compare)

    p = _sub(sub, "scale", "sweep data sizes: fit time, time per epoch, throughput, memory vs n", [
        "bench scale", "bench scale --sizes 100,1000,10000 --adapters sklearn-lr,torch-mlp --budget 5", "bench scale --report RUN",
    ])  # fmt: skip
    p.add_argument(
        "--sizes", default="100,1000,10000,100000,1000000", help="comma-separated row counts (default: 10^2..10^6)"
    )
    p.add_argument(
        "--adapters", default="sklearn-lr,keras-mlp,torch-mlp", help="adapters as in bench run (default: %(default)s)"
    )
    p.add_argument("--n-features", type=_positive_int, default=20, help="default: 20")
    p.add_argument("--n-classes", type=_positive_int, default=3, help="default: 3")
    p.add_argument("--epochs", type=_positive_int, default=3, help="MLP epochs per fit (default: 3)")
    p.add_argument(
        "--budget",
        type=_number,
        default=20.0,
        help="stop an adapter's sweep after a fit longer than this, in s (default: 20)",
    )
    p.add_argument("--threads", type=_positive_int, default=1, help="default: 1")
    p.add_argument("--devices", default="cpu", help="default: cpu")
    p.add_argument("--run-id", help="default: scale-<timestamp>; an existing one is resumed")
    p.add_argument("--results-dir", default="results", help="default: results")
    p.add_argument("--out", help="where SCALE.md goes (default: results/reports/<run-id>)")
    p.add_argument("--report", metavar="RUN", help="only regenerate SCALE.md from a stored sweep")
    holder: dict = {}
    _executor_options(p, holder)
    p.set_defaults(func=cmd_scale, _executor_flags=holder)

    p = _sub(sub, "export", "export runs to MLflow (one MLflow run per trial) or Parquet (the tidy frame)", [
        "bench export RUN --to parquet --out runs.parquet",
        "bench export RUN --to mlflow                          # a local MLflow store in ./mlruns",
        "bench export RUN --to mlflow --tracking-uri http://mlflow.example:5000",
    ])  # fmt: skip
    p.add_argument("runs", nargs="+", help="run ids or folders")
    p.add_argument("--to", choices=["mlflow", "parquet"], required=True, help="where to")
    p.add_argument("--out", help="Parquet file (default: results/reports/<runs>.parquet)")
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: a local file store, ./mlruns)")
    p.add_argument("--experiment", default="hello-bench", help="MLflow experiment (default: hello-bench)")
    p.add_argument("--results-dir", default="results", help="default: results")
    p.set_defaults(func=cmd_export)

    p = _sub(sub, "env", "print this machine's fingerprint (JSON)", ["bench env", "bench env --no-control"])
    p.add_argument("--no-control", action="store_true", help="skip the raw-speed control measurement")
    p.add_argument("--json", action="store_true", help="accepted for symmetry: the output is always JSON")
    p.set_defaults(func=cmd_env)

    p = _sub(
        sub, "list", "adapters (available or not, and why), datasets, devices", ["bench list", "bench list --json"]
    )
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=cmd_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``bench`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UserError as err:
        print("error: " + " ".join(str(err).split()), file=sys.stderr)  # always one line
        return EXIT["bad input"]
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return EXIT["ok"]
    except KeyboardInterrupt:
        print("interrupted: records written so far are kept; rerun the same command to resume", file=sys.stderr)
        return EXIT["interrupted"]
