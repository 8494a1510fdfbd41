"""Total deadlines for remote calls (an MLflow server, a Dask scheduler).

A socket timeout bounds each *wait* for a byte, not the call: a server that
sends one byte every few seconds holds a call for ever. :func:`within` bounds
the whole call: it runs in a daemon thread, and when the deadline passes the
command gives up with one line (the thread is abandoned; the command ends, and
the thread with it). :class:`Deadlined` puts every method call of an object
(a client) under the same deadline, so no call is forgotten.

Only the standard library: the run side and the report side both use it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from hello_bench.errors import UserError

T = TypeVar("T")


def within(seconds: float, what: str, call: Callable[[], T]) -> T:
    """``call()``, or a UserError naming ``what`` when it has not returned within ``seconds`` in all."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as err:  # handed to the caller's thread, whatever it is
            box["error"] = err

    thread = threading.Thread(target=target, name=f"deadline: {what}"[:60], daemon=True)
    thread.start()
    thread.join(seconds)  # a Ctrl-C still interrupts the wait
    if thread.is_alive():
        raise UserError(f"{what}: no complete answer within {seconds:g} s (a total deadline, however slowly it sends).")
    if "error" in box:
        raise box["error"]
    return box["value"]


class Deadlined:
    """``target`` whose every method call runs under :func:`within` (attributes that are not methods pass)."""

    def __init__(self, target: Any, seconds: float, what: str) -> None:
        self._target, self._seconds, self._what = target, seconds, what

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            return within(self._seconds, f"{self._what} ({name})", lambda: attr(*args, **kwargs))

        return call
