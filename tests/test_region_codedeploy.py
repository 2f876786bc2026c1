"""CodeDeploy blue/green for ECS in the offline region, checked against aws-behaviour.md §5.

Each test converts the chapter-06 stack (:func:`test_region_task_sets.build_blue_green`: a
``CODE_DEPLOY`` service behind ``my-app-frontend-tg-1``, a second target group ``my-app-frontend-tg-2``
attached to the production listener with weight 0), creates the CodeDeploy role
``AWSCodeDeployRoleForECS``, an application with ``computePlatform: ECS`` and a deployment group with
the target-group pair and the production (80) and test (9000) listeners, then deploys with boto3 and
moves the virtual clock. Times are exact: the clock starts at 2026-01-05 09:00:00 UTC.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from test_http_load import LoadClient, realtime
from test_region_ecs_engine import (  # noqa: F401  (lab_fixture provides the "lab" fixture)
    CLUSTER,
    EPOCH,
    SERVICE,
    advance,
    control,
    elapsed,
    http_get,
    lab_fixture,
    listener_url,
)
from test_region_task_sets import BLUE, GREEN, BlueGreen, build_blue_green

from labsupport import appspec
from labsupport import lambdas as client_lambdas
from labsupport.lab import Lab

APP = "my-app-frontend"
GROUP = "my-app-frontend-dg"
TARGET = f"{CLUSTER}:{SERVICE}"
ROLE = "AWSCodeDeployRoleForECS"
ECS_EVENTS = [
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "AllowTestTraffic",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
]
TIMEOUT_MESSAGE = "The deployment timed out while waiting for the replacement task set to become healthy."
CONTAINER_MESSAGE = (
    "The ECS service cannot be updated due to an unexpected error: The container does not exist in the task definition."
)


# -- helpers --------------------------------------------------------------------------------------------


def codedeploy_role(lab: Lab) -> str:
    """The service role CodeDeploy assumes, with AWS's managed policy for ECS deployments."""
    iam = lab.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "codedeploy.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    arn = iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.attach_role_policy(RoleName=ROLE, PolicyArn=f"arn:aws:iam::aws:policy/{ROLE}")
    return str(arn)


