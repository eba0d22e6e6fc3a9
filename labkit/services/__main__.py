"""`python -m labkit.services <customer|order|history> --host H --port P --data-dir D [--customer-url U] [--order-url U]`."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Sequence

import psutil
import uvicorn

from labkit.errors import LabkitError, printable
from labkit.services.app import create_app
from labkit.services.logs import configure_logging
from labkit.services.settings import settings_from


def parent_alive(parent_pid: int) -> Callable[[], bool]:
    """Whether the process that started this one still runs (the same process: a reused pid does not count).

    Read once here, at start: a parent already gone by then makes every later answer False."""
    try:
        parent = psutil.Process(parent_pid)
        created = parent.create_time()
    except psutil.Error:
        return lambda: False

    def alive() -> bool:
        try:
            return parent.is_running() and parent.create_time() == created
        except psutil.Error:
            return False

    return alive


def _exit_with_parent(server: uvicorn.Server, alive: Callable[[], bool]) -> None:
    """Stop the server when the process that started it is gone (a notebook kernel that was killed)."""
    while not server.should_exit:
        if not alive():
            server.should_exit = True
            return
        threading.Event().wait(1.0)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = settings_from(argv)
        settings.require_peers()
    except LabkitError as exc:
        print(printable(f"labkit.services: {type(exc).__name__}: {exc}"), file=sys.stderr)
        return 2
    alive = parent_alive(settings.parent_pid) if settings.parent_pid else None
    if alive is not None and not alive():
        print(f"labkit.services: the parent process {settings.parent_pid} is gone: not starting", file=sys.stderr)
        return 1
    configure_logging(settings.service, settings.log_level)
    try:
        app = create_app(settings)
    except LabkitError as exc:  # its database cannot be opened: in use by another process, a server that refuses
        print(printable(f"labkit.services: {type(exc).__name__}: {exc}"), file=sys.stderr)
        return 1
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
    if alive is not None:
        threading.Thread(target=_exit_with_parent, args=(server, alive), daemon=True).start()
    server.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
