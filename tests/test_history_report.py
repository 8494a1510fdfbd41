"""bench history as a user reads it: a run's environments as its points, ordered by a package's version, the
report's corrected accuracy intervals, interactive figures beside their tables, and bad inputs as one line."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hello_bench.analysis import history, stats
from hello_bench.analysis.load import Loaded, by_environment
from hello_bench.report.accuracy import accuracy_table
from hello_bench.report.document import Doc
from tests.invariants import assert_clean_failure, run_cli, snapshot
from tests.test_report import ENV, record, write_run

#: Three environments, named so that neither their names nor their versions as text sort in version order.
VERSIONS = {"new": "1.10.0", "old": "1.8.0", "mid": "1.9.1"}


def _environments_run(root: Path, run_id: str = "d1", versions: dict[str, str] = VERSIONS) -> Path:
    """A run with one environment per version: accuracy varies by split, fit time grows with the version."""
    rng = np.random.default_rng(len(run_id))
    recs = []
    for s in range(6):
        for i, env in enumerate(versions):
            rec = record("sklearn-lr", s, 0.9 + 0.04 * rng.standard_normal(), fit=0.2 * (1 + i) * (1 + 0.02 * s),
                         environment=env, started_at=1e9 + s)  # fmt: skip
            rec["trial_id"] += f"%{env}"
            recs.append(rec)
    path = write_run(root, run_id, recs)
    envs = {e: {"packages": {"scikit-learn": v}, "requirements": [f"scikit-learn=={v}"]} for e, v in versions.items()}
    (path / "run.json").write_text(json.dumps({"kind": "matrix", "environments": envs}))
    return path


def _plain_run(root: Path, run_id: str, version: str, started: float) -> Path:
    """A run without environments: its packages are those of the run's own environment."""
    recs = [record("sklearn-lr", s, 0.88 + 0.01 * s, fit=0.1, started_at=started + s) for s in range(6)]
    path = write_run(root, run_id, recs, env={**ENV, "packages": {"scikit-learn": version}})
    (path / "run.json").write_text(json.dumps({"kind": "matrix"}))
    return path


@pytest.fixture
def results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "results"
    _environments_run(root)
    _plain_run(root, "r0", "1.7.2", 9e8)
    monkeypatch.chdir(tmp_path)
    return root


def _history(capsys: pytest.CaptureFixture, root: Path, *args: str) -> dict:
    code, out, err = run_cli(["history", *args, "--results-dir", str(root), "--json", "--out", str(root.parent / "h")],
                             capsys)  # fmt: skip
    assert code == 0, err
    return json.loads(out)


def _order(data: dict, metric: str = "fit_wall_s") -> list[str]:
    return [p["run"] for p in data["points"] if p["metric"] == metric]


def test_a_run_with_environments_is_a_history_of_its_environments_in_version_order(results, capsys):
    """`bench history RUN --by PACKAGE`: each environment is a point, ordered by that package's version (1.8.0 before
    1.9.1 before 1.10.0, whatever the environments are called); a run without environments joins them by its own."""
    data = _history(capsys, results, "d1", "--by", "scikit-learn")
    assert _order(data) == [
        "d1%old (scikit-learn 1.8.0)",
        "d1%mid (scikit-learn 1.9.1)",
        "d1%new (scikit-learn 1.10.0)",
    ]
    assert data["decidable"] is True and all(p["n"] == 6 for p in data["points"])
    mixed = _history(capsys, results, "d1", "r0", "--by", "scikit-learn")
    assert _order(mixed) == ["r0 (scikit-learn 1.7.2)", *_order(data)]
    text = Path(mixed["markdown"]).read_text()
    assert "4 point(s) from 2 run(s), ordered by scikit-learn version" in text
    by_time = _history(capsys, results, "d1%old", "d1%new", "r0")  # r0 ran first; only the environments named
    assert _order(by_time) == ["r0", "d1%new", "d1%old"]


