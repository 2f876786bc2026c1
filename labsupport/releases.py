"""Releases on the ECS service, seen from the outside: ship a version, watch it roll out, measure it.

A release of the lab's app is a new task definition revision (the same image, another
``APP_VERSION`` / ``APP_COLOUR``, perhaps a ``FAIL_HEALTH``) and one ``UpdateService`` call. What
happens next is ECS's business: it starts and stops tasks as ``minimumHealthyPercent`` and
``maximumPercent`` allow, the load balancer health-checks the new tasks and drains the old ones, and
the circuit breaker may give up and roll back. This module watches that from the client side, with
boto3 only, so the same calls work against the offline region and against real AWS:

    >>> from labsupport import releases, traffic
    >>> traffic.start(20, 80)                         # offline: synthetic users on the virtual clock
    >>> v2 = releases.release("v2", "green", minimum_healthy_percent=0, maximum_percent=100)
    >>> timeline = releases.watch(until="steady")    # advances the clock (offline) or polls (AWS)
    >>> print(timeline)                               # tasks per version, target health, ECS's events
    >>> print(releases.measure())                     # failed requests, downtime, time, peak tasks

Releases are idempotent: the same environment reuses the same revision (``RegisterTaskDefinition``
would otherwise add a revision on every call), and releasing what the service already runs deploys
nothing and says so. Times are seconds since the release started, never timestamps, and tasks are
named by their version and private IP, never by ID, so a notebook prints the same on every run.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from . import clock, fargate, images, traffic
from .errors import LabError
from .lab import Lab, current

__all__ = [
    "Bounds",
    "DeploymentState",
    "Measurement",
    "Release",
    "ReleaseTimeline",
    "Step",
    "VersionCount",
    "circuit_breaker_threshold",
    "deployment_bounds",
    "draw",
    "measure",
    "release",
    "rounding_table",
    "strategy_name",
    "watch",
]

#: How long ``watch(until="steady")`` waits at most before it gives up (a stuck deployment never settles).
DEFAULT_TIMEOUT = "30m"
#: How many of the newest revisions :func:`release` compares before it registers a new one.
MAX_REVISIONS_SCANNED = 50
#: A watch that would poll more often than this is almost certainly a typo (``every=0.1``).
MAX_STEPS = 2000

#: ECS's service event when minimumHealthyPercent / maximumPercent leave a deployment no way forward.
BLOCKED_EVENT = "was unable to stop or start tasks during a deployment"
_PENDING = {"PROVISIONING", "PENDING", "ACTIVATING"}
_TASK_REF = re.compile(r"\(task ([0-9a-f-]{8,36})\)")
_TG_REF = re.compile(r"\(target-group (arn:[^)\s]+)\)")
_DEPLOYMENT_REF = re.compile(r"ecs-svc/\d+")
_SERVICE_PREFIX = re.compile(r"^\(service [^)]+\) ")


# -- the arithmetic of a rolling update ----------------------------------------------------------------


@dataclass(frozen=True)
class Bounds:
    """What ``minimumHealthyPercent`` and ``maximumPercent`` mean for a service of ``desired`` tasks."""

    desired: int
    minimum_healthy_percent: int
    maximum_percent: int
    min_healthy: int  # tasks that must stay healthy: desired × min %, rounded UP
    max_tasks: int  # tasks that may run or be pending at once: desired × max %, rounded DOWN

    @property
    def can_stop_first(self) -> int:
        """Old tasks ECS may stop before any new one is healthy."""
        return max(0, self.desired - self.min_healthy)

    @property
    def can_start_first(self) -> int:
        """New tasks ECS may start before stopping any old one."""
        return max(0, self.max_tasks - self.desired)

    @property
    def blocked(self) -> bool:
        """Neither stopping nor starting is allowed: the deployment cannot make progress."""
        return self.desired > 0 and self.can_stop_first == 0 and self.can_start_first == 0


def _percent(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise LabError(
            f"{what} {value!r} is not a whole, non-negative percentage.", f"pass {what} as an int, e.g. 100."
        )
    return value


def deployment_bounds(desired: int, minimum_healthy_percent: int, maximum_percent: int) -> Bounds:
    """ECS's rounding: the healthy floor rounds **up**, the ceiling on tasks rounds **down**.

    ``deployment_bounds(2, 50, 100)`` → at least 1 healthy, at most 2 tasks: one at a time.
    Integer arithmetic, so 3 × 33 % is exactly 0.99 and rounds up to 1.
    """
    if isinstance(desired, bool) or not isinstance(desired, int) or desired < 0:
        raise LabError(f"desired count {desired!r} is not a whole, non-negative number.", "pass e.g. 2.")
    low = _percent(minimum_healthy_percent, "minimum_healthy_percent")
    high = _percent(maximum_percent, "maximum_percent")
    return Bounds(desired, low, high, -(-desired * low // 100), desired * high // 100)


def strategy_name(minimum_healthy_percent: int, maximum_percent: int) -> str:
    """``"recreate"`` for 0 / 100 (stop everything, then start the new version), else ``"rolling"``."""
    return "recreate" if (minimum_healthy_percent, maximum_percent) == (0, 100) else "rolling"


def rounding_table(
    desired_counts: tuple[int, ...] = (1, 2, 3, 4, 5),
    settings: tuple[tuple[int, int], ...] = ((100, 200), (50, 100), (50, 150), (0, 100)),
) -> str:
    """For each desired count and (min %, max %) pair: the healthy floor and the ceiling on tasks.

    Each cell reads ``≥ healthy / ≤ tasks``; ``blocked`` marks a pair that allows no progress.
    """
    heads = [f"{low} / {high}" for low, high in settings]
    rows = []
    for desired in desired_counts:
        cells = []
        for low, high in settings:
            b = deployment_bounds(desired, low, high)
            cells.append(f"≥{b.min_healthy} / ≤{b.max_tasks}" + (" blocked" if b.blocked else ""))
        rows.append([str(desired), *cells])
    header = ["desired", *heads]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [c.rjust(w) if i == 0 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def circuit_breaker_threshold(desired: int) -> int:
    """Failed tasks after which the deployment circuit breaker fails a deployment.

    0.5 × desired count, rounded up, at least 3 and at most 200 (the rule since January 2024;
    before, the minimum was 10).
    """
    if isinstance(desired, bool) or not isinstance(desired, int) or desired < 0:
        raise LabError(f"desired count {desired!r} is not a whole, non-negative number.", "pass e.g. 2.")
    return min(200, max(3, math.ceil(desired / 2)))


# -- releasing ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Release:
    """One call of :func:`release`: what was registered and what was asked of ECS."""

    version: str
    colour: str
    revision: str  # "my-app-frontend:3"
    task_definition_arn: str
    environment: dict[str, str]
    desired: int
    minimum_healthy_percent: int
    maximum_percent: int
    circuit_breaker: dict[str, bool]
    started: datetime  # when the deployment was created (the region's clock offline)
    deployed: bool  # False: the service already ran (or was deploying) this revision
    registered: bool  # True: a new revision was registered; False: an identical one was reused
    already: str = ""  # "runs" or "deploys" when nothing was deployed
    deployment_id: str = field(default="", repr=False)  # the PRIMARY deployment after the call
    known_events: frozenset[str] = field(default=frozenset(), repr=False)  # service events before it

    @property
    def strategy(self) -> str:
        return strategy_name(self.minimum_healthy_percent, self.maximum_percent)

    @property
    def bounds(self) -> Bounds:
        return deployment_bounds(self.desired, self.minimum_healthy_percent, self.maximum_percent)

    @property
    def label(self) -> str:
        return f"{self.version} ({self.colour})" if self.colour else self.version

    def settings(self) -> str:
        """``minimumHealthyPercent 0 / maximumPercent 100 (recreate)`` plus the circuit breaker if on."""
        text = f"minimumHealthyPercent {self.minimum_healthy_percent} / maximumPercent {self.maximum_percent}"
        text += f" ({self.strategy})"
        if self.circuit_breaker.get("enable"):
            rollback = "with rollback" if self.circuit_breaker.get("rollback") else "without rollback"
            text += f", circuit breaker on {rollback}"
        return text

    def __str__(self) -> str:
        extra = {k: v for k, v in self.environment.items() if k not in ("APP_VERSION", "APP_COLOUR")}
        env = "".join(f", {k}={v}" for k, v in extra.items())
        if not self.deployed:
            doing = "already runs" if self.already == "runs" else "is already deploying"
            return (
                f"the service {doing} {self.label} ({self.revision}{env}): nothing new to deploy. "
                f"Settings: {self.settings()}."
            )
        how = "registered" if self.registered else "reused (identical revision)"
        b = self.bounds
        text = (
            f"{self.label}{env} → {self.revision} {how}; deploying with {self.settings()}: "
            f"of {b.desired} tasks at least {b.min_healthy} stay healthy, at most {b.max_tasks} run at once"
        )
        if b.blocked:
            text += (
                ". Blocked: with these settings ECS may neither stop an old task nor start a new one, so the "
                "deployment cannot move (raise maximum_percent or lower minimum_healthy_percent)"
            )
        return text


_LAST: dict[str, Any] = {"release": None, "timeline": None}
# Finished watches by deployment, so re-running a "release v3" cell whose deployment already
# completed shows the same story again instead of an empty one (a re-run must not change the outcome).
_HISTORY: dict[tuple[str, str, str], tuple[Release, ReleaseTimeline]] = {}


def _history_key(deployment: Mapping[str, Any] | None) -> tuple[str, str, str] | None:
    if not deployment or not deployment.get("id"):
        return None
    created = deployment.get("createdAt")
    return str(deployment["id"]), str(deployment.get("taskDefinition")), str(created and _aware(created).timestamp())


def _service(lab: Lab) -> dict[str, Any]:
    cfg = lab.config.raw["ecs"]
    ecs = lab.client("ecs")
    try:
        found = ecs.describe_services(cluster=cfg["cluster"], services=[cfg["service"]])["services"]
    except ecs.exceptions.ClusterNotFoundException:
        found = []
    service = next((s for s in found if s.get("status") == "ACTIVE"), None)
    if service is None:
        raise LabError(
            f"The service {cfg['service']} does not exist in the cluster {cfg['cluster']}: nothing to release to.",
            "run `catch_up(6)` (or chapter 05), then this cell again.",
        )
    return dict(service)


def _environment(definition: Mapping[str, Any]) -> dict[str, str]:
    container = definition["containerDefinitions"][0]
    return {str(e["name"]): str(e["value"]) for e in container.get("environment") or []}


def _matches(registered: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    a, b = registered["containerDefinitions"][0], wanted["containerDefinitions"][0]
    return (
        a.get("image") == b.get("image")
        and _environment(registered) == _environment(wanted)
        and str(registered.get("cpu")) == str(wanted.get("cpu"))
        and str(registered.get("memory")) == str(wanted.get("memory"))
    )


def _find_or_register(lab: Lab, definition: dict[str, Any]) -> tuple[str, bool]:
    """The ARN of an ACTIVE revision identical to ``definition`` (newest first), else a new one."""
    ecs = lab.client("ecs")
    arns: list[str] = []
    pages = ecs.get_paginator("list_task_definitions").paginate(
        familyPrefix=definition["family"], status="ACTIVE", sort="DESC"
    )
    for page in pages:
        arns += page["taskDefinitionArns"]
        if len(arns) >= MAX_REVISIONS_SCANNED:
            break
    family = definition["family"]
    for arn in arns[:MAX_REVISIONS_SCANNED]:
        if arn.rsplit("/", 1)[-1].rsplit(":", 1)[0] != family:
            continue  # familyPrefix also matches my-app-frontend-oneoff
        found = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        if _matches(found, definition):
            return str(found["taskDefinitionArn"]), False
    return fargate.register(definition, lab), True


def _breaker(value: bool | Mapping[str, bool] | None, current_value: Mapping[str, Any] | None) -> dict[str, bool]:
    if value is None:
        base = dict(current_value or {})
        return {"enable": bool(base.get("enable")), "rollback": bool(base.get("rollback"))}
    if isinstance(value, bool):
        return {"enable": value, "rollback": value}
    if isinstance(value, Mapping) and set(value) <= {"enable", "rollback"}:
        return {"enable": bool(value.get("enable", True)), "rollback": bool(value.get("rollback", False))}
    raise LabError(
        f"circuit_breaker={value!r} is not a circuit-breaker setting.",
        "pass True (enable, with rollback), False (off), or {'enable': True, 'rollback': False}.",
    )


def _image(lab: Lab, service: Mapping[str, Any]) -> str:
    """The image the service runs now: a release changes the environment, not the image."""
    try:
        td = lab.client("ecs").describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
        return str(td["containerDefinitions"][0]["image"])
    except ClientError:  # a deregistered revision: fall back to the lab's v1 image
        return images.uri(f"{lab.config.raw['ecs']['repository']}:v1", lab)


def release(
    version: str,
    colour: str,
    *,
    minimum_healthy_percent: int | None = None,
    maximum_percent: int | None = None,
    circuit_breaker: bool | Mapping[str, bool] | None = None,
    lab: Lab | None = None,
    image: str | None = None,
    **env: str,
) -> Release:
    """Ship ``version`` in ``colour`` to the lab's service as a rolling deployment.

    Registers a task definition with ``APP_VERSION=version``, ``APP_COLOUR=colour`` and any other
    environment variables given (``FAIL_HEALTH="true"`` makes a release whose health check fails),
    reusing an identical ACTIVE revision if there is one, then calls ``UpdateService``. Settings
    left as ``None`` keep the service's current values. ``circuit_breaker=True`` enables the
    deployment circuit breaker with rollback, ``False`` turns it off. The image is the one the
    service runs (pass ``image`` to change it). If the service already runs or deploys this exact
    revision, nothing is deployed and the result says so (settings are still applied).
    """
    lab = lab or current()
    if not isinstance(version, str) or not version.strip():
        raise LabError(f"version {version!r} is not a version name.", "pass a short text such as 'v2'.")
    if not isinstance(colour, str) or not colour.strip():
        raise LabError(f"colour {colour!r} is not a colour name.", "pass a colour such as 'green'.")
    for key, value in env.items():
        if not isinstance(value, str | int | bool):
            raise LabError(f"{key}={value!r} cannot be an environment variable.", f'pass text, e.g. {key}="true".')
    low = None if minimum_healthy_percent is None else _percent(minimum_healthy_percent, "minimum_healthy_percent")
    high = None if maximum_percent is None else _percent(maximum_percent, "maximum_percent")
    breaker = None if circuit_breaker is None else _breaker(circuit_breaker, None)
    cfg = lab.config.raw["ecs"]
    ecs = lab.client("ecs")
    service = _service(lab)
    environment = {
        "APP_VERSION": version.strip(),
        "APP_COLOUR": colour.strip(),
        **{k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in env.items()},
    }
    definition = fargate.task_definition(image or _image(lab, service), lab, **environment)
    arn, registered = _find_or_register(lab, definition)

    config = dict(service.get("deploymentConfiguration") or {})
    wanted = {
        "minimumHealthyPercent": int(config.get("minimumHealthyPercent", 100)) if low is None else low,
        "maximumPercent": int(config.get("maximumPercent", 200)) if high is None else high,
        "deploymentCircuitBreaker": breaker or _breaker(None, config.get("deploymentCircuitBreaker")),
    }
    shown = {
        "minimumHealthyPercent": int(config.get("minimumHealthyPercent", 100)),
        "maximumPercent": int(config.get("maximumPercent", 200)),
        "deploymentCircuitBreaker": _breaker(None, config.get("deploymentCircuitBreaker")),
    }
    primary = next((d for d in service.get("deployments") or [] if d.get("status") == "PRIMARY"), None)
    same = service.get("taskDefinition") == arn and (primary is None or primary.get("taskDefinition") == arn)
    request: dict[str, Any] = {"cluster": cfg["cluster"], "service": cfg["service"]}
    if not same:
        request["taskDefinition"] = arn
    if wanted != shown:
        request["deploymentConfiguration"] = wanted
    if len(request) > 2:
        try:
            service = ecs.update_service(**request)["service"]
        except ClientError as err:
            raise LabError(
                f"ECS refused the release: {err.response['Error'].get('Message', err)}",
                "check minimum_healthy_percent (0 to 100) and maximum_percent (100 or more), then release again.",
            ) from None
    primary = next((d for d in service.get("deployments") or [] if d.get("status") == "PRIMARY"), None)
    if same:
        already = "deploys" if primary is not None and primary.get("rolloutState") == "IN_PROGRESS" else "runs"
        key = _history_key(primary)
        if key in _HISTORY:
            earlier, timeline = _HISTORY[key]
            result = replace(earlier, deployed=False, already=already)
            _LAST["release"], _LAST["timeline"] = result, timeline
            return result
        started = _now(lab)
    else:
        already = ""
        started = _aware(primary["createdAt"]) if primary is not None and primary.get("createdAt") else _now(lab)
    result = Release(
        version=environment["APP_VERSION"],
        colour=environment["APP_COLOUR"],
        revision=arn.rsplit("/", 1)[-1],
        task_definition_arn=arn,
        environment=environment,
        desired=int(service.get("desiredCount") or 0),
        minimum_healthy_percent=wanted["minimumHealthyPercent"],
        maximum_percent=wanted["maximumPercent"],
        circuit_breaker=wanted["deploymentCircuitBreaker"],
        started=started,
        deployed=not same,
        registered=registered,
        already=already,
        deployment_id=str(primary["id"]) if primary is not None and primary.get("id") else "",
        known_events=frozenset(str(e.get("id") or e.get("message")) for e in service.get("events") or []),
    )
    _LAST["release"], _LAST["timeline"] = result, None
    return result


# -- watching ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionCount:
    """One task definition revision's tasks at one step (and their targets' health)."""

    running: int = 0
    pending: int = 0
    stopping: int = 0
    healthy: int = 0

    @property
    def total(self) -> int:
        return self.running + self.pending + self.stopping

    def __str__(self) -> str:
        parts = []
        if self.running:
            parts.append(f"{self.running} running" + (f" ({self.healthy} healthy)" if self.healthy else ""))
        if self.pending:
            parts.append(f"{self.pending} pending")
        if self.stopping:
            parts.append(f"{self.stopping} stopping")
        return ", ".join(parts) or "-"


@dataclass(frozen=True)
class DeploymentState:
    """One entry of the service's ``deployments`` list at one step."""

    revision: str
    status: str  # PRIMARY | ACTIVE
    rollout_state: str  # IN_PROGRESS | COMPLETED | FAILED
    failed_tasks: int
    created_at: float  # seconds since the timeline's start (negative: before the release)
    updated_at: float
    reason: str = ""  # rolloutStateReason, e.g. "ECS deployment circuit breaker: tasks failed to start."


