"""bench.toml's JSON Schema: generated from the config's definition, shipped as generated, and true to validation."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema
import pytest

from hello_bench.errors import UserError
from hello_bench.run.config import config_from_dict
from hello_bench.run.config_files import builtin_config_path, builtin_names, read_toml
from hello_bench.run.toml_schema import attribute_docs, toml_schema
from hello_bench.schemas import schema

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
VALIDATOR = jsonschema.Draft202012Validator(toml_schema())


def test_the_shipped_schema_is_the_generated_one():
    shipped = json.loads((ROOT / "bench/schemas/bench-toml.json").read_text())
    assert shipped == toml_schema(), "regenerate: python -m hello_bench.run.toml_schema > bench/schemas/bench-toml.json"
    assert schema("bench-toml") == shipped
    jsonschema.Draft202012Validator.check_schema(shipped)


def test_every_key_validation_knows_is_in_the_schema_with_a_description():
    from hello_bench.measure.settings import TimingSettings
    from hello_bench.run.config import _TOP_KEYS

    props = toml_schema()["properties"]
    assert set(props) == _TOP_KEYS and all(p["description"] for p in props.values())
    timing = props["timing"]["properties"]
    assert set(timing) == set(TimingSettings.__dataclass_fields__) and all(p["description"] for p in timing.values())


def configs() -> list[Path]:
    shipped = [builtin_config_path(name) for name in builtin_names()]
    return shipped + sorted(p for p in (ROOT / "examples").rglob("*.toml") if p.name != "pyproject.toml")


@pytest.mark.parametrize("path", configs(), ids=lambda p: str(p.relative_to(ROOT)) if ROOT in p.parents else p.name)
def test_every_built_in_config_and_example_matches_the_schema(path):
    VALIDATOR.validate(read_toml(path))


@pytest.mark.parametrize("bad", [
    {"splits": 0}, {"splits": "5"}, {"devices": ["tpu"]}, {"unknown_key": 1}, {"timing": {"warmup": -1}},
    {"timing": {"latency_budget_s": 0}}, {"timing": {"batch_sizes": []}}, {"datasets": [{"path": "d.csv", "nope": 1}]},
    {"datasets": [{"target": "y"}]}, {"adapters": [{"profile": "seed"}]}, {"preprocessing": ["minmax"]},
    {"environments": [{"name": "a b"}]}, {"test_size": 1.5},
])  # fmt: skip
def test_what_the_schema_refuses_validation_refuses_too(bad):
    """The schema is true to validation: an editor's red line is a config bench would refuse."""
    data = {"adapters": ["sklearn-lr"], **bad}
    assert not VALIDATOR.is_valid(data)
    with pytest.raises(UserError):
        config_from_dict(data, "test")


def test_a_config_with_a_schema_comment_reads_as_toml_and_validates(tmp_path):
    text = '#:schema ./bench-toml.schema.json\n[[datasets]]\npath = "d.csv"\ntarget = "y"\ncategorical = "onehot"\n'
    VALIDATOR.validate(tomllib.loads(text))


def test_attribute_docs_read_grouped_names_and_continuation_lines():
    class Documented:
        """Doc.

        Attributes
        ----------
        a, b : int
            Shared text
            on two lines.
        c
            Own text.
        """

    assert attribute_docs(Documented) == {"a": "Shared text on two lines.", "b": "Shared text on two lines.",
                                          "c": "Own text."}  # fmt: skip


# -- extends -------------------------------------------------------------------------------------------
def test_a_config_holding_only_datasets_runs_the_default_matrix_on_them(tmp_path):
    from hello_bench.run.config_files import load_config

    (tmp_path / "d.csv").write_text("a,b,y\n" + "".join(f"{i},{i % 3},{'xz'[i % 2]}\n" for i in range(20)))
    path = tmp_path / "mine.toml"
    path.write_text(f'[[datasets]]\npath = "{tmp_path / "d.csv"}"\ntarget = "y"\n')
    mine, default = load_config(path), load_config(builtin_config_path("default"))
    assert mine.adapters == default.adapters and mine.splits == default.splits and mine.timing == default.timing
    assert [d.source for d in mine.datasets] == [str(tmp_path / "d.csv")] and "extending default" in mine.description


def test_extends_a_file_beside_it_and_merges_timing_key_by_key(tmp_path):
    from hello_bench.run.config_files import load_config

    (tmp_path / "base.toml").write_text('adapters = ["sklearn-lr"]\nsplits = 7\n[timing]\nwarmup = 3\ncurves = false\n')
    (tmp_path / "ci.toml").write_text('extends = "base.toml"\nsplits = 2\n[timing]\nwarmup = 4\n')
    config = load_config(tmp_path / "ci.toml")
    assert (config.splits, config.timing.warmup, config.timing.curves) == (2, 4, False)
    assert [a.name for a in config.adapters] == ["sklearn-lr"]


@pytest.mark.parametrize("text, message", [
    ('extends = "loop.toml"\n', "configs deep"),
    ('extends = "missing.toml"\n', "does not exist"),
    ("extends = 3\n", "extends must name a config"),
])  # fmt: skip
def test_a_bad_extends_is_one_line(tmp_path, text, message):
    from hello_bench.run.config_files import load_config

    (tmp_path / "loop.toml").write_text(text)
    with pytest.raises(UserError, match=message) as err:
        load_config(tmp_path / "loop.toml")
    assert "\n" not in str(err.value)


def test_the_readme_says_every_dataset_key_and_choice():
    from hello_bench.data.datasets import CATEGORICAL_CHOICES, MISSING_CHOICES
    from hello_bench.run.config import DATASET_KEYS

    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Your data", 1)[1].split("\n## ", 1)[0]
    for word in [*DATASET_KEYS, *CATEGORICAL_CHOICES, *MISSING_CHOICES, "--target", "--categorical", "--missing",
                 "#:schema", "extends", "bench schema bench-toml"]:  # fmt: skip
        assert f"`{word}`" in section or f"`{word} " in section or word in section, word
