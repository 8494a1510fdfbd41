"""Serving paths: other ways to run a fitted adapter's model, checked against it.

An adapter lists its extra paths in :meth:`BenchClassifier.serving_paths`
(ONNX Runtime, a compiled function, a numpy reference). The harness builds
each one (timed: export or compile), loads it (timed: cold load), measures it
like the adapter's own path, and compares its probabilities with the
adapter's. A path that cannot be built here raises :class:`ServingUnavailable`
with the reason and the command that would make it possible: a recorded skip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .base import install_command

Predict = Callable[[np.ndarray], np.ndarray]

#: Largest |p_path - p_adapter| for a path to count as the same model (float32 models).
DEFAULT_TOLERANCE = 1e-5


class ServingUnavailable(Exception):
    """A serving path that cannot be built in this environment.

    Parameters
    ----------
    reason : str
    install : str or None
        The command that would make the path available.
    """

    def __init__(self, reason: str, install: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.install = install


@dataclass(frozen=True)
class ServingPath:
    """One way to serve a fitted model.

    Attributes
    ----------
    name : str
        Stable name shown in reports (``onnxruntime``, ``torch.compile``, ``numpy-reference``).
    build : callable
        ``build(folder) -> artifact path or None``: export or compile (timed).
    load : callable
        ``load(artifact, threads) -> predict_proba``: a cold load (timed); the
        returned function takes float32 rows and returns probabilities.
    reference : bool
        A reference floor (numpy), not a framework's path: never "fastest".
    tolerance : float
        Largest absolute difference in probabilities from the adapter's.
    sync : callable or None
        Waits for queued device work (GPU paths).
    """

    name: str
    build: Callable[[Path], Path | None]
    load: Callable[[Path | None, int], Predict]
    reference: bool = False
    tolerance: float = DEFAULT_TOLERANCE
    sync: Callable[[], None] | None = None


def _no_artifact(folder: Path) -> None:
    return None


def numpy_reference_path(weights: list[np.ndarray]) -> ServingPath:
    """The MLP's forward pass in numpy with the trained weights: the practical floor."""
    from .mlp_common import numpy_forward

    frozen = [np.ascontiguousarray(w, dtype=np.float32) for w in weights]
    return ServingPath(
        "numpy-reference", _no_artifact, lambda artifact, threads: lambda X: numpy_forward(frozen, X), reference=True
    )


def function_path(name: str, make: Callable[[], Predict], sync: Callable[[], None] | None = None) -> ServingPath:
    """An in-process compiled function (``torch.compile``, ``jax.jit``, XLA ``tf.function``).

    ``make`` builds the function and calls it once, so that compilation is
    part of the timed build, not of the first measured call.
    """
    built: dict[str, Predict] = {}

    def build(folder: Path) -> None:
        built["fn"] = make()
        return None

    return ServingPath(name, build, lambda artifact, threads: built["fn"], sync=sync)


# -- ONNX Runtime ------------------------------------------------------------------
def onnx_session(path: Path, threads: int, output: str | int = -1) -> Predict:
    """An ``onnxruntime.InferenceSession`` on the CPU with ``threads`` threads.

    ``output`` names (or indexes) the probabilities output.
    """
    ort = require("onnxruntime", "serving")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    names = [o.name for o in session.get_outputs()]
    wanted = [output if isinstance(output, str) else names[output]]

    def predict(X: np.ndarray) -> np.ndarray:
        return session.run(wanted, {input_name: X})[0]

    return predict


def onnx_path(export: Callable[[Path], None], output: str | int = -1) -> ServingPath:
    """ONNX Runtime serving a model that ``export(file)`` writes to ``file``."""

    def build(folder: Path) -> Path:
        require("onnxruntime", "serving")
        target = folder / "model.onnx"
        export(target)
        if not target.is_file():
            raise ServingUnavailable("the exporter wrote no model file")
        return target

    def load(artifact: Path | None, threads: int) -> Predict:
        assert artifact is not None
        return onnx_session(artifact, threads, output)

    return ServingPath("onnxruntime", build, load)


def skl2onnx_path(estimator: Any, n_features: int) -> ServingPath:
    """ONNX Runtime serving a scikit-learn estimator converted with skl2onnx."""

    def export(target: Path) -> None:
        skl2onnx = require("skl2onnx", "serving")
        sample = np.zeros((1, n_features), dtype=np.float32)
        try:
            onx = skl2onnx.to_onnx(estimator, sample, options={"zipmap": False})
        except Exception as err:  # the converter's own limits, e.g. a model it does not know
            raise ServingUnavailable(
                f"skl2onnx cannot convert {type(estimator).__name__}: {_first_line(err)}"
            ) from None
        target.write_bytes(onx.SerializeToString())

    return onnx_path(export, output="probabilities")


def require(module: str, extra: str) -> Any:
    """Import ``module`` or raise :class:`ServingUnavailable` with the install command."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ServingUnavailable(f"{module} is not installed ({_first_line(err)})", install_command([extra])) from None


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:200]}" if text else type(err).__name__
