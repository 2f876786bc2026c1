"""The AppSpec file of a CodeDeploy ECS deployment (``appspec.yaml``), read and checked.

An ECS AppSpec names the task definition to deploy and the container and port the load balancer
sends traffic to, plus optional lifecycle hooks (Lambda functions)::

    version: 0.0
    Resources:
      - TargetService:
          Type: AWS::ECS::Service
          Properties:
            TaskDefinition: <TASK_DEFINITION>
            LoadBalancerInfo:
              ContainerName: frontend
              ContainerPort: 80
    Hooks:
      - AfterAllowTestTraffic: "CodeDeployHook_smoke_test"

:func:`parse` accepts YAML or JSON (CodeDeploy accepts both) and returns an :class:`AppSpec`, or
raises :class:`AppSpecError` with the problem and how to fix it. The offline region uses the same
function when a deployment is created, so a learner's mistake gets the same explanation in both
places. :func:`check_against_task_definition` catches the classic error from the seed notes: an
AppSpec container name that is not in the task definition.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .errors import LabError

HOOK_EVENTS = ("BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic")
PLACEHOLDER = "<TASK_DEFINITION>"


class AppSpecError(LabError):
    """An AppSpec that CodeDeploy would refuse."""


@dataclass(frozen=True)
class AppSpec:
    task_definition: str
    container_name: str
    container_port: int
    platform_version: str | None = None
    network_configuration: dict[str, Any] | None = None
    hooks: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (event, function name)

    def hook_for(self, event: str) -> str | None:
        for name, function in self.hooks:
            if name == event:
                return function
        return None


def _load(text: str) -> Any:
    text = text.strip()
    if not text:
        raise AppSpecError("The AppSpec is empty.", "write a YAML (or JSON) document starting with `version: 0.0`.")
    if text.startswith("{"):
        try:
            return json.loads(text)
        except ValueError as err:
            raise AppSpecError(
                f"The AppSpec is not valid JSON ({err}).", "fix the JSON syntax at that position."
            ) from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        raise AppSpecError(
            f"The AppSpec is not valid YAML{at}.",
            "check the indentation (spaces only, no tabs) and that every key ends with a colon.",
        ) from None


def parse(text: str, *, allow_placeholder: bool = False) -> AppSpec:
    """Read an ECS AppSpec; raise :class:`AppSpecError` naming the fix if CodeDeploy would refuse it."""
    doc = _load(text)
    if not isinstance(doc, dict):
        raise AppSpecError(
            "The AppSpec must be a mapping with version, Resources and (optionally) Hooks.",
            "start from the example in the docs of labsupport.appspec.",
        )
    if str(doc.get("version")) not in ("0.0", "0"):
        raise AppSpecError(
            f"The AppSpec version is {doc.get('version')!r}.", "use `version: 0.0` (the only version CodeDeploy knows)."
        )
    resources = doc.get("Resources")
    if not isinstance(resources, list) or not resources:
        raise AppSpecError("The AppSpec has no Resources list.", "add `Resources:` with one `- TargetService:` item.")
    if len(resources) != 1 or not isinstance(resources[0], dict) or len(resources[0]) != 1:
        raise AppSpecError(
            "An ECS AppSpec has exactly one resource.", "keep a single `- TargetService:` item under Resources."
        )
    ((_, target),) = resources[0].items()
    if not isinstance(target, dict) or target.get("Type") != "AWS::ECS::Service":
        raise AppSpecError("The resource's Type is not AWS::ECS::Service.", "set `Type: AWS::ECS::Service`.")
    props = target.get("Properties") or {}
    task_definition = str(props.get("TaskDefinition") or "")
    if not task_definition:
        raise AppSpecError(
            "Properties.TaskDefinition is missing.",
            "give the full task definition ARN (…:task-definition/family:revision).",
        )
    if task_definition == PLACEHOLDER and not allow_placeholder:
        raise AppSpecError(
            "TaskDefinition is still the placeholder <TASK_DEFINITION>.",
            "replace it with the ARN of the revision to deploy (CodePipeline does this for you).",
        )
    if task_definition != PLACEHOLDER and ":task-definition/" not in task_definition:
        raise AppSpecError(
            f"TaskDefinition {task_definition!r} is not a task definition ARN.",
            "use the full ARN, e.g. arn:aws:ecs:us-west-2:123456789012:task-definition/my-app-frontend:2.",
        )
    lb = props.get("LoadBalancerInfo") or {}
    name = lb.get("ContainerName")
    port = lb.get("ContainerPort")
    if not name:
        raise AppSpecError(
            "LoadBalancerInfo.ContainerName is missing.",
            "name the container the load balancer sends traffic to (e.g. frontend).",
        )
    if not isinstance(port, int) or isinstance(port, bool):
        raise AppSpecError(
            f"LoadBalancerInfo.ContainerPort must be a number, not {port!r}.",
            "write it without quotes, e.g. `ContainerPort: 80`.",
        )
    network = props.get("NetworkConfiguration")
    if network is not None:
        vpc = (network or {}).get("AwsvpcConfiguration") or {}
        missing = [k for k in ("Subnets", "SecurityGroups", "AssignPublicIp") if k not in vpc]
        if missing:
            raise AppSpecError(
                f"NetworkConfiguration.AwsvpcConfiguration lacks {', '.join(missing)}.",
                "give all three (Subnets, SecurityGroups, AssignPublicIp) or leave NetworkConfiguration out.",
            )
    hooks = []
    for item in doc.get("Hooks") or []:
        if not isinstance(item, dict) or len(item) != 1:
            raise AppSpecError(
                "Each Hooks entry is one `- Event: FunctionName` pair.",
                'write e.g. `- AfterAllowTestTraffic: "MyHook"`.',
            )
        ((event, function),) = item.items()
        if event not in HOOK_EVENTS:
            raise AppSpecError(
                f"{event!r} is not a lifecycle event you can hook in an ECS deployment.",
                f"use one of: {', '.join(HOOK_EVENTS)}.",
            )
        hooks.append((str(event), str(function)))
    return AppSpec(
        task_definition=task_definition,
        container_name=str(name),
        container_port=int(port),
        platform_version=props.get("PlatformVersion"),
        network_configuration=network,
        hooks=tuple(hooks),
    )


def check_against_task_definition(spec: AppSpec, task_definition: dict[str, Any]) -> None:
    """The container and port must exist in the task definition being deployed.

    The first is the error seed 001 met: "The ECS service cannot be updated due to an unexpected
    error: The container does not exist in the task definition."
    """
    containers = {c["name"]: c for c in task_definition.get("containerDefinitions", [])}
    if spec.container_name not in containers:
        raise AppSpecError(
            "The ECS service cannot be updated due to an unexpected error: "
            "The container does not exist in the task definition.",
            f"set LoadBalancerInfo.ContainerName to one of {sorted(containers)} "
            f"(the AppSpec says {spec.container_name!r}).",
        )
    ports = {m.get("containerPort") for m in containers[spec.container_name].get("portMappings", [])}
    if spec.container_port not in ports:
        raise AppSpecError(
            f"Container {spec.container_name!r} has no port mapping for port {spec.container_port}.",
            f"set LoadBalancerInfo.ContainerPort to one of {sorted(p for p in ports if p is not None)}.",
        )


def render(
    task_definition_arn: str, container_name: str, container_port: int, hooks: dict[str, str] | None = None
) -> str:
    """An AppSpec (YAML) for these values: what the lab's deployment helpers send."""
    lines = [
        "version: 0.0",
        "Resources:",
        "  - TargetService:",
        "      Type: AWS::ECS::Service",
        "      Properties:",
        f'        TaskDefinition: "{task_definition_arn}"',
        "        LoadBalancerInfo:",
        f'          ContainerName: "{container_name}"',
        f"          ContainerPort: {int(container_port)}",
    ]
    if hooks:
        lines.append("Hooks:")
        for event in HOOK_EVENTS:
            if event in hooks:
                lines.append(f'  - {event}: "{hooks[event]}"')
        unknown = set(hooks) - set(HOOK_EVENTS)
        if unknown:
            raise AppSpecError(f"Unknown hook events {sorted(unknown)}.", f"use: {', '.join(HOOK_EVENTS)}.")
    return "\n".join(lines) + "\n"
