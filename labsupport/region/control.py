"""The region's small control API, under ``/_lab/`` on the same port as the AWS endpoint.

AWS has no API for "what time is it in this region" or "start over", so the lab adds a few plain
JSON endpoints next to the AWS ones. They are what ``python -m labsupport region|clock ...`` and
``labsupport.clock`` call. Nothing here is needed to use the region as AWS.

    GET  /_lab/status          who is running, since when, clock and request counts
    POST /_lab/reset           empty region, seeded IDs, clock back to its start
    GET  /_lab/clock           the virtual clock
    POST /_lab/clock/advance   {"seconds": 300}
    POST /_lab/clock/mode      {"mode": "realtime", "speed": 60}  or  {"mode": "manual"}
    GET  /_lab/listeners       every ALB listener and the local URL that answers for it
    GET  /_lab/health-history  every target-health change so far (for timelines)
    GET  /_lab/metrics         ALB metric series and alarm history (CloudWatch has them too)
    GET  /_lab/lambdas         every Lambda invocation so far (hooks included)
    POST /_lab/lambdas/wait    {"timeout": 30}: wait until no function is running
    GET  /_lab/rules           the AWS rules this region enforces beyond moto
    POST /_lab/traffic/start   {"load_balancer": "my-app-alb", "port": 80, "rate": 10, "name": "default"}
    POST /_lab/traffic/stop    {"name": "default"}  (no name: every stream)
    GET  /_lab/traffic         per-second request counts (?since=&until=&stream=, epoch s or ISO)
    GET  /_lab/traffic/summary what the users saw: versions, failures, downtime (same query)
    GET  /_lab/traffic/streams the synthetic streams running now
    POST /_lab/shutdown        stop the region process
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from .. import __version__
from .rules import catalogue
from .traffic import control as traffic_control

if TYPE_CHECKING:
    from .app import RegionApp

SERVICE_NAME = "labsupport-region"


class Control:
    def __init__(self, app: RegionApp) -> None:
        self.app = app
        self.on_shutdown: list[Any] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "").rstrip("/")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            if method == "GET":  # GET endpoints take their options from the query string
                body = {**dict(parse_qsl(environ.get("QUERY_STRING", ""))), **body}
            status, payload = self._route(method, path, body)
        except (ValueError, TypeError) as exc:
            status, payload = 400, {"error": str(exc)}
        data = json.dumps(payload, indent=1).encode()
        start_response(
            f"{status} {'OK' if status < 400 else 'Error'}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
        )
        return [data]

    def _route(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        app = self.app
        clock = app.clock
        if path == "/_lab/status" and method == "GET":
            return 200, self.status()
        if path == "/_lab/reset" and method == "POST":
            app.reset()
            return 200, {"reset": True, "clock": clock.status()}
        if path == "/_lab/clock" and method == "GET":
            return 200, clock.status()
        if path == "/_lab/clock/advance" and method == "POST":
            seconds = float(body.get("seconds", 0))
            if seconds < 0 or seconds > 30 * 86400:
                raise ValueError("seconds must be between 0 and 2592000 (30 days)")
            ran = clock.advance(seconds)
            return 200, {**clock.status(), "events_run": ran}
        if path == "/_lab/clock/mode" and method == "POST":
            clock.set_mode(str(body.get("mode", "manual")), body.get("speed"))
            return 200, clock.status()
        if path == "/_lab/listeners" and method == "GET":
            with app.lock:
                return 200, {"listeners": app.world.listeners.mapping()}
        if path == "/_lab/health-history" and method == "GET":
            with app.lock:
                return 200, {"changes": [change.__dict__ for change in app.world.health.history]}
        if path == "/_lab/metrics" and method == "GET":
            with app.lock:
                return 200, {
                    "series": app.world.metrics.summary(),
                    "alarm_history": list(app.world.metrics.alarm_history),
                }
        if path == "/_lab/traffic" or path.startswith("/_lab/traffic/"):
            return traffic_control(app.world, method, path, body)
        if path == "/_lab/lambdas" and method == "GET":
            with app.lock:
                return 200, {"invocations": app.world.lambdas.log()}
        if path == "/_lab/lambdas/wait" and method == "POST":
            # Not under the lock: the functions being waited for call back into the region.
            idle = app.world.lambdas.wait_idle(float(body.get("timeout", 30)))
            return 200, {"idle": idle}
        if path == "/_lab/rules" and method == "GET":
            return 200, {"rules": catalogue()}
        if path == "/_lab/shutdown" and method == "POST":
            for callback in self.on_shutdown:
                callback()
            return 200, {"stopping": True}
        return 404, {"error": f"no control endpoint {method} {path}; see GET /_lab/status"}

    def status(self) -> dict[str, Any]:
        app = self.app
        return {
            "service": SERVICE_NAME,
            "version": __version__,
            "pid": os.getpid(),
            "region": app.region,
            "account_id": "123456789012",
            "seed": app.seed,
            "started_at": app.started_at,
            "requests": app.requests,
            "clock": app.clock.status(),
            "clock_errors": list(app.clock.errors),
        }
