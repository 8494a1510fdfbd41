"""The JSON Schema of ``bench.toml``, generated from the config's own definition (never written by hand).

Everything comes from what validation itself reads: the fields of
:class:`~hello_bench.run.config.Config` and :class:`~hello_bench.measure.settings.TimingSettings`
(names, types, defaults), their docstrings' ``Attributes`` (descriptions),
:data:`~hello_bench.run.config.BOUNDS` and the timing limits (ranges), the choices
(devices, preprocessing, categorical, missing), and the keys of the
``[[adapters]]``, ``[[datasets]]`` and ``[[environments]]`` tables. The
shipped copy, ``bench/schemas/bench-toml.json``, is compared with a fresh
one by ``tests/test_toml_schema.py``; after changing the config, write it
again with ``python -m hello_bench.run.toml_schema > bench/schemas/bench-toml.json``.

Editors read it through a ``#:schema`` comment at the top of the file
(taplo, Even Better TOML): README, "Your data".
"""

from __future__ import annotations

import inspect
import json
import re
import typing
from dataclasses import MISSING, fields
from typing import Any

from hello_bench.adapters.registry import BUILTIN
from hello_bench.data.datasets import BUNDLED, CATEGORICAL_CHOICES, MISSING_CHOICES
from hello_bench.measure.settings import AT_LEAST_ONE, MAX_BATCH, MAX_SECONDS, TimingSettings
from hello_bench.run import config as cfg
from hello_bench.run.config_files import builtin_names

SCHEMA_ID = "https://hello-bench.invalid/schemas/bench-toml.json"


def attribute_docs(cls: type) -> dict[str, str]:
    """``name -> description`` from a numpydoc ``Attributes`` section (``a, b : type`` lines name several)."""
    text = (inspect.getdoc(cls) or "").split("Attributes\n", 1)[-1]
    out: dict[str, str] = {}
    names: list[str] = []
    for line in text.splitlines():
        if re.fullmatch(r"-+", line):
            continue
        head = re.fullmatch(r"(\w[\w, ]*?)(?: : .*)?", line)
        if head:
            names = [n.strip() for n in head.group(1).split(",")]
            continue
        body = line.strip()
        for name in names if body else []:
            out[name] = f"{out.get(name, '')} {body}".strip()
    return out


def _scalar(hint: Any) -> dict:
    """The JSON type of a plain annotation (``int``, ``float | None``, ``str``, ``bool``)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    kind = args[0]
    if kind is bool:
        return {"type": "boolean"}
    if kind is int:
        return {"type": "integer"}
    if kind is float:
        return {"type": "number"}
    return {"type": "string"}


def _bounded(name: str, hint: Any) -> dict:
    out = _scalar(hint)
    if name in cfg.BOUNDS:
        kind, low, high, _ = cfg.BOUNDS[name]
        out.update(minimum=low, maximum=high)
        if kind is float:
            out["type"] = "number"
    return out


def _table(keys: dict[str, str], types: dict[str, dict], required: list[str] | None = None) -> dict:
    out = {"type": "object", "additionalProperties": False,
           "properties": {k: {**types.get(k, {"type": "string"}), "description": doc} for k, doc in keys.items()}}  # fmt: skip
    if required:
        out["required"] = required
    return out


def _datasets() -> dict:
    table = _table(cfg.DATASET_KEYS, {"categorical": {"enum": list(CATEGORICAL_CHOICES)},
                                      "missing": {"enum": list(MISSING_CHOICES)}})  # fmt: skip
    table["anyOf"] = [{"required": ["path"]}, {"required": ["name"]}]
    name = {"type": "string", "minLength": 1, "examples": sorted(BUNDLED)}
    return {"type": "array", "minItems": 1, "items": {"anyOf": [name, table]}}


def _adapters() -> dict:
    table = _table(cfg.ADAPTER_KEYS, {"params": {"type": "object"},
                                      "backends": {"type": "array", "items": {"type": "string"}}}, ["name"])  # fmt: skip
    name = {"type": "string", "minLength": 1, "examples": sorted(BUILTIN)}
    return {"type": "array", "items": {"anyOf": [name, table]}}


def _environments() -> dict:
    types: dict[str, dict] = {"name": {"type": "string", "pattern": f"^{cfg.ENV_NAME.pattern}$"},
             "requirements": {"type": "array", "items": {"type": "string"}}}  # fmt: skip
    return {"type": "array", "maxItems": cfg.MAX_ENVIRONMENTS, "items": _table(cfg.ENVIRONMENT_KEYS, types, ["name"])}


def _timing() -> dict:
    docs = attribute_docs(TimingSettings)
    hints = typing.get_type_hints(TimingSettings)
    defaults = TimingSettings().to_dict() | {"control_span_s": TimingSettings().control_span_s}
    props = {}
    for f in fields(TimingSettings):
        prop = _scalar(hints[f.name])
        if f.name == "batch_sizes":
            prop = {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 1, "maximum": MAX_BATCH}}
        elif prop["type"] == "integer":
            prop["minimum"] = 1 if f.name in AT_LEAST_ONE else 0
        elif prop["type"] == "number":
            prop.update(exclusiveMinimum=0, exclusiveMaximum=MAX_SECONDS)
        if defaults.get(f.name) is not None:
            prop["default"] = defaults[f.name]
        props[f.name] = {**prop, "description": docs.get(f.name, "")}
    return {"type": "object", "additionalProperties": False, "properties": props}


def toml_schema() -> dict:
    """The JSON Schema (draft 2020-12) of a ``bench.toml`` (see the module docstring)."""
    docs = attribute_docs(cfg.Config)
    hints = typing.get_type_hints(cfg.Config)
    defaults = cfg.Config(adapters=()).to_dict()
    special = {
        "datasets": _datasets(),
        "adapters": _adapters(),
        "environments": _environments(),
        "timing": _timing(),
        "devices": {
            "anyOf": [
                {"const": "auto"},
                {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": list(cfg.DEVICES)}},
            ]
        },  # fmt: skip
        "preprocessing": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"enum": list(cfg.PREPROCESSING)},
        },  # fmt: skip
    }
    props: dict[str, dict] = {"extends": {"type": "string", "minLength": 1, "examples": builtin_names()}}
    for f in fields(cfg.Config):
        prop = dict(special.get(f.name) or _bounded(f.name, hints[f.name]))
        if f.name not in special and f.default is not MISSING and f.default is not None:
            prop["default"] = defaults[f.name]
        props[f.name] = prop
    for name, prop in props.items():
        prop["description"] = docs.get(name, "")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "bench.toml: a hello-bench run configuration", "type": "object",
            "additionalProperties": False, "properties": dict(sorted(props.items()))}  # fmt: skip


if __name__ == "__main__":
    print(json.dumps(toml_schema(), indent=2))
