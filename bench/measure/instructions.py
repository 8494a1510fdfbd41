"""Instructions counted under valgrind: a cost signal that a busy machine cannot move (opt-in).

``[timing] instructions = true`` (single-threaded runs, ``threads = 1``, where ``valgrind`` is
installed): the first trial of each worker, so once per group, also counts the instructions of its
fit and of its single-sample predict, with cachegrind (``--cache-sim=no``: instruction counts only,
the cheapest valgrind tool).

**How.** Valgrind cannot be attached to a running worker, and a Python process cannot mark where an
operation begins, so the count is a difference between runs of one small child process under
cachegrind, each given the trial's adapter (pickled, unfitted) and its split through a pipe:

- ``setup``: import the adapter's module, limit threads to 1, warm up (one fit and predict on 32
  rows, as the worker does before its first trial, so lazy initialisation is not counted);
- ``fit``: setup, then fit on the trial's training rows;
- ``predict``: fit, then ``CALLS + 1`` single-sample predicts (the first one cold).

``fit = fit - setup``; ``predict = (predict - fit) / (CALLS + 1)``, the mean single-sample predict
(one cold call among a thousand warm ones moves it by its excess over a warm call / 1001).

**Precision.** Two runs of the same phase differ by about 0.02% to 0.05% of the setup's count (1 to
3 million instructions for scikit-learn here, disabling address randomisation does not remove it:
the interpreter's start-up is not instruction-for-instruction repeatable). Each difference carries
that much, which is why the predict runs make a thousand calls (a few thousand instructions per call
of error) and why a cold first predict is not counted on its own (it would be within that error).

**What a count includes**: every user-space instruction the process executes during the operation:
the interpreter's dispatch, the framework, numpy and BLAS, the allocator and the garbage collector.
Not the kernel's (system calls), not other processes', not time spent waiting; a second thread's
instructions would be counted too, which is why only single-threaded runs are counted. ``PYTHONHASHSEED`` is fixed.

**Cost**: each of the three runs pays the framework's import under valgrind (about 30 s for
scikit-learn on this project's machine, 20 to 50 times native speed for the rest); they run two at a
time: one to three minutes per group for scikit-learn's logistic regression on iris here (the slow test
``tests/test_instructions.py`` took 3 minutes with the machine's two cores shared). Nothing is timed while they run (the worker waits), so wall-time measurements are not disturbed.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

#: Warm single-sample predicts in the predict run (after one cold one).
CALLS = 1000
#: Valgrind's cheapest tool that counts instructions, writing no file.
TOOL = ("valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null")
PHASES = ("setup", "fit", "predict")
#: Longest a counted run may take (seconds): valgrind is slow, a hang is not.
TIMEOUT_S = 1800.0
_THREADS_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
_CHILD = "import sys, json; sys.path[:0] = json.loads(sys.argv.pop(1)); from hello_bench.measure.instructions import child; child()"
#: Adapter classes counted in this process already (a worker counts its first trial only).
_counted: set[str] = set()


class CountError(RuntimeError):
    """A counted run that failed: its phase and the end of its output."""


def available() -> bool:
    """Whether valgrind is installed here."""
    return shutil.which(TOOL[0]) is not None


def refs(stderr: str) -> int:
    """The instruction count cachegrind prints (``==123== I   refs:      5,775,103,595``); CountError without it."""
    found = re.search(r"I\s+refs:\s+([\d,]+)", stderr)
    if not found:
        raise CountError("no instruction count in valgrind's output: " + stderr.strip()[-300:])
    return int(found.group(1).replace(",", ""))


def counts(refs_by_phase: dict[str, int], calls: int = CALLS) -> dict:
    """The differences of the module docstring, from the three runs' totals."""
    fit = refs_by_phase["fit"] - refs_by_phase["setup"]
    predict = (refs_by_phase["predict"] - refs_by_phase["fit"]) / (calls + 1)
    return {"fit": float(fit), "predict": float(predict), "setup": float(refs_by_phase["setup"]), "calls": calls + 1,
            "tool": "cachegrind"}  # fmt: skip


def payload(clf: Any, split: Any, phase: str, calls: int = CALLS) -> bytes:
    """What a counted run reads from its standard input: the unfitted adapter, the data, what to do."""
    one = np.ascontiguousarray(split.X_test[:1], dtype=np.float32)
    return pickle.dumps({"clf": clf, "X": split.X_train, "y": split.y_train, "one": one, "phase": phase,
                         "calls": calls})  # fmt: skip


def command() -> list[str]:
    return [*TOOL, sys.executable, "-I", "-c", _CHILD, json.dumps([p for p in sys.path if p])]


def environment() -> dict[str, str]:
    return {**os.environ, **dict.fromkeys(_THREADS_ENV, "1"), "PYTHONHASHSEED": "0"}


def run_phase(clf: Any, split: Any, phase: str, runner: Any = subprocess.run) -> int:
    """One counted run: its instruction total; CountError when it fails."""
    done = runner(command(), input=payload(clf, split, phase), capture_output=True, env=environment(),
                  timeout=TIMEOUT_S)  # fmt: skip
    stderr = done.stderr.decode(errors="replace") if isinstance(done.stderr, bytes) else str(done.stderr)
    if done.returncode != 0:
        raise CountError(f"the {phase} run exited {done.returncode}: {stderr.strip()[-300:]}")
    return refs(stderr)


def count(clf: Any, split: Any, runner: Any = subprocess.run, parallel: int = 2) -> dict:
    """Instruction counts of ``clf``'s fit and predicts on ``split`` (see the module docstring)."""
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        totals = dict(zip(PHASES, pool.map(lambda phase: run_phase(clf, split, phase, runner), PHASES)))
    return counts(totals)


def first_of_worker(clf: Any, split: Any) -> dict | None:
    """:func:`count` for the first trial of each adapter in this process (a worker: its group); None after it,
    or with the reason when counting failed (a broken count costs the field, not the trial)."""
    key = f"{type(clf).__module__}:{type(clf).__qualname__}"
    if key in _counted:
        return None
    _counted.add(key)
    try:
        return count(clf, split)
    except (CountError, OSError, subprocess.SubprocessError, pickle.PicklingError, TypeError) as err:
        return {"error": f"{type(err).__name__}: {err}"[:400]}


def child() -> None:
    """A counted run (under valgrind): read the payload from stdin and do its phase; nothing written."""
    from sklearn.base import clone

    job = pickle.loads(sys.stdin.buffer.read())
    clf, phase = job["clf"], job["phase"]
    type(clf).limit_threads(1)
    tiny_X = np.random.default_rng(0).standard_normal((32, job["X"].shape[1]))
    clone(clf).fit(tiny_X, np.asarray(job["y"])[np.arange(32) % len(job["y"])]).predict_proba(tiny_X[:1])
    if phase == "setup":
        return
    clf.fit(job["X"], job["y"])
    if phase == "fit":
        return
    for _ in range(job["calls"] + 1):
        clf.predict_proba(job["one"])
