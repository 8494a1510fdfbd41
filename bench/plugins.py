"""Running a plugin's code without letting it take the CLI down.

A plugin (an adapter or metric from an entry point, ``BENCH_ADAPTERS`` or
``BENCH_METRICS``, or any dotted class path) is someone else's code. Whatever
it raises while it is imported or inspected (an ``Exception``, ``SystemExit``,
``RecursionError``, ``MemoryError``, a ``KeyboardInterrupt`` it raises itself)
makes it "cannot load" with the reason, and nothing else changes. A *real*
Ctrl-C or SIGTERM (delivered while the plugin's code runs) still interrupts
(exit 130): a handler notes the signal's arrival, so the KeyboardInterrupts
are told apart by cause, not by guesswork.

Nor can a plugin's code move what bench does around it: what it prints goes
to stderr (Python's ``sys.stdout`` and file descriptor 1 alike), so a
``--json`` output stays JSON; and the working folder it may change is put
back, so every relative path (the results folder, ``--out``, data files)
still means what the user meant.

Only the standard library is imported here: this module is used by the
adapter registry and the metric registry alike.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any, TypeVar

T = TypeVar("T")


class PluginError(Exception):
    """A plugin's code raised while bench loaded or inspected it (the message names what it raised)."""


@contextmanager
def _signals_noted() -> Iterator[list[bool]]:
    """Note whether SIGINT (or SIGTERM, where a Python handler turns it into an interrupt, as the CLI's does)
    arrives inside the block (main thread only); each signal keeps its usual effect."""
    noted = [False]
    if threading.current_thread() is not threading.main_thread():
        yield noted  # signals go to the main thread: a KeyboardInterrupt here was raised by the code itself
        return
    previous = {signal.SIGINT: signal.getsignal(signal.SIGINT)}
    if callable(signal.getsignal(signal.SIGTERM)):
        previous[signal.SIGTERM] = signal.getsignal(signal.SIGTERM)

    def handler(signum: int, frame: Any) -> None:
        before = previous[signal.Signals(signum)]
        if before == signal.SIG_IGN:
            return
        noted[0] = True
        if callable(before):
            before(signum, frame)
        raise KeyboardInterrupt

    for signum in previous:
        signal.signal(signum, handler)
    try:
        yield noted
    finally:
        for signum, before in previous.items():
            signal.signal(signum, before)


@contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Whatever the block prints goes to stderr: ``sys.stdout`` and file descriptor 1 both (a plugin's banner
    must not break ``--json``)."""
    try:
        sys.stdout.flush()
        saved: int | None = os.dup(1)
        os.dup2(2, 1)
    except (OSError, ValueError, AttributeError):  # no fd 1 or 2 (a closed stream): nothing to keep apart
        saved = None
    previous = sys.stdout
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        sys.stdout = previous
        if saved is not None:
            try:
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
            os.dup2(saved, 1)
            os.close(saved)


@contextmanager
def _no_process_exit() -> Iterator[None]:
    """``os._exit`` in a plugin's code ends its load (as ``SystemExit``), not bench: the plugin is "cannot load".
    (A C extension's ``exit()`` cannot be stopped from Python.)"""
    real = os._exit

    def refused(code: int) -> None:
        raise SystemExit(f"os._exit({code}) at import")

    os._exit = refused  # type: ignore[assignment]
    try:
        yield
    finally:
        os._exit = real


@contextmanager
def _cwd_kept() -> Iterator[None]:
    """The working folder after the block is the one before it (a plugin may ``chdir``)."""
    try:
        here: str | None = os.getcwd()
    except OSError:
        here = None
    try:
        yield
    finally:
        if here is not None:
            try:
                os.chdir(here)
            except OSError:  # the plugin removed it: every later relative path fails on its own, with one line
                pass


def describe(err: BaseException) -> str:
    """``Type: first line of the message`` (bounded: a plugin's message is not ours to print whole)."""
    try:
        text = str(err).strip().splitlines()[0][:300] if str(err).strip() else ""
    except BaseException:  # even __str__ is the plugin's code (it may raise SystemExit too)
        text = ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def guarded(call: Callable[[], T]) -> T:
    """``call()``, with anything it raises (but a real Ctrl-C or SIGTERM) turned into :class:`PluginError`; what it
    prints goes to stderr, and the working folder is put back."""
    with _signals_noted() as interrupted, _cwd_kept(), _stdout_to_stderr(), _no_process_exit():
        try:
            return call()
        except BaseException as err:
            if isinstance(err, KeyboardInterrupt) and interrupted[0]:
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
    try:
        return guarded(lambda: getattr(importlib.import_module(module_name), attr))
    except PluginError as err:
        top = module_name.split(".")[0]
        here = os.path.join(os.getcwd(), top)
        if str(err).startswith("ModuleNotFoundError") and (os.path.isdir(here) or os.path.isfile(here + ".py")):
            raise PluginError(f"{err} ({top} is in the current folder, which bench never imports from, even "
                              "through PYTHONPATH: install it, or run bench from another folder with this one on PYTHONPATH)") from None  # fmt: skip
        raise
