"""Config files: the built-in configs, reading a TOML file safely, and ``extends``.

:func:`load_config` reads a file (or a built-in by name), lays it over the config it extends, and
validates the result with :func:`hello_bench.run.config.config_from_dict`.
"""

from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path

from hello_bench.errors import UserError
from hello_bench.run.config import Config, EnvironmentSpec, config_from_dict

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def builtin_config_path(name: str) -> Path:
    """Path of a config shipped in ``bench/configs`` (``default``, ``quick``, ``full``)."""
    return Path(str(resources.files("hello_bench") / "configs" / f"{name}.toml"))


def builtin_names() -> list[str]:
    return sorted(
        p.name[: -len(".toml")]
        for p in resources.files("hello_bench").joinpath("configs").iterdir()
        if p.name.endswith(".toml")
    )


#: A config is a page of settings: anything bigger is refused before it is read.
MAX_CONFIG_BYTES = 1 << 20


def read_toml(path: str | Path) -> dict:
    """A config file (or a built-in name) as a dict; every problem with the file is one line."""
    from hello_bench.store.safefs import read_bytes

    path = Path(path)
    bare = "/" not in str(path) and not str(path).endswith(".toml")
    if bare and os.path.lexists(path) and str(path) in builtin_names():
        raise UserError(f"--config {path}: both a built-in config and a file in this folder; say which: "
                        f"--config ./{path} for the file, or rename it to use the built-in.")  # fmt: skip
    if not os.path.lexists(path):
        builtin = builtin_config_path(str(path)) if bare else None
        if builtin is None or not builtin.is_file():
            raise UserError(f"Config file {path} does not exist (built-in configs: {', '.join(builtin_names())}).")
        path = builtin
    # Never blocks (a FIFO or device is refused at once) and never reads more than a config can be.
    data = read_bytes(path, "config file", follow_links=True, limit=MAX_CONFIG_BYTES)
    try:
        return tomllib.loads(data.decode("utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise UserError(f"Config file {path} is not valid TOML: {err}") from None
    except UnicodeDecodeError:
        raise UserError(f"Config file {path} is not a text file (not valid UTF-8 TOML).") from None
    except RecursionError:
        raise UserError(f"Config file {path} is nested too deeply to be a config.") from None


#: How many configs one may stack with ``extends`` (a longer chain is a cycle or a mistake).
MAX_EXTENDS = 8


def extended(data: dict, source: str | Path, depth: int = 0) -> dict:
    """``data`` on top of the config it ``extends`` (a built-in name, or a file relative to ``source``'s folder).

    A config that names no adapters and extends nothing extends ``default``: a file holding only
    ``[[datasets]]`` runs the default matrix on them. Keys replace the base's; ``[timing]`` replaces it key by
    key; ``description`` is never inherited (it says what its own file is for).
    """
    name = data.get("extends")
    if name is None and "adapters" not in data:
        name = "default"
    if name is None:
        return data
    if not isinstance(name, str) or not name:
        raise UserError(f"{source}: extends must name a config (a built-in: {', '.join(builtin_names())}, or a file).")
    if depth >= MAX_EXTENDS:
        raise UserError(f"{source}: extends {name!r}: more than {MAX_EXTENDS} configs deep (a cycle?).")
    folder = Path(source).parent if "/" in str(source) or str(source).endswith(".toml") else Path(".")
    target: str | Path = name if name in builtin_names() and not name.endswith(".toml") else folder / name
    base = extended(read_toml(target), target, depth + 1)
    merged = {**{k: v for k, v in base.items() if k != "description"}, **data}
    if isinstance(base.get("timing"), dict) and isinstance(data.get("timing"), dict):
        merged["timing"] = {**base["timing"], **data["timing"]}
    merged.pop("extends", None)
    merged.setdefault("description", f"{Path(source).name}, extending {name}")
    return merged


def load_config(path: str | Path, environments: tuple[EnvironmentSpec, ...] | None = None) -> Config:
    """The config in ``path`` (with the one it extends); ``environments`` (``--env`` flags) replace the file's
    before it is validated, so that an adapter installed only in them is validated as theirs."""
    data = extended(read_toml(path), path)
    if environments is not None:
        data = {**data, "environments": [e.to_dict() for e in environments]}
    return config_from_dict(data, source=str(path))
