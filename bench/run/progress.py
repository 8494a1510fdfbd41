"""Progress on stderr: a live line on a terminal (rich), one plain line per trial otherwise.

On a terminal the line shows the trial that is running, trials done, the
elapsed time and an ETA, refreshed several times a second (so the clock moves
during a long fit) and fitted to the terminal's width. Elsewhere (CI logs,
pipes) each finished trial prints one line.
"""

from __future__ import annotations

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
    """Counts finished trials; estimates the rest from the trials that ran (skips are instant)."""

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

    def eta(self) -> float | None:
        if self.ran == 0:
            return None
        elapsed = time.monotonic() - self.start
        return elapsed / self.ran * (self.total - self.done)

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
