"""The command line: the argument parser, one function per subcommand's options, one error path.

Each subcommand's work lives in :mod:`bench.commands` (``cmd_*`` functions
returning an exit status). A :class:`~hello_bench.errors.UserError` anywhere (and
any usage mistake argparse finds) becomes one line on stderr,
``error: <message>``, without a traceback. Exit statuses: :data:`bench.commands.EXIT`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any, NoReturn

from hello_bench.cli.commands import (
    EXIT,
    EXIT_HELP,
    cmd_calibrate,
    cmd_check,
    cmd_compare,
    cmd_env,
    cmd_export,
    cmd_history,
    cmd_list,
    cmd_publish,
    cmd_report,
    cmd_run,
    cmd_scale,
    cmd_schema,
    cmd_seed,
)
from hello_bench.cli.interrupts import INTERRUPTED, terminate
from hello_bench.errors import UserError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


# -- parser ---------------------------------------------------------------------------------
def one_line(text: str) -> str:
    """Any message as one line: whitespace runs as one space, other control characters (a newline or an
    escape sequence inside a user's argument) shown escaped, never acted on by the terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in " ".join(text.split()))


class OneLineParser(argparse.ArgumentParser):
    """Usage mistakes as one line (``error: ...``), exit status 2, like every other bad input."""

    def error(self, message: str) -> NoReturn:  # type: ignore[override]
        self.exit(EXIT["usage"], f"error: {self.prog}: {one_line(message)} (see {self.prog} --help)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _int_within(low: int, high: int, why: str) -> Callable[[str], int]:
    """An argparse type for a whole number in [low, high]: every value out of range is the same usage error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {low} to {high} ({why}), got {value}")
        return value

    return parse


def _number(text: str) -> float:
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _words(value: Any) -> str:
    return ",".join(value) if isinstance(value, list) else str(value)


def _sub(sub: Any, name: str, help_text: str, examples: list[str]) -> argparse.ArgumentParser:
    epilog = "examples:\n" + "\n".join(f"  {e}" for e in examples) + "\n\n" + EXIT_HELP
    return sub.add_parser(
        name, help=help_text, description=help_text, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def _executor_options(p: argparse.ArgumentParser, args_holder: dict) -> None:
    from hello_bench.run import executors

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


def builtin_setting(config: str, key: str) -> Any:
    """A setting of a built-in config as its TOML file says (help text follows the files, never a copy).

    Read with the TOML parser alone: ``--help`` imports nothing heavy (hello_bench.run.config imports the adapters)."""
    from importlib import resources

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    return tomllib.loads((resources.files("hello_bench") / "configs" / f"{config}.toml").read_text()).get(key)


def _run_parser(sub: Any) -> None:
    splits, quick_splits = builtin_setting("default", "splits"), builtin_setting("quick", "splits")
    p = _sub(sub, "run", "run the trial matrix into results/runs/<run-id>/", [
        f"bench run                                  # the default matrix (iris, LR and the post's MLP in 3 frameworks, {splits} splits)",
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
    what.add_argument(
        "--quick", action="store_true", help=f"the built-in quick matrix ({quick_splits} splits, faster MLP settings)"
    )
    what.add_argument(
        "--adapters",
        metavar="LIST",
        help="name[:profile][@backend],... or dotted classifier paths (default: the config's)",
    )
    what.add_argument(
        "--devices",
        metavar="LIST",
        help=f"cpu,gpu or auto (cpu, plus gpu where present); gpu on a machine without one records skips with the "
        f"reason (default: the config's; default config: {_words(builtin_setting('default', 'devices'))})",
    )
    what.add_argument(
        "--splits",
        type=_positive_int,
        metavar="N",
        help=f"seeded splits (default: the config's; default config: {splits}, quick: {quick_splits})",
    )
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
        "--env",
        action="append",
        metavar="NAME=REQ",
        help="an environment of the matrix: NAME=REQUIREMENT, repeatable (the same NAME again adds a requirement); "
        "every trial runs in each environment, interleaved split by split (e.g. --env old=scikit-learn==1.8.* "
        "--env new=scikit-learn==1.9.*)",
    )
    how.add_argument(
        "--until-precise",
        type=_number,
        metavar="PCT",
        help="after the configured splits, add interleaved splits until every timing ratio's 95%% interval (each "
        "metric the gate tests; environments against the first, or adapters against the baseline) is narrower "
        "than PCT percent, or --max-time runs out",
    )
    how.add_argument(
        "--max-time",
        type=_number,
        metavar="S",
        help="time budget of --until-precise in seconds, the first splits included (default: 900)",
    )
    how.add_argument(
        "--retry-errors",
        action="store_true",
        help="rerun the trials of this run whose latest record is an error or a timeout (with --run-id)",
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
    out.add_argument("--dry-run", action="store_true",
                     help="list the trials with their estimated time and exit (with --json: as JSON); groups without "
                          "history on this machine are timed by a pilot epoch in a worker")  # fmt: skip
    out.add_argument(
        "--no-pilot",
        action="store_true",
        help="estimate the run's time from this machine's stored runs only, never by a pilot epoch",
    )
    out.add_argument("--json", action="store_true", help="print the run's summary (or the dry run's trials) as JSON")
    holder: dict = {}
    _executor_options(p, holder)
    p.set_defaults(func=cmd_run, _executor_flags=holder)


def _seed_parser(sub: Any) -> None:
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
    p.add_argument("--run-id", help="name of the seed run (default: seed-<timestamp>)")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.set_defaults(func=cmd_seed)


def _margin_argument(p: Any) -> None:
    p.add_argument(
        "--equivalence-margin",
        type=_number,
        metavar="D",
        help="also test accuracy equivalence within +-D (TOST, Holm), e.g. 0.01; default: no equivalence test",
    )


def _report_parser(sub: Any) -> None:
    p = _sub(sub, "report", "regenerate REPORT.md, report.html, figures and CSVs from stored records", [
        "bench report                      # the latest run -> results/reports/<run-id>/",
        "bench report RUN1 RUN2 --out my-report",
        "bench report --target-accuracy 0.95 --json",
    ])  # fmt: skip
    p.add_argument("runs", nargs="*", help="run ids or folders (default: the run that last wrote a record)")
    p.add_argument(
        "--baseline",
        default=None,
        help="adapter the others are compared with (default: the first adapter the run's config lists)",
    )
    p.add_argument(
        "--target-accuracy",
        type=_number,
        metavar="X",
        help="time-to-accuracy target (default: error at most 10%% of a uniform guess's, from the number of classes)",
    )
    _margin_argument(p)
    p.add_argument("--results-dir", default="results", help="where runs are stored (default: results)")
    p.add_argument("--out", help="where to write the report (default: results/reports/<run-id>)")
    p.add_argument("--json", action="store_true", help="print the report's tables as JSON")
    p.set_defaults(func=cmd_report)


def gate_arguments(p: Any) -> None:
    """The gate's options, from their one declaration (:data:`hello_bench.analysis.policy.OPTIONS`)."""
    from hello_bench.analysis.policy import OPTIONS

    group = p.add_argument_group("the gate (hello_bench.analysis.policy)")
    for option in OPTIONS:
        if option.switch:
            group.add_argument(option.flag, dest=f"gate_{option.name}", action="store_true", default=None,
                               help=option.help)  # fmt: skip
            continue
        repeat = {"action": "append"} if option.name == "thresholds" else {}
        group.add_argument(option.flag, dest=f"gate_{option.name}", metavar=option.metavar, help=option.help, **repeat)


def _compare_parser(sub: Any) -> None:
    p = _sub(sub, "compare", "compare runs (two machines, versions, CPU vs GPU): B/A ratios with CIs and verdicts; a CI gate", [
        "bench compare laptop server",
        "bench compare ci%base ci%head --fail-above 10          # a duet: PASS 0, FAIL 4, INCONCLUSIVE 5",
        "bench compare two-machines@hostA two-machines@hostB",
    ])  # fmt: skip
    p.add_argument(
        "runs",
        nargs="+",
        help="baseline run, then one or more runs to compare with it (RUN@host: one machine of a run)",
    )
    p.add_argument("--ignore-device", action="store_true", help="match trials across devices (a CPU run vs a GPU run)")
    gate_arguments(p)
    p.add_argument("--results-dir", default="results", help="where runs are stored (default: results)")
    p.add_argument("--out", help="where to write the comparison (default: results/reports)")
    p.add_argument("--json", action="store_true", help="print ratios and verdicts as JSON")
    p.set_defaults(func=cmd_compare)


def _calibrate_parser(sub: Any) -> None:
    p = _sub(sub, "calibrate", "measure the gate on this machine: false alarms (A/A) and detection of known slowdowns (A/B)", [
        "bench calibrate                        # quick: 5 repeats x 10 splits, LR and the MLP in torch, under 10 minutes here",
        "bench calibrate --thorough             # duets: 59 repeats, enough to bound a false-alarm rate under 5% (hours)",
        "bench calibrate --thorough-separate --spread 3d   # separate runs: 118 repeats (59 pairs) over three days",
        "bench calibrate --repeats 20 --slowdowns 10,25,50 --fail-above 10",
        "bench calibrate --report RUN           # print and write a stored calibration again",
    ])  # fmt: skip
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="the quick plan (the default)")
    mode.add_argument(
        "--thorough", action="store_true", help="the thorough duet plan: 59 repeats, slowdowns of 10, 15 and 25%%"
    )
    mode.add_argument(
        "--thorough-separate",
        action="store_true",
        help="the thorough plan for separate runs: 118 repeats of side A only (59 disjoint pairs)",
    )
    p.add_argument("--adapters", metavar="LIST", help="real adapters to wrap, as in bench run (default: sklearn-lr and "
                   "torch-mlp:seed at the quick config's batch 16, 30 epochs)")  # fmt: skip
    p.add_argument("--splits", type=_int_within(5, 10_000, "the gate decides nothing from fewer than 5 pairs"),
                   metavar="N", help="splits per repeat, at least 5 (default: 10)")  # fmt: skip
    p.add_argument("--repeats", type=_int_within(2, 500, "a variance needs two"), metavar="R",
                   help="repeats, 2 to 500 (default: 5 quick, 59 thorough, 118 "
                   "thorough-separate); "
                   "every third is disturbed unless --disturbed says otherwise")  # fmt: skip
    p.add_argument(
        "--slowdowns", metavar="LIST", help="injected slowdowns in percent (default: 15,25 quick; 10,15,25 thorough)"
    )
    p.add_argument(
        "--disturbed", metavar="LIST", help="repeats (1-based) that share the machine with a second job, or none"
    )
    p.add_argument("--fail-above", type=_number, metavar="PCT", help="the gate's threshold (default: 10)")
    p.add_argument(
        "--fail-accuracy-drop", type=_number, metavar="POINTS", help="the gate's accuracy threshold (default: 2)"
    )
    p.add_argument("--spread", metavar="DURATION", help="spread the repeats' starts evenly over DURATION (24h, 90m, "
                   "3d; default: back to back), waiting between repeats; the run-to-run variance then covers it")  # fmt: skip
    p.add_argument("--run-id", help="default: calibrate-<timestamp>; an existing one is resumed")
    p.add_argument("--results-dir", default="results", help="default: results")
    p.add_argument("--out", help="where CALIBRATION.md goes (default: results/reports/<run-id>)")
    p.add_argument("--report", metavar="RUN", help="only print and write a stored calibration's results")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=cmd_calibrate)


