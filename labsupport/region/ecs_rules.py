"""ECS on Fargate rules AWS enforces and moto skips, and two moto crashes avoided.

Each rule below is one AWS rule, named in the first line of its docstring (that line is what
``GET /_lab/rules`` lists). A rule refuses the request with the error code and message AWS gives,
or rewrites it the way AWS silently does (``"0.25 vCPU"`` is stored as ``"256"``). Error texts are
AWS's own where public API output shows them (quoted from error reports of real AWS calls); where
no public source settles AWS's wording, the code is AWS's and the message is ours, and the comment
says so.

ECS speaks JSON: ``request.params`` is the request body (``{"cluster": ..., "loadBalancers": [...]}``).

moto crashes on two ordinary Fargate set-ups (``moto-gaps.md`` §3.1), and a crash would reach the
learner as a lab bug instead of a running task:

- B1: a container without container-level ``memory`` (the normal Fargate style) made
  ``RunTask`` and ``CreateTaskSet`` fail in moto's resource arithmetic. The arithmetic is patched
  to count such a container as using none of the task's memory; the task definition the learner
  registered is stored and shown unchanged.
- B2: an awsvpc task in a VPC without ``EnableDnsHostnames`` crashed on the network interface's
  missing private DNS name. Every network interface now has one (AWS gives every interface a
  private DNS name; the VPC attribute only decides whether it resolves).

Rules must never crash on input they do not expect: anything a rule cannot judge (a missing
parameter, an unknown task definition) is left to moto, and an unexpected exception inside a rule
is logged and the request goes on to moto.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from .elbv2_rules import load_balancers_using
from .protocol import AwsError, AwsRequest
from .rules import Check, Context, rule

# -- helpers ----------------------------------------------------------------------------------------


def _ecs_rule(*actions: str) -> Callable[[Check], Check]:
    """Register a rule of this service (``rules.rule`` logs a rule's own bugs instead of showing them)."""
    return rule("ecs", *actions)


def _client(message: str) -> AwsError:
    return AwsError("ClientException", message)


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterException", message)


def _ecs(ctx: Context) -> Any:
    return ctx.backend("ecs")


def _short(name_or_arn: Any) -> str:
    return str(name_or_arn or "").split("/")[-1]


def _cluster_name(request: AwsRequest) -> str:
    return _short(request.get("cluster") or "default")


def _task_definition(ctx: Context, reference: Any) -> Any:
    """The registered task definition ``reference`` names (family, family:revision or ARN), or None."""
    if not reference:
        return None
    try:
        return _ecs(ctx).describe_task_definition(str(reference))
    except Exception:
        return None  # unknown: moto answers


def _service(ctx: Context, request: AwsRequest) -> Any:
    return _ecs(ctx).services.get(f"{_cluster_name(request)}:{_short(request.get('service'))}")


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _containers(definitions: Any) -> list[dict[str, Any]]:
    return [item for item in definitions or [] if isinstance(item, dict)]


# -- 1. Task sizes -----------------------------------------------------------------------------------

# Task-level cpu (CPU units) -> the memory values (MiB) Fargate offers with it (aws-behaviour.md §3.1).
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}

_CPU = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(vcpu)?\s*$", re.IGNORECASE)
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(gb|mib|mb)?\s*$", re.IGNORECASE)


def task_cpu_units(text: Any) -> int | None:
    """Task-level ``cpu`` as CPU units: ``"256"`` -> 256, ``"0.25 vCPU"`` -> 256, ``"1 vcpu"`` -> 1024."""
    match = _CPU.match(str(text))
    if not match:
        return None
    number = float(match.group(1))
    units = number * 1024 if match.group(2) else number
    return int(units) if units == int(units) else None


def task_memory_mib(text: Any) -> int | None:
    """Task-level ``memory`` in MiB: ``"512"`` -> 512, ``"0.5GB"`` -> 512, ``"2 GB"`` -> 2048."""
    match = _MEMORY.match(str(text))
    if not match:
        return None
    number = float(match.group(1))
    mib = number * 1024 if (match.group(2) or "").lower() == "gb" else number
    return int(mib) if mib == int(mib) else None


