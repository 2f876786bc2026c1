"""ECS on Fargate for the lab: execution role, cluster, task definition and service builders.

The task definition comes from ``data/templates/taskdef.json``, the lab's version of the seed's
``taskdef.json``, with its ``<IMAGE1_NAME>`` placeholder (the name CodePipeline fills in with the
image that CodeBuild just pushed) and ``<ACCOUNT_ID>``. :func:`task_definition` fills both in and
lets a chapter change the app's environment (version, colour, a failing health check ...).

All calls are boto3 only and idempotent, so they also run against real AWS.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import images
from .errors import LabError
from .lab import Lab, current
from .loadbalancer import LoadBalancer
from .network import Network

TEMPLATE = Path(__file__).resolve().parents[1] / "data" / "templates" / "taskdef.json"
EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
ECS_TASKS_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}

#: Fargate's task sizes: task-level CPU units -> the memory sizes (MiB) offered with them
#: (AWS's table, aws-behaviour.md §3.1). Any other pair is refused at RegisterTaskDefinition.
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}


@dataclass
class FargateService:
    cluster: str = ""
    service_arn: str = ""
    task_definition_arn: str = ""
    image: str = ""

    def summary(self) -> str:
        revision = self.task_definition_arn.rsplit("/", 1)[-1]
        return f"service on Fargate running {revision}"


def _config(lab: Lab) -> dict[str, Any]:
    return dict(lab.config.raw["ecs"])


def account_id(lab: Lab) -> str:
    return "123456789012" if lab.offline else str(lab.client("sts").get_caller_identity()["Account"])


def ensure_execution_role(lab: Lab) -> str:
    """``ecsTaskExecutionRole``: lets ECS pull from ECR and write logs (AWS managed policy)."""
    iam = lab.client("iam")
    name = _config(lab)["execution_role"]
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(ECS_TASKS_TRUST),
            Description="Allows ECS tasks to pull images and write logs",
            Tags=lab.tag_list(name),
        )["Role"]
    attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    if not any(p["PolicyArn"] == EXECUTION_POLICY for p in attached):
        iam.attach_role_policy(RoleName=name, PolicyArn=EXECUTION_POLICY)
    return str(role["Arn"])


def ensure_cluster(lab: Lab) -> str:
    ecs = lab.client("ecs")
    name = _config(lab)["cluster"]
    found = ecs.describe_clusters(clusters=[name])["clusters"]
    if found and found[0]["status"] == "ACTIVE":
        return str(found[0]["clusterArn"])
    return str(ecs.create_cluster(clusterName=name, tags=[{"key": "Name", "value": name}])["cluster"]["clusterArn"])


def ensure_log_group(lab: Lab) -> None:
    logs = lab.client("logs")
    name = _config(lab)["log_group"]
    if not logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]:
        logs.create_log_group(logGroupName=name)


def task_definition(image: str, lab: Lab | None = None, **environment: str) -> dict[str, Any]:
    """The template with ``<IMAGE1_NAME>`` and ``<ACCOUNT_ID>`` filled in and env vars overridden.

    ``task_definition(uri, APP_VERSION="v2", APP_COLOUR="green")`` is the next release;
    ``FAIL_HEALTH="true"`` makes a release whose health check fails.
    """
    lab = lab or current()
    text = TEMPLATE.read_text(encoding="utf-8")
    text = text.replace("<ACCOUNT_ID>", account_id(lab)).replace("<IMAGE1_NAME>", image)
    definition = json.loads(text)
    container = definition["containerDefinitions"][0]
    container["logConfiguration"]["options"]["awslogs-region"] = lab.region
    env = {e["name"]: e["value"] for e in container.get("environment", [])}
    for key, value in environment.items():
        if not key.isupper():
            raise LabError(f"{key!r} does not look like an environment variable.", "use names like APP_VERSION.")
        env[key] = str(value)
    container["environment"] = [{"name": k, "value": v} for k, v in env.items()]
    return definition


def register(definition: dict[str, Any], lab: Lab | None = None) -> str:
    """Register a task definition unless the latest revision is identical; returns its ARN."""
    lab = lab or current()
    ecs = lab.client("ecs")
    try:
        latest = ecs.describe_task_definition(taskDefinition=definition["family"])["taskDefinition"]
    except ecs.exceptions.ClientException:
        latest = None
    if latest is not None and _same(latest, definition):
        return str(latest["taskDefinitionArn"])
    return str(ecs.register_task_definition(**copy.deepcopy(definition))["taskDefinition"]["taskDefinitionArn"])


def _same(registered: dict[str, Any], wanted: dict[str, Any]) -> bool:
    def env(c: dict[str, Any]) -> list[tuple[str, str]]:
        return sorted((e["name"], e["value"]) for e in c.get("environment", []))

    a, b = registered["containerDefinitions"][0], wanted["containerDefinitions"][0]
    return a["image"] == b["image"] and env(a) == env(b) and str(registered.get("cpu")) == str(wanted.get("cpu"))


def ensure_service(
    lab: Lab, net: Network, lb: LoadBalancer, task_definition_arn: str, **options: Any
) -> dict[str, Any]:
    """The ECS service (rolling deployments, ``ECS`` controller) behind the blue target group."""
    cfg = _config(lab)
    ecs = lab.client("ecs")
    found = ecs.describe_services(cluster=cfg["cluster"], services=[cfg["service"]])["services"]
    if found and found[0]["status"] == "ACTIVE":
        return dict(found[0])
    blue = lab.config.raw["load_balancer"]["target_groups"]["blue"]
    private = [net.subnets[s.name] for s in lab.config.tier("private")]
    return dict(
        ecs.create_service(
            cluster=cfg["cluster"],
            serviceName=cfg["service"],
            taskDefinition=task_definition_arn,
            desiredCount=int(options.get("desired_count", cfg["desired_count"])),
            launchType="FARGATE",
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": private,
                    "securityGroups": [net.security_groups[lab.config.security_group("app").name]],
                    "assignPublicIp": "DISABLED",
                }
            },
            loadBalancers=[
                {
                    "targetGroupArn": lb.target_groups[blue],
                    "containerName": cfg["container"],
                    "containerPort": int(cfg["container_port"]),
                }
            ],
            deploymentConfiguration={
                "minimumHealthyPercent": int(options.get("minimum_healthy_percent", 100)),
                "maximumPercent": int(options.get("maximum_percent", 200)),
            },
            healthCheckGracePeriodSeconds=int(options.get("grace_period", 30)),
            tags=[{"key": "Name", "value": cfg["service"]}],
        )["service"]
    )


def build(lab: Lab, net: Network, lb: LoadBalancer) -> FargateService:
    """What chapter 05 builds: image v1 in ECR, role, cluster, task definition, service."""
    cfg = _config(lab)
    image = images.push(f"{cfg['repository']}:v1", lab) if lab.offline else images.uri(f"{cfg['repository']}:v1", lab)
    ensure_execution_role(lab)
    ensure_log_group(lab)
    ensure_cluster(lab)
    arn = register(task_definition(image, lab), lab)
    service = ensure_service(lab, net, lb, arn)
    return FargateService(
        cluster=cfg["cluster"], service_arn=service["serviceArn"], task_definition_arn=arn, image=image
    )


def teardown(lab: Lab) -> list[str]:
    """Scale the service to zero and delete it, then the cluster (task definitions are deregistered)."""
    cfg = _config(lab)
    ecs = lab.client("ecs")
    deleted = []
    found = (
        ecs.describe_services(cluster=cfg["cluster"], services=[cfg["service"]])["services"]
        if _cluster_exists(lab)
        else []
    )
    if found and found[0]["status"] == "ACTIVE":
        ecs.update_service(cluster=cfg["cluster"], service=cfg["service"], desiredCount=0)
        ecs.delete_service(cluster=cfg["cluster"], service=cfg["service"], force=True)
        deleted.append(f"service {cfg['service']}")
    for arn in ecs.list_task_definitions(familyPrefix=cfg["family"], status="ACTIVE")["taskDefinitionArns"]:
        ecs.deregister_task_definition(taskDefinition=arn)
        deleted.append(f"task definition {arn.rsplit('/', 1)[-1]}")
    if _cluster_exists(lab):
        ecs.delete_cluster(cluster=cfg["cluster"])
        deleted.append(f"cluster {cfg['cluster']}")
    return deleted


def _cluster_exists(lab: Lab) -> bool:
    found = lab.client("ecs").describe_clusters(clusters=[_config(lab)["cluster"]])["clusters"]
    return bool(found) and found[0]["status"] == "ACTIVE"


# -- Fargate task sizes -----------------------------------------------------------------------------


def _units(value: int | str, what: str) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit():
        raise LabError(
            f"{what} {value!r} is not a whole number.",
            f"write {what} as a number of {'CPU units' if what == 'cpu' else 'MiB'}, e.g. "
            f"{'256 (= .25 vCPU)' if what == 'cpu' else '512 (= .5 GB)'}.",
        )
    return int(text)


def memory_choices(cpu: int | str) -> tuple[int, ...]:
    """The memory sizes (MiB) Fargate offers with ``cpu`` CPU units: ``memory_choices(256)`` → (512, 1024, 2048)."""
    units = _units(cpu, "cpu")
    if units not in FARGATE_SIZES:
        valid = ", ".join(str(c) for c in FARGATE_SIZES)
        raise LabError(
            f"Fargate has no task size with {units} CPU units.",
            f"use one of {valid} (1024 units = 1 vCPU).",
        )
    return FARGATE_SIZES[units]


def is_fargate_size(cpu: int | str, memory: int | str) -> bool:
    """Whether the task-level pair (CPU units, MiB) is one of Fargate's sizes, e.g. (256, 512)."""
    try:
        return _units(memory, "memory") in memory_choices(cpu)
    except LabError:
        return False


