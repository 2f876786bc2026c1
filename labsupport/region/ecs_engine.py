"""The ECS service scheduler: what ECS does between API calls.

moto stores services but starts no tasks. Here, as on ECS:

- a service keeps ``desiredCount`` tasks of its PRIMARY deployment running, spread over its subnets
  (and so over Availability Zones), each with an ENI whose address comes from its subnet;
- a task moves PROVISIONING → PENDING → RUNNING on the virtual clock; at PENDING the image is pulled
  (from the lab's ECR, reachable only through a NAT gateway, a public IP or VPC endpoints) and at
  RUNNING the container starts: the sample app's real code, with the task definition's environment;
- a RUNNING task of a service with a load balancer is registered in its target group; a stopping
  task is deregistered first and stops only after the deregistration delay (draining);
- a new task definition starts a rolling deployment bounded by ``minimumHealthyPercent`` and
  ``maximumPercent`` (recreate is the same engine with 0 / 100); the ``deployments`` list shows
  PRIMARY and ACTIVE deployments with their rollout state;
- a task whose load-balancer health checks fail (after the grace period) is replaced;
- service ``events`` carry ECS's own wording ("has started 2 tasks", "has reached a steady state").

Every step is an event on the virtual clock, so ``clock advance 1m`` plays one minute of ECS.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runtime import World

PROVISIONING_SECONDS = 10.0  # ENI attached
PULL_SECONDS = 20.0  # image pulled and container started
STOP_SECONDS = 5.0  # SIGTERM to STOPPED for a well-behaved app
DEPROVISION_SECONDS = 10.0  # ENI detached and released
RECONCILE_DELAY = 1.0  # how soon the scheduler reacts to a change
MAX_EVENTS = 100  # ECS keeps the latest 100 service events


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
    registered: list[tuple[str, str, int]] = field(default_factory=list)  # (tg arn, ip, port)
    started_at: float | None = None
    stopping: bool = False
    stopped: bool = False


@dataclass
class ServiceRun:
    """The scheduler's view of one service: its deployment settings and pending work."""

    arn: str
    cluster: str
    name: str
    minimum_healthy_percent: int = 100
    maximum_percent: int = 200
    grace_period: float = 0.0
    steady_reported: bool = False
    reconcile_event: Any = None
    deployment_configuration: dict[str, Any] = field(default_factory=dict)


