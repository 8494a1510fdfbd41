"""Adapters that live in the environments: asked about in the Python that runs them, never imported here.

A run with environments (``--env``, ``[[environments]]``) names the user's own
classifier by its class path (``mypkg.model.ChurnClassifier``), and the
user's package is installed in the environments, not beside bench: the
baseline and the candidate are two versions of it. So this process never
imports it. Before anything is written, each environment's Python describes
every such adapter of the matrix (:mod:`hello_bench.run.describe`): whether it
loads there, its parameters checked as a local adapter's are, its backend,
declared profile and colour, a skip reason per device and its workers'
environment variables. Those facts stand in for the class wherever the
parent needs one (trial ids, skips, record fields, worker start-up).

An adapter that loads in no environment, or that one environment refuses
(an unknown parameter, a bad value), is one line before the run starts. One
that loads in some environments only (a class new in the candidate) runs
there; the workers of the others record each of its trials as an error that
names the environment and the module.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hello_bench.errors import UserError
from hello_bench.isolation import isolated_command, safe_environ
from hello_bench.run.params import thaw_all

if TYPE_CHECKING:
    from hello_bench.run.config import AdapterSpec, Config

#: Runs in an environment's Python: describes the adapters given as JSON in its argument, prints one JSON line.
DESCRIBE_BOOT = "from hello_bench.run.describe import main; raise SystemExit(main())"
#: Importing a user's package and its framework can take a while; a hang is one line, not a stuck run.
DESCRIBE_TIMEOUT_S = 300


@dataclass(frozen=True)
class AdapterFacts:
    """What one environment's Python says about one adapter of the matrix (see the module docstring)."""

    #: ``module:Class`` the name resolves to there.
    identity: str = ""
    backend: str = "default"
    stock_profile: str | None = None
    colour: str | None = None
    #: The class declares itself its model's compiled reference floor.
    reference_floor: bool = False
    #: Resolved parameters: its profile's, overridden by the config's.
    params: dict = field(default_factory=dict)
    #: The class's own defaults (what the parameters not given are).
    defaults: dict = field(default_factory=dict)
    #: Device -> why its trials cannot run there (None: they can).
    skip: dict = field(default_factory=dict)
    #: The adapter's ``worker_env`` hook, at the run's thread count.
    worker_env: dict = field(default_factory=dict)
    #: Why the adapter cannot run with these parameters there (a validation message), or None.
    problem: str | None = None
    #: Why it cannot be loaded there, or None.
    error: str | None = None

    @classmethod
    def unknown(cls, spec: AdapterSpec) -> AdapterFacts:
        """Before the environments are asked (``--dry-run``) or where the class did not load: what the config says."""
        params = thaw_all(spec.params)
        if spec.backend:
            params["backend"] = spec.backend
        return cls(backend=spec.backend or "default", params=params)

    @classmethod
    def from_dict(cls, data: dict) -> AdapterFacts:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


#: (adapter label, environment name) -> its facts.
Facts = dict[tuple[str, str], AdapterFacts]


def deferred(config: Config) -> list[AdapterSpec]:
    """The adapters of ``config`` that its environments resolve."""
    return [spec for spec in config.adapters if config.in_environments(spec)]


def ask(python: str, environment: str, boot: str, request: object, doing: str) -> dict:
    """Run ``boot`` in ``python`` (an environment's interpreter, isolated) with ``request`` as JSON; its JSON answer.

    Whatever goes wrong there (it does not start, it crashes, it hangs) is one line naming the environment.
    """
    what = f"Environment {environment!r}"
    try:
        out = subprocess.run(isolated_command(boot, json.dumps(request), python=python), capture_output=True,
                             text=True, env=safe_environ(), timeout=DESCRIBE_TIMEOUT_S)  # fmt: skip
    except subprocess.TimeoutExpired:
        raise UserError(f"{what}: {doing} ran past {DESCRIBE_TIMEOUT_S} s.") from None
    except OSError as err:
        raise UserError(f"{what}: cannot run its Python {python}: {err.strerror or err}.") from None
    try:
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))
    except (ValueError, IndexError, TypeError):
        tail = [line for line in (out.stderr or "").strip().splitlines() if line.strip()]
        cause = tail[-1].strip()[:300] if tail else f"exit status {out.returncode}, no output"
        raise UserError(f"{what}: its Python ({python}) failed while {doing}: {cause}") from None


def describe_in(
    python: str, environment: str, specs: list[AdapterSpec], devices: tuple[str, ...], threads: int
) -> dict:
    """Each adapter's facts as ``python`` (an environment's interpreter) gives them, by label."""
    request = {"adapters": [s.to_dict() for s in specs], "devices": list(devices), "threads": threads}
    return ask(python, environment, DESCRIBE_BOOT, request, "describing its adapters")


def resolve(config: Config, pythons: dict[str, str], say: Callable[[str], None] | None = None) -> Facts:
    """Every deferred adapter's facts in every environment; UserError where the run cannot start (see above)."""
    specs = deferred(config)
    if not specs:
        return {}
    devices = config.resolved_devices()
    facts: Facts = {}
    for environment in config.environments:
        described = describe_in(pythons[environment.name], environment.name, specs, devices, config.threads)
        for spec in specs:
            facts[(spec.label, environment.name)] = AdapterFacts.from_dict(described.get(spec.label) or {})
    for spec in specs:
        _check(spec, {env.name: facts[(spec.label, env.name)] for env in config.environments}, say)
    return facts


def _check(spec: AdapterSpec, by_env: dict[str, AdapterFacts], say: Callable[[str], None] | None) -> None:
    """Refuse an adapter no environment loads or one refuses; say which environments will record errors."""
    for env, found in by_env.items():
        if found.error is None and found.problem:
            raise UserError(f"Environment {env!r}: {found.problem}")
    failed = {env: found.error for env, found in by_env.items() if found.error}
    if len(failed) == len(by_env):
        names = [repr(e) for e in failed]
        where = (
            f"environment {names[0]}" if len(names) == 1 else f"environments {', '.join(names[:-1])} and {names[-1]}"
        )
        raise UserError(f"Adapter {spec.label!r} cannot be loaded in {where}: {next(iter(failed.values()))}")
    for env, error in failed.items():
        if say is not None:
            say(f"Adapter {spec.label!r} cannot be loaded in environment {env!r}: its trials there are recorded "
                f"as errors ({error})")  # fmt: skip
