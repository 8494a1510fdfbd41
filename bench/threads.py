"""Set the same thread count for every framework in this process, and report it.

Call :func:`limit_threads` before a framework does any work: TensorFlow's
thread pools can be sized only before its runtime starts.
"""

from __future__ import annotations

import os
import sys

THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
)


def set_thread_env(n: int) -> None:
    """Set the environment variables that size thread pools at start-up (for child processes)."""
    for var in THREAD_ENV_VARS:
        os.environ[var] = str(n)


def limit_threads(n: int, frameworks: tuple[str, ...] = ()) -> dict:
    """Limit BLAS, torch and TensorFlow to ``n`` threads; return what is in force.

    Parameters
    ----------
    n : int
        Threads per framework (intra-op), and inter-op threads for TF and torch.
    frameworks : tuple of str
        Frameworks to configure, among "torch" and "tensorflow"; the import
        happens here, so call it where that import is wanted anyway.

    Returns
    -------
    dict
        Thread counts as read back from each library.
    """
    set_thread_env(n)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=n)
    if "torch" in frameworks:
        import torch

        torch.set_num_threads(n)
        try:
            torch.set_num_interop_threads(n)
        except RuntimeError:  # already set once in this process
            pass
    if "tensorflow" in frameworks:
        from adapters.quiet_import import import_tensorflow_quietly

        tf = import_tensorflow_quietly()
        try:
            tf.config.threading.set_intra_op_parallelism_threads(n)
            tf.config.threading.set_inter_op_parallelism_threads(n)
        except RuntimeError:  # runtime already started: env vars above still apply
            pass
    return thread_report()


def thread_report() -> dict:
    """Thread counts in force in this process, per library (imports nothing new)."""
    from threadpoolctl import threadpool_info

    report: dict = {"blas": sorted({f"{i['internal_api']}:{i['num_threads']}" for i in threadpool_info()})}
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        report["torch_intra"] = torch.get_num_threads()
        report["torch_inter"] = torch.get_num_interop_threads()
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        report["tf_intra"] = tf.config.threading.get_intra_op_parallelism_threads()
        report["tf_inter"] = tf.config.threading.get_inter_op_parallelism_threads()
    return report