def is_fargate_size(cpu: int | None, memory: int | None) -> bool:
    """Whether (cpu units, memory MiB) is one of Fargate's task sizes."""
    return cpu is not None and memory is not None and memory in FARGATE_SIZES.get(cpu, ())


@_ecs_rule("RegisterTaskDefinition")
def task_size_notation(request: AwsRequest, ctx: Context) -> None:
    """Task cpu/memory may be written "1 vCPU" / "2 GB"; AWS stores them as CPU units and MiB ("1024", "2048")."""
    for key, parse in (("cpu", task_cpu_units), ("memory", task_memory_mib)):
        text = request.get(key)
        if text is None:
            continue
        value = parse(text)
        if value is None or value <= 0:
            # AWS's wording as reported for an unusable task cpu value; memory follows the pattern.
            raise _invalid(f"Invalid '{key}' setting for task.")
        if str(text) != str(value):
            request.set(key, str(value))


# -- 2. Containers -----------------------------------------------------------------------------------


@_ecs_rule("RegisterTaskDefinition")
def task_definition_containers(request: AwsRequest, ctx: Context) -> None:
    """A task definition has containers with unique names, at least one of them essential."""
    containers = _containers(request.get("containerDefinitions"))
    if not containers:
        raise _client("Container list cannot be empty.")
    seen: set[str] = set()
    for container in containers:
        name = container.get("name")
        if not name:
            return  # moto answers "Container.name should not be null or empty.", as AWS does
        if name in seen:
            # The rule is AWS's; no public source shows its message.
            raise _client(f"Container names must be unique within a task definition; '{name}' is used twice.")
        seen.add(name)
    if not any(container.get("essential", True) is not False for container in containers):
        raise _client("Task definition doesn't have any essential container.")


@_ecs_rule("RegisterTaskDefinition")
def container_cpu_within_task(request: AwsRequest, ctx: Context) -> None:
    """The containers' cpu values add up to no more than the task's cpu."""
    task_cpu = task_cpu_units(request.get("cpu")) if request.get("cpu") is not None else None
    if task_cpu is None:
        return
    total = sum(_int(container.get("cpu")) or 0 for container in _containers(request.get("containerDefinitions")))
    if total > task_cpu:
        raise _client("The sum of all container 'cpu' values cannot be greater than the value of the task 'cpu'.")


@_ecs_rule("RegisterTaskDefinition")
def awsvpc_port_mappings(request: AwsRequest, ctx: Context) -> None:
    """In awsvpc network mode a port mapping's hostPort, if given, equals its containerPort."""
    mode = request.get("networkMode")
    compatibilities = request.get("requiresCompatibilities") or []
    if mode != "awsvpc" and not (mode is None and "FARGATE" in compatibilities):
        return
    for container in _containers(request.get("containerDefinitions")):
        for mapping in container.get("portMappings") or []:
            if not isinstance(mapping, dict) or mapping.get("hostPort") in (None, 0):
                continue
            if _int(mapping.get("hostPort")) != _int(mapping.get("containerPort")):
                raise _client(
                    "When networkMode=awsvpc, the host ports and container ports in port mappings must match."
                )


# -- 3. Fargate task definitions ---------------------------------------------------------------------

_ECR_IMAGE = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/", re.IGNORECASE)


