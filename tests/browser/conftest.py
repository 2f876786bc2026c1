"""Fixtures for the real-browser tier: a private JupyterLab, headless Debian Chromium, one page per test.

Why a separate tier: the nbclient/nbval tests prove that the notebooks run and that widget callbacks
fire kernel-side, but not that the widgets *render* and *respond* in JupyterLab (a broken
labextension, a front-end error or a figure that never redraws only shows up in a browser).

Set-up, following /work/shared/reference/browser-testing.md:

* JupyterLab is started once per session with ``python -m jupyterlab``, on a free loopback port,
  with every Jupyter/IPython/matplotlib settings directory pointed into a temp dir (so neither a
  developer's own settings nor the test leak into each other) and serving a *copy* of ``notebooks/``
  (JupyterLab writes checkpoints and marks notebooks dirty; the repo must stay untouched).
* ``LABSUPPORT_HOME`` points at a private temp dir, so the notebooks start their own offline region
  and never reuse (or reset) a learner's running lab. It is stopped at teardown.
* Chromium is Debian's ``/usr/bin/chromium`` driven by Python Playwright; ``playwright install`` is
  never used (it downloads browsers from a CDN, which CI cannot reach).

The tier is skipped when ``LAB_SKIP_BROWSER=1``, or when Chromium is missing on a developer machine.
On CI (``CI`` set) a missing Chromium is a failure: the CI script is supposed to install it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HERE = Path(__file__).resolve().parent

# JupyterLab user settings written before start (each one removes a known source of flakiness).
LAB_SETTINGS: dict[str, dict[str, Any]] = {
    # The "get notified about Jupyter news?" toast covers the bottom of the notebook; the
    # --LabApp.news_url=None flag alone does not remove it. "false" is a string in this schema.
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
    # autoStartDefaultKernel: no "Select Kernel" dialog racing the first Run All on a fresh server.
    # windowingMode none: every cell is rendered, so off-screen widgets exist in the DOM.
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none",
        "autoStartDefaultKernel": True,
    },
    # The test must never write executed outputs back into the notebook.
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}


def _missing_reason() -> str | None:
    """Why the browser tier cannot run here, or None when it can."""
    if os.environ.get("LAB_SKIP_BROWSER") == "1":
        return "browser tier disabled by LAB_SKIP_BROWSER=1"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found (install Debian's chromium: `apt-get install -y chromium`)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (`pip install -e .[test]`)"
    return None


def _must_run() -> bool:
    # On CI a silent skip would switch the tier off for good without anyone noticing, so there a
    # missing browser is a failure; only an explicit LAB_SKIP_BROWSER=1 skips.
    return bool(os.environ.get("CI")) and os.environ.get("LAB_SKIP_BROWSER") != "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip every test of this tier, before any fixture starts, when it cannot run here.

    On CI the tests are not skipped: the ``browser`` fixture fails them with the reason instead.
    """
    ours = [item for item in items if HERE in Path(str(item.path)).resolve().parents]
    if not ours:
        return
    reason = _missing_reason()
    if reason is not None and not _must_run():
        for item in ours:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item, so the page fixture knows whether the test failed.

    This hook must live in a conftest.py: pytest does not call hooks defined in a test module.
    """
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LabServer:
    """A running JupyterLab: where it listens, how to log in, and the environment it gave kernels."""

    base_url: str
    token: str
    root: Path
    env: dict[str, str]
    log: Path
    started_in: float
    proc: subprocess.Popen[bytes] = field(repr=False)

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}{path}{sep}token={self.token}"

    def api(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(self.url(path), method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """End every kernel session: closing a browser tab does not stop its kernel."""
        try:
            for session in self.api("/api/sessions"):
                self.api(f"/api/sessions/{session['id']}", method="DELETE")
        except (OSError, ValueError):
            pass


def _lab_env(base: Path) -> dict[str, str]:
    env = dict(os.environ)
    for key in (
        "MPLBACKEND",
        "LABSUPPORT_MODE",
        "LABSUPPORT_ALLOW_REAL_AWS",
        "JUPYTER_PATH",
        "JUPYTER_PREFER_ENV_PATH",
    ):
        env.pop(key, None)
    dirs = {
        "JUPYTER_CONFIG_DIR": "jupyter-config",
        "JUPYTER_DATA_DIR": "jupyter-data",
        "JUPYTER_RUNTIME_DIR": "jupyter-runtime",
        "IPYTHONDIR": "ipython",
        "JUPYTERLAB_SETTINGS_DIR": "lab-settings",
        "JUPYTERLAB_WORKSPACES_DIR": "lab-workspaces",
        "MPLCONFIGDIR": "mpl",
        "LABSUPPORT_HOME": "labsupport-home",
    }
    for key, name in dirs.items():
        (base / name).mkdir(parents=True, exist_ok=True)
        env[key] = str(base / name)
    # Port 0: the notebooks' region takes a free port instead of 4747, which a learner's lab may hold.
    env["LABSUPPORT_PORT"] = "0"
    return env


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """JupyterLab serving a copy of notebooks/, with isolated settings and a private offline region."""
    base = tmp_path_factory.mktemp("browser-lab")
    root = base / "notebooks"
    shutil.copytree(NOTEBOOKS, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    env = _lab_env(base)
    settings = Path(env["JUPYTERLAB_SETTINGS_DIR"])
    for relative, content in LAB_SETTINGS.items():
        target = settings / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(content))

    port, token = _free_port(), secrets.token_hex(16)
    log = base / "jupyterlab.log"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        "--allow-root",  # CI runs as root; without it the server exits at once
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",
        "--LabApp.extension_manager=readonly",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    started = time.monotonic()
    with open(log, "wb") as log_handle:
        proc = subprocess.Popen(command, cwd=root, env=env, stdout=log_handle, stderr=subprocess.STDOUT)
    server = LabServer(f"http://127.0.0.1:{port}", token, root, env, log, 0.0, proc)
    try:
        deadline = time.monotonic() + 60
        while True:
            # Check the process too, so a crash is reported at once instead of after the timeout.
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
            try:
                server.api("/api/status")
                break
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer within 60 s:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        server.started_in = time.monotonic() - started
        yield server
    finally:
        _stop_lab(server)
        # The notebooks started a region in the private LABSUPPORT_HOME (it outlives its kernel by design).
        subprocess.run(
            [sys.executable, "-m", "labsupport", "region", "stop"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )


def _stop_lab(server: LabServer) -> None:
    if server.proc.poll() is None:
        with contextlib.suppress(OSError, ValueError):
            server.api("/api/shutdown", method="POST")  # stops the kernels as well as the server
        try:
            server.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.proc.terminate()
            try:
                server.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.proc.kill()
                server.proc.wait()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium under Playwright (never Playwright's own downloaded build)."""
    reason = _missing_reason()
    if reason is not None:  # only reached on CI: elsewhere the tests were skipped at collection
        pytest.fail(f"CI is set but the browser tier cannot run: {reason}", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _artifact_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("::")[-1]).strip("_")


@pytest.fixture
def page(browser: Any, lab_server: LabServer, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context and page; on failure, a screenshot and the console errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    errors: list[str] = []
    pg.on("console", lambda msg: errors.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None)
    pg.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    request.node.console_errors = errors  # tests may read them; printed on failure either way
    try:
        yield pg
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            shot = ARTIFACTS / f"FAIL-{_artifact_name(request.node.nodeid)}.png"
            try:
                pg.screenshot(path=str(shot), full_page=True)
                print(f"\nfailure screenshot: {shot}")
            except Exception as exc:  # the page may be gone; the report matters more than the picture
                print(f"\nno failure screenshot ({exc})")
            if errors:
                print("browser console errors:\n  " + "\n  ".join(errors))
        context.close()
        lab_server.shutdown_kernels()