def _scale_parser(sub: Any) -> None:
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
    p.add_argument("--json", action="store_true", help="print the sweep's tables as JSON")
    holder: dict = {}
    _executor_options(p, holder)
    p.set_defaults(func=cmd_scale, _executor_flags=holder)


def _export_parser(sub: Any) -> None:
    p = _sub(sub, "export", "export runs, every record of each, to MLflow (a run per bench run, a nested run per trial) or Parquet", [
        "bench export RUN1 RUN2 --to parquet --out runs.parquet",
        "bench export RUN --to mlflow                          # sqlite:///results/mlflow/mlflow.db",
        "bench export RUN --to mlflow --tracking-uri http://mlflow.example:5000",
    ])  # fmt: skip
    p.add_argument("runs", nargs="+", help="run ids or folders")
    p.add_argument("--to", choices=["mlflow", "parquet"], required=True, help="where to")
    p.add_argument("--out", help="Parquet file (default: results/reports/<runs>.parquet)")
    p.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI (default: sqlite:///<results-dir>/mlflow/mlflow.db, artifacts beside it)",
    )
    p.add_argument("--experiment", default="hello-bench", help="MLflow experiment (default: hello-bench)")
    p.add_argument("--results-dir", default="results", help="default: results")
    p.add_argument("--json", action="store_true", help="print what was exported where as JSON")
    p.set_defaults(func=cmd_export)


