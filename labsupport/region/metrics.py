"""ALB metrics in CloudWatch, and CloudWatch alarms that really evaluate, on the virtual clock.

moto stores metric data and alarms but never produces ALB metrics and never evaluates an alarm: an
alarm created with ``put_metric_alarm`` says ``OK`` forever (moto-gaps §6). A real region does both,
and the lab's blue/green lessons depend on it (a rollback alarm on ``HTTPCode_Target_5XX_Count``).
This module does what ELB and CloudWatch do, once per virtual minute:

1. **Publish** the minute that just ended into moto's CloudWatch backend, namespace
   ``AWS/ApplicationELB``, with AWS's metric names and dimensions (``LoadBalancer`` =
   ``app/<name>/<id>``, ``TargetGroup`` = ``targetgroup/<name>/<id>``), timestamped at the start of
   the minute in virtual time. Counts come from every request through a loopback listener
   (:attr:`Listeners.observers`); host counts from the target-health engine.
2. **Evaluate** every metric alarm the way CloudWatch documents it (Period, EvaluationPeriods,
   DatapointsToAlarm, TreatMissingData, the evaluation range and the "premature alarm" rule) and set
   its state with moto's ``set_alarm_state``, so ``describe_alarms`` shows AWS's StateValue,
   StateReason and StateReasonData.

What AWS publishes, and so what this module publishes (ALB user guide, "CloudWatch metrics for your
Application Load Balancer"):

- Per load balancer: ``HTTPCode_ELB_3XX/4XX/5XX_Count``, ``HTTPCode_ELB_500/502/503/504_Count``
  (responses the load balancer generated itself), ``HTTPCode_Target_2XX..5XX_Count`` (responses of
  targets), ``HTTP_Redirect_Count``, ``TargetResponseTime`` and ``RequestCount``.
- Per target group and load balancer: ``RequestCount``, ``HTTPCode_Target_*_Count``,
  ``TargetResponseTime``, ``HealthyHostCount``, ``UnHealthyHostCount``.
- Count metrics only for minutes in which they are non-zero ("Reporting criteria: There is a
  nonzero value"), so an alarm on a quiet load balancer sees *missing* data, not zeros.
- ``RequestCount`` "is only incremented for requests where the load balancer node was able to
  choose a target. Requests that are rejected before a target is chosen are not reflected in this
  metric" and is "reported if there are registered targets". So the 503 an ALB answers for a target
  group without targets shows in ``HTTPCode_ELB_503_Count``, **not** in ``RequestCount``.
- ``HealthyHostCount`` / ``UnHealthyHostCount`` every minute for every target group a listener
  uses, traffic or not; the value is the time-weighted average over the minute (a target that went
  unhealthy 35 s into the minute gives 25/60), with Minimum and Maximum over the minute.
- Health checks are not requests: they never count.

Lab choices, where AWS publishes no number or the region lacks the data:

- ``TargetResponseTime`` is :data:`BASE_RESPONSE_SECONDS` plus the app's ``X-App-Delay-Ms`` when the
  served record carries it (an attribute ``delay_ms`` on :class:`~.listeners.Served`; listeners.py
  does not record it yet, so today every response takes the base time).
- The evaluation range (how far back CloudWatch looks when recent datapoints are missing) is
  ``EvaluationPeriods + EVALUATION_RANGE_EXTRA`` periods; AWS's one documented example retrieves 5
  datapoints for 3 evaluation periods. So, as on AWS, an alarm keeps re-evaluating its last real
  datapoints for a couple of periods after a metric stops flowing.
- Evaluation windows end at the evaluation minute: at 09:06:00 a 60 s alarm sees the 09:05 datapoint.
  An alarm is first evaluated at the minute after its creation, and only state *changes* are written.
- The tick is one clock event per virtual minute from the moment the region starts (so the clock
  always shows one pending event); with no load balancer and no alarm it finds nothing to do.
- ``HTTP_Fixed_Response_Count`` is not published: a served record does not say whether a response
  came from a ``fixed-response`` action or from the load balancer's own error page.
- The ``AvailabilityZone`` dimension variants are not published. Metric-math and anomaly-detection
  alarms, and composite alarms, are left in their state (moto stores them; nothing evaluates them).
- ``DescribeAlarmHistory`` is not implemented by moto; every state change is kept in
  :attr:`Metrics.alarm_history` (AWS's item shape) for the control API to serve.

moto corrections made here (installed once per process, harmless twice), because they are about
CloudWatch's behaviour in virtual time:

- a new alarm starts ``INSUFFICIENT_DATA`` ("Unchecked: Initial alarm creation"), and updating an
  alarm keeps its state ("When you update an existing alarm, its state is left unchanged"); moto
  started every alarm ``OK`` and reset it on update;
- alarm timestamps and ``put_metric_data`` without ``Timestamp`` use the virtual clock, not the wall
  clock (otherwise a learner's datapoint would land months away from the region's "now");
- ``get_metric_statistics`` matches the dimension set exactly, as AWS does ("You must specify the
  same dimensions that were used when the metrics were created"); moto summed every series whose
  dimensions *contained* the requested ones, so ``RequestCount`` by ``LoadBalancer`` also added the
  per-target-group series and came out doubled;
- moto's ``Dimension`` sorted inconsistently, so ``get_metric_data`` missed series when the
  dimensions were given in another order; and ``list_metrics`` listed a metric with two dimensions
  once per datapoint instead of once.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..errors import LabError
from .health import forward_targets

if TYPE_CHECKING:
    from .health import Change
    from .listeners import Served
    from .runtime import World

NAMESPACE = "AWS/ApplicationELB"
MINUTE = 60
BASE_RESPONSE_SECONDS = 0.005
EVALUATION_RANGE_EXTRA = 2
RETENTION_MINUTES = 15 * 24 * 60  # AWS keeps 60-second datapoints for 15 days
HISTORY_LIMIT = 5000

COUNT_METRICS = (
    "RequestCount",
    "HTTPCode_ELB_3XX_Count",
    "HTTPCode_ELB_4XX_Count",
    "HTTPCode_ELB_5XX_Count",
    "HTTPCode_ELB_500_Count",
    "HTTPCode_ELB_502_Count",
    "HTTPCode_ELB_503_Count",
    "HTTPCode_ELB_504_Count",
    "HTTPCode_Target_2XX_Count",
    "HTTPCode_Target_3XX_Count",
    "HTTPCode_Target_4XX_Count",
    "HTTPCode_Target_5XX_Count",
    "HTTP_Redirect_Count",
)
AVERAGE_METRICS = ("TargetResponseTime", "HealthyHostCount", "UnHealthyHostCount")
METRICS = COUNT_METRICS + AVERAGE_METRICS

OK, ALARM, INSUFFICIENT = "OK", "ALARM", "INSUFFICIENT_DATA"
MISSING, IGNORE, BREACHING, NOT_BREACHING = "missing", "ignore", "breaching", "notBreaching"

_COMPARISONS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    "GreaterThanThreshold": ("greater than", lambda v, t: v > t),
    "GreaterThanOrEqualToThreshold": ("greater than or equal to", lambda v, t: v >= t),
    "LessThanThreshold": ("less than", lambda v, t: v < t),
    "LessThanOrEqualToThreshold": ("less than or equal to", lambda v, t: v <= t),
}


# -- small helpers ---------------------------------------------------------------------------------


def load_balancer_dimension(lb_arn: str) -> str:
    """``app/<name>/<id>``: the ``LoadBalancer`` dimension value of an ALB ARN."""
    return lb_arn.split(":loadbalancer/", 1)[-1]


def target_group_dimension(tg_arn: str) -> str:
    """``targetgroup/<name>/<id>``: the ``TargetGroup`` dimension value of a target group ARN."""
    return tg_arn.rsplit(":", 1)[-1]


def load_balancer_of_listener(listener_arn: str) -> str | None:
    """The load balancer ARN inside a listener ARN (``...:listener/app/<name>/<lb-id>/<id>``)."""
    head, sep, path = listener_arn.partition(":listener/")
    parts = path.split("/")
    if not sep or len(parts) != 4:
        return None
    return f"{head}:loadbalancer/{'/'.join(parts[:3])}"


def _minute(at: float) -> int:
    return int(math.floor(at / MINUTE) * MINUTE)


def _naive_utc(epoch: float) -> datetime:
    # moto keeps CloudWatch timestamps as naive UTC datetimes; mixing in aware ones breaks its comparisons.
    return datetime.fromtimestamp(epoch, tz=UTC).replace(tzinfo=None)


def _epoch(when: datetime) -> float:
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _number(value: float) -> str:
    return repr(float(value))  # 3.0, 0.005: how CloudWatch writes values in a StateReason


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _was(count: int) -> str:
    return "was" if count == 1 else "were"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


# -- the M-out-of-N decision, as CloudWatch documents it ----------------------------------------------


@dataclass(frozen=True)
class Decision:
    """The outcome of one evaluation: the new state (None = keep the current one) and why.

    ``used`` are the indexes (0 = the most recent period) of the real datapoints the decision
    rests on; ``filled`` is how many missing datapoints were filled in with ``TreatMissingData``.
    """

    state: str | None
    used: tuple[int, ...]
    filled: int
    breaching: int
    premature: bool = False


def decide(window: Sequence[bool | None], evaluation_periods: int, datapoints_to_alarm: int, treat: str) -> Decision:
    """Decide an alarm's state from its evaluation range, most recent period first.

    ``window[i]`` is True (breaching), False (not breaching) or None (missing) for the period that
    ended ``i`` periods before the evaluation. This is CloudWatch's documented procedure:

    - if the range holds at least N real datapoints, the N most recent real ones decide and
      ``TreatMissingData`` is not used;
    - otherwise every real datapoint is used and the rest is filled in: ``breaching`` and
      ``notBreaching`` fill as their names say; ``missing`` and ``ignore`` fill with nothing that
      breaches, except that the alarm goes to ALARM when all real datapoints breach and the oldest
      is at least M periods old (the "premature alarm" rule: ``- - X - -`` alarms for 3 of 3);
      ``ignore`` keeps the current state instead;
    - with no real datapoint at all: ``missing`` → INSUFFICIENT_DATA, ``ignore`` → unchanged,
      ``breaching`` → ALARM, ``notBreaching`` → OK.
    """
    n = max(1, int(evaluation_periods))
    m = min(max(1, int(datapoints_to_alarm)), n)
    real = [i for i, value in enumerate(window) if value is not None]
    if len(real) >= n:
        used = tuple(real[:n])
        breaching = sum(1 for i in used if window[i])
        return Decision(ALARM if breaching >= m else OK, used, 0, breaching)
    filled = n - len(real)
    breaching = sum(1 for i in real if window[i])
    if not real:
        state = {BREACHING: ALARM, NOT_BREACHING: OK, IGNORE: None}.get(treat, INSUFFICIENT)
        return Decision(state, (), filled, filled if treat == BREACHING else 0)
    if treat == BREACHING:
        return Decision(ALARM if breaching + filled >= m else OK, tuple(real), filled, breaching + filled)
    if treat == NOT_BREACHING or breaching >= m:
        return Decision(ALARM if breaching >= m else OK, tuple(real), filled, breaching)
    if breaching == len(real) and real[-1] + 1 >= m:
        return Decision(None if treat == IGNORE else ALARM, tuple(real), filled, breaching, premature=True)
    return Decision(OK, tuple(real), filled, breaching)


# -- the in-memory index of CloudWatch data (for alarms) ----------------------------------------------


@dataclass(frozen=True)
class _Entry:
    count: float
    total: float
    low: float
    high: float
    unit: str | None
    values: tuple[tuple[float, float], ...] | None  # (value, how many) when percentiles are possible


@dataclass
class _Series:
    keys: list[tuple[float, int]] = field(default_factory=list)
    entries: list[_Entry] = field(default_factory=list)

    def add(self, at: float, seq: int, entry: _Entry) -> None:
        index = bisect.bisect_right(self.keys, (at, seq))
        self.keys.insert(index, (at, seq))
        self.entries.insert(index, entry)

    def between(self, start: float, end: float) -> list[_Entry]:
        low = bisect.bisect_left(self.keys, (start, -1))
        high = bisect.bisect_left(self.keys, (end, -1))
        return self.entries[low:high]


SeriesKey = tuple[str, str, frozenset[tuple[str, str]]]


def statistic(entries: Sequence[_Entry], stat: str) -> float | None:
    """One CloudWatch statistic (``Sum``, ``Average``, ..., or ``p99``) over a period's entries."""
    if not entries:
        return None
    count = sum(e.count for e in entries)
    if stat == "Sum":
        return sum(e.total for e in entries)
    if stat == "SampleCount":
        return count
    if stat == "Average":
        return sum(e.total for e in entries) / count if count else None
    if stat == "Minimum":
        return min(e.low for e in entries)
    if stat == "Maximum":
        return max(e.high for e in entries)
    if stat.startswith("p"):
        try:
            rank_share = float(stat[1:]) / 100.0
        except ValueError:
            return None
        if not 0 <= rank_share <= 1 or any(e.values is None for e in entries):
            return None  # percentiles need the raw values (or statistic sets with min == max)
        points = sorted(v for e in entries for v in (e.values or ()))
        total = sum(c for _, c in points)
        if total <= 0:
            return None
        rank = max(1, math.ceil(rank_share * total))  # nearest-rank percentile
        seen = 0.0
        for value, how_many in points:
            seen += how_many
            if seen >= rank:
                return value
        return points[-1][0]
    return None


