"""The command line: ``bench`` (the parser and error handling: :mod:`hello_bench.cli.parser`).

The console script's entry point, :func:`entry`, first re-executes itself in
Python's isolated mode (``-I``) when it is not already in it: no process the
CLI starts (workers, the control measurement, a Dask cluster's scheduler,
nannies and workers, which inherit the flag) imports code from the current
folder. Until then it imports nothing but ``os``, ``sys`` (loaded before any
user code) and :mod:`hello_bench.isolation`, so not even the first process runs a
``json.py`` or ``typing.py`` it finds in the current folder.

Whether it is isolated is read from the interpreter itself (``sys.flags.isolated``),
which nothing in the user's environment can set: no variable (a leaked
``BENCH_ISOLATED=1``, once the marker) switches the re-execution off.

Signals during start-up: SIGINT and SIGTERM are *held* (blocked, which ``exec``
keeps) from the console script's first line until the re-executed process has
its handlers, then released; SIGTERM behaves as Ctrl-C from then on. A signal
at any point of start-up (the re-execution, the imports, a plugin's import)
ends the command with the one "interrupted" line and exit 130.
"""

import os
import sys

__all__ = ["entry", "main"]

LAUNCH = "from hello_bench.cli import main; raise SystemExit(main(sys.argv[1:]))"


def main(argv: "list[str] | None" = None) -> int:
    """Parse ``argv`` and run the command (in this process, as it is); returns the exit status."""
    import signal
    import threading

    from hello_bench.cli.interrupts import INTERRUPTED, terminate

    try:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, terminate)  # first: from here on SIGTERM is an interrupt
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})  # held by entry()
        from hello_bench.cli.parser import main as run
    except KeyboardInterrupt:  # held since start-up, or while the CLI itself was being imported
        print(INTERRUPTED, file=sys.stderr)
        return 130
    return run(argv)


def entry() -> None:
    """The ``bench`` console script (and ``python -m hello_bench``): isolated from the current folder, then :func:`main`."""
    if sys.flags.isolated:  # the interpreter's own flag: -I, never an environment variable
        raise SystemExit(main())
    import _signal  # built in: no file in the current folder can stand in for it

    # Held across the re-execution until main() can answer them, not left to kill a half-started process.
    _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGINT, _signal.SIGTERM})
    from hello_bench.isolation import SAFE_ENV, isolated_command

    os.environ.update(SAFE_ENV)
    command = isolated_command(LAUNCH, *sys.argv[1:])
    try:
        os.execv(command[0], command)
    except OSError:  # cannot re-execute (an unusual platform): run here, without the cwd on sys.path
        here = os.path.realpath(os.getcwd())
        sys.path[:] = [p for p in sys.path if p and os.path.isabs(p) and os.path.realpath(p) != here]
        raise SystemExit(main()) from None