def _mib(value: int) -> str:
    return f"{value // 1024} GB" if value % 1024 == 0 else f"{value / 1024:g} GB"


def size_table() -> str:
    """Fargate's cpu/memory table as text: one row per CPU size, with its memory choices."""
    lines = [f"{'cpu':>6}  {'vCPU':>4}  memory"]
    for cpu, choices in FARGATE_SIZES.items():
        if len(choices) <= 4:
            memory = ", ".join(_mib(m) for m in choices)
        else:
            step = choices[1] - choices[0]
            memory = f"{_mib(choices[0])} to {_mib(choices[-1])} in steps of {_mib(step)}"
        lines.append(f"{cpu:>6}  {cpu / 1024:>4g}  {memory}")
    return "\n".join(lines)


# -- what runs: tasks, their addresses and health, and the service's events -------------------------


@dataclass(frozen=True)
class TaskRow:
    """One task as a learner looks at it: where it runs, its address, its state, its target health.

    ``task`` is the short task id the sample app shows (its first 12 characters, as in the page and
    the ``X-Served-By`` header). IDs differ on every run, so :func:`task_table` leaves it out unless
    asked.
    """

    task: str
    az: str
    subnet: str
    ip: str
    status: str
    health: str
    desired: str
    task_definition: str  # family:revision
    stopped_reason: str = ""


