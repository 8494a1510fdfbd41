"""The whiteboard rules, checked on the source: who may import whom, and a read side that names no adapter."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from hello_bench.adapters.registry import BUILTIN

ROOT = Path(__file__).resolve().parent.parent
#: What a build, a venv or a tool leaves in the checkout is not source (pip builds examples in place).
NOT_SOURCE = {"build", "dist", ".venv", "__pycache__", ".tox", "mutants", ".hypothesis"}


def sources(folder: Path, pattern: str = "*.py") -> list[Path]:
    """The source files under ``folder``, without build outputs (no test depends on what a build left)."""
    return [p for p in folder.rglob(pattern) if not NOT_SOURCE & set(p.relative_to(ROOT).parts)
            and not any(part.endswith(".egg-info") for part in p.parts)]  # fmt: skip


BENCH = ROOT / "bench"


def imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports included)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def imports_of(folder: str) -> dict[str, set[str]]:
    return {str(p.relative_to(ROOT)): imports(p) for p in sources(BENCH / folder)}


@pytest.mark.parametrize(
    "folder, forbidden",
    [
        (
            "run/executors",
            ("hello_bench.adapters", "hello_bench.measure", "hello_bench.store"),
        ),  # executors only schedule
        (
            "measure",
            ("hello_bench.store", "hello_bench.report", "hello_bench.analysis", "hello_bench.run"),
        ),  # the worker side: no parent code
        (
            "data",
            (
                "hello_bench.store",
                "hello_bench.report",
                "hello_bench.analysis",
                "hello_bench.run",
                "hello_bench.measure",
            ),
        ),  # both sides read it
        (
            "store",
            ("hello_bench.report", "hello_bench.analysis", "hello_bench.run", "hello_bench.measure"),
        ),  # the store knows records only
        (
            "analysis",
            ("hello_bench.report", "hello_bench.run.executors", "hello_bench.measure"),
        ),  # analysis is pure of documents
        ("run", ("hello_bench.report",)),  # the way in asks the analysis for a comparison, never a document for one
    ],
)
def test_who_imports_whom(folder, forbidden):
    broken = {f: sorted(m for m in mods if m.startswith(forbidden)) for f, mods in imports_of(folder).items()}
    assert {f: m for f, m in broken.items() if m} == {}


def test_the_machine_description_does_not_start_processes():
    assert not {m for m in imports(BENCH / "measure" / "machine.py") if m.startswith("hello_bench.run")}


#: Modules whose subject is the project's own reference runs and the blog post's experiment, or a CLI default.
NAMED_ON_PURPOSE = {"report/headline.py", "report/seed.py", "report/scale.py"}


def _docstrings(tree: ast.AST) -> set[int]:
    nodes = [n for n in ast.walk(tree) if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef))]
    return {id(n.body[0].value) for n in nodes if n.body and isinstance(n.body[0], ast.Expr)}


def test_the_read_side_names_no_built_in_adapter():
    """Reports, comparisons and statistics read record fields (adapter_name, profile, stock_profile, colour, reference)."""
    found = []
    for folder in ("analysis", "report"):
        for path in sources(BENCH / folder):
            rel = str(path.relative_to(BENCH))
            tree = ast.parse(path.read_text())
            if rel in NAMED_ON_PURPOSE:
                continue
            docs = _docstrings(tree)
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
                    if any(name in node.value for name in BUILTIN) or node.value == "numpy-reference":
                        found.append((rel, node.lineno, node.value[:60]))
    assert found == []


# -- the metric registry is the only place a metric is named ----------------------------------------------------
#: Where a metric's record field or column may be spelled: the registry (and its record migration), the worker
#: that measures them, and the vocabulary of meanings.
SPELLS_METRICS = ("bench/record.py", "bench/metrics.py", "bench/measure/")
#: Strings that equal a metric's name but are not ours: scikit-learn's own scoring name.
NOT_OURS = {("adapters/sklearn_lr.py", "accuracy")}


def _metric_names() -> tuple[set[str], list[str]]:
    from hello_bench.record import METRICS

    names = {m.column for m in METRICS if not m.keyed} | {m.path[0] for m in METRICS if m.path[0] != "metrics"}
    return names, [m.prefix for m in METRICS if m.keyed]


def _registry_lookups(tree: ast.AST) -> set[int]:
    """Constants passed to the registry's lookup by short name (``role("fit")``): a name, not a field."""
    return {
        id(a)
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "id", getattr(n.func, "attr", "")) == "role"
        for a in n.args
    }