@dataclass(frozen=True)
class Step:
    """What the service looked like ``at`` seconds after the release started."""

    at: float
    tasks: dict[str, VersionCount]  # revision ("my-app-frontend:3") -> counts
    targets: dict[str, int]  # target state -> count, over the service's target groups
    deployments: tuple[DeploymentState, ...]
    desired: int
    events: tuple[tuple[float, str], ...] = ()  # service events that appeared since the previous step

    @property
    def total_tasks(self) -> int:
        """Tasks that run or are pending (what maximumPercent caps)."""
        return sum(c.running + c.pending for c in self.tasks.values())

    @property
    def healthy(self) -> int:
        return self.targets.get("healthy", 0)

    @property
    def primary(self) -> DeploymentState | None:
        return next((d for d in self.deployments if d.status == "PRIMARY"), None)

    @property
    def steady(self) -> bool:
        """One deployment left, COMPLETED, with every desired task running."""
        primary = self.primary
        return (
            len(self.deployments) == 1
            and primary is not None
            and primary.rollout_state == "COMPLETED"
            and sum(c.running for c in self.tasks.values()) == self.desired
            and not any(c.pending or c.stopping for c in self.tasks.values())
        )


def _seconds(value: float) -> str:
    return f"{value:g} s" if value < 120 or value % 60 else f"{value / 60:g} min"