_COLUMNS = {
    "task": "task",
    "az": "AZ",
    "subnet": "subnet",
    "ip": "IP",
    "status": "lastStatus",
    "health": "health",
    "desired": "desiredStatus",
    "task_definition": "task definition",
    "stopped_reason": "stoppedReason",
}


def _detail(task: dict[str, Any], name: str) -> str:
    for attachment in task.get("attachments") or []:
        for detail in attachment.get("details") or []:
            if detail.get("name") == name:
                return str(detail.get("value") or "")
    return ""


def _ip_key(row: TaskRow) -> tuple[str, int]:
    try:
        return row.az, int(ipaddress.ip_address(row.ip))
    except ValueError:
        return row.az, 0


def tasks(
    lab: Lab | None = None,
    *,
    service: str | None = None,
    started_by: str | None = None,
    stopped: bool = False,
) -> list[TaskRow]:
    """The tasks of the lab's service (or of ``service``, or those ``started_by`` a one-off run).

    Tasks that are still shutting down (draining, stopping) are included; STOPPED ones only with
    ``stopped=True``. Rows are sorted by AZ, then address, so the order is the same on every run.
    Health is the target's state in the service's target groups (``-`` when it is not registered).
    """
    lab = lab or current()
    cfg = _config(lab)
    ecs = lab.client("ecs")
    if not _cluster_exists(lab):
        return []
    service = None if started_by else (service or cfg["service"])
    arns: list[str] = []
    for desired in ("RUNNING", "STOPPED"):
        query: dict[str, Any] = {"cluster": cfg["cluster"], "desiredStatus": desired}
        if started_by:
            query["startedBy"] = started_by
        else:
            query["serviceName"] = service
        for page in ecs.get_paginator("list_tasks").paginate(**query):
            arns += [a for a in page["taskArns"] if a not in arns]
    described: list[dict[str, Any]] = []
    for start in range(0, len(arns), 100):  # DescribeTasks takes up to 100 tasks per call
        described += ecs.describe_tasks(cluster=cfg["cluster"], tasks=arns[start : start + 100])["tasks"]
    described = [t for t in described if stopped or t.get("lastStatus") != "STOPPED"]
    health = _target_health(lab, service) if service else {}
    names = _subnet_names(lab, {_detail(t, "subnetId") for t in described} - {""})
    rows = [
        TaskRow(
            task=str(t["taskArn"]).rsplit("/", 1)[-1][:12],
            az=str(t.get("availabilityZone") or ""),
            subnet=names.get(_detail(t, "subnetId"), _detail(t, "subnetId")),
            ip=_detail(t, "privateIPv4Address"),
            status=str(t.get("lastStatus") or ""),
            health=health.get(_detail(t, "privateIPv4Address"), "-"),
            desired=str(t.get("desiredStatus") or ""),
            task_definition=str(t.get("taskDefinitionArn") or "").rsplit("/", 1)[-1],
            stopped_reason=str(t.get("stoppedReason") or ""),
        )
        for t in described
    ]
    return sorted(rows, key=_ip_key)


