"""CodeDeploy blue/green deployments for ECS that really happen, on the region's virtual clock.

moto stores CodeDeploy applications, deployment groups and deployments, but a deployment stays
``Created`` forever, nothing moves, and most of the API around it is missing (moto-gaps.md §5). Here
CodeDeploy for ECS runs as AWS documents it (aws-behaviour.md §5):

**A deployment** (``CreateDeployment`` with an AppSpec in ``revisionType: AppSpecContent``, YAML or
JSON) gets an ID ``d-`` + 9 upper-case letters and digits, is ``Created``, starts one virtual second
later (``InProgress``) and runs the lifecycle events in order:

1. ``BeforeInstall`` (hook) – nothing exists yet; a failure here cannot be rolled back;
2. ``Install`` – the **replacement task set** is created at 100 % scale in the *other* target group of
   the pair (the group the PRIMARY task set does not use, so the roles alternate A→B, B→A), with the
   AppSpec's task definition, container and port (checked against the task definition: the seed's
   "The ECS service cannot be updated due to an unexpected error: The container does not exist in the
   task definition." as ``ECS_UPDATE_ERROR``). Install ends when the set is in steady state;
3. ``AfterInstall`` (hook);
4. ``AllowTestTraffic`` – the test listener (if the group has one) forwards to the replacement;
5. ``AfterAllowTestTraffic`` (hook). Without a test listener, events 4 and 5 are not part of the
   deployment (the tutorial's ``get-deployment-target`` output lists six events);
6. ``BeforeAllowTraffic`` (hook);
7. ``AllowTraffic`` – production moves by the deployment configuration's schedule
   (:func:`labsupport.deployment_configs.schedule`) on the virtual clock, always as a weighted forward
   that keeps the original target group at the remaining weight (0 at the end, so it stays attached
   and is health-checked for the next deployment, as CodeDeploy does since November 2022). At 100 %
   the replacement becomes the PRIMARY task set;
8. ``AfterAllowTraffic`` (hook).

Then the original task set is scaled to 0 % and deleted (DRAINING) after ``terminationWaitTimeInMinutes``
(``terminateBlueInstancesOnDeploymentSuccess``, ``TERMINATE``), or kept (``KEEP_ALIVE``). During that
wait the deployment is still ``InProgress`` (``instanceTerminationWaitTimeStarted`` true) while its
target and all eight events are already ``Succeeded`` and both task sets run at 100 % in steady
state; it becomes ``Succeeded`` when the original is terminated. (The ECS tutorial's sample output
shows the target; public CLI output of real runs shows the deployment ``InProgress`` during the wait.)
``GetDeployment`` carries ``deploymentOverview`` (counts of the one ECS target) only once the
deployment has finished, as observed on AWS.

**Hooks**: the Lambda function the AppSpec names for an event is invoked (asynchronously, in its own
process: :mod:`.lambdas`) with ``{"DeploymentId", "LifecycleEventHookExecutionId"}``; the event waits
for ``PutLifecycleEventHookExecutionStatus`` (``Succeeded`` or ``Failed``), at most one virtual hour.
A function that raises never reports, so, as on AWS, the event waits for the full hour.

**Controls and failures**: ``deploymentReadyOption`` ``STOP_DEPLOYMENT`` holds a deployment in
``Ready`` until ``ContinueDeployment(READY_WAIT)``, or ``Stopped`` when ``waitTimeInMinutes`` runs out;
``ContinueDeployment(TERMINATION_WAIT)`` terminates the original at once; ``StopDeployment``
(optionally with rollback); alarms of the group's ``alarmConfiguration`` (or the deployment's
override) are checked at the start and every 10 virtual seconds while the deployment runs, and one in
``ALARM`` stops it (``Stopped``, ``ALARM_ACTIVE``); a replacement that is not steady within 60 virtual minutes fails
it: "The deployment timed out while waiting for the replacement task set to become healthy."
Automatic rollback (``DEPLOYMENT_FAILURE``, ``DEPLOYMENT_STOP_ON_ALARM``,
``DEPLOYMENT_STOP_ON_REQUEST``) is a **new deployment** (``creator: codeDeployRollback``,
``CodeDeployDefault.ECSAllAtOnce`` whatever the group uses, linked both ways by ``rollbackInfo``)
that sends all traffic back to the original task set, makes it PRIMARY again and drains the
replacement; it creates no task set. One active deployment per group (``DeploymentLimitExceededException``).

**Also answered here**: deployment configurations (the predefined ones and custom
``TimeBasedCanary``/``TimeBasedLinear``/``AllAtOnce`` ECS configurations), deployment targets
(``ECSTarget`` with lifecycle events and ``taskSetsInfo``, including AWS's misspelt ``identifer``),
``GetDeploymentGroup`` (moto dropped ``alarmConfiguration``) and ``BatchGetDeploymentGroups``.
Deployments of ``Server`` and ``Lambda`` applications stay moto's (stored, never run).

AWS wordings used, and where they come from: "The Deployment Group '<group>' already has an active
Deployment '<id>'" (DeploymentLimitExceededException, quoted in public CI logs, e.g.
CircleCI-Public/aws-ecs-orb#181); "Deployment group's ECS service must be configured for a
CODE_DEPLOY deployment controller." (InvalidECSServiceException, public Terraform reports); the
seed's two classic errors (aws-behaviour.md §5.8); from raw CLI output of real ECS and Lambda
deployments published in public lab write-ups: "One or more alarms have been activated according to
the Amazon CloudWatch metrics you selected, and the affected deployments have been stopped.
Activated alarms: <name> <name>", "Deployment <id> terminated. Automatic rollback is triggered with a
DeploymentId <id>." and "Deployment <id> is triggered to roll back deployment <id>."; exception names
and enums from botocore. Other messages are the lab's own (marked "ours" in the code).

Lab decisions where the sources leave a choice (aws-behaviour.md §5, §9):

- The deployment status during the termination wait (aws-behaviour.md §5.6 leaves it unverified) is
  ``InProgress``, as above: CI tools that wait for ``Succeeded`` wait through the termination wait.
- The ready wait (``STOP_DEPLOYMENT``) sits after test traffic moved (``AfterAllowTestTraffic``) and
  before ``BeforeAllowTraffic``: the replacement can be tested on the test listener while production
  waits. Its expiry stops the deployment (``Stopped``, code ``TIMEOUT``, our message) and leaves the
  replacement in place, as a stop without rollback does; the next deployment removes it.
- The replacement must also be steady right before ``AllowTraffic`` (after test traffic moved to its
  group, its targets are health-checked): production never moves to targets not yet checked.
- A rollback runs no hooks (its hook events are ``Skipped``) and drains the replacement at once (no
  termination wait). Nothing is rolled back when nothing was changed (a failure before the
  replacement task set existed, such as the wrong-container error).
- An alarm already in ``ALARM`` when the deployment starts stops it at once (CodeDeploy, unlike ECS's
  own alarm-based rollback, does not ignore an alarm that was already firing); every event is
  ``Skipped`` and nothing is rolled back, since nothing changed yet.
- A group without a deployment configuration name uses ``CodeDeployDefault.ECSAllAtOnce`` (what the
  console and CDK default to); moto's ``CodeDeployDefault.OneAtATime`` is shown as that.
- ``StopDeployment`` acts at once and answers ``Succeeded``.
"""

from __future__ import annotations

import hashlib
import json
import random
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .. import appspec as appspec_module
from .. import deployment_configs as configs
from ..errors import LabError
from . import runtime
from .clock import EPOCH
from .protocol import AwsError, AwsRequest
from .rules import Context, handler, rule
from .task_sets import ACTIVE, DRAINING, STARTED_BY_CODE_DEPLOY, STEADY, target_group_of

if TYPE_CHECKING:
    from .runtime import World

