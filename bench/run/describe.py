"""Inside an environment's Python: what the parent of a run needs to know about adapters it does not import.

Started by :func:`hello_bench.run.resolve.describe_in` with a JSON request (the
adapters, the run's devices and thread count) as its argument; prints one
JSON line, each adapter's label mapped to its facts (the fields of
:class:`hello_bench.run.resolve.AdapterFacts`). The adapter is loaded and checked
here exactly as a local adapter is checked in the parent (the same
validation, the same skip rules), so a class installed only in the
environments gets the same one-line refusals before anything runs. A class
that does not load is not a crash: its entry says why (``error``).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from hello_bench.measure.protocol import protocol_stdout


def describe(spec_data: dict, devices: list[str], threads: int) -> dict:
    """One adapter's facts (or ``{"error": why it does not load}``); a plugin's exception is a ``problem``."""
    from hello_bench.adapters import AdapterLoadError, UnknownAdapterError, adapter_class
    from hello_bench.errors import UserError
    from hello_bench.plugins import PluginError, guarded
    from hello_bench.run.config import AdapterSpec, check_adapter

    spec = AdapterSpec.from_dict(spec_data)
    try:
        cls = adapter_class(spec.name)
    except (UnknownAdapterError, AdapterLoadError) as err:
        return {"error": str(err)}
    try:
        check_adapter(spec)
    except UserError as err:
        return {"problem": str(err)}
    try:
        return guarded(lambda: _facts(cls, spec, devices, threads))
    except PluginError as err:
        return {"problem": f"Adapter {spec.label!r} cannot be used: {err}"}


def _facts(cls: Any, spec: Any, devices: list[str], threads: int) -> dict:
    from hello_bench.adapters.registry import identity
    from hello_bench.run.matrix import skip_reason

    backend = spec.backend or cls.supported_backends[0]
    return {
        "identity": identity(cls),
        "backend": backend,
        "stock_profile": cls.stock_profile,
        "colour": cls.colour_for(backend),
        "reference_floor": bool(getattr(cls, "reference_floor", False)),
        "params": spec.resolved_params(),
        "defaults": {k: v for k, v in cls().get_params().items() if k not in ("device", "random_state")},
        "skip": {device: skip_reason(spec, device) for device in devices},
        "worker_env": {str(k): str(v) for k, v in cls.worker_env(backend, threads).items()},
    }


def main() -> int:
    """``argv[1]``: ``{"adapters": [spec, ...], "devices": [...], "threads": n}``; one JSON line on stdout."""
    out = protocol_stdout()
    request = json.loads(sys.argv[1])
    from hello_bench.run.config import AdapterSpec

    answer = {
        AdapterSpec.from_dict(spec).label: describe(spec, request["devices"], int(request["threads"]))
        for spec in request["adapters"]
    }
    out.write(json.dumps(answer, default=str) + "\n")
    out.close()
    return 0
