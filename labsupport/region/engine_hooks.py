"""Where moto's backends hand over to the region's engines.

The engines (:mod:`.ecs_engine`, :mod:`.health`, :mod:`.listeners`) must act *inside* the API
call that triggers them, so that its own response already shows the result: ``CreateService``
answers with a deployment IN_PROGRESS and zero running tasks (moto would say nothing happened),
``DescribeTargetHealth`` answers with the health the ALB measured (moto says ``healthy`` for all).
So these wrappers go around moto's backend methods, not around HTTP requests.

Each wrapper calls moto first, then the engine, and is installed once per process. Besides
handing over to the engines, three wrappers correct what moto answers:

- ``ListTasks`` filters by ``serviceName`` (moto ignores it) and, as AWS does, lists only tasks whose
  desired status is RUNNING unless ``desiredStatus`` says otherwise (moto listed stopped ones too);
- ``UpdateService`` keeps the scheduler's deployments and counts (moto renamed the current
  deployment on ``forceNewDeployment`` and pretended the new desired count was reached at once);
- ``DescribeTargetHealth`` reports the health the region's load balancer measured, draining targets
  included (moto said ``healthy`` for every registered target);
- the task-set calls run real tasks (:mod:`.task_sets`): ``CreateTaskSet`` no longer starts moto's
  untracked tasks, ``DeleteTaskSet`` drains the set instead of dropping it (and refuses the PRIMARY one
  without ``force``), ``UpdateServicePrimaryTaskSet`` accepts a task set id as well as its ARN, and
  ``DescribeTaskSets``/``DescribeServices`` show the counts and stability of this moment.
"""

from __future__ import annotations

from typing import Any

from . import runtime

_MARK = "_labsupport_engine_hook"


def _check_scale(scale: Any) -> None:
    """A task set's scale is a percentage from 0 to 100 (botocore ``Scale.value``)."""
    if not scale:
        return
    from .protocol import AwsError

    try:
        value = float(scale.get("value", 100.0))
    except (TypeError, ValueError, AttributeError):
        value = -1.0
    if not 0.0 <= value <= 100.0 or str(scale.get("unit", "PERCENT")) != "PERCENT":
        # The range is AWS's; the wording is ours.
        raise AwsError(
            "InvalidParameterException",
            f"scale must be {{value: 0 to 100, unit: PERCENT}}; got {scale!r}.",
        )


def _wrap(cls: Any, name: str, make: Any) -> None:
    original = getattr(cls, name)
    if getattr(original, _MARK, False):
        return
    wrapped = make(original)
    setattr(wrapped, _MARK, True)
    setattr(cls, name, wrapped)


