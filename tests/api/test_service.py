"""`gridwait run` serves the API beside the scheduler, on the port it is told."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import Cli

pytestmark = pytest.mark.slow


def test_run_serves_the_api_and_stops_with_it(env: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gridwait", "run", "--listen", "127.0.0.1:0"],
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        assert proc.stderr is not None
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            found = re.search(r"API on (http://127\.0\.0\.1:\d+)/api/v1", line)
            url = found.group(1) if found else None
        assert url is not None, "the service never said where its API is"
        assert requests.get(f"{url}/api/v1/health", timeout=10).json()["status"] == "ok"
        assert requests.get(f"{url}/api/v1/jobs", timeout=10).status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/api/v1/health", timeout=5)


def test_a_taken_port_is_one_line(cli: Cli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("run", "--listen", f"127.0.0.1:{port}", "--until-idle")
    assert result.code == 2
    assert (
        result.err.strip()
        .splitlines()[-1]
        .startswith(f"error: api.listen: cannot serve on 127.0.0.1:{port}")
    )


def test_bad_listen_and_no_api(cli: Cli) -> None:
    bad = cli("run", "--listen", "8787", "--until-idle")
    assert bad.code == 2 and "--listen: '8787' is not HOST:PORT" in bad.err
    quiet = cli("run", "--no-api", "--until-idle")
    assert quiet.code == 0 and "API on" not in quiet.err
