"""The command line: ``bench`` (the parser and error handling: :mod:`bench.cli.parser`).

The console script's entry point, :func:`entry`, first re-executes itself in
Python's isolated mode (``-I``) when it is not already in it: no process the
CLI starts (workers, the control measurement, a Dask cluster's scheduler,
nannies and workers, which inherit the flag) imports code from the current
folder, and the CLI itself imports nothing from there after that point.
"""

from __future__ import annotations

import os
import sys

from bench.cli.parser import main

__all__ = ["entry", "main"]

#: Set in the re-executed process, so it never re-executes again.
ISOLATED_VAR = "BENCH_ISOLATED"
LAUNCH = "from bench.cli import main; raise SystemExit(main(sys.argv[1:]))"


def entry() -> None:
    """The ``bench`` console script: isolated from the current folder, then :func:`main`."""
    if sys.flags.isolated or os.environ.get(ISOLATED_VAR):
        raise SystemExit(main())
    from bench.run.process import isolated_command

    os.environ[ISOLATED_VAR] = "1"
    command = isolated_command(LAUNCH, *sys.argv[1:])
    try:
        os.execv(command[0], command)
    except OSError:  # cannot re-execute (an unusual platform): run here, still without the cwd on sys.path
        raise SystemExit(main()) from None
