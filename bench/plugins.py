"""Running a plugin's code without letting it take the CLI down.

A plugin (an adapter or metric from an entry point, ``BENCH_ADAPTERS`` or
``BENCH_METRICS``, or any dotted class path) is someone else's code. Whatever
it raises while it is imported or inspected (an ``Exception``, ``SystemExit``,
``RecursionError``, ``MemoryError``, a ``KeyboardInterrupt`` it raises itself)
makes it "cannot load" with the reason, and nothing else changes. A *real*
Ctrl-C (SIGINT delivered while the plugin's code runs) still interrupts: a
handler notes the signal's arrival, so the two KeyboardInterrupts are told
apart by cause, not by guesswork.

Only the standard library is imported here: this module is used by the
adapter registry and the metric registry alike.
"""

from __future__ import annotations

import importlib
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any, TypeVar

T = TypeVar("T")


class PluginError(Exception):
    """A plugin's code raised while bench loaded or inspected it (the message names what it raised)."""


@contextmanager
def _sigint_noted() -> Iterator[list[bool]]:
    """Note whether SIGINT arrives inside the block (main thread only); the signal keeps its usual effect."""
    noted = [False]
    if threading.current_thread() is not threading.main_thread():
        yield noted  # signals go to the main thread: a KeyboardInterrupt here was raised by the code itself
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        if previous == signal.SIG_IGN:
            return
        noted[0] = True
        if callable(previous):
            previous(signum, frame)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield noted
    finally:
        signal.signal(signal.SIGINT, previous)


def describe(err: BaseException) -> str:
    """``Type: first line of the message`` (bounded: a plugin's message is not ours to print whole)."""
    try:
        text = str(err).strip().splitlines()[0][:300] if str(err).strip() else ""
    except BaseException:  # even __str__ is the plugin's code (it may raise SystemExit too)
        text = ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def guarded(call: Callable[[], T]) -> T:
    """``call()``, with anything it raises (but a real Ctrl-C) turned into :class:`PluginError`."""
    with _sigint_noted() as sigint:
        try:
            return call()
        except BaseException as err:
            if isinstance(err, KeyboardInterrupt) and sigint[0]:
                raise
            raise PluginError(describe(err)) from None


def import_plugin(module: str) -> ModuleType:
    """Import a plugin's module under :func:`guarded` (a failed import leaves nothing in sys.modules)."""
    return guarded(lambda: importlib.import_module(module))


def load_target(target: str) -> Any:
    """The object at ``module:attr`` (or ``module.attr``), imported and looked up under :func:`guarded`."""
    module_name, sep, attr = target.partition(":")
    if not sep:
        module_name, _, attr = target.rpartition(".")
    if not module_name or not attr:
        raise PluginError(f"ValueError: {target!r} is not module:attribute")
    return guarded(lambda: getattr(importlib.import_module(module_name), attr))
