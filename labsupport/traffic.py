"""Users for your load balancer, and what they saw during a deployment.

A release is zero-downtime only if the people using the service never notice it. To see that, the
lab sends a steady load through the load balancer while you deploy, and counts every answer: which
version served it, whether it failed, for how long more than half of the requests failed.

Offline, the region sends that load itself, on its virtual clock, so a 75-minute canary is measured
in seconds and gives the same numbers on every run:

    >>> from labsupport import traffic, clock
    >>> traffic.start(rate=50)            # 50 requests per virtual second to the listener on port 80
    >>> clock.advance("5m")               # ... deploy, advance, watch ...
    >>> print(traffic.summary())          # versions, failures, downtime
    >>> traffic.stop()

Real HTTP requests you send yourself (``curl``, a browser, :func:`probe`) are counted as well,
marked as real. On real AWS there is no virtual clock to carry synthetic users, so :func:`start`
and friends explain that and point to :func:`probe`, which sends real requests (to either) and
tallies the ``X-App-Version`` / ``X-App-Colour`` headers of the answers.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import offline
from .errors import LabError
from .lab import Lab, current

MAX_PROBE = 1000  # requests per probe: enough to see a 1 % canary, small enough to be polite

Instant = datetime | float | int | str | None


# -- results -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stream:
    """One synthetic load running in the offline region."""

    name: str
    listener: str  # "my-app-alb:80"
    rate: float
    path: str
    started_at: datetime
    sent: int = 0

    def __str__(self) -> str:
        return (
            f"traffic {self.name!r}: {_rate(self.rate)} to {self.listener} {self.path} "
            f"(started {_hms(self.started_at)} UTC, {self.sent} requests sent)"
        )


@dataclass(frozen=True)
class Second:
    """The requests of one virtual second."""

    at: datetime
    elapsed: float  # seconds since the region's clock started
    total: int
    failed: int
    versions: dict[str, int] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    target_groups: dict[str, int] = field(default_factory=dict)
    real: int = 0  # of which came in over real HTTP (curl, a browser, probe)

    def share(self, version: str) -> float:
        """The fraction of this second's requests that ``version`` answered (0.0 to 1.0)."""
        return self.versions.get(version, 0) / self.total if self.total else 0.0


@dataclass(frozen=True)
class Series:
    """Requests per virtual second, oldest first (the deployment player draws these as stacked bars)."""

    seconds: tuple[Second, ...]

    @property
    def versions(self) -> list[str]:
        """Every version that answered, in order of first appearance."""
        return list(dict.fromkeys(v for s in self.seconds for v in s.versions))

    def __len__(self) -> int:
        return len(self.seconds)

    def __str__(self) -> str:
        if not self.seconds:
            return "no requests recorded in this window"
        # Consecutive seconds that look alike (same versions, same share to the percent, failing
        # or not) are one line, so an hour of steady traffic is a few lines, not 3,600.
        lines, run = [], [self.seconds[0]]
        for second in self.seconds[1:]:
            if _shape(second) == _shape(run[-1]) and second.elapsed == run[-1].elapsed + 1:
                run.append(second)
            else:
                lines.append(_run_line(run))
                run = [second]
        lines.append(_run_line(run))
        return "\n".join(lines)


@dataclass(frozen=True)
class VersionStats:
    """What one version of the app answered in the window."""

    version: str
    colours: tuple[str, ...]
    requests: int
    failed: int
    first: datetime  # the first second it answered a request
    last: datetime  # the last second it answered one
    first_elapsed: float
    last_elapsed: float

    def __str__(self) -> str:
        colours = f" ({', '.join(self.colours)})" if self.colours else ""
        return (
            f"{self.version}{colours}: {_n(self.requests, 'request')}, {self.failed} failed, "
            f"answered from {_hms(self.first)} to {_hms(self.last)}"
        )


@dataclass(frozen=True)
class Share:
    """One second of the summary: how many requests, how many failed, and each version's count."""

    at: datetime
    elapsed: float
    total: int
    failed: int
    versions: dict[str, int]