START_DELAY = 1.0  # seconds from CreateDeployment to InProgress
STEADY_TIMEOUT = 3600.0  # "CodeDeploy waits up to one hour for the green task set to reach steady state"
STEADY_POLL = 15.0  # a safety net: task-set stability changes are also pushed to the engine
HOOK_TIMEOUT = 3600.0  # a lifecycle event fails after 3600 s without a reported status
# How often alarms are read while a deployment runs. AWS publishes no interval; public runs saw a
# deployment stop within about 20 s of its alarm entering ALARM.
ALARM_POLL = 10.0
ACTIVE_STATUSES = ("Created", "Queued", "InProgress", "Baking", "Ready")
DONE_STATUSES = ("Succeeded", "Failed", "Stopped")
ECS_EVENTS = (
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "AllowTestTraffic",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
)
HOOK_EVENTS = appspec_module.HOOK_EVENTS
DEFAULT_ECS_CONFIG = "CodeDeployDefault.ECSAllAtOnce"
TIMEOUT_MESSAGE = "The deployment timed out while waiting for the replacement task set to become healthy."
CONTAINER_MESSAGE = (
    "The ECS service cannot be updated due to an unexpected error: The container does not exist in the task definition."
)
ALARM_MESSAGE = (
    "One or more alarms have been activated according to the Amazon CloudWatch metrics you selected, "
    "and the affected deployments have been stopped. Activated alarms: {names}"
)
ROLLED_BACK_MESSAGE = (
    "Deployment {original} terminated. Automatic rollback is triggered with a DeploymentId {rollback}."
)
ROLLING_BACK_MESSAGE = "Deployment {rollback} is triggered to roll back deployment {original}."
SERVER_CONFIGS = {
    "CodeDeployDefault.OneAtATime": {"type": "HOST_COUNT", "value": 1},
    "CodeDeployDefault.HalfAtATime": {"type": "FLEET_PERCENT", "value": 50},
    "CodeDeployDefault.AllAtOnce": {"type": "HOST_COUNT", "value": 0},
}
LAMBDA_CONFIGS = {
    "CodeDeployDefault.LambdaAllAtOnce": configs.TrafficRouting("AllAtOnce"),
    "CodeDeployDefault.LambdaCanary10Percent5Minutes": configs.TrafficRouting("TimeBasedCanary", 10, 5),
    "CodeDeployDefault.LambdaCanary10Percent10Minutes": configs.TrafficRouting("TimeBasedCanary", 10, 10),
    "CodeDeployDefault.LambdaCanary10Percent15Minutes": configs.TrafficRouting("TimeBasedCanary", 10, 15),
    "CodeDeployDefault.LambdaCanary10Percent30Minutes": configs.TrafficRouting("TimeBasedCanary", 10, 30),
    "CodeDeployDefault.LambdaLinear10PercentEvery1Minute": configs.TrafficRouting("TimeBasedLinear", 10, 1),
    "CodeDeployDefault.LambdaLinear10PercentEvery2Minutes": configs.TrafficRouting("TimeBasedLinear", 10, 2),
    "CodeDeployDefault.LambdaLinear10PercentEvery3Minutes": configs.TrafficRouting("TimeBasedLinear", 10, 3),
    "CodeDeployDefault.LambdaLinear10PercentEvery10Minutes": configs.TrafficRouting("TimeBasedLinear", 10, 10),
}
_ID_ALPHABET = string.ascii_uppercase + string.digits
_NAMESPACE = uuid.UUID("6c616273-7570-706f-7274-636f64656470")  # stable ids for configs and hook executions


# -- the region's records ------------------------------------------------------------------------------


@dataclass
class LifecycleEvent:
    name: str
    status: str = "Pending"
    start: float | None = None
    end: float | None = None
    diagnostics: dict[str, Any] | None = None
    execution_id: str | None = None
    function: str | None = None


@dataclass
class Deployment:
    """One ECS deployment as CodeDeploy runs it (the API's DeploymentInfo plus the engine's state)."""

    id: str
    application: str
    group: str
    config_name: str
    routing: configs.TrafficRouting
    revision: dict[str, Any]
    spec: appspec_module.AppSpec | None
    creator: str
    create_time: float
    cluster: str
    service: str
    prod_listeners: list[str]
    test_listeners: list[str]
    target_group_names: list[str]
    auto_rollback: dict[str, Any]
    alarm_config: dict[str, Any]
    override_alarm: dict[str, Any] | None
    ready_option: dict[str, Any]
    termination: dict[str, Any]
    description: str | None = None
    previous_revision: dict[str, Any] | None = None
    status: str = "Created"
    start_time: float | None = None
    complete_time: float | None = None
    last_updated: float = 0.0
    error: dict[str, str] | None = None
    events: list[LifecycleEvent] = field(default_factory=list)
    target_status: str = "Pending"
    rollback_info: dict[str, str] = field(default_factory=dict)
    rollback_of: str | None = None  # this deployment rolls back that one
    original_set: str | None = None  # task set ARNs
    replacement_set: str | None = None
    original_tg: str | None = None  # target group ARNs
    replacement_tg: str | None = None
    termination_wait_started: bool = False
    ready_done: bool = False  # the ready wait is over (ContinueDeployment READY_WAIT)
    waiting: Callable[[], None] | None = None  # what to do once the replacement is steady
    wait_token: int = 0  # tells the polls of an earlier wait to stop
    timers: list[Any] = field(default_factory=list)  # clock events to cancel when it ends

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def event(self, name: str) -> LifecycleEvent | None:
        return next((e for e in self.events if e.name == name), None)


@dataclass
class CustomConfig:
    name: str
    config_id: str
    create_time: float
    routing: configs.TrafficRouting | None  # None for a Server configuration
    compute_platform: str = "ECS"
    minimum_healthy_hosts: dict[str, Any] | None = None  # Server configurations only


@dataclass
class Store:
    """The engine's state, kept on moto's CodeDeploy backend so that a region reset forgets it too."""

    rng: random.Random
    deployments: dict[str, Deployment] = field(default_factory=dict)
    custom_configs: dict[str, CustomConfig] = field(default_factory=dict)
    hook_executions: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (deployment, event)


def _error(code: str, message: str) -> AwsError:
    return AwsError(code, message)


def _epoch_dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


# -- the engine ----------------------------------------------------------------------------------------