class Lesson:
    """The converted stack plus CodeDeploy: the calls a blue/green lesson makes."""

    def __init__(self, stack: BlueGreen) -> None:
        self.stack = stack
        self.cd = stack.lab.client("codedeploy")
        self.endpoint = stack.endpoint

    def group(
        self,
        config: str = "CodeDeployDefault.ECSAllAtOnce",
        *,
        test_listener: bool = True,
        termination: tuple[str, int] = ("TERMINATE", 0),
        ready: tuple[str, int] = ("CONTINUE_DEPLOYMENT", 0),
        rollback: tuple[str, ...] = (),
        alarms: tuple[str, ...] = (),
    ) -> None:
        self.cd.create_application(applicationName=APP, computePlatform="ECS")
        route: dict[str, Any] = {
            "targetGroups": [{"name": BLUE}, {"name": GREEN}],
            "prodTrafficRoute": {"listenerArns": [self.stack.prod]},
        }
        if test_listener:
            route["testTrafficRoute"] = {"listenerArns": [self.stack.test]}
        ready_option: dict[str, Any] = {"actionOnTimeout": ready[0]}
        if ready[0] == "STOP_DEPLOYMENT":
            ready_option["waitTimeInMinutes"] = ready[1]
        self.cd.create_deployment_group(
            applicationName=APP,
            deploymentGroupName=GROUP,
            serviceRoleArn=codedeploy_role(self.stack.lab),
            deploymentConfigName=config,
            ecsServices=[{"clusterName": CLUSTER, "serviceName": SERVICE}],
            deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
            blueGreenDeploymentConfiguration={
                "terminateBlueInstancesOnDeploymentSuccess": {
                    "action": termination[0],
                    "terminationWaitTimeInMinutes": termination[1],
                },
                "deploymentReadyOption": ready_option,
            },
            loadBalancerInfo={"targetGroupPairInfoList": [route]},
            autoRollbackConfiguration={"enabled": bool(rollback), "events": list(rollback)},
            alarmConfiguration={"enabled": bool(alarms), "alarms": [{"name": a} for a in alarms]},
        )

    def release(self, version: str, **environment: str) -> str:
        return self.stack.register(APP_VERSION=version, **environment)

    def deploy(
        self,
        version: str = "v2",
        *,
        container: str = "frontend",
        hooks: dict[str, str] | None = None,
        config: str | None = None,
        **environment: str,
    ) -> str:
        spec = appspec.render(self.release(version, **environment), container, 80, hooks)
        options: dict[str, Any] = {}
        if config:
            options["deploymentConfigName"] = config
        return str(
            self.cd.create_deployment(
                applicationName=APP,
                deploymentGroupName=GROUP,
                revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": spec}},
                **options,
            )["deploymentId"]
        )

    def info(self, deployment_id: str) -> dict[str, Any]:
        return dict(self.cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"])

    def target(self, deployment_id: str) -> dict[str, Any]:
        return dict(
            self.cd.get_deployment_target(deploymentId=deployment_id, targetId=TARGET)["deploymentTarget"]["ecsTarget"]
        )

    def events(self, deployment_id: str) -> list[tuple[str, str]]:
        return [(e["lifecycleEventName"], e["status"]) for e in self.target(deployment_id)["lifecycleEvents"]]

    def event(self, deployment_id: str, name: str) -> dict[str, Any]:
        if self.info(deployment_id)["status"] == "Created":
            return {"lifecycleEventName": name, "status": "Pending"}  # no target before it starts
        return next(e for e in self.target(deployment_id)["lifecycleEvents"] if e["lifecycleEventName"] == name)

    def until(self, check: Callable[[], bool], step: float = 5, limit: float = 900, hooks: bool = False) -> float:
        """Advance the clock in steps until ``check()``; returns the virtual seconds it took."""
        waited = 0.0
        while not check():
            if waited >= limit:
                raise AssertionError(f"not reached within {limit} virtual seconds")
            if hooks:
                control(self.endpoint, "/_lab/lambdas/wait", {"timeout": 60})
                if check():
                    break
            advance(self.endpoint, step)
            waited += step
        return waited

    def move_to(self, seconds: float) -> None:
        """Move the clock to ``seconds`` after the region's start."""
        now = elapsed(self.endpoint)
        assert seconds >= now, (seconds, now)
        advance(self.endpoint, seconds - now)


def offset(when: datetime) -> float:
    """Seconds between the region's start and ``when``."""
    return (when - EPOCH).total_seconds()


@pytest.fixture
def lesson(lab: Lab, region: str) -> Lesson:
    return Lesson(build_blue_green(lab, region))


# -- deployment configurations ----------------------------------------------------------------------------


def test_deployment_configs_predefined_custom_and_the_name_rules(lab: Lab) -> None:
    cd = lab.client("codedeploy")
    names = cd.list_deployment_configs()["deploymentConfigsList"]
    for name in (
        "CodeDeployDefault.ECSAllAtOnce",
        "CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
        "CodeDeployDefault.ECSLinear10PercentEvery3Minutes",
        "CodeDeployDefault.ECSCanary10Percent5Minutes",
        "CodeDeployDefault.ECSCanary10Percent15Minutes",
        "CodeDeployDefault.LambdaLinear10PercentEvery1Minute",  # singular, unlike the ECS ones
        "CodeDeployDefault.OneAtATime",
    ):
        assert name in names
    info = cd.get_deployment_config(deploymentConfigName="CodeDeployDefault.ECSCanary10Percent15Minutes")[
        "deploymentConfigInfo"
    ]
    assert info["computePlatform"] == "ECS"
    assert info["trafficRoutingConfig"] == {
        "type": "TimeBasedCanary",
        "timeBasedCanary": {"canaryPercentage": 10, "canaryInterval": 15},
    }
    linear = cd.get_deployment_config(deploymentConfigName="CodeDeployDefault.ECSLinear10PercentEvery1Minutes")
    assert linear["deploymentConfigInfo"]["trafficRoutingConfig"]["timeBasedLinear"] == {
        "linearPercentage": 10,
        "linearInterval": 1,
    }
    with pytest.raises(cd.exceptions.DeploymentConfigDoesNotExistException):
        cd.get_deployment_config(deploymentConfigName="CodeDeployDefault.ECSLinear10PercentEvery1Minute")

    # The documented CLI example: a 25 % canary, the rest 45 minutes later.
    created = cd.create_deployment_config(
        deploymentConfigName="MyCanary25Percent45Minutes",
        computePlatform="ECS",
        trafficRoutingConfig={
            "type": "TimeBasedCanary",
            "timeBasedCanary": {"canaryPercentage": 25, "canaryInterval": 45},
        },
    )
    assert re.fullmatch(r"[0-9a-f-]{36}", created["deploymentConfigId"])
    mine = cd.get_deployment_config(deploymentConfigName="MyCanary25Percent45Minutes")["deploymentConfigInfo"]
    assert mine["trafficRoutingConfig"]["timeBasedCanary"] == {"canaryPercentage": 25, "canaryInterval": 45}
    assert "MyCanary25Percent45Minutes" in cd.list_deployment_configs()["deploymentConfigsList"]
    with pytest.raises(cd.exceptions.DeploymentConfigAlreadyExistsException):
        cd.create_deployment_config(
            deploymentConfigName="MyCanary25Percent45Minutes",
            computePlatform="ECS",
            trafficRoutingConfig={"type": "AllAtOnce"},
        )
    with pytest.raises(cd.exceptions.InvalidDeploymentConfigNameException, match="reserved"):
        cd.create_deployment_config(
            deploymentConfigName="CodeDeployDefault.MyOwn",
            computePlatform="ECS",
            trafficRoutingConfig={"type": "AllAtOnce"},
        )
    with pytest.raises(cd.exceptions.InvalidTrafficRoutingConfigurationException, match="1 to 99"):
        cd.create_deployment_config(
            deploymentConfigName="TooBig",
            computePlatform="ECS",
            trafficRoutingConfig={
                "type": "TimeBasedLinear",
                "timeBasedLinear": {"linearPercentage": 100, "linearInterval": 1},
            },
        )
    with pytest.raises(cd.exceptions.InvalidOperationException):
        cd.delete_deployment_config(deploymentConfigName="CodeDeployDefault.ECSAllAtOnce")
    cd.delete_deployment_config(deploymentConfigName="MyCanary25Percent45Minutes")
    assert "MyCanary25Percent45Minutes" not in cd.list_deployment_configs()["deploymentConfigsList"]


# -- a whole deployment -----------------------------------------------------------------------------------


def test_lifecycle_in_order_termination_wait_and_target_groups_swapping(lesson: Lesson, region: str) -> None:
    lesson.group(termination=("TERMINATE", 5))
    stack, cd = lesson.stack, lesson.cd
    group = cd.get_deployment_group(applicationName=APP, deploymentGroupName=GROUP)["deploymentGroupInfo"]
    assert group["computePlatform"] == "ECS"
    assert group["alarmConfiguration"] == {"enabled": False, "alarms": []}
    created_at = elapsed(region)

    first = lesson.deploy("v2", APP_COLOUR="green")
    assert first == "d-V9TRS5CY6"  # d- and 9 upper-case letters and digits, the same on every run
    info = lesson.info(first)
    assert (info["status"], info["creator"], info["computePlatform"]) == ("Created", "user", "ECS")
    assert offset(info["createTime"]) == created_at and "startTime" not in info
    assert "deploymentOverview" not in info  # an ECS deployment shows its overview once it has finished
    with pytest.raises(cd.exceptions.DeploymentNotStartedException):
        cd.list_deployment_targets(deploymentId=first)

    advance(region, 1)
    info = lesson.info(first)
    assert info["status"] == "InProgress" and offset(info["startTime"]) == created_at + 1
    assert lesson.events(first)[:2] == [("BeforeInstall", "Succeeded"), ("Install", "InProgress")]
    (replacement,) = [t for t in stack.task_sets() if t["status"] == "ACTIVE"]
    assert (replacement["startedBy"], replacement["externalId"]) == ("CODE_DEPLOY", first)
    assert replacement["loadBalancers"][0]["targetGroupArn"] == stack.green_arn
    assert (replacement["scale"]["value"], replacement["computedDesiredCount"]) == (100.0, 2)

    lesson.until(lambda: lesson.info(first)["instanceTerminationWaitTimeStarted"], step=1, limit=60)
    install = lesson.event(first, "Install")
    assert offset(install["endTime"]) - offset(install["startTime"]) == 36  # 10 s ENI, 20 s pull, 5 s + 1 check
    target = lesson.target(first)
    assert [e["lifecycleEventName"] for e in target["lifecycleEvents"]] == ECS_EVENTS
    assert {e["status"] for e in target["lifecycleEvents"]} == {"Succeeded"}
    starts = [offset(e["startTime"]) for e in target["lifecycleEvents"]]
    assert starts == sorted(starts)
    # During the termination wait, as in the ECS tutorial's sample output.
    info = lesson.info(first)
    assert (info["status"], target["status"]) == ("InProgress", "Succeeded")
    assert "deploymentOverview" not in info and info["deploymentConfigName"] == "CodeDeployDefault.ECSAllAtOnce"
    assert [
        (
            s["taskSetLabel"],
            s["status"],
            s["trafficWeight"],
            s["targetGroup"]["name"],
            s["desiredCount"],
            s["runningCount"],
        )
        for s in target["taskSetsInfo"]
    ] == [("Blue", "ACTIVE", 0.0, BLUE, 2, 2), ("Green", "PRIMARY", 100.0, GREEN, 2, 2)]
    assert target["taskSetsInfo"][1]["identifer"] == replacement["id"]
    assert stack.weights() == {GREEN: 100, BLUE: 0}  # the idle group stays attached with weight 0
    assert stack.weights(stack.test) == {GREEN: 100, BLUE: 0}
    assert stack.service()["taskDefinition"].endswith(":2")
    shifted = offset(lesson.event(first, "AfterAllowTraffic")["endTime"])
    with pytest.raises(cd.exceptions.DeploymentIsNotInReadyStateException):
        cd.continue_deployment(deploymentId=first, deploymentWaitType="READY_WAIT")

    lesson.move_to(shifted + 299)
    assert lesson.info(first)["status"] == "InProgress"
    advance(region, 1)  # terminationWaitTimeInMinutes 5: the original task set goes now
    info = lesson.info(first)
    assert info["status"] == "Succeeded" and offset(info["completeTime"]) == shifted + 300
    assert info["deploymentOverview"] == {
        "Pending": 0,
        "InProgress": 0,
        "Succeeded": 1,
        "Failed": 0,
        "Skipped": 0,
        "Ready": 0,
    }
    assert {t["status"] for t in stack.task_sets()} == {"PRIMARY", "DRAINING"}
    with pytest.raises(cd.exceptions.DeploymentAlreadyCompletedException):
        cd.stop_deployment(deploymentId=first)

    # The next deployment swaps the roles: the replacement goes into tg-1, where the original now is not.
    second = lesson.deploy("v3")
    lesson.until(lambda: lesson.info(second)["instanceTerminationWaitTimeStarted"], step=5, limit=120)
    assert [(s["taskSetLabel"], s["targetGroup"]["name"]) for s in lesson.target(second)["taskSetsInfo"]] == [
        ("Blue", GREEN),
        ("Green", BLUE),
    ]
    assert stack.weights() == {BLUE: 100, GREEN: 0}
    assert lesson.info(second)["previousRevision"] == lesson.info(first)["revision"]
    cd.continue_deployment(deploymentId=second, deploymentWaitType="TERMINATION_WAIT")  # terminate now
    info = lesson.info(second)
    assert info["status"] == "Succeeded" and offset(info["completeTime"]) == elapsed(region)
    assert http_get(listener_url(region))[1]["x-app-version"] == "v3"

    assert cd.list_deployments(applicationName=APP, deploymentGroupName=GROUP)["deployments"] == [second, first]
    assert cd.list_deployments(includeOnlyStatuses=["InProgress"])["deployments"] == []
    assert [d["deploymentId"] for d in cd.batch_get_deployments(deploymentIds=[first, second])["deploymentsInfo"]] == [
        first,
        second,
    ]
    assert cd.list_deployment_targets(deploymentId=second)["targetIds"] == [TARGET]
    (batch,) = cd.batch_get_deployment_targets(deploymentId=second, targetIds=[TARGET])["deploymentTargets"]
    assert batch["deploymentTargetType"] == "ECSTarget" and batch["ecsTarget"]["deploymentId"] == second
    with pytest.raises(cd.exceptions.DeploymentTargetDoesNotExistException):
        cd.get_deployment_target(deploymentId=second, targetId="my-app-cluster:other")
    group = cd.get_deployment_group(applicationName=APP, deploymentGroupName=GROUP)["deploymentGroupInfo"]
    assert group["lastSuccessfulDeployment"]["deploymentId"] == second


# Weights on the production listener: (minutes after AllowTraffic starts, percent on the replacement).
SCHEDULES = [
    ("CodeDeployDefault.ECSAllAtOnce", [(0, 100)]),
    ("CodeDeployDefault.ECSCanary10Percent5Minutes", [(0, 10), (5, 100)]),
    ("CodeDeployDefault.ECSCanary10Percent15Minutes", [(0, 10), (15, 100)]),
    ("CodeDeployDefault.ECSLinear10PercentEvery1Minutes", [(m, 10 * (m + 1)) for m in range(10)]),
    ("CodeDeployDefault.ECSLinear10PercentEvery3Minutes", [(3 * m, 10 * (m + 1)) for m in range(10)]),
    ("Lab30PercentEvery2Minutes", [(0, 30), (2, 60), (4, 90), (6, 100)]),
]


def test_each_configuration_moves_production_on_its_schedule(lesson: Lesson, region: str) -> None:
    lesson.group()
    lesson.cd.create_deployment_config(
        deploymentConfigName="Lab30PercentEvery2Minutes",
        computePlatform="ECS",
        trafficRoutingConfig={
            "type": "TimeBasedLinear",
            "timeBasedLinear": {"linearPercentage": 30, "linearInterval": 2},
        },
    )
    stack = lesson.stack
    for number, (config, steps) in enumerate(SCHEDULES):
        new, old = (GREEN, BLUE) if number % 2 == 0 else (BLUE, GREEN)  # the groups alternate
        deployment = lesson.deploy(f"v{number + 2}", config=config)
        assert lesson.info(deployment)["deploymentConfigName"] == config
        lesson.until(lambda d=deployment: lesson.event(d, "AllowTraffic")["status"] != "Pending", step=1, limit=120)
        begin = offset(lesson.event(deployment, "AllowTraffic")["startTime"])
        before = 0
        for minute, percent in steps:
            if minute:
                lesson.move_to(begin + minute * 60 - 1)
                assert stack.weights() == {new: before, old: 100 - before}, (config, minute)
                lesson.move_to(begin + minute * 60)
            assert stack.weights() == {new: percent, old: 100 - percent}, (config, minute)
            before = percent
        allow = lesson.event(deployment, "AllowTraffic")
        assert allow["status"] == "Succeeded" and offset(allow["endTime"]) == begin + steps[-1][0] * 60
        assert lesson.info(deployment)["status"] == "Succeeded"  # termination wait 0


def test_ready_wait_continue_and_expiry(lesson: Lesson, region: str) -> None:
    lesson.group(ready=("STOP_DEPLOYMENT", 10))
    stack, cd = lesson.stack, lesson.cd
    first = lesson.deploy("v2")
    lesson.until(lambda: lesson.info(first)["status"] == "Ready", step=5, limit=120)
    info = lesson.info(first)
    assert "deploymentOverview" not in info and lesson.target(first)["status"] == "Ready"
    # Test traffic already reaches the replacement; production does not.
    assert stack.weights(stack.test) == {GREEN: 100, BLUE: 0}
    assert stack.weights() == {BLUE: 100, GREEN: 0}
    assert lesson.events(first)[4:] == [
        ("AfterAllowTestTraffic", "Succeeded"),
        ("BeforeAllowTraffic", "Pending"),
        ("AllowTraffic", "Pending"),
        ("AfterAllowTraffic", "Pending"),
    ]
    assert http_get(listener_url(region, 9000))[1]["x-app-version"] == "v2"
    assert http_get(listener_url(region))[1]["x-app-version"] == "v1"
    advance(region, 9 * 60)
    with pytest.raises(cd.exceptions.InvalidDeploymentStatusException):
        cd.continue_deployment(deploymentId=first, deploymentWaitType="TERMINATION_WAIT")
    cd.continue_deployment(deploymentId=first, deploymentWaitType="READY_WAIT")
    info = lesson.info(first)
    assert info["status"] == "Succeeded" and stack.weights() == {GREEN: 100, BLUE: 0}

    # Nobody continues the next one: after waitTimeInMinutes it is Stopped, production untouched.
    second = lesson.deploy("v3")
    lesson.until(lambda: lesson.info(second)["status"] == "Ready", step=5, limit=120)
    ready_at = elapsed(region)
    lesson.until(lambda: lesson.info(second)["status"] != "Ready", step=30, limit=700)
    info = lesson.info(second)
    assert info["status"] == "Stopped" and info["errorInformation"]["code"] == "TIMEOUT"
    assert 600 <= offset(info["completeTime"]) - ready_at + 5 <= 605
    assert stack.weights() == {GREEN: 100, BLUE: 0}
    assert "rollbackInfo" not in info


def test_stop_without_and_with_rollback(lesson: Lesson, region: str) -> None:
    lesson.group("CodeDeployDefault.ECSCanary10Percent15Minutes", termination=("TERMINATE", 5))
    stack, cd = lesson.stack, lesson.cd
    first = lesson.deploy("v2")
    lesson.until(lambda: lesson.event(first, "AllowTraffic")["status"] == "InProgress", step=5, limit=120)
    assert stack.weights() == {GREEN: 10, BLUE: 90}
    answer = cd.stop_deployment(deploymentId=first, autoRollbackEnabled=False)
    assert answer["status"] == "Succeeded"
    info = lesson.info(first)
    assert info["status"] == "Stopped" and info["errorInformation"]["code"] == "MANUAL_STOP"
    assert "rollbackInfo" not in info
    assert lesson.events(first)[-2:] == [("AllowTraffic", "Failed"), ("AfterAllowTraffic", "Skipped")]
    advance(region, 16 * 60)  # the canary's second step never comes: a stop leaves things as they are
    assert stack.weights() == {GREEN: 10, BLUE: 90}
    assert sorted(t["status"] for t in stack.task_sets()) == ["ACTIVE", "PRIMARY"]

    second = lesson.deploy("v3")
    lesson.until(lambda: lesson.event(second, "AllowTraffic")["status"] == "InProgress", step=5, limit=180)
    assert stack.weights() == {GREEN: 10, BLUE: 90}
    cd.stop_deployment(deploymentId=second, autoRollbackEnabled=True)
    info = lesson.info(second)
    rollback = info["rollbackInfo"]["rollbackDeploymentId"]
    assert info["status"] == "Stopped" and re.fullmatch(r"d-[A-Z0-9]{9}", rollback)
    assert info["rollbackInfo"]["rollbackMessage"] == (
        f"Deployment {second} terminated. Automatic rollback is triggered with a DeploymentId {rollback}."
    )
    again = lesson.info(rollback)
    assert (again["creator"], again["status"], again["deploymentConfigName"]) == (
        "codeDeployRollback",
        "Created",
        "CodeDeployDefault.ECSAllAtOnce",  # not the group's canary
    )
    assert again["rollbackInfo"] == {
        "rollbackTriggeringDeploymentId": second,
        "rollbackMessage": f"Deployment {rollback} is triggered to roll back deployment {second}.",
    }
    with pytest.raises(cd.exceptions.DeploymentLimitExceededException):
        lesson.deploy("v4")  # the rollback is the group's active deployment now
    advance(region, 1)
    again = lesson.info(rollback)
    assert again["status"] == "Succeeded"
    assert stack.weights() == {BLUE: 100, GREEN: 0} and stack.weights(stack.test) == {BLUE: 100, GREEN: 0}
    assert lesson.events(rollback) == [
        ("BeforeInstall", "Skipped"),
        ("Install", "Succeeded"),
        ("AfterInstall", "Skipped"),
        ("AllowTestTraffic", "Succeeded"),
        ("AfterAllowTestTraffic", "Skipped"),
        ("BeforeAllowTraffic", "Skipped"),
        ("AllowTraffic", "Succeeded"),
        ("AfterAllowTraffic", "Skipped"),
    ]
    sets = {t["status"]: t for t in stack.task_sets()}
    assert sets["PRIMARY"]["loadBalancers"][0]["targetGroupArn"] == stack.blue_arn
    assert (sets["DRAINING"]["externalId"], sets["DRAINING"]["scale"]["value"]) == (second, 0.0)
    assert stack.service()["taskDefinition"].endswith(":1")
    assert http_get(listener_url(region))[1]["x-app-version"] == "v1"


def test_an_alarm_stops_and_rolls_back_and_one_already_in_alarm_stops_at_once(lesson: Lesson, region: str) -> None:
    cloudwatch = lesson.stack.lab.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="my-app-frontend-errors",
        Namespace="Lab/Deployments",
        MetricName="Errors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    lesson.group(
        "CodeDeployDefault.ECSCanary10Percent15Minutes",
        rollback=("DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"),
        alarms=("my-app-frontend-errors",),
    )
    stack, cd = lesson.stack, lesson.cd
    group = cd.get_deployment_group(applicationName=APP, deploymentGroupName=GROUP)["deploymentGroupInfo"]
    assert group["alarmConfiguration"]["alarms"] == [{"name": "my-app-frontend-errors"}]
    first = lesson.deploy("v2")
    lesson.until(lambda: lesson.event(first, "AllowTraffic")["status"] == "InProgress", step=5, limit=120)
    assert stack.weights() == {GREEN: 10, BLUE: 90}
    cloudwatch.put_metric_data(Namespace="Lab/Deployments", MetricData=[{"MetricName": "Errors", "Value": 5}])
    lesson.until(lambda: lesson.info(first)["status"] != "InProgress", step=10, limit=150)
    info = lesson.info(first)
    assert info["status"] == "Stopped"
    assert info["errorInformation"] == {
        "code": "ALARM_ACTIVE",
        "message": "One or more alarms have been activated according to the Amazon CloudWatch metrics you selected, "
        "and the affected deployments have been stopped. Activated alarms: <my-app-frontend-errors>",
    }
    rollback = info["rollbackInfo"]["rollbackDeploymentId"]
    lesson.until(lambda: lesson.info(rollback)["status"] == "Succeeded", step=1, limit=10)
    assert stack.weights() == {BLUE: 100, GREEN: 0}

    # An alarm already in ALARM when a deployment starts stops it before anything happens.
    cloudwatch.set_alarm_state(AlarmName="my-app-frontend-errors", StateValue="ALARM", StateReason="still failing")
    second = lesson.deploy("v3")
    advance(region, 1)
    info = lesson.info(second)
    assert (info["status"], info["errorInformation"]["code"]) == ("Stopped", "ALARM_ACTIVE")
    assert info["startTime"] == info["completeTime"] and "rollbackInfo" not in info
    assert lesson.events(second)[0] == ("BeforeInstall", "Skipped")
    assert len(stack.task_sets()) <= 2 and not [t for t in stack.task_sets() if t.get("externalId") == second]


