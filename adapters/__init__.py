"""Adapters: one scikit-learn estimator per framework, one registry.

>>> from adapters import make_adapter
>>> clf = make_adapter("sklearn-lr")                      # doctest: +SKIP
>>> clf = make_adapter("keras-mlp", profile="seed")       # the blog post's settings
"""

from .registry import (
    AdapterInfo,
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
    "UnknownAdapterError",
    "adapter_class",
    "describe",
    "list_adapters",
    "make_adapter",
    "profile_params",
    "registered",
]