class CodeDeploy:
    """CodeDeploy for ECS in the region (``world.codedeploy``). See the module docstring."""

    def __init__(self, world: World) -> None:
        self.world = world
        world.ecs.task_sets.observers.append(self._task_set_changed)

    # -- state ---------------------------------------------------------------------------------------
    @property
    def backend(self) -> Any:
        return self.world.backend("codedeploy")

    def store(self) -> Store:
        backend = self.backend
        found = backend.__dict__.get("_lab_codedeploy_store")
        if found is None:
            found = Store(rng=random.Random(f"{self.world.seed}/codedeploy"))
            backend.__dict__["_lab_codedeploy_store"] = found
        return found  # type: ignore[no-any-return]

    def now(self) -> float:
        return self.world.clock.now()

    def deployment(self, deployment_id: Any) -> Deployment:
        if not deployment_id:
            raise _error("DeploymentIdRequiredException", "At least one deployment ID must be specified.")
        found = self.store().deployments.get(str(deployment_id))
        if found is None:
            if not str(deployment_id).startswith("d-"):
                raise _error(
                    "InvalidDeploymentIdException", f"The deployment ID {deployment_id} is not in a valid format."
                )
            raise _error(
                "DeploymentDoesNotExistException",
                f"The deployment {deployment_id} does not exist with the user or AWS account.",
            )
        return found

    def _new_id(self) -> str:
        store = self.store()
        while True:
            candidate = "d-" + "".join(store.rng.choice(_ID_ALPHABET) for _ in range(9))
            if candidate not in store.deployments:
                return candidate

    def _later(self, dep: Deployment, delay: float, action: Callable[[], None], name: str) -> Any:
        """A clock event for ``dep`` that is cancelled if the deployment ends first."""

        def run() -> None:
            if not dep.active:
                return
            try:
                action()
            except Exception as exc:  # a lab bug: fail the deployment with it rather than leave it hanging
                self._record_error(f"codedeploy {dep.id} {name}", exc)
                if dep.active:
                    self._fail(dep, "INTERNAL_ERROR", f"The offline lab region failed ({type(exc).__name__}: {exc}).")

        event = self.world.clock.call_later(delay, run, name=f"codedeploy: {name} {dep.id}")
        dep.timers.append(event)
        return event

    def _record_error(self, where: str, exc: BaseException) -> None:
        errors = self.world.clock.errors
        errors.append(f"{where}: {type(exc).__name__}: {exc}")
        del errors[:-20]

    def _touch(self, dep: Deployment) -> None:
        dep.last_updated = self.now()

    # -- configurations ------------------------------------------------------------------------------
    def routing_for(self, name: str) -> tuple[configs.TrafficRouting | None, str]:
        """(traffic routing, compute platform) of a configuration name; routing None for Server configs."""
        if name in configs.PREDEFINED:
            return configs.PREDEFINED[name], "ECS"
        if name in LAMBDA_CONFIGS:
            return LAMBDA_CONFIGS[name], "Lambda"
        if name in SERVER_CONFIGS:
            return None, "Server"
        custom = self.store().custom_configs.get(name)
        if custom is not None:
            return custom.routing, custom.compute_platform
        raise _error(
            "DeploymentConfigDoesNotExistException",
            f"The deployment configuration {name} does not exist with the user or AWS account.",
        )

    def config_info(self, name: str) -> dict[str, Any]:
        routing, platform = self.routing_for(name)
        custom = self.store().custom_configs.get(name)
        info: dict[str, Any] = {
            "deploymentConfigId": custom.config_id if custom else str(uuid.uuid5(_NAMESPACE, name)),
            "deploymentConfigName": name,
            "computePlatform": platform,
            "createTime": _epoch_dt(custom.create_time if custom else EPOCH),
        }
        if routing is not None:
            info["trafficRoutingConfig"] = routing.to_api()
        else:
            info["minimumHealthyHosts"] = custom.minimum_healthy_hosts if custom else SERVER_CONFIGS[name]
        return info

    def config_names(self) -> list[str]:
        names = set(configs.PREDEFINED) | set(LAMBDA_CONFIGS) | set(SERVER_CONFIGS) | set(self.store().custom_configs)
        return sorted(names)

    def create_config(self, request: AwsRequest) -> dict[str, Any]:
        name = request.get("deploymentConfigName")
        if not name:
            raise _error(
                "DeploymentConfigNameRequiredException", "The deployment configuration name was not specified."
            )
        name = str(name)
        try:
            configs.validate_name(name)
        except LabError as err:
            raise _error("InvalidDeploymentConfigNameException", str(err)) from None
        if name in self.config_names():
            raise _error(
                "DeploymentConfigAlreadyExistsException",
                f"A deployment configuration with the name {name} already exists with the user or AWS account.",
            )  # ours, in CodeDeploy's "with the user or AWS account" style
        platform = str(request.get("computePlatform") or "Server")
        if platform not in ("Server", "Lambda", "ECS"):
            raise _error("InvalidComputePlatformException", f"The computePlatform {platform} is not valid.")
        traffic = request.get("trafficRoutingConfig")
        hosts = request.get("minimumHealthyHosts")
        config_id = str(uuid.uuid5(_NAMESPACE, f"custom/{name}/{self.now()}"))
        if platform == "Server":
            # Stored and listed; the region runs ECS deployments only (moto keeps Server ones, unrun).
            if not isinstance(hosts, dict) or hosts.get("type") not in ("HOST_COUNT", "FLEET_PERCENT"):
                raise _error(
                    "InvalidMinimumHealthyHostValueException",
                    "A Server deployment configuration needs minimumHealthyHosts {type: HOST_COUNT or "
                    "FLEET_PERCENT, value}.",  # ours
                )
            custom = CustomConfig(name, config_id, self.now(), None, platform, dict(hosts))
            self.store().custom_configs[name] = custom
            return {"deploymentConfigId": config_id}
        if not traffic:
            raise _error(
                "InvalidTrafficRoutingConfigurationException",
                f"An {platform} deployment configuration needs trafficRoutingConfig (type TimeBasedCanary, "
                "TimeBasedLinear or AllAtOnce). Fix: pass e.g. trafficRoutingConfig={'type': 'TimeBasedCanary', "
                "'timeBasedCanary': {'canaryPercentage': 25, 'canaryInterval': 45}}.",  # ours
            )
        if hosts:
            raise _error(
                "InvalidMinimumHealthyHostValueException",
                "minimumHealthyHosts applies to Server deployments only. Fix: leave it out for ECS.",  # ours
            )
        try:
            routing = configs.TrafficRouting.from_api(dict(traffic))
            configs.validate(routing)
        except (LabError, TypeError, ValueError) as err:
            raise _error("InvalidTrafficRoutingConfigurationException", str(err)) from None
        self.store().custom_configs[name] = CustomConfig(name, config_id, self.now(), routing, platform)
        return {"deploymentConfigId": config_id}

    def delete_config(self, name: str) -> None:
        if not name:
            raise _error(
                "DeploymentConfigNameRequiredException", "The deployment configuration name was not specified."
            )
        if name.startswith(configs.PREFIX):
            raise _error(
                "InvalidOperationException",
                f"{name} is a predefined deployment configuration and cannot be deleted.",  # ours
            )
        store = self.store()
        if name not in store.custom_configs:
            return  # AWS answers success for a name it does not know
        for groups in self.backend.deployment_groups.values():
            for group in groups.values():
                if str(group.deployment_config_name) == name:
                    raise _error(
                        "DeploymentConfigInUseException",
                        f"The deployment configuration {name} is still in use by deployment group "
                        f"{group.deployment_group_name}.",  # ours
                    )
        del store.custom_configs[name]

    # -- creating a deployment -----------------------------------------------------------------------
    def group_config_name(self, group: Any) -> str:
        name = group.deployment_config_name
        if not name or type(name) is not str:
            return DEFAULT_ECS_CONFIG  # moto's enum default (OneAtATime) for a group created without a name
        return name

    def create(self, request: AwsRequest) -> dict[str, Any]:
        app_name = request.get("applicationName")
        group_name = request.get("deploymentGroupName")
        backend = self.backend
        if not app_name:
            raise _error(
                "ApplicationNameRequiredException",
                "The minimum number of required application names was not specified.",
            )
        backend.get_application(str(app_name))  # moto: ApplicationDoesNotExistException
        if not group_name:
            raise _error("DeploymentGroupNameRequiredException", "The deployment group name was not specified.")
        group = backend.get_deployment_group(str(app_name), str(group_name))
        store = self.store()
        for other in store.deployments.values():
            if other.application == app_name and other.group == group_name and other.active:
                raise _error(
                    "DeploymentLimitExceededException",
                    f"The Deployment Group '{group_name}' already has an active Deployment '{other.id}'",
                )
        revision = request.get("revision")
        if not isinstance(revision, dict) or not revision.get("revisionType"):
            raise _error("RevisionRequiredException", "The revision ID was not specified.")
        spec = self._appspec(revision)
        config_name = str(request.get("deploymentConfigName") or self.group_config_name(group))
        routing, platform = self.routing_for(config_name)
        if platform != "ECS" or routing is None:
            raise _error(
                "InvalidDeploymentConfigNameException",
                f"The deployment configuration {config_name} is not for the ECS compute platform. Fix: use one "
                "of the CodeDeployDefault.ECS* configurations or a custom ECS configuration.",  # ours
            )
        ecs_services = group.ecs_services or []
        pair = ((group.load_balancer_info or {}).get("targetGroupPairInfoList") or [{}])[0]
        if not ecs_services or len(pair.get("targetGroups") or []) != 2:
            raise _error(
                "InvalidLoadBalancerInfoException",
                "An ECS deployment group needs ecsServices and loadBalancerInfo.targetGroupPairInfoList with two "
                "target groups and a production listener.",  # ours
            )
        override = request.get("overrideAlarmConfiguration")
        dep = Deployment(
            id=self._new_id(),
            application=str(app_name),
            group=str(group_name),
            config_name=config_name,
            routing=routing,
            revision=_with_sha(revision),
            spec=spec,
            creator="user",
            create_time=self.now(),
            cluster=str(ecs_services[0].get("clusterName")),
            service=str(ecs_services[0].get("serviceName")),
            prod_listeners=list((pair.get("prodTrafficRoute") or {}).get("listenerArns") or []),
            test_listeners=list((pair.get("testTrafficRoute") or {}).get("listenerArns") or []),
            target_group_names=[str(t.get("name")) for t in pair["targetGroups"]],
            auto_rollback=dict(request.get("autoRollbackConfiguration") or group.auto_rollback_configuration or {}),
            alarm_config=_alarm_dict(group.alarm_configuration),
            override_alarm=dict(override) if isinstance(override, dict) else None,
            ready_option=dict((group.blue_green_deployment_configuration or {}).get("deploymentReadyOption") or {}),
            termination=dict(
                (group.blue_green_deployment_configuration or {}).get("terminateBlueInstancesOnDeploymentSuccess") or {}
            ),
            description=request.get("description"),
        )
        last_good = self._last(dep.application, dep.group, "Succeeded")
        dep.previous_revision = last_good.revision if last_good else None
        dep.events = self._lifecycle(dep)
        dep.last_updated = dep.create_time
        store.deployments[dep.id] = dep
        self._later(dep, START_DELAY, lambda: self._start(dep), "start")
        return {"deploymentId": dep.id}

    def _appspec(self, revision: dict[str, Any]) -> appspec_module.AppSpec:
        kind = revision.get("revisionType")
        if kind == "AppSpecContent":
            content = (revision.get("appSpecContent") or {}).get("content")
        elif kind == "String":
            content = (revision.get("string") or {}).get("content")
        elif kind == "S3":
            location = revision.get("s3Location") or {}
            raise _error(
                "InvalidRevisionException",
                f"The offline lab region cannot read S3 revisions (s3://{location.get('bucket')}/"
                f"{location.get('key')}). Fix: pass the AppSpec inline: revision={{'revisionType': "
                "'AppSpecContent', 'appSpecContent': {'content': <your appspec.yaml as text>}}.",
            )
        else:
            raise _error(
                "InvalidRevisionException",
                f"An ECS deployment takes an AppSpec revision; revisionType {kind!r} is not one. "
                "Fix: use revisionType 'AppSpecContent' with appSpecContent.content.",
            )
        if not content:
            raise _error("InvalidRevisionException", "The AppSpec content is empty. Fix: pass appSpecContent.content.")
        try:
            return appspec_module.parse(str(content))
        except LabError as err:
            raise _error("InvalidRevisionException", f"The AppSpec is invalid: {err}") from None

    def _lifecycle(self, dep: Deployment) -> list[LifecycleEvent]:
        names = [n for n in ECS_EVENTS if dep.test_listeners or n not in ("AllowTestTraffic", "AfterAllowTestTraffic")]
        events = [LifecycleEvent(n) for n in names]
        for event in events:
            if dep.spec is not None and event.name in HOOK_EVENTS and dep.rollback_of is None:
                event.function = dep.spec.hook_for(event.name)
        return events

    def _last(self, application: str, group: str, status: str) -> Deployment | None:
        found = [d for d in self.store().deployments.values() if d.application == application and d.group == group]
        found = [d for d in found if d.status == status]
        return found[-1] if found else None

    # -- running it ----------------------------------------------------------------------------------
    def _start(self, dep: Deployment) -> None:
        if dep.status != "Created":
            return
        dep.status = "InProgress"
        dep.start_time = self.now()
        dep.target_status = "InProgress"
        self._touch(dep)
        if dep.rollback_of is None:
            active = self._alarms_in_alarm(dep)
            if active:
                self._stop(
                    dep, "ALARM_ACTIVE", ALARM_MESSAGE.format(names=" ".join(f"<{n}>" for n in active)), rollback=False
                )
                return
            self._later(dep, ALARM_POLL, lambda: self._poll_alarms(dep), "alarms")
        self._next(dep)

    def _next(self, dep: Deployment) -> None:
        """Run the next Pending lifecycle event (or finish)."""
        if not dep.active or dep.status == "Ready":
            return
        event = next((e for e in dep.events if e.status == "Pending"), None)
        if event is None:
            self._traffic_done(dep)
            return
        if event.name == "BeforeAllowTraffic" and self._ready_wait(dep):
            return
        event.status = "InProgress"
        event.start = self.now()
        self._touch(dep)
        if event.name == "Install":
            self._install(dep, event)
        elif event.name == "AllowTestTraffic":
            self._route(dep, dep.test_listeners, 100)
            self._done(dep, event)
        elif event.name == "AllowTraffic":
            self._allow_traffic(dep, event)
        else:
            self._hook(dep, event)

    def _done(self, dep: Deployment, event: LifecycleEvent, status: str = "Succeeded") -> None:
        event.status = status
        event.end = self.now()
        self._touch(dep)
        self._next(dep)

    # Install ----------------------------------------------------------------------------------------
    def _service(self, dep: Deployment) -> Any | None:
        return self.world.backend("ecs").services.get(f"{dep.cluster}:{dep.service}")

    def _tg_arn(self, name: str) -> str | None:
        for tg in self.world.backend("elbv2").target_groups.values():
            if tg.name == name:
                return str(tg.arn)
        return None

    def _install(self, dep: Deployment, event: LifecycleEvent) -> None:
        engine = self.world.ecs.task_sets
        service = self._service(dep)
        if service is None or service.status != "ACTIVE":
            self._fail(
                dep, "INVALID_ECS_SERVICE", f"The ECS service {dep.service} does not exist in cluster {dep.cluster}."
            )
            return
        if (service.deployment_controller or {}).get("type") != "CODE_DEPLOY":
            self._fail(
                dep,
                "INVALID_ECS_SERVICE",
                "Deployment group's ECS service must be configured for a CODE_DEPLOY deployment controller.",
            )
            return
        original = engine.primary(service)
        if dep.rollback_of is not None:
            # The set traffic goes back to already runs: nothing to install.
            self._done(dep, event)
            return
        if original is None:
            self._fail(dep, "ECS_UPDATE_ERROR", f"The ECS service {dep.service} has no PRIMARY task set.")  # ours
            return
        arns = [self._tg_arn(n) for n in dep.target_group_names]
        original_tg = target_group_of(original)
        if None in arns or original_tg not in arns:
            self._fail(
                dep,
                "ELASTIC_LOAD_BALANCING_INVALID",
                f"The PRIMARY task set's target group is not one of the deployment group's target groups "
                f"{dep.target_group_names}.",  # ours
            )
            return
        dep.original_set, dep.original_tg = original.task_set_arn, original_tg
        dep.replacement_tg = next(a for a in arns if a != original_tg)
        spec = dep.spec
        assert spec is not None
        ecs = self.world.backend("ecs")
        try:
            td = ecs.describe_task_definition(spec.task_definition)
        except Exception:
            message = (
                "The ECS service cannot be updated due to an unexpected error: "
                f"The task definition {spec.task_definition} does not exist."  # ours, after ECS's prefix
            )
            self._fail(dep, "ECS_UPDATE_ERROR", message, diagnostics=message)
            return
        try:
            appspec_module.check_against_task_definition(spec, {"containerDefinitions": td.container_definitions})
        except LabError as err:
            self._fail(dep, "ECS_UPDATE_ERROR", err.problem, diagnostics=str(err))
            return
        # Leftovers of a stopped deployment (a replacement that never became primary) go first.
        for stale in list(service.task_sets):
            if stale.status == ACTIVE:
                engine.scaled(stale, {"value": 0.0, "unit": "PERCENT"})
                engine.delete(service, stale, force=True)
        network = original.network_configuration or service.network_configuration
        if spec.network_configuration:
            vpc = spec.network_configuration["AwsvpcConfiguration"]
            network = {
                "awsvpcConfiguration": {
                    "subnets": list(vpc.get("Subnets") or []),
                    "securityGroups": list(vpc.get("SecurityGroups") or []),
                    "assignPublicIp": str(vpc.get("AssignPublicIp") or "DISABLED"),
                }
            }
        replacement = engine.create(
            service,
            task_definition=td.arn,
            load_balancers=[
                {
                    "targetGroupArn": dep.replacement_tg,
                    "containerName": spec.container_name,
                    "containerPort": spec.container_port,
                }
            ],
            network_configuration=network,
            platform_version=spec.platform_version or original.platform_version,
            external_id=dep.id,
            started_by=STARTED_BY_CODE_DEPLOY,
        )
        dep.replacement_set = replacement.task_set_arn
        self._when_steady(dep, lambda: self._done(dep, event))

    def _set(self, arn: str | None) -> Any | None:
        if not arn:
            return None
        for service in self.world.backend("ecs").services.values():
            for task_set in service.task_sets:
                if task_set.task_set_arn == arn:
                    return task_set
        return None

    def _steady(self, dep: Deployment) -> bool:
        service = self._service(dep)
        task_set = self._set(dep.replacement_set)
        if service is None or task_set is None:
            return False
        status, _, _ = self.world.ecs.task_sets.stability(service, task_set)
        return status == STEADY

    def _when_steady(self, dep: Deployment, then: Callable[[], None]) -> None:
        """Go on once the replacement task set is steady; fail after an hour."""
        if self._steady(dep):
            then()
            return
        dep.waiting = then
        dep.wait_token += 1
        token = dep.wait_token
        deadline = self.now() + STEADY_TIMEOUT

        def poll() -> None:
            if dep.waiting is None or not dep.active or dep.wait_token != token:
                return
            if self._steady(dep):
                self._resume(dep)
            elif self.now() >= deadline:
                dep.waiting = None
                self._fail(dep, "TIMEOUT", TIMEOUT_MESSAGE)
            else:
                self._later(dep, min(STEADY_POLL, deadline - self.now()), poll, "steady?")

        self._later(dep, STEADY_POLL, poll, "steady?")

    def _resume(self, dep: Deployment) -> None:
        then, dep.waiting = dep.waiting, None
        if then is not None and dep.active:
            then()

    def _task_set_changed(self, service: Any, task_set: Any) -> None:
        """The scheduler says a task set's stability changed: a waiting deployment may go on now."""
        if task_set.stabilityStatus != STEADY:
            return
        for dep in self.store().deployments.values():
            if dep.waiting is not None and dep.active and dep.replacement_set == task_set.task_set_arn:
                self._later(
                    dep, 0.0, lambda d=dep: self._resume(d) if d.waiting and self._steady(d) else None, "steady"
                )

    # traffic -----------------------------------------------------------------------------------------
    def _route(self, dep: Deployment, listener_arns: list[str], percent: int) -> None:
        """Point the listeners at the replacement with ``percent`` (the original keeps the rest).

        Always a weighted forward naming both groups, the original at weight 0 at the end (what
        CodeDeploy leaves since November 2022), so the idle group stays attached and health-checked.
        """
        if not dep.replacement_tg or not dep.original_tg:
            return
        elbv2 = self.world.backend("elbv2")
        from moto.elbv2.models import FakeAction

        action = {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [
                    {"TargetGroupArn": dep.replacement_tg, "Weight": int(percent)},
                    {"TargetGroupArn": dep.original_tg, "Weight": int(100 - percent)},
                ],
                "TargetGroupStickinessConfig": {"Enabled": False},
            },
        }
        pair = {dep.replacement_tg, dep.original_tg}
        for arn in listener_arns:
            listener = _listener(elbv2, arn)
            if listener is None:
                continue
            elbv2.modify_listener(arn, actions=[json.loads(json.dumps(action))])
            for rule_model in listener.rules.values():  # ModifyRule for rules forwarding to the pair
                if getattr(rule_model, "is_default", False):
                    continue
                if _forward_groups(rule_model.actions) & pair:
                    rule_model.actions = [FakeAction(json.loads(json.dumps(action)))]

    def _allow_traffic(self, dep: Deployment, event: LifecycleEvent) -> None:
        def shift() -> None:
            steps = [(0, 100)] if dep.rollback_of is not None else configs.schedule(dep.routing)
            begin = self.now()
            for minute, percent in steps:
                last = percent >= 100
                if minute == 0:
                    self._shift(dep, percent, event if last else None)
                else:
                    due = begin + minute * 60.0 - self.now()
                    self._later(
                        dep, due, lambda p=percent, e=(event if last else None): self._shift(dep, p, e), "shift"
                    )

        if dep.rollback_of is not None:
            shift()
        else:
            self._when_steady(dep, shift)

    def _shift(self, dep: Deployment, percent: int, event: LifecycleEvent | None) -> None:
        if not dep.active:
            return
        self._route(dep, dep.prod_listeners, percent)
        self._touch(dep)
        if event is not None:
            service = self._service(dep)
            replacement = self._set(dep.replacement_set)
            if service is not None and replacement is not None:
                self.world.ecs.task_sets.made_primary(service, replacement)  # UpdateServicePrimaryTaskSet
            self._done(dep, event)

    def traffic_weight(self, dep: Deployment, tg_arn: str | None) -> float:
        """Percent of production (the first production listener) that goes to ``tg_arn``."""
        if not tg_arn or not dep.prod_listeners:
            return 0.0
        listener = _listener(self.world.backend("elbv2"), dep.prod_listeners[0])
        if listener is None:
            return 0.0
        for action in listener.default_actions or []:
            data = action.data if hasattr(action, "data") else action
            if data.get("Type") != "forward":
                continue
            groups = (data.get("ForwardConfig") or {}).get("TargetGroups") or []
            if not groups:
                return 100.0 if data.get("TargetGroupArn") == tg_arn else 0.0
            total = sum(max(0, int(g.get("Weight", 1))) for g in groups)
            mine = sum(max(0, int(g.get("Weight", 1))) for g in groups if g.get("TargetGroupArn") == tg_arn)
            return round(100.0 * mine / total, 1) if total else 0.0
        return 0.0

    # hooks -------------------------------------------------------------------------------------------
    def _hook(self, dep: Deployment, event: LifecycleEvent) -> None:
        if dep.rollback_of is not None:
            self._done(dep, event, "Skipped")
            return
        if not event.function:
            self._done(dep, event)
            return
        event.execution_id = str(uuid.uuid5(_NAMESPACE, f"{dep.id}/{event.name}"))
        self.store().hook_executions[event.execution_id] = (dep.id, event.name)
        execution = event.execution_id
        self._later(dep, HOOK_TIMEOUT, lambda: self._hook_timed_out(dep, event, execution), "hook timeout")
        lambdas = getattr(self.world, "lambdas", None)
        if lambdas is None:
            self._hook_failed(
                dep,
                event,
                "This offline region cannot run Lambda functions, so the hook cannot run.",  # ours
            )
            return
        payload = {"DeploymentId": dep.id, "LifecycleEventHookExecutionId": execution}

        def on_done(result: Any, error: str | None) -> None:
            if event.status != "InProgress" or event.execution_id != execution or not dep.active:
                return
            if error is None:
                return  # the function ran; its PutLifecycleEventHookExecutionStatus call decides
            if error.startswith("ResourceNotFoundException"):
                self._hook_failed(
                    dep,
                    event,
                    f"The Lambda function {event.function} could not be invoked: {error}",
                    "INVALID_LAMBDA_FUNCTION",
                )
                return
            # The function failed without reporting a status: CodeDeploy keeps waiting (up to an hour).
            event.diagnostics = {
                "errorCode": "ScriptFailed",
                "scriptName": event.function,
                "message": f"The hook function failed and reported no status: {error}. CodeDeploy waits for "
                "PutLifecycleEventHookExecutionStatus until the hook times out after 60 minutes.",  # ours
                "logTail": "",
            }

        lambdas.invoke_async(event.function, payload, on_done, caller="codedeploy")

    def _hook_timed_out(self, dep: Deployment, event: LifecycleEvent, execution: str) -> None:
        if event.status == "InProgress" and event.execution_id == execution:
            self._hook_failed(
                dep,
                event,
                f"The lifecycle event hook {event.name} (function {event.function}) did not report a status "
                "within 60 minutes.",  # ours
                diagnostics_code="ScriptTimedOut",
            )

    def _hook_failed(
        self,
        dep: Deployment,
        event: LifecycleEvent,
        message: str,
        code: str = "HOOK_EXECUTION_FAILURE",
        diagnostics_code: str = "ScriptFailed",
    ) -> None:
        event.diagnostics = {
            "errorCode": diagnostics_code,
            "scriptName": event.function or "",
            "message": message,
            "logTail": "",
        }
        self._fail(dep, code, message)

    def put_hook_status(self, request: AwsRequest) -> dict[str, Any]:
        dep = self.deployment(request.get("deploymentId"))
        execution = str(request.get("lifecycleEventHookExecutionId") or "")
        status = request.get("status")
        if status not in ("Succeeded", "Failed"):
            raise _error(
                "InvalidLifecycleEventHookExecutionStatusException",
                f"The status {status!r} is not valid: a hook reports Succeeded or Failed.",  # ours
            )
        owner = self.store().hook_executions.get(execution)
        if owner is None or owner[0] != dep.id:
            raise _error(
                "InvalidLifecycleEventHookExecutionIdException",
                f"The lifecycle event hook execution ID {execution} does not belong to deployment {dep.id}.",  # ours
            )
        event = dep.event(owner[1])
        if event is None or event.status != "InProgress" or event.execution_id != execution or not dep.active:
            raise _error(
                "LifecycleEventAlreadyCompletedException",
                f"The lifecycle event {owner[1]} of deployment {dep.id} is already completed.",  # ours
            )
        if status == "Succeeded":
            self._done(dep, event)
        else:
            self._hook_failed(
                dep,
                event,
                f"The lifecycle event hook {event.name} (function {event.function}) reported Failed.",  # ours
            )
        return {"lifecycleEventHookExecutionId": execution}

    # waits -------------------------------------------------------------------------------------------
    def _ready_wait(self, dep: Deployment) -> bool:
        """Hold the deployment in Ready before production moves (STOP_DEPLOYMENT); True if holding."""
        if dep.rollback_of is not None or dep.ready_option.get("actionOnTimeout") != "STOP_DEPLOYMENT":
            return False
        if dep.ready_done:
            return False
        dep.status = "Ready"
        dep.target_status = "Ready"
        self._touch(dep)
        minutes = int(dep.ready_option.get("waitTimeInMinutes") or 0)

        def expire() -> None:
            if dep.status == "Ready":
                self._stop(
                    dep,
                    "TIMEOUT",
                    f"Traffic was not rerouted to the replacement task set within the wait time of {minutes} "
                    "minutes (deploymentReadyOption STOP_DEPLOYMENT), so the deployment was stopped.",  # ours
                    rollback=False,
                )

        self._later(dep, minutes * 60.0, expire, "ready wait")
        return True

    def _traffic_done(self, dep: Deployment) -> None:
        """Every lifecycle event is done: terminate the original (now or after the wait), or keep it."""
        dep.target_status = "Succeeded"
        self._touch(dep)
        if dep.rollback_of is not None:
            self._terminate(dep)  # the failed replacement goes at once
            return
        action = str(dep.termination.get("action") or "TERMINATE")
        minutes = int(dep.termination.get("terminationWaitTimeInMinutes") or 0)
        if action == "KEEP_ALIVE":
            self._succeed(dep)
            return
        if minutes <= 0:
            self._terminate(dep)
            return
        dep.termination_wait_started = True
        self._later(dep, minutes * 60.0, lambda: self._terminate(dep) if dep.active else None, "terminate original")

    def _terminate(self, dep: Deployment) -> None:
        service = self._service(dep)
        original = self._set(dep.original_set)
        if service is not None and original is not None and original.status != DRAINING:
            # CodeDeploy scales the set to 0 % and deletes it (AWS shows it DRAINING at scale 0.0).
            self.world.ecs.task_sets.scaled(original, {"value": 0.0, "unit": "PERCENT"})
            self.world.ecs.task_sets.delete(service, original, force=True)
        self._succeed(dep)

    def _succeed(self, dep: Deployment) -> None:
        dep.status = "Succeeded"
        dep.target_status = "Succeeded"
        dep.complete_time = self.now()
        self._end(dep)

    def _end(self, dep: Deployment) -> None:
        dep.waiting = None
        self._touch(dep)
        for timer in dep.timers:
            self.world.clock.cancel(timer)
        dep.timers.clear()

    # controls ----------------------------------------------------------------------------------------
    def continue_deployment(self, request: AwsRequest) -> dict[str, Any]:
        dep = self.deployment(request.get("deploymentId"))
        wait_type = request.get("deploymentWaitType") or "READY_WAIT"
        if wait_type not in ("READY_WAIT", "TERMINATION_WAIT"):
            raise _error("InvalidDeploymentWaitTypeException", f"The wait type {wait_type} is invalid.")
        if dep.status in DONE_STATUSES:
            raise _error("DeploymentAlreadyCompletedException", f"The deployment {dep.id} is already completed.")
        if wait_type == "READY_WAIT":
            if dep.status != "Ready":
                raise _error(
                    "DeploymentIsNotInReadyStateException",
                    f"The deployment {dep.id} does not have a status of Ready and can't continue yet.",
                )
            dep.ready_done = True
            dep.status = "InProgress"
            dep.target_status = "InProgress"
            for timer in [t for t in dep.timers if "ready wait" in t.name]:
                self.world.clock.cancel(timer)
            self._touch(dep)
            self._next(dep)
            return {}
        if not dep.termination_wait_started:
            raise _error(
                "InvalidDeploymentStatusException",
                f"The deployment {dep.id} is not waiting to terminate the original task set.",  # ours
            )
        self._terminate(dep)
        return {}

    def stop(self, request: AwsRequest) -> dict[str, Any]:
        dep = self.deployment(request.get("deploymentId"))
        if dep.status in DONE_STATUSES:
            raise _error("DeploymentAlreadyCompletedException", f"The deployment {dep.id} is already completed.")
        wanted = request.get("autoRollbackEnabled")
        if wanted is None:
            wanted = self._rolls_back(dep, "DEPLOYMENT_STOP_ON_REQUEST")
        self._stop(dep, "MANUAL_STOP", "The deployment was stopped by the user.", rollback=bool(wanted))  # ours
        return {"status": "Succeeded", "statusMessage": f"Deployment {dep.id} stopped."}  # ours

    def _rolls_back(self, dep: Deployment, trigger: str) -> bool:
        config = dep.auto_rollback or {}
        return bool(config.get("enabled")) and trigger in (config.get("events") or [])

    def _fail(self, dep: Deployment, code: str, message: str, diagnostics: str | None = None) -> None:
        if not dep.active:
            return
        self._finish(dep, "Failed", code, message, diagnostics)
        if self._rolls_back(dep, "DEPLOYMENT_FAILURE"):
            self._rollback(dep)

    def _stop(self, dep: Deployment, code: str, message: str, rollback: bool) -> None:
        if not dep.active:
            return
        self._finish(dep, "Stopped", code, message, None)
        if rollback:
            self._rollback(dep)

    def _finish(self, dep: Deployment, status: str, code: str, message: str, diagnostics: str | None) -> None:
        if not dep.active:
            return
        for event in dep.events:
            if event.status == "InProgress":
                event.status = "Failed"
                event.end = self.now()
                if diagnostics and event.diagnostics is None:
                    event.diagnostics = {
                        "errorCode": "UnknownError",
                        "scriptName": "",
                        "message": diagnostics,
                        "logTail": "",
                    }
            elif event.status == "Pending":
                event.status = "Skipped"
        dep.status = status
        dep.error = {"code": code, "message": message}
        if dep.target_status != "Succeeded":
            dep.target_status = "Failed"
        dep.complete_time = self.now()
        self._end(dep)

    def _rollback(self, dep: Deployment) -> Deployment | None:
        """A new deployment that sends production back to the original task set."""
        original = self._set(dep.original_set)
        replacement = self._set(dep.replacement_set)
        if original is None or original.status == DRAINING or replacement is None or dep.rollback_of is not None:
            return None  # nothing was changed, or nothing left to go back to
        td = original.task_definition
        lb = (original.load_balancers or [{}])[0]
        content = appspec_module.render(td, str(lb.get("containerName", "")), int(lb.get("containerPort", 80) or 80))
        new = Deployment(
            id=self._new_id(),
            application=dep.application,
            group=dep.group,
            config_name=DEFAULT_ECS_CONFIG,  # a rollback moves everything back at once, whatever the group says
            routing=configs.PREDEFINED[DEFAULT_ECS_CONFIG],
            revision=_with_sha({"revisionType": "AppSpecContent", "appSpecContent": {"content": content}}),
            spec=appspec_module.parse(content),
            creator="codeDeployRollback",
            create_time=self.now(),
            cluster=dep.cluster,
            service=dep.service,
            prod_listeners=dep.prod_listeners,
            test_listeners=dep.test_listeners,
            target_group_names=dep.target_group_names,
            auto_rollback=dep.auto_rollback,
            alarm_config=dep.alarm_config,
            override_alarm=dep.override_alarm,
            ready_option={},
            termination={},
            previous_revision=dep.revision,
            rollback_of=dep.id,
        )
        # Rolling back swaps the roles: traffic goes to the original, the replacement is removed.
        new.original_set, new.original_tg = dep.replacement_set, dep.replacement_tg
        new.replacement_set, new.replacement_tg = dep.original_set, dep.original_tg
        new.events = self._lifecycle(new)
        new.last_updated = new.create_time
        dep.rollback_info = {
            "rollbackDeploymentId": new.id,
            "rollbackMessage": ROLLED_BACK_MESSAGE.format(original=dep.id, rollback=new.id),
        }
        new.rollback_info = {
            "rollbackTriggeringDeploymentId": dep.id,
            "rollbackMessage": ROLLING_BACK_MESSAGE.format(original=dep.id, rollback=new.id),
        }
        self.store().deployments[new.id] = new
        self._later(new, START_DELAY, lambda: self._start(new), "start")
        return new

    # alarms ------------------------------------------------------------------------------------------
    def _alarm_settings(self, dep: Deployment) -> dict[str, Any]:
        override = dep.override_alarm
        if override and override.get("enabled") is not None and override.get("alarms") is not None:
            return override
        return dep.alarm_config

    def _alarms_in_alarm(self, dep: Deployment) -> list[str]:
        settings = self._alarm_settings(dep)
        if not settings.get("enabled"):
            return []
        cloudwatch = self.world.backend("cloudwatch")
        names = [str(a.get("name")) for a in settings.get("alarms") or [] if isinstance(a, dict)]
        # An alarm CloudWatch does not know cannot be read; the lab treats it as not in ALARM.
        return [n for n in names if n in cloudwatch.alarms and cloudwatch.alarms[n].state_value == "ALARM"]

    def _poll_alarms(self, dep: Deployment) -> None:
        if not dep.active:
            return
        active = self._alarms_in_alarm(dep)
        if active:
            message = ALARM_MESSAGE.format(names=" ".join(f"<{n}>" for n in active))
            self._stop(dep, "ALARM_ACTIVE", message, rollback=self._rolls_back(dep, "DEPLOYMENT_STOP_ON_ALARM"))
            return
        self._later(dep, ALARM_POLL, lambda: self._poll_alarms(dep), "alarms")

    # -- answers -------------------------------------------------------------------------------------
    def overview(self, dep: Deployment) -> dict[str, int]:
        counts = {k: 0 for k in ("Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Ready")}
        counts[dep.target_status if dep.target_status in counts else "Pending"] = 1
        return counts

    def info(self, dep: Deployment) -> dict[str, Any]:
        """DeploymentInfo as AWS returns it."""
        group = self.backend.deployment_groups.get(dep.application, {}).get(dep.group)
        found: dict[str, Any] = {
            "applicationName": dep.application,
            "deploymentGroupName": dep.group,
            "deploymentConfigName": dep.config_name,
            "deploymentId": dep.id,
            "revision": dep.revision,
            "status": dep.status,
            "createTime": _epoch_dt(dep.create_time),
            "creator": dep.creator,
            "ignoreApplicationStopFailures": False,
            "updateOutdatedInstancesOnly": False,
            "instanceTerminationWaitTimeStarted": dep.termination_wait_started,
            "deploymentStatusMessages": [],
            "computePlatform": "ECS",
        }
        if not dep.active:
            # An ECS deployment's overview (counts of its one target) appears once it has finished;
            # while it runs, GetDeployment returns none (observed on AWS).
            found["deploymentOverview"] = self.overview(dep)
        if dep.previous_revision:
            found["previousRevision"] = dep.previous_revision
        if dep.error:
            found["errorInformation"] = dict(dep.error)
        if dep.start_time is not None:
            found["startTime"] = _epoch_dt(dep.start_time)
        if dep.complete_time is not None:
            found["completeTime"] = _epoch_dt(dep.complete_time)
        if dep.description:
            found["description"] = dep.description
        if dep.auto_rollback:
            found["autoRollbackConfiguration"] = dep.auto_rollback
        if dep.rollback_info:
            found["rollbackInfo"] = dict(dep.rollback_info)
        if dep.override_alarm:
            found["overrideAlarmConfiguration"] = dep.override_alarm
        if group is not None:
            found["deploymentStyle"] = group.deployment_style
            found["blueGreenDeploymentConfiguration"] = group.blue_green_deployment_configuration
            found["loadBalancerInfo"] = group.load_balancer_info
        return found

    def target_id(self, dep: Deployment) -> str:
        return f"{dep.cluster}:{dep.service}"

    def target(self, dep: Deployment) -> dict[str, Any]:
        """The ECSTarget of ``get-deployment-target``."""
        events = []
        for event in dep.events:
            entry: dict[str, Any] = {"lifecycleEventName": event.name, "status": event.status}
            if event.start is not None:
                entry["startTime"] = _epoch_dt(event.start)
            if event.end is not None:
                entry["endTime"] = _epoch_dt(event.end)
            if event.diagnostics:
                entry["diagnostics"] = dict(event.diagnostics)
            events.append(entry)
        task_sets = []
        elbv2 = self.world.backend("elbv2")
        for arn, label in ((dep.original_set, "Blue"), (dep.replacement_set, "Green")):
            task_set = self._set(arn)
            if task_set is None:
                continue
            tg_arn = target_group_of(task_set)
            tg = elbv2.target_groups.get(tg_arn) if tg_arn else None
            task_sets.append(
                {
                    "identifer": task_set.id,  # sic: AWS's API spells it this way
                    "desiredCount": int(getattr(task_set, "computed_desired_count", 0)),
                    "pendingCount": int(getattr(task_set, "pending_count", 0)),
                    "runningCount": int(getattr(task_set, "running_count", 0)),
                    "status": task_set.status,
                    "trafficWeight": self.traffic_weight(dep, tg_arn),
                    "targetGroup": {"name": tg.name if tg is not None else ""},
                    "taskSetLabel": label,
                }
            )
        service = self._service(dep)
        return {
            "deploymentTargetType": "ECSTarget",
            "ecsTarget": {
                "deploymentId": dep.id,
                "targetId": self.target_id(dep),
                "targetArn": service.arn if service is not None else "",
                "lastUpdatedAt": _epoch_dt(dep.last_updated),
                "lifecycleEvents": events,
                "status": dep.target_status,
                "taskSetsInfo": task_sets,
            },
        }

    def started(self, dep: Deployment) -> None:
        if dep.status == "Created":
            raise _error("DeploymentNotStartedException", "The specified deployment has not started.")