# -- per-minute accumulation ---------------------------------------------------------------------------


@dataclass
class _Bucket:
    """One load balancer, or one (target group, load balancer), during one minute."""

    counts: Counter[str] = field(default_factory=Counter)
    response_times: Counter[float] = field(default_factory=Counter)
    requests: int = 0  # every request, including those rejected before a target was chosen


@dataclass
class _Hosts:
    """Healthy/unhealthy target counts of one target group since the start of the current minute."""

    since: float
    healthy: int
    unhealthy: int
    area_healthy: float = 0.0
    area_unhealthy: float = 0.0
    seen_healthy: list[int] = field(default_factory=list)
    seen_unhealthy: list[int] = field(default_factory=list)

    def advance(self, now: float) -> None:
        span = now - self.since
        if span > 0:
            self.area_healthy += self.healthy * span
            self.area_unhealthy += self.unhealthy * span
            self.seen_healthy.append(self.healthy)
            self.seen_unhealthy.append(self.unhealthy)
            self.since = now

    def close(self, minute_end: float) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        """(average, minimum, maximum) of healthy and of unhealthy over the minute; starts the next one."""
        self.advance(minute_end)
        healthy = self.seen_healthy or [self.healthy]
        unhealthy = self.seen_unhealthy or [self.unhealthy]
        result = (
            (self.area_healthy / MINUTE, float(min(healthy)), float(max(healthy))),
            (self.area_unhealthy / MINUTE, float(min(unhealthy)), float(max(unhealthy))),
        )
        self.area_healthy = self.area_unhealthy = 0.0
        self.seen_healthy, self.seen_unhealthy = [], []
        self.since = minute_end
        return result


