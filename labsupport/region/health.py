"""Target health, checked the way an Application Load Balancer checks it.

moto reports every registered IP target ``healthy`` the moment it is registered. A real ALB:

- shows a new target as ``initial`` (``Elb.RegistrationInProgress``, then
  ``Elb.InitialHealthChecking``) until its first health check; one passing check makes it ``healthy``;
- sends ``GET <path>`` to the target every ``HealthCheckIntervalSeconds``; a check fails when the
  answer is not in the matcher's codes (``Target.ResponseCodeMismatch``) or does not come within
  ``HealthCheckTimeoutSeconds`` (``Target.Timeout``: nothing listening, a security group in the way,
  or a slow app);
- turns ``healthy`` into ``unhealthy`` after ``UnhealthyThresholdCount`` failures in a row, and back
  after ``HealthyThresholdCount`` passes in a row;
- shows a deregistered target as ``draining`` for the deregistration delay (300 s by default);
- does not check targets of a target group that no listener rule uses: they are ``unused``
  (``Target.NotInUse``), and neither targets in an Availability Zone the load balancer has no
  subnet in ("Target is in an Availability Zone that is not enabled for the load balancer").

Here the checks are events on the region's virtual clock and they really call the app running at
the target's address (:mod:`.apps`), so a task whose health path answers 500 really goes unhealthy.
Every change is kept in :attr:`HealthBook.history` for the lab's target-health timeline, and
passed to the observers in :attr:`HealthBook.listeners` (the ECS scheduler, the metrics); an
observer that fails is reported in ``clock.errors`` and never stops the others or the checks.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runtime import World

REGISTRATION_SECONDS = 5.0  # how long "Elb.RegistrationInProgress" lasts before the first check

REASONS = {
    "Elb.RegistrationInProgress": "Target registration is in progress",
    "Elb.InitialHealthChecking": "Initial health checks in progress",
    "Target.Timeout": "Request timed out",
    "Target.NotInUse": "Target group is not configured to receive traffic from the load balancer",
    "Target.DeregistrationInProgress": "Target deregistration is in progress",
    "Target.NotRegistered": "Target is not registered to the target group",
    "Target.FailedHealthChecks": "Health checks failed",
    "Target.InvalidState": "Target is in the stopped state",
}
# The reason ECS quotes for a target in a zone the load balancer has no subnet in (public service
# events, e.g. "(reason Target is in an Availability Zone that is not enabled for the load balancer)").
ZONE_NOT_ENABLED = "Target is in an Availability Zone that is not enabled for the load balancer"


@dataclass
class TargetRecord:
    tg_arn: str
    target_id: str
    port: int
    state: str = "initial"
    reason: str | None = "Elb.RegistrationInProgress"
    description: str | None = REASONS["Elb.RegistrationInProgress"]
    ok_streak: int = 0
    fail_streak: int = 0
    checked: int = 0
    registered_at: float = 0.0
    event: Any = field(default=None, repr=False)


@dataclass(frozen=True)
class Change:
    """One state change of one target, for timelines."""

    at: float
    tg_arn: str
    target_id: str
    port: int
    old: str
    new: str
    reason: str | None


class HealthBook:
    """Every target the region knows, its state, and its scheduled checks."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.records: dict[tuple[str, str], TargetRecord] = {}
        self.history: list[Change] = []
        self.listeners: list[Callable[[Change], None]] = []

    # -- registration ------------------------------------------------------------------------
    def register(self, tg_arn: str, target_id: str, port: int) -> TargetRecord:
        key = (tg_arn, target_id)
        old = self.records.get(key)
        if old is not None and old.state != "draining":
            return old
        if old is not None and old.event is not None:
            self.world.clock.cancel(old.event)
        now = self.world.clock.now()
        record = TargetRecord(tg_arn, target_id, port, registered_at=now)
        self.records[key] = record
        self._changed(record, old.state if old else "unregistered", "initial", record.reason)
        record.event = self.world.clock.call_later(
            REGISTRATION_SECONDS, lambda: self._first_check(key), name=f"health: register {target_id}"
        )
        return record

    def deregister(self, tg_arn: str, target_id: str) -> None:
        record = self.records.get((tg_arn, target_id))
        if record is None or record.state == "draining":
            return
        if record.event is not None:
            self.world.clock.cancel(record.event)
        old = record.state
        record.state, record.reason = "draining", "Target.DeregistrationInProgress"
        record.description = REASONS[record.reason]
        self._changed(record, old, "draining", record.reason)
        delay = self.deregistration_delay(tg_arn)
        key = (tg_arn, target_id)
        record.event = self.world.clock.call_later(
            delay, lambda: self._drained(key), name=f"health: drained {target_id}"
        )

    def forget_target_group(self, tg_arn: str) -> None:
        for key in [k for k in self.records if k[0] == tg_arn]:
            record = self.records.pop(key)
            if record.event is not None:
                self.world.clock.cancel(record.event)

    def clear(self) -> None:
        self.records.clear()
        self.history.clear()

    # -- queries -----------------------------------------------------------------------------
    def record(self, tg_arn: str, target_id: str) -> TargetRecord | None:
        return self.records.get((tg_arn, target_id))

    def draining(self, tg_arn: str) -> list[TargetRecord]:
        return [r for (arn, _), r in self.records.items() if arn == tg_arn and r.state == "draining"]

    def routable(self, tg_arn: str) -> list[TargetRecord]:
        """Targets a listener may send to: healthy ones, or (fail-open) all registered ones if none is."""
        registered = [
            r
            for (arn, _), r in self.records.items()
            if arn == tg_arn and r.state != "draining" and self.zone_enabled(arn, r.target_id)
        ]
        healthy = [r for r in registered if r.state == "healthy"]
        if healthy:
            return sorted(healthy, key=lambda r: _ip_key(r.target_id))
        # An ALB whose targets are all unhealthy "fails open" and sends to every one of them.
        return sorted([r for r in registered if r.state == "unhealthy"], key=lambda r: _ip_key(r.target_id))

    def status_for(self, tg: Any, target_id: str) -> tuple[str, str | None, str | None] | None:
        """(state, reason, description) as describe_target_health reports it, or None if unknown."""
        record = self.records.get((tg.arn, target_id))
        if record is None:
            return None
        if record.state != "draining" and not self.in_use(tg.arn):
            return "unused", "Target.NotInUse", REASONS["Target.NotInUse"]
        if record.state != "draining" and not self.zone_enabled(tg.arn, target_id):
            return "unused", "Target.NotInUse", ZONE_NOT_ENABLED
        return record.state, record.reason, record.description

    def zone_enabled(self, tg_arn: str, target_id: str) -> bool:
        """Is the target's Availability Zone one the load balancers using this group have a subnet in?

        An IP target in a zone the load balancer is not enabled for is ``unused`` and gets no
        traffic (and no health checks). Addresses outside the region's subnets are not judged.
        """
        tg = self.world.backend("elbv2").target_groups.get(tg_arn)
        if tg is None:
            return True
        lbs = self.world.load_balancers_of(tg)
        if not lbs:
            return True
        try:
            address = ipaddress.ip_address(target_id)
        except ValueError:
            return True
        ec2 = self.world.backend("ec2")
        zone = None
        for subnet in _all_subnets(ec2):
            if subnet.vpc_id == tg.vpc_id and address in ipaddress.ip_network(subnet.cidr_block):
                zone = subnet.availability_zone
                break
        if zone is None:
            return True
        return any(zone in {s.availability_zone for s in lb.subnets} for lb in lbs)

    def in_use(self, tg_arn: str) -> bool:
        """Is the target group referenced by any listener rule (default or not)?"""
        elbv2 = self.world.backend("elbv2")
        for lb in elbv2.load_balancers.values():
            for listener in lb.listeners.values():
                for rule in listener.rules.values():
                    if tg_arn in _forward_targets(rule.actions):
                        return True
        return False

    # -- checking ----------------------------------------------------------------------------
    def _first_check(self, key: tuple[str, str]) -> None:
        record = self.records.get(key)
        if record is None or record.state == "draining":
            return
        record.reason, record.description = "Elb.InitialHealthChecking", REASONS["Elb.InitialHealthChecking"]
        self._check(key)

    def _check(self, key: tuple[str, str]) -> None:
        record = self.records.get(key)
        if record is None or record.state == "draining":
            return
        tg = self.world.backend("elbv2").target_groups.get(record.tg_arn)
        if tg is None:
            self.records.pop(key, None)
            return
        interval = float(tg.health_check_interval_seconds or 30)
        record.event = self.world.clock.call_later(
            interval, lambda: self._check(key), name=f"health: {record.target_id}"
        )
        if not self.in_use(record.tg_arn) or not self.zone_enabled(record.tg_arn, record.target_id):
            return  # an ALB does not check targets it would not send traffic to
        try:
            ok, reason, description = self.probe(tg, record)
        except Exception as exc:  # a lab bug: keep the target's state, keep checking, report it
            self._record_error(f"health: {record.target_id}", exc)
            return
        record.checked += 1
        old = record.state
        if ok:
            record.ok_streak += 1
            record.fail_streak = 0
            threshold = int(tg.healthy_threshold_count or 5)
            if old == "initial" or (old == "unhealthy" and record.ok_streak >= threshold):
                record.state, record.reason, record.description = "healthy", None, None
        else:
            record.fail_streak += 1
            record.ok_streak = 0
            threshold = int(tg.unhealthy_threshold_count or 2)
            if old in ("initial", "healthy") and record.fail_streak >= threshold:
                record.state = "unhealthy"
            if record.state == "unhealthy":
                record.reason, record.description = reason, description
        if record.state != old:
            self._changed(record, old, record.state, record.reason)

    def probe(self, tg: Any, record: TargetRecord) -> tuple[bool, str | None, str | None]:
        """One health check of one target: (passed, reason code, description)."""
        port = record.port if tg.health_check_port in (None, "traffic-port") else int(tg.health_check_port)
        if not self.world.reachable_from_load_balancer(tg, record.target_id, port):
            return False, "Target.Timeout", REASONS["Target.Timeout"]
        instance = self.world.apps.get(record.target_id, port)
        if instance is None:
            return False, "Target.Timeout", REASONS["Target.Timeout"]
        try:
            response = instance.call("GET", tg.health_check_path or "/")
        except Exception:  # an app that blows up answers nothing a load balancer can use
            return False, "Target.Timeout", REASONS["Target.Timeout"]
        delay_ms = float(response.headers.get("X-App-Delay-Ms", "0") or 0)
        if delay_ms / 1000.0 >= float(tg.health_check_timeout_seconds or 5):
            return False, "Target.Timeout", REASONS["Target.Timeout"]
        if matches(tg.matcher, response.status):
            return True, None, None
        return (
            False,
            "Target.ResponseCodeMismatch",
            f"Health checks failed with these codes: [{response.status}]",
        )

    def _drained(self, key: tuple[str, str]) -> None:
        record = self.records.pop(key, None)
        if record is not None:
            self._changed(record, "draining", "unregistered", "Target.NotRegistered")

    def deregistration_delay(self, tg_arn: str) -> float:
        """The target group's ``deregistration_delay.timeout_seconds`` (300 s unless changed)."""
        tg = self.world.backend("elbv2").target_groups.get(tg_arn)
        if tg is None:
            return 0.0
        try:
            return float(tg.attributes.get("deregistration_delay.timeout_seconds", 300))
        except (TypeError, ValueError, AttributeError):
            return 300.0

    def _changed(self, record: TargetRecord, old: str, new: str, reason: str | None) -> None:
        change = Change(self.world.clock.now(), record.tg_arn, record.target_id, record.port, old, new, reason)
        self.history.append(change)
        del self.history[:-5000]  # bounded: a long-running region must not grow without limit
        for listener in list(self.listeners):
            try:
                listener(change)
            except Exception as exc:  # one broken observer must not stop the others (or the checks)
                self._record_error(f"health listener {getattr(listener, '__qualname__', listener)}", exc)

    _deregistration_delay = deregistration_delay  # the name older callers use

    def _record_error(self, where: str, exc: BaseException) -> None:
        errors = self.world.clock.errors
        errors.append(f"{where}: {type(exc).__name__}: {exc}")
        del errors[:-20]