@dataclass
class ReleaseTimeline:
    """Every step of a :func:`watch`: tasks per revision, target health, deployments, new events."""

    release: Release | None = None
    every: float = 10.0
    steps: list[Step] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # revision -> "v2"
    colours: dict[str, str] = field(default_factory=dict)  # revision -> "green"
    timed_out: bool = False

    # -- what it measured -----------------------------------------------------------------------------
    @property
    def end(self) -> float:
        return self.steps[-1].at if self.steps else 0.0

    @property
    def events(self) -> list[tuple[float, str]]:
        """Every new service event, (seconds since the release, ECS's words with names for IDs)."""
        return [e for s in self.steps for e in s.events]

    @property
    def peak_tasks(self) -> int:
        """The most tasks running or pending at once (what maximumPercent caps), over the steps."""
        return max((s.total_tasks for s in self.steps), default=0)

    @property
    def fewest_healthy(self) -> int:
        """The fewest healthy targets at any step: the capacity left to users at the worst moment."""
        return min((s.healthy for s in self.steps), default=0)

    @property
    def extra_task_seconds(self) -> float:
        """Task-seconds beyond the desired count (tasks starting, running or draining), step by step.

        Fargate bills a task from its image pull until it stops, draining included: this is roughly
        the extra capacity a rollout paid for (to the resolution of ``every``).
        """
        extra = 0.0
        for step, following in zip(self.steps, self.steps[1:], strict=False):
            alive = sum(c.total for c in step.tasks.values())
            extra += max(0, alive - step.desired) * (following.at - step.at)
        return extra

    @property
    def finished(self) -> bool:
        return bool(self.steps) and self.steps[-1].steady

    @property
    def failed(self) -> list[str]:
        """Revisions whose deployment went FAILED (the circuit breaker), in order."""
        found: dict[str, None] = {}
        for step in self.steps:
            for d in step.deployments:
                if d.rollout_state == "FAILED":
                    found.setdefault(d.revision, None)
        return list(found)

    @property
    def rolled_back(self) -> bool:
        """A deployment failed and the service finished on another revision."""
        last = self.steps[-1].primary if self.steps else None
        return bool(self.failed) and self.finished and last is not None and last.revision not in self.failed

    @property
    def completed_after_seconds(self) -> float | None:
        """Seconds from the release to the moment ECS marked the deployment COMPLETED (None: not yet).

        Taken from the deployment's own ``updatedAt``, so it is exact, not rounded to a step.
        """
        if not self.finished:
            return None
        primary = self.steps[-1].primary
        return None if primary is None else max(0.0, primary.updated_at)

    @property
    def blocked(self) -> bool:
        """ECS reported that the deployment configuration lets it neither stop nor start a task."""
        return any(BLOCKED_EVENT in text for _, text in self.events)

    @property
    def outcome(self) -> str:
        if self.rolled_back:
            return "rolled back"
        if self.finished:
            return "completed"
        if self.steps and self.steps[-1].primary is not None and self.steps[-1].primary.rollout_state == "FAILED":
            return "failed"
        return "blocked" if self.blocked else "in progress"

    def label(self, revision: str) -> str:
        """``"v2"`` for a revision, or ``"v2 (:5)"`` if two revisions in the timeline share a version."""
        name = self.labels.get(revision, revision)
        twins = [r for r in self.revisions() if self.labels.get(r, r) == name]
        return f"{name} (:{revision.rsplit(':', 1)[-1]})" if len(twins) > 1 else name

    def revisions(self) -> list[str]:
        """Every revision seen, in order of first appearance."""
        found: dict[str, None] = {}
        for step in self.steps:
            for d in reversed(step.deployments):  # oldest deployment first
                found.setdefault(d.revision, None)
            for revision in step.tasks:
                found.setdefault(revision, None)
        return list(found)

    # -- text ----------------------------------------------------------------------------------------
    def summary(self) -> str:
        """One line: the outcome, when it completed, the peak task count and the fewest healthy targets."""
        if not self.steps:
            return "nothing watched yet"
        parts = []
        done = self.completed_after_seconds
        if self.rolled_back:
            failed = ", ".join(self.label(r) for r in self.failed)
            parts.append(f"{failed} FAILED and was rolled back; steady again after {_seconds(done or 0)}")
        elif done is not None:
            parts.append(f"completed after {_seconds(done)}")
        elif self.outcome == "failed":
            parts.append(f"FAILED (circuit breaker, no rollback) at {_seconds(self.end)}")
        elif self.outcome == "blocked":
            parts.append("blocked: the deployment configuration lets ECS neither stop nor start a task")
        else:
            parts.append(f"still in progress after {_seconds(self.end)}")
        parts.append(f"at most {self.peak_tasks} tasks running or pending")
        parts.append(f"fewest healthy targets {self.fewest_healthy}")
        return "; ".join(parts)

    def table(self, events: bool = True) -> str:
        """A row per step where something changed; with ``events``, ECS's new events under each row."""
        if not self.steps:
            return "nothing watched yet"
        revisions = self.revisions()
        header = ["after", *(self.label(r) for r in revisions), "targets", "deployment"]
        rows: list[tuple[list[str], tuple[tuple[float, str], ...]]] = []
        last: list[str] | None = None
        pending_events: list[tuple[float, str]] = []
        for step in self.steps:
            cells = [str(step.tasks.get(r, VersionCount())) for r in revisions]
            cells.append(_targets_text(step.targets))
            cells.append(self._deployment_text(step))
            pending_events += step.events
            if cells != last:
                rows.append(([f"{step.at:g} s", *cells], tuple(pending_events)))
                pending_events = []
                last = cells
            elif pending_events and events:
                # Something happened without changing a count: show it under a row of its own.
                rows.append(([f"{step.at:g} s", *cells], tuple(pending_events)))
                pending_events = []
        widths = [max(len(r[i]) for r in [header, *(row for row, _ in rows)]) for i in range(len(header))]

        def line(cells: list[str]) -> str:
            parts = [c.rjust(w) if i == 0 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
            return "  ".join(parts).rstrip()

        out = [line(header)]
        for cells, new in rows:
            out.append(line(cells))
            if events:
                out += [f"{'':>{widths[0]}}  · {at:g} s  {text}" for at, text in new]
        return "\n".join(out)

    def _deployment_text(self, step: Step) -> str:
        primary = step.primary
        if primary is None:
            return "-"
        text = f"{self.label(primary.revision)} {primary.rollout_state}"
        failed = [d for d in step.deployments if d.status != "PRIMARY" and d.rollout_state == "FAILED"]
        if failed:
            text += "; " + ", ".join(f"{self.label(d.revision)} FAILED" for d in failed)
        return text

    def __str__(self) -> str:
        head = ""
        if self.release is not None:
            head = f"{self.release.label} with {self.release.settings()}, every {_seconds(self.every)}:\n"
        return f"{head}{self.table()}\n{self.summary()}"

    # -- picture --------------------------------------------------------------------------------------
    def figure(self, lab: Lab | None = None) -> Figure:
        """Tasks per revision over time; below, each version's share of the users' requests.

        The traffic panel appears only when synthetic traffic ran during the watch (offline).
        """
        return draw(self, lab=lab)


def _targets_text(targets: Mapping[str, int]) -> str:
    order = ["healthy", "initial", "unhealthy", "draining", "unused", "unavailable"]
    keys = sorted(targets, key=lambda s: (order.index(s) if s in order else len(order), s))
    return ", ".join(f"{targets[k]} {k}" for k in keys if targets[k]) or "-"


class _Watcher:
    """The polling state of one watch: tasks still being followed, events already reported."""

    def __init__(self, lab: Lab, timeline: ReleaseTimeline, origin: datetime) -> None:
        self.lab = lab
        self.timeline = timeline
        self.origin = origin
        self.cfg = lab.config.raw["ecs"]
        self.known: set[str] = set()
        self.seen_events: set[str] = set(timeline.release.known_events) if timeline.release is not None else set()
        self.first = True
        self.deployments: dict[str, str] = {}  # deployment id -> revision, for every one seen

    def _since(self, when: Any) -> float:
        return round((_aware(when) - self.origin).total_seconds(), 3)

    def _describe_definition(self, arn: str) -> None:
        revision = arn.rsplit("/", 1)[-1]
        if revision in self.timeline.labels:
            return
        env: dict[str, str] = {}
        try:
            td = self.lab.client("ecs").describe_task_definition(taskDefinition=arn)["taskDefinition"]
            env = _environment(td)
        except ClientError:  # a deregistered revision still labels itself by its name
            env = {}
        self.timeline.labels[revision] = env.get("APP_VERSION") or revision
        self.timeline.colours[revision] = env.get("APP_COLOUR", "")

    def poll(self, at: float) -> Step:
        ecs = self.lab.client("ecs")
        cluster, name = self.cfg["cluster"], self.cfg["service"]
        service = _service(self.lab)
        running_arns: list[str] = []
        for page in ecs.get_paginator("list_tasks").paginate(
            cluster=cluster, serviceName=name, desiredStatus="RUNNING"
        ):
            running_arns += page["taskArns"]
        if self.first:
            # Tasks already on their way out when the watch starts (draining, stopping) count too.
            for page in ecs.get_paginator("list_tasks").paginate(
                cluster=cluster, serviceName=name, desiredStatus="STOPPED"
            ):
                self.known.update(page["taskArns"])
        self.known.update(running_arns)
        described: list[dict[str, Any]] = []
        ordered = sorted(self.known)
        for start in range(0, len(ordered), 100):
            described += ecs.describe_tasks(cluster=cluster, tasks=ordered[start : start + 100])["tasks"]
        health = self._health(service)
        counts: dict[str, Counter[str]] = {}
        ips: dict[str, str] = {}
        for task in described:
            status = str(task.get("lastStatus") or "")
            arn = str(task["taskArn"])
            ip = _detail(task, "privateIPv4Address")
            ips[arn.rsplit("/", 1)[-1]] = ip
            if status == "STOPPED":
                self.known.discard(arn)
                continue
            self._describe_definition(str(task["taskDefinitionArn"]))
            revision = str(task["taskDefinitionArn"]).rsplit("/", 1)[-1]
            bucket = counts.setdefault(revision, Counter())
            if status in _PENDING:
                bucket["pending"] += 1
            elif status == "RUNNING" and task.get("desiredStatus") != "STOPPED":
                bucket["running"] += 1
                bucket["healthy"] += health.get(ip) == "healthy"
            else:
                bucket["stopping"] += 1
        deployments = []
        for d in service.get("deployments") or []:
            self._describe_definition(str(d["taskDefinition"]))
            self.deployments[str(d["id"])] = str(d["taskDefinition"]).rsplit("/", 1)[-1]
            deployments.append(
                DeploymentState(
                    revision=str(d["taskDefinition"]).rsplit("/", 1)[-1],
                    status=str(d.get("status")),
                    rollout_state=str(d.get("rolloutState") or "-"),
                    failed_tasks=int(d.get("failedTasks") or 0),
                    created_at=self._since(d["createdAt"]) if d.get("createdAt") else 0.0,
                    updated_at=self._since(d["updatedAt"]) if d.get("updatedAt") else 0.0,
                    reason=str(d.get("rolloutStateReason") or ""),
                )
            )
        step = Step(
            at=at,
            tasks={r: VersionCount(c["running"], c["pending"], c["stopping"], c["healthy"]) for r, c in counts.items()},
            targets=dict(Counter(health.values())),
            deployments=tuple(deployments),
            desired=int(service.get("desiredCount") or 0),
            events=tuple(self._new_events(service, ips)),
        )
        self.first = False
        return step

    def _health(self, service: Mapping[str, Any]) -> dict[str, str]:
        elbv2 = self.lab.client("elbv2")
        states: dict[str, str] = {}
        for entry in service.get("loadBalancers") or []:
            arn = entry.get("targetGroupArn")
            if arn:
                for target in elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]:
                    states[str(target["Target"]["Id"])] = str(target["TargetHealth"]["State"])
        return states

    def _new_events(self, service: Mapping[str, Any], ips: Mapping[str, str]) -> list[tuple[float, str]]:
        found = []
        for event in reversed(service.get("events") or []):  # ECS lists them newest first
            key = str(event.get("id") or event["message"])
            if key in self.seen_events:
                continue
            self.seen_events.add(key)
            at = self._since(event["createdAt"])
            if at < 0:
                continue  # before the release: not part of this story
            found.append((at, self._tidy(str(event["message"]), service, ips)))
        return found

    def _tidy(self, text: str, service: Mapping[str, Any], ips: Mapping[str, str]) -> str:
        """ECS's words, with a task shown as its version and IP, a deployment by its version, a TG by name."""
        text = _SERVICE_PREFIX.sub("", text)

        def task(match: re.Match[str]) -> str:
            ip = ips.get(match.group(1)) or self._task_ip(match.group(1))
            return f"({ip or match.group(1)[:8] + '…'})"

        def deployment(match: re.Match[str]) -> str:
            revision = self.deployments.get(match.group(0))
            return f"of {self.timeline.label(revision)}" if revision else "…"

        text = _TASK_REF.sub(task, text)
        text = _DEPLOYMENT_REF.sub(deployment, text)
        return _TG_REF.sub(lambda m: f"({m.group(1).split('/')[1]})", text)

    def _task_ip(self, task_id: str) -> str:
        try:
            found = self.lab.client("ecs").describe_tasks(cluster=self.cfg["cluster"], tasks=[task_id])["tasks"]
        except ClientError:  # an expired task: fall back to its short id
            return ""
        return _detail(found[0], "privateIPv4Address") if found else ""


