"""``bench publish --out DIR``: a static site of every stored run, readable from ``file://`` and any static host.

The site: ``index.html`` (the numbers first: each comparison's gate and what
differs, each run's accuracy with its interval and headline times per adapter;
then every run with its machine, environment and dates; the machines; links to
everything), ``runs/<run-id>/index.html`` (each run's report),
``compare/<a>--<b>/index.html`` (the same matrix on two machines) and
``compare/<run>/<a>--<b>/index.html`` (a duet: a run's first environment
against each other one), each gated at the registry's default thresholds,
``history/index.html`` (``bench history``: each adapter's metrics across the
matrix runs, with the steps in them, where there are two runs or more), and
whatever pages registered builders add. Every link is relative; plotly.js is written once to
``assets/`` and linked from each page. ``DIR`` may be an existing folder (a
site checkout): only these files are written, nothing else there is touched.

**Adding pages**: register a builder,
``publish.register(builder)``, or put a ``site_pages(site)`` function in a
module named by an entry point of the group ``bench.site``. A builder takes the
:class:`Site` and returns :class:`Page` objects; the index links each one.
"""

from __future__ import annotations

import itertools
import json
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from hello_bench.analysis.load import load_runs
from hello_bench.errors import UserError
from hello_bench.report.document import Doc
from hello_bench.report.html import render
from hello_bench.store.reader import RunFolder, read_values, run_dirs
from hello_bench.store.safefs import OutputDir, file_name

ASSET = "assets/plotly.min.js"
ENTRY_POINTS = "bench.site"


@dataclass
class Page:
    """One page of the site: ``path`` relative to the site's root (``history/index.html``)."""

    kind: str
    title: str
    path: str
    doc: Doc
    run_id: str | None = None
    #: What a comparison page compared (its gate and verdicts, for the index).
    compared: Any = None
    #: Why a page has nothing to show (the index says it).
    note: str = ""


@dataclass
class Site:
    """What builders see: the runs (oldest first) and where they are stored."""

    results_dir: Path
    folders: list[RunFolder]
    pages: list[Page] = field(default_factory=list)


Builder = Callable[[Site], list[Page]]
_BUILDERS: list[Builder] = []


def register(builder: Builder) -> Builder:
    """Add a page builder (usable as a decorator); it runs on every ``bench publish``."""
    if builder not in _BUILDERS:
        _BUILDERS.append(builder)
    return builder


def builders() -> list[Builder]:
    """Built-in run and comparison pages, registered builders, then entry-point ones."""
    found: list[Builder] = [run_pages, comparison_pages, history_pages, *_BUILDERS]
    from hello_bench.plugins import PluginError, guarded

    for entry in metadata.entry_points(group=ENTRY_POINTS):
        try:
            found.append(guarded(entry.load))
        except PluginError as err:  # a broken plugin names itself
            raise UserError(f"Site page builder {entry.name!r} ({entry.value}) failed to load: {err}") from None
    return found


# -- the built-in pages ---------------------------------------------------------------------
def _report_doc(folder: RunFolder, results_dir: Path, scratch: Path) -> Doc | None:
    """A run's report as a document (figures staged in memory, never written), or None for a run without one."""
    kind = folder.kind()
    out = OutputDir.user(scratch)
    if kind == "scale":
        from hello_bench.report.scale import scale_doc

        return scale_doc(folder.path, out)
    if kind not in ("matrix", "seed"):
        return None
    from hello_bench.report.build import build

    return build(load_runs([str(folder.path)], results_dir, kind=None), None, out / "figures")


def run_pages(site: Site) -> list[Page]:
    pages = []
    with tempfile.TemporaryDirectory(prefix="bench-publish-") as tmp:
        for folder in site.folders:
            try:
                doc = _report_doc(folder, site.results_dir, Path(tmp) / folder.run_id)
            except UserError as err:  # e.g. no trial finished ok: the index says why
                doc = Doc(f"Run {folder.run_id}").para(f"No report: {err}")
            if doc is not None:
                pages.append(
                    Page(
                        "run", f"Run {folder.run_id}", f"runs/{folder.run_id}/index.html", _inlined(doc), folder.run_id
                    )
                )
    return pages


