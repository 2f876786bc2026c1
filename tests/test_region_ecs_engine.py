"""The offline region's ECS scheduler, checked against what ECS on Fargate does (aws-behaviour.md §3).

Every test drives a real region process through boto3 only, builds the lab's stack with the same
builders the notebooks use, and moves time with ``POST /_lab/clock/advance``. The clock starts at
2026-01-05 09:00:00 UTC, so every timestamp below is exact. The ``lab`` fixture also checks after
each test that no clock event failed (``clock_errors`` in ``GET /_lab/status`` stays empty).

The helpers at the top are shared by ``test_region_health.py``, ``test_region_listeners.py`` and
``test_http_load.py``.
"""

from __future__ import annotations

import http.client
import ipaddress
import itertools
import json
import re
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest

import labsupport.lab as labmod
from labsupport import catchup, config, fargate
from labsupport.lab import Lab

# -- shared helpers ----------------------------------------------------------------------------------

EPOCH = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)
CLUSTER = "my-app-cluster"
SERVICE = "my-app-frontend"
_LABS: dict[str, Lab] = {}


def at(seconds: float) -> datetime:
    """The virtual instant ``seconds`` after the region's start."""
    return EPOCH + timedelta(seconds=seconds)


def control(endpoint: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(endpoint + path, data=data, method="GET" if body is None else "POST")
    request.add_header("Content-Type", "application/json")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=60) as answer:
        return dict(json.load(answer))


def advance(endpoint: str, seconds: float) -> dict[str, Any]:
    return control(endpoint, "/_lab/clock/advance", {"seconds": seconds})


def elapsed(endpoint: str) -> float:
    return float(control(endpoint, "/_lab/clock")["elapsed_seconds"])


def clock_errors(endpoint: str) -> list[str]:
    return list(control(endpoint, "/_lab/status")["clock_errors"])


def health_history(endpoint: str) -> list[dict[str, Any]]:
    return list(control(endpoint, "/_lab/health-history")["changes"])


def listener_url(endpoint: str, port: int = 80) -> str:
    for row in control(endpoint, "/_lab/listeners")["listeners"]:
        if row["port"] == port and row["local_url"]:
            return str(row["local_url"])
    raise AssertionError(f"no listener on port {port}")


def http_get(
    url: str, path: str = "/", headers: dict[str, str] | None = None, timeout: float = 10
) -> tuple[int, dict[str, str], bytes]:
    """One real HTTP request on loopback (no proxy): status, headers (lower-case names), body."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        answer = conn.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        conn.close()


@pytest.fixture(name="lab")
def lab_fixture(region: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    """The lab's ``Lab`` pointed at the test region (clients cached across tests: they are stateless)."""
    the_lab = _LABS.get(region)
    if the_lab is None:
        the_lab = _LABS[region] = Lab(mode="offline", region="us-west-2", config=config.load(), endpoint=region)
    monkeypatch.setattr(labmod, "_current", the_lab)
    yield the_lab
    assert clock_errors(region) == [], "a clock event failed inside the region"


@dataclass
class Stack:
    """What ``catch_up(6)`` built: network, ALB (listeners 80/9000), image, cluster, service."""

    lab: Lab
    endpoint: str
    built: Any

    @property
    def ecs(self) -> Any:
        return self.lab.client("ecs")

    @property
    def elbv2(self) -> Any:
        return self.lab.client("elbv2")

    @property
    def ec2(self) -> Any:
        return self.lab.client("ec2")

    @property
    def net(self) -> Any:
        return self.built["network"]

    @property
    def tg_arn(self) -> str:
        return str(self.built["load_balancer"].target_groups["my-app-frontend-tg-1"])

    @property
    def image(self) -> str:
        return str(self.built["service"].image)

    def service(self, name: str = SERVICE) -> dict[str, Any]:
        return dict(self.ecs.describe_services(cluster=CLUSTER, services=[name])["services"][0])

    def events(self, name: str = SERVICE) -> list[str]:
        """Service event messages, oldest first."""
        return [e["message"] for e in reversed(self.service(name)["events"])]

    def tasks(self, desired: str | None = "RUNNING", service: str | None = SERVICE) -> list[dict[str, Any]]:
        """Tasks of ``service`` (None: every task in the cluster); ``desired`` None means RUNNING and STOPPED."""
        arns: list[str] = []
        for status in ("RUNNING", "STOPPED") if desired is None else (desired,):
            kwargs: dict[str, Any] = {"cluster": CLUSTER, "desiredStatus": status}
            if service:
                kwargs["serviceName"] = service
            arns += self.ecs.list_tasks(**kwargs)["taskArns"]
        if not arns:
            return []
        found = self.ecs.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"]
        return sorted(found, key=lambda t: (t["createdAt"], ip_of(t)))

    def health(self, tg_arn: str | None = None) -> dict[str, dict[str, Any]]:
        """``{ip: TargetHealth}`` of a target group (the lab's blue one by default)."""
        rows = self.elbv2.describe_target_health(TargetGroupArn=tg_arn or self.tg_arn)["TargetHealthDescriptions"]
        return {r["Target"]["Id"]: r["TargetHealth"] for r in rows}

    def healthy(self, tg_arn: str | None = None) -> int:
        return sum(1 for h in self.health(tg_arn).values() if h["State"] == "healthy")

    def register(self, **environment: str) -> str:
        """A task definition revision of the lab's family with ``environment`` on top of v1's."""
        image = environment.pop("image", self.image)
        return fargate.register(fargate.task_definition(image, self.lab, **environment), self.lab)

    def deploy(self, **environment: Any) -> str:
        """Register a revision and roll the service to it (extra update_service arguments allowed)."""
        options = {k: environment.pop(k) for k in list(environment) if k[0].islower() and k != "image"}
        arn = self.register(**environment)
        self.ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=arn, **options)
        return arn

    def subnet(self, name: str) -> dict[str, Any]:
        subnet_id = self.net.subnets[name]
        return dict(self.ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0])

    def run_task(self, subnet_name: str, task_definition: str | None = None, **environment: str) -> dict[str, Any]:
        """A standalone task (RunTask) in one subnet with the app's security group."""
        arn = task_definition or self.register(**environment)
        return dict(
            self.ecs.run_task(
                cluster=CLUSTER,
                taskDefinition=arn,
                launchType="FARGATE",
                networkConfiguration={
                    "awsvpcConfiguration": {
                        "subnets": [self.net.subnets[subnet_name]],
                        "securityGroups": [self.net.security_groups["my-app-frontend-sg"]],
                        "assignPublicIp": "DISABLED",
                    }
                },
            )["tasks"][0]
        )

    def describe_task(self, arn: str) -> dict[str, Any]:
        return dict(self.ecs.describe_tasks(cluster=CLUSTER, tasks=[arn])["tasks"][0])


