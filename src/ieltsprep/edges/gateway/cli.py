"""``ieltsprep serve``: the whole platform on this machine (HTTP API, WebSocket API, web app)."""

from __future__ import annotations

import argparse
import logging


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``serve``."""
    parser = subparsers.add_parser("serve", help="run the local platform (API Gateway stand-in, handlers, web app)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000; 0 picks one)")
    parser.add_argument("--data-dir", help="where everything is stored (default ./var; same as IELTSPREP_DATA_DIR)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    from ieltsprep.container import get_container
    from ieltsprep.edges.gateway.server import serve

    container = get_container()
    logging.basicConfig(level=container.settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not container.settings.is_local:
        raise SystemExit("ieltsprep serve runs the local stage only (IELTSPREP_STAGE=local)")
    container.settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = container.store  # open (and migrate) the store now, not on the first request
    logging.getLogger(__name__).info("store %s ready under %s", type(store).__name__, container.settings.data_dir)
    try:
        serve(container, args.host, args.port)
    finally:
        container.close()
    return 0
