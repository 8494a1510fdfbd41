"""Figures (seaborn, PNG). Reads DataFrames, writes files; computes no statistics."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed

import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402


def iris_pairplot(path: Path) -> Path:
    """The blog post's ``sns.pairplot(iris, hue='species')``, saved as PNG."""
    from .datasets import iris_frame

    path.parent.mkdir(parents=True, exist_ok=True)
    grid = sns.pairplot(iris_frame(), hue="species", height=1.8)
    grid.figure.suptitle("Iris measurements (cm) by species", y=1.02)
    grid.figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(grid.figure)
    return path