def build_stack(lab: Lab, endpoint: str, *, settle: bool = True) -> Stack:
    """The lab's chapter-06 starting point; with ``settle`` its two tasks are RUNNING and healthy (t=60 s)."""
    stack = Stack(lab, endpoint, catchup.catch_up(6, lab, quiet=True))
    if settle:
        advance(endpoint, 60)
    return stack


def ip_of(task: dict[str, Any]) -> str:
    for attachment in task.get("attachments", []):
        for detail in attachment.get("details", []):
            if detail["name"] == "privateIPv4Address":
                return str(detail["value"])
    return ""


def subnet_of(task: dict[str, Any]) -> str:
    for attachment in task.get("attachments", []):
        for detail in attachment.get("details", []):
            if detail["name"] == "subnetId":
                return str(detail["value"])
    return ""


def task_id(task_or_arn: dict[str, Any] | str) -> str:
    arn = task_or_arn if isinstance(task_or_arn, str) else task_or_arn["taskArn"]
    return arn.rsplit("/", 1)[-1]


def usable(ip: str, cidr: str) -> bool:
    """Inside ``cidr`` and not one of the five addresses AWS reserves in every subnet."""
    network = ipaddress.ip_network(cidr)
    address = ipaddress.ip_address(ip)
    offset = int(address) - int(network.network_address)
    return address in network and 4 <= offset < network.num_addresses - 1


# -- the task lifecycle ------------------------------------------------------------------------------


def test_tasks_go_provisioning_pending_running_on_the_clock(lab: Lab, region: str) -> None:
    stack = build_stack(lab, region, settle=False)
    svc = stack.service()
    assert (svc["runningCount"], svc["pendingCount"], svc["deployments"][0]["rolloutState"]) == (0, 0, "IN_PROGRESS")
    assert svc["deploymentConfiguration"]["minimumHealthyPercent"] == 100
    assert svc["deploymentConfiguration"]["maximumPercent"] == 200

    advance(region, 1)  # the scheduler reacts one second after CreateService
    tasks = stack.tasks()
    assert [t["lastStatus"] for t in tasks] == ["PROVISIONING", "PROVISIONING"]
    assert all(t["createdAt"] == at(1) and t["desiredStatus"] == "RUNNING" for t in tasks)
    assert (stack.service()["runningCount"], stack.service()["pendingCount"]) == (0, 2)

    advance(region, 9.9)
    assert {t["lastStatus"] for t in stack.tasks()} == {"PROVISIONING"}
    advance(region, 0.1)  # ENI attached after 10 s: PENDING, the image is being pulled
    tasks = stack.tasks()
    assert {(t["lastStatus"], t["connectivity"]) for t in tasks} == {("PENDING", "CONNECTED")}
    assert all(t["pullStartedAt"] == at(11) for t in tasks)

    advance(region, 20)
    tasks = stack.tasks()
    assert {t["lastStatus"] for t in tasks} == {"RUNNING"}
    assert all(t["startedAt"] == at(31) and t["pullStoppedAt"] == at(31) for t in tasks)
    assert all(c["lastStatus"] == "RUNNING" and c["healthStatus"] == "UNKNOWN" for t in tasks for c in t["containers"])
    assert (stack.service()["runningCount"], stack.service()["pendingCount"]) == (2, 0)
    assert stack.service()["deployments"][0]["rolloutState"] == "IN_PROGRESS"  # targets not yet healthy

    advance(region, 5)  # one passing health check: healthy, and the deployment is done
    svc = stack.service()
    assert svc["deployments"][0]["rolloutState"] == "COMPLETED"
    deployment = svc["deployments"][0]["id"]
    ids = " ".join(f"(task {task_id(t)})" for t in tasks)
    assert stack.events() == [
        f"(service {SERVICE}) has started 2 tasks: {ids}.",
        f"(service {SERVICE}) registered 2 targets in (target-group {stack.tg_arn})",
        f"(service {SERVICE}) (deployment {deployment}) deployment completed.",
        f"(service {SERVICE}) has reached a steady state.",
    ]
    assert svc["events"][0]["createdAt"] == at(36)


