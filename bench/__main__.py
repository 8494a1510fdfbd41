"""``python -m bench``: the same as the ``bench`` command (isolated from the current folder from here on)."""

from bench.cli import entry

entry()
