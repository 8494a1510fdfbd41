"""Framework facts shared by several adapters: versions, threads, GPUs.

Only adapters import this module; the harness asks adapters (their class
hooks, see :mod:`hello_bench.adapters.base`) and never names a framework itself. Every
function imports its framework lazily, so importing this module is cheap.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, packages_distributions, version

#: BLAS/OpenMP pools sized from the environment when a library loads.
BLAS_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@functools.lru_cache(maxsize=1)
def _distributions() -> dict[str, list[str]]:
    # Scans every installed distribution once (~50 ms): top-level module -> distributions.
    return dict(packages_distributions())


def module_version(module: str) -> str | None:
    """Version of the distribution that installs top-level ``module`` (None if absent).

    Works for any package (``sklearn`` -> scikit-learn, ``tensorflow`` ->
    tensorflow-cpu), so a third-party adapter gets its version without code.
    """
    top = module.split(".")[0]
    for dist in [*_distributions().get(top, []), top]:
        try:
            return version(dist)
        except PackageNotFoundError:
            continue
    return None


def distribution_names(module: str) -> list[str]:
    """Distributions that install top-level ``module`` (for the environment fingerprint)."""
    return list(_distributions().get(module.split(".")[0], []))


def installed(module: str) -> bool:
    """Whether ``module`` can be imported, checked without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


# -- threads -----------------------------------------------------------------------
def blas_threads(n: int) -> dict:
    """Limit BLAS/OpenMP pools to ``n`` threads (threadpoolctl); report them."""
    from threadpoolctl import threadpool_info, threadpool_limits

    threadpool_limits(limits=n)
    return {"blas": sorted({f"{i['internal_api']}:{i['num_threads']}" for i in threadpool_info()})}


def torch_threads(n: int) -> dict:
    import torch

    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(n)
    except RuntimeError:  # can be set once per process, before any parallel work
        pass
    return {"torch_intra": torch.get_num_threads(), "torch_inter": torch.get_num_interop_threads()}


def tensorflow_threads(n: int) -> dict:
    from .quiet_import import import_tensorflow_quietly

    tf = import_tensorflow_quietly()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)
    except RuntimeError:  # runtime already started: the environment variables still apply
        pass
    return {
        "tf_intra": tf.config.threading.get_intra_op_parallelism_threads(),
        "tf_inter": tf.config.threading.get_inter_op_parallelism_threads(),
    }


def jax_thread_env(n: int) -> dict[str, str]:
    """XLA's CPU thread pool is sized from ``XLA_FLAGS`` before JAX starts."""
    flags = os.environ.get("XLA_FLAGS", "")
    if n == 1 and "xla_cpu_multi_thread_eigen" not in flags:
        flags = (flags + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()
    return {"XLA_FLAGS": flags} if flags else {}


def thread_env(n: int) -> dict[str, str]:
    return {var: str(n) for var in BLAS_THREAD_VARS}


# -- GPUs --------------------------------------------------------------------------
def torch_gpu_name() -> str:
    import torch

    return str(torch.cuda.get_device_name(0))


def torch_gpu_memory_probe() -> Callable[[], float]:
    """Peak CUDA memory (MiB) allocated by torch since this call."""
    import torch

    torch.cuda.reset_peak_memory_stats()
    return lambda: torch.cuda.max_memory_allocated() / 2**20


def tensorflow_gpu_memory_probe() -> Callable[[], float]:
    import tensorflow as tf

    tf.config.experimental.reset_memory_stats("GPU:0")
    return lambda: tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20


def loaded(module: str) -> bool:
    """Whether ``module`` is already imported in this process (never imports it)."""
    return module in sys.modules
