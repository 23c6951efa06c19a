"""``ieltsprep serve`` as a user runs it: a real process serving the platform over loopback HTTP."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from ieltsprep.cli import build_parser


def test_serve_parses_host_port_and_data_dir() -> None:
    args = build_parser().parse_args(["serve", "--host", "0.0.0.0", "--port", "9001", "--data-dir", "d"])
    assert (args.host, args.port, args.data_dir) == ("0.0.0.0", 9001, "d")
    defaults = build_parser().parse_args(["serve"])
    assert (defaults.host, defaults.port, defaults.data_dir) == ("127.0.0.1", 8000, None)


def test_serve_answers_health_over_http_and_stores_under_the_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("IELTSPREP_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "ieltsprep.cli", "serve", "--port", "0", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", banner)
        assert match, f"no URL in {banner!r}; stderr: {process.stderr.read() if process.stderr else ''}"
        with urllib.request.urlopen(f"{match.group(0)}/api/health", timeout=10) as response:
            assert response.status == 200
            assert json.loads(response.read())["status"] == "ok"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=15)
    assert process.returncode == 0
    assert (data_dir / "ieltsprep.sqlite3").exists()


def test_a_wildcard_bind_address_is_reached_through_loopback() -> None:
    from ieltsprep.edges.gateway.server import endpoints_for

    endpoints = endpoints_for("0.0.0.0", 8000)
    assert endpoints.ws_url == "ws://127.0.0.1:8000/ws"
    assert endpoints.management_endpoint == "http://127.0.0.1:8000"
    assert endpoints_for("127.0.0.1", 9).base_url == "http://127.0.0.1:9"
    assert endpoints_for("::1", 9).ws_url == "ws://[::1]:9/ws"


def test_the_gateway_allows_its_own_origins_besides_the_configured_ones() -> None:
    from ieltsprep.edges.gateway.server import own_origins

    assert own_origins("127.0.0.1", 8123) == ("http://127.0.0.1:8123", "http://localhost:8123")
    assert own_origins("0.0.0.0", 8123) == ("http://127.0.0.1:8123", "http://localhost:8123")
    assert own_origins("192.168.1.20", 9000) == ("http://192.168.1.20:9000",)
    assert own_origins("::1", 9) == ("http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9")