# -- the engine ----------------------------------------------------------------------------------------


class Metrics:
    """ALB metrics and alarm evaluation for one region (see the module docstring)."""

    def __init__(self, world: World, patch_moto: bool = True) -> None:
        """Subscribe to the world's requests and health changes and start the minute tick.

        ``patch_moto`` installs the CloudWatch corrections (see the module docstring); the region
        always does, a unit test with a stand-in backend need not import moto at all.
        """
        self.world = world
        if patch_moto:
            install_moto_patches()
        self._buckets: dict[int, dict[tuple[str | None, str], _Bucket]] = {}
        self._hosts: dict[str, _Hosts] = {}
        self._series: dict[tuple[str, str], dict[int, list[float]]] = {}
        self._index: dict[SeriesKey, _Series] = {}
        self._source: Any = None  # moto's metric_data list the index was built from
        self._indexed = 0
        self._seq = itertools.count()
        self._event: Any = None
        self.alarm_history: list[dict[str, Any]] = []
        world.listeners.observers.append(self._served)
        world.health.listeners.append(self._health_changed)
        self._arm()

    # -- lifecycle -------------------------------------------------------------------------------
    def clear(self) -> None:
        """Forget every datapoint and alarm history, and re-arm the minute tick (after a reset)."""
        self._buckets.clear()
        self._hosts.clear()
        self._series.clear()
        self._index.clear()
        self._source, self._indexed = None, 0
        self.alarm_history.clear()
        self._arm()

    def _arm(self) -> None:
        if self._event is not None:
            self.world.clock.cancel(self._event)
        due = _minute(self.world.clock.now()) + MINUTE
        self._event = self.world.clock.call_at(due, self._tick, name="metrics: ALB metrics and alarms")

    def _tick(self) -> None:
        now = _minute(self.world.clock.now())
        # Re-arm first: a failure in one minute must not stop metrics for the rest of the session.
        self._event = self.world.clock.call_at(now + MINUTE, self._tick, name="metrics: ALB metrics and alarms")
        self.publish(now)
        self.evaluate_alarms(now)

    # -- reading (for the lab) ---------------------------------------------------------------------
    def series(self, arn: str, metric: str) -> list[tuple[int, float]]:
        """Per-minute values of ``metric`` for a load balancer or target group ARN, oldest first.

        Each item is ``(minute_epoch_seconds, value)``: the Sum for count metrics, the Average for
        ``TargetResponseTime``, ``HealthyHostCount`` and ``UnHealthyHostCount``. A target group used
        by several load balancers adds their counts. Minutes without a datapoint are absent, as in
        CloudWatch.
        """
        if metric not in METRICS:
            raise LabError(
                f"'{metric}' is not an Application Load Balancer metric the lab region publishes.",
                f"Use one of: {', '.join(METRICS)}.",
            )
        with self.world.lock:
            points = self._series.get((arn, metric), {})
            return [(minute, _series_value(metric, pair)) for minute, pair in sorted(points.items())]

    def summary(self) -> dict[str, dict[str, list[list[float]]]]:
        """Every recorded series as plain JSON data: ``{arn: {metric: [[minute, value], ...]}}``."""
        with self.world.lock:
            result: dict[str, dict[str, list[list[float]]]] = {}
            for (arn, metric), points in sorted(self._series.items()):
                result.setdefault(arn, {})[metric] = [
                    [minute, _series_value(metric, pair)] for minute, pair in sorted(points.items())
                ]
            return result

    # -- inputs ------------------------------------------------------------------------------------
    def _served(self, served: Served) -> None:
        self.served_many(served, 1)

    def served_many(self, served: Served, count: int) -> None:
        """Count ``count`` identical requests at once (synthetic traffic sends thousands per second)."""
        if count <= 0:
            return
        lb_arn = load_balancer_of_listener(served.listener_arn)
        if lb_arn is None or ":loadbalancer/app/" not in lb_arn:
            return  # a Network Load Balancer's metrics live in AWS/NetworkELB, which the lab does not emulate
        minute = _minute(served.at)
        buckets = self._buckets.get(minute)
        if buckets is None:
            buckets = self._buckets[minute] = {}
        lb = buckets.get((None, lb_arn))
        if lb is None:
            lb = buckets[(None, lb_arn)] = _Bucket()
        lb.requests += count
        status_class = served.status // 100
        chosen = served.target is not None  # the load balancer picked a target (even if it then failed)
        if chosen:
            lb.counts["RequestCount"] += count
        if served.source == "elb":
            if status_class in (3, 4, 5):
                lb.counts[f"HTTPCode_ELB_{status_class}XX_Count"] += count
            if served.status in (500, 502, 503, 504):
                lb.counts[f"HTTPCode_ELB_{served.status}_Count"] += count
            if served.status in (301, 302) and served.target_group_arn is None:
                lb.counts["HTTP_Redirect_Count"] += count
        tg = None
        if served.target_group_arn and chosen:
            key = (served.target_group_arn, lb_arn)
            tg = buckets.get(key)
            if tg is None:
                tg = buckets[key] = _Bucket()
            tg.requests += count
            tg.counts["RequestCount"] += count
        if served.source == "target" and 2 <= status_class <= 5:
            delay_ms = getattr(served, "delay_ms", None)
            seconds = BASE_RESPONSE_SECONDS + (float(delay_ms) / 1000.0 if delay_ms else 0.0)
            for bucket in (lb, tg):
                if bucket is not None:
                    bucket.counts[f"HTTPCode_Target_{status_class}XX_Count"] += count
                    bucket.response_times[seconds] += count

    def _health_changed(self, change: Change) -> None:
        hosts = self._hosts.get(change.tg_arn)
        healthy, unhealthy = self._host_counts(change.tg_arn)
        if hosts is None:
            # First change seen for this group: the counts before it held since the minute began.
            before_h = healthy - (change.new == "healthy") + (change.old == "healthy")
            before_u = unhealthy - (change.new == "unhealthy") + (change.old == "unhealthy")
            hosts = self._hosts[change.tg_arn] = _Hosts(_minute(change.at), before_h, before_u)
        hosts.advance(change.at)
        hosts.healthy, hosts.unhealthy = healthy, unhealthy

    def _host_counts(self, tg_arn: str) -> tuple[int, int]:
        healthy = unhealthy = 0
        for (arn, _), record in self.world.health.records.items():
            if arn == tg_arn:
                healthy += record.state == "healthy"
                unhealthy += record.state == "unhealthy"
        return healthy, unhealthy

    # -- publishing ---------------------------------------------------------------------------------
    def publish(self, now: float) -> None:
        """Publish every minute that ended by ``now`` (a whole minute) into moto's CloudWatch."""
        minute_end = _minute(now)
        data: list[tuple[dict[str, Any], _Entry, tuple[str, str]]] = []
        groups = self._groups_in_use()
        registered = {tg for tg, _ in self.world.health.records}
        for minute in sorted(m for m in self._buckets if m + MINUTE <= minute_end):
            for (tg_arn, lb_arn), bucket in sorted(self._buckets.pop(minute).items(), key=_bucket_order):
                has_targets = tg_arn in registered if tg_arn else any(tg in registered for tg in groups.get(lb_arn, ()))
                data.extend(_bucket_datums(minute, lb_arn, tg_arn, bucket, has_targets))
        # Host counts: every minute, for every target group a listener uses, traffic or not.
        closed = {tg: hosts.close(minute_end) for tg, hosts in self._hosts.items()}
        start = minute_end - MINUTE
        for lb_arn, tgs in sorted(groups.items()):
            for tg_arn in sorted(tgs):
                if tg_arn in closed:
                    healthy, unhealthy = closed[tg_arn]
                else:
                    h, u = self._host_counts(tg_arn)
                    healthy, unhealthy = (float(h), h, h), (float(u), u, u)
                dims = _dims(lb_arn, tg_arn)
                for name, (average, low, high) in (("HealthyHostCount", healthy), ("UnHealthyHostCount", unhealthy)):
                    entry = _Entry(1, average, low, high, "Count", ((low, 1),) if low == high else None)
                    data.append((_datum(name, dims, start, entry), entry, (tg_arn, name)))
        if data:
            self._put(data)

    def _groups_in_use(self) -> dict[str, set[str]]:
        """Target groups each Application Load Balancer's listeners forward to."""
        result: dict[str, set[str]] = {}
        for lb in self.world.backend("elbv2").load_balancers.values():
            if getattr(lb, "type", "application") != "application":
                continue
            for listener in lb.listeners.values():
                for rule in listener.rules.values():
                    result.setdefault(lb.arn, set()).update(forward_targets(rule.actions))
        return result

    def _put(self, data: list[tuple[dict[str, Any], _Entry, tuple[str, str]]]) -> None:
        cloudwatch = self.world.backend("cloudwatch")
        self._catch_up(cloudwatch)
        cloudwatch.put_metric_data(NAMESPACE, [datum for datum, _, _ in data])
        # Index our own datapoints directly: they carry response-time distributions moto drops.
        for datum, entry, (arn, name) in data:
            at = _epoch(datum["Timestamp"])
            self._index_entry((NAMESPACE, name, _dims_key(datum["Dimensions"])), at, entry)
            self._record(arn, name, int(at), entry)
        self._indexed = len(cloudwatch.metric_data)

    def _record(self, arn: str, metric: str, minute: int, entry: _Entry) -> None:
        points = self._series.setdefault((arn, metric), {})
        pair = points.setdefault(minute, [0.0, 0.0])
        if metric in AVERAGE_METRICS and metric != "TargetResponseTime":
            pair[0], pair[1] = entry.total, 1.0  # host counts: the same value under every load balancer
        else:
            pair[0] += entry.total
            pair[1] += entry.count
        while len(points) > RETENTION_MINUTES:
            del points[next(iter(points))]  # minutes arrive in order, so the first key is the oldest

    # -- the index of everything in moto's CloudWatch ------------------------------------------------
    def _catch_up(self, cloudwatch: Any) -> None:
        """Index datapoints a learner put since the last look (moto's list only ever grows)."""
        source = cloudwatch.metric_data
        if source is not self._source or len(source) < self._indexed:
            self._index.clear()
            self._source, self._indexed = source, 0
        for datum in source[self._indexed :]:
            self._index_entry(
                (datum.namespace, datum.name, frozenset((d.name, d.value) for d in datum.dimensions)),
                _epoch(datum.timestamp),
                _entry_of(datum),
            )
        self._indexed = len(source)

    def _index_entry(self, key: SeriesKey, at: float, entry: _Entry) -> None:
        self._index.setdefault(key, _Series()).add(at, next(self._seq), entry)

    # -- alarms ---------------------------------------------------------------------------------------
    def evaluate_alarms(self, now: float) -> None:
        """Evaluate every metric alarm at ``now`` and set the state of those whose state changes."""
        cloudwatch = self.world.backend("cloudwatch")
        if not cloudwatch.alarms:
            return
        self._catch_up(cloudwatch)
        for alarm in list(cloudwatch.alarms.values()):
            outcome = self.evaluate(alarm, now)
            if outcome is None:
                continue
            state, reason, reason_data = outcome
            if state != alarm.state_value:
                cloudwatch.set_alarm_state(alarm.name, reason, json.dumps(reason_data), state)

    def evaluate(self, alarm: Any, now: float) -> tuple[str, str, dict[str, Any]] | None:
        """(state, StateReason, StateReasonData) for one alarm at ``now``; None to leave it alone."""
        if alarm.rule is not None or alarm.metric_data_queries or alarm.threshold_metric_id:
            return None  # composite, metric-math and anomaly-detection alarms are not evaluated
        comparison = _COMPARISONS.get(alarm.comparison_operator or "")
        if comparison is None or not alarm.namespace or not alarm.metric_name:
            return None
        stat = alarm.extended_statistic or alarm.statistic
        if not stat:
            return None
        try:
            period = max(1, int(alarm.period))
            n = max(1, int(alarm.evaluation_periods))
            m = int(alarm.datapoints_to_alarm or n)
            threshold = float(alarm.threshold)
        except (TypeError, ValueError):
            return None
        treat = alarm.treat_missing_data or MISSING
        words, test = comparison
        series = self._index.get(
            (alarm.namespace, alarm.metric_name, frozenset((d.name, d.value) for d in alarm.dimensions))
        )
        now = float(_minute(now))
        points: list[tuple[float, float | None, float]] = []  # (period start, value, sample count)
        for age in range(n + EVALUATION_RANGE_EXTRA):
            start = now - (age + 1) * period
            entries = series.between(start, start + period) if series else []
            if alarm.unit:
                entries = [e for e in entries if e.unit == alarm.unit]
            value = statistic(entries, stat)
            count = sum(e.count for e in entries)
            if value is not None and alarm.extended_statistic and _too_few_samples(alarm, stat, count):
                return None  # EvaluateLowSampleCountPercentile=ignore: wait for enough samples
            points.append((start, value, count))
        window = [None if value is None else test(value, threshold) for _, value, _ in points]
        decision = decide(window, n, m, treat)
        if decision.state is None:
            return None
        reason = _reason(decision, points, window, n, m, treat, words, threshold)
        used = [points[i] for i in decision.used]
        reason_data: dict[str, Any] = {
            "version": "1.0",
            "queryDate": _iso(now),
            "startDate": _iso(points[max(decision.used)][0] if decision.used else points[n - 1][0]),
            ("extendedStatistic" if alarm.extended_statistic else "statistic"): stat,
            "period": period,
            "recentDatapoints": [value for _, value, _ in reversed(used)],
            "threshold": threshold,
            "evaluatedDatapoints": [
                {"timestamp": _iso(start), "sampleCount": count, "value": value} for start, value, count in used
            ],
        }
        if alarm.unit:
            reason_data["unit"] = alarm.unit
        return decision.state, reason, reason_data

    def record_transition(self, alarm: Any, old: str, old_reason: str, when: datetime) -> None:
        """Keep one alarm state change the way DescribeAlarmHistory reports it."""
        self._history(
            alarm.name,
            when,
            "StateUpdate",
            f"Alarm updated from {old} to {alarm.state_value}",
            {
                "version": "1.0",
                "oldState": {"stateValue": old, "stateReason": old_reason},
                "newState": {
                    "stateValue": alarm.state_value,
                    "stateReason": alarm.state_reason,
                    "stateReasonData": _json_or_text(alarm.state_reason_data),
                },
            },
        )

    def record_configuration(self, name: str, created: bool, when: datetime) -> None:
        verb = "created" if created else "updated"
        self._history(name, when, "ConfigurationUpdate", f'Alarm "{name}" {verb}', {"type": "Update"})

    def _history(self, name: str, when: datetime, kind: str, summary: str, data: dict[str, Any]) -> None:
        self.alarm_history.append(
            {
                "AlarmName": name,
                "AlarmType": "MetricAlarm",
                "Timestamp": _iso(_epoch(when)),
                "HistoryItemType": kind,
                "HistorySummary": summary,
                "HistoryData": json.dumps(data),
            }
        )
        del self.alarm_history[:-HISTORY_LIMIT]