def test_a_replacement_that_never_becomes_healthy_times_out_after_an_hour(lesson: Lesson, region: str) -> None:
    lesson.group(rollback=("DEPLOYMENT_FAILURE",))
    stack = lesson.stack
    deployment = lesson.deploy("v2", FAIL_HEALTH="true")
    advance(region, 1)
    started = offset(lesson.info(deployment)["startTime"])
    lesson.move_to(started + 3600 - 1)
    assert lesson.info(deployment)["status"] == "InProgress"
    (green,) = [t for t in stack.task_sets() if t["status"] == "ACTIVE"]
    assert green["stabilityStatus"] == "STABILIZING"
    advance(region, 1)
    info = lesson.info(deployment)
    assert info["status"] == "Failed"
    assert info["errorInformation"] == {"code": "TIMEOUT", "message": TIMEOUT_MESSAGE}
    install = lesson.event(deployment, "Install")
    assert install["status"] == "Failed" and offset(install["endTime"]) == started + 3600
    rollback = info["rollbackInfo"]["rollbackDeploymentId"]
    advance(region, 1)
    assert lesson.info(rollback)["status"] == "Succeeded"
    assert stack.weights() == {BLUE: 100, GREEN: 0}
    assert [t["status"] for t in stack.task_sets() if t.get("externalId") == deployment] == ["DRAINING"]