@dataclass(frozen=True)
class Summary:
    """The deployment measurements of a window: what the users saw."""

    total: int
    failed: int
    real: int
    answered_by_load_balancer: int  # 502/503/504 and fixed responses: no version answered
    statuses: dict[int, int]
    versions: tuple[VersionStats, ...]
    downtime_seconds: int  # seconds in which more than half of the requests failed
    longest_downtime_seconds: int
    downtime_windows: tuple[tuple[datetime, datetime], ...]
    per_second: tuple[Share, ...]
    first: datetime | None
    last: datetime | None

    @property
    def ok(self) -> int:
        return self.total - self.failed

    @property
    def failure_rate(self) -> float:
        return self.failed / self.total if self.total else 0.0

    def version(self, name: str) -> VersionStats | None:
        """The figures of one version (None if it answered nothing in the window)."""
        return next((v for v in self.versions if v.version == name), None)

    def requests_to(self, version: str) -> int:
        """How many requests ``version`` answered in the window: a bad release's blast radius."""
        found = self.version(version)
        return found.requests if found else 0

    def __str__(self) -> str:
        if not self.total or self.first is None or self.last is None:
            return "no requests recorded in this window"
        seconds = len(self.per_second)
        head = (
            f"{_n(self.total, 'request')} from {_hms(self.first)} to {_hms(self.last)} UTC "
            f"({_n(seconds, 'second')} with traffic): {self.failed} failed ({self.failure_rate:.1%})"
        )
        if self.downtime_seconds:
            head += (
                f", down for {_n(self.downtime_seconds, 'second')} (longest {self.longest_downtime_seconds} s in a row)"
            )
        else:
            head += ", no downtime"
        lines = [head]
        lines += [f"  {v}" for v in self.versions]
        if self.answered_by_load_balancer:
            codes = ", ".join(f"{n} × {c}" for c, n in sorted(self.statuses.items()) if c >= 500 or c == 0)
            lines.append(f"  the load balancer itself answered {self.answered_by_load_balancer} ({codes})")
        if self.real:
            lines.append(f"  {_n(self.real, 'request')} came in over real HTTP (curl, a browser, probe)")
        return "\n".join(lines)


@dataclass(frozen=True)
class Probe:
    """What real HTTP requests to one URL got back."""

    sent: int
    statuses: dict[int, int]  # 0: no answer (connection refused, timeout)
    versions: dict[str, int]
    colours: dict[str, int]

    @property
    def failed(self) -> int:
        """5xx answers and requests that got no answer at all."""
        return sum(n for code, n in self.statuses.items() if code >= 500 or code == 0)

    def __str__(self) -> str:
        codes = ", ".join(f"{n} × {code if code else 'no answer'}" for code, n in sorted(self.statuses.items()))
        versions = ", ".join(f"{v} {n}" for v, n in self.versions.items()) or "no version header"
        return f"{_n(self.sent, 'request')}: {codes}; versions: {versions}; {self.failed} failed"


# -- offline: the region's synthetic traffic ------------------------------------------------------------


def start(
    rate: float = 10,
    port: int = 80,
    lab: Lab | None = None,
    *,
    name: str = "default",
    path: str = "/",
    load_balancer: str | None = None,
    headers: dict[str, str] | None = None,
    seed: str | int | None = None,
) -> Stream:
    """Send ``rate`` requests per virtual second to the load balancer's listener on ``port``.

    The load starts at the next whole virtual second and runs until :func:`stop`, only while the
    clock moves (advance it, or let it run with ``clock.realtime()``). Starting a stream with a
    name that is running replaces it.
    """
    lab = lab or current()
    endpoint = _endpoint(lab, "start")
    body: dict[str, Any] = {
        "load_balancer": load_balancer or str(lab.config.raw["load_balancer"]["name"]),
        "port": int(port),
        "rate": rate,
        "name": name,
        "path": path,
    }
    if headers:
        body["headers"] = dict(headers)
    if seed is not None:
        body["seed"] = seed
    answer = _control(endpoint, "/_lab/traffic/start", body)
    return _stream(answer["started"])


def stop(name: str | None = None, lab: Lab | None = None) -> list[Stream]:
    """Stop the stream ``name`` (every stream by default). Returns what was stopped."""
    lab = lab or current()
    answer = _control(_endpoint(lab, "stop"), "/_lab/traffic/stop", {"name": name})
    return [_stream(s) for s in answer["stopped"]]


def running(lab: Lab | None = None) -> list[Stream]:
    """The streams sending right now."""
    lab = lab or current()
    answer = _control(_endpoint(lab, "running"), "/_lab/traffic/streams")
    return [_stream(s) for s in answer["streams"]]