# -- small helpers -----------------------------------------------------------------------------------


def _with_sha(revision: dict[str, Any]) -> dict[str, Any]:
    revision = json.loads(json.dumps(revision))
    for key in ("appSpecContent", "string"):
        body = revision.get(key)
        if isinstance(body, dict) and body.get("content") and not body.get("sha256"):
            body["sha256"] = hashlib.sha256(str(body["content"]).encode()).hexdigest()
    return revision


def _alarm_dict(config: Any) -> dict[str, Any]:
    if config is None:
        return {}
    if isinstance(config, dict):
        return dict(config)
    return {
        "enabled": bool(getattr(config, "enabled", False)),
        "ignorePollAlarmFailure": bool(getattr(config, "ignore_poll_alarm_failure", False)),
        "alarms": list(getattr(config, "alarms", []) or []),
    }


def _listener(elbv2: Any, arn: str) -> Any | None:
    for lb in elbv2.load_balancers.values():
        if arn in lb.listeners:
            return lb.listeners[arn]
    return None


def _forward_groups(actions: Any) -> set[str]:
    from .health import forward_targets

    return set(forward_targets(actions))


def _engine() -> CodeDeploy:
    world = runtime.get()
    engine = getattr(world, "codedeploy", None)
    if engine is None:  # pragma: no cover - the runtime wires it
        raise AwsError("InternalFailure", "The offline region's CodeDeploy engine is not running.")
    return engine  # type: ignore[no-any-return]


