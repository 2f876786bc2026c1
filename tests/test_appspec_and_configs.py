"""AppSpec parsing (YAML and JSON, AWS's rules, the seed's container-name error) and CodeDeploy configs."""

from __future__ import annotations

import doctest
import json

import pytest

from labsupport import appspec, deployment_configs
from labsupport.appspec import AppSpecError
from labsupport.deployment_configs import PREDEFINED, TrafficRouting, schedule

TD_ARN = "arn:aws:ecs:us-west-2:123456789012:task-definition/my-app-frontend:2"
TASK_DEF = {
    "containerDefinitions": [{"name": "frontend", "portMappings": [{"containerPort": 80}]}],
}


def test_render_and_parse_round_trip() -> None:
    text = appspec.render(TD_ARN, "frontend", 80, {"AfterAllowTestTraffic": "CodeDeployHook_smoke"})
    spec = appspec.parse(text)
    assert spec.task_definition == TD_ARN
    assert (spec.container_name, spec.container_port) == ("frontend", 80)
    assert spec.hook_for("AfterAllowTestTraffic") == "CodeDeployHook_smoke"
    assert spec.hook_for("BeforeInstall") is None
    appspec.check_against_task_definition(spec, TASK_DEF)


def test_json_appspec_is_accepted() -> None:
    doc = {
        "version": 0.0,
        "Resources": [
            {
                "TargetService": {
                    "Type": "AWS::ECS::Service",
                    "Properties": {
                        "TaskDefinition": TD_ARN,
                        "LoadBalancerInfo": {"ContainerName": "frontend", "ContainerPort": 80},
                    },
                }
            }
        ],
    }
    assert appspec.parse(json.dumps(doc)).container_name == "frontend"


def test_the_seed_001_error_wrong_container_name() -> None:
    spec = appspec.parse(appspec.render(TD_ARN, "frontend-stg", 80))
    with pytest.raises(AppSpecError) as err:
        appspec.check_against_task_definition(spec, TASK_DEF)
    assert "The container does not exist in the task definition." in str(err.value)
    assert "['frontend']" in str(err.value)


@pytest.mark.parametrize(
    ("text", "fix"),
    [
        ("", "version: 0.0"),
        ("version: 1.0\nResources: []", "version: 0.0"),
        ("version: 0.0\n", "TargetService"),
        ("version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::EC2::Instance\n", "AWS::ECS::Service"),
        (appspec.render("<TASK_DEFINITION>", "frontend", 80), "CodePipeline"),
        (appspec.render("my-app-frontend:2", "frontend", 80), "full ARN"),
        (appspec.render(TD_ARN, "frontend", 80).replace("ContainerPort: 80", 'ContainerPort: "80"'), "without quotes"),
        (appspec.render(TD_ARN, "frontend", 80) + "Hooks:\n  - Install: X\n", "BeforeInstall"),
        ("version: 0.0\nResources:\n\t- x", "indentation"),
    ],
)
def test_bad_appspecs_name_the_fix(text: str, fix: str) -> None:
    with pytest.raises(AppSpecError) as err:
        appspec.parse(text)
    assert fix in str(err.value)


def test_placeholder_allowed_when_asked() -> None:
    spec = appspec.parse(appspec.render("<TASK_DEFINITION>", "frontend", 80), allow_placeholder=True)
    assert spec.task_definition == "<TASK_DEFINITION>"


def test_predefined_configs_shift_as_documented() -> None:
    assert schedule(PREDEFINED["CodeDeployDefault.ECSAllAtOnce"]) == [(0, 100)]
    assert schedule(PREDEFINED["CodeDeployDefault.ECSCanary10Percent15Minutes"]) == [(0, 10), (15, 100)]
    linear = schedule(PREDEFINED["CodeDeployDefault.ECSLinear10PercentEvery3Minutes"])
    assert len(linear) == 10 and linear[0] == (0, 10) and linear[-1] == (27, 100)
    assert deployment_configs.total_minutes(PREDEFINED["CodeDeployDefault.ECSLinear10PercentEvery1Minutes"]) == 9


def test_custom_configs_round_trip_and_validate() -> None:
    routing = TrafficRouting.from_api(
        {"type": "TimeBasedCanary", "timeBasedCanary": {"canaryPercentage": 25, "canaryInterval": 45}}
    )
    assert routing.to_api()["timeBasedCanary"] == {"canaryPercentage": 25, "canaryInterval": 45}
    assert schedule(routing) == [(0, 25), (45, 100)]
    with pytest.raises(Exception, match="1 to 99"):
        deployment_configs.validate(TrafficRouting("TimeBasedLinear", 0, 1))
    with pytest.raises(Exception, match="reserved"):
        deployment_configs.validate_name("CodeDeployDefault.Mine")


def test_doctests() -> None:
    failures, _ = doctest.testmod(deployment_configs)
    assert failures == 0