def series(
    since: Instant = None, until: Instant = None, lab: Lab | None = None, *, stream: str | None = None
) -> Series:
    """Requests per virtual second in ``[since, until)`` (datetimes, epoch seconds or ISO strings).

    ``stream`` keeps one synthetic stream (or ``"real"``: only real HTTP requests).
    """
    lab = lab or current()
    answer = _control(_endpoint(lab, "series"), _query("/_lab/traffic", since, until, stream))
    index = {name: i for i, name in enumerate(answer["fields"])}
    seconds = []
    for row in answer["seconds"]:
        versions: Counter[str] = Counter()
        statuses: Counter[int] = Counter()
        groups: Counter[str] = Counter()
        real = 0
        for item in row["rows"]:
            n = int(item[index["count"]])
            status = int(item[index["status"]])
            statuses[status] += n
            if item[index["version"]] is not None:
                versions[str(item[index["version"]])] += n
            if item[index["target_group"]] is not None:
                groups[str(item[index["target_group"]])] += n
            if item[index["stream"]] == "real":
                real += n
        total = sum(statuses.values())
        seconds.append(
            Second(
                at=_when(row["at"]),
                elapsed=float(row["elapsed"]),
                total=total,
                failed=sum(n for code, n in statuses.items() if code >= 500 or code == 0),
                versions=dict(sorted(versions.items())),
                statuses=dict(sorted(statuses.items())),
                target_groups=dict(sorted(groups.items())),
                real=real,
            )
        )
    return Series(tuple(seconds))


def summary(
    since: Instant = None, until: Instant = None, lab: Lab | None = None, *, stream: str | None = None
) -> Summary:
    """The measurements of ``[since, until)``: versions, failures, downtime (see :class:`Summary`)."""
    lab = lab or current()
    data = _control(_endpoint(lab, "summary"), _query("/_lab/traffic/summary", since, until, stream))
    return summary_from(data)


def requests_to(
    version: str, since: Instant = None, until: Instant = None, lab: Lab | None = None, *, stream: str | None = None
) -> int:
    """How many requests ``version`` answered in ``[since, until)``: the blast radius of a bad release."""
    return summary(since, until, lab, stream=stream).requests_to(version)


def summary_from(data: dict[str, Any]) -> Summary:
    """A :class:`Summary` from the JSON of ``GET /_lab/traffic/summary``."""
    versions = tuple(
        VersionStats(
            version=str(v["version"]),
            colours=tuple(v["colours"]),
            requests=int(v["requests"]),
            failed=int(v["failed"]),
            first=_when(v["first_second"]),
            last=_when(v["last_second"]),
            first_elapsed=float(v["first_elapsed"]),
            last_elapsed=float(v["last_elapsed"]),
        )
        for v in data["versions"]
    )
    shares = tuple(
        Share(_when(s["at"]), float(s["elapsed"]), int(s["total"]), int(s["failed"]), dict(s["versions"]))
        for s in data["per_second"]
    )
    return Summary(
        total=int(data["total"]),
        failed=int(data["failed"]),
        real=int(data["real"]),
        answered_by_load_balancer=int(data["answered_by_load_balancer"]),
        statuses={int(code): int(n) for code, n in data["statuses"].items()},
        versions=versions,
        downtime_seconds=int(data["downtime_seconds"]),
        longest_downtime_seconds=int(data["longest_downtime_seconds"]),
        downtime_windows=tuple((_when(a), _when(b)) for a, b in data["downtime_windows"]),
        per_second=shares,
        first=_when(data["first_second"]) if data["first_second"] is not None else None,
        last=_when(data["last_second"]) if data["last_second"] is not None else None,
    )


# -- both: real HTTP ------------------------------------------------------------------------------------


