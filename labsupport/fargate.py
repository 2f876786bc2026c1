"""ECS on Fargate for the lab: execution role, cluster, task definition and service builders.

The task definition comes from ``data/templates/taskdef.json``, the lab's version of the seed's
``taskdef.json``, with its ``<IMAGE1_NAME>`` placeholder (the name CodePipeline fills in with the
image that CodeBuild just pushed) and ``<ACCOUNT_ID>``. :func:`task_definition` fills both in and
lets a chapter change the app's environment (version, colour, a failing health check ...).

All calls are boto3 only and idempotent, so they also run against real AWS.
"""

from __future__ import annotations

import copy
import json
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
