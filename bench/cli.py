"""The command line: argparse, one function per subcommand, one error path.

Each ``cmd_*`` function takes the parsed arguments and returns an exit code;
tests call them directly. A :class:`~bench.errors.UserError` anywhere becomes
``error: <message>`` on stderr and exit status 1, without a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from .errors import UserError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def cmd_seed(args) -> int:
    from .plots import iris_pairplot
    from .seed import run_seed, seed_report
    from .threads import limit_threads

    frameworks = tuple(f for f in ("torch", "tensorflow") if _importable(f))
    threads = limit_threads(args.threads, frameworks)
    start = time.perf_counter()
    print(f"Running the blog post's experiment ({args.threads} thread(s) per framework) ...", file=sys.stderr)
    rows = run_seed(random_state=args.random_state, progress=lambda m: print(m, file=sys.stderr))
    print(seed_report(rows, time.perf_counter() - start, threads))
    figure = iris_pairplot(Path(args.results_dir) / "figures" / "iris-pairplot.png")
    print(f"Pairplot saved to {figure}")
    return 0


def resolve_config(args):
    """The config a ``run`` command asks for: file (or built-in), then flags."""
    from .config import AdapterSpec, builtin_config_path, load_config, with_overrides

    if args.config and args.quick:
        raise UserError("Use either --config or --quick, not both.")
    path = args.config or builtin_config_path("quick" if args.quick else "default")
    config = load_config(path)
    adapters = tuple(AdapterSpec.parse(a) for a in _csv(args.adapters)) if args.adapters else None
    return with_overrides(
        config,
        datasets=datasets_from_flags(args) if args.datasets else None,
        preprocessing=tuple(_csv(args.preprocessing)) if args.preprocessing else None,
        adapters=adapters,
        devices=tuple(_csv(args.devices)) if args.devices else None,
        splits=args.splits,
        threads=args.threads,
        trial_timeout_s=args.trial_timeout,
    )


def split_datasets(text: str) -> list[str]:
    """Split ``iris,synthetic:n_samples=500,n_features=8,data.csv`` on the commas between datasets."""
    out: list[str] = []
    for part in _csv(text):
        if out and out[-1].startswith("synthetic") and "=" in part and "/" not in part and ":" not in part:
            out[-1] += "," + part
        else:
            out.append(part)
    return out


def datasets_from_flags(args):
    from .config import parse_dataset

    specs = []
    for text in split_datasets(args.datasets):
        spec = parse_dataset(text)
        if spec.kind == "file":
            spec = parse_dataset(text, target=args.target, categorical=args.categorical, missing=args.missing)
        specs.append(spec)
    return tuple(specs)


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def cmd_run(args) -> int:
    from .environment import fingerprint
    from .matrix import expand
    from .run import run_matrix
    from .store import RunStore

    config = resolve_config(args)
    trials = expand(config)
    if args.dry_run:
        for trial in trials:
            note = f"  (skipped: {trial.skip_reason})" if trial.skip_reason else ""
            print(trial.trial_id + note)
        print(f"{len(trials)} trials in {len({t.group for t in trials})} worker groups.", file=sys.stderr)
        return 0
    run_id = args.run_id or time.strftime("%Y%m%d-%H%M%S")
    env = fingerprint()
    store = RunStore.open(args.results_dir, run_id, config.to_dict(), env)
    print(f"Run {run_id}: {len(trials)} trials -> {store.path}", file=sys.stderr)
    if args.executor == "dask":
        result = _run_dask(args, config, store)
    else:
        if args.scheduler or args.each_host:
            raise UserError("--scheduler and --each-host need --executor dask.")
        result = run_matrix(config, store)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(result.statuses.items())) or "nothing new to run"
    print(f"Done: {counts}. Records: {store.records_path}")
    print(f"Next: bench report {run_id}")
    return 0


def _run_dask(args, config, store):
    from .dask_run import make_client, run_matrix_dask, security_from_flags

    security = security_from_flags(args.tls_ca, args.tls_cert, args.tls_key)
    client, cluster = make_client(args.scheduler, security=security, n_workers=args.dask_workers)
    try:
        where = args.scheduler or f"a local cluster ({len(client.scheduler_info()['workers'])} workers on 127.0.0.1)"
        print(f"Executor: dask, {where}", file=sys.stderr)
        return run_matrix_dask(config, store, client, each_host=args.each_host)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def cmd_env(args) -> int:
    import json

    from .environment import fingerprint

    print(json.dumps(fingerprint(control=not args.no_control), indent=2))
    return 0


def cmd_report(args) -> int:
    from .report import write_report

    path = write_report(args.runs, args.results_dir, baseline=args.baseline, out_dir=args.out)
    print(f"Report written to {path} (figures in {path.parent / 'figures'}, CSVs beside it)")
    return 0


def cmd_compare(args) -> int:
    from .compare import compare_runs

    path = compare_runs(args.runs, args.results_dir, out_dir=args.out, ignore_device=args.ignore_device)
    print(f"Comparison written to {path}")
    return 0


def cmd_scale(args) -> int:
    from .environment import fingerprint
    from .run import run_matrix
    from .scale import scale_config, write_scale_report
    from .store import RunStore, resolve_run

    if args.report:
        path = write_scale_report(resolve_run(args.report, args.results_dir), Path(args.results_dir))
        print(f"Scale report written to {path}")
        return 0
    config = scale_config(
        sizes=[int(float(s)) for s in _csv(args.sizes)],
        adapters=tuple(_csv(args.adapters)),
        n_features=args.n_features,
        n_classes=args.n_classes,
        epochs=args.epochs,
        budget_s=args.budget,
        threads=args.threads,
        devices=tuple(_csv(args.devices)),
    )
    run_id = args.run_id or "scale-" + time.strftime("%Y%m%d-%H%M%S")
    store = RunStore.open(args.results_dir, run_id, config.to_dict(), fingerprint(), kind="scale")
    print(
        f"Scale sweep {run_id}: sizes {args.sizes}, budget {args.budget:g} s per fit -> {store.path}", file=sys.stderr
    )
    run_matrix(config, store)
    path = write_scale_report(store.path, Path(args.results_dir))
    print(f"Scale report written to {path}")
    return 0


def cmd_list(args) -> int:
    from tabulate import tabulate

    from adapters import list_adapters

    from .datasets import BUNDLED, load_dataset
    from .devices import describe_devices

    rows = [
        [
            a.name,
            a.framework,
            ",".join(a.backends),
            ",".join(a.devices),
            ",".join(a.profiles) or "-",
            "yes" if a.available else f"no: {a.reason}",
        ]
        for a in list_adapters()
    ]
    print("Adapters")
    print(
        tabulate(rows, headers=["name", "framework", "backends", "devices", "profiles", "available"], tablefmt="github")
    )
    print("\nDatasets")
    data_rows = []
    for name in BUNDLED:
        ds = load_dataset(name)
        classes = ds.classes
        shown = ", ".join(map(str, classes[:4])) + (", ..." if len(classes) > 4 else "")
        data_rows.append([name, ds.n_samples, ds.n_features, len(classes), shown])
    print(tabulate(data_rows, headers=["name", "samples", "features", "classes", "labels"], tablefmt="github"))
    print("\nDevices")
    print(tabulate(describe_devices(), headers=["device", "present", "detail"], tablefmt="github"))
    return 0


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench",
        description="Fair, repeated, timed comparisons of scikit-learn, Keras and PyTorch.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("seed", help="run the 2016 blog post's experiment and print it beside the post's figures")
    p.add_argument("--threads", type=_positive_int, default=1, help="threads per framework (default: 1)")
    p.add_argument("--random-state", type=int, default=0, help="seed for model initialisation and shuffling")
    p.add_argument("--results-dir", default="results", help="where figures go (default: results)")
    p.set_defaults(func=cmd_seed)

    p = sub.add_parser("run", help="run the trial matrix into results/runs/<run-id>/")
    p.add_argument("--config", help="TOML config file (default: the built-in default matrix)")
    p.add_argument("--quick", action="store_true", help="the built-in quick matrix (3 splits, faster MLP settings)")
    p.add_argument(
        "--datasets",
        help="comma-separated: bundled names (iris,wine,breast_cancer,digits), CSV/Parquet paths, "
        "or synthetic:n_samples=N,n_features=F,n_classes=C",
    )
    p.add_argument("--target", help="label column of CSV/Parquet datasets")
    p.add_argument(
        "--categorical",
        choices=["error", "onehot", "drop"],
        help="non-numeric feature columns of files (default: error)",
    )
    p.add_argument("--missing", choices=["error", "drop", "impute"], help="missing values in files (default: error)")
    p.add_argument(
        "--preprocessing", help="comma-separated: none,standard (StandardScaler fitted on each training split)"
    )
    p.add_argument(
        "--adapters", help="comma-separated adapters as name[:profile][@backend], e.g. sklearn-lr,keras-mlp:seed@jax"
    )
    p.add_argument("--devices", help="comma-separated devices: cpu,gpu")
    p.add_argument("--splits", type=_positive_int, help="number of seeded splits")
    p.add_argument("--threads", type=_positive_int, help="threads per framework")
    p.add_argument("--trial-timeout", type=float, help="seconds before a trial is killed and recorded as timeout")
    p.add_argument("--run-id", help="name of the run; an existing one is resumed (default: a timestamp)")
    p.add_argument("--results-dir", default="results", help="default: results")
    p.add_argument("--dry-run", action="store_true", help="list the trials and exit")
    p.add_argument(
        "--executor",
        choices=["local", "dask"],
        default="local",
        help="local worker processes (default) or a Dask cluster",
    )
    p.add_argument(
        "--scheduler", help="Dask scheduler address (tcp:// or tls://); default: start a local cluster on 127.0.0.1"
    )
    p.add_argument("--dask-workers", type=_positive_int, help="workers of the local cluster (default: one per core)")
    p.add_argument(
        "--each-host", action="store_true", help="run the whole matrix on every host of the cluster (compare machines)"
    )
    p.add_argument("--tls-ca", help="CA certificate for a tls:// scheduler")
    p.add_argument("--tls-cert", help="client certificate for a tls:// scheduler")
    p.add_argument("--tls-key", help="client key for a tls:// scheduler")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("report", help="regenerate REPORT.md, figures and CSVs from stored records")
    p.add_argument("runs", nargs="*", help="run ids or folders (default: the latest run)")
    p.add_argument(
        "--baseline", default="sklearn-lr", help="adapter the others are compared with (default: sklearn-lr)"
    )
    p.add_argument("--results-dir", default="results", help="where runs are stored (default: results)")
    p.add_argument("--out", help="where to write the report (default: the results dir)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("compare", help="compare runs (e.g. two machines): B/A ratios with CIs and verdicts")
    p.add_argument("runs", nargs="+", help="baseline run, then one or more runs to compare with it")
    p.add_argument("--ignore-device", action="store_true", help="match trials across devices (a CPU run vs a GPU run)")
    p.add_argument("--results-dir", default="results", help="where runs are stored (default: results)")
    p.add_argument("--out", help="where to write the comparison (default: the results dir)")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("scale", help="sweep data sizes: fit time, time per epoch, throughput, memory vs n")
    p.add_argument("--sizes", default="100,1000,10000,100000,1000000", help="comma-separated row counts")
    p.add_argument("--adapters", default="sklearn-lr,keras-mlp,torch-mlp", help="adapters as in bench run")
    p.add_argument("--n-features", type=_positive_int, default=20)
    p.add_argument("--n-classes", type=_positive_int, default=3)
    p.add_argument("--epochs", type=_positive_int, default=3, help="MLP epochs per fit (default: 3)")
    p.add_argument(
        "--budget", type=float, default=20.0, help="stop an adapter's sweep after a fit longer than this (s)"
    )
    p.add_argument("--threads", type=_positive_int, default=1)
    p.add_argument("--devices", default="cpu")
    p.add_argument("--run-id", help="default: scale-<timestamp>; an existing one is resumed")
    p.add_argument("--results-dir", default="results")
    p.add_argument("--report", metavar="RUN", help="only regenerate SCALE.md from a stored sweep")
    p.set_defaults(func=cmd_scale)

    p = sub.add_parser("env", help="print this machine's fingerprint (JSON)")
    p.add_argument("--no-control", action="store_true", help="skip the raw-speed control measurement")
    p.set_defaults(func=cmd_env)

    p = sub.add_parser("list", help="adapters (available or not, and why), datasets, devices")
    p.set_defaults(func=cmd_list)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``bench`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
