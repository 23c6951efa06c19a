"""The local API Gateway: one aiohttp application serving the HTTP API, the WebSocket API, ``@connections`` and the
web app, invoking the same Lambda handler bodies in-process.

Handlers are synchronous, so they run in thread pools. The HTTP handler runs on one thread, like one warm Lambda
instance: Powertools keeps the current event in class attributes, so two resolves at once would mix requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import WSCloseCode, web

from ieltsprep.container import Container
from ieltsprep.edges.gateway.connections_api import CONNECTIONS_PATH, connections_route
from ieltsprep.edges.gateway.http import (
    API_PREFIX,
    MAX_REQUEST_BYTES,
    api_route,
    default_static_dir,
    internal_error,
    static_route,
)
from ieltsprep.edges.gateway.websocket import WS_PATH, Limits, LiveConnection, ws_route
from ieltsprep.edges.invoke import LocalContext

logger = logging.getLogger(__name__)
SWITCH_INTERVAL_SECONDS = 0.0005


@dataclass(frozen=True)
class Endpoints:
    """Where a running gateway listens."""

    base_url: str
    ws_url: str
    management_endpoint: str
    origins: tuple[str, ...] = ()  # the browser origins this gateway's own pages have


LOOPBACK_NAMES = ("127.0.0.1", "localhost")


def own_origins(host: str, port: int) -> tuple[str, ...]:
    """The origins a browser reports for pages this gateway serves: the address it listens on and, on loopback or a
    wildcard address, both loopback names (``localhost`` and ``127.0.0.1`` are different origins to a browser)."""
    if host in ("0.0.0.0", "::", "", *LOOPBACK_NAMES, "::1"):
        names = [*LOOPBACK_NAMES, "[::1]"] if host in ("::", "::1") else list(LOOPBACK_NAMES)
    else:
        names = [f"[{host}]" if ":" in host else host]
    return tuple(f"http://{name}:{port}" for name in names)


def endpoints_for(host: str, port: int) -> Endpoints:
    """The URLs of a gateway bound to ``host:port`` (a wildcard address is reached through loopback)."""
    bound = host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"  # an IPv6 literal in a URL
    base = f"http://{host}:{port}"
    return Endpoints(
        base_url=base, ws_url=f"ws://{host}:{port}{WS_PATH}", management_endpoint=base, origins=own_origins(bound, port)
    )


def point_container_at(container: Container, endpoints: Endpoints) -> None:
    """Tell the container where this gateway's WebSocket and ``@connections`` APIs are (before they are used), and
    allow the gateway's own origin besides the configured ones: the web app it serves must reach its API and
    WebSocket on whatever port it was started."""
    configured = container.settings.cors_origins
    container.settings = container.settings.model_copy(
        update={
            "ws_url": endpoints.ws_url,
            "ws_management_endpoint": endpoints.management_endpoint,
            "cors_origins": [*configured, *(o for o in endpoints.origins if o not in configured)],
        }
    )
    # A client built against an older endpoint would post to the wrong place.
    container.__dict__.pop("connections", None)


class Gateway:
    """The handlers of one container behind an aiohttp application."""

    def __init__(self, container: Container, *, static_dir: Path | None = None, ws_threads: int = 16) -> None:
        from ieltsprep.edges.http.app import create_app
        from ieltsprep.edges.http.observability import Observability

        self.container = container
        self.static_dir = static_dir or container.settings.static_dir or default_static_dir()
        # Composed exactly as the Lambda handler composes it (edges/http/app.handle), with this container.
        self._http_resolve = Observability(container.settings).wrap(create_app(container).resolve)
        self._http_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="http-lambda")
        self._ws_pool = ThreadPoolExecutor(max_workers=ws_threads, thread_name_prefix="ws-lambda")
        self.connections: dict[str, LiveConnection] = {}
        self.limits = Limits()

    def _http_handler(self, event: dict[str, Any]) -> dict[str, Any]:
        return self._http_resolve(event, LocalContext("http", region=self.container.settings.region))

    def _ws_handler(self, event: dict[str, Any]) -> dict[str, Any]:
        from ieltsprep.edges.ws.handler import handle_event

        return handle_event(self.container, event)

    async def invoke_http(self, event: dict[str, Any]) -> dict[str, Any]:
        """Run the HTTP handler on its thread."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._http_pool, self._http_handler, event)
        except Exception:
            logger.exception("HTTP handler failed")
            return {"statusCode": 500, "body": internal_error().text, "headers": {"content-type": "application/json"}}

    async def invoke_ws(self, event: dict[str, Any]) -> dict[str, Any]:
        """Run the WebSocket handler on the WebSocket thread pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._ws_pool, self._ws_handler, event)

    def application(self) -> web.Application:
        """The aiohttp application with every route of the local platform."""
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        api = api_route(self.invoke_http)
        app.router.add_route("*", API_PREFIX, api)
        app.router.add_route("*", API_PREFIX + "/{tail:[\\s\\S]*}", api)  # any character, newlines too
        app.router.add_get(WS_PATH, ws_route(self.invoke_ws, self.connections, self.limits))
        app.router.add_route("*", CONNECTIONS_PATH, connections_route(self.connections))
        app.router.add_route("*", "/{path:.*}", static_route(self.static_dir))
        app.on_shutdown.append(self._close_sockets)
        app.on_cleanup.append(self._cleanup)
        return app

    async def _close_sockets(self, _app: web.Application) -> None:
        for connection in list(self.connections.values()):
            await connection.socket.close(code=WSCloseCode.GOING_AWAY, message=b"Server shutdown")

    async def _cleanup(self, _app: web.Application) -> None:
        self._http_pool.shutdown(wait=False, cancel_futures=True)
        self._ws_pool.shutdown(wait=False, cancel_futures=True)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket (port 0 picks a free port), bound before the app so its URL can be configured."""
    sock = socket.create_server((host, port), reuse_port=False)
    sock.setblocking(False)
    return sock