class EcsScheduler:
    def __init__(self, world: World) -> None:
        self.world = world
        self.tasks: dict[str, TaskRun] = {}
        self.services: dict[str, ServiceRun] = {}
        self.launching = False  # True while the scheduler itself calls moto's run_task
        world.health.listeners.append(self._on_health_change)

    def clear(self) -> None:
        self.tasks.clear()
        self.services.clear()

    # -- helpers -----------------------------------------------------------------------------
    @property
    def ecs(self) -> Any:
        return self.world.backend("ecs")

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.world.clock.now(), tz=UTC)

    def _service(self, run: ServiceRun) -> Any | None:
        return self.ecs.services.get(f"{run.cluster}:{run.name}")

    def event(self, service: Any, message: str) -> None:
        """Add a service event, newest first, as ECS does."""
        # A stable id (not random) so event ids are the same on every run of the same steps.
        entry = {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{service.arn}/{len(service.events)}/{message}")),
            "createdAt": self._now(),
            "message": f"(service {service.name}) {message}",
        }
        service.events.insert(0, entry)
        del service.events[MAX_EVENTS:]

    def schedule_reconcile(self, run: ServiceRun, delay: float = RECONCILE_DELAY) -> None:
        if run.reconcile_event is not None and not run.reconcile_event.cancelled:
            return
        run.reconcile_event = self.world.clock.call_later(
            delay, lambda: self._reconcile_now(run.arn), name=f"ecs: reconcile {run.name}"
        )

    def _reconcile_now(self, arn: str) -> None:
        run = self.services.get(arn)
        if run is None:
            return
        run.reconcile_event = None
        self.reconcile(run)

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
                    "rolloutState": "IN_PROGRESS",
                    "rolloutStateReason": "ECS deployment in progress.",
                    "taskDefinition": service.task_definition,
                }
            )
            first["id"] = self._deployment_id()
        service.running_count = 0
        service.pending_count = 0
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
        elif service.deployments:
            service.deployments[0]["desiredCount"] = service.desired_count
        run.steady_reported = False
        self._refresh_counts(service)
        self.schedule_reconcile(run)

    def service_deleted(self, service: Any) -> None:
        run = self.services.get(service.arn)
        if run is None:
            return
        for task in self._live_tasks(service.arn):
            self.stop_task(task.task_arn, "Scaling activity initiated by (deployment deleted)")
        self._refresh_counts(service)

    def task_stop_requested(self, task_arn: str, reason: str) -> bool:
        """A learner called StopTask: stop it the ECS way. False if the task is not ours."""
        if task_arn not in self.tasks:
            return False
        self.stop_task(task_arn, reason or "Task stopped by user")
        return True

    # -- configuration -----------------------------------------------------------------------
    def _apply_config(self, run: ServiceRun, service: Any, config: dict[str, Any], params: dict[str, Any]) -> None:
        run.deployment_configuration = dict(config)
        run.minimum_healthy_percent = int(config.get("minimumHealthyPercent", run.minimum_healthy_percent))
        run.maximum_percent = int(config.get("maximumPercent", run.maximum_percent))
        if "healthCheckGracePeriodSeconds" in params:
            run.grace_period = float(params["healthCheckGracePeriodSeconds"] or 0)
        shown = {"maximumPercent": run.maximum_percent, "minimumHealthyPercent": run.minimum_healthy_percent}
        shown.update({k: v for k, v in config.items() if k not in shown})
        # moto drops deploymentConfiguration at create time; keep it so DescribeServices shows it.
        service.deployment_configuration = shown
        service.health_check_grace_period_seconds = int(run.grace_period)

    def _deployment_id(self) -> str:
        # ECS ids look like ecs-svc/1234567890123456789; derive them from the seeded clock order.
        self._deployments_made = getattr(self, "_deployments_made", 0) + 1
        return f"ecs-svc/{4000000000000000000 + self._deployments_made * 7919:019d}"

    def _new_deployment(self, service: Any, task_definition: str) -> None:
        now = self._now()
        for old in service.deployments:
            if old["status"] == "PRIMARY":
                old["status"] = "ACTIVE"
                old["updatedAt"] = now
        service.deployments.insert(
            0,
            {
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
            },
        )

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
        if self._status(task) != "RUNNING":
            return False
        for tg_arn, ip, _ in task.registered:
            record = self.world.health.record(tg_arn, ip)
            if record is None or record.state != "healthy":
                return False
        return True

    def reconcile(self, run: ServiceRun) -> None:
        service = self._service(run)
        if service is None:
            return
        if service.status != "ACTIVE":
            for task in self._live_tasks(run.arn):
                self.stop_task(task.task_arn, "Scaling activity initiated by (deployment deleted)")
            self._refresh_counts(service)
            return
        if service.deployment_controller.get("type", "ECS") != "ECS" or not service.deployments:
            return  # CodeDeploy and EXTERNAL services are driven through task sets
        desired = int(service.desired_count or 0)
        primary = service.deployments[0]
        live = self._live_tasks(run.arn)
        primary_live = [t for t in live if t.deployment_id == primary["id"]]
        old_live = [t for t in live if t.deployment_id != primary["id"]]
        # All tasks that still run count towards maximumPercent, draining ones included.
        running_or_pending = [t for t in self.tasks.values() if t.service_arn == run.arn and not t.stopped]
        max_total = math.floor(desired * run.maximum_percent / 100)
        min_healthy = math.ceil(desired * run.minimum_healthy_percent / 100)

        # 1. Scale the primary deployment in if it has too many tasks.
        surplus = len(primary_live) - desired
        if surplus > 0:
            victims = sorted(primary_live, key=lambda t: (self._status(t) == "RUNNING", t.task_arn))[:surplus]
            self._stop_many(service, victims, "Scaling activity initiated by (deployment {})".format(primary["id"]))
            primary_live = [t for t in primary_live if t not in victims]

        # 2. Start primary tasks, as far as maximumPercent allows.
        room = max(0, max_total - len(running_or_pending))
        need = max(0, desired - len(primary_live))
        to_start = min(room, need)
        if desired > 0 and to_start == 0 and need > 0 and not old_live and not running_or_pending:
            to_start = need  # nothing to replace: a first deployment is never blocked
        if to_start:
            started = [self._launch(service, run, primary) for _ in range(to_start)]
            started = [t for t in started if t is not None]
            if started:
                ids = " ".join(f"(task {t.task_arn.rsplit('/', 1)[-1]})" for t in started)
                self.event(service, f"has started {len(started)} tasks: {ids}.")

        # 3. Stop old tasks, as far as minimumHealthyPercent allows.
        if old_live:
            healthy_now = sum(1 for t in self._live_tasks(run.arn) if self._healthy(t))
            can_stop = max(0, healthy_now - min_healthy)
            if desired == 0:
                can_stop = len(old_live)
            # Unhealthy or not-yet-running old tasks go first: stopping them costs no capacity.
            ordered = sorted(old_live, key=lambda t: (self._healthy(t), t.task_arn))
            victims = []
            for task in ordered:
                if not self._healthy(task):
                    victims.append(task)
                elif can_stop > 0:
                    victims.append(task)
                    can_stop -= 1
            self._stop_many(service, victims, "Scaling activity initiated by (deployment {})".format(primary["id"]))

        self._retire_deployments(service)
        self._refresh_counts(service)
        self._check_steady(service, run)

    def _stop_many(self, service: Any, tasks: list[TaskRun], reason: str) -> None:
        if not tasks:
            return
        for task in tasks:
            self.stop_task(task.task_arn, reason)
        ids = " ".join(f"(task {t.task_arn.rsplit('/', 1)[-1]})" for t in tasks)
        self.event(service, f"has stopped {len(tasks)} running tasks: {ids}.")

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
            if primary.get("rolloutState") != "COMPLETED":
                primary["rolloutState"] = "COMPLETED"
                primary["rolloutStateReason"] = f"ECS deployment {primary['id']} completed."
                primary["updatedAt"] = self._now()
            if not run.steady_reported:
                self.event(service, "has reached a steady state.")
                run.steady_reported = True
        else:
            run.steady_reported = False

    # -- one task's life ---------------------------------------------------------------------
    def _pick_subnet(self, service: Any, run: ServiceRun) -> tuple[str, list[str], bool]:
        config = (service.network_configuration or {}).get("awsvpcConfiguration", {})
        subnets = list(config.get("subnets") or [])
        groups = list(config.get("securityGroups") or [])
        public = str(config.get("assignPublicIp", "DISABLED")).upper() == "ENABLED"
        counts = {s: 0 for s in subnets}
        for task in self._live_tasks(run.arn):
            if task.subnet_id in counts:
                counts[task.subnet_id] += 1
        # ECS spreads a service's tasks across Availability Zones: take the least used subnet.
        subnet = min(subnets, key=lambda s: (counts[s], subnets.index(s)))
        return subnet, groups, public

    def _launch(self, service: Any, run: ServiceRun, deployment: dict[str, Any]) -> TaskRun | None:
        subnet, groups, public = self._pick_subnet(service, run)
        net = {
            "awsvpcConfiguration": {
                "subnets": [subnet],
                "securityGroups": groups,
                "assignPublicIp": "ENABLED" if public else "DISABLED",
            }
        }
        self.launching = True
        try:
            tasks = self._run_task(service, deployment, net)
        finally:
            self.launching = False
        return self._adopt(tasks[0], service.arn, deployment["id"], subnet, service.load_balancers, public)

    def _run_task(self, service: Any, deployment: dict[str, Any], net: dict[str, Any]) -> list[Any]:
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
            platform_version=service.platform_version or "LATEST",
        )

    def adopt_run_task(self, task: Any, public: bool) -> None:
        """A task started by RunTask (no service): give it the same lifecycle."""
        subnet = (
            task.network_configuration["awsvpcConfiguration"]["subnets"][0]
            if getattr(task, "network_configuration", None)
            else ""
        )
        self._adopt(task, None, None, subnet, [], public)

    def _adopt(
        self,
        task: Any,
        service_arn: str | None,
        deployment_id: str | None,
        subnet: str,
        load_balancers: list[dict[str, Any]],
        public: bool,
    ) -> TaskRun:
        td = self.ecs.describe_task_definition(task.task_definition_arn)
        lb = (load_balancers or [{}])[0] if load_balancers else {}
        container = lb.get("containerName") or td.container_definitions[0]["name"]
        port = lb.get("containerPort")
        if port is None:
            for cdef in td.container_definitions:
                if cdef["name"] == container and cdef.get("portMappings"):
                    port = cdef["portMappings"][0].get("containerPort")
        ip = ""
        for attachment in task.attachments:
            for detail in attachment.get("details", []):
                if detail["name"] == "privateIPv4Address":
                    ip = detail["value"]
        run = TaskRun(
            task.task_arn,
            task.cluster_name,
            service_arn,
            deployment_id,
            subnet,
            ip,
            container,
            int(port) if port else None,
        )
        run.public = public  # type: ignore[attr-defined]
        self.tasks[task.task_arn] = run
        now = self._now()
        task.last_status = "PROVISIONING"
        task.desired_status = "RUNNING"
        task.created_at = now
        task.cpu = td.cpu
        task.memory = td.memory
        task.availability_zone = self.world.backend("ec2").get_subnet(subnet).availability_zone if subnet else None
        task.connectivity = "CONNECTING"
        task.health_status = "UNKNOWN"
        for attachment in task.attachments:
            attachment["status"] = "PRECREATED"
        self.world.clock.call_later(PROVISIONING_SECONDS, lambda: self._to_pending(task.task_arn), name="ecs: pending")
        return run

    def _moto_task(self, run: TaskRun) -> Any | None:
        return self.ecs.tasks.get(run.cluster, {}).get(run.task_arn)

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
        problem = self.world_pull_problem(run, task)
        if problem:
            self.world.clock.call_later(
                PULL_SECONDS / 2, lambda: self._fail_start(task_arn, problem, None), name="ecs: pull failed"
            )
            return
        task.pull_started_at = self._now()
        self.world.clock.call_later(PULL_SECONDS, lambda: self._to_running(task_arn), name="ecs: running")

    def world_pull_problem(self, run: TaskRun, task: Any) -> str | None:
        from .images import pull_problem

        td = self.ecs.describe_task_definition(task.task_definition_arn)
        return pull_problem(self.world, td, run.subnet_id, run.ip, bool(getattr(run, "public", False)))

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

        try:
            if run.container_port is not None:
                self.world.apps.start(run.ip, run.container_port, task_arn, env)
        except (AppCrashed, AppConfigError) as exc:
            self._fail_start(task_arn, "Essential container in task exited", str(exc))
            return
        task.last_status = "RUNNING"
        task.pull_stopped_at = self._now()
        task.started_at = self._now()
        run.started_at = self.world.clock.now()
        for container in task.containers:
            container.last_status = "RUNNING"
        service = self._service_of(run)
        if service is not None and run.container_port is not None:
            for lb in service.load_balancers or []:
                tg_arn = lb.get("targetGroupArn")
                if not tg_arn:
                    continue
                self.register_target(tg_arn, run.ip, int(lb.get("containerPort", run.container_port)))
                run.registered.append((tg_arn, run.ip, int(lb.get("containerPort", run.container_port))))
                self.event(service, f"registered 1 targets in (target-group {tg_arn})")
        self._poke(run)

    def register_target(self, tg_arn: str, ip: str, port: int) -> None:
        elbv2 = self.world.backend("elbv2")
        tg = elbv2.target_groups.get(tg_arn)
        if tg is None:
            return
        tg.register([{"Id": ip, "Port": port}])
        self.world.health.register(tg_arn, ip, port)

    def _fail_start(self, task_arn: str, reason: str, log: str | None) -> None:
        run = self.tasks.get(task_arn)
        task = self._moto_task(run) if run else None
        if run is None or task is None:
            return
        for container in task.containers:
            container.last_status = "STOPPED"
            container.exitCode = 1 if log else None
            if log:
                container.reason = log
        task.stop_code = "TaskFailedToStart" if "CannotPull" in reason else "EssentialContainerExited"
        self._finish_stop(run, task, reason, override=True)
        service = self._service_of(run)
        if service is not None:
            dep = next((d for d in service.deployments if d["id"] == run.deployment_id), None)
            if dep is not None:
                dep["failedTasks"] = dep.get("failedTasks", 0) + 1
            self.event(service, f"has stopped 1 running tasks: (task {task_arn.rsplit('/', 1)[-1]}).")
        self._poke(run)

    def stop_task(self, task_arn: str, reason: str) -> None:
        """Stop a task as ECS does: deregister from target groups, drain, then stop the container."""
        run = self.tasks.get(task_arn)
        task = self._moto_task(run) if run else None
        if run is None or task is None or run.stopping or run.stopped:
            return
        run.stopping = True
        task.desired_status = "STOPPED"
        task.stopped_reason = reason
        task.stopping_at = self._now()
        delay = 0.0
        if run.registered:
            service = self._service_of(run)
            for tg_arn, ip, port in run.registered:
                tg = self.world.backend("elbv2").target_groups.get(tg_arn)
                if tg is not None and ip in tg.targets:
                    tg.deregister([{"Id": ip, "Port": port}])
                self.world.health.deregister(tg_arn, ip)
                delay = max(delay, self.world.health._deregistration_delay(tg_arn))
                if service is not None:
                    self.event(service, f"deregistered 1 targets in (target-group {tg_arn})")
            run.registered = []
        if str(task.last_status) != "RUNNING":
            delay = 0.0  # a task that never ran has nothing to drain
        self.world.clock.call_later(delay, lambda: self._deactivate(task_arn), name="ecs: stopping")

    def _deactivate(self, task_arn: str) -> None:
        run = self.tasks.get(task_arn)
        task = self._moto_task(run) if run else None
        if run is None or task is None or run.stopped:
            return
        task.last_status = "DEACTIVATING"
        self.world.clock.call_later(STOP_SECONDS, lambda: self._stop_container(task_arn), name="ecs: sigterm")

    def _stop_container(self, task_arn: str) -> None:
        run = self.tasks.get(task_arn)
        task = self._moto_task(run) if run else None
        if run is None or task is None or run.stopped:
            return
        task.last_status = "DEPROVISIONING"
        task.execution_stopped_at = self._now()
        if run.container_port is not None:
            self.world.apps.stop(run.ip, run.container_port)
        for container in task.containers:
            container.last_status = "STOPPED"
            container.exitCode = 0
        self.world.clock.call_later(DEPROVISION_SECONDS, lambda: self._stopped(task_arn), name="ecs: stopped")

    def _stopped(self, task_arn: str) -> None:
        run = self.tasks.get(task_arn)
        task = self._moto_task(run) if run else None
        if run is None or task is None:
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
        task.connectivity = "DISCONNECTED"
        if run.container_port is not None:
            self.world.apps.stop(run.ip, run.container_port)
        # The ENI is released with the task: its address goes back to the subnet.
        ec2 = self.world.backend("ec2")
        for attachment in task.attachments:
            attachment["status"] = "DELETED"
            for detail in attachment.get("details", []):
                if detail["name"] == "networkInterfaceId" and detail["value"] in ec2.enis:
                    del ec2.enis[detail["value"]]

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
        for run in self.tasks.values():
            if run.stopping or run.ip != change.target_id:
                continue
            if not any(tg == change.tg_arn for tg, _, _ in run.registered):
                continue
            srun = self.services.get(run.service_arn or "")
            if srun is None:
                continue
            if change.new == "unhealthy":
                started = run.started_at or 0.0
                if self.world.clock.now() - started < srun.grace_period:
                    return  # the grace period hides early failures, as on ECS
                service = self._service(srun)
                if service is not None:
                    task_id = run.task_arn.rsplit("/", 1)[-1]
                    self.event(
                        service,
                        f"(task {task_id}) failed ELB health checks in (target-group {change.tg_arn})",
                    )
                    dep = next((d for d in service.deployments if d["id"] == run.deployment_id), None)
                    if dep is not None:
                        dep["failedTasks"] = dep.get("failedTasks", 0) + 1
                self.stop_task(run.task_arn, f"Task failed ELB health checks in (target-group {change.tg_arn})")
                for container in self._moto_task(run).containers if self._moto_task(run) else []:
                    container.health_status = "UNHEALTHY"
            self._poke(run)
