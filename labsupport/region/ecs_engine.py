"""The ECS service scheduler: what ECS does between API calls.

moto stores services but starts no tasks. Here, as on ECS:

- a service keeps ``desiredCount`` tasks of its PRIMARY deployment running, spread over its subnets
  and so over Availability Zones (scale-in keeps the zones balanced too), each with an ENI whose
  address is the lowest free one of its subnet. A subnet without a free address fails the task at
  PROVISIONING (``TaskFailedToStart``), as Fargate does, instead of failing the API call;
- a task moves PROVISIONING → PENDING → RUNNING on the virtual clock; at PENDING the image is pulled
  (see :mod:`.images`: from the lab's ECR, reachable through a NAT gateway, a public IP or VPC
  endpoints) and at RUNNING the container starts: the sample app's real code, with the task
  definition's environment. A container that exits at once stops the task
  (``EssentialContainerExited``);
- a RUNNING task of a service with a load balancer is registered in its target group; a stopping
  task is deregistered first and stays DEACTIVATING for the deregistration delay (draining), then
  STOPPING (SIGTERM), DEPROVISIONING (ENI detached) and STOPPED, when its address goes back to the
  subnet;
- a new task definition starts a rolling deployment bounded by ``minimumHealthyPercent`` (rounded
  up) and ``maximumPercent`` (rounded down); recreate is the same engine with 0 / 100. The
  ``deployments`` list shows PRIMARY and ACTIVE deployments with their rollout state;
- a task whose load-balancer health checks fail after the grace period is replaced: a replacement
  starts first when ``maximumPercent`` leaves room (ECS's behaviour since October 2023), and the
  unhealthy task stops once the replacement is healthy;
- tasks that repeatedly fail to start are retried more and more slowly (ECS's service throttle
  logic, at most every 15 minutes), and the deployment circuit breaker, when enabled, fails (and
  optionally rolls back) a deployment whose tasks keep failing;
- service ``events`` carry ECS's own wording ("has started 2 tasks", "has reached a steady state").
- services with the ``CODE_DEPLOY`` or ``EXTERNAL`` controller run their tasks in task sets
  (:mod:`.task_sets`, ``self.task_sets``): the same task life, each set's tasks in its own target group,
  and events naming the set (``(service s, taskSet ecs-svc/…) has started 2 tasks: …``).

Every step is an event on the virtual clock, so ``clock advance 1m`` plays one minute of ECS.
A failure inside one of these events is a lab bug: it is recorded in ``clock.errors`` (shown by
``GET /_lab/status``) and the task it happened to is brought to STOPPED, never left half-way.

AWS wordings used here, and where they come from:

- service events: "has started N tasks: (task …).", "has stopped N running tasks: (task …).",
  "registered N targets in (target-group …)", "deregistered N targets in (target-group …)",
  "has begun draining connections on N tasks.", "(task …) (port P) is unhealthy in (target-group …)
  due to (reason …).", "has reached a steady state.", "(deployment …) deployment completed.",
  "is unable to consistently start tasks successfully.", "was unable to stop or start tasks during a
  deployment because of the service deployment configuration. Update the minimumHealthyPercent or
  maximumPercent value and try again." (ECS developer guide, ``service-event-messages.md``, and
  service events quoted in public issues, e.g. hackforla/CivicTechJobs#436);
- ``stoppedReason``: "Scaling activity initiated by (deployment ecs-svc/…)", "Task failed ELB health
  checks in (target-group …)", "Essential container in task exited", "Task stopped by user", and for
  a full subnet "Unexpected EC2 error while attempting to Create Network Interface [with public IP
  assignment enabled] in subnet '…': InsufficientFreeAddressesInSubnet" (ECS developer guide,
  "Troubleshooting TaskFailedToStart errors"); ``stopCode`` from botocore's ``TaskStopCode`` enum;
- throttling: ECS developer guide, ``service-throttle-logic.md`` (tasks stopped before RUNNING slow
  the retries down, "up to a maximum of 15 minutes"; a new task definition resets it).
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runtime import World

PROVISIONING_SECONDS = 10.0  # ENI created and attached
PULL_SECONDS = 20.0  # image pulled and container started
STOP_SECONDS = 5.0  # SIGTERM to exit for the sample app, which handles SIGTERM (stopTimeout is 30 s)
DEPROVISION_SECONDS = 10.0  # ENI detached and released
RECONCILE_DELAY = 1.0  # how soon the scheduler reacts to a change
NO_LB_HEALTHY_SECONDS = 40.0  # a task without load balancer or container health check counts after 40 s
MAX_EVENTS = 100  # ECS keeps the latest 100 service events
# Service throttle logic: ECS documents the behaviour and the 15-minute ceiling, not the steps. The lab
# starts slowing down after THROTTLE_AFTER consecutive failed starts and doubles the wait each time.
THROTTLE_AFTER = 3
THROTTLE_FIRST_DELAY = 30.0
THROTTLE_MAX_DELAY = 900.0
ERROR_RETRY_SECONDS = 30.0  # a reconcile that failed (a lab bug) is retried this much later

# botocore TaskStopCode values
SCHEDULER = "ServiceSchedulerInitiated"
USER = "UserInitiated"
FAILED_TO_START = "TaskFailedToStart"
ESSENTIAL_EXITED = "EssentialContainerExited"

ESSENTIAL_EXIT_REASON = "Essential container in task exited"
USER_STOP_REASON = "Task stopped by user"
BLOCKED_MESSAGE = (
    "was unable to stop or start tasks during a deployment because of the service deployment "
    "configuration. Update the minimumHealthyPercent or maximumPercent value and try again."
)


@dataclass
class TaskRun:
    """What the scheduler knows about one task beyond moto's record."""

    task_arn: str
    cluster: str
    service_arn: str | None
    deployment_id: str | None
    subnet_id: str
    ip: str
    container_name: str
    container_port: int | None
    seq: int = 0  # launch order, for deterministic choices
    public: bool = False
    groups: list[str] = field(default_factory=list)
    platform_version: str = "LATEST"
    launch_failure: str | None = None  # the ENI could not be created: the task fails at PROVISIONING
    registered: list[tuple[str, str, int]] = field(default_factory=list)  # (tg arn, ip, port)
    started_at: float | None = None
    exit_code: int | None = None  # set when the container exited by itself
    unhealthy: bool = False  # failed its load balancer health checks: being replaced
    failed_tg: str = ""  # the target group whose health checks it failed
    replacement: str | None = None  # the task started to replace this one
    stopping: bool = False
    stopped: bool = False
    task_set: str | None = None  # the task set (ecs-svc/…) a CODE_DEPLOY or EXTERNAL service runs it in
    load_balancers: list[dict[str, Any]] | None = None  # the task set's own; None: the service's


