"""JSON Schemas of every command's ``--json`` output, shipped with the package (``bench schema NAME``).

Conventions every output follows: keys are stable snake_case; numbers are
JSON numbers; a number with an interval is ``{"value", "interval": [low, high],
"level"}`` (the same shape in every command; ``level`` a confidence level such as
0.95, or ``"IQR"``; ``interval`` and ``level`` null where there is none); a
missing number is null; each output says which ``command`` wrote it.
"""

from __future__ import annotations

import json
from importlib import resources

#: One schema per output: ``run-dry-run`` is ``bench run --dry-run --json``.
NAMES = (
    "calibrate",
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
    return json.loads((resources.files("hello_bench") / "schemas" / f"{name}.json").read_text())


def validate(name: str, data: object) -> None:
    """Raise ``jsonschema.ValidationError`` if ``data`` does not match (needs the ``jsonschema`` package)."""
    import jsonschema

    jsonschema.validate(data, schema(name), cls=jsonschema.Draft202012Validator)