def _is_ecs(application_name: Any) -> bool:
    backend = runtime.get().backend("codedeploy")
    app = backend.applications.get(str(application_name or ""))
    return app is not None and app.compute_platform == "ECS"


# -- handlers (CodeDeploy speaks JSON 1.1; request.params is the body) ----------------------------------


@handler("codedeploy", "CreateDeployment")
def _create_deployment(request: AwsRequest, ctx: Context) -> dict[str, Any]:
    if not _is_ecs(request.get("applicationName")):
        backend = ctx.backend("codedeploy")
        deployment_id = backend.create_deployment(
            application_name=request.get("applicationName"),
            deployment_group_name=request.get("deploymentGroupName"),
            revision=request.get("revision"),
            deployment_config_name=request.get("deploymentConfigName"),
            description=request.get("description"),
            auto_rollback_configuration=request.get("autoRollbackConfiguration"),
            override_alarm_configuration=request.get("overrideAlarmConfiguration"),
        )
        return {"deploymentId": deployment_id}
    return _engine().create(request)


def _moto_info(ctx: Context, deployment_id: str) -> dict[str, Any]:
    from moto.codedeploy.responses import _deployment_info

    return dict(_deployment_info(ctx.backend("codedeploy").get_deployment(deployment_id)))


@handler("codedeploy", "GetDeployment")
def _get_deployment(request: AwsRequest, ctx: Context) -> dict[str, Any]:
    engine = _engine()
    deployment_id = request.get("deploymentId")
    if deployment_id in engine.store().deployments:
        return {"deploymentInfo": engine.info(engine.store().deployments[deployment_id])}
    if deployment_id and deployment_id in ctx.backend("codedeploy").deployments:
        return {"deploymentInfo": _moto_info(ctx, deployment_id)}
    engine.deployment(deployment_id)  # raises the right error
    raise AssertionError("unreachable")  # pragma: no cover


