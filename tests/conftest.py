"""Shared fixtures: one real offline region per test session, reset between tests that use it.

The region runs as its own process, exactly as for a learner (``python -m labsupport.region.server``),
on a free loopback port with a private state directory, so tests never touch a learner's running
lab and never reach real AWS (credentials are fake and every client is pinned to the endpoint).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def region_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("labhome")


@pytest.fixture(scope="session")
def region_endpoint(region_home: Path) -> Iterator[str]:
    """Start a private offline region for the whole test session; yield its endpoint URL."""
    state = region_home / "region.json"
    log = open(region_home / "region.log", "w")  # noqa: SIM115 - closed in teardown
    proc = subprocess.Popen(
        [sys.executable, "-m", "labsupport.region.server", "--port", "0", "--state", str(state)],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while not state.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"region exited: {(region_home / 'region.log').read_text()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("region did not start within 60 s")
        time.sleep(0.05)
    endpoint = json.loads(state.read_text())["endpoint"]
    yield endpoint
    try:
        urllib.request.urlopen(urllib.request.Request(endpoint + "/_lab/shutdown", method="POST"), timeout=5)
        proc.wait(timeout=10)
    except Exception:
        proc.kill()
    log.close()


@pytest.fixture
def region(region_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A freshly reset region; AWS environment variables point at it for this test only."""
    urllib.request.urlopen(urllib.request.Request(region_endpoint + "/_lab/reset", method="POST"), timeout=30)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", region_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    return region_endpoint


@pytest.fixture
def ec2(region: str):
    import boto3

    return boto3.client("ec2", endpoint_url=region, region_name="us-west-2")
