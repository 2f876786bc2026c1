"""ECS task sets in the offline region run real tasks (aws-behaviour.md §4).

Every test drives a real region process through boto3 and moves the virtual clock. The chapter-06
stack (``catch_up(6)``) is converted the way a blue/green lesson converts it: the rolling service is
replaced by a ``CODE_DEPLOY`` service of the same name behind ``my-app-frontend-tg-1``, and a second
target group ``my-app-frontend-tg-2`` is created (and, by default, attached to the production
listener with weight 0, as CodeDeploy leaves it). :func:`build_blue_green` is shared with
``test_region_codedeploy.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import botocore.exceptions
import pytest
from test_region_ecs_engine import (  # noqa: F401  (lab_fixture provides the "lab" fixture)
    CLUSTER,
    SERVICE,
    Stack,
    advance,
    at,
    ip_of,
    lab_fixture,
    subnet_of,
    usable,
)

from labsupport import catchup, loadbalancer
from labsupport.lab import Lab

BLUE = "my-app-frontend-tg-1"
GREEN = "my-app-frontend-tg-2"
PRIVATE = ("my-workspace-subnet-app-private1-a", "my-workspace-subnet-app-private2-b")


@dataclass
class BlueGreen(Stack):
    """The chapter-06 stack with a CODE_DEPLOY (or EXTERNAL) service and both target groups."""

    green_arn: str = ""
    prod: str = ""
    test: str = ""

    @property
    def blue_arn(self) -> str:
        return self.tg_arn

    def network(self) -> dict[str, Any]:
        return {
            "awsvpcConfiguration": {
                "subnets": [self.net.subnets[name] for name in PRIVATE],
                "securityGroups": [self.net.security_groups["my-app-frontend-sg"]],
                "assignPublicIp": "DISABLED",
            }
        }

    def task_sets(self, service: str = SERVICE) -> list[dict[str, Any]]:
        return list(self.ecs.describe_task_sets(cluster=CLUSTER, service=service)["taskSets"])

    def weights(self, listener: str | None = None) -> dict[str, int]:
        """``{target group name: weight}`` of a listener's default action (production by default)."""
        action = self.elbv2.describe_listeners(ListenerArns=[listener or self.prod])["Listeners"][0]["DefaultActions"][
            0
        ]
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups")
        if not groups:
            return {action["TargetGroupArn"].split("/")[-2]: 1}
        return {g["TargetGroupArn"].split("/")[-2]: int(g["Weight"]) for g in groups}


def build_blue_green(
    lab: Lab,
    endpoint: str,
    *,
    controller: str = "CODE_DEPLOY",
    attach_green: bool = True,
    desired: int = 2,
    settle: bool = True,
) -> BlueGreen:
    """Chapter 06's stack converted for blue/green; with ``settle`` the first task set is steady."""
    built = catchup.catch_up(6, lab, quiet=True)
    stack = BlueGreen(lab, endpoint, built)
    # The rolling service goes before it started anything; the CODE_DEPLOY service takes its name.
    stack.ecs.delete_service(cluster=CLUSTER, service=SERVICE, force=True)
    stack.green_arn = loadbalancer.ensure_target_group(lab, stack.net, GREEN)["TargetGroupArn"]
    stack.prod, stack.test = built["load_balancer"].listeners[80], built["load_balancer"].listeners[9000]
    if attach_green:
        stack.elbv2.modify_listener(
            ListenerArn=stack.prod,
            DefaultActions=[
                {
                    "Type": "forward",
                    "ForwardConfig": {
                        "TargetGroups": [
                            {"TargetGroupArn": stack.blue_arn, "Weight": 100},
                            {"TargetGroupArn": stack.green_arn, "Weight": 0},
                        ]
                    },
                }
            ],
        )
    options: dict[str, Any] = {
        "cluster": CLUSTER,
        "serviceName": SERVICE,
        "desiredCount": desired,
        "deploymentController": {"type": controller},
    }
    if controller == "CODE_DEPLOY":
        options.update(
            taskDefinition=built["service"].task_definition_arn,
            launchType="FARGATE",
            networkConfiguration=stack.network(),
            loadBalancers=[{"targetGroupArn": stack.blue_arn, "containerName": "frontend", "containerPort": 80}],
            healthCheckGracePeriodSeconds=30,
        )
    stack.ecs.create_service(**options)
    if settle:
        advance(endpoint, 60)
    return stack


def _targets(stack: BlueGreen, tg_arn: str) -> dict[str, str]:
    return {ip: h["State"] for ip, h in stack.health(tg_arn).items()}


# -- CODE_DEPLOY services -------------------------------------------------------------------------------