@handler("codedeploy", "BatchGetDeployments")
def _batch_get_deployments(request: AwsRequest, ctx: Context) -> dict[str, Any]:
    engine = _engine()
    found = []
    for deployment_id in request.get("deploymentIds") or []:
        if deployment_id in engine.store().deployments:
            found.append(engine.info(engine.store().deployments[deployment_id]))
        elif deployment_id in ctx.backend("codedeploy").deployments:
            found.append(_moto_info(ctx, deployment_id))
    return {"deploymentsInfo": found}


@handler("codedeploy", "ListDeployments")
def _list_deployments(request: AwsRequest, ctx: Context) -> dict[str, Any]:
    engine = _engine()
    backend = ctx.backend("codedeploy")
    app = request.get("applicationName")
    group = request.get("deploymentGroupName")
    # AWS's rule and words (moto has them too).
    if app and not group:
        raise _error(
            "DeploymentGroupNameRequiredException",
            "If applicationName is specified, then deploymentGroupName must be specified.",
        )
    if group and not app:
        raise _error(
            "ApplicationNameRequiredException",
            "If deploymentGroupName is specified, applicationName must be specified.",
        )
    if app:
        backend.get_deployment_group(app, group)  # the not-found errors
    statuses = request.get("includeOnlyStatuses") or []
    window = request.get("createTimeRange") or {}
    start, end = window.get("start"), window.get("end")
    if start is not None and end is not None and float(start) > float(end):
        raise _error("InvalidTimeRangeException", "The start time must be earlier than the end time.")
    external = request.get("externalId")
    rows: list[tuple[float, str, str, str, str, str]] = []
    for dep in engine.store().deployments.values():
        rows.append((dep.create_time, dep.id, dep.application, dep.group, dep.status, ""))
    for info in backend.deployments.values():  # Server and Lambda deployments moto keeps
        rows.append(
            (
                info.create_time.timestamp(),
                info.deployment_id,
                info.application_name,
                info.deployment_group_name,
                info.status,
                info.external_id,
            )
        )

    def keep(row: tuple[float, str, str, str, str, str]) -> bool:
        created, _, row_app, row_group, status, row_external = row
        if app and (row_app != app or row_group != group):
            return False
        if statuses and status not in statuses:
            return False
        if external and row_external != external:
            return False
        if start is not None and created < float(start):
            return False
        return not (end is not None and created > float(end))

    # Newest first, as the console lists them.
    return {"deployments": [row[1] for row in sorted(filter(keep, rows), key=lambda r: -r[0])]}


