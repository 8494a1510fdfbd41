"""Adapters: one scikit-learn estimator per framework, one registry.

>>> from hello_bench.adapters import make_adapter
>>> clf = make_adapter("sklearn-lr")                      # doctest: +SKIP
>>> clf = make_adapter("keras-mlp", profile="seed")       # the blog post's settings
"""

if __name__ != "hello_bench.adapters":  # the folder adapters/ imported by its path (PyPI's "adapters" is another)
    raise ImportError(
        "hello-bench's adapters are hello_bench.adapters (from hello_bench.adapters import make_adapter): the "
        "top-level name 'adapters' was retired in 0.4; install the project (pip install -e .) and use that name"
    )

from .base import BenchClassifier  # noqa: E402
from .registry import (
    AdapterInfo,
    AdapterLoadError,
    UnknownAdapterError,
    adapter_class,
    describe,
    list_adapters,
    make_adapter,
    profile_params,
    registered,
)

__all__ = [
    "AdapterInfo",
    "AdapterLoadError",
    "BenchClassifier",
    "UnknownAdapterError",
    "adapter_class",
    "describe",
    "list_adapters",
    "make_adapter",
    "profile_params",
    "registered",
]