@_ecs_rule("RegisterTaskDefinition")
def fargate_task_definition(request: AwsRequest, ctx: Context) -> None:
    """A Fargate task definition: awsvpc, task cpu/memory of a Fargate size, an execution role for ECR/awslogs.

    The sizes are the table in aws-behaviour.md §3.1 (:data:`FARGATE_SIZES`).
    """
    if "FARGATE" not in (request.get("requiresCompatibilities") or []):
        return
    # AWS's wording, including its typographic quotes, as reported from real calls.
    if request.get("networkMode") != "awsvpc":
        # moto silently switched Fargate task definitions to awsvpc; AWS's default mode is bridge.
        raise _client("Fargate only supports network mode \u2018awsvpc\u2019.")
    if request.get("cpu") is None:
        raise _client("Fargate requires that 'cpu' be defined at the task level.")
    if request.get("memory") is None:
        raise _client("Fargate requires that 'memory' be defined at the task level.")
    cpu, memory = task_cpu_units(request.get("cpu")), task_memory_mib(request.get("memory"))
    if not is_fargate_size(cpu, memory):
        raise _client(
            f"No Fargate configuration exists for given values: {cpu} CPU, {memory} memory. "
            "See the Amazon ECS documentation for the valid values."
        )
    if request.get("executionRoleArn"):
        return
    for container in _containers(request.get("containerDefinitions")):
        if _ECR_IMAGE.match(str(container.get("image") or "")):
            raise _client("Fargate requires task definition to have execution role ARN to support ECR images.")
        log = container.get("logConfiguration")
        if isinstance(log, dict) and log.get("logDriver") == "awslogs":
            raise _client("Fargate requires task definition to have execution role ARN to support log driver awslogs.")


def fargate_compatible(task_definition: Any) -> bool:
    """Whether a registered task definition can run on Fargate (awsvpc and a Fargate task size)."""
    if task_definition.network_mode != "awsvpc":
        return False
    if "FARGATE" in (task_definition.requires_compatibilities or []):
        return True
    # AWS computes compatibilities from the content; moto lists only what was required.
    return is_fargate_size(task_cpu_units(task_definition.cpu), task_memory_mib(task_definition.memory))


# -- 4. Clusters and services ------------------------------------------------------------------------


@_ecs_rule("CreateService", "UpdateService", "RunTask", "CreateTaskSet")
def cluster_exists(request: AwsRequest, ctx: Context) -> None:
    """The cluster a service or task names must exist."""
    if _cluster_name(request) not in _ecs(ctx).clusters:
        raise AwsError("ClusterNotFoundException", "Cluster not found.")


@_ecs_rule("CreateService")
def service_name_unique(request: AwsRequest, ctx: Context) -> None:
    """A cluster has one active service of a name."""
    existing = _ecs(ctx).services.get(f"{_cluster_name(request)}:{request.get('serviceName')}")
    if existing is not None and existing.status == "ACTIVE":
        # moto replaced the existing service with the new one.
        raise _invalid("Creation of service was not idempotent.")


@_ecs_rule("CreateService", "UpdateService")
def desired_count_not_negative(request: AwsRequest, ctx: Context) -> None:
    """A service's desiredCount is 0 or more."""
    count = request.get("desiredCount")
    if count is not None and (_int(count) is None or _int(count) < 0):  # type: ignore[operator]
        # The rule is AWS's; the wording is ours.
        raise _invalid(f"desiredCount must be 0 or greater; got {count}.")


def _uses_fargate(request: AwsRequest) -> bool:
    if str(request.get("launchType") or "").upper() == "FARGATE":
        return True
    strategy = request.get("capacityProviderStrategy") or []
    return any(
        isinstance(item, dict) and item.get("capacityProvider") in ("FARGATE", "FARGATE_SPOT") for item in strategy
    )


def _task_definition_for(request: AwsRequest, ctx: Context) -> Any:
    """The task definition a CreateService/RunTask/CreateTaskSet request runs, or None."""
    return _task_definition(ctx, request.get("taskDefinition"))


@_ecs_rule("CreateService", "RunTask", "CreateTaskSet")
def fargate_launch_type(request: AwsRequest, ctx: Context) -> None:
    """The FARGATE launch type needs a Fargate-compatible task definition (awsvpc, a Fargate size)."""
    task_definition = _task_definition_for(request, ctx)
    if task_definition is None or not _uses_fargate(request):
        return
    if not fargate_compatible(task_definition):
        raise _invalid("Task definition does not support launch_type FARGATE.")


