"""Short labels for long ones, with a legend: so that a trial's label never widens a page's tables past the screen.

A trial is labelled ``dataset/adapter/device``, and an adapter run with parameter overrides carries all of
them (``sklearn-mlp:seed(batch_size=16,epochs=30,learning_rate=0.01)``): 60-75 characters that push a
table of ten columns past a 1400 px screen, where its last columns are clipped. A page names its labels
once (:meth:`hello_bench.report.document.Doc.shorten`); each one longer than :data:`LIMIT` gets one short form,
used the same way in every line, table and figure of the page, and a legend maps it back. The JSON output
keeps the full labels.

The short form, in order of preference:

1. the label without its parameter overrides (``sklearn-mlp:seed``), where that names one label on the page;
2. the same with a number where several labels lose their overrides to the same name (``sklearn-mlp:seed#1``,
   ``#2``, numbered in the order of the full labels);
3. ``L1``, ``L2``, ... where the label stays long without its overrides (a long dotted class path).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

#: Labels up to this many characters are shown whole.
LIMIT = 32
_OVERRIDES = re.compile(r"\([^()]*\)")


def shorten(labels: Iterable[str], limit: int = LIMIT) -> dict[str, str]:
    """``{full: short}`` for every label longer than ``limit``; shorts are unique and never another label."""
    names = sorted({str(n) for n in labels if n})
    long = [n for n in names if len(n) > limit]
    taken = set(names) - set(long)
    stripped = {n: _OVERRIDES.sub("", n) for n in long}
    out: dict[str, str] = {}
    for name in long:
        base = stripped[name]
        same = [m for m in long if stripped[m] == base]
        numbered = len(same) > 1 or base in names  # the short name is another label's: numbered, never ambiguous
        short = f"{base}#{same.index(name) + 1}" if numbered else base
        if base and len(base) <= limit and short not in taken:
            out[name] = short
            taken.add(short)
    codes = (f"L{i}" for i in range(1, len(names) + len(long) + 2))
    for name in long:
        if name not in out:
            out[name] = next(c for c in codes if c not in taken)
            taken.add(out[name])
    return out


@dataclass
class Labels:
    """A page's shortened labels: :meth:`short` rewrites any text, :meth:`legend` lists them."""

    full_to_short: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Longest first: a label that contains another (``x(a=1)[jax]`` holds ``x(a=1)``) is replaced whole.
        keys = sorted(self.full_to_short, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, keys))) if keys else None

    def __bool__(self) -> bool:
        return bool(self.full_to_short)

    def short(self, text: str) -> str:
        """``text`` with every long label in it replaced by its short form (one pass: a short is never re-read)."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(lambda m: self.full_to_short[m.group(0)], text)

    def legend(self) -> list[list[str]]:
        """``[short, full]`` rows, in the order of the short labels."""
        return sorted([[s, f] for f, s in self.full_to_short.items()], key=lambda r: _natural(r[0]))


def short_strings(value: Any, short: Callable[[str], str]) -> Any:
    """Every string in a JSON-like value shortened (an interactive figure's trace names, axis labels, hover text)."""
    if isinstance(value, str):
        return short(value)
    if isinstance(value, list):
        return [short_strings(v, short) for v in value]
    if isinstance(value, dict):
        return {k: short_strings(v, short) for k, v in value.items()}
    return value


def _natural(text: str) -> list:
    """``L2`` before ``L10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]
