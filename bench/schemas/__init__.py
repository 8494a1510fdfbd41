"""JSON Schemas of every command's ``--json`` output, shipped with the package (``bench schema NAME``).

Conventions every output follows: keys are stable snake_case; numbers are
JSON numbers; an interval is ``{"value", "low", "high"}`` (the same three
names in every command; ``low``/``high`` null where there is none); a
missing number is null; each output says which ``command`` wrote it.
"""

from __future__ import annotations

import json
from importlib import resources

#: One schema per output: ``run-dry-run`` is ``bench run --dry-run --json``.
NAMES = (
    "check",
    "compare",
    "env",
    "export",
    "history",
    "list",
    "publish",
    "report",
    "run",
    "run-dry-run",
    "scale",
    "seed",
)


#: Schemas of what bench reads: ``bench-toml`` is a run configuration's (generated: bench/run/toml_schema.py).
INPUTS = ("bench-toml",)


def schema(name: str) -> dict:
    """The JSON Schema (draft 2020-12) of one output (or one input, :data:`INPUTS`)."""
    if name not in NAMES + INPUTS:
        raise KeyError(name)
    return json.loads((resources.files("bench") / "schemas" / f"{name}.json").read_text())


def validate(name: str, data: object) -> None:
    """Raise ``jsonschema.ValidationError`` if ``data`` does not match (needs the ``jsonschema`` package)."""
    import jsonschema

    jsonschema.validate(data, schema(name), cls=jsonschema.Draft202012Validator)
