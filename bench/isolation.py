"""Starting Python processes that never import code from the current folder.

Every process bench starts (the CLI itself, workers, the control measurement,
and through multiprocessing, which passes ``-I`` on, a local Dask cluster's
processes) runs in Python's isolated mode, ``-I``: the current folder, the
user's site-packages and every ``PYTHON*`` variable stay off ``sys.path``
before the first import, on every Python the project supports (3.10 has no
``-P``). The project's root and the user's *absolute* ``PYTHONPATH`` entries
are put back explicitly, first.

This module imports only ``os`` and ``sys``, which the interpreter has loaded
before any user code can run: the console script builds its re-executed
command from here without importing anything a file in the current folder
could shadow (``json.py``, ``typing.py``, ...). No ``from __future__`` import
either: ``__future__`` is a module too.
"""

import os
import sys

#: The project's root (the folder holding the ``bench`` package).
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: For the Python processes that *libraries* start from ours (py-cpuinfo runs ``python -m cpuinfo``):
#: on Python 3.11+ this keeps the current folder off their sys.path too. ``-I`` processes ignore it.
SAFE_ENV = {"PYTHONSAFEPATH": "1"}
#: The package's own folder, and the adapters' (beside it in a checkout, inside it once installed).
PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
ADAPTERS_DIR = os.path.join(PACKAGE_DIR if os.path.basename(PACKAGE_DIR) == "hello_bench" else PACKAGE_ROOT, "adapters")
#: Run in the new process before ``code``: the explicit path goes first on sys.path (safe: already isolated).
PRELUDE = "import sys, ast; sys.path[:0] = ast.literal_eval(sys.argv.pop(1)); "
#: In a checkout the import name ``hello_bench`` lives in the folder ``bench/`` (``hello_bench.adapters`` in
#: ``adapters/``): an installed hello-bench finds them through its own finder, but a Python that only has the
#: checkout on its path (an environment built by ``--env``) needs this one. Appended last: used only when no
#: other finder knows the name.
ALIAS = (
    "import importlib.util as _u\n"
    "class _HelloBench:\n"
    " roots = {roots!r}\n"
    " @classmethod\n"
    " def find_spec(cls, name, path=None, target=None):\n"
    "  folder = cls.roots.get(name)\n"
    "  return folder and _u.spec_from_file_location(name, folder + '/__init__.py', submodule_search_locations=[folder])\n"
    "sys.meta_path.append(_HelloBench)\n"
)


def prelude() -> str:
    """:data:`PRELUDE`, and the :data:`ALIAS` finder where the package's folder is not named ``hello_bench``."""
    if os.path.basename(PACKAGE_DIR) == "hello_bench":
        return PRELUDE
    roots = {"hello_bench": PACKAGE_DIR, "hello_bench.adapters": ADAPTERS_DIR}
    return PRELUDE + "exec(" + repr(ALIAS.format(roots=roots)) + "); "


def import_path() -> list:
    """The project's root, then the absolute PYTHONPATH entries (never the current folder: '', '.', relative dropped)."""
    cwd: str | None
    try:
        cwd = os.path.realpath(os.getcwd())
    except OSError:  # the current folder was removed: there is nothing there to import anyway
        cwd = None
    entries = [PACKAGE_ROOT]
    for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        if entry and os.path.isabs(entry) and os.path.realpath(entry) != cwd and entry not in entries:
            entries.append(entry)
    return entries


def isolated_command(code: str, *args: str, python: "str | None" = None) -> list:
    """A command running ``code`` in a fresh interpreter that never imports from the current folder."""
    return [python or sys.executable, "-I", "-c", prelude() + code, repr(import_path()), *args]


def safe_environ(env: "dict | None" = None) -> dict:
    """``env`` (default: this process's environment) plus :data:`SAFE_ENV`, for any process we start."""
    return {**(os.environ if env is None else env), **SAFE_ENV}
