"""The order trials run in: split by split, the adapters of each round in a seeded random order,
the environments of each cell back to back in counterbalanced order.

Why: a fixed order (the same adapter always first) confounds the machine's
drift and warm-up effects with the adapter; a seeded shuffle per round
spreads them over every adapter, and the seed is recorded so the order can
be reproduced and checked for order effects. Environments of one cell (the
same dataset, adapter, device and split) run back to back, so two versions
of a library meet the same machine state, and the environment that runs
first rotates from round to round (a Latin square over the environments).
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hello_bench.run.matrix import Trial


def order_seed(seed: int | None, run_id: str) -> int:
    """The configured seed, or one derived from the run id (stable when a run resumes)."""
    return seed if seed is not None else zlib.crc32(run_id.encode()) & 0x7FFFFFFF


def _round_key(trial: Trial) -> tuple:
    return (trial.data_label, trial.split_seed, trial.init_seed)


def _unit_key(trial: Trial) -> tuple:
    """What is the same trial across environments within a round."""
    return (trial.adapter.label, trial.device, trial.host)


def running_order(lanes: list[list[Trial]], interleave: bool, seed: int) -> Iterator[tuple[int, Trial]]:
    """(lane index, trial) in running order.

    Without ``interleave`` each lane runs to its end before the next starts
    (sweeps that stop at a budget need that).
    """
    if not interleave:
        for index, lane in enumerate(lanes):
            for trial in lane:
                yield index, trial
        return
    rounds: dict[tuple, dict[tuple, list[tuple[int, Trial]]]] = {}
    for index, lane in enumerate(lanes):
        for trial in lane:
            rounds.setdefault(_round_key(trial), {}).setdefault(_unit_key(trial), []).append((index, trial))
    for number, units in enumerate(rounds.values()):
        keys = sorted(units)
        random.Random(seed * 1_000_003 + number).shuffle(keys)
        for key in keys:
            cell = sorted(units[key], key=lambda item: item[1].environment or "")
            shift = number % len(cell)
            yield from cell[shift:] + cell[:shift]