def test_tasks_spread_over_zones_with_addresses_of_their_subnets(lab: Lab, region: str) -> None:
    stack = build_stack(lab, region)
    stack.ecs.update_service(cluster=CLUSTER, service=SERVICE, desiredCount=6)
    advance(region, 60)
    tasks = stack.tasks()
    assert len(tasks) == 6 and {t["lastStatus"] for t in tasks} == {"RUNNING"}
    zones = [t["availabilityZone"] for t in tasks]
    assert sorted(zones) == ["us-west-2a"] * 3 + ["us-west-2b"] * 3
    cidrs = {s["SubnetId"]: (s["CidrBlock"], s["AvailabilityZone"]) for s in stack.ec2.describe_subnets()["Subnets"]}
    for task in tasks:
        cidr, zone = cidrs[subnet_of(task)]
        assert usable(ip_of(task), cidr) and zone == task["availabilityZone"]
    assert len({ip_of(t) for t in tasks}) == 6
    # Scaling in keeps the zones balanced.
    stack.ecs.update_service(cluster=CLUSTER, service=SERVICE, desiredCount=2)
    advance(region, 60)
    assert sorted(t["availabilityZone"] for t in stack.tasks()) == ["us-west-2a", "us-west-2b"]
    assert stack.service()["runningCount"] == 2


def test_a_full_subnet_fails_tasks_at_provisioning_and_gives_addresses_back(lab: Lab, region: str) -> None:
    """A /28 has 11 usable addresses: task 12 onwards fails to start (it is not an API error)."""
    stack = build_stack(lab, region)
    ec2 = stack.ec2
    tiny = ec2.create_subnet(VpcId=stack.net.vpc_id, CidrBlock="10.0.4.0/28", AvailabilityZone="us-west-2a")["Subnet"]
    ec2.associate_route_table(
        RouteTableId=stack.net.route_tables["my-workspace-rtb-private1-a"], SubnetId=tiny["SubnetId"]
    )
    assert tiny["AvailableIpAddressCount"] == 11
    stack.ecs.create_service(
        cluster=CLUSTER,
        serviceName="my-app-batch",
        taskDefinition=stack.built["service"].task_definition_arn,
        desiredCount=20,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": [tiny["SubnetId"]],
                "securityGroups": [stack.net.security_groups["my-app-frontend-sg"]],
                "assignPublicIp": "DISABLED",
            }
        },
    )

    def free() -> int:
        return int(ec2.describe_subnets(SubnetIds=[tiny["SubnetId"]])["Subnets"][0]["AvailableIpAddressCount"])

    def check_addresses() -> list[dict[str, Any]]:
        live = [t for t in stack.tasks(service="my-app-batch") if ip_of(t)]
        ips = [ip_of(t) for t in live]
        assert len(ips) == len(set(ips)), "two tasks share an address"
        assert all(usable(ip, "10.0.4.0/28") for ip in ips), ips
        assert free() == 11 - len(ips)
        return live

    for _ in range(8):  # property: at every step, addresses are unique, usable, and counted
        advance(region, 5)
        check_addresses()
    live = check_addresses()
    assert len(live) == 11 and free() == 0
    failed = stack.tasks("STOPPED", "my-app-batch")
    assert len(failed) == 9
    reason = (
        f"Unexpected EC2 error while attempting to Create Network Interface in subnet '{tiny['SubnetId']}': "
        "InsufficientFreeAddressesInSubnet"
    )
    assert {(t["stopCode"], t["stoppedReason"], t["lastStatus"]) for t in failed} == {
        ("TaskFailedToStart", reason, "STOPPED")
    }
    assert all(ip_of(t) == "" and "startedAt" not in t for t in failed)
    assert all(t["stoppedAt"] == at(71) for t in failed)  # PROVISIONING for 10 s, then stopped
    batch = stack.service("my-app-batch")
    assert (batch["desiredCount"], batch["runningCount"]) == (20, 11)
    assert "(service my-app-batch) is unable to consistently start tasks successfully." in stack.events("my-app-batch")

    # Scaling in gives the addresses back once the tasks are STOPPED (ENIs deleted).
    stack.ecs.update_service(cluster=CLUSTER, service="my-app-batch", desiredCount=2)
    advance(region, 1)
    assert free() == 0  # stopping tasks still hold their ENI
    advance(region, 15)
    assert free() == 9
    scaled_in = [t for t in stack.tasks("STOPPED", "my-app-batch") if t["stopCode"] == "ServiceSchedulerInitiated"]
    # 9 running tasks, and the 9 retries that were still PROVISIONING (a task reaching RUNNING at
    # t=91 ended the run of failures, so the scheduler had tried again at t=92).
    assert len(scaled_in) == 18
    deployment = batch["deployments"][0]["id"]
    assert {t["stoppedReason"] for t in scaled_in} == {f"Scaling activity initiated by (deployment {deployment})"}
    ran = [t for t in scaled_in if "startedAt" in t]
    assert len(ran) == 9 and {c["exitCode"] for t in ran for c in t["containers"]} == {0}
    events = stack.events("my-app-batch")
    assert "(service my-app-batch) stopped 9 pending tasks." in events
    assert any(e.startswith("(service my-app-batch) has stopped 9 running tasks: (task ") for e in events)
    assert len(check_addresses()) == 2
    assert clock_errors(region) == []