def matches(matcher: Any, status: int) -> bool:
    """Does ``status`` satisfy an ALB matcher like ``"200"``, ``"200-299"`` or ``"200,302"``?"""
    text = "200"
    if isinstance(matcher, dict):
        text = str(matcher.get("HttpCode") or "200")
    elif matcher:
        text = str(matcher)
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            low, _, high = part.partition("-")
            if int(low) <= status <= int(high):
                return True
        elif part and int(part) == status:
            return True
    return False


def _all_subnets(ec2: Any) -> list[Any]:
    found: list[Any] = []
    for zone_subnets in ec2.subnets.values():
        found.extend(zone_subnets.values())
    return found


def _forward_targets(actions: Any) -> set[str]:
    arns: set[str] = set()
    for action in actions or []:
        data = action.data if hasattr(action, "data") else action
        if data.get("Type") != "forward":
            continue
        if data.get("TargetGroupArn"):
            arns.add(data["TargetGroupArn"])
        for item in (data.get("ForwardConfig") or {}).get("TargetGroups", []):
            arns.add(item["TargetGroupArn"])
    return arns


def _ip_key(target_id: str) -> tuple[int, str]:
    try:
        return int(ipaddress.ip_address(target_id)), target_id
    except ValueError:
        return 0, target_id


forward_targets = _forward_targets
