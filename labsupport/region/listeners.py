"""ALB listeners that answer real HTTP on loopback ports.

On AWS you open the load balancer's DNS name and your container answers. Here every listener of
every load balancer in the region gets a real HTTP server on ``127.0.0.1`` (listener port 80 →
local port 20080, 9000 → 29000, or a free port if that one is taken), so ``curl`` and a browser work.
Each request goes through what an ALB does:

1. the listener's rules in priority order, the default rule last. Conditions: ``path-pattern``
   (case-sensitive, without the query string), ``host-header`` and ``http-header`` (case-insensitive
   values), ``http-request-method`` and ``query-string``; ``*`` and ``?`` are the only wildcards.
   ``source-ip`` is not emulated (every request comes from loopback);
2. the rule's action: ``forward`` (to one target group, or weighted across several with
   ``ForwardConfig``: the traffic split of every blue/green deployment), ``fixed-response`` or
   ``redirect`` (``#{protocol}``, ``#{host}``, ``#{port}``, ``#{path}`` and ``#{query}`` reused);
3. a target of the chosen group: healthy targets in turn (round robin); if none is healthy, the ALB
   fails open to the unhealthy ones; if there are none at all, ``503``. Targets that are initial
   (not yet checked), draining or in a zone the load balancer is not enabled for get no requests;
4. the app running at that target (the sample app's real code): if nothing answers there, ``502``;
   if it answers later than the load balancer's idle timeout (``idle_timeout.timeout_seconds``,
   60 s by default; the app's ``RESPONSE_DELAY_MS``), ``504``.

The load balancer's own answers carry ``Server: awselb/2.0`` and ALB's HTML error pages. Weighted
choices use a seeded generator, so the same requests split the same way on every run (and again
after a region reset). :meth:`Listeners.route` is also what the lab's synthetic traffic calls,
without HTTP. A failure inside the routing is a lab bug: the client gets a ``500`` from the load
balancer and the error is kept in ``clock.errors`` (``GET /_lab/status``).
"""

from __future__ import annotations

import random
import re
import socket
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from .apps import Response
from .health import forward_targets

if TYPE_CHECKING:
    from .runtime import World

LOCAL_PORT_OFFSET = 20000
SERVER_HEADER = "awselb/2.0"


def _page(code: int, text: str) -> bytes:
    return (
        f"<html>\r\n<head><title>{code} {text}</title></head>\r\n<body>\r\n"
        f"<center><h1>{code} {text}</h1></center>\r\n</body>\r\n</html>\r\n"
    ).encode()


@dataclass
class Served:
    """What happened to one request: for logs, metrics and the deployment player."""

    at: float
    listener_arn: str
    path: str
    status: int
    target_group_arn: str | None
    target: str | None
    task_id: str | None
    version: str | None
    colour: str | None
    source: str  # "elb" when the load balancer answered itself (503/502/fixed), else "target"
    delay_ms: float | None = None  # the app's RESPONSE_DELAY_MS, when a target answered


