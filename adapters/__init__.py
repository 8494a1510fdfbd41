"""Adapters: one scikit-learn estimator per framework, one registry.

>>> from adapters import make_adapter
>>> clf = make_adapter("sklearn-lr")                      # doctest: +SKIP
>>> clf = make_adapter("keras-mlp", profile="seed")       # the blog post's settings
"""

from .base import BenchClassifier
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