@_ecs_rule("CreateService", "RunTask", "CreateTaskSet")
def awsvpc_network_configuration(request: AwsRequest, ctx: Context) -> None:
    """awsvpc tasks need networkConfiguration.awsvpcConfiguration: existing subnets of one VPC, that VPC's groups."""
    task_definition = _task_definition_for(request, ctx)
    if task_definition is None:
        return
    configuration = request.get("networkConfiguration")
    if task_definition.network_mode != "awsvpc":
        if configuration:
            raise _invalid("Network Configuration is not valid for the given networkMode of this task definition.")
        return
    awsvpc = configuration.get("awsvpcConfiguration") if isinstance(configuration, dict) else None
    if not isinstance(awsvpc, dict):
        raise _invalid("Network Configuration must be provided when networkMode 'awsvpc' is specified.")
    subnet_ids = [str(subnet) for subnet in awsvpc.get("subnets") or []]
    if not subnet_ids:
        raise _invalid("subnets can not be empty.")
    ec2 = ctx.backend("ec2")
    subnets = []
    for subnet_id in subnet_ids:
        try:
            subnets.append(ec2.get_subnet(subnet_id))
        except Exception:
            # AWS's wording (ECS passes on EC2's error).
            raise _invalid(
                f"Error retrieving subnet information for [{subnet_id}]: The subnet ID '{subnet_id}' does not exist "
                "(ErrorCode: InvalidSubnetID.NotFound)"
            ) from None
    vpcs = sorted({subnet.vpc_id for subnet in subnets})
    if len(vpcs) > 1:
        # The rule is AWS's; the wording is ours.
        raise _invalid(f"The subnets {', '.join(subnet_ids)} belong to different VPCs ({', '.join(vpcs)}).")
    groups = [str(group) for group in awsvpc.get("securityGroups") or []]
    for group_id in groups:
        group = ec2.get_security_group_from_id(group_id)
        if group is None:
            # The rule is AWS's; the wording is ours.
            raise _invalid(f"The security group '{group_id}' does not exist.")
        if group.vpc_id != vpcs[0]:
            # AWS's wording as reported from CreateService.
            raise _invalid(f"Security group {group_id} does not appear to belong to the same VPC as the input subnets.")
    if not groups:
        # AWS uses the VPC's default security group; moto crashed without a list.
        default = ec2.get_default_security_group(vpcs[0])
        if default is not None:
            request.set(
                "networkConfiguration",
                {**configuration, "awsvpcConfiguration": {**awsvpc, "securityGroups": [default.id]}},
            )


# -- 5. Load balancer wiring of services and task sets -----------------------------------------------


def _container_ports(container: dict[str, Any]) -> set[int]:
    ports = set()
    for mapping in container.get("portMappings") or []:
        if isinstance(mapping, dict) and _int(mapping.get("containerPort")) is not None:
            ports.add(_int(mapping.get("containerPort")))
    return ports  # type: ignore[return-value]


def _check_load_balancers(ctx: Context, entries: Any, task_definition: Any) -> None:
    elbv2 = ctx.backend("elbv2")
    for entry in entries or []:
        if not isinstance(entry, dict) or not entry.get("targetGroupArn"):
            continue  # Classic Load Balancers (loadBalancerName) are outside the lab
        arn = str(entry["targetGroupArn"])
        group = elbv2.target_groups.get(arn)
        if group is None:
            # AWS's (famously unhelpful) wording for a target group it cannot find; moto accepted any ARN.
            raise _invalid(
                "Unable to assume role and validate the specified targetGroupArn. "
                "Please verify that the ECS service role being passed has the proper permissions."
            )
        if not load_balancers_using(elbv2, arn):
            raise _invalid(f"The target group with targetGroupArn {arn} does not have an associated load balancer.")
        if task_definition is None:
            continue
        if task_definition.network_mode == "awsvpc" and group.target_type != "ip":
            raise _invalid(
                f"The provided target group {arn} has target type {group.target_type}, which is incompatible with "
                "the awsvpc network mode specified in the task definition."
            )
        name = entry.get("containerName")
        containers = {c.get("name"): c for c in _containers(task_definition.container_definitions)}
        if name not in containers:
            # The seed lesson's CodeDeploy error ("The container does not exist in the task definition")
            # starts here.
            raise _invalid(f"The container {name} does not exist in the task definition.")
        port = _int(entry.get("containerPort"))
        if port not in _container_ports(containers[name]):
            raise _invalid(f"The container {name} did not have a container port {entry.get('containerPort')} defined.")