def _series_value(metric: str, pair: list[float]) -> float:
    total, count = pair
    if metric in AVERAGE_METRICS:
        return total / count if count else 0.0
    return total


def _bucket_order(item: tuple[tuple[str | None, str], _Bucket]) -> tuple[str, str]:
    (tg_arn, lb_arn), _ = item
    return lb_arn, tg_arn or ""


def _dims(lb_arn: str, tg_arn: str | None) -> list[dict[str, str]]:
    dims = [{"Name": "LoadBalancer", "Value": load_balancer_dimension(lb_arn)}]
    if tg_arn:
        dims.insert(0, {"Name": "TargetGroup", "Value": target_group_dimension(tg_arn)})
    return dims


def _dims_key(dims: Sequence[dict[str, Any]] | None) -> frozenset[tuple[str, str]]:
    return frozenset((str(d["Name"]), str(d.get("Value"))) for d in dims or [])


def _datum(name: str, dims: list[dict[str, str]], start: float, entry: _Entry) -> dict[str, Any]:
    datum: dict[str, Any] = {"MetricName": name, "Dimensions": dims, "Timestamp": _naive_utc(start), "Unit": entry.unit}
    if entry.count == 1 and entry.low == entry.high == entry.total:
        datum["Value"] = entry.total
    else:
        datum["StatisticValues"] = {
            "SampleCount": entry.count,
            "Sum": entry.total,
            "Minimum": entry.low,
            "Maximum": entry.high,
        }
    return datum


