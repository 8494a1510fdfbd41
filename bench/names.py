"""Names made from data (run ids, labels, devices, hosts) as single file-name components.

Pure and dependency-free, so every layer may use it (the executors name worker logs with it, the
store and the reports name files with it).
"""

from __future__ import annotations

import hashlib
import re

_UNSAFE = re.compile(r"[^A-Za-z0-9._@+=-]+")


def file_name(text: str, limit: int = 200) -> str:
    """A safe single file-name component made from data (run ids, devices, hosts): never a path.

    Longer than ``limit``: cut, with a hash of the whole text so that two long names stay apart.
    """
    name = _UNSAFE.sub("_", text).lstrip(".") or "_"
    if len(name) > limit:
        name = name[: limit - 13] + "-" + hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return name


def machine_key(env: dict) -> str:
    """What tells two machines apart: the hardware id and the hostname (two hosts can share hardware)."""
    return f"{env.get('machine_id') or 'unknown'}-{env.get('hostname') or 'unknown'}"
