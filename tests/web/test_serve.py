"""`whatworks serve` (the README's main job): migrates, loads the demo content the first time, serves."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - loopback only
        return r.status, r.headers, r.read()


def test_serve_starts_the_site_with_the_demo_content(tmp_path):
    port = _free_port()
    env = dict(os.environ, WHATWORKS_DATA_DIR=str(tmp_path))
    env.pop("DATABASE_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "whatworks.cli", "serve", "--host", "127.0.0.1", "--port",
         str(port), "--workers", "1", "--threads", "2"], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                status, headers, body = _get(f"http://127.0.0.1:{port}/api/interventions")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"server did not start:\n{server.stdout.read()}") from None
                time.sleep(0.5)
        interventions = json.loads(body)
        assert status == 200 and len(interventions) >= 30
        first = interventions[0]
        assert {"slug", "name", "ratings"} <= first.keys()
        status, _, page = _get(f"http://127.0.0.1:{port}/interventions/{first['slug']}/")
        assert status == 200 and first["name"].encode() in page.replace(b"&#x27;", b"'")
        status, _, outcomes = _get(f"http://127.0.0.1:{port}/api/outcomes")
        assert status == 200 and len(json.loads(outcomes)) >= 18
        status, _, doc = _get(f"http://127.0.0.1:{port}/api/openapi.json")
        assert json.loads(doc)["openapi"].startswith("3.")
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
