"""The command line: ``bench`` (see :mod:`bench.cli.parser`)."""

from __future__ import annotations

from bench.cli.parser import main

__all__ = ["main"]