@handler("codedeploy", "StopDeployment")
def _stop_deployment(request: AwsRequest, ctx: Context) -> dict[str, Any]:
    return _engine().stop(request)


@handler("codedeploy", "ContinueDeployment")
def _continue_deployment(request: AwsRequest, ctx: Context) -> dict[str, Any]:
    return _engine().continue_deployment(request)


@handler("codedeploy", "PutLifecycleEventHookExecutionStatus")
def _put_hook_status(request: AwsRequest, ctx: Context) -> dict[str, Any]:
    return _engine().put_hook_status(request)


@handler("codedeploy", "GetDeploymentTarget")
def _get_deployment_target(request: AwsRequest, ctx: Context) -> dict[str, Any]:
    engine = _engine()
    dep = engine.deployment(request.get("deploymentId"))
    engine.started(dep)
    target = request.get("targetId")
    if not target:
        raise _error("DeploymentTargetIdRequiredException", "A deployment target ID was not provided.")
    if target != engine.target_id(dep):
        raise _error(
            "DeploymentTargetDoesNotExistException", f"The target {target} does not exist in deployment {dep.id}."
        )
    return {"deploymentTarget": engine.target(dep)}


@handler("codedeploy", "ListDeploymentTargets")
def _list_deployment_targets(request: AwsRequest, ctx: Context) -> dict[str, Any]:
    engine = _engine()
    dep = engine.deployment(request.get("deploymentId"))
    engine.started(dep)
    wanted = (request.get("targetFilters") or {}).get("TargetStatus") or []
    ids = [engine.target_id(dep)] if not wanted or dep.target_status in wanted else []
    return {"targetIds": ids}