def _detail(task: Mapping[str, Any], name: str) -> str:
    for attachment in task.get("attachments") or []:
        for detail in attachment.get("details") or []:
            if detail.get("name") == name:
                return str(detail.get("value") or "")
    return ""


def _aware(when: Any) -> datetime:
    if isinstance(when, datetime):
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    if isinstance(when, int | float):
        return datetime.fromtimestamp(float(when), tz=UTC)
    return datetime.fromisoformat(str(when).replace("Z", "+00:00"))


def _now(lab: Lab) -> datetime:
    """Now on the lab's clock: the region's virtual clock offline, the wall clock on AWS."""
    return clock.now() if lab.offline else datetime.now(UTC)


def watch(
    until: str | float = "steady",
    every: str | float = "10s",
    *,
    timeout: str | float = DEFAULT_TIMEOUT,
    release: Release | None = None,
    lab: Lab | None = None,
) -> ReleaseTimeline:
    """Let time pass ``every`` seconds at a time and record the service at each step.

    ``until="steady"`` stops once the deployment is COMPLETED and only its tasks are left (or a
    deployment FAILED without rollback, or after ``timeout``); a duration (``"5m"``, ``300``) watches
    for that long. Offline, time passing means advancing the region's virtual clock (instantly);
    against real AWS the call sleeps between polls, so the same code watches a real deployment.
    Times are seconds since ``release`` started (default: the last :func:`release` of this kernel).
    """
    lab = lab or current()
    step = clock.parse_duration(every)
    if step <= 0:
        raise LabError(f"every={every!r} would poll without letting time pass.", "use every='10s' or more.")
    steady = until == "steady"
    limit = clock.parse_duration(timeout if steady else until)
    if limit / step > MAX_STEPS:
        raise LabError(
            f"Watching {_seconds(limit)} every {_seconds(step)} would take {limit / step:.0f} steps.",
            f"watch for a shorter time or poll less often (a larger `every`): at most {MAX_STEPS} steps.",
        )
    chosen = release if release is not None else _LAST["release"]
    if steady and chosen is not None and not chosen.deployed and _LAST["timeline"] is not None:
        earlier: ReleaseTimeline = _LAST["timeline"]
        if earlier.finished and earlier.release is not None and earlier.release.deployment_id == chosen.deployment_id:
            return earlier  # the deployment already finished: its story is the one recorded then
    origin = chosen.started if chosen is not None else _now(lab)
    timeline = ReleaseTimeline(release=chosen, every=step)
    watcher = _Watcher(lab, timeline, origin)
    elapsed = 0.0
    offset = max(0.0, (_now(lab) - origin).total_seconds())
    timeline.steps.append(watcher.poll(round(offset, 3)))
    while True:
        last = timeline.steps[-1]
        if steady and (last.steady or (last.primary is not None and last.primary.rollout_state == "FAILED")):
            break
        if steady and any(BLOCKED_EVENT in text for _, text in last.events):
            break  # ECS said it cannot move: waiting longer changes nothing
        if elapsed >= limit:
            timeline.timed_out = steady
            break
        if lab.offline:
            clock.advance(step)
        else:
            time.sleep(step)
        elapsed += step
        timeline.steps.append(watcher.poll(round(offset + elapsed, 3)))
    _LAST["timeline"] = timeline
    if chosen is not None and chosen.deployed and timeline.finished and steady:
        service = _service(lab)
        key = _history_key(
            next((d for d in service.get("deployments") or [] if d.get("id") == chosen.deployment_id), None)
        )
        if key is not None:
            _HISTORY[key] = (chosen, timeline)
    return timeline