def probe(
    url: str,
    n: int = 20,
    *,
    timeout: float = 5.0,
    interval: float = 0.0,
    headers: dict[str, str] | None = None,
) -> Probe:
    """Send ``n`` real GET requests to ``url`` and tally the answers' status, version and colour.

    Works offline (``loadbalancer.url(80)``: the region counts these as real requests, all in the
    current virtual second) and on AWS (the load balancer's DNS name). ``interval`` waits that many
    real seconds between requests (at most 10), to spread a probe over a deployment on AWS.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LabError(f"{url!r} is not an http:// or https:// URL.", "pass e.g. labsupport.loadbalancer.url(80).")
    if not 1 <= int(n) <= MAX_PROBE:
        raise LabError(f"A probe of {n} requests is out of range.", f"send between 1 and {MAX_PROBE} requests.")
    if not 0 <= interval <= 10:
        raise LabError(f"An interval of {interval} s is out of range.", "wait between 0 and 10 seconds.")
    # The lab's loopback listeners must never go through a proxy the machine may have configured.
    local = parts.hostname in ("127.0.0.1", "localhost", "::1")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({})) if local else urllib.request.build_opener()
    statuses: Counter[int] = Counter()
    versions: Counter[str] = Counter()
    colours: Counter[str] = Counter()
    for i in range(int(n)):
        if i and interval:
            time.sleep(interval)
        request = urllib.request.Request(url, headers=dict(headers or {}), method="GET")
        try:
            with opener.open(request, timeout=timeout) as answer:
                status, got = answer.status, answer.headers
                answer.read()
        except urllib.error.HTTPError as err:  # 4xx/5xx still carry the app's headers (or the ALB's)
            status, got = err.code, err.headers
            err.close()
        except (OSError, urllib.error.URLError):
            statuses[0] += 1
            continue
        statuses[int(status)] += 1
        if got.get("X-App-Version"):
            versions[urllib.parse.unquote(got["X-App-Version"])] += 1
        if got.get("X-App-Colour"):
            colours[urllib.parse.unquote(got["X-App-Colour"])] += 1
    return Probe(int(n), dict(sorted(statuses.items())), dict(versions), dict(colours))


# -- helpers -------------------------------------------------------------------------------------------


def _endpoint(lab: Lab, what: str) -> str:
    if not lab.offline:
        raise LabError(
            f"traffic.{what}() works only offline: synthetic users run on the offline region's virtual "
            "clock, and real AWS has no such clock (nor a way for the lab to send load from inside AWS).",
            "on real AWS, send real requests while you deploy: "
            "labsupport.traffic.probe(labsupport.loadbalancer.url(80), 50) tallies which versions answer.",
        )
    return lab.endpoint or offline.require().endpoint


def _control(endpoint: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """The region's control API; a refusal keeps the region's own problem and fix (not "check the value")."""
    try:
        return offline.control(endpoint, path, body, timeout=120)
    except LabError as err:
        head, sep, fix = err.problem.rpartition(" Fix: ")
        if not sep:
            raise
        prefix = f"The offline region refused {path.split('?', 1)[0]}: "
        raise LabError(head.removeprefix(prefix), fix) from None


def _query(path: str, since: Instant, until: Instant, stream: str | None) -> str:
    params = {
        k: v for k, v in (("since", _epoch(since)), ("until", _epoch(until)), ("stream", stream)) if v is not None
    }
    return f"{path}?{urllib.parse.urlencode(params)}" if params else path


def _epoch(value: Instant) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        when = value if value.tzinfo else value.replace(tzinfo=UTC)
        return repr(when.timestamp())
    if isinstance(value, int | float):
        return repr(float(value))
    return str(value)


def _stream(data: dict[str, Any]) -> Stream:
    return Stream(
        name=str(data["name"]),
        listener=str(data["listener"]),
        rate=float(data["rate"]),
        path=str(data["path"]),
        started_at=_when(data["started_at"]),
        sent=int(data["sent"]),
    )


def _when(epoch: float) -> datetime:
    return datetime.fromtimestamp(float(epoch), tz=UTC)


def _hms(when: datetime) -> str:
    return when.strftime("%H:%M:%S")


def _n(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _rate(rate: float) -> str:
    return f"{rate:g} request{'' if rate == 1 else 's'}/s"


def _shape(second: Second) -> tuple[Any, ...]:
    shares = tuple((v, round(100 * n / second.total)) for v, n in second.versions.items()) if second.total else ()
    return shares, second.failed * 2 > second.total, second.total - sum(second.versions.values()) > 0


def _run_line(run: list[Second]) -> str:
    first, last = run[0], run[-1]
    total = sum(s.total for s in run)
    failed = sum(s.failed for s in run)
    versions: Counter[str] = Counter()
    for s in run:
        versions.update(s.versions)
    parts = [f"{v} {100 * n / total:.0f}%" for v, n in versions.items()]
    if total - sum(versions.values()):
        parts.append(f"load balancer {100 * (total - sum(versions.values())) / total:.0f}%")
    when = _hms(first.at) if len(run) == 1 else f"{_hms(first.at)}-{_hms(last.at)}"
    down = "  DOWN" if failed * 2 > total else ""
    return f"{when}  {len(run):>4} s  {_n(total, 'request'):>16}  {', '.join(parts)}  ({failed} failed){down}"


__all__ = [
    "Probe",
    "Second",
    "Series",
    "Share",
    "Stream",
    "Summary",
    "VersionStats",
    "probe",
    "requests_to",
    "running",
    "series",
    "start",
    "stop",
    "summary",
    "summary_from",
]