def test_stop_task_drains_then_stops_and_releases_the_address(lab: Lab, region: str) -> None:
    stack = build_stack(lab, region)
    victim, other = stack.tasks()
    ip = ip_of(victim)
    subnet_id = subnet_of(victim)

    def free() -> int:
        return int(stack.ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["AvailableIpAddressCount"])

    stack.ecs.stop_task(cluster=CLUSTER, task=victim["taskArn"], reason="lesson 05: stop one task")
    task = stack.describe_task(victim["taskArn"])
    assert (task["lastStatus"], task["desiredStatus"], task["stopCode"]) == ("DEACTIVATING", "STOPPED", "UserInitiated")
    assert task["stoppedReason"] == "lesson 05: stop one task" and task["stoppingAt"] == at(60)
    assert stack.health()[ip]["State"] == "draining"
    assert stack.health()[ip]["Reason"] == "Target.DeregistrationInProgress"
    # ListTasks lists RUNNING-desired tasks unless asked for STOPPED ones.
    assert victim["taskArn"] not in stack.ecs.list_tasks(cluster=CLUSTER)["taskArns"]
    assert victim["taskArn"] in stack.ecs.list_tasks(cluster=CLUSTER, desiredStatus="STOPPED")["taskArns"]
    stopped = stack.ecs.list_tasks(cluster=CLUSTER, serviceName=SERVICE, desiredStatus="STOPPED")["taskArns"]
    assert victim["taskArn"] in stopped

    advance(region, 1)  # the service starts a replacement at once (maximumPercent leaves room)
    assert f"(service {SERVICE}) has started 1 tasks:" in stack.events()[-1]
    during = free()  # (the replacement took an address of the zone that lost a task)
    advance(region, 28.9)
    assert stack.describe_task(victim["taskArn"])["lastStatus"] == "DEACTIVATING"
    advance(region, 0.1)  # 30 s of draining (the lab's deregistration delay), then SIGTERM
    assert stack.describe_task(victim["taskArn"])["lastStatus"] == "STOPPING"
    assert ip not in stack.health()
    advance(region, 5)
    task = stack.describe_task(victim["taskArn"])
    assert task["lastStatus"] == "DEPROVISIONING" and task["containers"][0]["exitCode"] == 0
    assert free() == during
    advance(region, 10)
    task = stack.describe_task(victim["taskArn"])
    assert (task["lastStatus"], task["stoppedAt"], task["connectivity"]) == ("STOPPED", at(105), "DISCONNECTED")
    assert free() == during + 1
    enis = stack.ec2.describe_network_interfaces()["NetworkInterfaces"]
    assert ip not in {e["PrivateIpAddress"] for e in enis}
    assert stack.describe_task(other["taskArn"])["lastStatus"] == "RUNNING"


def test_list_tasks_filters_by_service(lab: Lab, region: str) -> None:
    stack = build_stack(lab, region)
    standalone = stack.run_task("my-workspace-subnet-app-private1-a")
    by_service = set(stack.ecs.list_tasks(cluster=CLUSTER, serviceName=SERVICE)["taskArns"])
    everything = set(stack.ecs.list_tasks(cluster=CLUSTER)["taskArns"])
    assert len(by_service) == 2 and standalone["taskArn"] not in by_service
    assert everything == by_service | {standalone["taskArn"]}
    assert stack.ecs.list_tasks(cluster=CLUSTER, serviceName="my-app-backend")["taskArns"] == []
    assert standalone["lastStatus"] == "PROVISIONING"
    advance(region, 30)
    assert stack.describe_task(standalone["taskArn"])["lastStatus"] == "RUNNING"


# -- deployments -------------------------------------------------------------------------------------