def _bucket_datums(
    minute: int, lb_arn: str, tg_arn: str | None, bucket: _Bucket, has_targets: bool
) -> list[tuple[dict[str, Any], _Entry, tuple[str, str]]]:
    dims = _dims(lb_arn, tg_arn)
    owner = tg_arn or lb_arn
    out = []
    for name in COUNT_METRICS:
        count = bucket.counts.get(name, 0)
        if name == "RequestCount" and count == 0 and bucket.requests and has_targets:
            entry = _Entry(1, 0.0, 0.0, 0.0, "Count", ((0.0, 1),))  # "reported if there are registered targets"
        elif count == 0:
            continue  # "Reporting criteria: There is a nonzero value"
        else:
            # Each request is a sample of 1: Sum is the count, and Minimum/Maximum/Average are 1, as on AWS.
            entry = _Entry(count, float(count), 1.0, 1.0, "Count", ((1.0, count),))
        out.append((_datum(name, dims, minute, entry), entry, (owner, name)))
    if bucket.response_times:
        times = bucket.response_times
        count = sum(times.values())
        total = sum(value * how_many for value, how_many in times.items())
        entry = _Entry(count, total, min(times), max(times), "Seconds", tuple(sorted(times.items())))
        out.append((_datum("TargetResponseTime", dims, minute, entry), entry, (owner, "TargetResponseTime")))
    return out


