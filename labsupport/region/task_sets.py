"""ECS task sets that run real tasks: what CodeDeploy drives underneath a blue/green deployment.

A service with the ``CODE_DEPLOY`` (or ``EXTERNAL``) deployment controller does not run one list of
tasks: it runs **task sets**, each with its own task definition, network settings, target group and
``scale`` (a percentage of the service's ``desiredCount``). moto stores task sets but, for the lab's
purposes, runs nothing (it starts untracked tasks at create time and never again). Here, as on ECS
(aws-behaviour.md §4):

- every task set keeps ``computedDesiredCount`` = ceil(desiredCount × scale %) tasks running, launched
  and stopped by the region's ECS scheduler (:mod:`.ecs_engine`): the same PROVISIONING → PENDING →
  RUNNING life, addresses from the subnets, image pulls, the sample app's real code. A RUNNING task is
  registered in **the task set's own** target group, so blue and green live in different groups;
- ``runningCount`` / ``pendingCount`` count those tasks, and the service's counts are the sum over its
  task sets;
- ``stabilityStatus`` is ``STEADY_STATE`` when running = computedDesiredCount, pending = 0, no task
  of the set is still stopping, and every task is healthy for the load balancer; otherwise
  ``STABILIZING``. ``stabilityStatusAt`` is when it last changed;
- ``status`` is ``PRIMARY`` (serving production) or ``ACTIVE``; ``DeleteTaskSet`` turns a set
  ``DRAINING``: its targets drain, its tasks stop, and once the last one has stopped the set is gone
  from ``DescribeTaskSets``;
- creating a ``CODE_DEPLOY`` service creates its initial ``PRIMARY`` task set (100 %), as ECS does;
  task sets CodeDeploy makes carry ``startedBy: CODE_DEPLOY`` and ``externalId`` = the deployment ID;
- a task whose load-balancer health checks fail (after the service's grace period) is stopped and
  replaced, so a task set of a broken release never becomes steady.

ECS's service events name the task set: ``(service my-app-frontend, taskSet ecs-svc/…) has started 2
tasks: (task …) (task …).``

Lab decisions, where AWS publishes no rule:

- A target in a target group that no listener rule uses is ``unused`` and never health-checked; ECS
  does not count such a target as unhealthy, so it does not keep a task set from steady state. (That
  is why CodeDeploy, since November 2022, leaves the idle target group attached to the production
  listener with weight 0: so the next replacement's targets *are* checked before traffic moves.)
- ``DeleteTaskSet`` without ``force`` refuses only the ``PRIMARY`` set (our wording); ``maximumPercent``
  and ``minimumHealthyPercent`` play no part, as AWS documents for CODE_DEPLOY/EXTERNAL on Fargate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .ecs_engine import EcsScheduler, ServiceRun, TaskRun

PRIMARY, ACTIVE, DRAINING = "PRIMARY", "ACTIVE", "DRAINING"
STEADY, STABILIZING = "STEADY_STATE", "STABILIZING"
STARTED_BY_CODE_DEPLOY = "CODE_DEPLOY"
DEFAULT_SCALE = {"value": 100.0, "unit": "PERCENT"}

Observer = Callable[[Any, Any], None]  # (service, task set) whose stability status changed


@dataclass
class SetRun:
    """What the engine knows about one task set beyond moto's record."""

    service_arn: str
    task_set_id: str
    notified: str = ""  # the stability status observers last heard about


