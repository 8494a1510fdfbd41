"""Adapters that misbehave on purpose, to test the harness's isolation."""

from __future__ import annotations

import os
import signal
import time

import numpy as np

from hello_bench.adapters.base import BenchClassifier


class _Fake(BenchClassifier):
    framework = "sklearn"

    def __init__(self, *, device="cpu", random_state=None):
        self.device = device
        self.random_state = random_state

    def _build(self, n_features, n_classes, seed, device):
        pass

    def _train(self, X, y_index, seed):
        self.prior_ = np.bincount(y_index, minlength=len(self.classes_)) / len(y_index)

    def _predict_proba(self, X):
        return np.tile(self.prior_, (len(X), 1))


class FailingClassifier(_Fake):
    """Raises in fit on odd split seeds."""

    def _train(self, X, y_index, seed):
        if seed % 2:
            raise RuntimeError("deliberate failure in fit")
        super()._train(X, y_index, seed)


class HangingClassifier(_Fake):
    """Hangs in fit on split seed 1."""

    def _train(self, X, y_index, seed):
        if seed == 1:
            time.sleep(3600)
        super()._train(X, y_index, seed)


class CrashingClassifier(_Fake):
    """Kills its own process in fit on split seed 1 (as a segfault would)."""

    def _train(self, X, y_index, seed):
        if seed == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        super()._train(X, y_index, seed)


class SlowClassifier(_Fake):
    """Takes a few seconds to fit, long enough to kill its worker meanwhile."""

    def _train(self, X, y_index, seed):
        time.sleep(3)
        super()._train(X, y_index, seed)


class SleepyClassifier(_Fake):
    """Fits in BENCH_TEST_FIT_S seconds (default 0.02): a plugin whose speed a test changes between runs."""

    def _train(self, X, y_index, seed):
        time.sleep(float(os.environ.get("BENCH_TEST_FIT_S", "0.02")))  # a known cost, not synchronisation
        super()._train(X, y_index, seed)


class ParamsClassifier(_Fake):
    """Takes two parameters of any JSON type (for the parameter round-trip properties)."""

    def __init__(self, *, anything=None, other=None, device="cpu", random_state=None):
        self.anything = anything
        self.other = other
        self.device = device
        self.random_state = random_state

    def _train(self, X, y_index, seed):
        self.seen_ = (self.anything, self.other)
        super()._train(X, y_index, seed)


class HangAlwaysClassifier(_Fake):
    """Hangs in every trial's fit, the first trial of its worker included (not in the worker's
    warm-up fit on 32 rows: that is start-up, under its own limit)."""

    def _train(self, X, y_index, seed):
        if len(X) > 32:
            time.sleep(3600)
        super()._train(X, y_index, seed)


class FlagFailClassifier(_Fake):
    """Fails while the file named by BENCH_FAIL_FLAG exists (a failure a rerun can fix)."""

    def _train(self, X, y_index, seed):
        if os.path.exists(os.environ.get("BENCH_FAIL_FLAG", "/nonexistent")):
            raise RuntimeError("the flag file says fail")
        super()._train(X, y_index, seed)


class SignalClassifier(_Fake):
    """From split 1 on: writes ``started-<seed>`` (holding its pid) into BENCH_SIGNAL_DIR, then waits
    until ``release`` appears there (a test's handle on a trial in flight, without sleeping)."""

    def _train(self, X, y_index, seed):
        folder = os.environ.get("BENCH_SIGNAL_DIR")
        if folder and seed >= 1:
            with open(os.path.join(folder, f"started-{seed}.tmp"), "w") as out:
                out.write(str(os.getpid()))
            os.replace(os.path.join(folder, f"started-{seed}.tmp"), os.path.join(folder, f"started-{seed}"))
            while not os.path.exists(os.path.join(folder, "release")):
                time.sleep(0.02)
        super()._train(X, y_index, seed)


class GateClassifier(_Fake):
    """Every trial (not the worker's warm-up on 32 rows) writes ``started-<seed>-<pid>`` into
    BENCH_SIGNAL_DIR and waits until ``release`` appears there: tests know when trials are in flight."""

    def _train(self, X, y_index, seed):
        folder = os.environ.get("BENCH_SIGNAL_DIR")
        if folder and len(X) > 32:
            open(os.path.join(folder, f"started-{seed}-{os.getpid()}"), "w").close()
            while not os.path.exists(os.path.join(folder, "release")):
                time.sleep(0.02)
        super()._train(X, y_index, seed)


class BusyClassifier(_Fake):
    """Fits by a fixed amount of pure-Python work (WORK additions): a known cost, in work, not in time."""

    WORK = 5_000_000

    def _train(self, X, y_index, seed):
        total = 0
        for i in range(self.WORK):
            total += i
        super()._train(X, y_index, seed)


class BusierClassifier(BusyClassifier):
    """Three times the work of BusyClassifier: a ranking that holds on any machine."""

    WORK = 15_000_000


class ProjectClassifier(_Fake):
    """Fits by calling into "the user's project": the package ``benchdemo`` installed in the trial's environment
    (its ``WORK`` additions), so two environments built from two versions of it run at their own speeds."""

    def _train(self, X, y_index, seed):
        import benchdemo

        total = 0
        for i in range(benchdemo.WORK):
            total += i
        super()._train(X, y_index, seed)


#: A process two levels deep: it starts one more and both wait (a model's process pool, say).
_GRANDCHILDREN = (
    "import subprocess, sys, time\n"
    "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(3600)'])\n"
    "print(p.pid, flush=True)\n"
    "time.sleep(3600)\n"
)


class ForkingClassifier(_Fake):
    """Every trial (not the warm-up on 32 rows) starts a child that starts a grandchild, writes all their pids
    (``tree-<seed>``: worker, child, grandchild) into BENCH_SIGNAL_DIR, then hangs: what a timeout, an
    interrupt or bench's death must end, every level of it."""

    def _train(self, X, y_index, seed):
        import subprocess
        import sys

        folder = os.environ.get("BENCH_SIGNAL_DIR")
        if folder and len(X) > 32:
            child = subprocess.Popen([sys.executable, "-c", _GRANDCHILDREN], stdout=subprocess.PIPE, text=True)
            grandchild = child.stdout.readline().strip()
            path = os.path.join(folder, f"tree-{seed}")
            with open(path + ".tmp", "w") as out:
                out.write(f"{os.getpid()} {child.pid} {grandchild}")
            os.replace(path + ".tmp", path)
            time.sleep(3600)
        super()._train(X, y_index, seed)