def test_no_module_spells_a_metric_field_name():
    """Tables, comparisons, the gate and exports iterate the registry or ask it by role (``role("fit")``); a field
    renamed in bench/record.py then needs no other change in bench/ or adapters/."""
    names, prefixes = _metric_names()
    found = []
    for folder in ("bench", "adapters"):
        for path in sources(ROOT / folder):
            rel = str(path.relative_to(ROOT))
            if rel.startswith(SPELLS_METRICS):
                continue
            tree = ast.parse(path.read_text())
            skip = _docstrings(tree) | _registry_lookups(tree)
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
                    v = node.value
                    keyed = any(v.startswith(p) and (v == p or v[len(p) :].isdigit()) for p in prefixes)
                    if (v in names or keyed) and (rel, v) not in NOT_OURS:
                        found.append((rel, node.lineno, v))
    assert found == []


# -- no import cycles ------------------------------------------------------------------------------------------
def module_graph() -> tuple[set[str], dict[str, set[str]]]:
    """Every module of bench/ and adapters/, and the modules of the project each one imports (at any depth)."""
    mods = {}
    for folder, package in (("bench", "hello_bench"), ("adapters", "hello_bench.adapters")):
        for path in sources(ROOT / folder):
            parts = [package, *path.relative_to(ROOT / folder).with_suffix("").parts]
            mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {name: set() for name in mods}
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in mods]
                targets = subs if len(subs) == len(node.names) else [node.module, *subs]
            for target in targets:
                while target and target not in mods:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return set(mods), graph


def cycles(nodes: set[str], graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            v, children = work[-1]
            child = next((w for w in children if w not in index or w in on), None)
            if child is not None and child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on.add(child)
                work.append((child, iter(sorted(graph[child]))))
                continue
            if child is not None:
                low[v] = min(low[v], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def test_no_import_cycles_not_even_inside_functions():
    """Layers only import downwards: two modules that need each other share what they need from a third."""
    assert cycles(*module_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a", "b", "c"}, {"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a", "b"}, {"a": {"b"}, "b": set()}) == []


def test_the_cycle_finder_sees_the_real_graph():
    """Guard the guard: the graph is keyed by import names (hello_bench.*), so its edges are the real imports."""
    nodes, graph = module_graph()
    assert "hello_bench.cli.parser" in nodes and "hello_bench.adapters.registry" in nodes
    assert sum(len(edges) for edges in graph.values()) > 300


# -- one import name -------------------------------------------------------------------------------------------
def test_nothing_imports_the_retired_top_level_names():
    """bench/ and adapters/ are hello_bench and hello_bench.adapters: a module importing ``bench.x`` or
    ``adapters.x`` would load a second copy of the package (and ``bench/__init__`` refuses it)."""
    files = [*sources(ROOT / "bench"), *sources(ROOT / "adapters"), *sources(ROOT / "tests"),
             *sources(ROOT / "examples"), *[p for p in ROOT.glob("scripts/*") if p.is_file()]]  # fmt: skip
    found = []
    for path in files:
        try:
            tree = ast.parse(path.read_text())
        except SyntaxError:  # a shell script in scripts/
            continue
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            found += [(str(path.relative_to(ROOT)), n) for n in names if n.split(".")[0] in ("bench", "adapters")]
    assert found == []


def test_the_typecheck_mirror_is_whole():
    """mypy checks .typecheck/hello_bench: every entry of bench/ (and adapters/) must have its link there."""
    mirror = ROOT / ".typecheck" / "hello_bench"
    wanted = {p.name for p in BENCH.iterdir() if p.name != "__pycache__"} | {"adapters"}
    assert {p.name for p in mirror.iterdir()} == wanted
    assert all((mirror / name).resolve() == (BENCH / name).resolve() for name in wanted - {"adapters"})
    assert (mirror / "adapters").resolve() == (ROOT / "adapters").resolve()


def test_mutation_testing_mutates_what_the_tests_import():
    """mutmut names a mutant by its file's path and the tests import ``hello_bench``: scripts/mutation-run copies
    ``bench/`` as ``hello_bench/`` and renames ``[tool.mutmut]``'s paths to match, every one an existing source
    (run in the checkout, mutmut found "no test case for any mutant": the score could not be measured)."""
    import runpy

    import tomllib

    renamed_toml = runpy.run_path(str(ROOT / "scripts" / "mutation-run"), run_name="mutation_run")["renamed"]
    original = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    renamed = tomllib.loads(renamed_toml((ROOT / "pyproject.toml").read_text()))
    mutmut = renamed["tool"]["mutmut"]
    assert mutmut["source_paths"] == ["hello_bench"]
    assert [p.replace("hello_bench/", "bench/", 1) for p in mutmut["only_mutate"]] == original["only_mutate"]
    assert all((ROOT / p).is_file() for p in original["only_mutate"])
    assert renamed["project"] == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]  # only the table
    for test in mutmut["pytest_add_cli_args_test_selection"]:
        assert "from hello_bench" in (ROOT / test).read_text() or "import hello_bench" in (ROOT / test).read_text()
