"""`python -m labkit.services <customer|order|history> --host H --port P --data-dir D [--customer-url U] [--order-url U]`."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence

import psutil
import uvicorn

from labkit.errors import LabkitError
from labkit.services.app import create_app
from labkit.services.logs import configure_logging
from labkit.services.settings import settings_from


def _exit_with_parent(server: uvicorn.Server, parent_pid: int) -> None:
    """Stop the server when the process that started it is gone (a notebook kernel that was killed)."""
    parent = psutil.Process(parent_pid)
    created = parent.create_time()
    while not server.should_exit:
        try:
            alive = parent.is_running() and parent.create_time() == created
        except psutil.NoSuchProcess:
            alive = False
        if not alive:
            server.should_exit = True
            return
        threading.Event().wait(1.0)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = settings_from(argv)
    except LabkitError as exc:
        print(f"labkit.services: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.service, settings.log_level)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # our JSON logging
        access_log=False,  # a line per request would cost more than the request at hundreds per second
        timeout_graceful_shutdown=5,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    app.state.service.should_stop = lambda: server.should_exit
    if settings.parent_pid:
        threading.Thread(target=_exit_with_parent, args=(server, settings.parent_pid), daemon=True).start()
    server.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