@dataclass
class ServiceRun:
    """The scheduler's view of one service: its deployment settings and pending work."""

    arn: str
    cluster: str
    name: str
    minimum_healthy_percent: int = 100
    maximum_percent: int = 200
    grace_period: float = 0.0
    circuit_breaker: bool = False
    rollback: bool = False
    steady_reported: bool = False
    reconcile_event: Any = None
    deployment_configuration: dict[str, Any] = field(default_factory=dict)
    start_failures: int = 0  # consecutive tasks that stopped before reaching RUNNING
    last_failure_at: float = 0.0
    throttle_reported: bool = False
    blocked_reported: str | None = None  # the deployment id the "unable to stop or start" event was for
    completed_reported: set[str] = field(default_factory=set)
    wakeups: set[float] = field(default_factory=set)  # times a reconcile is already booked for
    last_completed: dict[str, Any] | None = None  # the last deployment that reached COMPLETED


class EcsScheduler:
    def __init__(self, world: World) -> None:
        self.world = world
        self.tasks: dict[str, TaskRun] = {}
        self.services: dict[str, ServiceRun] = {}
        self.launching = False  # True while the scheduler itself calls moto's run_task
        self._launches = 0
        self._deployments_made = 0
        world.health.listeners.append(self._on_health_change)
        from .task_sets import TaskSetEngine

        # Task sets (CODE_DEPLOY and EXTERNAL services) run their tasks through this scheduler.
        self.task_sets = TaskSetEngine(self)

    def clear(self) -> None:
        self.tasks.clear()
        self.services.clear()
        self._launches = 0
        self._deployments_made = 0
        self.task_sets.clear()

    # -- helpers -----------------------------------------------------------------------------
    @property
    def ecs(self) -> Any:
        return self.world.backend("ecs")

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.world.clock.now(), tz=UTC)

    def _service(self, run: ServiceRun) -> Any | None:
        return self.ecs.services.get(f"{run.cluster}:{run.name}")

    def event(self, service: Any, message: str, task_set: str | None = None) -> None:
        """Add a service event, newest first, as ECS does (``(service s, taskSet ecs-svc/…)`` for a task set)."""
        entry = {"id": "", "createdAt": self._now(), "message": f"({_scope(service, task_set)}) {message}"}
        self._set_event_id(service, entry)
        service.events.insert(0, entry)
        del service.events[MAX_EVENTS:]

    def _set_event_id(self, service: Any, entry: dict[str, Any]) -> None:
        # A stable id (not random) so event ids are the same on every run of the same steps.
        seed = f"{service.arn}/{len(service.events)}/{entry['createdAt'].timestamp()}/{entry['message']}"
        entry["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, seed))

    def _count_event(self, service: Any, verb: str, count: int, tg_arn: str, task_set: str | None = None) -> None:
        """``registered N targets in (target-group …)``: ECS reports the targets of one moment together."""
        scope = _scope(service, task_set)
        pattern = re.compile(rf"^\({re.escape(scope)}\) {verb} (\d+) targets in \(target-group (.+)\)$")
        if service.events:
            newest = service.events[0]
            found = pattern.match(newest["message"])
            if found and found.group(2) == tg_arn and newest["createdAt"] == self._now():
                total = int(found.group(1)) + count
                newest["message"] = f"({scope}) {verb} {total} targets in (target-group {tg_arn})"
                return
        self.event(service, f"{verb} {count} targets in (target-group {tg_arn})", task_set)

    def _record_error(self, where: str, exc: BaseException) -> None:
        errors = self.world.clock.errors
        errors.append(f"{where}: {type(exc).__name__}: {exc}")
        del errors[:-20]

    def _later(self, delay: float, task_arn: str, step: Callable[[str], None], name: str) -> None:
        """Schedule one step of a task's life; a failing step never leaves the task half-way."""

        def run() -> None:
            try:
                step(task_arn)
            except Exception as exc:  # a lab bug: record it, and bring the task to a clean STOPPED
                self._record_error(name, exc)
                self._abort_task(task_arn, exc)

        self.world.clock.call_later(delay, run, name=name)

    def schedule_reconcile(self, run: ServiceRun, delay: float = RECONCILE_DELAY) -> None:
        """Reconcile the service soon (at most one such pending reconcile per service)."""
        event = run.reconcile_event
        if event is not None and not event.cancelled:
            if event.due <= self.world.clock.now() + delay:
                return  # one is already due soon enough
            self.world.clock.cancel(event)
        run.reconcile_event = self.world.clock.call_later(
            delay, lambda: self._reconcile_now(run.arn), name=f"ecs: reconcile {run.name}"
        )

    def wake_at(self, run: ServiceRun, due: float) -> None:
        """Reconcile the service at ``due`` (the end of a grace period, a throttle wait, ...).

        Separate from :meth:`schedule_reconcile`: a reconcile that runs earlier must not swallow a
        wake-up that is needed later.
        """
        if due in run.wakeups:
            return
        arn = run.arn

        def wake() -> None:
            current = self.services.get(arn)
            if current is None:
                return
            current.wakeups.discard(due)
            try:
                self.reconcile(current)
            except Exception as exc:  # a lab bug: record it and try again later rather than spin
                self._record_error(f"ecs: reconcile {current.name}", exc)
                self.schedule_reconcile(current, ERROR_RETRY_SECONDS)

        run.wakeups.add(due)
        self.world.clock.call_at(due, wake, name=f"ecs: wake {run.name}")

    def _reconcile_now(self, arn: str) -> None:
        run = self.services.get(arn)
        if run is None:
            return
        run.reconcile_event = None
        try:
            self.reconcile(run)
        except Exception as exc:  # a lab bug: record it and try again later rather than spin
            self._record_error(f"ecs: reconcile {run.name}", exc)
            self.schedule_reconcile(run, ERROR_RETRY_SECONDS)

    # -- API hooks (called from moto patches, inside the API call) -----------------------------
    def service_created(self, service: Any, params: dict[str, Any]) -> None:
        config = dict(params.get("deploymentConfiguration") or {})
        run = ServiceRun(arn=service.arn, cluster=service.cluster_name, name=service.name)
        self._apply_config(run, service, config, params)
        self.services[service.arn] = run
        service.events = []
        if service.deployment_controller.get("type", "ECS") == "ECS" and service.deployments:
            first = service.deployments[0]
            now = self._now()
            first.update(
                {
                    "createdAt": now,
                    "updatedAt": now,
                    "runningCount": 0,
                    "pendingCount": 0,
                    "failedTasks": 0,
                    "rolloutState": "IN_PROGRESS",
                    "rolloutStateReason": "ECS deployment in progress.",
                    "taskDefinition": service.task_definition,
                }
            )
            first["id"] = self._deployment_id()
        service.running_count = 0
        service.pending_count = 0
        if service.deployment_controller.get("type", "ECS") == "CODE_DEPLOY":
            # "creating it makes an initial task set" (PRIMARY, 100 %) that runs the service's tasks.
            self.task_sets.initial_for_service(service)
        self.schedule_reconcile(run)

    def service_updated(self, service: Any, params: dict[str, Any], previous_td: str | None) -> None:
        run = self.services.get(service.arn)
        if run is None:
            run = ServiceRun(arn=service.arn, cluster=service.cluster_name, name=service.name)
            self.services[service.arn] = run
        if params.get("deploymentConfiguration"):
            merged = {**run.deployment_configuration, **params["deploymentConfiguration"]}
            self._apply_config(run, service, merged, params)
        elif "healthCheckGracePeriodSeconds" in params:
            self._apply_config(run, service, run.deployment_configuration, params)
        new_td = service.task_definition
        force = bool(params.get("forceNewDeployment"))
        if service.deployment_controller.get("type", "ECS") == "ECS" and (
            (params.get("taskDefinition") and new_td != previous_td) or force
        ):
            self._new_deployment(service, new_td)
            # "If you update your service to use a new task definition, your service returns to a
            # normal, non-throttled state immediately." (service throttle logic)
            run.start_failures, run.throttle_reported = 0, False
        elif service.deployments:
            service.deployments[0]["desiredCount"] = service.desired_count
        run.steady_reported = False
        self._refresh_counts(service)
        self.schedule_reconcile(run)

    def service_deleted(self, service: Any) -> None:
        run = self.services.get(service.arn)
        if run is None:
            return
        primary = service.deployments[0]["id"] if service.deployments else "ecs-svc/deleted"
        for task in self._live_tasks(service.arn):
            self.stop_task(task.task_arn, f"Scaling activity initiated by (deployment {primary})", SCHEDULER)
        self._refresh_counts(service)

    def task_stop_requested(self, task_arn: str, reason: str) -> bool:
        """A learner called StopTask: stop it the ECS way. False if the task is not ours."""
        run = self.tasks.get(task_arn)
        if run is None:
            return False
        self.stop_task(task_arn, reason or USER_STOP_REASON, USER)
        self._poke(run)  # a service replaces a stopped task at once
        return True

    # -- configuration -----------------------------------------------------------------------
    def _apply_config(self, run: ServiceRun, service: Any, config: dict[str, Any], params: dict[str, Any]) -> None:
        run.deployment_configuration = dict(config)
        run.minimum_healthy_percent = int(config.get("minimumHealthyPercent", run.minimum_healthy_percent))
        run.maximum_percent = int(config.get("maximumPercent", run.maximum_percent))
        breaker = config.get("deploymentCircuitBreaker") or {}
        run.circuit_breaker = bool(breaker.get("enable"))
        run.rollback = bool(breaker.get("rollback"))
        if "healthCheckGracePeriodSeconds" in params:
            run.grace_period = float(params["healthCheckGracePeriodSeconds"] or 0)
        shown: dict[str, Any] = {
            "maximumPercent": run.maximum_percent,
            "minimumHealthyPercent": run.minimum_healthy_percent,
        }
        shown.update({k: v for k, v in config.items() if k not in shown})
        # moto drops deploymentConfiguration at create time; keep it so DescribeServices shows it.
        service.deployment_configuration = shown
        service.health_check_grace_period_seconds = int(run.grace_period)

    def _deployment_id(self) -> str:
        # ECS ids look like ecs-svc/1234567890123456789; derive them from the order of deployments.
        self._deployments_made += 1
        return f"ecs-svc/{4000000000000000000 + self._deployments_made * 7919:019d}"

    def _new_deployment(self, service: Any, task_definition: str) -> dict[str, Any]:
        now = self._now()
        for old in service.deployments:
            if old["status"] == "PRIMARY":
                old["status"] = "ACTIVE"
                old["updatedAt"] = now
        deployment = {
            "id": self._deployment_id(),
            "status": "PRIMARY",
            "taskDefinition": task_definition,
            "desiredCount": service.desired_count,
            "pendingCount": 0,
            "runningCount": 0,
            "failedTasks": 0,
            "createdAt": now,
            "updatedAt": now,
            "launchType": service.launch_type,
            "platformVersion": service.platform_version or "LATEST",
            "platformFamily": "Linux",
            "networkConfiguration": service.network_configuration,
            "rolloutState": "IN_PROGRESS",
            "rolloutStateReason": "ECS deployment in progress.",
        }
        service.deployments.insert(0, deployment)
        return deployment

    # -- the reconcile loop ------------------------------------------------------------------
    def _live_tasks(self, service_arn: str, deployment_id: str | None = None) -> list[TaskRun]:
        return [
            t
            for t in self.tasks.values()
            if t.service_arn == service_arn
            and not t.stopping
            and not t.stopped
            and (deployment_id is None or t.deployment_id == deployment_id)
        ]

    def _status(self, task: TaskRun) -> str:
        moto_task = self._moto_task(task)
        return str(moto_task.last_status) if moto_task is not None else "STOPPED"

    def _healthy(self, task: TaskRun) -> bool:
        """Does the task count towards minimumHealthyPercent (and steady state)?"""
        if task.unhealthy or self._status(task) != "RUNNING":
            return False
        if task.registered:
            for tg_arn, ip, _ in task.registered:
                record = self.world.health.record(tg_arn, ip)
                if record is None or record.state != "healthy":
                    return False
            return True
        # Without a load balancer (and without a container health check) ECS counts a task 40 s
        # after it reached RUNNING (botocore, DeploymentConfiguration.minimumHealthyPercent).
        started = task.started_at if task.started_at is not None else self.world.clock.now()
        return self.world.clock.now() - started >= NO_LB_HEALTHY_SECONDS

    def reconcile(self, run: ServiceRun) -> None:
        service = self._service(run)
        if service is None:
            return
        if service.status != "ACTIVE":
            primary = service.deployments[0]["id"] if service.deployments else "ecs-svc/deleted"
            for task in self._live_tasks(run.arn):
                self.stop_task(task.task_arn, f"Scaling activity initiated by (deployment {primary})", SCHEDULER)
            self._refresh_counts(service)
            return
        if service.deployment_controller.get("type", "ECS") != "ECS":
            # CodeDeploy and EXTERNAL services run their tasks in task sets.
            self._find_unhealthy(service, run)
            self.task_sets.reconcile(service, run)
            return
        if not service.deployments:
            return
        self._find_unhealthy(service, run)
        primary = service.deployments[0]
        desired = int(service.desired_count or 0)
        reason = f"Scaling activity initiated by (deployment {primary['id']})"
        max_total = math.floor(desired * run.maximum_percent / 100)
        min_healthy = math.ceil(desired * run.minimum_healthy_percent / 100)

        def in_flight() -> list[TaskRun]:
            # Every task not yet STOPPED counts towards maximumPercent, draining ones included.
            return [t for t in self.tasks.values() if t.service_arn == run.arn and not t.stopped]

        # 1. Scale the primary deployment in if it has too many tasks (unhealthy ones are replaced, not counted).
        primary_live = [t for t in self._live_tasks(run.arn, primary["id"]) if not t.unhealthy]
        surplus = len(primary_live) - desired
        if surplus > 0:
            victims = self._scale_in_victims(run, primary_live, surplus)
            self._stop_many(service, victims, reason)
            primary_live = [t for t in primary_live if t not in victims]

        # 2. Tasks that failed their health checks: replace first when maximumPercent leaves room.
        started: list[TaskRun] = []
        for task in [t for t in self._live_tasks(run.arn) if t.unhealthy]:
            replacement = self.tasks.get(task.replacement or "")
            if replacement is not None:
                if replacement.stopping or replacement.stopped or self._healthy(replacement):
                    self._stop_unhealthy(service, task)
                continue
            can_launch = primary.get("rolloutState") != "FAILED" or run.rollback
            if (
                can_launch
                and task.deployment_id == primary["id"]
                and len(in_flight()) < max_total
                and not self._throttled(run)
            ):
                new = self._launch(service, run, primary)
                if new is not None:
                    task.replacement = new.task_arn
                    started.append(new)
                    primary_live.append(new)
                    continue
            self._stop_unhealthy(service, task)

        # 3. Start primary tasks, as far as maximumPercent (and the throttle logic) allows.
        need = max(0, desired - len(primary_live))
        room = max(0, max_total - len(in_flight()))
        old_live = [t for t in self._live_tasks(run.arn) if t.deployment_id != primary["id"]]
        to_start = min(room, need)
        if desired > 0 and to_start == 0 and need > 0 and not in_flight():
            to_start = need  # nothing runs at all: a first deployment is never blocked
        if to_start and primary.get("rolloutState") == "FAILED" and not run.rollback:
            to_start = 0  # "FAILED launches no new tasks"
        if to_start and self._throttled(run):
            to_start = 0
        for _ in range(to_start):
            new = self._launch(service, run, primary)
            if new is not None:
                started.append(new)
                primary_live.append(new)
        if started:
            ids = " ".join(f"(task {t.task_arn.rsplit('/', 1)[-1]})" for t in started)
            self.event(service, f"has started {len(started)} tasks: {ids}.")

        # 4. Stop old tasks, as far as minimumHealthyPercent allows.
        stopped_old: list[TaskRun] = []
        if old_live:
            healthy_now = sum(1 for t in self._live_tasks(run.arn) if self._healthy(t))
            can_stop = len(old_live) if desired == 0 else max(0, healthy_now - min_healthy)
            # Unhealthy or not-yet-running old tasks go first: stopping them costs no capacity.
            ordered = sorted(old_live, key=lambda t: (self._healthy(t), t.seq))
            for task in ordered:
                if not self._healthy(task):
                    stopped_old.append(task)
                elif can_stop > 0:
                    stopped_old.append(task)
                    can_stop -= 1
            self._stop_many(service, stopped_old, reason)

        self._report_blocked(service, run, primary, need, room, old_live, stopped_old, started)
        self._check_circuit_breaker(service, run)
        self._retire_deployments(service)
        self._refresh_counts(service)
        self._check_steady(service, run)

    def _throttled(self, run: ServiceRun) -> bool:
        """Service throttle logic: after repeated failed starts, wait longer before the next launch."""
        if run.start_failures < THROTTLE_AFTER:
            return False
        wait = min(THROTTLE_MAX_DELAY, THROTTLE_FIRST_DELAY * 2 ** (run.start_failures - THROTTLE_AFTER))
        ready_at = run.last_failure_at + wait
        now = self.world.clock.now()
        service = self._service(run)
        if service is not None and not run.throttle_reported:
            self.event(service, "is unable to consistently start tasks successfully.")
            run.throttle_reported = True
        if now >= ready_at:
            return False
        self.wake_at(run, ready_at)
        return True

    def _report_blocked(
        self,
        service: Any,
        run: ServiceRun,
        primary: dict[str, Any],
        need: int,
        room: int,
        old_live: list[TaskRun],
        stopped_old: list[TaskRun],
        started: list[TaskRun],
    ) -> None:
        """ECS's event for a deployment that min/max percent leave no way to progress."""
        if not old_live or started or stopped_old or need == 0 or room > 0:
            return
        everything = [t for t in self.tasks.values() if t.service_arn == run.arn and not t.stopped]
        settled = all(not t.stopping and self._healthy(t) for t in everything)
        if settled and run.blocked_reported != primary["id"]:
            self.event(service, BLOCKED_MESSAGE)
            run.blocked_reported = primary["id"]

    def _scale_in_victims(self, run: ServiceRun, candidates: list[TaskRun], count: int) -> list[TaskRun]:
        """Which tasks a scale-in stops: keep the Availability Zones balanced, spare running ones."""
        zones = {t.task_arn: self._zone(t) for t in self._live_tasks(run.arn)}
        per_zone: dict[str, int] = {}
        for arn in zones:
            per_zone[zones[arn]] = per_zone.get(zones[arn], 0) + 1
        left = list(candidates)
        victims: list[TaskRun] = []
        for _ in range(min(count, len(left))):
            # Fullest zone first; inside it tasks not yet running, then unhealthy ones, then the newest.
            pick = max(
                left,
                key=lambda t: (
                    per_zone.get(zones.get(t.task_arn, ""), 0),
                    self._status(t) != "RUNNING",
                    not self._healthy(t),
                    t.seq,
                ),
            )
            victims.append(pick)
            left.remove(pick)
            zone = zones.get(pick.task_arn, "")
            per_zone[zone] = per_zone.get(zone, 1) - 1
        return victims

    def _zone(self, task: TaskRun) -> str:
        try:
            return str(self.world.backend("ec2").get_subnet(task.subnet_id).availability_zone)
        except Exception:
            return task.subnet_id

    def _stop_many(self, service: Any, tasks: list[TaskRun], reason: str) -> None:
        """Stop tasks the scheduler chose, with ECS's events in ECS's order.

        "has stopped N running tasks" and "has begun draining connections on N tasks." come first,
        then "deregistered N targets" as each task leaves its target group.
        """
        if not tasks:
            return
        running = [t for t in tasks if self._status(t) == "RUNNING"]
        pending = [t for t in tasks if t not in running]
        draining = [t for t in running if t.registered]
        if pending:
            self.event(service, f"stopped {len(pending)} pending tasks.")
        if running:
            ids = " ".join(f"(task {t.task_arn.rsplit('/', 1)[-1]})" for t in running)
            self.event(service, f"has stopped {len(running)} running tasks: {ids}.")
        if draining:
            self.event(service, f"has begun draining connections on {len(draining)} tasks.")
        for task in tasks:
            self.stop_task(task.task_arn, reason, SCHEDULER)

    def _retire_deployments(self, service: Any) -> None:
        keep = []
        for dep in service.deployments:
            if dep["status"] == "PRIMARY":
                keep.append(dep)
                continue
            still = [t for t in self.tasks.values() if t.deployment_id == dep["id"] and not t.stopped]
            if still:
                keep.append(dep)
        service.deployments[:] = keep

    def _refresh_counts(self, service: Any) -> None:
        if service.deployment_controller.get("type", "ECS") != "ECS":
            self.task_sets.refresh(service)  # the service counts what its task sets run
            return
        running = pending = 0
        for dep in service.deployments:
            dep_running = dep_pending = 0
            for task in self.tasks.values():
                if task.deployment_id != dep["id"] or task.stopped:
                    continue
                status = self._status(task)
                if status == "RUNNING":
                    dep_running += 1
                elif status in ("PROVISIONING", "PENDING", "ACTIVATING"):
                    dep_pending += 1
            dep["runningCount"], dep["pendingCount"] = dep_running, dep_pending
            dep["desiredCount"] = service.desired_count if dep["status"] == "PRIMARY" else 0
            running += dep_running
            pending += dep_pending
        service.running_count = running
        service.pending_count = pending

    def _check_steady(self, service: Any, run: ServiceRun) -> None:
        primary = service.deployments[0] if service.deployments else None
        if primary is None:
            return
        live = self._live_tasks(run.arn)
        steady = (
            len(service.deployments) == 1
            and len(live) == service.desired_count
            and all(self._healthy(t) for t in live)
            and all(t.stopped for t in self.tasks.values() if t.service_arn == run.arn and t.stopping)
        )
        if steady:
            if primary.get("rolloutState") == "IN_PROGRESS":
                primary["rolloutState"] = "COMPLETED"
                primary["rolloutStateReason"] = f"ECS deployment {primary['id']} completed."
                primary["updatedAt"] = self._now()
                run.completed_reported.discard(primary["id"])  # a rolled-back deployment completes again
            if primary.get("rolloutState") == "COMPLETED":
                run.last_completed = dict(primary)
            if not run.steady_reported:
                if primary.get("rolloutState") == "COMPLETED" and primary["id"] not in run.completed_reported:
                    self.event(service, f"(deployment {primary['id']}) deployment completed.")
                    run.completed_reported.add(primary["id"])
                self.event(service, "has reached a steady state.")
                run.steady_reported = True
        else:
            run.steady_reported = False
            # Tasks without a load balancer count as healthy 40 s after RUNNING: look again then.
            now = self.world.clock.now()
            for task in live:
                counts_at = (task.started_at or 0.0) + NO_LB_HEALTHY_SECONDS
                if not task.registered and task.started_at is not None and counts_at > now:
                    self.wake_at(run, counts_at)

    # -- deployment circuit breaker ----------------------------------------------------------------
    def _failure_threshold(self, service: Any) -> int:
        # 0.5 × desiredCount, rounded up, at least 3 and at most 200 (botocore
        # ServiceDeploymentCircuitBreaker; the minimum was lowered from 10 to 3 on 2024-01-08).
        return min(200, max(3, math.ceil(0.5 * int(service.desired_count or 0))))

    def _check_circuit_breaker(self, service: Any, run: ServiceRun) -> None:
        """Fail (and optionally roll back) a deployment whose failed tasks reach the threshold.

        ECS's words, as in public service-event logs: "(deployment ecs-svc/B) deployment failed: tasks
        failed to start." (also when the tasks failed ELB health checks), then "rolling back to
        deployment ecs-svc/A." — the previous deployment becomes PRIMARY again under its own id, and
        the failed one stays ACTIVE with rolloutState FAILED until its tasks are gone.
        """
        if not run.circuit_breaker or not service.deployments:
            return
        primary = service.deployments[0]
        if primary.get("rolloutState") != "IN_PROGRESS":
            return
        if int(primary.get("failedTasks", 0)) < self._failure_threshold(service):
            return
        primary["rolloutState"] = "FAILED"
        primary["rolloutStateReason"] = "ECS deployment circuit breaker: tasks failed to start."
        primary["updatedAt"] = self._now()
        self.event(service, f"(deployment {primary['id']}) deployment failed: tasks failed to start.")
        if not run.rollback:
            return
        previous = next((d for d in service.deployments[1:] if d.get("rolloutState") == "COMPLETED"), None)
        if previous is None and run.last_completed is not None:
            previous = dict(run.last_completed)  # its tasks are all gone: bring the deployment back
            previous["runningCount"] = previous["pendingCount"] = 0
            service.deployments.append(previous)
        if previous is None:
            return
        self.event(service, f"rolling back to deployment {previous['id']}.")
        now = self._now()
        primary["status"] = "ACTIVE"
        service.deployments.remove(previous)
        previous.update(
            {
                "status": "PRIMARY",
                "desiredCount": service.desired_count,
                "rolloutState": "IN_PROGRESS",
                "rolloutStateReason": f"ECS deployment circuit breaker: rolling back to deploymentId {previous['id']}.",
                "updatedAt": now,
            }
        )
        service.deployments.insert(0, previous)
        service.task_definition = previous["taskDefinition"]
        run.start_failures, run.throttle_reported, run.steady_reported = 0, False, False
        self.schedule_reconcile(run)

    # -- one task's life ---------------------------------------------------------------------
    def _pick_subnet(
        self, service: Any, run: ServiceRun, network: dict[str, Any] | None = None
    ) -> tuple[str, list[str], bool]:
        config = (network or service.network_configuration or {}).get("awsvpcConfiguration", {})
        subnets = list(config.get("subnets") or [])
        groups = list(config.get("securityGroups") or [])
        public = str(config.get("assignPublicIp", "DISABLED")).upper() == "ENABLED"
        ec2 = self.world.backend("ec2")

        def zone(subnet_id: str) -> str:
            try:
                return str(ec2.get_subnet(subnet_id).availability_zone)
            except Exception:
                return subnet_id

        per_zone: dict[str, int] = {}
        per_subnet = {s: 0 for s in subnets}
        for task in self._live_tasks(run.arn):
            per_zone[zone(task.subnet_id)] = per_zone.get(zone(task.subnet_id), 0) + 1
            if task.subnet_id in per_subnet:
                per_subnet[task.subnet_id] += 1
        # Fargate spreads a service's tasks across Availability Zones: the least used zone, then subnet.
        subnet = min(subnets, key=lambda s: (per_zone.get(zone(s), 0), per_subnet[s], subnets.index(s)))
        return subnet, groups, public

    def _launch(
        self,
        service: Any,
        run: ServiceRun,
        deployment: dict[str, Any],
        *,
        network: dict[str, Any] | None = None,
        load_balancers: list[dict[str, Any]] | None = None,
        platform_version: str | None = None,
        task_set: str | None = None,
    ) -> TaskRun | None:
        """Start one task of ``deployment`` (``{"id", "taskDefinition"}``); a task set passes its own settings."""
        from .ipam import next_free_address

        subnet, groups, public = self._pick_subnet(service, run, network)
        ec2 = self.world.backend("ec2")
        full = next_free_address(ec2, ec2.get_subnet(subnet)) is None
        net = {
            "awsvpcConfiguration": {
                "subnets": [subnet],
                "securityGroups": groups,
                "assignPublicIp": "ENABLED" if public else "DISABLED",
            }
        }
        self.launching = True
        try:
            tasks = self._run_task(service, deployment, net, platform_version)
        finally:
            self.launching = False
        failure = None
        if full:
            where = "with public IP assignment enabled in subnet" if public else "in subnet"
            failure = (
                f"Unexpected EC2 error while attempting to Create Network Interface {where} '{subnet}': "
                "InsufficientFreeAddressesInSubnet"
            )
        adopted = self._adopt(
            tasks[0],
            service.arn,
            deployment["id"],
            subnet,
            service.load_balancers if load_balancers is None else load_balancers,
            public,
            groups=groups,
            platform_version=str(platform_version or service.platform_version or "LATEST"),
            launch_failure=failure,
        )
        adopted.task_set = task_set
        adopted.load_balancers = load_balancers
        return adopted

    def _run_task(
        self, service: Any, deployment: dict[str, Any], net: dict[str, Any], platform_version: str | None = None
    ) -> list[Any]:
        return self.ecs.run_task(
            service.cluster_name,
            deployment["taskDefinition"],
            1,
            None,
            deployment["id"],
            None,
            "FARGATE",
            networking_configuration=net,
            group=f"service:{service.name}",
            platform_version=platform_version or service.platform_version or "LATEST",
        )

    def adopt_run_task(self, task: Any, public: bool, groups: list[str] | None = None) -> None:
        """A task started by RunTask (no service): give it the same lifecycle."""
        from .ipam import addresses_in_use

        config = (getattr(task, "network_configuration", None) or {}).get("awsvpcConfiguration") or {}
        subnet = (config.get("subnets") or [""])[0]
        failure = None
        if subnet:
            ec2 = self.world.backend("ec2")
            ip = _detail(task, "privateIPv4Address")
            target = ec2.get_subnet(subnet)
            others = addresses_in_use(ec2, target) - {ip}
            if not _inside(ip, target.cidr) or ip in others:
                where = "with public IP assignment enabled in subnet" if public else "in subnet"
                failure = (
                    f"Unexpected EC2 error while attempting to Create Network Interface {where} '{subnet}': "
                    "InsufficientFreeAddressesInSubnet"
                )
        self._adopt(
            task,
            None,
            None,
            subnet,
            [],
            public,
            groups=list(groups if groups is not None else config.get("securityGroups") or []),
            platform_version=str(getattr(task, "platform_version", None) or "LATEST"),
            launch_failure=failure,
        )

    def _adopt(
        self,
        task: Any,
        service_arn: str | None,
        deployment_id: str | None,
        subnet: str,
        load_balancers: list[dict[str, Any]],
        public: bool,
        *,
        groups: list[str] | None = None,
        platform_version: str = "LATEST",
        launch_failure: str | None = None,
    ) -> TaskRun:
        try:
            td = self.ecs.describe_task_definition(task.task_definition_arn)
            lb = (load_balancers or [{}])[0] if load_balancers else {}
            container = lb.get("containerName") or td.container_definitions[0]["name"]
            port = lb.get("containerPort")
            cdef = next((c for c in td.container_definitions if c["name"] == container), None)
            if port is None and cdef and cdef.get("portMappings"):
                port = cdef["portMappings"][0].get("containerPort")
            self._launches += 1
            run = TaskRun(
                task.task_arn,
                task.cluster_name,
                service_arn,
                deployment_id,
                subnet,
                "" if launch_failure else _detail(task, "privateIPv4Address"),
                container,
                int(port) if port else None,
                seq=self._launches,
                public=public,
                groups=list(groups or []),
                platform_version=platform_version,
                launch_failure=launch_failure,
            )
            if launch_failure:
                self._drop_interface(task)
            self.tasks[task.task_arn] = run
            now = self._now()
            task.last_status = "PROVISIONING"
            task.desired_status = "RUNNING"
            task.created_at = now
            task.cpu = td.cpu
            task.memory = td.memory
            task.availability_zone = self.world.backend("ec2").get_subnet(subnet).availability_zone if subnet else None
            task.connectivity = "CONNECTING"
            task.health_status = "UNKNOWN"  # no container health check: ECS reports UNKNOWN
            task.stop_code = None
            for container_model in task.containers:
                container_model.last_status = "PENDING"
                container_model.health_status = "UNKNOWN"
                container_model.exitCode = None
            for attachment in task.attachments:
                attachment["status"] = "PRECREATED"
        except Exception:
            # The task exists in moto but the scheduler could not take it over: never leave a
            # phantom RUNNING task behind.
            task.last_status = "STOPPED"
            task.desired_status = "STOPPED"
            self._drop_interface(task)
            raise
        step = self._fail_at_provisioning if launch_failure else self._to_pending
        self._later(PROVISIONING_SECONDS, task.task_arn, step, name="ecs: provisioning")
        return run

    def _drop_interface(self, task: Any) -> None:
        """Remove the task's ENI (an address moto invented outside a full subnet, or a failed task's)."""
        ec2 = self.world.backend("ec2")
        for attachment in task.attachments:
            for detail in list(attachment.get("details", [])):
                if detail["name"] == "networkInterfaceId":
                    ec2.enis.pop(detail["value"], None)
            attachment["details"] = [d for d in attachment.get("details", []) if d["name"] == "subnetId"]

    def _moto_task(self, run: TaskRun) -> Any | None:
        return self.ecs.tasks.get(run.cluster, {}).get(run.task_arn)

    def _fail_at_provisioning(self, task_arn: str) -> None:
        run = self.tasks.get(task_arn)
        if run is None or run.stopping or run.launch_failure is None:
            return
        self._fail_start(task_arn, run.launch_failure)

    def _to_pending(self, task_arn: str) -> None:
        run = self.tasks.get(task_arn)
        task = self._moto_task(run) if run else None
        if run is None or task is None or run.stopping:
            return
        task.last_status = "PENDING"
        task.connectivity = "CONNECTED"
        task.connectivity_at = self._now()
        for attachment in task.attachments:
            attachment["status"] = "ATTACHED"
        task.pull_started_at = self._now()
        problem = self.world_pull_problem(run, task)
        if problem:
            self._later(PULL_SECONDS / 2, task_arn, lambda arn: self._fail_start(arn, problem), name="ecs: pull failed")
            return
        self._later(PULL_SECONDS, task_arn, self._to_running, name="ecs: running")

    def world_pull_problem(self, run: TaskRun, task: Any) -> str | None:
        from .images import pull_problem

        td = self.ecs.describe_task_definition(task.task_definition_arn)
        return pull_problem(
            self.world,
            td,
            run.subnet_id,
            run.ip,
            run.public,
            groups=run.groups,
            platform_version=run.platform_version,
        )

    def _to_running(self, task_arn: str) -> None:
        run = self.tasks.get(task_arn)
        task = self._moto_task(run) if run else None
        if run is None or task is None or run.stopping:
            return
        td = self.ecs.describe_task_definition(task.task_definition_arn)
        cdef = next(
            (c for c in td.container_definitions if c["name"] == run.container_name), td.container_definitions[0]
        )
        env = {e["name"]: str(e.get("value", "")) for e in cdef.get("environment") or []}
        from .apps import AppConfigError, AppCrashed

        now = self._now()
        task.pull_stopped_at = now
        task.started_at = now
        run.started_at = self.world.clock.now()
        task.last_status = "RUNNING"
        try:
            if run.container_port is not None:
                self.world.apps.start(run.ip, run.container_port, task_arn, env)
        except (AppCrashed, AppConfigError) as exc:
            # The container started and exited at once: the task reached RUNNING (it has a startedAt),
            # so this does not trigger the service throttle logic, but it is a failed task.
            run.exit_code = int(getattr(exc, "exit_code", 1))
            for container in task.containers:
                container.last_status = "STOPPED"
                container.exitCode = run.exit_code
            self._count_failure(run, elb=False)
            self.stop_task(task_arn, ESSENTIAL_EXIT_REASON, ESSENTIAL_EXITED)
            self._poke(run)
            return
        for container in task.containers:
            container.last_status = "RUNNING"
        srun = self.services.get(run.service_arn or "")
        if srun is not None:
            srun.start_failures, srun.throttle_reported = 0, False
        service = self._service_of(run)
        if service is not None and run.container_port is not None:
            # A task set's tasks go into the task set's own target group (blue or green).
            balancers = run.load_balancers if run.load_balancers is not None else service.load_balancers
            for lb in balancers or []:
                tg_arn = lb.get("targetGroupArn")
                if not tg_arn:
                    continue
                port = int(lb.get("containerPort", run.container_port))
                self.register_target(tg_arn, run.ip, port)
                run.registered.append((tg_arn, run.ip, port))
                self._count_event(service, "registered", 1, tg_arn, run.task_set)
        if srun is not None and srun.grace_period > 0:
            # The grace period hides failed health checks; look again the moment it ends.
            self.wake_at(srun, run.started_at + srun.grace_period)
        self._poke(run)

    def register_target(self, tg_arn: str, ip: str, port: int) -> None:
        elbv2 = self.world.backend("elbv2")
        tg = elbv2.target_groups.get(tg_arn)
        if tg is None:
            return
        tg.register([{"Id": ip, "Port": port}])
        self.world.health.register(tg_arn, ip, port)

    def _fail_start(self, task_arn: str, reason: str) -> None:
        """The task stops without ever reaching RUNNING (``TaskFailedToStart``)."""
        run = self.tasks.get(task_arn)
        task = self._moto_task(run) if run else None
        if run is None or task is None or run.stopped:
            return
        for container in task.containers:
            container.last_status = "STOPPED"
            container.exitCode = None
        task.stop_code = FAILED_TO_START
        task.stopping_at = self._now()
        self._finish_stop(run, task, reason, override=True)
        srun = self.services.get(run.service_arn or "")
        if srun is not None:
            srun.start_failures += 1
            srun.last_failure_at = self.world.clock.now()
        self._count_failure(run, elb=False)
        self._poke(run)

    def _count_failure(self, run: TaskRun, elb: bool) -> None:
        """One more failed task for the deployment that started it (``failedTasks``, circuit breaker)."""
        service = self._service_of(run)
        if service is None:
            return
        dep = next((d for d in service.deployments if d["id"] == run.deployment_id), None)
        if dep is not None:
            dep["failedTasks"] = int(dep.get("failedTasks", 0)) + 1

    def stop_task(self, task_arn: str, reason: str, code: str = SCHEDULER) -> None:
        """Stop a task as ECS does: deregister from its target groups, drain, SIGTERM, release the ENI."""
        run = self.tasks.get(task_arn)
        task = self._moto_task(run) if run else None
        if run is None or task is None or run.stopping or run.stopped:
            return
        try:
            self._begin_stop(run, task, reason, code)
        except Exception as exc:  # a lab bug: never leave the task half-stopped
            self._record_error("ecs: stop task", exc)
            self._abort_task(task_arn, exc)

    def _begin_stop(self, run: TaskRun, task: Any, reason: str, code: str) -> None:
        task_arn = run.task_arn
        run.stopping = True
        task.desired_status = "STOPPED"
        task.stopped_reason = reason
        task.stop_code = code
        task.stopping_at = self._now()
        if str(task.last_status) != "RUNNING":
            # Never ran (PROVISIONING/PENDING): nothing to drain and no container to signal.
            for container in task.containers:
                container.last_status = "STOPPED"
            task.last_status = "DEPROVISIONING"
            self._later(DEPROVISION_SECONDS, task_arn, self._stopped, name="ecs: stopped")
            return
        task.last_status = "DEACTIVATING"
        delay = 0.0
        if run.registered:
            service = self._service_of(run)
            for tg_arn, ip, port in run.registered:
                tg = self.world.backend("elbv2").target_groups.get(tg_arn)
                if tg is not None and ip in tg.targets:
                    tg.deregister([{"Id": ip, "Port": port}])
                self.world.health.deregister(tg_arn, ip)
                delay = max(delay, self.world.health.deregistration_delay(tg_arn))
                if service is not None:
                    self._count_event(service, "deregistered", 1, tg_arn, run.task_set)
            run.registered = []
        # The target drains (no new requests, in-flight ones finish) before the container is signalled.
        self._later(delay, task_arn, self._sigterm, name="ecs: stopping")

    def _sigterm(self, task_arn: str) -> None:
        run = self.tasks.get(task_arn)
        task = self._moto_task(run) if run else None
        if run is None or task is None or run.stopped:
            return
        task.last_status = "STOPPING"
        if run.container_port is not None:
            self.world.apps.stop(run.ip, run.container_port)  # the app stops accepting connections
        self._later(STOP_SECONDS, task_arn, self._deprovision, name="ecs: container exited")

    def _deprovision(self, task_arn: str) -> None:
        run = self.tasks.get(task_arn)
        task = self._moto_task(run) if run else None
        if run is None or task is None or run.stopped:
            return
        task.last_status = "DEPROVISIONING"
        task.execution_stopped_at = self._now()
        for container in task.containers:
            container.last_status = "STOPPED"
            container.exitCode = run.exit_code if run.exit_code is not None else 0
        self._later(DEPROVISION_SECONDS, task_arn, self._stopped, name="ecs: stopped")

    def _stopped(self, task_arn: str) -> None:
        run = self.tasks.get(task_arn)
        task = self._moto_task(run) if run else None
        if run is None or task is None or run.stopped:
            return
        self._finish_stop(run, task, task.stopped_reason or "Task stopped")
        self._poke(run)

    def _finish_stop(self, run: TaskRun, task: Any, reason: str, override: bool = False) -> None:
        run.stopping = True
        run.stopped = True
        task.last_status = "STOPPED"
        task.desired_status = "STOPPED"
        if override or not task.stopped_reason:
            task.stopped_reason = reason
        task.stopped_at = self._now()
        if getattr(task, "stopping_at", None) is None:
            task.stopping_at = task.stopped_at
        task.connectivity = "DISCONNECTED"
        if run.container_port is not None and run.ip:
            self.world.apps.stop(run.ip, run.container_port)
        for tg_arn, ip, port in run.registered:  # only left here if the task never drained normally
            tg = self.world.backend("elbv2").target_groups.get(tg_arn)
            if tg is not None and ip in tg.targets:
                tg.deregister([{"Id": ip, "Port": port}])
            self.world.health.deregister(tg_arn, ip)
        run.registered = []
        # The ENI is released with the task: its address goes back to the subnet.
        ec2 = self.world.backend("ec2")
        for attachment in task.attachments:
            attachment["status"] = "DELETED"
            for detail in attachment.get("details", []):
                if detail["name"] == "networkInterfaceId":
                    ec2.enis.pop(detail["value"], None)

    def _abort_task(self, task_arn: str, exc: BaseException) -> None:
        """After a lab bug in one of the task's steps: stop it cleanly, whatever state it was in."""
        run = self.tasks.get(task_arn)
        task = self._moto_task(run) if run else None
        if run is None or task is None or run.stopped:
            return
        try:
            never_ran = run.started_at is None
            if never_ran:
                task.stop_code = FAILED_TO_START
            reason = f"InternalError: the offline lab region failed ({type(exc).__name__}: {exc})"
            self._finish_stop(run, task, reason, override=never_ran or not task.stopped_reason)
        except Exception as again:  # even the clean-up failed: at least never leave it RUNNING
            self._record_error("ecs: abort", again)
            run.stopping = run.stopped = True
            task.last_status = task.desired_status = "STOPPED"
        self._poke(run)

    def _service_of(self, run: TaskRun) -> Any | None:
        if run.service_arn is None:
            return None
        srun = self.services.get(run.service_arn)
        return self._service(srun) if srun else None

    def _poke(self, run: TaskRun) -> None:
        if run.service_arn and run.service_arn in self.services:
            srun = self.services[run.service_arn]
            service = self._service(srun)
            if service is not None:
                self._refresh_counts(service)
            self.schedule_reconcile(srun)

    # -- load-balancer health feedback ---------------------------------------------------------
    def _on_health_change(self, change: Any) -> None:
        """A target changed state: let the scheduler look at its service (after the grace period)."""
        for run in self.tasks.values():
            if run.stopping or run.ip != change.target_id or run.service_arn not in self.services:
                continue
            if any(tg == change.tg_arn for tg, _, _ in run.registered):
                self.schedule_reconcile(self.services[run.service_arn or ""], 0.0)

    def _find_unhealthy(self, service: Any, run: ServiceRun) -> None:
        """Flag tasks whose targets are unhealthy once the health-check grace period is over."""
        now = self.world.clock.now()
        for task in self._live_tasks(run.arn):
            if task.unhealthy or task.started_at is None or now - task.started_at < run.grace_period:
                continue
            for tg_arn, ip, port in task.registered:
                record = self.world.health.record(tg_arn, ip)
                if record is None or record.state != "unhealthy":
                    continue
                task_id = task.task_arn.rsplit("/", 1)[-1]
                why = record.description or "Health checks failed"
                self.event(
                    service,
                    f"(task {task_id}) (port {port}) is unhealthy in (target-group {tg_arn}) due to (reason {why}).",
                    task.task_set,
                )
                task.unhealthy = True
                task.failed_tg = tg_arn
                self._count_failure(task, elb=True)
                break

    def _stop_unhealthy(self, service: Any, task: TaskRun) -> None:
        task_id = task.task_arn.rsplit("/", 1)[-1]
        self.event(service, f"has stopped 1 running tasks: (task {task_id}).")
        if task.registered and self._status(task) == "RUNNING":
            self.event(service, "has begun draining connections on 1 tasks.")
        self.stop_task(task.task_arn, f"Task failed ELB health checks in (target-group {task.failed_tg})", SCHEDULER)


def _scope(service: Any, task_set: str | None) -> str:
    """The subject of a service event: ``service s``, or ``service s, taskSet ecs-svc/…`` for a task set's."""
    return f"service {service.name}, taskSet {task_set}" if task_set else f"service {service.name}"


def _detail(task: Any, name: str) -> str:
    for attachment in task.attachments:
        for detail in attachment.get("details", []):
            if detail["name"] == name:
                return str(detail["value"])
    return ""


def _inside(ip: str, network: Any) -> bool:
    import ipaddress

    try:
        return bool(ip) and ipaddress.ip_address(ip) in network
    except ValueError:
        return False
