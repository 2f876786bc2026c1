"""Finding, starting and stopping the offline region from the outside.

The region is one process per learner, shared by every kernel and terminal. It writes a *state
file* (``~/.labsupport/region.json`` by default) with its endpoint once it listens; everyone else
reads that file. This module only ever talks to the region over HTTP and starts it as a
subprocess: it never imports moto, so it works on a machine without moto too (for example a
learner in real-AWS mode).

``LABSUPPORT_HOME`` moves the state directory (tests and classroom hosts use it to keep learners'
regions apart); ``LABSUPPORT_PORT`` chooses the preferred port (default 4747, or a free one).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import LabError

DEFAULT_PORT = 4747
SERVICE_NAME = "labsupport-region"


def home() -> Path:
    """The lab's state directory (created on demand)."""
    return Path(os.environ.get("LABSUPPORT_HOME") or Path.home() / ".labsupport")


def state_file() -> Path:
    return home() / "region.json"


def log_file() -> Path:
    return home() / "region.log"


@dataclass(frozen=True)
class RegionInfo:
    """A running offline region: where it listens and what it says about itself."""

    endpoint: str
    pid: int
    status: dict[str, Any]

    @property
    def region(self) -> str:
        return str(self.status.get("region", "us-west-2"))


def control(endpoint: str, path: str, body: dict[str, Any] | None = None, timeout: float = 30) -> dict[str, Any]:
    """Call the region's control API (``/_lab/...``); GET without a body, POST with one."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        endpoint.rstrip("/") + path,
        data=data,
        method="GET" if body is None else "POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as err:
        detail = err.read().decode("utf-8", "replace")
        with contextlib.suppress(ValueError):
            detail = json.loads(detail).get("error", detail)
        raise LabError(f"The offline region refused {path}: {detail}", "check the value you passed.") from None


def find() -> RegionInfo | None:
    """The running region described by the state file, or None if there is none (or it died)."""
    try:
        state = json.loads(state_file().read_text())
        endpoint = state["endpoint"]
    except (OSError, ValueError, KeyError):
        return None
    try:
        status = control(endpoint, "/_lab/status", timeout=3)
    except (OSError, LabError):
        return None
    if status.get("service") != SERVICE_NAME:
        return None
    return RegionInfo(endpoint=endpoint, pid=int(status.get("pid", state.get("pid", 0))), status=status)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start(timeout: float = 90) -> RegionInfo:
    """Start the offline region if it is not running; return the running one either way."""
    running = find()
    if running is not None:
        return running
    home().mkdir(parents=True, exist_ok=True)
    # Only look for moto (never import it here: the region process is the one place that does).
    if importlib.util.find_spec("moto") is None:
        raise LabError(
            "The offline region needs moto, which is not installed in this Python.",
            "install the lab with `pip install -e .` in the repository (or run `./lab start`).",
        )
    preferred = int(os.environ.get("LABSUPPORT_PORT", DEFAULT_PORT))
    port = preferred if _port_free(preferred) else 0
    state_file().unlink(missing_ok=True)
    with open(log_file(), "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "labsupport.region.server", "--port", str(port), "--state", str(state_file())],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # survives the kernel or terminal that started it
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_file().read_text(errors="replace")[-2000:]
            raise LabError(
                f"The offline region stopped while starting (exit code {proc.returncode}). Its log ends with:\n{tail}",
                f"read {log_file()}; `python -m labsupport region start` tries again.",
            )
        info = find()
        if info is not None:
            return info
        time.sleep(0.1)
    proc.kill()
    raise LabError(f"The offline region did not answer within {timeout:.0f} s.", f"read {log_file()} for the reason.")


def stop(timeout: float = 15) -> bool:
    """Stop the running region. Returns False if none was running."""
    info = find()
    if info is None:
        state_file().unlink(missing_ok=True)
        return False
    with contextlib.suppress(OSError, LabError):
        control(info.endpoint, "/_lab/shutdown", {})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(info.pid):
            return True
        time.sleep(0.1)
    os.kill(info.pid, signal.SIGTERM)
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child (started from this process) counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return True


def reset() -> dict[str, Any]:
    """Empty the running region (IDs reseeded, clock rewound)."""
    info = require()
    return control(info.endpoint, "/_lab/reset", {})


def require() -> RegionInfo:
    """The running region, or a LabError that says how to start it."""
    info = find()
    if info is None:
        raise LabError(
            "The offline region is not running.",
            "start it with `python -m labsupport region start` (or call labsupport.setup() in a notebook).",
        )
    return info


def shell_exports(info: RegionInfo) -> str:
    """``export`` lines that point the AWS CLI and boto3 in a terminal at the offline region."""
    return "\n".join(
        f"export {key}={value}"
        for key, value in {
            "AWS_ENDPOINT_URL": info.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": info.region,
            "AWS_REGION": info.region,
            "AWS_PAGER": '""',
        }.items()
    )