def _inlined(doc: Doc) -> Doc:
    """PNG figures read now, while their scratch folder exists (the page embeds them)."""
    from hello_bench.report.document import Figure

    for i, block in enumerate(doc.blocks):
        if block[0] == "figure" and not block[1].spec and block[1].path.is_file():
            f = block[1]
            doc.blocks[i] = ("figure", Figure(f.title, f.path, f.beside, None, f.path.read_bytes()))
    return doc


def machine_of(folder: RunFolder) -> str:
    return str(folder.environment().get("machine_id") or "?")


def matrix_key(folder: RunFolder) -> str:
    """Runs with the same settings (adapters, datasets, splits, timing) compare across machines."""
    config = {k: v for k, v in folder.config().items() if k not in ("description",)}
    return repr(sorted(config.items()))


def comparison_pairs(folders: list[RunFolder]) -> list[tuple[RunFolder, RunFolder]]:
    """The latest run of each machine, per matrix, against the first machine's: one pair per other machine."""
    pairs = []
    matrix = [f for f in folders if f.kind() == "matrix"]
    for _, group in itertools.groupby(sorted(matrix, key=matrix_key), key=matrix_key):
        latest: dict[str, RunFolder] = {}
        for folder in group:
            latest[machine_of(folder)] = folder  # folders come oldest first
        runs = sorted(latest.values(), key=lambda f: f.run_id)
        pairs += [(runs[0], other) for other in runs[1:]]
    return pairs


def duet_pairs(folders: list[RunFolder], results_dir: Path) -> list[tuple[str, str]]:
    """A matrix run holding several environments (a duet): its first environment (as its config lists them)
    against each other one, as ``bench compare RUN%a RUN%b`` names them (by path where it is not in the store)."""
    pairs = []
    for folder in folders:
        stored = (results_dir / "runs" / folder.run_id).resolve() == folder.path.resolve()
        ref = folder.run_id if stored else str(folder.path)
        if folder.kind() != "matrix":
            continue
        # One field decoded per line: the whole records of 100,000 trials cost a GB more.
        held = {str(e) for e in read_values(folder.records_path, "environment") if e}
        listed = [e.get("name") for e in folder.config().get("environments") or [] if isinstance(e, dict)]
        names = [n for n in listed if n in held] + sorted(held - set(listed))
        pairs += [(f"{ref}%{names[0]}", f"{ref}%{other}") for other in names[1:]]
    return pairs


def comparison_pages(site: Site) -> list[Page]:
    """Each pair of :func:`comparison_pairs` and :func:`duet_pairs`, gated at the registry's default thresholds."""
    from hello_bench.analysis.policy import GatePolicy
    from hello_bench.report.compare import compare_runs

    found = [([str(a.path), str(b.path)], f"{a.run_id} ({machine_of(a)}) vs {b.run_id} ({machine_of(b)})",
              f"compare/{a.run_id}--{b.run_id}") for a, b in comparison_pairs(site.folders)]  # fmt: skip
    for a, b in duet_pairs(site.folders, site.results_dir):
        (run, _, first), second = a.partition("%"), b.partition("%")[2]
        folder = f"compare/{file_name(Path(run).name)}/{file_name(first)}--{file_name(second)}"
        found.append(([a, b], f"{run}: {first} vs {second}", folder))
    pages = []
    with tempfile.TemporaryDirectory(prefix="bench-publish-") as tmp:
        for runs, title, folder in found:
            path = f"{folder}/index.html"
            try:
                result = compare_runs(runs, site.results_dir, out_dir=tmp, policy=GatePolicy(on=True))
            except UserError as err:  # e.g. the two sides hold the same records: the index says why
                why = f"No comparison: {err}"
                pages.append(Page("comparison", title, path, Doc(title).para(why), note=why))
                continue
            pages.append(Page("comparison", title, path, _inlined(result.doc), compared=result))
    return pages


def history_pages(site: Site) -> list[Page]:
    """``bench history`` over the site's matrix runs (versions side by side), where they hold at least two points
    (two runs, or a run with environments)."""
    from hello_bench.report import history

    names = [f.run_id for f in site.folders if f.kind() == "matrix"]
    if not names:
        return []
    with tempfile.TemporaryDirectory(prefix="bench-publish-") as tmp:
        try:
            found = history.build(names, site.results_dir, "time", (), OutputDir.user(Path(tmp)))
        except UserError:  # nothing to line up (no metric in common): no page
            return []
        return [
            Page("history", "History: each adapter's metrics across runs", "history/index.html", _inlined(found.doc))
        ]


