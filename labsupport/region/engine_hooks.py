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
  included (moto said ``healthy`` for every registered target).
"""

from __future__ import annotations

from typing import Any

from . import runtime

_MARK = "_labsupport_engine_hook"


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