def _entry_of(datum: Any) -> _Entry:
    unit = getattr(datum, "unit", None)
    if hasattr(datum, "value"):
        value = float(datum.value)
        return _Entry(1, value, value, value, unit, ((value, 1),))
    count, total = float(datum.sample_count), float(datum.sum)
    low, high = float(datum.min), float(datum.max)
    return _Entry(count, total, low, high, unit, ((low, count),) if low == high else None)


def _too_few_samples(alarm: Any, stat: str, count: float) -> bool:
    if (alarm.evaluate_low_sample_count_percentile or "evaluate") != "ignore":
        return False
    try:
        share = float(stat[1:]) / 100.0
    except ValueError:
        return False
    # CloudWatch: for p50..p100, too few is fewer than 10/(1-p) samples; below p50, 10/p.
    needed = 10 / (1 - share) if 0.5 <= share < 1 else (10 / share if share > 0 else 0)
    return count < needed


def _reason(
    decision: Decision,
    points: list[tuple[float, float | None, float]],
    window: list[bool | None],
    n: int,
    m: int,
    treat: str,
    words: str,
    threshold: float,
) -> str:
    """StateReason in CloudWatch's words."""
    if decision.state == INSUFFICIENT:
        return f"Insufficient Data: {_plural(n, 'datapoint')} {_was(n)} unknown."
    fill_word = "[Breaching]" if treat == BREACHING else "[NonBreaching]"
    if not decision.used:
        return (
            f"Threshold Crossed: no datapoints were received for {_plural(n, 'period')} and "
            f"{_plural(decision.filled, 'missing datapoint')} {_was(decision.filled)} treated as {fill_word}."
        )
    listed = ", ".join(
        f"{_number(points[i][1] or 0.0)} ({datetime.fromtimestamp(points[i][0], tz=UTC):%d/%m/%y %H:%M:%S})"
        for i in decision.used
    )
    if decision.state == ALARM:
        matching = sum(1 for i in decision.used if window[i])
        verb = f"{_was(matching)} {words}"
        transition = f"(minimum {_plural(m, 'datapoint')} for OK -> ALARM transition)"
    else:
        matching = sum(1 for i in decision.used if not window[i])
        verb = f"{_was(matching)} not {words}"
        transition = f"(minimum {_plural(n - m + 1, 'datapoint')} for ALARM -> OK transition)"
    last = len(decision.used)
    text = (
        f"Threshold Crossed: {matching} out of the last {last} datapoints [{listed}] {verb} "
        f"the threshold ({_number(threshold)})"
    )
    if decision.filled and treat in (BREACHING, NOT_BREACHING):
        text += f", and {_plural(decision.filled, 'missing datapoint')} {_was(decision.filled)} treated as {fill_word}"
    return f"{text} {transition}."