# -- measuring -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measurement:
    """What a release cost: the users' side (traffic) and the service's side (timeline)."""

    release: str  # "v2 (green)"
    settings: str
    outcome: str
    completed_after_seconds: float | None
    peak_tasks: int
    fewest_healthy: int
    requests: int | None  # None: no synthetic traffic (real AWS)
    failed: int | None
    downtime_seconds: int | None
    longest_downtime_seconds: int | None
    versions: dict[str, int]  # version -> requests it answered
    window_seconds: float

    @property
    def failure_rate(self) -> float:
        return (self.failed or 0) / self.requests if self.requests else 0.0

    def __str__(self) -> str:
        lines = [f"{self.release}, {self.settings}"]
        if self.completed_after_seconds is not None:
            done = f"{self.outcome} after {_seconds(self.completed_after_seconds)}"
        else:
            done = f"{self.outcome} ({_seconds(self.window_seconds)} watched)"
        lines.append(
            f"  service: {done}; at most {self.peak_tasks} tasks running or pending; "
            f"fewest healthy targets {self.fewest_healthy}"
        )
        if self.requests is None:
            lines.append("  users:   no synthetic traffic on real AWS (use traffic.probe while you deploy)")
        else:
            down = (
                f"down for {_seconds(self.downtime_seconds or 0)}"
                + (
                    f" (longest {_seconds(self.longest_downtime_seconds or 0)} in a row)"
                    if (self.longest_downtime_seconds or 0) != (self.downtime_seconds or 0)
                    else ""
                )
                if self.downtime_seconds
                else "no downtime"
            )
            lines.append(
                f"  users:   {self.requests:,} requests, {self.failed:,} failed ({self.failure_rate:.1%}), {down}"
            )
            if self.versions:
                served = ", ".join(f"{v} {n:,}" for v, n in self.versions.items())
                lines.append(f"  served:  {served}")
        return "\n".join(lines)