def test_rolling_update_100_200_never_drops_below_desired_healthy(lab: Lab, region: str) -> None:
    stack = build_stack(lab, region)
    url = listener_url(region)
    old = {task_id(t) for t in stack.tasks()}
    arn = stack.deploy(APP_VERSION="v2", APP_COLOUR="green")
    svc = stack.service()
    assert [(d["status"], d["rolloutState"]) for d in svc["deployments"]] == [
        ("PRIMARY", "IN_PROGRESS"),
        ("ACTIVE", "COMPLETED"),
    ]
    new_deployment = svc["deployments"][0]["id"]
    versions = []
    for _ in range(100):
        advance(region, 1)
        assert stack.healthy() >= 2
        status, headers, _ = http_get(url)
        assert status == 200
        versions.append(headers["x-app-version"])
    assert versions[0] == "v1" and versions[-1] == "v2"
    svc = stack.service()
    assert [(d["status"], d["taskDefinition"], d["rolloutState"]) for d in svc["deployments"]] == [
        ("PRIMARY", arn, "COMPLETED")
    ]
    assert (svc["runningCount"], svc["desiredCount"]) == (2, 2)
    stopped = [t for t in stack.tasks("STOPPED") if task_id(t) in old]
    assert len(stopped) == 2
    assert {t["stoppedReason"] for t in stopped} == {f"Scaling activity initiated by (deployment {new_deployment})"}
    assert {t["stopCode"] for t in stopped} == {"ServiceSchedulerInitiated"}
    events = stack.events()
    assert f"(service {SERVICE}) has begun draining connections on 2 tasks." in events
    assert events[-2:] == [
        f"(service {SERVICE}) (deployment {new_deployment}) deployment completed.",
        f"(service {SERVICE}) has reached a steady state.",
    ]


def test_recreate_0_100_stops_every_old_task_before_starting_new_ones(lab: Lab, region: str) -> None:
    stack = build_stack(lab, region)
    url = listener_url(region)
    stack.deploy(APP_VERSION="v2", deploymentConfiguration={"minimumHealthyPercent": 0, "maximumPercent": 100})
    advance(region, 1)
    assert {t["lastStatus"] for t in stack.tasks("STOPPED")} == {"DEACTIVATING"}
    assert stack.tasks() == []  # nothing new yet: maximumPercent 100 leaves no room
    assert http_get(url)[0] == 503  # every target is draining: the ALB has nothing to send to
    advance(region, 44.9)
    assert stack.tasks() == []
    advance(region, 0.1)  # 30 s draining + 5 s stopping + 10 s deprovisioning: the old tasks are STOPPED
    assert {t["lastStatus"] for t in stack.tasks("STOPPED")} == {"STOPPED"}
    advance(region, 1)
    new = stack.tasks()
    assert len(new) == 2 and {t["createdAt"] for t in new} == {at(107)}
    advance(region, 35)
    status, headers, _ = http_get(url)
    assert (status, headers["x-app-version"]) == (200, "v2")
    assert stack.service()["deployments"][0]["rolloutState"] == "COMPLETED"


def test_a_deployment_min_max_cannot_move_gets_ecs_event(lab: Lab, region: str) -> None:
    stack = build_stack(lab, region)
    stack.ecs.update_service(cluster=CLUSTER, service=SERVICE, desiredCount=1)
    advance(region, 60)
    stack.deploy(APP_VERSION="v2", deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 100})
    advance(region, 30)
    message = (
        f"(service {SERVICE}) was unable to stop or start tasks during a deployment because of the service "
        "deployment configuration. Update the minimumHealthyPercent or maximumPercent value and try again."
    )
    assert stack.events().count(message) == 1
    assert [d["status"] for d in stack.service()["deployments"]] == ["PRIMARY", "ACTIVE"]


def test_failing_health_checks_replace_tasks_after_the_grace_period(lab: Lab, region: str) -> None:
    """New tasks failing the ALB check are stopped at the end of the 30 s grace period, old ones keep serving."""
    stack = build_stack(lab, region)
    url = listener_url(region)
    stack.deploy(APP_VERSION="v2", FAIL_HEALTH="true")
    advance(region, 31)  # new tasks RUNNING at t=91 (launched t=61)
    new = stack.tasks()
    new = [t for t in new if t["startedAt"] == at(91)]
    assert len(new) == 2
    advance(region, 15)  # checks at t=96 (still initial) and t=106 (second failure: unhealthy)
    health = stack.health()
    for task in new:
        assert health[ip_of(task)] == {
            "State": "unhealthy",
            "Reason": "Target.ResponseCodeMismatch",
            "Description": "Health checks failed with these codes: [500]",
        }
    assert all(stack.describe_task(t["taskArn"])["desiredStatus"] == "RUNNING" for t in new)  # grace period
    assert http_get(url)[1]["x-app-version"] == "v1"  # healthy old targets get the traffic
    advance(region, 15)  # grace period (30 s from t=91) ends at t=121
    svc = stack.service()
    for task in new:
        described = stack.describe_task(task["taskArn"])
        assert described["desiredStatus"] == "STOPPED"
        assert described["stoppedReason"] == f"Task failed ELB health checks in (target-group {stack.tg_arn})"
        assert described["stopCode"] == "ServiceSchedulerInitiated"
        unhealthy = (
            f"(service {SERVICE}) (task {task_id(task)}) (port 80) is unhealthy in (target-group {stack.tg_arn}) "
            "due to (reason Health checks failed with these codes: [500])."
        )
        event = next(e for e in svc["events"] if e["message"] == unhealthy)
        assert event["createdAt"] == at(121)
    assert svc["deployments"][0]["failedTasks"] == 2
    assert stack.healthy() == 2 and http_get(url)[0] == 200