@handler("codedeploy", "BatchGetDeploymentTargets")
def _batch_get_deployment_targets(request: AwsRequest, ctx: Context) -> dict[str, Any]:
    engine = _engine()
    dep = engine.deployment(request.get("deploymentId"))
    engine.started(dep)
    targets = request.get("targetIds") or []
    if not targets:
        raise _error("DeploymentTargetIdRequiredException", "A deployment target ID was not provided.")
    found = []
    for target in targets:
        if target != engine.target_id(dep):
            raise _error(
                "DeploymentTargetDoesNotExistException", f"The target {target} does not exist in deployment {dep.id}."
            )
        found.append(engine.target(dep))
    return {"deploymentTargets": found}


@handler("codedeploy", "GetDeploymentConfig")
def _get_deployment_config(request: AwsRequest, ctx: Context) -> dict[str, Any]:
    name = request.get("deploymentConfigName")
    if not name:
        raise _error("DeploymentConfigNameRequiredException", "The deployment configuration name was not specified.")
    return {"deploymentConfigInfo": _engine().config_info(str(name))}


@handler("codedeploy", "ListDeploymentConfigs")
def _list_deployment_configs(request: AwsRequest, ctx: Context) -> dict[str, Any]:
    return {"deploymentConfigsList": _engine().config_names()}


@handler("codedeploy", "CreateDeploymentConfig")
def _create_deployment_config(request: AwsRequest, ctx: Context) -> dict[str, Any]:
    return _engine().create_config(request)


@handler("codedeploy", "DeleteDeploymentConfig")
def _delete_deployment_config(request: AwsRequest, ctx: Context) -> dict[str, Any]:
    _engine().delete_config(str(request.get("deploymentConfigName") or ""))
    return {}


def _group_info(group: Any) -> dict[str, Any]:
    """moto's DeploymentGroupInfo with what it drops put back."""
    from moto.codedeploy.responses import _deployment_group_info

    info = dict(_deployment_group_info(group))
    info["alarmConfiguration"] = _alarm_dict(group.alarm_configuration) or {
        "enabled": False,
        "ignorePollAlarmFailure": False,
        "alarms": [],
    }
    if group.application.compute_platform == "ECS":
        info["deploymentConfigName"] = _engine().group_config_name(group)
    engine = _engine()
    mine = [
        d
        for d in engine.store().deployments.values()
        if d.application == group.application.application_name and d.group == group.deployment_group_name
    ]
    for key, pick in (
        ("lastAttemptedDeployment", mine[-1:]),
        ("lastSuccessfulDeployment", [d for d in mine if d.status == "Succeeded"][-1:]),
    ):
        if pick:
            dep = pick[0]
            info[key] = {
                "deploymentId": dep.id,
                "status": dep.status,
                "endTime": _epoch_dt(dep.complete_time),
                "createTime": _epoch_dt(dep.create_time),
            }
        else:
            info.pop(key, None)
    for key in ("targetRevision",):
        if not info.get(key):
            info.pop(key, None)
    return info


@handler("codedeploy", "GetDeploymentGroup")
def _get_deployment_group(request: AwsRequest, ctx: Context) -> dict[str, Any]:
    group = ctx.backend("codedeploy").get_deployment_group(
        str(request.get("applicationName") or ""), str(request.get("deploymentGroupName") or "")
    )
    return {"deploymentGroupInfo": _group_info(group)}


@handler("codedeploy", "BatchGetDeploymentGroups")
def _batch_get_deployment_groups(request: AwsRequest, ctx: Context) -> dict[str, Any]:
    backend = ctx.backend("codedeploy")
    app = str(request.get("applicationName") or "")
    backend.get_application(app)
    found, errors = [], ""
    for name in request.get("deploymentGroupNames") or []:
        group = backend.deployment_groups.get(app, {}).get(name)
        if group is None:
            errors = f"Deployment group {name} does not exist for application {app}."
            continue
        found.append(_group_info(group))
    answer: dict[str, Any] = {"deploymentGroupsInfo": found}
    if errors:
        answer["errorMessage"] = errors
    return answer


# -- rules for deployment groups of ECS applications ---------------------------------------------------


@rule("codedeploy", "CreateDeploymentGroup")
def ecs_deployment_group(request: AwsRequest, ctx: Context) -> None:
    """An ECS deployment group names a CODE_DEPLOY service (one group per service), two target groups and listeners."""
    try:
        _check_ecs_deployment_group(request, ctx)
    except AwsError:
        raise
    except Exception:  # a bug in a rule must not hide moto's answer from the learner
        import sys
        import traceback

        print("labsupport region: rule ecs_deployment_group failed, request passed to moto:", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)


def _check_ecs_deployment_group(request: AwsRequest, ctx: Context) -> None:
    backend = ctx.backend("codedeploy")
    app = backend.applications.get(str(request.get("applicationName") or ""))
    if app is None or app.compute_platform != "ECS":
        return
    style = request.get("deploymentStyle") or {}
    if style.get("deploymentType") != "BLUE_GREEN" or style.get("deploymentOption") != "WITH_TRAFFIC_CONTROL":
        raise _error(
            "InvalidDeploymentStyleException",
            "An ECS deployment group must use deploymentStyle {deploymentType: BLUE_GREEN, "
            "deploymentOption: WITH_TRAFFIC_CONTROL}.",  # ours
        )
    services = request.get("ecsServices") or []
    if len(services) != 1:
        raise _error("InvalidECSServiceException", "An ECS deployment group names exactly one ECS service.")  # ours
    cluster = str(services[0].get("clusterName") or "")
    name = str(services[0].get("serviceName") or "")
    service = ctx.backend("ecs").services.get(f"{cluster}:{name}")
    if service is None or service.status != "ACTIVE":
        raise _error(
            "InvalidECSServiceException", f"The ECS service {name} in cluster {cluster} does not exist."
        )  # ours
    if (service.deployment_controller or {}).get("type") != "CODE_DEPLOY":
        raise _error(
            "InvalidECSServiceException",
            "Deployment group's ECS service must be configured for a CODE_DEPLOY deployment controller.",
        )
    for groups in backend.deployment_groups.values():
        for group in groups.values():
            for other in group.ecs_services or []:
                if other.get("clusterName") == cluster and other.get("serviceName") == name:
                    raise _error(
                        "ECSServiceMappingLimitExceededException",
                        "The Amazon ECS service is associated with more than one deployment groups. An Amazon ECS "
                        "service can be associated with only one deployment group.",
                    )
    pairs = (request.get("loadBalancerInfo") or {}).get("targetGroupPairInfoList") or []
    problem = _pair_problem(ctx, pairs)
    if problem:
        raise _error(
            "InvalidTargetGroupPairException",
            "A deployment group associated with an application that uses the ECS compute platform must contain a "
            f"valid pair of target groups that identify a load balancer. {problem}",
        )
    config = request.get("deploymentConfigName")
    if config:
        routing, platform = _engine().routing_for(str(config))
        if platform != "ECS":
            raise _error(
                "InvalidDeploymentConfigNameException",
                f"The deployment configuration {config} is not for the ECS compute platform.",  # ours
            )
        del routing


def _pair_problem(ctx: Context, pairs: list[Any]) -> str:
    """What is wrong with a targetGroupPairInfoList, or ``""`` (the detail after AWS's sentence is ours)."""
    if len(pairs) != 1:
        return "Give exactly one target group pair."
    pair = pairs[0] or {}
    names = [str((t or {}).get("name") or "") for t in pair.get("targetGroups") or []]
    if len(names) != 2 or names[0] == names[1]:
        return "The pair has exactly two different target groups."
    elbv2 = ctx.backend("elbv2")
    groups = {tg.name: tg for tg in elbv2.target_groups.values()}
    missing = [n for n in names if n not in groups]
    if missing:
        return f"Target group {missing[0]} does not exist."
    prod = (pair.get("prodTrafficRoute") or {}).get("listenerArns") or []
    test = (pair.get("testTrafficRoute") or {}).get("listenerArns") or []
    if len(prod) != 1 or len(test) > 1:
        return "A traffic route has exactly one listener."
    balancers = set()
    for arn in prod + test:
        owner = next((lb for lb in elbv2.load_balancers.values() if arn in lb.listeners), None)
        if owner is None:
            return f"Listener {arn} does not exist."
        balancers.add(owner.arn)
    if len(balancers) != 1:
        return "Both listeners must belong to the same load balancer."
    for name in names:
        lbs = set(groups[name].load_balancer_arns or [])
        if lbs and not lbs <= balancers:
            return f"Target group {name} belongs to another load balancer."
    return ""
