"""The report to read and explore: findings first, contents with anchors, sortable tables, figures beside their
tables, interactive figures, nothing fetched; checked in the DOM and, where Chromium is installed, in a real browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

import hello_bench
from hello_bench.report.document import Doc, cell_value, column_keys
from hello_bench.report.tables import fmt, fmt_ci, fmt_range
from tests.test_report import record, write_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--virtual-time-budget=20000"]  # fmt: skip


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("html")
    rng = np.random.default_rng(2)
    recs = []
    for s in range(6):
        base = 0.95 + 0.01 * rng.standard_normal()
        recs.append(record("sklearn-lr", s, base, fit=0.2, latency_drift=1.5))
        recs.append(record("torch-mlp:seed", s, base + 0.01 * rng.standard_normal(), fit=2.0 + 0.1 * s,
                           curve={"train_time_s": [0.5, 1.0, 1.5], "loss": [1.0, 0.5, 0.4], "test_accuracy": [0.6, 0.9, 0.95]}))  # fmt: skip
    write_run(root, "r1", recs)
    return hello_bench.report.write_report(["r1"], root, out_dir=root / "out")


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.links: list[str] = []
        self.refs: list[str] = []
        self.order: list[str] = []
        self.scripts = 0
        self.num_cells = 0
        self.plots = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(a["id"])
            self.order.append(a["id"])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        for key in ("src", "href", "srcset", "action"):
            if a.get(key):
                self.refs.append(a[key])
        self.scripts += tag == "script"
        self.num_cells += tag == "td" and "num" in (a.get("class") or "")
        self.plots += tag == "div" and a.get("class") == "plot"


def test_page_reads_first_the_findings_then_the_contents_and_links_every_section(report):
    page = Page()
    page.feed(report.html.read_text())
    assert page.order.index("findings") < page.order.index("contents") < page.order.index("accuracy")
    sections = [anchor for _, _, anchor in report.doc.sections()]
    assert sections and set(sections) <= set(page.ids)
    assert {f"#{a}" for a in sections if a} <= set(page.links)  # the contents link every section
    assert all(link[1:] in page.ids for link in page.links if link.startswith("#"))  # no dead anchor
    assert not [r for r in page.refs if not r.startswith(("#", "data:"))]  # nothing fetched, nothing external
    assert page.scripts >= 2 and page.num_cells > 20
    assert page.plots == sum(1 for b in report.doc.blocks if b[0] == "figure" and b[1].spec)


def test_figures_sit_beside_their_tables_and_findings_come_from_the_tables(report):
    order = [b for b in report.doc.ordered() if b[0] in ("table", "figure")]
    names = {b[1].name for b in order if b[0] == "table"}
    assert any(b[0] == "figure" and b[1].beside in names for b in order)
    for i, block in enumerate(order):
        if block[0] == "figure" and block[1].beside in names:
            before = [b for b in order[:i] if b[0] == "table"][-1]
            assert before[1].name == block[1].beside
    markdown = report.markdown.read_text()
    assert markdown.index("## Findings") < markdown.index("**Contents**") < markdown.index("## Accuracy")
    assert markdown.index("| iris ") < markdown.index("figures/accuracy-per-split.png")  # the PNG right after its table
    assert "none of the 1 differences is significant" in markdown
    # the findings carry the tables' intervals (they were lost when table cells became typed objects)
    assert re.search(r"- \*\*Time\*\* relative to .*x \[\d[^\]]*\] \(`", markdown), markdown[:3000]
    assert "measurements-to-read-with-care" in markdown


def test_read_with_care_is_grouped_and_short(report):
    care = report.doc.blocks[
        [b[0] == "h" and b[2] == "Measurements to read with care" for b in report.doc.blocks].index(True) :
    ]
    bullets = next(b for b in care if b[0] == "ul")[1]
    drift = [b for b in bullets if "drifted" in b]
    assert len(bullets) <= 5 and len(drift) == 1 and ": 6 (sklearn-lr 6)" in drift[0]  # 6 drifting trials: one line


def test_cells_keep_their_numbers_and_keys_are_stable():
    assert cell_value(fmt_ci(0.96812, 0.93, 0.99)) == {"value": 0.96812, "interval": [0.93, 0.99], "level": 0.95}
    assert cell_value(fmt(1234.5)) == 1234.5 and cell_value("1,137") == 1137 and cell_value("-") is None
    assert cell_value("4.49 [4.1, 4.91]") == {"value": 4.49, "interval": [4.1, 4.91], "level": 0.95}
    assert cell_value(fmt_range(2.0, 1.5, 2.5)) == {"value": 2.0, "interval": [1.5, 2.5], "level": "IQR"}
    assert cell_value("not significant; detectable: 0.075") == "not significant; detectable: 0.075"
    keys = column_keys(
        ["accuracy - sklearn-lr [95% CI]", "p", "p (Holm)", "batch 32 (samples/s)", "ratio to x [95% CI]"]
    )
    assert keys == ["accuracy_difference", "p", "p_holm", "batch_32", "ratio_to_baseline"]
    doc = Doc("t").table(["adapter", "accuracy [95% CI]"], [["a", fmt_ci(0.9, 0.8, 1.0)], ["b", fmt(0.5)]], "x")
    rows = doc.data()["tables"][0]["rows"]
    assert rows[1]["accuracy"] == {"value": 0.5, "interval": None, "level": None}  # one shape per column
    gate = Doc("g").table(["metric", "B vs A [90%]"], [["fit", "1.14x [1.11x, 1.16x]"]], "g").data()["tables"][0]
    assert gate["rows"][0]["b_vs_a"] == {"value": 1.14, "interval": [1.11, 1.16], "level": 0.9}


def _browser(*args: str, profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=120
    )


PROBE = """<script>
setTimeout(function () {
  var table = document.querySelector('table[data-name=time]');
  var th = table.querySelector('th[data-key=fit_time_s_median] button');
  th.click(); th.click();  // descending
  var fits = Array.prototype.map.call(table.tBodies[0].rows, function (r) { return r.cells[3].getAttribute('data-sort'); });
  var plot = document.querySelector('div.plot');
  var before = plot.querySelectorAll('.legendtoggle').length;
  plot.querySelector('.legendtoggle').dispatchEvent(new MouseEvent('mouseup', {bubbles: true}));
  plot.querySelector('.legendtoggle').dispatchEvent(new MouseEvent('mousedown', {bubbles: true}));
  setTimeout(function () {
    document.body.setAttribute('data-probe', JSON.stringify({fits: fits, legend: before,
      svgs: document.querySelectorAll('div.plot .main-svg').length, plots: document.querySelectorAll('div.plot').length,
      hidden: plot.data.map(function (t) { return t.visible; })}));
  }, 1000);
}, 4000);
</script></body>"""


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium)")
def test_report_in_chromium_draws_figures_sorts_tables_and_logs_nothing(report, tmp_path):
    shot = tmp_path / "shot.png"
    out = _browser("--enable-logging=stderr", "--v=0", "--window-size=1400,3000", f"--screenshot={shot}",
                   report.html.as_uri(), profile=tmp_path / "p1")  # fmt: skip
    assert shot.exists(), out.stderr[-2000:]
    assert not [line for line in out.stderr.splitlines() if ":CONSOLE" in line], out.stderr[-3000:]
    probe = report.html.with_name("probe.html")
    probe.write_text(report.html.read_text().replace("</body>", PROBE))
    dom = _browser("--dump-dom", probe.as_uri(), profile=tmp_path / "p2").stdout
    assert 'data-plots="drawn"' in dom  # plotly.js unpacked and ran, offline
    found = json.loads(re.search(r"data-probe=\"([^\"]*)\"", dom).group(1).replace("&quot;", '"'))
    assert found["svgs"] >= found["plots"] > 0 and found["legend"] >= 2
    fits = [float(f) for f in found["fits"]]
    assert fits == sorted(fits, reverse=True)  # sorted by number, descending
    assert "legendonly" in found["hidden"]  # a legend click hid its series


def test_findings_say_identical_where_every_split_is_and_one_ratio_is_one_ratio():
    """A stranger read "none of the 1 differences is significant" for the same accuracy on every split, and "fit
    time from 1.29x (head) to 1.29x (head)" for one adapter: the findings say what the numbers are."""
    from hello_bench.report import findings

    same = [{"adapter": "b", "accuracy_difference": None, "p_holm": None, "verdict": "identical on every split"}]
    assert findings.accuracy(same, "a").endswith(
        "identical on every split (1 comparison(s): every difference exactly 0)."
    )
    differ = [*same, {"adapter": "c", "p_holm": 0.4, "verdict": "no difference", "detectable": 0.05}]
    assert "none of the 2 differences is significant" in findings.accuracy(differ, "a")
    one = [{"metric": "fit time", "adapter": "b", "verdict": "slower",
            "ratio_to_baseline": {"value": 1.29, "interval": [1.2, 1.4], "level": 0.95}}]  # a typed cell, as tables give it  # fmt: skip
    assert findings.ratios(one, "a").endswith("fit time 1.29x [1.2, 1.4] (`b`, slower).")
    two = [*one, {**one[0], "adapter": "c", "ratio_to_baseline": {"value": 2.0, "interval": [1.9, 2.1], "level": 0.95}}]
    assert "fit time from 1.29x [1.2, 1.4] (`b`, slower) to 2x [1.9, 2.1] (`c`, slower)" in findings.ratios(two, "a")
