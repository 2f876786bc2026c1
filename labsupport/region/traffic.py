"""Synthetic users on the virtual clock, and what they saw: the lab's deployment measurements.

A zero-downtime release is judged by its users: how many requests each version served, how many
failed, for how long the service was down, how many requests reached a bad version before the
rollback. On AWS you would point a load generator at the load balancer and wait for the release to
finish; a 75-minute canary cannot take 75 minutes in a lesson, and the result must be the same on
every run. So the region sends the load itself, on its virtual clock:

- :meth:`Traffic.start` opens a *stream*: exactly ``rate`` requests per virtual second to one
  listener (evenly spaced: rate 0.5 is one request every other second). The requests of second
  ``s`` are sent together by ONE clock event at ``s`` (the world cannot change in between: events
  and requests are serialised by the region's lock), which keeps a 450,000-request canary fast.
- Each request goes through what :meth:`Listeners.route` does for real HTTP: the listener's rules,
  the forward action's weights, round robin over the routable targets, the sample app's code at the
  chosen target, and the load balancer's own 502/503/504. Within one second the world is frozen, so
  every target is asked once and the answer counted as many times as it was chosen; the app's
  request counter still advances by every request, and ``ERROR_RATE`` failures are counted exactly
  (the app's rule is deterministic: request ``n`` fails when ``floor(n*rate)`` steps). The
  ``exact=True`` stream routes every request one by one through ``Listeners.route`` instead: the
  reference the fast path is tested against.
- Each stream has its own seeded generator and round-robin position, so a learner's ``curl`` in
  the middle of a canary does not change how the synthetic requests split: same seed, same numbers.
- Every synthetic request is passed to the listeners' observers (CloudWatch metrics count it) but
  not to ``Listeners.log`` (which is bounded: it would only push out the learner's own requests).
  Real HTTP requests to the loopback listeners reach this module as an observer and are counted
  too, marked ``real``.

What is kept is compact: per virtual second, a count per (stream, listener, status, version,
colour, target group). :meth:`Traffic.summary` turns it into the measurements.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from ..errors import LabError

if TYPE_CHECKING:
    from .clock import _Event
    from .listeners import Listeners, Served
    from .runtime import World

REAL = "real"  # the stream name of requests that came in over real HTTP
MAX_RATE = 1000  # requests per virtual second per stream; 1000 rps for an hour is 3.6 M requests
MAX_STREAMS = 20
KEEP_SECONDS = 86_400  # one virtual day of per-second aggregates; older seconds are dropped
FIELDS = ("stream", "listener", "status", "version", "colour", "target_group")
# The app counters that one request advances whatever it answers (replayed for counted requests).
_APP_COUNTERS = ("requests", "health_checks")

Key = tuple[str, str, int, str | None, str | None, str | None]


@dataclass
class Stream:
    """One synthetic load: ``rate`` GET requests per virtual second to one listener."""

    name: str
    listener_arn: str
    listener: str  # "my-app-alb:80": readable, no IDs
    rate: Fraction
    path: str
    headers: dict[str, str]
    seed: str
    started_at: float
    first_second: int
    exact: bool = False
    rng: random.Random = field(default_factory=random.Random, repr=False)
    turn: dict[str, int] = field(default_factory=dict, repr=False)
    seconds_run: int = 0
    sent: int = 0
    event: _Event | None = field(default=None, repr=False)

    def due(self, index: int) -> int:
        """How many requests second number ``index`` (0-based) of the stream sends: evenly spaced."""
        return math.floor((index + 1) * self.rate) - math.floor(index * self.rate)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listener": self.listener,
            "listener_arn": self.listener_arn,
            "rate": float(self.rate),
            "path": self.path,
            "headers": dict(self.headers),
            "seed": self.seed,
            "exact": self.exact,
            "started_at": self.started_at,
            "first_second": self.first_second,
            "seconds_run": self.seconds_run,
            "sent": self.sent,
        }


class Traffic:
    """The region's synthetic traffic and the per-second record of every request (see the module doc)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.streams: dict[str, Stream] = {}
        self.seconds: dict[int, Counter[Key]] = {}
        self._labels: dict[str, str] = {}
        self._tg_names: dict[str | None, str | None] = {None: None}
        world.listeners.observers.append(self._observe)

    # -- lifecycle -------------------------------------------------------------------------------
    def clear(self) -> None:
        """Stop every stream and forget every count (after a region reset)."""
        for stream in self.streams.values():
            if stream.event is not None:
                self.world.clock.cancel(stream.event)
        self.streams.clear()
        self.seconds.clear()
        self._labels.clear()
        self._tg_names = {None: None}

    def start(
        self,
        listener_arn: str,
        rate_per_second: float,
        path: str = "/",
        name: str = "default",
        seed: str | int | None = None,
        *,
        headers: dict[str, str] | None = None,
        exact: bool = False,
    ) -> Stream:
        """Send ``rate_per_second`` requests per virtual second to a listener, from the next whole second.

        A stream with the same ``name`` is replaced. ``seed`` seeds the stream's choices among
        weighted target groups (default: the region's seed and the stream's name), so the same
        stream splits the same way on every run. ``exact`` routes each request on its own through
        :meth:`Listeners.route` (slow; the reference for the batched path).
        """
        with self.world.lock:
            rate = _rate(rate_per_second)
            if not isinstance(path, str) or not path.startswith("/"):
                raise LabError(f"The path {path!r} does not start with '/'.", "pass a path such as '/' or '/api/info'.")
            name = str(name or "default").strip()
            if not name or name == REAL or len(name) > 40:
                raise LabError(
                    f"{name!r} cannot name a traffic stream.",
                    f"use a short name (up to 40 characters) other than {REAL!r}, e.g. 'default' or 'canary'.",
                )
            if name not in self.streams and len(self.streams) >= MAX_STREAMS:
                raise LabError(
                    f"{len(self.streams)} traffic streams are already running.",
                    "stop one first (POST /_lab/traffic/stop, or labsupport.traffic.stop()).",
                )
            label = self.label(listener_arn)
            if label is None:
                raise LabError(
                    "There is no listener with that ARN in the offline region.",
                    "create the listener first (chapter 04), or pass the load balancer's name and port.",
                )
            self.stop(name)
            now = self.world.clock.now()
            chosen_seed = str(seed) if seed is not None else f"{self.world.seed}:{name}"
            stream = Stream(
                name=name,
                listener_arn=listener_arn,
                listener=label,
                rate=rate,
                path=path,
                headers={str(k).lower(): str(v) for k, v in (headers or {}).items()},
                seed=chosen_seed,
                started_at=now,
                first_second=math.floor(now) + 1,
                exact=bool(exact),
                rng=random.Random(chosen_seed),
            )
            self.streams[name] = stream
            stream.event = self.world.clock.call_at(
                stream.first_second, lambda: self._tick(stream), name=f"traffic: {name}"
            )
            return stream

    def stop(self, name: str | None = None) -> list[Stream]:
        """Stop the stream ``name`` (every stream if None). Returns the streams stopped."""
        with self.world.lock:
            names = list(self.streams) if name is None else [name] if name in self.streams else []
            stopped = []
            for each in names:
                stream = self.streams.pop(each)
                if stream.event is not None:
                    self.world.clock.cancel(stream.event)
                    stream.event = None
                stopped.append(stream)
            return stopped

    def find_listener(self, load_balancer: str, port: int) -> str:
        """The ARN of ``load_balancer``'s listener on ``port`` (by the load balancer's name)."""
        with self.world.lock:
            names = []
            for lb in self.world.backend("elbv2").load_balancers.values():
                names.append(lb.name)
                if lb.name != load_balancer:
                    continue
                for listener in lb.listeners.values():
                    if int(listener.port) == int(port):
                        return str(listener.arn)
                ports = sorted(int(listener.port) for listener in lb.listeners.values())
                raise LabError(
                    f"The load balancer {load_balancer!r} has no listener on port {port} "
                    f"(its listeners: {', '.join(map(str, ports)) or 'none'}).",
                    "create the listener first (chapter 04) or pick one of its ports.",
                )
            raise LabError(
                f"There is no load balancer named {load_balancer!r} in the offline region "
                f"(there are: {', '.join(sorted(names)) or 'none'}).",
                "create it first (chapter 04: catch_up(5) builds it), or check the name.",
            )

    def label(self, listener_arn: str) -> str | None:
        """``my-app-alb:80`` for a listener ARN (None if the region has no such listener)."""
        cached = self._labels.get(listener_arn)
        if cached is not None:
            return cached
        for lb in self.world.backend("elbv2").load_balancers.values():
            listener = lb.listeners.get(listener_arn)
            if listener is not None:
                self._labels[listener_arn] = f"{lb.name}:{int(listener.port)}"
                return self._labels[listener_arn]
        return None

    # -- sending -----------------------------------------------------------------------------------
    def _tick(self, stream: Stream) -> None:
        """The clock event of one virtual second of ``stream``: send that second's requests."""
        if self.streams.get(stream.name) is not stream:
            return  # stopped or replaced while this event was queued
        now = self.world.clock.now()
        count = stream.due(stream.seconds_run)
        stream.seconds_run += 1
        # Re-arm first: one failing second (a lab bug) must not stop the users.
        stream.event = self.world.clock.call_at(
            math.floor(now) + 1, lambda: self._tick(stream), name=f"traffic: {stream.name}"
        )
        if count <= 0:
            return
        stream.sent += count
        outcomes = self._route_exact(stream, count) if stream.exact else self._route_batch(stream, count, now)
        second = math.floor(now)
        for served, times in outcomes:
            self._count(second, stream.name, served, times)
            self._notify(served, times)

    def _route_exact(self, stream: Stream, count: int) -> list[tuple[Served, int]]:
        """Every request on its own through :meth:`Listeners.route`, with the stream's own choices."""
        listeners = self.world.listeners
        outcomes = []
        saved = listeners.rng, listeners.turn
        listeners.rng, listeners.turn = stream.rng, stream.turn
        try:
            for _ in range(count):
                _, served = listeners.route(stream.listener_arn, "GET", stream.path, stream.headers)
                outcomes.append((served, 1))
        finally:
            listeners.rng, listeners.turn = saved
        return outcomes

    def _route_batch(self, stream: Stream, count: int, now: float) -> list[tuple[Served, int]]:
        """``count`` requests of one frozen second: the choices made one by one, each target asked once.

        Mirrors :meth:`Listeners.route` step by step; ``tests/test_traffic.py`` checks that both
        paths count the same. Routing one request costs about 180 µs (rule matching, target health,
        the app's page); here that cost is paid once per target and second, not once per request.
        """
        from .listeners import _first_action

        listeners = self.world.listeners
        listener = listeners._listener(stream.listener_arn)
        action = None
        if listener is not None:
            rule = listeners._match(listener, "GET", stream.path, stream.headers)
            action = _first_action(rule.actions if rule else listener.default_actions)
        if action is None or action.get("Type") != "forward":
            # No listener, no action, a fixed response or a redirect: the same answer for every
            # request of this second, and no choice is drawn, so routing one request is exact.
            _, served = listeners.route(stream.listener_arn, "GET", stream.path, stream.headers)
            return [(served, count)]
        per_group = self._pick_groups(stream, action, count)
        outcomes: list[tuple[Served, int]] = []
        for tg_arn, chosen in per_group.items():
            if tg_arn is None:
                outcomes.append((self._elb(now, stream, 503, "Service Temporarily Unavailable"), chosen))
                continue
            targets = self.world.health.routable(tg_arn)
            if not targets:
                outcomes.append((self._elb(now, stream, 503, "Service Temporarily Unavailable", tg_arn), chosen))
                continue
            size = len(targets)
            start = stream.turn.get(tg_arn, 0) % size
            # Listeners.route keeps "index of the last target + 1"; keep exactly that, because the
            # next second may have a different number of targets and the remainder would differ.
            stream.turn[tg_arn] = (start + chosen - 1) % size + 1
            whole, extra = divmod(chosen, size)
            for offset in range(size):
                times = whole + (1 if offset < extra else 0)
                if times:
                    outcomes += self._ask_target(stream, now, tg_arn, targets[(start + offset) % size], times)
        return outcomes

    def _pick_groups(self, stream: Stream, action: dict[str, Any], count: int) -> dict[str | None, int]:
        """How many of ``count`` requests each target group gets (the weighted draw of Listeners)."""
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        if not groups:
            return {action.get("TargetGroupArn"): count}
        weights = [max(0, int(g.get("Weight", 1))) for g in groups]
        total = sum(weights)
        if total == 0:
            return {None: count}
        arns = [str(g["TargetGroupArn"]) for g in groups]
        live = [(arn, w) for arn, w in zip(arns, weights, strict=True) if w]
        if len(live) == 1:
            # One group has all the weight: the draw still happens (the generator must advance as
            # it does for single requests), but its outcome is known.
            for _ in range(count):
                stream.rng.random()
            return {live[0][0]: count}
        picks: Counter[str | None] = Counter()
        random_ = stream.rng.random
        for _ in range(count):
            pick = random_() * total
            for arn, weight in zip(arns, weights, strict=True):
                if pick < weight:
                    picks[arn] += 1
                    break
                pick -= weight
            else:
                picks[arns[-1]] += 1
        return {arn: picks[arn] for arn in dict.fromkeys(arns) if picks[arn]}

    def _ask_target(self, stream: Stream, now: float, tg_arn: str, target: Any, times: int) -> list[tuple[Served, int]]:
        """``times`` requests to one target in one frozen second: asked for real until the answer is known."""
        from .listeners import Served

        where = f"{target.target_id}:{target.port}"
        instance = self.world.apps.get(target.target_id, target.port)
        if instance is None:
            return [(self._elb(now, stream, 502, "Bad Gateway", tg_arn, where), times)]
        app = instance.app
        rate = _error_rate(app)
        results: list[tuple[Served, int]] = []
        kinds: dict[bool, Served] = {}  # "failed by ERROR_RATE" -> a response of that kind
        remaining = times
        while remaining:
            before = [getattr(app, name, None) for name in _APP_COUNTERS]
            try:
                response = instance.call("GET", stream.path, stream.headers)
            except Exception:  # the app crashed mid-request: the ALB sees a reset connection
                served = self._elb(now, stream, 502, "Bad Gateway", tg_arn, where)
            else:
                delay_ms = _float(response.headers.get("X-App-Delay-Ms"))
                if delay_ms is not None and delay_ms / 1000.0 >= self._idle_timeout(stream):
                    served = self._elb(now, stream, 504, "Gateway Time-out", tg_arn, where)
                else:
                    served = Served(
                        now,
                        stream.listener_arn,
                        stream.path,
                        response.status,
                        tg_arn,
                        where,
                        instance.task_id,
                        response.headers.get("X-App-Version"),
                        response.headers.get("X-App-Colour"),
                        "target",
                        delay_ms,
                    )
            results.append((served, 1))
            remaining -= 1
            after = [getattr(app, name, None) for name in _APP_COUNTERS]
            if not remaining or any(not isinstance(v, int) for v in before + after):
                continue  # an app the lab does not know: every request is really sent
            deltas = [a - b for a, b in zip(after, before, strict=True)]
            numbered = deltas[0] == 1  # this answer consumed a request number (ERROR_RATE counts those)
            if not numbered or rate is None or rate in (0, 1):
                # The answer does not depend on the request number: it is the answer for the rest.
                self._advance_counters(app, deltas, remaining)
                results.append((served, remaining))
                break
            from sample_app.app import request_fails

            kinds.setdefault(request_fails(after[0], rate), served)
            if len(kinds) == 2:
                # Both answers known: of the next `remaining` request numbers, this many fail
                # (request n fails when floor(n*rate) steps up, so the count telescopes).
                first = after[0]
                failing = math.floor((first + remaining) * rate) - math.floor(first * rate)
                self._advance_counters(app, deltas, remaining)
                if failing:
                    results.append((kinds[True], failing))
                if remaining - failing:
                    results.append((kinds[False], remaining - failing))
                break
        return results

    def _idle_timeout(self, stream: Stream) -> float:
        # A target slower than the load balancer's idle timeout gets a 504, as in Listeners.route.
        return float(self.world.listeners._idle_timeout(stream.listener_arn))

    @staticmethod
    def _advance_counters(app: Any, deltas: list[int], times: int) -> None:
        # The requests answered by count were still received by the app: its counters (shown in
        # /api/info, and the ERROR_RATE request numbers) must move as if each had been sent.
        for name, delta in zip(_APP_COUNTERS, deltas, strict=True):
            if delta:
                setattr(app, name, getattr(app, name) + delta * times)

    def _elb(
        self, now: float, stream: Stream, status: int, text: str, tg_arn: str | None = None, target: str | None = None
    ) -> Served:
        _, served = self.world.listeners._elb(now, stream.listener_arn, stream.path, status, text, tg_arn, target)
        return served

    # -- recording -----------------------------------------------------------------------------------
    def _observe(self, served: Served) -> None:
        """An observer of :class:`Listeners`: real HTTP requests (a learner's curl) are counted too."""
        self._count(math.floor(served.at), REAL, served, 1)

    def _notify(self, served: Served, times: int) -> None:
        """Pass a synthetic request to the listeners' observers (metrics), ``times`` times."""
        listeners: Listeners = self.world.listeners
        for observer in list(listeners.observers):
            if observer == self._observe:
                continue  # already counted, as synthetic
            many = getattr(getattr(observer, "__self__", None), "served_many", None)
            try:
                if callable(many):
                    many(served, times)  # an observer that can take a count at once
                else:
                    for _ in range(times):
                        observer(served)
            except Exception as exc:  # an observer (metrics) must never stop the users
                listeners._record_error(f"traffic observer {getattr(observer, '__qualname__', observer)}", exc)

    def _count(self, second: int, stream: str, served: Served, times: int) -> None:
        bucket = self.seconds.get(second)
        if bucket is None:
            bucket = self.seconds[second] = Counter()
            while len(self.seconds) > KEEP_SECONDS:
                del self.seconds[next(iter(self.seconds))]
        label = self._labels.get(served.listener_arn) or self.label(served.listener_arn) or "(deleted listener)"
        tg = served.target_group_arn
        tg_name = self._tg_names.get(tg)
        if tg_name is None and tg is not None:
            tg_name = self._tg_names[tg] = tg.split(":targetgroup/", 1)[-1].split("/", 1)[0]
        bucket[(stream, label, int(served.status), served.version, served.colour, tg_name)] += times

    # -- reading ---------------------------------------------------------------------------------------
    def origin(self) -> float:
        """The region clock's start instant (elapsed times are counted from it)."""
        status = self.world.clock.status()
        return float(status["epoch_seconds"]) - float(status["elapsed_seconds"])

    def _select(
        self, since: float | None, until: float | None, stream: str | None
    ) -> Iterator[tuple[int, Counter[Key]]]:
        low = -math.inf if since is None else math.floor(since)
        high = math.inf if until is None else until
        for second in sorted(self.seconds):
            if low <= second < high:
                bucket = self.seconds[second]
                if stream is not None:
                    bucket = Counter({k: v for k, v in bucket.items() if k[0] == stream})
                    if not bucket:
                        continue
                yield second, bucket

    def aggregates(
        self, since: float | None = None, until: float | None = None, stream: str | None = None
    ) -> dict[str, Any]:
        """The raw per-second counts in ``[since, until)`` (epoch seconds), as plain JSON data."""
        with self.world.lock:
            origin = self.origin()
            seconds = [
                {
                    "at": second,
                    "elapsed": second - origin,
                    "rows": [[*key, n] for key, n in sorted(bucket.items(), key=lambda kv: _sortable(kv[0]))],
                }
                for second, bucket in self._select(since, until, stream)
            ]
            return {
                "fields": [*FIELDS, "count"],
                "origin": origin,
                "streams": [s.describe() for s in self.streams.values()],
                "seconds": seconds,
            }

    def summary(
        self, since: float | None = None, until: float | None = None, stream: str | None = None
    ) -> dict[str, Any]:
        """The measurements of ``[since, until)``: totals, versions, failures, downtime, shares per second.

        A request *failed* when it got a 5xx (from the target or from the load balancer itself). A
        second is *down* when more than half of its requests failed; ``longest_downtime_seconds`` is
        the longest run of consecutive down seconds. For each version: its requests, failures, the
        first second it answered and the last.
        """
        with self.world.lock:
            origin = self.origin()
            return summarise(self._select(since, until, stream), origin, since, until, stream)

    def requests_to(
        self, version: str, since: float | None = None, until: float | None = None, stream: str | None = None
    ) -> int:
        """How many requests ``version`` answered in ``[since, until)``: a bad release's blast radius."""
        with self.world.lock:
            return sum(
                n for _, bucket in self._select(since, until, stream) for key, n in bucket.items() if key[3] == version
            )