def _env_parser(sub: Any) -> None:
    p = _sub(sub, "env", "print this machine's fingerprint (JSON)", ["bench env", "bench env --no-control"])
    p.add_argument("--no-control", action="store_true", help="skip the raw-speed control measurement")
    p.add_argument("--json", action="store_true", help="accepted for symmetry: the output is always JSON")
    p.set_defaults(func=cmd_env)


def _history_parser(sub: Any) -> None:
    p = _sub(sub, "history", "each adapter's metrics across stored runs, with uncertainty, and the steps in them", [
        "bench history                                   # every run in results/, ordered by when it ran",
        "bench history duet --by scikit-learn             # a run's environments, in version order",
        "bench history duet%old duet%new other-run --by scikit-learn",
        "bench history --by commit --metrics fit_wall_s --json",
    ])  # fmt: skip
    p.add_argument("runs", nargs="*", help="runs (RUN: each of its environments is a point; RUN%%NAME: that one); "
                   "default: every run")  # fmt: skip
    p.add_argument("--by", default="time", metavar="time|commit|PACKAGE",
                   help="order the points by when they ran (default), label them by your git commit, or order them "
                   "by a package's version (e.g. --by scikit-learn)")  # fmt: skip
    p.add_argument("--metrics", default="fit_wall_s,latency_p50_us,accuracy", metavar="LIST",
                   help="metrics to follow (default: %(default)s)")  # fmt: skip
    p.add_argument("--results-dir", default="results", help="where runs are stored (default: results)")
    p.add_argument("--out", help="where HISTORY.md goes (default: results/reports/history)")
    p.add_argument("--json", action="store_true", help='print {"steps": [...], "points": [...]} as JSON')
    p.set_defaults(func=cmd_history)