async def start(gateway: Gateway, sock: socket.socket) -> web.AppRunner:
    """Start serving ``gateway`` on ``sock``; returns the runner to ``cleanup()`` later."""
    runner = web.AppRunner(gateway.application(), access_log=None, shutdown_timeout=5)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    return runner


class BackgroundServer:
    """A gateway on its own event loop thread (tests, benchmarks): ``with BackgroundServer(container) as server``."""

    def __init__(self, container: Container, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._sock = bind(host, port)
        actual_port = self._sock.getsockname()[1]
        self.endpoints = endpoints_for(host, actual_port)
        point_container_at(container, self.endpoints)
        self.container = container
        self.gateway = Gateway(container)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="gateway", daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running server."""
        return self.endpoints.base_url

    @property
    def ws_url(self) -> str:
        """``ws://host:port/ws``: the WebSocket API."""
        return self.endpoints.ws_url

    def __enter__(self) -> BackgroundServer:
        self._thread.start()
        self._runner = asyncio.run_coroutine_threadsafe(start(self.gateway, self._sock), self._loop).result(10)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(15)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


def serve(container: Container, host: str, port: int) -> None:
    """Run the local platform until interrupted (``ieltsprep serve``)."""
    # The event loop and the handler threads share one GIL: every socket send on the loop waits for a handler thread
    # to let go. Python's default 5 ms switch interval makes that wait dominate; 0.5 ms keeps the loop responsive.
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    sock = bind(host, port)
    endpoints = endpoints_for(host, sock.getsockname()[1])
    point_container_at(container, endpoints)
    gateway = Gateway(container)

    async def main() -> None:
        runner = await start(gateway, sock)
        stop = asyncio.Event()
        # SIGTERM (process managers, `timeout`) and SIGINT (Ctrl-C) close sockets and run $disconnect. SIGINT gets a
        # handler of its own: a process started in the background by a non-interactive shell inherits it ignored,
        # and Python then raises no KeyboardInterrupt.
        for stopping in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(stopping, stop.set)
        print(f"IELTS GenAI Prep on {endpoints.base_url} (WebSocket {endpoints.ws_url})", flush=True)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