def _plain_interval(values: pd.Series) -> tuple[float, float]:
    ci = stats.mean_ci(values)
    return ci.low, ci.high


def test_history_accuracy_intervals_are_the_reports_corrected_ones(results, capsys):
    """The same records give the same accuracy interval in the history as in the report (Nadeau-Bengio corrected,
    wider than the plain t-interval the history showed before), while times keep the geometric mean."""
    data = _history(capsys, results, "d1", "r0", "--by", "scikit-learn", "--metrics", "accuracy,fit")
    code, out, err = run_cli(["report", "d1", "r0", "--results-dir", str(results), "--json", "--out",
                              str(results.parent / "rep")], capsys)  # fmt: skip
    assert code == 0, err
    quality = next(t for t in json.loads(out)["tables"] if t["name"] == "quality")["rows"]
    reported = {r["adapter"]: r["accuracy_mean"] for r in quality}  # the report reads d1 whole: sklearn-lr%old, ...
    frame = pd.concat([pd.read_json(results / "runs" / r / "records.jsonl", lines=True) for r in ("d1", "r0")])
    for point in (p for p in data["points"] if p["metric"] == "accuracy"):
        env = re.match(r"d1%(\w+)", point["run"])
        adapter = f"sklearn-lr%{env.group(1)}" if env else "sklearn-lr"
        want = reported[adapter]
        assert point["mean"] == "arithmetic" and point["estimate"]["level"] == want["level"] == 0.95
        assert point["estimate"]["value"] == pytest.approx(want["value"], rel=1e-12)
        assert point["estimate"]["interval"] == pytest.approx(want["interval"], rel=1e-12)
        mine = frame[(frame["environment"] == env.group(1)) if env else frame["environment"].isna()]
        low, high = _plain_interval(mine["accuracy"])
        assert point["estimate"]["interval"][0] < low and point["estimate"]["interval"][1] > high
    fit = [p for p in data["points"] if p["metric"] == "fit_wall_s"]
    assert {p["mean"] for p in fit} == {"geometric"} and all(p["estimate"]["level"] == 0.95 for p in fit)
    text = Path(data["markdown"]).read_text()
    assert "mean [corrected 95% CI]" in text and "geometric mean [95% CI]" in text


class _Folder:
    """What history reads of a run folder: its id, run.json and environment.json."""

    def __init__(self, run_id: str, envs: list[str]) -> None:
        self.run_id = run_id
        self._info = {"environments": {e: {"packages": {"scikit-learn": f"1.{i}.0"}} for i, e in enumerate(envs)}}

    def info(self) -> dict:
        return self._info

    def environment(self) -> dict:
        return {}


@given(
    envs=st.integers(1, 3),
    splits=st.integers(2, 8),
    inits=st.integers(1, 3),
    n_test=st.integers(5, 60),
    data=st.data(),
)
def test_every_accuracy_point_is_the_reports_interval_for_the_same_records(envs, splits, inits, n_test, data):
    """Drawn runs (environments, splits, init seeds, accuracies as counts of right test rows): each point's value and
    interval are exactly the report's accuracy table's for that environment's records."""
    names = [f"e{i}" for i in range(envs)]
    right = st.integers(0, n_test)
    rows = [dict(dataset="iris", adapter="lr", device="cpu", split_seed=s, init_seed=i, environment=e, status="ok",
                 run_id="r", accuracy=data.draw(right) / n_test, n_train=2 * n_test, n_test=n_test, started_at=1.0)
            for e in names for s in range(splits) for i in range(inits)]  # fmt: skip
    frame = pd.DataFrame(rows)
    points = history.series(Loaded(frame, [_Folder("r", names)]), "scikit-learn", ("accuracy",))  # type: ignore[list-item]
    table = accuracy_table(Doc("x"), by_environment(frame) if envs > 1 else frame)
    for _, p in points.iterrows():
        env = p["point"].split("%")[1].split(" ")[0]
        want = table[table["adapter"] == ("lr%" + env if envs > 1 else "lr")].iloc[0]
        got, expected = (p["value"], p["low"], p["high"]), (want["mean"], want["low"], want["high"])
        assert all((math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-12) for a, b in zip(got, expected))