def test_a_wrong_container_name_fails_install_with_the_seeds_error(lesson: Lesson, region: str) -> None:
    lesson.group(rollback=("DEPLOYMENT_FAILURE",))
    deployment = lesson.deploy("v2", container="frontend-staging")
    advance(region, 1)
    info = lesson.info(deployment)
    assert info["status"] == "Failed"
    assert info["errorInformation"] == {"code": "ECS_UPDATE_ERROR", "message": CONTAINER_MESSAGE}
    install = lesson.event(deployment, "Install")
    assert install["status"] == "Failed"
    assert "Fix: set LoadBalancerInfo.ContainerName to one of ['frontend']" in install["diagnostics"]["message"]
    assert "rollbackInfo" not in info  # nothing was changed, so nothing is rolled back
    assert len(lesson.stack.task_sets()) == 1


def test_one_active_deployment_per_group_and_what_create_deployment_refuses(lesson: Lesson, region: str) -> None:
    lesson.group(test_listener=False)
    cd = lesson.cd
    first = lesson.deploy("v2")
    with pytest.raises(cd.exceptions.DeploymentLimitExceededException) as refused:
        lesson.deploy("v3")
    assert refused.value.response["Error"]["Message"] == (
        f"The Deployment Group '{GROUP}' already has an active Deployment '{first}'"
    )
    with pytest.raises(cd.exceptions.DeploymentIsNotInReadyStateException):
        cd.continue_deployment(deploymentId=first, deploymentWaitType="READY_WAIT")
    lesson.until(lambda: lesson.info(first)["status"] == "Succeeded", step=10, limit=120)
    # Without a test listener the deployment has six events, as in the ECS tutorial's output.
    assert [name for name, _ in lesson.events(first)] == [
        "BeforeInstall",
        "Install",
        "AfterInstall",
        "BeforeAllowTraffic",
        "AllowTraffic",
        "AfterAllowTraffic",
    ]
    assert lesson.stack.weights(lesson.stack.test) == {BLUE: 1}  # the test listener was left alone
    with pytest.raises(cd.exceptions.InvalidRevisionException, match="cannot read S3 revisions"):
        cd.create_deployment(
            applicationName=APP,
            deploymentGroupName=GROUP,
            revision={"revisionType": "S3", "s3Location": {"bucket": "b", "key": "appspec.yaml", "bundleType": "YAML"}},
        )
    with pytest.raises(cd.exceptions.InvalidRevisionException, match="ContainerPort must be a number"):
        cd.create_deployment(
            applicationName=APP,
            deploymentGroupName=GROUP,
            revision={
                "revisionType": "AppSpecContent",
                "appSpecContent": {
                    "content": appspec.render(lesson.release("v3"), "frontend", 80).replace(" 80", ' "80"')
                },
            },
        )
    json_spec = json.dumps(
        {
            "version": 0.0,
            "Resources": [
                {
                    "TargetService": {
                        "Type": "AWS::ECS::Service",
                        "Properties": {
                            "TaskDefinition": lesson.release("v3"),
                            "LoadBalancerInfo": {"ContainerName": "frontend", "ContainerPort": 80},
                        },
                    }
                }
            ],
        }
    )
    second = cd.create_deployment(
        applicationName=APP,
        deploymentGroupName=GROUP,
        revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": json_spec}},
    )["deploymentId"]
    lesson.until(lambda: lesson.info(second)["status"] == "Succeeded", step=10, limit=120)
    with pytest.raises(cd.exceptions.DeploymentDoesNotExistException):
        cd.get_deployment(deploymentId="d-NOTTHERE1")