def test_a_code_deploy_service_starts_with_a_primary_task_set_running_real_tasks(lab: Lab, region: str) -> None:
    stack = build_blue_green(lab, region, settle=False)
    service = stack.service()
    assert service["deploymentController"] == {"type": "CODE_DEPLOY"}
    (first,) = service["taskSets"]
    assert (first["status"], first["scale"], first["computedDesiredCount"]) == (
        "PRIMARY",
        {"value": 100.0, "unit": "PERCENT"},
        2,
    )
    assert (first["runningCount"], first["pendingCount"], first["stabilityStatus"]) == (0, 0, "STABILIZING")
    assert "startedBy" not in first and "externalId" not in first  # ECS made it with the service

    advance(region, 1)  # the scheduler reacts one second later
    (first,) = stack.task_sets()
    assert (first["runningCount"], first["pendingCount"]) == (0, 2)
    assert (stack.service()["runningCount"], stack.service()["pendingCount"]) == (0, 2)
    tasks = stack.tasks()
    assert [t["lastStatus"] for t in tasks] == ["PROVISIONING", "PROVISIONING"]
    assert {t["startedBy"] for t in tasks} == {first["id"]}
    subnets = {stack.net.subnets[name]: name for name in PRIVATE}
    assert sorted(subnets[subnet_of(t)] for t in tasks) == sorted(PRIVATE)  # one per Availability Zone
    for task in tasks:
        cidr = stack.subnet(subnets[subnet_of(task)])["CidrBlock"]
        assert usable(ip_of(task), cidr)

    advance(region, 30)  # PENDING (pull) and RUNNING: registered in the set's target group
    (first,) = stack.task_sets()
    assert (first["runningCount"], first["pendingCount"], first["stabilityStatus"]) == (2, 0, "STABILIZING")
    assert set(_targets(stack, stack.blue_arn).values()) == {"initial"}
    advance(region, 5)  # the first health check passes: steady
    (first,) = stack.task_sets()
    assert first["stabilityStatus"] == "STEADY_STATE" and first["stabilityStatusAt"] == at(36)
    assert set(_targets(stack, stack.blue_arn).values()) == {"healthy"}
    service = stack.service()
    assert (service["runningCount"], service["pendingCount"]) == (2, 0)
    scope = f"(service {SERVICE}, taskSet {first['id']})"
    assert stack.events()[:3] == [
        f"{scope} has started 2 tasks: " + " ".join(f"(task {t['taskArn'].rsplit('/', 1)[-1]})" for t in tasks) + ".",
        f"{scope} registered 2 targets in (target-group {stack.blue_arn})",
        f"(service {SERVICE}) has reached a steady state.",
    ]

    # A new desired count rescales the set; the service's counts follow it.
    stack.ecs.update_service(cluster=CLUSTER, service=SERVICE, desiredCount=3)
    (first,) = stack.task_sets()
    assert (first["computedDesiredCount"], first["stabilityStatus"]) == (3, "STABILIZING")
    advance(region, 40)
    (first,) = stack.task_sets()
    assert (first["runningCount"], first["stabilityStatus"]) == (3, "STEADY_STATE")
    assert stack.service()["runningCount"] == 3
    assert len(_targets(stack, stack.blue_arn)) == 3

    # A CODE_DEPLOY service takes a new task definition only through CodeDeploy.
    with pytest.raises(botocore.exceptions.ClientError, match="Use AWS CodeDeploy to trigger a new deployment"):
        stack.ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=stack.register(APP_VERSION="v2"))


# -- EXTERNAL services: task sets by hand -------------------------------------------------------------------


