"""MLPs sized to the data: the default matrix keeps every fit within the seed profile's steps on iris.

The blog post's MLP trains with batch size 1 for 100 epochs: 7,500 optimiser steps on iris's 75 training
rows, seconds per fit. On a user's 1,400 training rows the same settings take 140,000 steps, minutes per
Keras fit. A config with ``max_fit_steps`` (the default config sets 7,500) gives each adapter that trains in
batches, and whose batch size it does not set, the smallest batch size that keeps a fit within that many
steps on its largest training set; the epochs, and the profiles themselves, stay as they are: the chosen
batch size is an explicit parameter, in the adapter's label, and the run says what it chose.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import cast

from hello_bench.run.config import Config
from hello_bench.run.params import freeze_all, thaw_all


def fit_to_data(config: Config) -> tuple[Config, list[str]]:
    """``config`` with its batch-trained adapters sized to its data (:attr:`Config.max_fit_steps`), and what was
    chosen, one line per adapter that changed. The profiles themselves never change: the chosen batch size is
    an explicit parameter, in the adapter's label."""
    from hello_bench.data.datasets import load_spec

    limit = config.max_fit_steps
    if limit is None:
        return config, []
    sizes = [len(load_spec(d).y) for d in config.datasets]
    rows = max(n - math.ceil(config.test_size * n) for n in sizes)
    specs, notes = [], []
    for spec in config.adapters:
        params = {} if config.in_environments(spec) else spec.effective_params()
        epochs, batch = params.get("epochs"), params.get("batch_size")
        usable = all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (epochs, batch))
        if "batch_size" in dict(spec.params) or not usable:
            specs.append(spec)
            continue
        chosen = batch_within(rows, int(cast(int, epochs)), int(cast(int, batch)), limit)
        if chosen == batch:
            specs.append(spec)
            continue
        sized = replace(spec, params=freeze_all({**thaw_all(spec.params), "batch_size": chosen}))
        specs.append(sized)
        steps = int(cast(int, epochs)) * math.ceil(rows / int(cast(int, batch)))
        notes.append(f"max_fit_steps = {limit}: {spec.label} trains as {sized.label} on {rows:,} training rows "
                     f"({int(cast(int, epochs)) * math.ceil(rows / chosen):,} steps per fit, not {steps:,}); set "
                     "batch_size in its params, or max_fit_steps, to choose otherwise.")  # fmt: skip
    return replace(config, adapters=tuple(specs)), notes


def batch_within(rows: int, epochs: int, batch: int, limit: int) -> int:
    """``batch``, or the smallest larger batch size with which ``epochs`` over ``rows`` take at most ``limit``
    optimiser steps (one batch of every row per epoch when even that is more)."""
    if epochs * math.ceil(rows / batch) <= limit:
        return batch
    per_epoch = limit // epochs
    return max(batch, rows) if per_epoch < 1 else max(batch, math.ceil(rows / per_epoch))
