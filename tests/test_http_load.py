"""Real HTTP load through the lab's ALB while ECS scales the service and rolls out a new version.

A client thread sends requests over loopback to the production listener, one after the other, while
the test moves the region's clock: in small manual steps (scaling) and in realtime mode at 40× speed
(deployments). Bounded on purpose: at most ``BUDGET`` requests and ``WALL_LIMIT`` seconds per client,
and the client always stops (``finally``).

What it shows, as on AWS:

- with the lab's settings (deregistration delay 30 s, minimumHealthyPercent 100 / maximumPercent
  200) not one request fails while the service scales out and in and while a rolling update replaces
  every task: a task leaves the load balancer (draining) before it is stopped, and new tasks take
  traffic only once healthy;
- with a recreate-style configuration (minimumHealthyPercent 0 / maximumPercent 100) every old task
  is stopped before a new one may start, so the load balancer has no target for a while and answers
  503 itself. (A zero deregistration delay alone produces no failures here: the region's ALB stops
  routing to a deregistered target at once, so there is no in-flight request to cut.)
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from test_region_ecs_engine import (  # noqa: F401  (lab_fixture provides the "lab" fixture)
    CLUSTER,
    SERVICE,
    Stack,
    advance,
    build_stack,
    control,
    http_get,
    lab_fixture,
    listener_url,
)

from labsupport.lab import Lab

BUDGET = 1500  # requests per client; two clients in this file: at most 3000 requests
WALL_LIMIT = 25.0  # seconds per client, whatever happens
PAUSE = 0.003  # between requests, so that the clock and the region get their turn
SPEED = 40.0  # realtime factor for deployments: 40 region seconds per wall second


@dataclass
class LoadClient:
    """Sends GET / to ``url`` until stopped, out of budget, or out of time; records every answer."""

    url: str
    results: list[tuple[int, str]] = field(default_factory=list)  # (status, app version or "")
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> LoadClient:
        self._thread = threading.Thread(target=self._run, name="load-client", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)

    def _run(self) -> None:
        deadline = time.monotonic() + WALL_LIMIT
        while not self._stop.is_set() and len(self.results) < BUDGET and time.monotonic() < deadline:
            try:
                status, headers, _ = http_get(self.url, timeout=5)
                self.results.append((status, headers.get("x-app-version", "")))
            except OSError:
                self.results.append((0, ""))  # the connection itself failed
            time.sleep(PAUSE)

    def wait_for(self, count: int, limit: float = 10.0) -> None:
        """Block until ``count`` answers are in (or ``limit`` seconds passed)."""
        deadline = time.monotonic() + limit
        while len(self.results) < count and time.monotonic() < deadline:
            time.sleep(0.01)

    @property
    def failures(self) -> list[tuple[int, str]]:
        return [r for r in self.results if r[0] != 200]

    def versions(self) -> Counter[str]:
        return Counter(version for status, version in self.results if status == 200)


def steps(endpoint: str, seconds: int, pause: float = 0.004) -> None:
    """Move the clock one second at a time, giving the client a moment between steps."""
    for _ in range(seconds):
        advance(endpoint, 1)
        time.sleep(pause)


def realtime(endpoint: str, region_seconds: float) -> None:
    """Let the clock run by itself at ``SPEED`` for about ``region_seconds``, then stop it."""
    control(endpoint, "/_lab/clock/mode", {"mode": "realtime", "speed": SPEED})
    try:
        time.sleep(region_seconds / SPEED)
    finally:
        control(endpoint, "/_lab/clock/mode", {"mode": "manual"})


def finish_rollout(stack: Stack, limit: int = 300) -> dict:
    """Advance until the PRIMARY deployment is the only one and COMPLETED (or ``limit`` seconds)."""
    for _ in range(limit // 5):
        svc = stack.service()
        if len(svc["deployments"]) == 1 and svc["deployments"][0]["rolloutState"] == "COMPLETED":
            return svc
        advance(stack.endpoint, 5)
    return stack.service()


def test_no_request_fails_while_scaling_and_rolling_with_the_lab_settings(lab: Lab, region: str) -> None:
    stack = build_stack(lab, region)
    url = listener_url(region)
    assert http_get(url)[0] == 200
    started = time.monotonic()
    with LoadClient(url) as client:
        client.wait_for(5)
        stack.ecs.update_service(cluster=CLUSTER, service=SERVICE, desiredCount=4)
        steps(region, 50)
        assert stack.healthy() == 4
        stack.ecs.update_service(cluster=CLUSTER, service=SERVICE, desiredCount=2)
        steps(region, 50)
        stack.deploy(APP_VERSION="v2", APP_COLOUR="green")
        realtime(region, 100)
        svc = finish_rollout(stack)
        count = len(client.results)
        client.wait_for(count + 5)
    wall = time.monotonic() - started
    print(
        f"\nlab settings: {len(client.results)} requests in {wall:.1f} s, "
        f"{len(client.failures)} failed, versions served {dict(client.versions())}"
    )
    assert svc["deployments"][0]["rolloutState"] == "COMPLETED" and svc["runningCount"] == 2
    assert len(client.results) >= 100, "the client hardly sent anything"
    assert client.failures == []
    assert client.versions()["v1"] > 0 and client.versions()["v2"] > 0
    assert client.results[-1] == (200, "v2")


def test_recreate_deployment_drops_requests(lab: Lab, region: str) -> None:
    stack = build_stack(lab, region)
    url = listener_url(region)
    started = time.monotonic()
    with LoadClient(url) as client:
        client.wait_for(5)
        stack.deploy(APP_VERSION="v2", deploymentConfiguration={"minimumHealthyPercent": 0, "maximumPercent": 100})
        realtime(region, 140)
        svc = finish_rollout(stack)
        count = len(client.results)
        client.wait_for(count + 5)
    wall = time.monotonic() - started
    failures = Counter(status for status, _ in client.failures)
    print(
        f"\nrecreate (min 0 / max 100): {len(client.results)} requests in {wall:.1f} s, "
        f"{len(client.failures)} failed {dict(failures)}, versions served {dict(client.versions())}"
    )
    assert svc["deployments"][0]["rolloutState"] == "COMPLETED"
    assert len(client.failures) > 0
    assert set(failures) == {503}  # the load balancer itself: no target to send to
    assert client.results[0] == (200, "v1") and client.results[-1] == (200, "v2")