def test_deployment_groups_need_a_code_deploy_service_and_a_valid_pair(lab: Lab, region: str) -> None:
    stack = build_blue_green(lab, region, settle=False)
    cd = lab.client("codedeploy")
    cd.create_application(applicationName=APP, computePlatform="ECS")
    role = codedeploy_role(lab)
    stack.ecs.create_service(
        cluster=CLUSTER,
        serviceName="rolling",
        desiredCount=0,
        taskDefinition=stack.register(),
        launchType="FARGATE",
        networkConfiguration=stack.network(),
    )

    def create(service: str = SERVICE, groups: tuple[str, str] = (BLUE, GREEN), name: str = GROUP) -> None:
        cd.create_deployment_group(
            applicationName=APP,
            deploymentGroupName=name,
            serviceRoleArn=role,
            deploymentConfigName="CodeDeployDefault.ECSAllAtOnce",
            ecsServices=[{"clusterName": CLUSTER, "serviceName": service}],
            deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
            loadBalancerInfo={
                "targetGroupPairInfoList": [
                    {
                        "targetGroups": [{"name": groups[0]}, {"name": groups[1]}],
                        "prodTrafficRoute": {"listenerArns": [stack.prod]},
                    }
                ]
            },
        )

    with pytest.raises(cd.exceptions.InvalidECSServiceException, match="CODE_DEPLOY deployment controller"):
        create("rolling")
    with pytest.raises(cd.exceptions.InvalidTargetGroupPairException, match="my-app-frontend-tg-3 does not exist"):
        create(groups=(BLUE, "my-app-frontend-tg-3"))
    create()
    with pytest.raises(cd.exceptions.ECSServiceMappingLimitExceededException):
        create(name="second-group")


