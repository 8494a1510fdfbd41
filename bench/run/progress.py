"""Progress on stderr: a live line on a terminal (rich), one plain line per trial otherwise.

On a terminal the line shows the trial that is running, trials done, the
elapsed time and an ETA, refreshed several times a second (so the clock moves
during a long fit) and fitted to the terminal's width. Elsewhere (CI logs,
pipes) each finished trial prints one line.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any, TextIO


def clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return (
        f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        if seconds >= 3600
        else f"{seconds // 60}:{seconds % 60:02d}"
    )


class Progress:
    """Counts finished trials; estimates the rest from the run's estimate (:mod:`hello_bench.run.estimate`) where it
    has one, corrected by how the trials that ran compared with it, else from the trials that ran."""

    def __init__(self, total: int = 0, stream: TextIO | None = None, live: bool | None = None) -> None:
        self.total = total
        self.done = 0
        self.ran = 0
        self.current = ""
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.live = tty if live is None else live
        self._live: Any = None
        #: trial id -> (its group, its expected seconds or None); each group's expected start-up seconds.
        self.expected: dict[str, tuple[str, float | None]] = {}
        self.startups: dict[str, float] = {}
        self.finished_ids: set[str] = set()

    def expect(self, trials: dict[str, tuple[str, float | None]], startups: dict[str, float]) -> None:
        """The estimate of each trial to run (and of each group's worker start-up), for the ETA."""
        self.expected = {k: (g, v if v is not None and math.isfinite(v) else None) for k, (g, v) in trials.items()}
        self.startups = dict(startups)

    def eta(self) -> float | None:
        elapsed = time.monotonic() - self.start
        planned = self._planned_eta(elapsed)
        if planned is not None or self.ran == 0:
            return planned
        return elapsed / self.ran * (self.total - self.done)

    def _planned_eta(self, elapsed: float) -> float | None:
        """Expected seconds of what is left, scaled by how long what ran took against its own estimate."""
        known = [s for _, s in self.expected.values() if s is not None]
        if not known:
            return None
        fill = sum(known) / len(known)  # a trial without an estimate: the typical one
        left = [(g, fill if s is None else s) for k, (g, s) in self.expected.items() if k not in self.finished_ids]
        done = [(g, fill if s is None else s) for k, (g, s) in self.expected.items() if k in self.finished_ids]
        started = {g for g, _ in done}
        rest = sum(s for _, s in left) + sum(v for g, v in self.startups.items() if g not in started and
                                             any(g == h for h, _ in left))  # fmt: skip
        so_far = sum(s for _, s in done) + sum(v for g, v in self.startups.items() if g in started)
        factor = min(max(elapsed / so_far, 0.25), 4.0) if done and so_far > 0 else 1.0
        return rest * factor

    def line(self, current: str = "") -> str:
        eta = self.eta()
        return (
            f"{self.done}/{self.total} trials  elapsed {clock(time.monotonic() - self.start)}  "
            f"ETA {'?' if eta is None else clock(eta)}  {current}"
        ).rstrip()

    # -- live display ---------------------------------------------------------------
    def __rich__(self) -> Any:
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(width=24)
        grid.add_column(no_wrap=True)
        grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        eta = self.eta()
        grid.add_row(
            ProgressBar(total=max(self.total, 1), completed=self.done, width=24),
            f"{self.done}/{self.total}  {clock(time.monotonic() - self.start)}  ETA {'?' if eta is None else clock(eta)}",
            Text(self.current),  # plain text: "[tensorflow]" in a trial id is not rich markup
        )
        return grid

    def __enter__(self) -> Progress:
        self.start = time.monotonic()
        if self.live:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(self, console=Console(file=self.stream), refresh_per_second=4, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    # -- events ---------------------------------------------------------------------
    def started(self, trial_id: str) -> None:
        self.current = trial_id

    def finished(self, trial_id: str, status: str, ran: bool = True) -> None:
        self.done += 1
        self.ran += int(ran)
        self.finished_ids.add(trial_id)
        if self._live is None:
            self.stream.write(self.line(f"{trial_id}: {status}") + "\n")
            self.stream.flush()

    def message(self, text: str) -> None:
        if self._live is not None:
            self._live.console.print(text, highlight=False, markup=False)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()


class Quiet(Progress):
    """No output (tests, Dask tasks)."""

    def finished(self, trial_id: str, status: str, ran: bool = True) -> None:
        self.done += 1

    def message(self, text: str) -> None:
        pass