def _specs(page: str) -> dict[str, dict]:
    """Each table's interactive figure on the page, by the table's name: the figure must sit beside its table."""
    out = {}
    for pair in re.findall(r'<div class="pair">(.*?)</figure></div>', page, re.S):
        name = re.search(r'data-name="([^"]+)"', pair).group(1)
        out[name] = json.loads(re.search(r'<script type="application/json">(.*?)</script>', pair, re.S).group(1))
    return out


def test_the_page_draws_every_metric_interactive_beside_its_table_and_keeps_the_png(results, capsys):
    """history.html: one plotly spec per metric, beside that metric's table, drawing the --json points with their
    intervals and a dashed line per step; the PNG stays, for HISTORY.md."""
    from hello_bench.report.html import plotly_js

    if plotly_js() is None:
        pytest.skip("plotly is not installed: the page falls back to the PNGs")
    data = _history(capsys, results, "d1", "r0", "--by", "scikit-learn", "--metrics", "accuracy,fit")
    specs = _specs(Path(data["html"]).read_text())
    assert set(specs) == {"history-accuracy", "history-fit_wall_s"}
    for metric, spec in ((m, specs[f"history-{m}"]) for m in ("accuracy", "fit_wall_s")):
        points = [p for p in data["points"] if p["metric"] == metric]
        (trace,) = spec["data"]  # one series: sklearn-lr on iris, cpu
        assert trace["y"] == pytest.approx([p["estimate"]["value"] for p in points])
        lows = [p["estimate"]["value"] - p["estimate"]["interval"][0] for p in points]
        assert trace["error_y"]["arrayminus"] == pytest.approx(lows) and trace["name"] == "sklearn-lr (iris, cpu)"
        assert spec["layout"]["xaxis"]["ticktext"][0] == "r0<br>(scikit-learn 1.7.2)"
        assert len(spec["layout"].get("shapes", [])) == sum(s["metric"] == metric for s in data["steps"])
    assert specs["history-fit_wall_s"]["layout"]["yaxis"]["type"] == "log"  # a step in time is a factor
    assert specs["history-accuracy"]["layout"]["yaxis"].get("type") != "log"
    markdown = Path(data["markdown"]).read_text()
    for metric in ("accuracy", "fit_wall_s"):
        assert f"(figures/history-{metric}.png)" in markdown
        assert (Path(data["markdown"]).parent / "figures" / f"history-{metric}.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "argv, words",
    [
        (["r0"], "found 1 (r0)"),  # one run without environments
        (["d1%old"], "found 1 (d1%old)"),  # one environment of a run
        (["d1%zz", "r0"], "no environment 'zz'"),
        (["d1%", "r0"], "name the environment"),
        (["nosuch", "d1"], "nosuch"),
        (["d1", "--by", "numpy"], "--by 'numpy'"),
        (["d1", "--metrics", "nosuch"], "No metric 'nosuch'"),
    ],
)
def test_bad_history_inputs_are_one_line_and_write_nothing(results, capsys, argv, words):
    before = snapshot(results.parent)
    code, _, err = run_cli(
        ["history", *argv, "--results-dir", str(results), "--out", str(results.parent / "h")], capsys
    )
    assert_clean_failure(code, err, {1})
    assert words in err and snapshot(results.parent) == before


def test_a_site_of_one_run_with_environments_has_its_history_page_and_one_plain_run_none(results):
    from hello_bench.report import publish
    from hello_bench.store.reader import RunFolder

    def pages(*runs: str) -> list[publish.Page]:
        return publish.history_pages(publish.Site(results, [RunFolder(results / "runs" / r) for r in runs]))

    (page,) = pages("d1")
    assert page.path == "history/index.html" and any(b[0] == "figure" and b[1].spec for b in page.doc.blocks)
    assert pages("r0") == []  # one point: nothing to line up, no page