def _subnet_names(lab: Lab, subnet_ids: set[str]) -> dict[str, str]:
    if not subnet_ids:
        return {}
    found = lab.client("ec2").describe_subnets(SubnetIds=sorted(subnet_ids))["Subnets"]
    return {s["SubnetId"]: next((t["Value"] for t in s.get("Tags", []) if t["Key"] == "Name"), "") for s in found}


def _target_health(lab: Lab, service: str) -> dict[str, str]:
    """IP -> target state, over the target groups of ``service`` (empty if it has none)."""
    found = lab.client("ecs").describe_services(cluster=_config(lab)["cluster"], services=[service])["services"]
    elbv2 = lab.client("elbv2")
    states: dict[str, str] = {}
    for entry in (found[0].get("loadBalancers") or []) if found else []:
        arn = entry.get("targetGroupArn")
        if not arn:
            continue
        for target in elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]:
            states[str(target["Target"]["Id"])] = str(target["TargetHealth"]["State"])
    return states


def task_table(rows: list[TaskRow], columns: tuple[str, ...] = ("az", "subnet", "ip", "status", "health")) -> str:
    """Rows as an aligned text table; the default columns name nothing that changes between runs."""
    unknown = [c for c in columns if c not in _COLUMNS]
    if unknown:
        raise LabError(f"Unknown column(s) {', '.join(unknown)}.", f"pick from {', '.join(_COLUMNS)}.")
    if not rows:
        return "(no tasks)"
    cells = [[_COLUMNS[c] for c in columns]] + [[str(getattr(r, c)) for c in columns] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() for line in cells)


_TASK_REF = re.compile(r"\(task ([0-9a-f-]{8,36})\)")
_TG_REF = re.compile(r"\(target-group (arn:[^)\s]+)\)")
_DEPLOYMENT_REF = re.compile(r"ecs-svc/\d+")


def events(lab: Lab | None = None, *, service: str | None = None, last: int | None = None) -> list[str]:
    """The service's events, oldest first, in ECS's words, with IDs replaced by what they stand for.

    ECS writes ``(task 1a2b...)``, ``(target-group arn:...)`` and ``(deployment ecs-svc/123...)``; here a
    task reads as its private IP, a target group as its name and a deployment as ``#1``, ``#2`` ... in
    the order the events name them, because IDs differ on every run. ``last`` keeps the newest few.
    """
    lab = lab or current()
    cfg = _config(lab)
    ecs = lab.client("ecs")
    if not _cluster_exists(lab):
        return []
    found = ecs.describe_services(cluster=cfg["cluster"], services=[service or cfg["service"]])["services"]
    if not found:
        return []
    messages = [str(e["message"]) for e in reversed(found[0].get("events") or [])]
    # Deployment ids (ecs-svc/…) are numbered in the order the events first name them.
    deployments: dict[str, int] = {}
    for text in messages:
        for ref in _DEPLOYMENT_REF.findall(text):
            deployments.setdefault(ref, len(deployments) + 1)
    if last is not None:
        messages = messages[-last:] if last > 0 else []
    task_ids = sorted({m for text in messages for m in _TASK_REF.findall(text)})
    ips: dict[str, str] = {}
    for start in range(0, len(task_ids), 100):
        for task in ecs.describe_tasks(cluster=cfg["cluster"], tasks=task_ids[start : start + 100])["tasks"]:
            ips[str(task["taskArn"]).rsplit("/", 1)[-1]] = _detail(task, "privateIPv4Address") or "?"

    def tidy(text: str) -> str:
        text = _TASK_REF.sub(lambda m: f"(task {ips.get(m.group(1), m.group(1)[:8] + '…')})", text)
        text = _DEPLOYMENT_REF.sub(lambda m: f"#{deployments[m.group(0)]}", text)
        # A target group ARN ends in targetgroup/<name>/<id>: its name is part of it.
        return _TG_REF.sub(lambda m: f"(target-group {m.group(1).split('/')[1]})", text)

    return [tidy(m) for m in messages]