# -- the index ------------------------------------------------------------------------------
def _link(page: Page) -> str:
    return f"[{page.title}]({page.path})"


def _run_link(folder: RunFolder, pages: dict[str, Page]) -> str:
    page = pages.get(folder.run_id)
    return f"[{folder.run_id}]({page.path})" if page else folder.run_id


def run_row(folder: RunFolder, pages: dict[str, Page]) -> list:
    env, config = folder.environment(), folder.config()
    if any(True for _ in read_values(folder.records_path, "status")):
        frame = load_runs([str(folder.path)], folder.path.parent.parent, kind=None, dedupe_splits=False).frame
    else:  # no record yet: a row of 0 trials (its page says why), the site still built; damage still refused
        folder.check()
        frame = pd.DataFrame({"status": pd.Series(dtype=str)})
    start = pd.to_datetime(frame.get("started_at"), utc=True).min() if "started_at" in frame else None
    end = pd.to_datetime(frame.get("finished_at"), utc=True).max() if "finished_at" in frame else None
    statuses = frame["status"].value_counts()
    packages = env.get("packages") or {}
    versions = ", ".join(
        f"{k} {packages[k]}" for k in ("scikit-learn", "keras", "torch", "tensorflow_cpu", "jax") if packages.get(k)
    )
    return [
        _run_link(folder, pages),
        folder.kind(),
        f"{env.get('hostname', '?')} ({machine_of(folder)})",
        f"Python {env.get('python', {}).get('version', '?')}; {versions or '-'}",
        start.strftime("%Y-%m-%d %H:%M") if start is not None and not pd.isna(start) else "-",
        end.strftime("%Y-%m-%d %H:%M") if end is not None and not pd.isna(end) else "-",
        len(frame),
        ", ".join(f"{n} {s}" for s, n in statuses.items()),
        str(config.get("description") or "-")[:160],
    ]


def machine_rows(folders: list[RunFolder]) -> list[list]:
    rows: dict[str, list] = {}
    for folder in folders:
        env = folder.environment()
        cpu = env.get("cpu", {})
        gpus = ", ".join(g.get("name", "?") for g in env.get("gpus", [])) or "none"
        row = rows.setdefault(machine_of(folder), [machine_of(folder), env.get("hostname", "?"), cpu.get("model", "?"),
                                                   cpu.get("logical_cores", "?"), env.get("memory_gib", "?"), gpus, 0])  # fmt: skip
        row[-1] += 1
    return list(rows.values())


def index(site: Site) -> Doc:
    from hello_bench.report import glance

    pages = {p.run_id: p for p in site.pages if p.kind == "run" and p.run_id}
    doc = Doc("hello-bench: every stored run")
    doc.para(f"{len(site.folders)} runs from `{site.results_dir}`, each with its report. Built by `bench publish`; every "
             "number on these pages is computed from the stored records.")  # fmt: skip
    compared = [p for p in site.pages if p.kind == "comparison"]
    doc.heading("Comparisons")
    if compared:
        doc.para("Each comparison gated at the registry's default thresholds (its page lists them); `bench compare "
                 "--fail-above PCT` gates at others. Sides: a duet (one run, interleaved), hosts or separate runs.")  # fmt: skip
        doc.table(["comparison", *glance.COMPARISON_HEADERS],
                  [[_link(p), *glance.comparison_cells(p.compared, p.note)] for p in compared], "comparisons")  # fmt: skip
    else:
        doc.para("No matrix ran on two machines or in two environments yet.")
    numbers = [[_run_link(f, pages), *row] for f in site.folders if f.kind() in glance.MEASURED
               for row in glance.run_numbers(str(f.path), site.results_dir)]  # fmt: skip
    if numbers:
        doc.heading("Headline numbers")
        doc.para("Per run, each adapter's mean accuracy over the splits with its corrected 95% interval (Nadeau and "
                 "Bengio), and the median of its headline times, as the run's report gives them.")  # fmt: skip
        doc.table(glance.number_headers(), numbers, "headline").legend()
    doc.shorten({str(label) for row in numbers for label in row[1:3]}
                | {label for p in compared if p.compared for label in p.compared.doc.labels.full_to_short})  # fmt: skip
    doc.heading("Runs")
    doc.table(["run", "kind", "machine", "environment", "started", "finished", "records", "statuses", "description"],
              [run_row(f, pages) for f in site.folders], "runs")  # fmt: skip
    doc.heading("Machines")
    doc.table(
        ["machine id", "host", "CPU", "logical cores", "memory GiB", "GPUs", "runs"],
        machine_rows(site.folders),
        "machines",
    )
    others = [p for p in site.pages if p.kind not in ("run", "comparison")]
    if others:
        doc.heading("More")
        doc.bullets([_link(p) for p in others])
    return doc