def measure(
    since: Release | datetime | None = None,
    *,
    timeline: ReleaseTimeline | None = None,
    lab: Lab | None = None,
) -> Measurement:
    """The last release's cost: failed requests and downtime (from ``traffic.summary``) plus the time
    to complete, peak task count and fewest healthy targets (from the timeline of :func:`watch`).

    The traffic window runs from ``since`` (default: the release's start) to the end of the timeline.
    On real AWS there is no synthetic traffic; the users' side is left out.
    """
    lab = lab or current()
    timeline = timeline or _LAST["timeline"]
    if timeline is None or not timeline.steps:
        raise LabError(
            "There is no watched release to measure yet.", "call releases.watch() after release(), then measure()."
        )
    chosen = since if isinstance(since, Release) else timeline.release
    if isinstance(since, datetime):
        start = _aware(since)
    elif chosen is not None:
        start = chosen.started
    else:
        raise LabError(
            "measure() does not know when the release started.", "pass since=the Release that release() returned."
        )
    origin = timeline.release.started if timeline.release is not None else start
    until = origin.timestamp() + timeline.end + 1  # the whole last second of the watch
    requests = failed = down = longest = None
    versions: dict[str, int] = {}
    if lab.offline:
        summary = traffic.summary(start, until, lab)
        requests, failed = summary.total, summary.failed
        down, longest = summary.downtime_seconds, summary.longest_downtime_seconds
        versions = {v.version: v.requests for v in summary.versions}
    name = chosen.label if chosen is not None else "the service"
    settings = chosen.settings() if chosen is not None else ""
    return Measurement(
        release=name,
        settings=settings,
        outcome=timeline.outcome,
        completed_after_seconds=timeline.completed_after_seconds,
        peak_tasks=timeline.peak_tasks,
        fewest_healthy=timeline.fewest_healthy,
        requests=requests,
        failed=failed,
        downtime_seconds=down,
        longest_downtime_seconds=longest,
        versions=versions,
        window_seconds=until - start.timestamp(),
    )


