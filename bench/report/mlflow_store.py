"""Where MLflow will write, checked before MLflow is called; its client under total deadlines.

MLflow writes its own files (a SQLite database and its journal, a file store's
folder tree, artifacts), so the one safe writer never sees them. Every local
path it will write is checked here by the same rules first
(:func:`hello_bench.store.safefs.check_library_target`): never inside a run folder,
never through a symbolic link, never into a FIFO; a refusal comes before the
first byte.

- No ``--tracking-uri``: ``sqlite:///<results>/mlflow/mlflow.db``, artifacts
  beside it (never the working folder).
- ``sqlite:///PATH``: that database; experiments bench creates keep their
  artifacts beside it (``<folder>/artifacts``), not in the working folder.
- A plain path or ``file:`` URI: MLflow's file store, artifacts inside it.
- Anything else is remote (an MLflow server, a database server): every call of
  the client has a *total* deadline (:data:`REMOTE_DEADLINE_S`), however slowly
  the server sends. An experiment's artifact location that is a local folder
  (a server without artifact proxying) is checked like the rest.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from hello_bench.deadline import Deadlined
from hello_bench.errors import UserError
from hello_bench.store import safefs

MLFLOW_DIR = "mlflow"
#: The longest one call to a remote tracking store may take, all of it (a socket timeout bounds only each wait).
REMOTE_DEADLINE_S = 30.0
WHO = "MLflow"
STORE_README = (
    "MLflow tracking store written by `bench export --to mlflow`.\n"
    "Read it with: mlflow ui --backend-store-uri sqlite:///<this folder>/mlflow.db, or\n"
    "MlflowClient(tracking_uri='sqlite:///<this folder>/mlflow.db').\n"
)


@dataclass(frozen=True)
class Store:
    """A tracking store, its local paths checked: its URI, the artifact location of experiments bench creates
    (None: the store's own default), whether it is remote, and the folder of bench's default store."""

    uri: str
    artifacts: str | None
    remote: bool
    default_root: Path | None = None


def local_folder(uri: str) -> Path | None:
    """The folder a plain path or ``file:`` URI names (MLflow's file store, a local artifact location), else None."""
    parsed = urlparse(uri)
    if parsed.scheme == "":
        return Path(uri)
    if parsed.scheme == "file":
        return Path(url2pathname(parsed.path))
    return None


def sqlite_file(uri: str) -> Path | None:
    """The database file of a ``sqlite://`` URI (None for an in-memory one): ``sqlite:///rel.db``, ``sqlite:////abs.db``."""
    rest = uri[len("sqlite://") :].split("?", 1)[0]
    if rest in ("", "/", "/:memory:"):
        return None
    return Path(rest[1:])


def resolve(tracking_uri: str | None, results_dir: str | Path) -> Store:
    """The store ``--tracking-uri`` names (or bench's default), every local path it will write checked; writes nothing."""
    if tracking_uri is not None and not tracking_uri.strip():  # an empty value is a mistake, not the default
        raise UserError("--tracking-uri is empty: leave it out for bench's own store, or name one.")
    if not tracking_uri:
        root = Path(results_dir).resolve() / MLFLOW_DIR
        safefs.OutputDir.owned(root, Path(results_dir).resolve())  # links on the way, a folder not bench's
        _check_sqlite(root / "mlflow.db", results_dir)
        return Store(f"sqlite:///{root / 'mlflow.db'}", (root / "artifacts").as_uri(), False, root)
    if tracking_uri.startswith("sqlite:"):
        if "?" in tracking_uri:  # SQLAlchemy's options (mode=ro, ...) change what is written where: not checked here
            raise UserError(f"--tracking-uri {tracking_uri}: options after '?' are not supported; name the "
                            "database file alone, e.g. sqlite:///mlflow.db")  # fmt: skip
        db = sqlite_file(tracking_uri)
        if db is None:  # the export would vanish with this process, and MLflow would put its artifacts in ./mlruns
            raise UserError(f"--tracking-uri {tracking_uri}: an in-memory database keeps nothing after the export; "
                            "name a file, e.g. sqlite:///mlflow.db")  # fmt: skip
        _check_sqlite(db, results_dir)
        return Store(tracking_uri, (db.resolve().parent / "artifacts").as_uri(), False)
    folder = local_folder(tracking_uri)
    if folder is not None:
        safefs.check_library_target(folder, "folder", results_dir, WHO)
        return Store(tracking_uri, None, False)
    check_reachable(tracking_uri)
    return Store(tracking_uri, None, True)


def _check_sqlite(db: Path, results_dir: str | Path) -> None:
    safefs.no_symlink(db.parent)  # the folder MLflow writes into, as a Parquet export's --out folder: never a link
    safefs.check_library_target(db, "file", results_dir, WHO)
    safefs.check_library_target(db.resolve().parent / "artifacts", "folder", results_dir, WHO)


def check_artifacts(location: str | None, results_dir: str | Path) -> None:
    """An experiment's artifact location, where it is a local folder, checked like the store (before any artifact)."""
    folder = local_folder(location) if location else None
    if folder is not None:
        safefs.check_library_target(folder, "folder", results_dir, WHO)


def client(store: Store, client_class: Any) -> Any:
    """MLflow's client for ``store``: a remote one with a total deadline on every call; bench's default store
    gets its README (the one byte bench writes before MLflow writes the rest)."""
    if store.default_root is not None:
        safefs.OutputDir.owned(store.default_root, store.default_root.parent).write("README.txt", STORE_README)
    made = client_class(tracking_uri=store.uri)
    return Deadlined(made, REMOTE_DEADLINE_S, f"MLflow at {store.uri}") if store.remote else made


def check_reachable(uri: str, timeout_s: float = 5.0) -> None:
    """An http(s) tracking server that does not answer is one line now, not minutes of retries."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("http", "https"):
        return
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        with socket.create_connection((parsed.hostname or "localhost", port), timeout=timeout_s):
            pass
    except (OSError, ValueError) as err:
        detail = err.strerror if isinstance(err, OSError) and err.strerror else err
        raise UserError(f"MLflow tracking server {uri} is not reachable: {detail}.") from None
    # Each wait bounded and no retries (only where the user has not chosen otherwise); the whole call is
    # bounded by the client's deadline.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
