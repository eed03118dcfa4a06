"""``aicrm serve`` as a user runs it: a subprocess that prints its address and answers on it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.web.live import free_port

AICRM = Path(sys.executable).with_name("aicrm")


def test_serve_cli__prints_address_and_serves(tmp_path):
    port = free_port()
    env = {**os.environ, "AICRM_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}"}
    proc = subprocess.Popen([str(AICRM), "serve", "--port", str(port), "--no-access-log"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        banner = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in banner
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.1)
        assert r.json()["database"] == "ok"
        assert httpx.get(f"http://127.0.0.1:{port}/api/customers").status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_serve_cli__unreachable_store_is_reported_without_traceback(monkeypatch):
    from typer.testing import CliRunner

    from aicrm.cli import app
    from aicrm.core.config import get_settings

    monkeypatch.setenv("AICRM_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    try:
        r = CliRunner().invoke(app, ["serve", "--port", str(free_port())])
    finally:
        get_settings.cache_clear()
    assert r.exit_code == 1
    assert "Cannot open the store" in r.output and "Traceback" not in r.output
