"""Resuming a run with environments: each environment that has records must be the one they were made with."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from hello_bench.errors import UserError
from hello_bench.run.runner import check_environments


def _built(**hashes: str) -> dict:
    return {name: SimpleNamespace(spec_hash=h) for name, h in hashes.items()}


def test_an_environment_rebuilt_from_a_changed_project_refuses_the_resume():
    """The CI recipe rerun after editing the working tree: head's specification changed, its records are old."""
    stored = {"base": {"spec_hash": "aaa"}, "head": {"spec_hash": "bbb"}}
    records = [{"environment": "base"}, {"environment": "head"}]
    with pytest.raises(
        UserError, match=r"environment 'head' is not what its records were made with .*bbb then, ccc now"
    ):
        check_environments(stored, _built(base="aaa", head="ccc"), records, "ci")


def test_the_same_environments_or_one_without_records_resume():
    stored = {"base": {"spec_hash": "aaa"}, "head": {"spec_hash": "bbb"}}
    check_environments(stored, _built(base="aaa", head="bbb"), [{"environment": "head"}], "ci")
    check_environments(stored, _built(base="zzz", head="bbb"), [{"environment": "head"}], "ci")  # base never ran
    check_environments({}, _built(base="aaa"), [{"environment": "base"}], "ci")  # a run stored without hashes
    check_environments({"base": "damaged"}, _built(base="aaa"), [{"environment": "base"}], "ci")