def _back(doc: Doc, depth: int) -> Doc:
    doc.blocks.insert(0, ("p", f"[All runs]({'../' * depth}index.html)"))
    return doc


#: The files a site holds, written beside its index: a later publish into the same folder removes the pages of
#: runs it no longer shows (only files listed there: never anything else in the folder).
MANIFEST = ".bench-site.json"


def _manifest(root: Path) -> set[str]:
    """The files the last publish into ``root`` wrote (empty when none, or when its list is damaged)."""
    try:
        files = json.loads((root / MANIFEST).read_text()).get("files")
    except (OSError, ValueError, AttributeError):
        return set()
    return {f for f in files if isinstance(f, str)} if isinstance(files, list) else set()


def _remove_stale(root: Path, stale: set[str]) -> None:
    """Remove pages an earlier publish wrote that this one does not: regular files inside ``root`` reached
    without a link, then the folders they leave empty."""
    real = root.resolve()
    for relative in sorted(stale):
        path = root / relative
        if ".." in Path(relative).parts or path.is_symlink() or not path.is_file():
            continue
        if path.resolve().parent != (real / relative).parent or real not in path.resolve().parents:
            continue  # a link on the way: not ours to follow
        path.unlink()
        for folder in path.parents:
            if folder == root or not folder.is_dir() or any(folder.iterdir()):
                break
            folder.rmdir()


def _readable(folder: RunFolder) -> bool:
    """Whether a listed run's files read (a run nobody named, damaged, is left out with a warning naming it)."""
    try:
        folder.check()
    except UserError as err:
        warnings.warn(f"{err} Left out of the site.", stacklevel=2)
        return False
    return True


def publish(out: str | Path, results_dir: str | Path = "results", runs: list[str] | None = None) -> dict:
    """Write the site; returns what was written (``--json``)."""
    from hello_bench.report.html import plotly_js

    results = Path(results_dir)
    folders = [RunFolder.resolve(r, results) for r in runs] if runs else [f for f in map(RunFolder, run_dirs(results))
                                                                           if _readable(f)]  # fmt: skip
    folders = list({f.path.resolve(): f for f in reversed(folders)}.values())[::-1]  # a run named twice is one run
    if not folders:
        raise UserError(f"No runs under {results / 'runs'}: nothing to publish.")
    import numpy as np

    target = OutputDir.user(Path(out), results).check_writable()
    site = Site(results, folders)
    with np.errstate(invalid="ignore", divide="ignore"):  # censored times: NaN shows as '-'
        for builder in builders():
            site.pages += builder(site)
    # Every page rendered first, then written together: a run that cannot be read leaves no half site.
    js = plotly_js()
    if js is not None:
        target.stage(ASSET, js)
    for page in site.pages:
        depth = page.path.count("/")
        script = "../" * depth + ASSET if js is not None else None
        target.stage(page.path, render(_back(page.doc, depth), script))
    target.stage("index.html", render(index(site), None))
    written = [*([ASSET] if js is not None else []), *(p.path for p in site.pages), "index.html"]
    previous = _manifest(target.path)
    target.stage(MANIFEST, json.dumps({"files": written}, indent=1))
    target.commit()
    _remove_stale(target.path, previous - {*written, MANIFEST})
    return {"out": str(target.path), "index": str(target.path / "index.html"), "runs": len(folders),
            "pages": [{"kind": p.kind, "title": p.title, "path": p.path, "run_id": p.run_id} for p in site.pages]}  # fmt: skip
