"""The read side at scale: `bench report` of a 10,000-trial run (the Parquet cache warm, as on a second report).

Targets (README): 100,000 trials in under 60 s and 2 GiB, cold; measured for every read command, cold and warm, by
``scripts/read-side-benchmark --trials 100000``; this benchmark keeps the 10,000-trial point in the suite.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hello_bench.cli import main
from tests.benchmarks.synthetic import make_run

N = 10_000


@pytest.fixture(scope="module")
def big_run(tmp_path_factory, smoke):
    results = tmp_path_factory.mktemp("scale")
    make_run(200 if smoke else N, results, "synthetic")  # run once to show it works: a small run
    assert (
        main(["report", "synthetic", "--results-dir", str(results), "--out", str(results / "warm")]) == 0
    )  # the cache
    return results


def test_report_of_ten_thousand_trials(benchmark, big_run: Path):
    out = big_run / "report"
    benchmark.pedantic(
        lambda: main(["report", "synthetic", "--results-dir", str(big_run), "--out", str(out)]), rounds=2, iterations=1
    )
    assert (out / "REPORT.md").exists()
