"""What a team lead sees: the compare page leads with the gate's verdict and a short table of what differs (worst
first) on the first screen; long trial labels are shortened the same way in every table, line and figure of the page,
with a legend, and the JSON keeps them whole. Checked in Markdown and the DOM, and at 1400x900 in headless Chromium
where it is installed."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hello_bench.report.compare import compare_runs, heat_frame
from hello_bench.report.document import Doc
from hello_bench.report.labels import LIMIT, Labels, shorten
from hello_bench.report.tables import fmt_ci
from tests.test_report import record, write_run
from tests.test_report_html import CHROMIUM, _browser

LONG = "torch-mlp:seed(batch_size=16,epochs=30,learning_rate=0.01)"
OTHER = "torch-mlp:seed(batch_size=32,epochs=30,learning_rate=0.01)"  # the same name without its overrides


def duet_records(factors: dict[str, float], splits: int, seed: int, spread: float = 0.01) -> tuple[list, list]:
    """A duet's records (environments ``base`` and ``head``: head's fit time ``factors[adapter]`` times base's) and
    the same trials run once, without environments."""
    rng = np.random.default_rng(seed)
    duet, plain = [], []
    for s in range(splits):
        for adapter, factor in factors.items():
            acc, fit = 0.95 + spread * rng.standard_normal(), 1.0 + 0.01 * rng.standard_normal()
            plain.append(record(adapter, s, acc, fit=fit))
            for env, f in (("base", 1.0), ("head", factor)):
                rec = record(adapter, s, acc, fit=fit * f * (1 + 0.005 * rng.standard_normal()), environment=env)
                rec["trial_id"] += f"%{env}"
                duet.append(rec)
    return duet, plain


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """A duet: B's fit time 1.3x A's for LONG (a gate failure), 1.1x for OTHER, the same for sklearn-lr."""
    root = tmp_path_factory.mktemp("page")
    write_run(root, "duet", duet_records({"sklearn-lr": 1.0, LONG: 1.3, OTHER: 1.1}, 8, 5)[0])
    return compare_runs(["duet%base", "duet%head"], root, out_dir=root / "out", fail_above=10)


def test_the_page_leads_with_the_verdict_and_what_differs_worst_first(compared):
    markdown = compared.path.read_text()
    lead = markdown[: markdown.index("**Contents**")]
    assert lead.index("## Findings") < lead.index("**FAIL (exit 4)") < lead.index("| trials")
    table = compared.doc.lead_tables[0]
    assert table.name == "headline" and [str(r[-1]) for r in table.rows][0] == "FAIL"
    first = table.rows[0]
    assert first[0] == f"iris/{LONG}/cpu" and first[1].startswith("fit time") and first[-2] == "slower"
    assert "iris/sklearn-lr/cpu" not in {r[0] for r in table.rows}  # no difference claimed: not a headline
    data = compared.doc.data()
    assert data["tables"][0]["name"] == "headline"  # the JSON carries the headline numbers too


def test_long_labels_are_shortened_everywhere_on_the_page_with_a_legend_and_kept_whole_in_json(compared):
    markdown, html = compared.path.read_text(), compared.html.read_text()
    for page in (markdown, html):
        body = page.split("Labels shortened on this page", 1)[1]
        legend, rest = body.split("Contents", 1)
        assert LONG in legend and OTHER in legend  # the legend maps each short label back
        assert LONG not in rest and OTHER not in rest  # nowhere else: tables, the gate's line, headings
        assert "iris/torch-mlp:seed#1/cpu" in rest and "iris/torch-mlp:seed#2/cpu" in rest
    data = json.dumps(compared.doc.data()) + json.dumps(compared.to_json())
    assert f"iris/{LONG}/cpu" in data and "torch-mlp:seed#1" not in data
    heat = heat_frame(compared.pairs[0][1], compared.doc.labels.short)  # the heatmap names trials as the tables do
    assert set(heat["trials"]) == {"iris/sklearn-lr/cpu", "iris/torch-mlp:seed#1/cpu", "iris/torch-mlp:seed#2/cpu"}


def test_a_shortened_table_keeps_its_numbers_and_keys():
    doc = Doc("t").table(["trials", "accuracy [95% CI]"], [[f"iris/{LONG}/cpu", fmt_ci(0.9, 0.8, 1.0)]], "x")
    doc.shorten([LONG])
    shown = doc.shown().blocks[0][1]
    assert shown.rows[0][0] == "iris/torch-mlp:seed/cpu" and shown.rows[0][1].low == 0.8
    assert shown.keys == ["trials", "accuracy"]
    assert doc.data()["tables"][0]["rows"][0]["trials"] == f"iris/{LONG}/cpu"


LABEL = st.from_regex(r"[a-z]{1,8}(-[a-z]{1,6})?(:[a-z]{1,6})?(\([a-z_]{1,12}=[0-9.]{1,6}(,[a-z_]{1,12}=[0-9.]{1,6}){0,3}\))?"
                      r"(\[[a-z]{1,5}\])?", fullmatch=True)  # fmt: skip


@given(st.lists(LABEL, max_size=12), st.integers(8, 40))
def test_short_labels_are_unique_short_and_name_their_label_alone(labels, limit):
    mapping = shorten(labels, limit)
    assert set(mapping) == {n for n in labels if len(n) > limit}
    kept = set(labels) - set(mapping)
    shorts = list(mapping.values())
    assert len(set(shorts)) == len(shorts) and not set(shorts) & kept  # one label each, never another label
    assert all(len(s) <= limit or re.fullmatch(r"L\d+", s) for s in shorts)
    page = Labels(mapping)
    assert all(page.short(full) == short for full, short in mapping.items())
    assert all(page.short(n) == n for n in kept if not any(f in n for f in mapping))
    assert sorted(r[1] for r in page.legend()) == sorted(mapping)


def test_labels_within_the_limit_stay_whole_and_overrides_go_first():
    assert shorten(["sklearn-lr", "keras-mlp:seed"]) == {}
    assert shorten([LONG, "sklearn-lr"]) == {LONG: "torch-mlp:seed"}
    dotted = "mypackage.models.classifiers.ChurnClassifier"
    assert shorten([dotted]) == {dotted: "L1"} and len(dotted) > LIMIT
    assert shorten([LONG, "torch-mlp:seed"]) == {LONG: "torch-mlp:seed#1"}  # the stripped name is taken


PROBE = """<script>
setTimeout(function () {
  var out = {clipped: []};
  ['#findings li', 'table[data-name=headline]', 'table[data-name=labels]'].forEach(function (s) {
    var r = document.querySelector(s).getBoundingClientRect(); out[s] = [r.top, r.bottom];
  });
  document.querySelectorAll('.table-wrap').forEach(function (w) {
    if (w.scrollWidth > w.clientWidth + 1) out.clipped.push(w.querySelector('table').getAttribute('data-name'));
  });
  document.body.setAttribute('data-probe', JSON.stringify(out));
}, 1000);
</script></body>"""


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium)")
def test_in_chromium_at_1400x900_verdict_and_headline_fill_the_first_screen_and_no_table_clips(compared, tmp_path):
    probe = tmp_path / "probe.html"
    probe.write_text(compared.html.read_text().replace("</body>", PROBE))
    dom = _browser("--window-size=1400,900", "--dump-dom", probe.as_uri(), profile=tmp_path / "profile")
    found = json.loads(re.search(r'data-probe="([^"]*)"', dom.stdout).group(1).replace("&quot;", '"'))
    assert 0 < found["#findings li"][0] < found["#findings li"][1] < 900  # the gate's line, whole
    assert found["table[data-name=headline]"][1] < 900  # the headline table, whole
    assert found["clipped"] == []  # no table wider than the page at 1400 px