class TaskSetEngine:
    """Task sets of CODE_DEPLOY and EXTERNAL services, run by the ECS scheduler (``world.ecs.task_sets``)."""

    def __init__(self, scheduler: EcsScheduler) -> None:
        self.scheduler = scheduler
        self.world = scheduler.world
        self.runs: dict[str, SetRun] = {}  # task set ARN -> bookkeeping
        self.observers: list[Observer] = []

    def clear(self) -> None:
        self.runs.clear()

    # -- helpers -----------------------------------------------------------------------------
    @property
    def ecs(self) -> Any:
        return self.world.backend("ecs")

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.world.clock.now(), tz=UTC)

    def service_of(self, task_set: Any) -> Any | None:
        cluster = str(task_set.cluster).split("/")[-1]
        name = str(task_set.service).split("/")[-1]
        return self.ecs.services.get(f"{cluster}:{name}")

    def find(self, service: Any, reference: str) -> Any | None:
        """The task set of ``service`` named by its ARN or its id (``ecs-svc/…``)."""
        for task_set in service.task_sets:
            if reference in (task_set.task_set_arn, task_set.id) or task_set.task_set_arn.endswith("/" + reference):
                return task_set
        return None

    def primary(self, service: Any) -> Any | None:
        return next((t for t in service.task_sets if t.status == PRIMARY), None)

    def _run(self, task_set: Any) -> SetRun:
        run = self.runs.get(task_set.task_set_arn)
        if run is None:
            run = self.runs[task_set.task_set_arn] = SetRun(task_set.service_arn, task_set.id)
        return run

    @staticmethod
    def computed(service: Any, task_set: Any) -> int:
        """ceil(desiredCount × scale %): ECS rounds up (botocore ``TaskSet.computedDesiredCount``)."""
        if task_set.status == DRAINING:
            return 0
        percent = float((task_set.scale or DEFAULT_SCALE).get("value", 100.0))
        return math.ceil(int(service.desired_count or 0) * percent / 100.0 - 1e-9)

    def tasks_of(self, task_set: Any) -> list[TaskRun]:
        """Every task the set started that has not yet STOPPED (stopping ones included)."""
        return [
            t
            for t in self.scheduler.tasks.values()
            if t.service_arn == task_set.service_arn and t.deployment_id == task_set.id and not t.stopped
        ]

    # -- API hooks (called from engine_hooks and from the CodeDeploy engine) --------------------
    def created(self, task_set: Any, scale: dict[str, Any] | None, started_by: str | None = None) -> None:
        """moto made ``task_set`` (without starting anything): give it ECS's fields and its tasks."""
        now = self._now()
        task_set.scale = _scale(scale)
        task_set.createdAt = task_set.updatedAt = task_set.stabilityStatusAt = now
        task_set.started_by = started_by
        task_set.external_id = task_set.external_id or None  # moto said "" for a set without one
        if not task_set.launch_type or task_set.launch_type == "EC2":
            service = self.service_of(task_set)
            task_set.launch_type = (service.launch_type if service is not None else None) or "FARGATE"
        task_set.stabilityStatus = STABILIZING
        task_set.running_count = task_set.pending_count = 0
        service = self.service_of(task_set)
        task_set.computed_desired_count = self.computed(service, task_set) if service is not None else 0
        if task_set.computed_desired_count == 0:
            task_set.stabilityStatus = STEADY
        run = self._run(task_set)
        run.notified = task_set.stabilityStatus
        if service is not None:
            self._wake(service)

    def create(
        self,
        service: Any,
        *,
        task_definition: str,
        load_balancers: list[dict[str, Any]],
        network_configuration: dict[str, Any] | None,
        platform_version: str | None = None,
        external_id: str | None = None,
        started_by: str | None = None,
        scale: float = 100.0,
    ) -> Any:
        """Create a task set the way CodeDeploy's ``CreateTaskSet`` call does (inside the region)."""
        task_set = self.ecs.create_task_set(
            service.name,
            service.cluster_name,
            task_definition,
            external_id=external_id,
            network_configuration=network_configuration,
            load_balancers=load_balancers,
            launch_type="FARGATE",
            platform_version=platform_version or service.platform_version or "LATEST",
            scale={"value": float(scale), "unit": "PERCENT"},
        )
        task_set.started_by = started_by
        return task_set

    def initial_for_service(self, service: Any) -> Any:
        """The PRIMARY task set ECS creates with a CODE_DEPLOY service."""
        task_set = self.ecs.create_task_set(
            service.name,
            service.cluster_name,
            service.task_definition,
            network_configuration=service.network_configuration,
            load_balancers=list(service.load_balancers or []),
            launch_type=service.launch_type or "FARGATE",
            platform_version=service.platform_version or "LATEST",
            scale=dict(DEFAULT_SCALE),
        )
        task_set.status = PRIMARY
        return task_set

    def scaled(self, task_set: Any, scale: dict[str, Any] | None) -> None:
        """``UpdateTaskSet``: a new scale; the scheduler starts or stops tasks to match."""
        task_set.scale = _scale(scale)
        task_set.updatedAt = self._now()
        service = self.service_of(task_set)
        if service is not None:
            self.refresh(service)
            self._wake(service)

    def made_primary(self, service: Any, task_set: Any) -> None:
        """``UpdateServicePrimaryTaskSet``: this set serves production; the others are ACTIVE."""
        now = self._now()
        for other in service.task_sets:
            if other.status == DRAINING:
                continue
            wanted = PRIMARY if other is task_set else ACTIVE
            if other.status != wanted:
                other.status = wanted
                other.updatedAt = now
        # ECS copies the primary set's task definition and load balancers onto the service.
        service.task_definition = task_set.task_definition
        service.load_balancers = list(task_set.load_balancers or [])

    def delete(self, service: Any, task_set: Any, force: bool = False) -> Any:
        """``DeleteTaskSet``: the set turns DRAINING, its tasks stop, then it is gone."""
        from .protocol import AwsError

        if task_set.status == PRIMARY and not force:
            # The rule is AWS's (a PRIMARY set is deleted only with force); the wording is ours.
            raise AwsError(
                "InvalidParameterException",
                f"The task set {task_set.id} is the service's PRIMARY task set. Make another task set primary "
                "first (UpdateServicePrimaryTaskSet), or pass force=true.",
            )
        if task_set.status != DRAINING:
            task_set.status = DRAINING
            task_set.updatedAt = self._now()
            task_set.computed_desired_count = 0
        self.refresh(service)
        self._wake(service)
        return task_set

    # -- the scheduler's side ------------------------------------------------------------------
    def _wake(self, service: Any) -> None:
        srun = self.scheduler.services.get(service.arn)
        if srun is not None:
            self.scheduler.schedule_reconcile(srun)

    def reconcile(self, service: Any, srun: ServiceRun) -> None:
        """Bring every task set of ``service`` to its computed count; retire drained sets."""
        scheduler = self.scheduler
        for task_set in list(service.task_sets):
            live = [t for t in self.tasks_of(task_set) if not t.stopping]
            if task_set.status == DRAINING:
                self._stop(service, task_set, live, f"Scaling activity initiated by (deployment {task_set.id})")
                continue  # refresh() retires it once its last task has stopped
            reason = f"Scaling activity initiated by (deployment {task_set.id})"
            # Tasks that failed their health checks are stopped and replaced.
            for task in [t for t in live if t.unhealthy]:
                task_id = task.task_arn.rsplit("/", 1)[-1]
                scheduler.event(service, f"has stopped 1 running tasks: (task {task_id}).", task_set.id)
                if task.registered:
                    scheduler.event(service, "has begun draining connections on 1 tasks.", task_set.id)
                scheduler.stop_task(task.task_arn, f"Task failed ELB health checks in (target-group {task.failed_tg})")
            live = [t for t in live if not t.unhealthy]
            wanted = self.computed(service, task_set)
            if len(live) > wanted:
                victims = scheduler._scale_in_victims(srun, live, len(live) - wanted)
                self._stop(service, task_set, victims, reason)
                live = [t for t in live if t not in victims]
            need = wanted - len(live)
            started = []
            if need > 0 and not scheduler._throttled(srun):
                deployment = {"id": task_set.id, "taskDefinition": task_set.task_definition}
                for _ in range(need):
                    new = scheduler._launch(
                        service,
                        srun,
                        deployment,
                        network=task_set.network_configuration or service.network_configuration,
                        load_balancers=list(task_set.load_balancers or []),
                        platform_version=task_set.platform_version,
                        task_set=task_set.id,
                    )
                    if new is not None:
                        started.append(new)
            if started:
                ids = " ".join(f"(task {t.task_arn.rsplit('/', 1)[-1]})" for t in started)
                scheduler.event(service, f"has started {len(started)} tasks: {ids}.", task_set.id)
        self.refresh(service)
        self._notify(service)
        self._report_steady(service)

    def _stop(self, service: Any, task_set: Any, tasks: list[TaskRun], reason: str) -> None:
        if not tasks:
            return
        scheduler = self.scheduler
        running = [t for t in tasks if scheduler._status(t) == "RUNNING"]
        pending = [t for t in tasks if t not in running]
        if pending:
            scheduler.event(service, f"stopped {len(pending)} pending tasks.", task_set.id)
        if running:
            ids = " ".join(f"(task {t.task_arn.rsplit('/', 1)[-1]})" for t in running)
            scheduler.event(service, f"has stopped {len(running)} running tasks: {ids}.", task_set.id)
            draining = [t for t in running if t.registered]
            if draining:
                scheduler.event(service, f"has begun draining connections on {len(draining)} tasks.", task_set.id)
        for task in tasks:
            scheduler.stop_task(task.task_arn, reason)

    def task_ok(self, task: TaskRun) -> bool:
        """Does the task count as healthy for the task set's steady state?"""
        scheduler = self.scheduler
        if task.unhealthy or task.stopping or scheduler._status(task) != "RUNNING":
            return False
        if not task.registered:
            return scheduler._healthy(task)
        elbv2 = self.world.backend("elbv2")
        for tg_arn, ip, _ in task.registered:
            tg = elbv2.target_groups.get(tg_arn)
            status = self.world.health.status_for(tg, ip) if tg is not None else None
            # "unused" (no listener uses the group): not checked, and not unhealthy for ECS.
            if status is None or status[0] not in ("healthy", "unused"):
                return False
        return True

    def stability(self, service: Any, task_set: Any) -> tuple[str, int, int]:
        """(stabilityStatus, runningCount, pendingCount) as of now."""
        running = pending = 0
        stopping = False
        all_ok = True
        for task in self.tasks_of(task_set):
            status = self.scheduler._status(task)
            if task.stopping:
                stopping = True
                continue
            if status == "RUNNING":
                running += 1
            elif status in ("PROVISIONING", "PENDING", "ACTIVATING"):
                pending += 1
            if not self.task_ok(task):
                all_ok = False
        wanted = self.computed(service, task_set)
        steady = task_set.status != DRAINING and running == wanted and pending == 0 and not stopping and all_ok
        return (STEADY if steady else STABILIZING), running, pending

    def refresh(self, service: Any) -> None:
        """Recompute the counts and stability of every task set, and the service's counts."""
        now = self._now()
        total_running = total_pending = 0
        for task_set in list(service.task_sets):
            if task_set.status == DRAINING and not self.tasks_of(task_set):
                service.task_sets.remove(task_set)  # drained: DescribeTaskSets no longer lists it
                self.runs.pop(task_set.task_set_arn, None)
                continue
            status, running, pending = self.stability(service, task_set)
            task_set.computed_desired_count = self.computed(service, task_set)
            task_set.running_count, task_set.pending_count = running, pending
            if status != task_set.stabilityStatus:
                task_set.stabilityStatus = status
                task_set.stabilityStatusAt = now
            total_running += running
            total_pending += pending
        # Tasks of sets already gone (drained and removed) still count while they stop.
        service.running_count = total_running
        service.pending_count = total_pending

    def _notify(self, service: Any) -> None:
        for task_set in list(service.task_sets):
            run = self._run(task_set)
            if run.notified == task_set.stabilityStatus:
                continue
            run.notified = task_set.stabilityStatus
            for observer in list(self.observers):
                try:
                    observer(service, task_set)
                except Exception as exc:  # an observer (CodeDeploy) must never stop the scheduler
                    self.scheduler._record_error("task set observer", exc)

    def _report_steady(self, service: Any) -> None:
        srun = self.scheduler.services.get(service.arn)
        if srun is None:
            return
        settled = bool(service.task_sets) and all(t.stabilityStatus == STEADY for t in service.task_sets)
        if settled and not srun.steady_reported:
            self.scheduler.event(service, "has reached a steady state.")
            srun.steady_reported = True
        elif not settled:
            srun.steady_reported = False


def target_group_of(task_set: Any) -> str | None:
    """The target group a task set's tasks are registered in (its first load balancer's)."""
    for lb in task_set.load_balancers or []:
        if lb.get("targetGroupArn"):
            return str(lb["targetGroupArn"])
    return None


def _scale(scale: dict[str, Any] | None) -> dict[str, Any]:
    if not scale:
        return dict(DEFAULT_SCALE)
    value = float(scale.get("value", 100.0))
    return {"value": value, "unit": str(scale.get("unit") or "PERCENT")}
