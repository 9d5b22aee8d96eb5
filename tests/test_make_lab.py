"""`make lab` without a browser serves JupyterLab with notebook 00 reachable over HTTP."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

from tests.conftest import ROOT
from vlacourse.notebook import SETUP_CELL

TOKEN = "vlacourse-test-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, bytes, str]:
    """Status, body and the address it ended at after redirects."""
    request = urllib.request.Request(url, headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read(), response.url


def test_make_lab_serves_notebook_00():
    port = _free_port()
    command = [
        "make",
        "--no-print-directory",
        "lab",
        "NO_BROWSER=1",
        f"PORT={port}",
        f"LAB_FLAGS=--ServerApp.ip=127.0.0.1 --IdentityProvider.token={TOKEN}",
    ]
    server = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                status, body, _ = _get(f"{base}/api/contents/notebooks/00_welcome.ipynb")
                break
            except urllib.error.HTTPError:
                raise  # the server answered: no retry will change that
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None, f"make lab exited early:\n{server.stdout.read().decode()}"
                assert time.monotonic() < deadline, "JupyterLab did not answer within 90 s"
                time.sleep(0.5)
        notebook = json.loads(body)
        assert status == 200 and notebook["type"] == "notebook"
        assert "".join(notebook["content"]["cells"][0]["source"]) == SETUP_CELL
        status, page, landed = _get(f"{base}/")  # where the browser opens
        assert status == 200 and b"JupyterLab" in page
        assert landed.endswith("/lab/tree/notebooks/00_welcome.ipynb")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