# -- drawing -----------------------------------------------------------------------------------------------

_FALLBACK = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]


def _colour_of(name: str, index: int) -> str:
    from matplotlib.colors import is_color_like

    return name if name and is_color_like(name) else _FALLBACK[index % len(_FALLBACK)]


def draw(timeline: ReleaseTimeline, *, lab: Lab | None = None) -> Figure:
    """The timeline as a PNG-ready figure (see :meth:`ReleaseTimeline.figure`).

    Top: one bar per step, stacked by revision in the version's own colour (``APP_COLOUR`` when it
    is a colour name): solid while running, pale while pending, hatched while stopping; the black
    line counts healthy targets. Bottom (when synthetic traffic ran): each version's share of the
    requests of every second, and the share that failed.
    """
    revisions = timeline.revisions()
    colours = {r: _colour_of(timeline.colours.get(r, ""), i) for i, r in enumerate(revisions)}
    series = None
    start = timeline.release.started.timestamp() if timeline.release is not None else 0.0
    if timeline.release is not None and timeline.steps and (lab or current()).offline:
        series = traffic.series(start, start + timeline.end + 1, lab or current())
        if not len(series):
            series = None
    panels = 2 if series is not None else 1
    fig = Figure(figsize=(9.5, 2.4 * panels + 0.9), dpi=100)
    axes = fig.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]
    if timeline.release is None:
        title = "tasks per version"
    else:
        title = f"{timeline.release.label}: {timeline.release.settings()}"
    fig.suptitle(title, fontsize=10)
    ax = axes[0]
    times = [s.at for s in timeline.steps]
    width = timeline.every * 0.9
    bottom = [0.0] * len(times)
    handles: list[Any] = []
    for revision in revisions:
        for kind, alpha, hatch in (("running", 1.0, None), ("pending", 0.4, None), ("stopping", 0.25, "///")):
            values = [float(getattr(s.tasks.get(revision, VersionCount()), kind)) for s in timeline.steps]
            if not any(values):
                continue
            ax.bar(
                times, values, width=width, bottom=bottom, align="edge", color=colours[revision],
                alpha=alpha, hatch=hatch, edgecolor="white", linewidth=0.4,
            )  # fmt: skip
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        handles.append(Patch(color=colours[revision], label=timeline.label(revision)))
    handles += [
        Patch(facecolor="#757575", label="running"),
        Patch(facecolor="#757575", alpha=0.4, label="pending"),
        Patch(facecolor="#757575", alpha=0.25, hatch="///", label="stopping"),
    ]
    if times:
        xs = [*times, times[-1] + timeline.every]
        ys = [s.healthy for s in timeline.steps]
        (line,) = ax.step(xs, [*ys, ys[-1]], where="post", color="black", linewidth=1.3, label="healthy targets")
        handles.append(line)
    top = max([*bottom, 1.0])
    ax.set_ylabel("tasks", fontsize=8)
    ax.set_ylim(0, top + 1.6)
    ax.set_yticks(range(int(top) + 1))
    ax.legend(handles=handles, fontsize=7, loc="upper left", ncol=len(handles), frameon=False)
    for at, text in timeline.events:
        if "deployment failed" in text:
            ax.axvline(at, color="#c62828", linestyle="--", linewidth=0.9)
            ax.text(at, top + 0.15, " deployment failed", color="#c62828", fontsize=7)
    done = timeline.completed_after_seconds
    if done is not None and timeline.release is not None:
        ax.axvline(done, color="#2e7d32", linestyle=":", linewidth=1.0)
        ax.text(done, top + 0.15, " steady", color="#2e7d32", fontsize=7, ha="left")
    if series is not None:
        tx = axes[1]
        xs2 = [s.at.timestamp() - start for s in series.seconds]
        base = [0.0] * len(xs2)
        version_colour = {timeline.labels.get(r, r): colours[r] for r in revisions}
        for index, version in enumerate(series.versions):
            share = [s.versions.get(version, 0) / s.total if s.total else 0.0 for s in series.seconds]
            colour = version_colour.get(version, _FALLBACK[(len(revisions) + index) % len(_FALLBACK)])
            upper = [b + v for b, v in zip(base, share, strict=True)]
            tx.fill_between(xs2, base, upper, step="post", color=colour, alpha=0.85, linewidth=0, label=version)
            base = upper
        fail = [s.failed / s.total if s.total else 0.0 for s in series.seconds]
        if any(fail):
            upper = [b + v for b, v in zip(base, fail, strict=True)]
            tx.fill_between(xs2, base, upper, step="post", color="#212121", linewidth=0, label="failed (5xx)")
        tx.set_ylim(0, 1.3)
        tx.set_yticks([0, 0.5, 1], ["0 %", "50 %", "100 %"])
        tx.set_ylabel("requests answered", fontsize=8)
        tx.legend(fontsize=7, loc="upper left", ncol=6, frameon=False)
    axes[-1].set_xlabel("seconds since the release started (the region's clock offline)", fontsize=8)
    for a in axes:
        a.tick_params(labelsize=8)
        for side in ("top", "right"):
            a.spines[side].set_visible(False)
        a.set_xlim(min(times, default=0.0), max(timeline.end + timeline.every, 1.0))
    fig.tight_layout()
    return fig
