"""Progress on stderr: a bar with ETA on a terminal, one line per trial otherwise."""

from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 60}:{seconds % 60:02d}"


class Progress:
    """Counts finished trials; estimates the rest from the trials that ran."""

    def __init__(self, total: int, stream=None, width: int = 28):
        self.total = total
        self.done = 0
        self.ran = 0
        self.stream = stream or sys.stderr
        self.width = width
        self.start = time.monotonic()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def eta(self) -> float | None:
        if self.ran == 0:
            return None
        elapsed = time.monotonic() - self.start
        return elapsed / self.ran * (self.total - self.done)

    def line(self, current: str = "") -> str:
        filled = int(self.width * self.done / max(self.total, 1))
        eta = self.eta()
        eta_text = "?" if eta is None else _clock(eta)
        bar = "#" * filled + "." * (self.width - filled)
        return f"[{bar}] {self.done}/{self.total} trials  elapsed {_clock(time.monotonic() - self.start)}  ETA {eta_text}  {current}"

    def update(self, trial_id: str, status: str, ran: bool = True) -> None:
        self.done += 1
        self.ran += int(ran)
        if self.tty:
            self.stream.write("\r\033[K" + self.line(trial_id)[:200])
        else:
            self.stream.write(self.line(f"{trial_id}: {status}") + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(text + "\n")
        self.stream.flush()