# -- hooks ------------------------------------------------------------------------------------------------

HOOK = """import os

import boto3

codedeploy = boto3.client("codedeploy")


def handler(event, context):
    target = codedeploy.get_deployment_target(deploymentId=event["DeploymentId"], targetId=os.environ["TARGET"])
    events = target["deploymentTarget"]["ecsTarget"]["lifecycleEvents"]
    print("hook for", [e["lifecycleEventName"] for e in events if e["status"] == "InProgress"])
    codedeploy.put_lifecycle_event_hook_execution_status(
        deploymentId=event["DeploymentId"],
        lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
        status=os.environ["STATUS"],
    )
"""


def _lambdas_available(region: str) -> bool:
    try:
        control(region, "/_lab/lambdas")
        return True
    except Exception:
        return False


def test_hooks_run_in_order_and_a_failed_hook_rolls_back(lesson: Lesson, region: str) -> None:
    if not _lambdas_available(region):
        pytest.skip("this region has no Lambda runner (world.lambdas): CodeDeploy hooks cannot run")
    lab = lesson.stack.lab
    for name, status in (("CodeDeployHook_ok", "Succeeded"), ("CodeDeployHook_no", "Failed")):
        client_lambdas.deploy_function(name, HOOK, lab=lab, environment={"TARGET": TARGET, "STATUS": status})
    lesson.group(rollback=("DEPLOYMENT_FAILURE",))
    cd = lesson.cd
    hooked = dict.fromkeys(appspec.HOOK_EVENTS, "CodeDeployHook_ok")
    first = lesson.deploy("v2", hooks=hooked)
    lesson.until(lambda: lesson.info(first)["status"] in ("Succeeded", "Failed"), step=2, limit=120, hooks=True)
    assert lesson.info(first)["status"] == "Succeeded"
    calls = [c for c in control(region, "/_lab/lambdas")["invocations"] if c["caller"] == "codedeploy"]
    assert [next(line for line in c["output"].splitlines() if line.startswith("hook for")) for c in calls] == [
        f"hook for ['{event}']" for event in appspec.HOOK_EVENTS
    ]
    assert {tuple(c["payload"]) for c in calls} == {("DeploymentId", "LifecycleEventHookExecutionId")}
    executions = [c["payload"]["LifecycleEventHookExecutionId"] for c in calls]
    with pytest.raises(cd.exceptions.LifecycleEventAlreadyCompletedException):
        cd.put_lifecycle_event_hook_execution_status(
            deploymentId=first, lifecycleEventHookExecutionId=executions[0], status="Succeeded"
        )
    with pytest.raises(cd.exceptions.InvalidLifecycleEventHookExecutionStatusException):
        cd.put_lifecycle_event_hook_execution_status(
            deploymentId=first, lifecycleEventHookExecutionId=executions[0], status="Pending"
        )

    second = lesson.deploy(
        "v3", hooks={"AfterInstall": "CodeDeployHook_ok", "AfterAllowTestTraffic": "CodeDeployHook_no"}
    )
    lesson.until(lambda: lesson.info(second)["status"] in ("Succeeded", "Failed"), step=2, limit=120, hooks=True)
    info = lesson.info(second)
    assert info["status"] == "Failed" and info["errorInformation"]["code"] == "HOOK_EXECUTION_FAILURE"
    assert lesson.events(second)[3:6] == [
        ("AllowTestTraffic", "Succeeded"),
        ("AfterAllowTestTraffic", "Failed"),
        ("BeforeAllowTraffic", "Skipped"),
    ]
    rollback = info["rollbackInfo"]["rollbackDeploymentId"]
    lesson.until(lambda: lesson.info(rollback)["status"] == "Succeeded", step=1, limit=10)
    assert lesson.stack.weights(lesson.stack.test) == {GREEN: 100, BLUE: 0}  # test traffic back on the original

    # A hook that raises never reports: CodeDeploy waits the full hour before the event fails.
    client_lambdas.deploy_function(
        "CodeDeployHook_crash", "def handler(event, context):\n    raise ValueError('boom')\n", lab=lab
    )
    third = lesson.deploy("v4", hooks={"BeforeInstall": "CodeDeployHook_crash"})
    advance(region, 1)
    control(region, "/_lab/lambdas/wait", {"timeout": 60})
    waiting = lesson.event(third, "BeforeInstall")
    assert waiting["status"] == "InProgress" and "ValueError: boom" in waiting["diagnostics"]["message"]
    advance(region, 3600 - 1)
    assert lesson.event(third, "BeforeInstall")["status"] == "InProgress"
    advance(region, 1)
    info = lesson.info(third)
    assert (info["status"], info["errorInformation"]["code"]) == ("Failed", "HOOK_EXECUTION_FAILURE")
    assert "did not report a status within 60 minutes" in info["errorInformation"]["message"]
    assert "rollbackInfo" not in info  # BeforeInstall: nothing to roll back


