"""The registry's summary table shows each value in the unit its header names."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hello_bench.record import label_of
from hello_bench.report.document import Doc
from hello_bench.report.summary import section


def test_a_value_stored_in_seconds_is_shown_in_the_headers_milliseconds():
    ok = pd.DataFrame({"dataset": ["iris"] * 3, "adapter": ["jax"] * 3, "device": ["cpu"] * 3,
                       "cold_predict_s": [0.3529, 0.3529, 0.3529], "fit_wall_s": [2.0, 2.0, 2.0]})  # fmt: skip
    doc = Doc("t")
    section(doc, ok)
    text = doc.markdown(Path("."))
    assert "(ms)" in label_of("cold_predict_s") and label_of("cold_predict_s") in text
    row = next(line for line in text.splitlines() if line.startswith("| iris"))
    assert "353" in row and "0.353" not in row


def test_a_label_that_starts_with_a_digit_still_makes_a_schema_key():
    from hello_bench.report.document import column_keys

    assert all(k[0].isalpha() for k in column_keys(["20 batch predicts", "3", "fit (s)"]))