def test_unhealthy_tasks_are_replaced_before_they_are_stopped(lab: Lab, region: str) -> None:
    """Since 2023 ECS starts the replacement first when maximumPercent allows, and stops the old one after."""
    stack = build_stack(lab, region)
    ec2 = stack.ec2
    app_sg = stack.net.security_groups["my-app-frontend-sg"]
    alb_sg = stack.net.security_groups["my-app-lb-sg"]
    rules = ec2.describe_security_groups(GroupIds=[app_sg])["SecurityGroups"][0]["IpPermissions"]
    permission = next(p for p in rules if any(g["GroupId"] == alb_sg for g in p.get("UserIdGroupPairs", [])))
    originals = stack.tasks()
    ec2.revoke_security_group_ingress(GroupId=app_sg, IpPermissions=[permission])
    advance(region, 25)  # two failed checks (t=66, t=76): Target.Timeout
    health = stack.health()
    assert {(h["State"], h["Reason"], h["Description"]) for h in health.values()} == {
        ("unhealthy", "Target.Timeout", "Request timed out")
    }
    tasks = stack.tasks()
    assert len(tasks) == 4  # two replacements started, the unhealthy originals still run
    assert all(stack.describe_task(t["taskArn"])["lastStatus"] == "RUNNING" for t in originals)
    events = stack.events()
    started = next(
        i for i, e in enumerate(events) if e.startswith(f"(service {SERVICE}) has started 2 tasks") and i > 2
    )
    assert all(" is unhealthy in " in e for e in events[started - 2 : started])
    ec2.authorize_security_group_ingress(GroupId=app_sg, IpPermissions=[permission])
    advance(region, 40)  # replacements RUNNING at t=106, healthy at t=111: then the originals stop
    for task in originals:
        described = stack.describe_task(task["taskArn"])
        assert described["desiredStatus"] == "STOPPED"
        assert described["stoppedReason"] == f"Task failed ELB health checks in (target-group {stack.tg_arn})"
    assert stack.healthy() == 2 and stack.service()["runningCount"] == 2


def test_crash_on_start_stops_the_task_with_exit_code_1(lab: Lab, region: str) -> None:
    stack = build_stack(lab, region)
    stack.deploy(APP_VERSION="v2", CRASH_ON_START="true")
    advance(region, 31)
    crashed = [t for t in stack.tasks("STOPPED")]
    assert len(crashed) == 2
    for task in crashed:
        assert task["stopCode"] == "EssentialContainerExited"
        assert task["stoppedReason"] == "Essential container in task exited"
        assert task["startedAt"] == at(91)  # it did reach RUNNING: the container started, then exited
        assert task["containers"][0]["lastStatus"] == "STOPPED"
        assert task["containers"][0]["exitCode"] == 1
    advance(region, 120)
    events = stack.events()
    # Tasks that stop after RUNNING do not trigger the throttle logic; the old tasks keep serving.
    assert not any("unable to consistently start" in e for e in events)
    assert http_get(listener_url(region))[1]["x-app-version"] == "v1"
    assert stack.service()["deployments"][0]["failedTasks"] >= 4


# -- pulling the image -------------------------------------------------------------------------------


def _reasons(stack: Stack) -> set[str]:
    return {t["stoppedReason"] for t in stack.tasks("STOPPED")}


def test_an_unpushed_tag_cannot_be_pulled_and_retries_slow_down(lab: Lab, region: str) -> None:
    stack = build_stack(lab, region)
    image = stack.image.rsplit(":", 1)[0] + ":v9"
    stack.deploy(image=image, APP_VERSION="v9")
    advance(region, 21)  # PROVISIONING 10 s, PENDING, the pull fails after 10 s
    failed = stack.tasks("STOPPED")
    assert len(failed) == 2
    assert {(t["stopCode"], t["stoppedReason"]) for t in failed} == {
        (
            "TaskFailedToStart",
            f"CannotPullContainerError: pull image manifest has been retried 5 time(s): "
            f"failed to resolve ref {image}: {image}: not found",
        )
    }
    advance(region, 600)
    launches = sorted({t["createdAt"] for t in stack.tasks("STOPPED")})
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(launches)]
    assert gaps[0] < 30 and gaps[-1] > gaps[0] * 2  # service throttle logic: retries slow down
    assert f"(service {SERVICE}) is unable to consistently start tasks successfully." in stack.events()
    assert stack.service()["runningCount"] == 2  # the old deployment keeps running