def _check_parser(sub: Any) -> None:
    p = _sub(sub, "check", "check that adapters give the harness what it measures (for plugin authors)", [
        "bench check my-adapter", "bench check sklearn-lr torch-mlp --json",
        "bench check mypkg.model.MyClassifier --env head=\"mypkg @ file://$PWD\"   # in an environment's Python",
    ])  # fmt: skip
    p.add_argument("adapters", nargs="+", help="registered names or dotted classifier paths")
    p.add_argument("--env", action="append", metavar="NAME=REQ",
                   help="check in this environment's Python (built or reused as bench run --env builds it), where a "
                        "package installed only there is found; repeatable")  # fmt: skip
    p.add_argument("--python", action="append", metavar="PATH",
                   help="check in this interpreter (a virtual environment of yours holding the package and bench's "
                        "dependencies); repeatable")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the checks and their results as JSON")
    p.set_defaults(func=cmd_check)


def _list_parser(sub: Any) -> None:
    p = _sub(
        sub, "list", "adapters (available or not, and why), datasets, devices", ["bench list", "bench list --json"]
    )
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=cmd_list)


def _publish_parser(sub: Any) -> None:
    p = _sub(sub, "publish", "a static site of every stored run: an index, each run's report, machine comparisons", [
        "bench publish --out site                 # open site/index.html, or serve the folder from any static host",
        "bench publish --out ../my-site-checkout  # writes only its own files there",
    ])  # fmt: skip
    p.add_argument("--out", required=True, help="the site's folder (may exist: only the site's own files are written)")
    p.add_argument("--runs", nargs="+", metavar="RUN", help="only these runs (default: every stored run)")
    p.add_argument("--results-dir", default="results", help="where runs are stored (default: results)")
    p.add_argument("--json", action="store_true", help="print the pages written as JSON")
    p.set_defaults(func=cmd_publish)


