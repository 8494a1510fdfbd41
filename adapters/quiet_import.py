"""Import TensorFlow without its start-up log noise, keeping real errors.

TensorFlow prints a few lines to stderr on import whatever
``TF_CPP_MIN_LOG_LEVEL`` says (they come before absl's logging starts).
Only those known lines are dropped; everything else is passed on.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: Start-up lines TensorFlow prints to stderr whatever TF_CPP_MIN_LOG_LEVEL says
#: (they come before absl's logging is initialised). Only these are dropped.
IMPORT_NOISE = (
    "All log messages before absl::InitializeLog() is called",
    "oneDNN custom operations are on",
)


@contextmanager
def _drop_import_noise() -> Iterator[None]:
    """Capture fd 2 during an import, then pass on every line but known noise."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (e.g. some notebook kernels)
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if not any(noise in line for noise in IMPORT_NOISE):
                    sys.stderr.write(line)


def import_tensorflow_quietly() -> Any:
    """Import and return ``tensorflow``, hiding INFO/WARNING start-up lines only."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    # 2 hides TensorFlow's C++ INFO and WARNING logs; ERROR still prints.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _drop_import_noise():
        return importlib.import_module("tensorflow")