# -- real HTTP while traffic moves ---------------------------------------------------------------------------


def test_no_request_fails_during_an_all_at_once_shift_and_a_rollback(lesson: Lesson, region: str) -> None:
    lesson.group(termination=("TERMINATE", 10))
    cd = lesson.cd
    url = listener_url(region)
    assert http_get(url)[0] == 200
    started = time.monotonic()
    with LoadClient(url) as client:
        client.wait_for(5)
        first = lesson.deploy("v2")
        realtime(region, 60)  # Install (36 s) and the shift, at 40x
        lesson.until(lambda: lesson.info(first)["instanceTerminationWaitTimeStarted"], step=5, limit=60)
        count = len(client.results)
        client.wait_for(count + 20)
        cd.continue_deployment(deploymentId=first, deploymentWaitType="TERMINATION_WAIT")
        second = lesson.deploy("v3")
        realtime(region, 60)
        lesson.until(lambda: lesson.info(second)["instanceTerminationWaitTimeStarted"], step=5, limit=60)
        count = len(client.results)
        client.wait_for(count + 20)
        cd.stop_deployment(deploymentId=second, autoRollbackEnabled=True)  # during the termination wait
        realtime(region, 20)
        count = len(client.results)
        client.wait_for(count + 20)
    wall = time.monotonic() - started
    rollback = lesson.info(second)["rollbackInfo"]["rollbackDeploymentId"]
    assert lesson.info(rollback)["status"] == "Succeeded"
    versions = Counter(version for status, version in client.results if status == 200)
    print(
        f"\ncodedeploy all-at-once + rollback: {len(client.results)} requests in {wall:.1f} s, "
        f"{len(client.failures)} failed, versions served {dict(versions)}"
    )
    assert len(client.results) >= 100, "the client hardly sent anything"
    assert client.failures == []
    assert versions["v1"] > 0 and versions["v2"] > 0 and versions["v3"] > 0
    assert client.results[-1] == (200, "v2")  # rolled back to the release before v3
