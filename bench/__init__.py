"""hello_bench (the ``bench`` command): fair, repeated, timed comparisons of scikit-learn, Keras and PyTorch.

``hello_bench.load`` returns stored records as one tidy, flat pandas DataFrame
(``raw=True``: the records as stored); the errors it raises are importable
from here. Heavy modules (pandas, the frameworks) are imported on first use,
so ``bench --version`` and ``bench --help`` start at once.

The package follows the data's way::

    run/       config -> matrix -> runner -> executors -> worker processes
    measure/   inside a worker: timing, serving paths, memory, curves, the machine
    record.py  the typed trial record: the contract between measuring and storing
    store/     the run folder: one safe writer, one reader
    analysis/  loading into a tidy frame, pairing, statistics, verdicts
    report/    documents: report, compare, export, history, publish
    cli/       the command line
"""

# No ``from __future__`` or typing import here: the console script imports this package before it
# re-executes itself isolated (hello_bench.cli), and a ``__future__.py`` or ``typing.py`` in the current
# folder must not run (see hello_bench.isolation).
if __name__ != "hello_bench":  # the folder bench/ imported by its path: a second copy of every module
    raise ImportError(
        "hello-bench's import name is hello_bench (import hello_bench; from hello_bench.adapters import ...): "
        "'import bench' was retired in 0.4 so that it never shadows another distribution; install the project "
        "(pip install -e .) and use that name"
    )

from hello_bench.errors import UserError  # noqa: E402

__version__ = "0.4.0"

__all__ = ["DuplicateSplitError", "UserError", "__version__", "load"]


def __getattr__(name: str) -> object:
    if name in ("load", "DuplicateSplitError"):
        from hello_bench.analysis import load as _load

        return getattr(_load, name)
    raise AttributeError(f"module 'hello_bench' has no attribute {name!r}")
