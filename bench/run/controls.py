"""The control measurement repeated through a run: once per round, with what the machine was doing.

Before the first trial of each round (one dataset, split and init seed: every adapter and environment
once) the runner measures the raw-speed control (:mod:`hello_bench.measure.noise`) in a fresh worker at the
trials' thread count and reads ``/proc/stat``: the machine's busy and steal shares since the previous
control (over the round that just ended). Each measurement is appended to ``control.json``'s
``rounds``; the first is also the run's ``before``. The report's noise floor is their spread
(:mod:`hello_bench.analysis.noise`). Runs whose groups do not take turns (``interleave = false``: sweeps)
have no rounds and keep only ``before`` and ``after``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hello_bench.measure.noise import cpu_shares, read_proc_stat

if TYPE_CHECKING:
    from hello_bench.run.matrix import Trial
    from hello_bench.store.writer import RunStore


def round_key(trial: Trial) -> tuple:
    """The round a trial belongs to (as :func:`hello_bench.run.order.running_order` forms them)."""
    return (trial.data_label, trial.split_seed, trial.init_seed)


class RoundControls:
    """Measures the control before each round's first trial and stores it with the CPU shares since the last."""

    def __init__(self, store: RunStore, threads: int, measure: Callable[[int], dict] | None = None,
                 span_s: float = 0.25) -> None:  # fmt: skip
        from hello_bench.run.process import control_in_worker

        self.store = store
        self.threads = threads
        self.measure = measure or (lambda t: control_in_worker(t, span_s=span_s))
        self.last: tuple | None = None
        self.count = 0
        self.stat = read_proc_stat()

    def _take(self) -> dict:
        m = self.measure(self.threads)
        stat = read_proc_stat()
        shares = cpu_shares(self.stat, stat)
        self.stat = stat
        return {**m, "cpu_since_last": shares} if m else {}

    def before(self, trial: Trial) -> None:
        """Called as each trial starts: a new round gets a control first."""
        key = round_key(trial)
        if key == self.last:
            return
        self.last = key
        m = self._take()
        if not m:
            return
        entry: dict[str, Any] = {**m, "round": self.count, "dataset": key[0], "split_seed": key[1], "init_seed": key[2]}
        if self.count == 0:
            self.store.record_control("before", entry)
        self.store.record_control("round", entry)
        self.count += 1

    def after(self) -> None:
        """The run's ``after`` control, with the CPU shares of its last round."""
        self.store.record_control("after", self._take())