def _json_or_text(text: str | None) -> Any:
    try:
        return json.loads(text or "{}")
    except ValueError:
        return text


# -- moto corrections (see the module docstring) -------------------------------------------------------

_MARK = "_labsupport_metrics_patched"


def _virtual_now() -> datetime | None:
    """The region's virtual time as moto stores times (naive UTC); None outside a region process."""
    from . import runtime

    try:
        world = runtime.get()
    except RuntimeError:
        return None
    return _naive_utc(world.clock.now())


def _metrics() -> Metrics | None:
    from . import runtime

    try:
        return getattr(runtime.get(), "metrics", None)
    except RuntimeError:
        return None


def install_moto_patches() -> None:
    """Correct moto's CloudWatch where the lab depends on AWS's behaviour. Idempotent."""
    from moto.cloudwatch import models

    backend_cls, alarm_cls = models.CloudWatchBackend, models.Alarm
    if getattr(backend_cls.put_metric_alarm, _MARK, False):
        return

    original_put_alarm = backend_cls.put_metric_alarm

    def put_metric_alarm(self: Any, *args: Any, **kwargs: Any) -> Any:
        name = kwargs.get("name", args[0] if args else None)
        previous = self.alarms.get(name)
        alarm = original_put_alarm(self, *args, **kwargs)
        now = _virtual_now()
        if previous is not None:
            # "When you update an existing alarm, its state is left unchanged."
            alarm.state_value, alarm.state_reason = previous.state_value, previous.state_reason
            alarm.state_reason_data = previous.state_reason_data
            alarm.state_updated_timestamp, alarm.history = previous.state_updated_timestamp, previous.history
        else:
            # "When this operation creates an alarm, the alarm state is immediately set to INSUFFICIENT_DATA."
            alarm.state_value = INSUFFICIENT
            alarm.state_reason, alarm.state_reason_data = "Unchecked: Initial alarm creation", "{}"
            if now is not None:
                alarm.state_updated_timestamp = now
        if now is not None:
            alarm.configuration_updated_timestamp = now
            metrics = _metrics()
            if metrics is not None:
                metrics.record_configuration(alarm.name, previous is None, now)
        return alarm

    original_update_state = alarm_cls.update_state

    def update_state(self: Any, reason: str, reason_data: str, state_value: str) -> None:
        old, old_reason = self.state_value, self.state_reason
        original_update_state(self, reason, reason_data, state_value)
        now = _virtual_now()
        if now is None:
            return
        self.state_updated_timestamp = now
        metrics = _metrics()
        if metrics is not None:
            metrics.record_transition(self, old, old_reason, now)

    original_put_data = backend_cls.put_metric_data

    def put_metric_data(self: Any, namespace: str, metric_data: list[dict[str, Any]]) -> None:
        now = _virtual_now()
        if now is not None:
            for member in metric_data:
                if not member.get("Timestamp"):
                    member["Timestamp"] = now
        original_put_data(self, namespace, metric_data)

    def get_metric_statistics(
        self: Any,
        namespace: str,
        metric_name: str,
        start_time: datetime,
        end_time: datetime,
        period: int,
        stats: list[str],
        dimensions: list[dict[str, str]],
        unit: str | None = None,
    ) -> list[Any]:
        from datetime import timedelta

        start_time = start_time.replace(microsecond=0)
        end_time = end_time.replace(microsecond=0)
        if start_time >= end_time:
            raise models.InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
        wanted = _dims_key(dimensions)
        found = sorted(
            (
                md
                for md in self.get_all_metrics()
                if md.namespace == namespace
                and md.name == metric_name
                and start_time <= md.timestamp < end_time
                and (not unit or md.unit == unit)
                and frozenset((d.name, str(d.value)) for d in md.dimensions) == wanted
            ),
            key=lambda md: md.timestamp,
        )
        step = timedelta(seconds=int(period))
        result: list[Any] = []
        index = 0
        for at in models.daterange(found[0].timestamp, found[-1].timestamp + step, step) if found else ():
            stats_here = models.Statistics(stats, at)
            while index < len(found) and found[index].timestamp < at + step:
                stats_here.metric_data.append(found[index])
                stats_here.unit = found[index].unit
                index += 1
            if stats_here.metric_data:
                result.append(stats_here)
        return result

    def dimension_lt(self: Any, other: Any) -> bool:
        return (str(self.name), str(self.value)) < (str(other.name), str(other.value))

    def are_dimensions_same(metric_dimensions: list[Any], dimensions: list[Any]) -> bool:
        return {(d.name, d.value) for d in metric_dimensions} == {(d.name, d.value) for d in dimensions}

    for cls, name, function in (
        (backend_cls, "put_metric_data", put_metric_data),
        (backend_cls, "get_metric_statistics", get_metric_statistics),
        (alarm_cls, "update_state", update_state),
        (models.Dimension, "__lt__", dimension_lt),
        (models, "are_dimensions_same", are_dimensions_same),
        (backend_cls, "put_metric_alarm", put_metric_alarm),  # last: its mark means "all installed"
    ):
        setattr(function, _MARK, True)
        setattr(cls, name, function)


__all__ = [
    "METRICS",
    "NAMESPACE",
    "Decision",
    "Metrics",
    "decide",
    "install_moto_patches",
    "load_balancer_dimension",
    "load_balancer_of_listener",
    "statistic",
    "target_group_dimension",
]
