"""Documents built from stored records: the report, comparisons, exports, history, the site."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name in ("write_report", "Written"):
        from hello_bench.report import build

        return getattr(build, name)
    raise AttributeError(f"module 'hello_bench.report' has no attribute {name!r}")