@_ecs_rule("CreateService", "CreateTaskSet")
def load_balancer_wiring(request: AwsRequest, ctx: Context) -> None:
    """loadBalancers: the TG exists behind a load balancer, is type ip for awsvpc; containerName/Port are in the TD."""
    _check_load_balancers(ctx, request.get("loadBalancers"), _task_definition_for(request, ctx))


@_ecs_rule("UpdateService")
def updated_load_balancer_wiring(request: AwsRequest, ctx: Context) -> None:
    """loadBalancers: the TG exists behind a load balancer, is type ip for awsvpc; containerName/Port are in the TD."""
    if not request.get("loadBalancers"):
        return
    service = _service(ctx, request)
    reference = request.get("taskDefinition") or (service.task_definition if service is not None else None)
    _check_load_balancers(ctx, request.get("loadBalancers"), _task_definition(ctx, reference))


# -- 6. Deployment controllers -----------------------------------------------------------------------


@_ecs_rule("UpdateService")
def code_deploy_task_definition(request: AwsRequest, ctx: Context) -> None:
    """A CODE_DEPLOY service gets a new task definition only through a CodeDeploy deployment."""
    service = _service(ctx, request)
    if service is None or not request.get("taskDefinition"):
        return
    if (service.deployment_controller or {}).get("type") == "CODE_DEPLOY":
        # moto accepted the change; AWS's wording.
        raise _invalid(
            "Unable to update task definition on services with a CODE_DEPLOY deployment controller. "
            "Use AWS CodeDeploy to trigger a new deployment."
        )


@_ecs_rule("CreateTaskSet")
def task_sets_need_external_controller(request: AwsRequest, ctx: Context) -> None:
    """Task sets exist only on services with an EXTERNAL (or CODE_DEPLOY) deployment controller."""
    service = _service(ctx, request)
    if service is None:
        return  # moto answers ServiceNotFoundException
    # AWS lets callers manage task sets only on EXTERNAL services; CodeDeploy manages them on
    # CODE_DEPLOY services, and the lab's CodeDeploy engine does that through this same API, so
    # only the ECS controller is refused here.
    if (service.deployment_controller or {}).get("type", "ECS") == "ECS":
        raise _invalid(
            "Amazon ECS only supports task set management on services configured to use external deployment "
            "controllers."
        )


# -- model patches: moto crashes B1 and B2 -----------------------------------------------------------

_MARK = "_labsupport_patched"


def _patch_container_memory() -> None:
    """B1: a container without container-level memory counts as using none of the task's memory."""
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend._calculate_task_resource_requirements
    if getattr(original, _MARK, False):
        return

    def requirements(task_definition: Any) -> Any:
        containers = []
        for container in task_definition.container_definitions or []:
            keys = ("memory", "memoryReservation", "Memory", "MemoryReservation")
            if isinstance(container, dict) and all(container.get(key) is None for key in keys):
                container = {**container, "memory": 0}
            containers.append(container)
        # Only the arithmetic sees the filled-in value; the stored task definition keeps its shape.
        return original(SimpleNamespace(container_definitions=containers))

    setattr(requirements, _MARK, True)
    EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(requirements)  # type: ignore[method-assign,assignment]


def _patch_interface_dns_name() -> None:
    """B2: every network interface has a private DNS name, whatever the VPC's EnableDnsHostnames says."""
    from moto.ec2.models.elastic_network_interfaces import NetworkInterface
    from moto.ec2.utils import generate_dns_from_ip

    current = NetworkInterface.__dict__.get("private_dns_name")
    if isinstance(current, property) and getattr(current.fget, _MARK, False):
        return

    def get_name(self: Any) -> str | None:
        name = self.__dict__.get("_labsupport_private_dns_name")
        if name is None and self.private_ip_address:
            name = generate_dns_from_ip(self.private_ip_address)
        return name

    def set_name(self: Any, value: str | None) -> None:
        self.__dict__["_labsupport_private_dns_name"] = value

    setattr(get_name, _MARK, True)
    NetworkInterface.private_dns_name = property(get_name, set_name)  # type: ignore[attr-defined]


_patch_container_memory()
_patch_interface_dns_name()