def control(world: World, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The ``/_lab/traffic`` endpoints of the control API (see :mod:`.control`)."""
    traffic: Traffic = world.traffic
    if path == "/_lab/traffic/start" and method == "POST":
        arn = body.get("listener_arn")
        if not arn:
            if not body.get("load_balancer") or body.get("port") in (None, ""):
                raise LabError(
                    "Synthetic traffic needs a listener.",
                    'pass {"load_balancer": "my-app-alb", "port": 80} or {"listener_arn": "..."}.',
                )
            arn = traffic.find_listener(str(body["load_balancer"]), _port(body["port"]))
        headers = body.get("headers") or {}
        if not isinstance(headers, dict):
            raise LabError("headers must be a JSON object.", 'pass e.g. {"headers": {"X-Canary": "yes"}}.')
        stream = traffic.start(
            str(arn),
            body.get("rate", 10),
            path=str(body.get("path") or "/"),
            name=str(body.get("name") or "default"),
            seed=body.get("seed"),
            headers=headers,
            exact=bool(body.get("exact", False)),
        )
        with world.lock:
            return 200, {"started": stream.describe(), "clock": world.clock.status()}
    if path == "/_lab/traffic/streams" and method == "GET":
        with world.lock:
            return 200, {"streams": [s.describe() for s in traffic.streams.values()], "origin": traffic.origin()}
    if path == "/_lab/traffic/stop" and method == "POST":
        stopped = traffic.stop(body.get("name") or None)
        return 200, {"stopped": [s.describe() for s in stopped]}
    window = parse_time(body.get("since")), parse_time(body.get("until")), body.get("stream") or None
    if path == "/_lab/traffic" and method == "GET":
        return 200, traffic.aggregates(*window)
    if path == "/_lab/traffic/summary" and method == "GET":
        return 200, traffic.summary(*window)
    return 404, {"error": f"no control endpoint {method} {path}; see GET /_lab/status"}


def _port(value: Any) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = 0
    if not 1 <= port <= 65535:
        raise LabError(f"{value!r} is not a port number.", "pass the listener's port, e.g. 80 or 9000.")
    return port


def summarise(
    selected: Iterable[tuple[int, Counter[Key]]],
    origin: float,
    since: float | None = None,
    until: float | None = None,
    stream: str | None = None,
) -> dict[str, Any]:
    """The measurements of per-second counts (see :meth:`Traffic.summary`); plain JSON data."""
    total = failed = real = 0
    statuses: Counter[int] = Counter()
    versions: dict[str, dict[str, Any]] = {}
    per_second = []
    down: list[int] = []
    for second, bucket in selected:
        s_total = s_failed = 0
        s_versions: Counter[str] = Counter()
        for (name, _, status, version, colour, _), n in bucket.items():
            if not n:
                continue
            bad = is_failure(status)
            s_total += n
            s_failed += n if bad else 0
            statuses[status] += n
            if name == REAL:
                real += n
            if version is not None:
                s_versions[version] += n
                entry = versions.setdefault(
                    version,
                    {"version": version, "colours": [], "requests": 0, "failed": 0, "first_second": second},
                )
                entry["requests"] += n
                entry["failed"] += n if bad else 0
                entry["last_second"] = second
                if colour is not None and colour not in entry["colours"]:
                    entry["colours"].append(colour)
        total += s_total
        failed += s_failed
        if s_failed * 2 > s_total:
            down.append(second)
        per_second.append(
            {
                "at": second,
                "elapsed": second - origin,
                "total": s_total,
                "failed": s_failed,
                "versions": dict(sorted(s_versions.items())),
            }
        )
    windows = _streaks(down)
    for entry in versions.values():
        entry["colours"].sort()
        entry["first_elapsed"] = entry["first_second"] - origin
        entry["last_elapsed"] = entry["last_second"] - origin
    return {
        "since": since,
        "until": until,
        "stream": stream,
        "origin": origin,
        "first_second": per_second[0]["at"] if per_second else None,
        "last_second": per_second[-1]["at"] if per_second else None,
        "seconds": len(per_second),
        "total": total,
        "failed": failed,
        "ok": total - failed,
        "real": real,
        "answered_by_load_balancer": total - sum(v["requests"] for v in versions.values()),
        "statuses": {str(code): n for code, n in sorted(statuses.items())},
        "versions": sorted(versions.values(), key=lambda v: (v["first_second"], v["version"])),
        "downtime_seconds": len(down),
        "longest_downtime_seconds": max((end - start + 1 for start, end in windows), default=0),
        "downtime_windows": [[start, end] for start, end in windows],
        "per_second": per_second,
    }


def is_failure(status: int) -> bool:
    """A failed request: any 5xx, or no answer at all (status 0: the connection failed)."""
    return status >= 500 or status == 0


def _streaks(seconds: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for second in seconds:
        if runs and runs[-1][1] == second - 1:
            runs[-1] = (runs[-1][0], second)
        else:
            runs.append((second, second))
    return runs


def _rate(value: Any) -> Fraction:
    try:
        rate = Fraction(str(value)).limit_denominator(1000)
    except (TypeError, ValueError, ZeroDivisionError):
        raise LabError(f"The rate {value!r} is not a number.", "pass requests per second, e.g. 10 or 0.5.") from None
    if not 0 < rate <= MAX_RATE:
        raise LabError(
            f"A rate of {value} requests per second is out of range.",
            f"use a rate above 0 and at most {MAX_RATE} (e.g. 10, or 0.5 for one request every 2 s).",
        )
    return rate


def _error_rate(app: Any) -> Fraction | None:
    """The sample app's ``ERROR_RATE`` as an exact fraction (None for an app without one)."""
    exact = getattr(app, "_error_rate", None)
    if isinstance(exact, Fraction):
        return exact
    value = getattr(app, "error_rate", None)
    return Fraction(str(value)) if isinstance(value, int | float) else None


def _float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _sortable(key: Key) -> tuple[Any, ...]:
    return tuple("" if part is None else part for part in key)


def parse_time(value: Any) -> float | None:
    """Epoch seconds from a number, a numeric string or an ISO-8601 instant (``...Z``); None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise LabError(
            f"Cannot read the instant {value!r}.", "pass epoch seconds or an ISO time like 2026-01-05T09:01:30Z."
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


__all__ = ["FIELDS", "REAL", "Stream", "Traffic", "is_failure", "parse_time", "summarise"]