def test_task_sets_by_hand_scale_round_up_switch_primary_and_drain_on_delete(lab: Lab, region: str) -> None:
    stack = build_blue_green(lab, region, controller="EXTERNAL", desired=3, settle=False)
    assert stack.task_sets() == []
    v1 = stack.built["service"].task_definition_arn
    v2 = stack.register(APP_VERSION="v2", APP_COLOUR="green")

    def create(td: str, tg: str, percent: float) -> dict[str, Any]:
        return dict(
            stack.ecs.create_task_set(
                cluster=CLUSTER,
                service=SERVICE,
                taskDefinition=td,
                launchType="FARGATE",
                networkConfiguration=stack.network(),
                loadBalancers=[{"targetGroupArn": tg, "containerName": "frontend", "containerPort": 80}],
                scale={"value": percent, "unit": "PERCENT"},
            )["taskSet"]
        )

    blue = create(v1, stack.blue_arn, 100)
    green = create(v2, stack.green_arn, 50)
    assert (blue["computedDesiredCount"], green["computedDesiredCount"]) == (3, math.ceil(3 * 0.5))  # 1.5 -> 2
    assert (blue["status"], green["status"]) == ("ACTIVE", "ACTIVE")
    stack.ecs.update_service_primary_task_set(cluster=CLUSTER, service=SERVICE, primaryTaskSet=blue["id"])
    advance(region, 40)
    found = {t["id"]: t for t in stack.task_sets()}
    assert found[blue["id"]]["status"] == "PRIMARY" and found[green["id"]]["status"] == "ACTIVE"
    assert (found[blue["id"]]["runningCount"], found[green["id"]]["runningCount"]) == (3, 2)
    assert all(t["stabilityStatus"] == "STEADY_STATE" for t in found.values())
    assert len(_targets(stack, stack.blue_arn)) == 3 and len(_targets(stack, stack.green_arn)) == 2
    # Each set's tasks run its own task definition and sit in its own target group.
    by_set = {}
    for task in stack.tasks():
        by_set.setdefault(task["startedBy"], set()).add(task["taskDefinitionArn"])
    assert by_set == {blue["id"]: {v1}, green["id"]: {v2}}
    assert stack.service()["runningCount"] == 5

    stack.ecs.update_task_set(
        cluster=CLUSTER, service=SERVICE, taskSet=green["id"], scale={"value": 100, "unit": "PERCENT"}
    )
    advance(region, 40)
    assert {t["id"]: t["runningCount"] for t in stack.task_sets()} == {blue["id"]: 3, green["id"]: 3}
    with pytest.raises(botocore.exceptions.ClientError, match="scale must be"):
        stack.ecs.update_task_set(
            cluster=CLUSTER, service=SERVICE, taskSet=green["id"], scale={"value": 150, "unit": "PERCENT"}
        )

    # Green becomes primary; blue is deleted: DRAINING, its targets drain, its tasks stop, then it is gone.
    stack.ecs.update_service_primary_task_set(cluster=CLUSTER, service=SERVICE, primaryTaskSet=green["taskSetArn"])
    assert stack.service()["taskDefinition"] == v2
    with pytest.raises(botocore.exceptions.ClientError, match="PRIMARY task set"):
        stack.ecs.delete_task_set(cluster=CLUSTER, service=SERVICE, taskSet=green["id"])
    deleted = stack.ecs.delete_task_set(cluster=CLUSTER, service=SERVICE, taskSet=blue["id"])["taskSet"]
    assert deleted["status"] == "DRAINING"
    advance(region, 1)
    assert set(_targets(stack, stack.blue_arn).values()) == {"draining"}
    (draining,) = [t for t in stack.task_sets() if t["id"] == blue["id"]]
    assert (draining["status"], draining["computedDesiredCount"]) == ("DRAINING", 0)
    advance(region, 30 + 5 + 10)  # deregistration delay, SIGTERM, ENI released: the set is gone
    assert [t["id"] for t in stack.task_sets()] == [green["id"]]
    stopped = [t for t in stack.tasks(desired="STOPPED") if t["startedBy"] == blue["id"]]
    assert len(stopped) == 3 and {t["lastStatus"] for t in stopped} == {"STOPPED"}
    assert {t["stoppedReason"] for t in stopped} == {f"Scaling activity initiated by (deployment {blue['id']})"}
    assert stack.service()["runningCount"] == 3


def test_a_task_set_of_a_failing_release_never_becomes_steady(lab: Lab, region: str) -> None:
    stack = build_blue_green(lab, region, controller="EXTERNAL", desired=1, settle=False)
    broken = stack.register(APP_VERSION="v2", FAIL_HEALTH="true")
    task_set = stack.ecs.create_task_set(
        cluster=CLUSTER,
        service=SERVICE,
        taskDefinition=broken,
        launchType="FARGATE",
        networkConfiguration=stack.network(),
        loadBalancers=[{"targetGroupArn": stack.green_arn, "containerName": "frontend", "containerPort": 80}],
    )["taskSet"]
    assert task_set["scale"] == {"value": 100.0, "unit": "PERCENT"}
    seen = set()
    for _ in range(12):
        advance(region, 15)
        (found,) = stack.task_sets()
        seen.add(found["stabilityStatus"])
    assert seen == {"STABILIZING"}
    stopped = stack.tasks(desired="STOPPED")
    assert stopped, "the unhealthy task was never replaced"
    assert stopped[0]["stoppedReason"] == f"Task failed ELB health checks in (target-group {stack.green_arn})"
    assert any("is unhealthy in (target-group" in e and f"taskSet {task_set['id']}" in e for e in stack.events())
