"""Run the review app with uvicorn on one host and port."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

from beholder.review.security import ReviewConfigError, check_bind

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind a listening TCP socket; port 0 picks a free port.

    Raises
    ------
    ReviewConfigError
        When the address is in use or cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ReviewConfigError(
            f"cannot listen on {host}:{port} ({error.strerror}); "
            "choose another --port, or 0 for any free port."
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def address(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def serve(
    run_dir: str | Path,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    token: str | None = None,
    database_url: str | None = None,
    on_ready=None,
) -> None:
    """Serve the review app of ``run_dir`` until interrupted.

    ``on_ready(url)`` is called with the app's address once the socket is
    bound and the run is loaded, before requests are served.

    Raises
    ------
    ReviewConfigError
        When ``host`` is not a loopback address and no token is given, or
        the port cannot be bound.
    StoreError
        When ``run_dir`` is not a run folder.
    """
    import uvicorn

    from beholder.review.app import create_app

    check_bind(host, token)
    app = create_app(run_dir, database_url=database_url, token=token)
    sock = bind_socket(host, port)
    url = address(host, sock.getsockname()[1])
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    logger.info("review app listening on %s", url)
    if on_ready is not None:
        on_ready(url)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn shuts down gracefully on Ctrl+C, then raises it again.
        pass
    finally:
        sock.close()
        logger.info("review app on %s stopped", url)


__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "ReviewConfigError", "address", "serve"]