def _schema_parser(sub: Any) -> None:
    from hello_bench.schemas import INPUTS, NAMES

    p = _sub(sub, "schema", "print the JSON Schema of a command's --json output, or of bench.toml (no name: list them)",
             ["bench schema", "bench schema report", "bench report --json | check-jsonschema --schemafile <(bench schema report) -",
              "bench schema bench-toml > bench-toml.schema.json   # then '#:schema ./bench-toml.schema.json' atop bench.toml"])  # fmt: skip
    p.add_argument("name", nargs="?", choices=NAMES + INPUTS,
                   help="the output: " + ", ".join(NAMES) + "; or bench-toml, a run configuration")  # fmt: skip
    p.set_defaults(func=cmd_schema)


def build_parser() -> argparse.ArgumentParser:
    from hello_bench import __version__

    parser = OneLineParser(prog="bench", description="Fair, repeated, timed comparisons of scikit-learn, Keras and PyTorch.",
                           epilog=EXIT_HELP)  # fmt: skip
    parser.add_argument("--version", action="version", version=f"bench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=OneLineParser)
    _seed_parser(sub)
    _run_parser(sub)
    _report_parser(sub)
    _compare_parser(sub)
    _calibrate_parser(sub)
    _scale_parser(sub)
    _export_parser(sub)
    _env_parser(sub)
    _list_parser(sub)
    _check_parser(sub)
    _history_parser(sub)
    _publish_parser(sub)
    _schema_parser(sub)
    return parser


def _one_line_warnings() -> list[str]:
    """Collect warnings (a torn last line set aside, ...) as one line each, once: printed as ``warning: ...``
    when the command ends (not Python's file:line form with a source line, not twice when two readers meet
    the same thing), and not at all when it ends in an error, which stays the one line on stderr."""
    import warnings

    seen: list[str] = []

    def show(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
        text = one_line(str(message))
        if text not in seen:
            seen.append(text)

    warnings.showwarning = show  # type: ignore[assignment]
    return seen


def _print_warnings(seen: list[str]) -> None:
    for text in seen:
        print(f"warning: {text}", file=sys.stderr)


def _check_metric_plugins(args: argparse.Namespace) -> None:
    """A metric plugin that gives no metric (``BENCH_METRICS`` or an entry point) is bad input, before anything runs
    or is written.

    ``bench list`` is where the user looks to see what loads, so it lists the problem instead.
    """
    if args.func is not cmd_list:
        from hello_bench.record import named_metric_problems

        problems = named_metric_problems()
        if problems:
            how = [w for k, w in (("BENCH_METRICS", "unset BENCH_METRICS"), ("entry point", "uninstall the package "
                   "declaring the entry point")) if any(p.startswith(k) for p in problems)]  # fmt: skip
            raise UserError("; ".join(problems) + f" (fix it, or {' or '.join(how)})")


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the command; every failure is one line and an exit status."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, terminate)
    try:
        args = build_parser().parse_args(argv)
    except KeyboardInterrupt:  # a signal while the parser's modules load
        print(INTERRUPTED, file=sys.stderr)
        return EXIT["interrupted"]
    try:
        os.getcwd()
    except OSError:  # every relative path (results, data, configs) would be meaningless
        print("error: the current folder no longer exists; change to an existing folder and retry", file=sys.stderr)
        return EXIT["bad input"]
    seen = _one_line_warnings()
    try:
        _check_metric_plugins(args)
        code = args.func(args)
        _print_warnings(seen)
        return code
    except UserError as err:
        print("error: " + one_line(str(err)), file=sys.stderr)  # always one line
        return EXIT["bad input"]
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return EXIT["ok"]
    except ImportError as err:  # an installed package that cannot load here: most often one shadowed on PYTHONPATH
        import traceback

        where = traceback.extract_tb(err.__traceback__)[-1].filename if err.__traceback__ else "?"
        print(f"error: importing {err.name or 'a module'} failed: {one_line(str(err))} (raised in {where}; is "
              "something on PYTHONPATH shadowing an installed package?)", file=sys.stderr)  # fmt: skip
        return EXIT["bad input"]
    except KeyboardInterrupt:
        _print_warnings(seen)
        print(INTERRUPTED, file=sys.stderr)
        return EXIT["interrupted"]