def install() -> None:
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.elbv2.models import ELBv2Backend, FakeHealthStatus, FakeTargetGroup
    from moto.moto_api import state_manager

    # ECS tasks move through their states by the scheduler's clock, never by describe calls.
    state_manager.set_transition(model_name="ecs::task", transition={"progression": "manual", "times": 10**12})

    # -- ECS ---------------------------------------------------------------------------------
    def create_service(original: Any) -> Any:
        def hooked(self: Any, *args: Any, **kwargs: Any) -> Any:
            service = original(self, *args, **kwargs)
            runtime.get().ecs.service_created(service, runtime.request_params())
            return service

        return hooked

    def update_service(original: Any) -> Any:
        def hooked(self: Any, service_properties: dict[str, Any]) -> Any:
            cluster = service_properties.get("cluster", "default")
            name = str(service_properties.get("service", "")).split("/")[-1]
            try:
                before = self._get_service(cluster, name)
                previous_td, running, pending = before.task_definition, before.running_count, before.pending_count
                deployments = [dict(d) for d in before.deployments]
            except Exception:
                previous_td, running, pending, deployments = None, 0, 0, None
            service = original(self, service_properties)
            # moto pretends desiredCount is reached at once, and forceNewDeployment makes it rename
            # the current deployment; the scheduler keeps the real counts and deployments.
            service.running_count, service.pending_count = running, pending
            if deployments is not None and service.deployment_controller.get("type", "ECS") == "ECS":
                service.deployments[:] = deployments
            runtime.get().ecs.service_updated(service, runtime.request_params(), previous_td)
            return service

        return hooked

    def delete_service(original: Any) -> Any:
        def hooked(self: Any, *args: Any, **kwargs: Any) -> Any:
            service = original(self, *args, **kwargs)
            runtime.get().ecs.service_deleted(service)
            return service

        return hooked

    def stop_task(original: Any) -> Any:
        def hooked(self: Any, cluster_str: str, task_str: str, reason: str) -> Any:
            world = runtime.get()
            cluster = self._get_cluster(cluster_str)
            task_id = task_str.split("/")[-1]
            for arn, task in self.tasks.get(cluster.name, {}).items():
                if arn.endswith(task_id) and world.ecs.task_stop_requested(arn, reason):
                    return task
            return original(self, cluster_str, task_str, reason)

        return hooked

    def run_task(original: Any) -> Any:
        def hooked(self: Any, *args: Any, **kwargs: Any) -> Any:
            tasks = original(self, *args, **kwargs)
            world = runtime.get()
            if world.ecs.launching:
                return tasks  # the scheduler's own launches adopt their tasks themselves
            params = runtime.request_params()
            config = (params.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
            public = str(config.get("assignPublicIp", "DISABLED")).upper() == "ENABLED"
            for task in tasks:
                world.ecs.adopt_run_task(task, public)
            return tasks

        return hooked

    def list_tasks(original: Any) -> Any:
        def hooked(self: Any, *args: Any, **kwargs: Any) -> Any:
            tasks = original(self, *args, **kwargs)
            names = ("cluster_str", "container_instance", "family", "started_by", "service_name", "desiredStatus")
            given = dict(zip(names, args, strict=False))
            given.update(kwargs)
            from_api = len(args) == len(names)  # moto's ListTasks handler passes all six; internal calls none
            service_name = given.get("service_name")
            if service_name:
                # moto ignores the serviceName filter (a TODO upstream); tasks of a service carry
                # the group "service:<name>", as on ECS.
                wanted = f"service:{str(service_name).split('/')[-1]}"
                tasks = [t for t in tasks if getattr(t, "group", None) == wanted]
            if from_api and not given.get("desiredStatus"):
                # "The default status filter is RUNNING, which shows tasks that Amazon ECS has set the
                # desired status to RUNNING." (ListTasks); moto listed stopped tasks too.
                tasks = [t for t in tasks if getattr(t, "desired_status", "RUNNING") == "RUNNING"]
            return tasks

        return hooked

    # -- ECS task sets: real tasks (see task_sets.py) ---------------------------------------------
    def create_task_set(original: Any) -> Any:
        def hooked(self: Any, service: str, cluster_str: str, task_definition: str, *args: Any, **kwargs: Any) -> Any:
            scale = kwargs.get("scale")
            _check_scale(scale)
            # moto would start untracked tasks itself; the scheduler starts (and keeps) the real ones.
            kwargs["scale"] = None
            task_set = original(self, service, cluster_str, task_definition, *args, **kwargs)
            runtime.get().ecs.task_sets.created(task_set, scale)
            return task_set

        return hooked

    def update_task_set(original: Any) -> Any:
        def hooked(self: Any, cluster: str, service: str, task_set: str, scale: dict[str, Any]) -> Any:
            _check_scale(scale)
            found = original(self, cluster, service, task_set, scale)
            runtime.get().ecs.task_sets.scaled(found, scale)
            return found

        return hooked

    def delete_task_set(original: Any) -> Any:
        def hooked(self: Any, cluster: str, service: str, task_set: str) -> Any:
            cluster = cluster or "default"
            engine = runtime.get().ecs.task_sets
            svc = self.services.get(f"{cluster.split('/')[-1]}:{str(service).split('/')[-1]}")
            found = engine.find(svc, task_set) if svc is not None else None
            if found is None:
                return original(self, cluster, service, task_set)  # moto's not-found errors
            # moto removed the set at once and left its tasks running; ECS drains it first.
            return engine.delete(svc, found, force=bool(runtime.request_params().get("force")))

        return hooked

    def update_service_primary_task_set(original: Any) -> Any:
        def hooked(self: Any, cluster: str, service: str, primary_task_set: str) -> Any:
            engine = runtime.get().ecs.task_sets
            svc = self.services.get(f"{(cluster or 'default').split('/')[-1]}:{str(service).split('/')[-1]}")
            found = engine.find(svc, primary_task_set) if svc is not None else None
            if found is None:
                return original(self, cluster, service, primary_task_set)  # moto's not-found errors
            # moto matched only a full ARN and turned DRAINING sets back into ACTIVE ones.
            engine.made_primary(svc, found)
            return found

        return hooked

    def describe_task_sets(original: Any) -> Any:
        def hooked(self: Any, cluster_str: str, service: str, task_sets: list[str]) -> Any:
            found = original(self, cluster_str, service, task_sets)
            svc = self.services.get(f"{cluster_str.split('/')[-1]}:{str(service).split('/')[-1]}")
            if svc is not None:
                runtime.get().ecs.task_sets.refresh(svc)
            return found

        return hooked

    def describe_services(original: Any) -> Any:
        def hooked(self: Any, *args: Any, **kwargs: Any) -> Any:
            result = original(self, *args, **kwargs)
            services = result[0] if isinstance(result, tuple) else result
            for svc in services or []:
                if getattr(svc, "task_sets", None):
                    runtime.get().ecs.task_sets.refresh(svc)
            return result

        return hooked

    _wrap(EC2ContainerServiceBackend, "create_task_set", create_task_set)
    _wrap(EC2ContainerServiceBackend, "update_task_set", update_task_set)
    _wrap(EC2ContainerServiceBackend, "delete_task_set", delete_task_set)
    _wrap(EC2ContainerServiceBackend, "update_service_primary_task_set", update_service_primary_task_set)
    _wrap(EC2ContainerServiceBackend, "describe_task_sets", describe_task_sets)
    _wrap(EC2ContainerServiceBackend, "describe_services", describe_services)
    _wrap(EC2ContainerServiceBackend, "create_service", create_service)
    _wrap(EC2ContainerServiceBackend, "update_service", update_service)
    _wrap(EC2ContainerServiceBackend, "delete_service", delete_service)
    _wrap(EC2ContainerServiceBackend, "stop_task", stop_task)
    _wrap(EC2ContainerServiceBackend, "run_task", run_task)
    _wrap(EC2ContainerServiceBackend, "list_tasks", list_tasks)

    # -- ELBv2 target health -------------------------------------------------------------------
    def health_for(original: Any) -> Any:
        def hooked(self: Any, target: dict[str, Any], ec2_backend: Any) -> Any:
            status = runtime.get().health.status_for(self, target["Id"])
            if status is None:
                return original(self, target, ec2_backend)
            record = runtime.get().health.record(self.arn, target["Id"])
            port = record.port if record else target.get("Port", self.port)
            state, reason, description = status
            return FakeHealthStatus(target["Id"], port, self.health_check_port, state, reason, description)

        return hooked

    def describe_target_health(original: Any) -> Any:
        def hooked(self: Any, target_group_arn: str, targets: list[dict[str, Any]]) -> Any:
            result = original(self, target_group_arn, targets)
            if not targets:
                # Draining targets are no longer registered in moto, but an ALB still lists them.
                tg = self.target_groups.get(target_group_arn)
                for record in runtime.get().health.draining(target_group_arn):
                    result.append(
                        FakeHealthStatus(
                            record.target_id,
                            record.port,
                            tg.health_check_port if tg else None,
                            "draining",
                            record.reason,
                            record.description,
                        )
                    )
            return result

        return hooked

    def register_targets(original: Any) -> Any:
        def hooked(self: Any, target_group_arn: str, instances: list[dict[str, Any]]) -> Any:
            result = original(self, target_group_arn, instances)
            tg = self.target_groups.get(target_group_arn)
            for target in instances:
                port = int(target.get("Port") or (tg.port if tg else 80))
                runtime.get().health.register(target_group_arn, target["Id"], port)
            return result

        return hooked

    def deregister_targets(original: Any) -> Any:
        def hooked(self: Any, target_group_arn: str, instances: list[dict[str, Any]]) -> Any:
            result = original(self, target_group_arn, instances)
            for target in instances:
                runtime.get().health.deregister(target_group_arn, target["Id"])
            return result

        return hooked

    def delete_target_group(original: Any) -> Any:
        def hooked(self: Any, target_group_arn: str) -> Any:
            result = original(self, target_group_arn)
            runtime.get().health.forget_target_group(target_group_arn)
            return result

        return hooked

    _wrap(FakeTargetGroup, "health_for", health_for)
    _wrap(ELBv2Backend, "describe_target_health", describe_target_health)
    _wrap(ELBv2Backend, "register_targets", register_targets)
    _wrap(ELBv2Backend, "deregister_targets", deregister_targets)
    _wrap(ELBv2Backend, "delete_target_group", delete_target_group)

    # -- listeners open and close with the API calls that make them ------------------------------
    def sync_after(original: Any) -> Any:
        def hooked(self: Any, *args: Any, **kwargs: Any) -> Any:
            result = original(self, *args, **kwargs)
            runtime.get().listeners.sync()
            return result

        return hooked

    for name in ("create_listener", "delete_listener", "delete_load_balancer"):
        _wrap(ELBv2Backend, name, sync_after)