class _Server:
    def __init__(self, listeners: Listeners, listener_arn: str, port: int) -> None:
        owner = listeners

        class Handler(BaseHTTPRequestHandler):
            server_version = SERVER_HEADER
            sys_version = ""

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                response = owner.handle(listener_arn, self.command, self.path, dict(self.headers.items()), body)
                self.send_response(response.status)
                for key, value in response.headers.items():
                    if key.lower() not in ("content-length", "server", "date", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _serve

            def version_string(self) -> str:
                return SERVER_HEADER  # exactly "awselb/2.0", as an ALB says (no Python version after it)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # requests are recorded by Listeners.log instead

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"listener-{self.port}", daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Listeners:
    def __init__(self, world: World) -> None:
        self.world = world
        self.servers: dict[str, _Server] = {}
        self.rng = random.Random(world.seed)
        self.turn: dict[str, int] = {}
        self.log: deque[Served] = deque(maxlen=100_000)
        self.observers: list[Any] = []

    # -- servers -------------------------------------------------------------------------------
    def sync(self) -> None:
        """Open a server for every listener, close servers of listeners that are gone."""
        current = {}
        for lb in self.world.backend("elbv2").load_balancers.values():
            for listener in lb.listeners.values():
                current[listener.arn] = listener
        for arn in [a for a in self.servers if a not in current]:
            self.servers.pop(arn).close()
        for arn, listener in current.items():
            if arn not in self.servers:
                self.servers[arn] = _Server(self, arn, _preferred_port(int(listener.port)))

    def close_all(self) -> None:
        for server in self.servers.values():
            server.close()
        self.servers.clear()
        self.turn.clear()
        self.log.clear()
        self.rng = random.Random(self.world.seed)

    def mapping(self) -> list[dict[str, Any]]:
        """Every listener with the local URL that answers for it."""
        rows = []
        for lb in self.world.backend("elbv2").load_balancers.values():
            for listener in lb.listeners.values():
                server = self.servers.get(listener.arn)
                rows.append(
                    {
                        "load_balancer": lb.name,
                        "dns_name": lb.dns_name,
                        "listener_arn": listener.arn,
                        "protocol": listener.protocol,
                        "port": int(listener.port),
                        "local_url": f"http://127.0.0.1:{server.port}/" if server else None,
                    }
                )
        return sorted(rows, key=lambda r: (r["load_balancer"], r["port"]))

    # -- one request -----------------------------------------------------------------------------
    def handle(self, listener_arn: str, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> Response:
        with self.world.lock:
            try:
                response, served = self.route(listener_arn, method, path, headers, body)
            except Exception as exc:  # a lab bug: answer like a load balancer that failed, and report it
                self._record_error("listener", exc)
                response, served = self._elb(self.world.clock.now(), listener_arn, path, 500, "Internal Server Error")
            self.log.append(served)
            for observer in list(self.observers):
                try:
                    observer(served)
                except Exception as exc:  # an observer (metrics) must never break a response
                    self._record_error(f"listener observer {getattr(observer, '__qualname__', observer)}", exc)
            return response

    def _record_error(self, where: str, exc: BaseException) -> None:
        errors = self.world.clock.errors
        errors.append(f"{where}: {type(exc).__name__}: {exc}")
        del errors[:-20]

    def route(
        self, listener_arn: str, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[Response, Served]:
        """Route one request as the ALB would (the caller holds the region lock)."""
        now = self.world.clock.now()
        headers = {k.lower(): v for k, v in headers.items()}  # HTTP header names are case-insensitive
        listener = self._listener(listener_arn)
        if listener is None:
            return self._elb(now, listener_arn, path, 503, "Service Temporarily Unavailable")
        rule = self._match(listener, method, path, headers)
        action = _first_action(rule.actions if rule else listener.default_actions)
        if action is None:
            return self._elb(now, listener_arn, path, 503, "Service Temporarily Unavailable")
        kind = action.get("Type")
        if kind == "fixed-response":
            config = action.get("FixedResponseConfig") or {}
            status = int(config.get("StatusCode", 200))
            content = str(config.get("MessageBody", "")).encode()
            ctype = config.get("ContentType", "text/plain")
            served = Served(now, listener_arn, path, status, None, None, None, None, None, "elb")
            return Response(status, {"Content-Type": ctype, "Server": SERVER_HEADER}, content), served
        if kind == "redirect":
            config = action.get("RedirectConfig") or {}
            status = 301 if config.get("StatusCode", "HTTP_301") == "HTTP_301" else 302
            location = _redirect_location(config, listener, path, headers)
            served = Served(now, listener_arn, path, status, None, None, None, None, None, "elb")
            return Response(status, {"Location": location, "Server": SERVER_HEADER}, b""), served
        tg_arn = self._pick_target_group(action)
        if tg_arn is None:
            return self._elb(now, listener_arn, path, 503, "Service Temporarily Unavailable")
        targets = self.world.health.routable(tg_arn)
        if not targets:
            return self._elb(now, listener_arn, path, 503, "Service Temporarily Unavailable", tg_arn)
        index = self.turn.get(tg_arn, 0) % len(targets)
        self.turn[tg_arn] = index + 1
        target = targets[index]
        instance = self.world.apps.get(target.target_id, target.port)
        where = f"{target.target_id}:{target.port}"
        if instance is None:
            return self._elb(now, listener_arn, path, 502, "Bad Gateway", tg_arn, where)
        try:
            response = instance.call(method, path, headers, body)
        except Exception:  # the app crashed mid-request: the ALB sees a reset connection
            return self._elb(now, listener_arn, path, 502, "Bad Gateway", tg_arn, where)
        delay_ms = _float(response.headers.get("X-App-Delay-Ms"))
        if delay_ms is not None and delay_ms / 1000.0 >= self._idle_timeout(listener_arn):
            # The target did not answer within the load balancer's idle timeout (60 s by default).
            return self._elb(now, listener_arn, path, 504, "Gateway Time-out", tg_arn, where)
        served = Served(
            now,
            listener_arn,
            path,
            response.status,
            tg_arn,
            where,
            instance.task_id,
            response.headers.get("X-App-Version"),
            response.headers.get("X-App-Colour"),
            "target",
            delay_ms,
        )
        return response, served

    def _idle_timeout(self, listener_arn: str) -> float:
        for lb in self.world.backend("elbv2").load_balancers.values():
            if listener_arn in lb.listeners:
                value = _float((getattr(lb, "attributes", None) or {}).get("idle_timeout.timeout_seconds"))
                return value if value is not None else 60.0
        return 60.0

    def _elb(
        self,
        now: float,
        listener_arn: str,
        path: str,
        status: int,
        text: str,
        tg_arn: str | None = None,
        target: str | None = None,
    ) -> tuple[Response, Served]:
        served = Served(now, listener_arn, path, status, tg_arn, target, None, None, None, "elb")
        headers = {"Content-Type": "text/html", "Server": SERVER_HEADER}
        return Response(status, headers, _page(status, text)), served

    def _listener(self, arn: str) -> Any | None:
        for lb in self.world.backend("elbv2").load_balancers.values():
            if arn in lb.listeners:
                return lb.listeners[arn]
        return None

    def _match(self, listener: Any, method: str, path: str, headers: dict[str, str]) -> Any | None:
        rules = [r for r in listener.rules.values() if not getattr(r, "is_default", False)]
        rules.sort(key=lambda r: int(r.priority) if str(r.priority).isdigit() else 10**9)
        lowered = {k.lower(): v for k, v in headers.items()}
        for rule in rules:
            if all(_condition_matches(c, method, path, lowered) for c in rule.conditions or []):
                return rule
        return None  # the default rule

    def _pick_target_group(self, action: dict[str, Any]) -> str | None:
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        if not groups:
            return action.get("TargetGroupArn")
        weights = [max(0, int(g.get("Weight", 1))) for g in groups]
        total = sum(weights)
        if total == 0:
            return None
        pick = self.rng.random() * total
        for group, weight in zip(groups, weights, strict=True):
            if pick < weight:
                return str(group["TargetGroupArn"])
            pick -= weight
        return str(groups[-1]["TargetGroupArn"])


def _first_action(actions: Any) -> dict[str, Any] | None:
    items = [a.data if hasattr(a, "data") else a for a in actions or []]
    items.sort(key=lambda a: int(a.get("Order", 1)))
    return items[0] if items else None


def _values(condition: dict[str, Any], config_key: str) -> list[str]:
    config = condition.get(config_key) or {}
    return list(config.get("Values") or condition.get("Values") or [])


def _wildcard(pattern: str, text: str, *, ignore_case: bool) -> bool:
    """ALB wildcard match: ``*`` is any run of characters, ``?`` one character, nothing else special.

    (``fnmatch`` would also treat ``[...]`` as a character class, which an ALB does not.)
    """
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, text, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) is not None


def _condition_matches(condition: dict[str, Any], method: str, path: str, headers: dict[str, str]) -> bool:
    field = condition.get("Field")
    only_path, _, query = path.partition("?")
    if field == "path-pattern":
        # Path patterns are case-sensitive and see the path without the query string.
        return any(_wildcard(p, only_path, ignore_case=False) for p in _values(condition, "PathPatternConfig"))
    if field == "host-header":
        host = headers.get("host", "").split(":", 1)[0]
        return any(_wildcard(p, host, ignore_case=True) for p in _values(condition, "HostHeaderConfig"))
    if field == "http-header":
        config = condition.get("HttpHeaderConfig") or {}
        value = headers.get(str(config.get("HttpHeaderName", "")).lower())
        # Header names and the comparison strings are case-insensitive.
        return value is not None and any(_wildcard(p, value, ignore_case=True) for p in config.get("Values") or [])
    if field == "http-request-method":
        return method.upper() in [m.upper() for m in _values(condition, "HttpRequestMethodConfig")]
    if field == "query-string":
        pairs = [_split_pair(item) for item in query.split("&") if item]
        for wanted in (condition.get("QueryStringConfig") or {}).get("Values") or []:
            key, value = wanted.get("Key"), str(wanted.get("Value", ""))
            for have_key, have_value in pairs:
                if (key is None or _wildcard(str(key), have_key, ignore_case=True)) and _wildcard(
                    value, have_value, ignore_case=True
                ):
                    return True
        return False
    return False  # source-ip conditions are not emulated (every request comes from loopback)


def _split_pair(item: str) -> tuple[str, str]:
    from urllib.parse import unquote_plus

    key, _, value = item.partition("=")
    return unquote_plus(key), unquote_plus(value)


def _float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _redirect_location(config: dict[str, Any], listener: Any, path: str, headers: dict[str, str]) -> str:
    host = config.get("Host", "#{host}").replace("#{host}", headers.get("host", "localhost").split(":")[0])
    port = config.get("Port", "#{port}").replace("#{port}", str(listener.port))
    protocol = config.get("Protocol", "#{protocol}").replace("#{protocol}", str(listener.protocol)).lower()
    only_path, _, query = path.partition("?")
    new_path = config.get("Path", "/#{path}").replace("/#{path}", only_path).replace("#{path}", only_path.lstrip("/"))
    new_query = str(config.get("Query", "#{query}")).replace("#{query}", query)
    return f"{protocol}://{host}:{port}{new_path}" + (f"?{new_query}" if new_query else "")


def _preferred_port(listener_port: int) -> int:
    candidate = LOCAL_PORT_OFFSET + listener_port
    if candidate > 65535:
        return 0
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", candidate))
        except OSError:
            return 0
    return candidate


__all__ = ["Listeners", "Served", "forward_targets"]
