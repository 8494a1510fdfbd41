"""bench: fair, repeated, timed comparisons of scikit-learn, Keras and PyTorch.

``bench.load`` returns stored records as one pandas DataFrame.
"""

from __future__ import annotations

__version__ = "0.1.0"


def load(*runs, results_dir="results"):
    """All records of the given runs (default: every run) as one DataFrame.

    Parameters
    ----------
    *runs : str
        Run ids or paths of run folders.
    results_dir : str or Path, default="results"

    Returns
    -------
    pandas.DataFrame
        One row per trial record.
    """
    from .store import load_records

    return load_records(list(runs), results_dir=results_dir)
