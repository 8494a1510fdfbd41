"""Preloaded by every worker of the local Dask cluster bench starts (``distributed.worker.preload``).

- No HTTP server: Dask starts one on every scheduler, nanny and worker even
  with the dashboard off; ours serve nothing, so none is started.
- Ctrl-C is the client's to handle: workers ignore SIGINT (the client closes
  the cluster) and log only errors, so an interrupted run prints no worker
  tracebacks or cancellation warnings.
"""

from __future__ import annotations

import logging
import signal
from typing import Any


def no_http_servers() -> None:
    """Make Dask servers in this process skip their HTTP server (idempotent)."""
    from distributed.http.routing import RoutingApplication
    from distributed.node import ServerNode

    def start_no_http_server(
        self: Any, routes: Any, dashboard_address: Any, default_port: int = 0, ssl_options: Any = None
    ) -> None:
        self.http_application = RoutingApplication([])

    ServerNode.start_http_server = start_no_http_server  # type: ignore[method-assign]


def dask_setup(worker: Any) -> None:
    """The preload hook, run in each worker process: leave Ctrl-C to the client, and keep quiet
    about the tasks it cancels while shutting down (errors still print)."""
    logging.getLogger("distributed").setLevel(logging.ERROR)
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: nothing to change
        pass


# Importing this module in a worker process (Dask's preload) takes effect before
# the worker starts its servers.
no_http_servers()