def _endpoint(stack: Stack, service: str, kind: str = "Interface") -> None:
    ec2 = stack.ec2
    name = f"com.amazonaws.us-west-2.{service}"
    if kind == "Gateway":
        tables = [stack.net.route_tables[n] for n in ("my-workspace-rtb-private1-a", "my-workspace-rtb-private2-b")]
        ec2.create_vpc_endpoint(
            VpcId=stack.net.vpc_id, ServiceName=name, VpcEndpointType="Gateway", RouteTableIds=tables
        )
    else:
        private = [
            stack.net.subnets[n] for n in ("my-workspace-subnet-app-private1-a", "my-workspace-subnet-app-private2-b")
        ]
        ec2.create_vpc_endpoint(
            VpcId=stack.net.vpc_id,
            ServiceName=name,
            VpcEndpointType="Interface",
            SubnetIds=private,
            SecurityGroupIds=[stack.net.security_groups["my-app-frontend-sg"]],
            PrivateDnsEnabled=True,
        )


def _redeploy_and_wait(stack: Stack) -> None:
    for arn in stack.ecs.list_tasks(cluster=CLUSTER, serviceName=SERVICE)["taskArns"]:
        stack.ecs.stop_task(cluster=CLUSTER, task=arn)
    stack.ecs.update_service(cluster=CLUSTER, service=SERVICE, forceNewDeployment=True)
    advance(stack.endpoint, 60)


def test_private_subnets_without_nat_need_the_vpc_endpoints(lab: Lab, region: str) -> None:
    """No NAT: registry auth times out first; then each endpoint moves the failure one step further."""
    from labsupport import loadbalancer, network

    net = network.build(lab, nat=False)
    lb = loadbalancer.build(lab, net)
    built = fargate.build(lab, net, lb)
    stack = Stack(lab, region, {"network": net, "load_balancer": lb, "service": built})
    advance(region, 60)
    auth = re.compile(
        r"^ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval "
        r"failed: unable to retrieve ecr registry auth: service call has been retried 3 time\(s\): RequestError: "
        r'send request failed caused by: Post "https://api\.ecr\.us-west-2\.amazonaws\.com/": dial tcp '
        r"52\.94\.\d+\.\d+:443: i/o timeout\. Please check your task network configuration\.$"
    )
    assert _reasons(stack) and all(auth.match(r) for r in _reasons(stack)), _reasons(stack)
    assert {t["stopCode"] for t in stack.tasks("STOPPED")} == {"TaskFailedToStart"}

    steps = [
        ("ecr.api", "Interface", r"^CannotPullContainerError: pull image manifest has been retried 5 time\(s\)"),
        ("ecr.dkr", "Interface", r"^CannotPullContainerError: ref pull has been retried 5 time\(s\): failed to copy"),
        ("s3", "Gateway", r"^ResourceInitializationError: failed to validate logger args: .*logs\.us-west-2"),
    ]
    for service, kind, expected in steps:
        _endpoint(stack, service, kind)
        control(region, "/_lab/clock")  # (no time passes between the steps' API calls)
        seen = len(stack.tasks("STOPPED"))
        _redeploy_and_wait(stack)
        newest = stack.tasks("STOPPED")[seen:]
        assert newest and any(re.match(expected, t["stoppedReason"]) for t in newest), _reasons(stack)
    _endpoint(stack, "logs")
    _redeploy_and_wait(stack)
    assert {t["lastStatus"] for t in stack.tasks()} == {"RUNNING"} and len(stack.tasks()) == 2


def test_public_subnets_need_a_public_ip(lab: Lab, region: str) -> None:
    stack = build_stack(lab, region)
    public = [stack.net.subnets[n] for n in ("my-workspace-subnet-app-public1-a", "my-workspace-subnet-app-public2-b")]

    def network_config(assign: str) -> dict[str, Any]:
        return {
            "awsvpcConfiguration": {
                "subnets": public,
                "securityGroups": [stack.net.security_groups["my-app-frontend-sg"]],
                "assignPublicIp": assign,
            }
        }

    stack.ecs.create_service(
        cluster=CLUSTER,
        serviceName="my-app-public",
        taskDefinition=stack.built["service"].task_definition_arn,
        desiredCount=1,
        launchType="FARGATE",
        networkConfiguration=network_config("DISABLED"),
    )
    advance(region, 30)
    failed = stack.tasks("STOPPED", "my-app-public")
    assert len(failed) == 1 and failed[0]["stoppedReason"].startswith(
        "ResourceInitializationError: unable to pull secrets or registry auth"
    )
    stack.ecs.update_service(
        cluster=CLUSTER,
        service="my-app-public",
        networkConfiguration=network_config("ENABLED"),
        forceNewDeployment=True,
    )
    advance(region, 60)
    assert [t["lastStatus"] for t in stack.tasks(service="my-app-public")] == ["RUNNING"]


def test_a_missing_log_group_stops_the_task(lab: Lab, region: str) -> None:
    stack = build_stack(lab, region)
    lab.client("logs").delete_log_group(logGroupName="/ecs/my-app-frontend")
    stack.deploy(APP_VERSION="v2")
    advance(region, 21)
    assert _reasons(stack) == {
        "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: "
        "failed to create Cloudwatch log stream: ResourceNotFoundException: The specified log group does not "
        "exist. : exit status 1"
    }


