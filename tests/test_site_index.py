"""The site's index (``bench publish``) shows numbers, not only links: each comparison page's gate outcome and what
differs (a duet's first environment against the other, gated at the registry's defaults), each run's accuracy with its
corrected interval and its headline times per adapter, long labels shortened with a legend; checked against the run's
own report and comparison, and at 1400x900 in headless Chromium where it is installed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import hello_bench
from hello_bench.analysis.policy import GatePolicy
from hello_bench.errors import UserError
from hello_bench.record import role
from hello_bench.report import publish
from hello_bench.report.build import write_report
from hello_bench.report.compare import compare_runs
from hello_bench.report.tables import fmt
from tests.test_compare_page import LONG, duet_records
from tests.test_report import write_run
from tests.test_report_html import CHROMIUM, _browser


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[Path, Path, dict]:
    """``duet``: head's LONG fits 1.3x slower (a gate failure); ``plain``: one environment, no comparison."""
    root = tmp_path_factory.mktemp("site")
    duet, plain = duet_records({"sklearn-lr": 1.0, LONG: 1.3}, 6, 9, spread=0.02)
    write_run(root, "duet", duet)
    write_run(root, "plain", plain)
    written = publish.publish(root / "site", root)
    return root, root / "site", written


def _table(html: str, name: str) -> str:
    return re.search(rf'<table class="sortable" data-name="{name}">.*?</table>', html, re.S).group(0)


def test_the_index_carries_each_comparisons_gate_and_what_differs(site):
    root, out, written = site
    assert "compare/duet/base--head/index.html" in {p["path"] for p in written["pages"]}
    html = (out / "index.html").read_text()
    comparisons = _table(html, "comparisons")
    expected = compare_runs(["duet%base", "duet%head"], root, out_dir=root / "cmp", policy=GatePolicy(on=True))
    assert expected.outcome == "FAIL" and "<b>FAIL</b>" in comparisons  # the gate's outcome, as compare gives it
    assert 'href="compare/duet/base--head/index.html"' in comparisons
    assert re.search(r"claim a difference \(\d+ B worse", comparisons)
    assert html.index('data-name="comparisons"') < html.index('data-name="headline"') < html.index('data-name="runs"')


def test_the_index_carries_each_runs_accuracy_with_its_interval_and_fit_time_as_its_report_does(site, tmp_path):
    root, out, _ = site
    html = (out / "index.html").read_text()
    headline = _table(html, "headline")
    report = write_report(["plain"], root, out_dir=tmp_path / "report").doc.data()
    quality = next(t for t in report["tables"] if t["name"] == "quality")
    row = next(r for r in quality["rows"] if r["adapter"] == "sklearn-lr")
    acc = next(v for k, v in row.items() if isinstance(v, dict) and v.get("interval"))
    shown = f"{acc['value']:.3g} [{acc['interval'][0]:.3g}, {acc['interval'][1]:.3g}]"
    rows = re.findall(r"<tr>(.*?)</tr>", headline, re.S)
    plain_lr = next(r for r in rows if "runs/plain/index.html" in r and ">sklearn-lr<" in r)
    assert shown in plain_lr  # the report's corrected interval, the same digits
    assert len([r for r in rows if "runs/duet/index.html" in r]) == 4  # two adapters x two environments
    frame = hello_bench.load("plain", results_dir=root)
    fit = frame.loc[frame["adapter"] == "sklearn-lr", role("fit").column].median()
    assert f">{fmt(role('fit').shown(fit))}</td>" in plain_lr  # the median fit time, as the time table takes it


def test_the_index_shortens_long_labels_with_a_legend(site):
    _, out, _ = site
    html = (out / "index.html").read_text()
    legend = _table(html, "labels")
    rest = html.replace(legend, "")
    assert LONG in legend and LONG not in rest  # full labels only in the legend
    assert "torch-mlp:seed%base" in _table(html, "headline") and "torch-mlp:seed" in _table(html, "comparisons")
    json.dumps(site[2])  # the --json answer holds no page object


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium)")
def test_in_chromium_the_index_shows_the_gate_on_the_first_screen_and_clips_no_table(site, tmp_path):
    _, out, _ = site
    probe = tmp_path / "probe.html"
    script = """<script>setTimeout(function () {
      var g = document.querySelector('table[data-name=comparisons] b').getBoundingClientRect();
      var clipped = Array.prototype.filter.call(document.querySelectorAll('.table-wrap'),
        function (w) { return w.scrollWidth > w.clientWidth + 1; }).length;
      document.body.setAttribute('data-probe', JSON.stringify({gate: g.bottom, clipped: clipped}));
    }, 500);</script></body>"""
    probe.write_text((out / "index.html").read_text().replace("</body>", script))
    dom = _browser("--window-size=1400,900", "--dump-dom", probe.as_uri(), profile=tmp_path / "profile").stdout
    found = json.loads(re.search(r'data-probe="([^"]*)"', dom).group(1).replace("&quot;", '"'))
    assert 0 < found["gate"] < 900 and found["clipped"] == 0


def test_a_comparison_that_cannot_be_made_is_named_on_the_index_not_a_failed_site(site, tmp_path, monkeypatch):
    import hello_bench.report.compare as compare

    def refuse(*args, **kwargs):
        raise UserError("the two sides hold the same records")

    monkeypatch.setattr(compare, "compare_runs", refuse)
    publish.publish(tmp_path / "site", site[0])
    comparisons = _table((tmp_path / "site" / "index.html").read_text(), "comparisons")
    assert "not compared" in comparisons and "No comparison: the two sides hold the same records" in comparisons
