"""uvicorn on a socket tinylm binds itself, so a port in use is one clear error before any model
loads (and --port 0 gets a free port, shown), stopped cleanly by Ctrl-C or SIGTERM."""

from __future__ import annotations

import contextlib
import copy
import errno
import ipaddress
import signal
import socket
import threading
from collections.abc import Iterator

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from tinylm.errors import TinylmError, UsageError

BACKLOG = 2048  # connections the kernel holds until the server accepts them (uvicorn's default)
GRACE_SECONDS = 3  # after a stop signal, open streams get this long before they are closed


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket on host:port; a clear error when that cannot be."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as e:
        raise UsageError(f"--host {host}: {e.strerror}; give an address such as 127.0.0.1.") from e
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart at once after a stop
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            why = f"port {port} on {host} is in use"
        elif e.errno == errno.EACCES:
            why = f"port {port} needs privileges here"
        else:
            why = f"cannot listen on {host} port {port} ({e.strerror})"
        raise TinylmError(f"{why}; pick another with --port (0 picks a free one).") from None
    sock.listen(BACKLOG)  # from now on a client waits for the server instead of being refused
    return sock


def url(sock: socket.socket) -> str:
    """http://address:port/ of a bound socket (an IPv6 address in brackets)."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def is_loopback(sock: socket.socket) -> bool:
    """Whether only this machine can reach the socket."""
    return ipaddress.ip_address(sock.getsockname()[0]).is_loopback


class _Server(uvicorn.Server):
    """uvicorn's server, which after a stop signal returns instead of raising the signal again
    (the CLI says it stopped, exit 0); the signal's name is kept."""

    stopped_by: str | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signals reach the main thread only (a server run by a test, in a thread)
            return

        def stop(sig: int, frame: object) -> None:
            self.stopped_by = signal.Signals(sig).name
            self.handle_exit(sig, frame)  # a second Ctrl-C forces the exit, as in uvicorn

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def make_server(app: object, access_log: bool = False) -> _Server:
    """A uvicorn server for `app`; run it with .run(sockets=[bind(...)])."""
    logging = copy.deepcopy(LOGGING_CONFIG)
    logging["handlers"]["access"]["stream"] = "ext://sys.stderr"  # stdout carries no logs
    config = uvicorn.Config(
        app,
        log_config=logging,
        log_level="info" if access_log else "warning",
        access_log=access_log,
        timeout_graceful_shutdown=GRACE_SECONDS,
        lifespan="on",
        proxy_headers=False,  # no proxy in front: the peer is the client
        server_header=False,
    )
    return _Server(config)


def run_server(app: object, sock: socket.socket, access_log: bool = False) -> str | None:
    """Serve on `sock` until a stop signal; its name (None when the server stopped itself)."""
    server = make_server(app, access_log)
    server.run(sockets=[sock])
    if not server.started:
        raise TinylmError("the server did not start; see the messages above.")
    return server.stopped_by