# -- circuit breaker ---------------------------------------------------------------------------------


def test_circuit_breaker_fails_and_rolls_back_a_deployment(lab: Lab, region: str) -> None:
    stack = build_stack(lab, region)
    v1 = stack.service()["taskDefinition"]
    previous = stack.service()["deployments"][0]["id"]
    image = stack.image.rsplit(":", 1)[0] + ":v9"
    stack.deploy(
        image=image,
        APP_VERSION="v9",
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
    )
    failed_id = stack.service()["deployments"][0]["id"]
    advance(region, 120)
    svc = stack.service()
    events = stack.events()
    assert f"(service {SERVICE}) (deployment {failed_id}) deployment failed: tasks failed to start." in events
    assert f"(service {SERVICE}) rolling back to deployment {previous}." in events
    # The previous deployment is PRIMARY again under its own id; the failed one is ACTIVE and FAILED.
    first = svc["deployments"][0]
    assert (first["id"], first["status"]) == (previous, "PRIMARY")
    assert svc["taskDefinition"] == v1
    failed = [d for d in svc["deployments"] if d["id"] == failed_id]
    for deployment in failed:
        assert (deployment["status"], deployment["rolloutState"]) == ("ACTIVE", "FAILED")
        assert deployment["rolloutStateReason"] == "ECS deployment circuit breaker: tasks failed to start."
    advance(region, 120)
    svc = stack.service()
    assert [(d["id"], d["status"], d["rolloutState"]) for d in svc["deployments"]] == [
        (previous, "PRIMARY", "COMPLETED")
    ]
    assert svc["runningCount"] == 2
    assert stack.events()[-2:] == [
        f"(service {SERVICE}) (deployment {previous}) deployment completed.",
        f"(service {SERVICE}) has reached a steady state.",
    ]


# -- robustness: a failing clock event never leaves a task half-way ---------------------------------


def test_a_failing_clock_event_never_leaves_a_task_half_way(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lab bug inside a scheduled step is recorded, and its task is brought to a clean STOPPED."""
    import threading

    from werkzeug.serving import make_server

    from labsupport.region.app import RegionApp

    app = RegionApp()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        original_start = app.world.apps.start
        calls = {"n": 0}

        def flaky_start(*args: Any, **kwargs: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == 1:
                raise RuntimeError("boom (injected)")
            return original_start(*args, **kwargs)

        monkeypatch.setattr(app.world.apps, "start", flaky_start)
        original_launch = app.world.ecs._launch
        launches = {"n": 0}

        def flaky_launch(*args: Any, **kwargs: Any) -> Any:
            launches["n"] += 1
            if launches["n"] == 3:
                raise RuntimeError("launch failed (injected)")
            return original_launch(*args, **kwargs)

        monkeypatch.setattr(app.world.ecs, "_launch", flaky_launch)
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(key, raising=False)
        the_lab = Lab(mode="offline", region="us-west-2", config=config.load(), endpoint=endpoint)
        monkeypatch.setattr(labmod, "_current", the_lab)
        stack = Stack(the_lab, endpoint, catchup.catch_up(6, the_lab, quiet=True))
        advance(endpoint, 31)
        errors = clock_errors(endpoint)
        assert len(errors) == 1 and "boom (injected)" in errors[0]
        broken = [t for t in stack.tasks("STOPPED") if t["stoppedReason"].startswith("InternalError:")]
        assert len(broken) == 1 and broken[0]["lastStatus"] == "STOPPED"
        interfaces = stack.ec2.describe_network_interfaces()["NetworkInterfaces"]
        assert ip_of(broken[0]) not in {e["PrivateIpAddress"] for e in interfaces}
        advance(endpoint, 120)  # the replacement's launch fails once (a reconcile error), then succeeds
        errors = clock_errors(endpoint)
        assert len(errors) == 2 and "launch failed (injected)" in errors[1]
        assert [t["lastStatus"] for t in stack.tasks()] == ["RUNNING", "RUNNING"]
        assert stack.healthy() == 2
    finally:
        server.shutdown()
        app.clock.shutdown()
        app.world.shutdown()


def test_describe_calls_keep_their_shapes(lab: Lab, region: str) -> None:
    """What notebooks read: the keys of describe_services, describe_tasks and describe_target_health."""
    stack = build_stack(lab, region)
    svc = stack.service()
    for key in ("serviceArn", "status", "desiredCount", "runningCount", "pendingCount", "deployments", "events"):
        assert key in svc
    deployment = svc["deployments"][0]
    for key in ("id", "status", "taskDefinition", "desiredCount", "runningCount", "pendingCount", "rolloutState"):
        assert key in deployment
    task = stack.tasks()[0]
    for key in ("taskArn", "lastStatus", "desiredStatus", "attachments", "containers", "availabilityZone", "group"):
        assert key in task
    assert task["group"] == f"service:{SERVICE}" and task["launchType"] == "FARGATE"
