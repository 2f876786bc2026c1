"""Chapter 05: the Fargate exercises and the client-side helpers the notebook uses.

The reference answers are held against the region itself: the size table against what
RegisterTaskDefinition accepts, the predicted task addresses against the addresses the tasks really
get, the role against the registered task definition. ``check`` must tick the right predictions, cross
the wrong ones, ask for a prediction when the learner skipped the question, and never print an ID.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from labsupport import clock, config, fargate, images, lab, loadbalancer, network
from labsupport.errors import LabError
from labsupport.exercises import answer, check, get

PRIVATE = ["my-workspace-subnet-app-private1-a", "my-workspace-subnet-app-private2-b"]
ID = re.compile(r"\b(?:vpc|subnet|sg|eni|tg)-[0-9a-f]{8,17}\b|arn:aws|[0-9a-f]{8}-[0-9a-f]{4}-|ecs-svc/\d")

# key -> (the answer for what chapter 05 builds, predictions that count as right, ones that do not)
CASES: dict[str, tuple[object, list[object], list[object]]] = {
    "05-fargate-memory-256": (
        [512, 1024, 2048],
        [
            [512, 1024, 2048],
            (2048, 512, 1024),
            {"512", "1024", "2048"},
            ["0.5 GB", "1GB", "2 gb"],
            [512, "1 GiB", 2048],
        ],
        [[512, 1024], [512, 1024, 2048, 4096], [512, 512, 1024, 2048], 512, "512, 1024, 2048", [0.5, 1, 2], [], None],
    ),
    "05-first-task-ips": (
        ["10.0.0.4", "10.0.2.4"],
        [["10.0.0.4", "10.0.2.4"], ("10.0.2.4", "10.0.0.4"), {" 10.0.0.4 ", "10.0.2.4"}],
        [["10.0.0.0", "10.0.2.0"], ["10.0.0.1", "10.0.2.1"], ["10.0.0.4"], "10.0.0.4", ["10.0.0.4", "x"], [], 4],
    ),
    "05-pull-role": (
        "execution role",
        ["execution role", "Execution Role", "task execution role", "ecsTaskExecutionRole", "execution"],
        ["task role", "task", "both", "", None, 1],
    ),
}
KEYS = sorted(CASES)


@pytest.fixture
def offline_lab(region: str, region_home: Path, monkeypatch: pytest.MonkeyPatch) -> lab.Lab:
    """A lab on the test session's region (freshly reset), set as the kernel's current lab.

    ``labsupport.clock`` finds the region through its state file, so LABSUPPORT_HOME points there.
    """
    monkeypatch.setenv("LABSUPPORT_HOME", str(region_home))
    current = lab.Lab(mode="offline", region="us-west-2", config=config.load(), endpoint=region)
    monkeypatch.setattr(lab, "_current", current)
    return current


@pytest.fixture
def config_lab(monkeypatch: pytest.MonkeyPatch) -> lab.Lab:
    """A lab whose region is never contacted: judging a prediction needs no AWS call."""
    current = lab.Lab(mode="offline", region="us-west-2", config=config.load(), endpoint="http://127.0.0.1:9")
    monkeypatch.setattr(lab, "_current", current)
    return current


@pytest.fixture
def chapter_04(offline_lab: lab.Lab) -> tuple[network.Network, loadbalancer.LoadBalancer]:
    """What chapters 02 to 04 build: the network, the security groups and the load balancer."""
    net = network.build(offline_lab)
    return net, loadbalancer.build(offline_lab, net)


@pytest.fixture
def running(offline_lab: lab.Lab, chapter_04: tuple[network.Network, loadbalancer.LoadBalancer]) -> Any:
    """Chapter 05 built, and the clock moved on until both tasks are running and healthy."""
    built = fargate.build(offline_lab, *chapter_04)
    clock.advance("45s")
    return built


def _verdict(capsys: pytest.CaptureFixture[str], key: str, prediction: object) -> str:
    check(key, prediction)
    return capsys.readouterr().out


def _task_ips(offline_lab: lab.Lab) -> list[str]:
    ecs = offline_lab.client("ecs")
    arns = ecs.list_tasks(cluster="my-app-cluster", serviceName="my-app-frontend", desiredStatus="RUNNING")
    ips: list[str] = []
    if not arns["taskArns"]:
        return ips
    for task in ecs.describe_tasks(cluster="my-app-cluster", tasks=arns["taskArns"])["tasks"]:
        details = task["attachments"][0]["details"]
        ips += [d["value"] for d in details if d["name"] == "privateIPv4Address"]
    return sorted(ips)


# -- judging predictions -----------------------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_same_accepts_the_right_forms_and_nothing_else(key: str, config_lab: lab.Lab) -> None:
    truth, right, wrong = CASES[key]
    judge = get(key).same
    assert [p for p in right if not judge(p, truth)] == []
    assert [p for p in wrong if judge(p, truth)] == []


def test_skipped_exercises_ask_for_a_prediction_even_before_anything_is_built(
    offline_lab: lab.Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in KEYS:
        out = _verdict(capsys, key, None)
        assert out.startswith("❓ " + get(key).question), out
        assert "✔" not in out and "✘" not in out


def test_checking_before_building_says_what_to_run(offline_lab: lab.Lab) -> None:
    with pytest.raises(LabError) as err:
        answer("05-first-task-ips")
    assert "my-app-frontend does not exist yet" in err.value.problem and "section 5" in err.value.fix
    with pytest.raises(LabError) as err:
        answer("05-pull-role")
    assert "not registered yet" in err.value.problem and "section 3" in err.value.fix
    # The size question needs nothing built: it is about Fargate, not about this lab.
    assert answer("05-fargate-memory-256") == [512, 1024, 2048]


# -- reference answers, against the region -----------------------------------------------------


def test_the_size_table_is_what_the_region_accepts(offline_lab: lab.Lab) -> None:
    ecs = offline_lab.client("ecs")
    base = fargate.task_definition(images.uri("my-app-frontend:v1"), offline_lab)
    base["family"] = "size-probe"
    verdicts = {}
    for cpu in (256, 512, 1024):
        for memory in range(512, 9216 + 1, 512):
            try:
                ecs.register_task_definition(**{**base, "cpu": str(cpu), "memory": str(memory)})
                verdicts[cpu, memory] = True
            except ClientError as err:
                assert err.response["Error"]["Code"] == "ClientException"
                verdicts[cpu, memory] = False
    assert {k for k, ok in verdicts.items() if ok} == {k for k in verdicts if fargate.is_fargate_size(*k)}
    assert [m for (c, m), ok in verdicts.items() if c == 256 and ok] == answer("05-fargate-memory-256")


def test_size_helpers() -> None:
    assert fargate.memory_choices("256") == (512, 1024, 2048)
    assert fargate.memory_choices(512) == (1024, 2048, 3072, 4096)
    assert len(fargate.memory_choices(4096)) == 23 and fargate.memory_choices(16384)[-1] == 122880
    assert fargate.is_fargate_size(256, "512") and not fargate.is_fargate_size(256, 4096)
    assert not fargate.is_fargate_size("0.25 vCPU", 512) and not fargate.is_fargate_size(300, 512)
    with pytest.raises(LabError, match="no task size with 300 CPU units"):
        fargate.memory_choices(300)
    with pytest.raises(LabError, match="not a whole number"):
        fargate.memory_choices(True)
    table = fargate.size_table()
    assert "   256  0.25  0.5 GB, 1 GB, 2 GB" in table and "8 GB to 30 GB in steps of 1 GB" in table


def test_first_task_ips_are_predicted_before_the_tasks_exist_and_then_match_them(
    offline_lab: lab.Lab, chapter_04: tuple[network.Network, loadbalancer.LoadBalancer]
) -> None:
    net, _ = chapter_04
    ec2 = offline_lab.client("ec2")
    # Something else takes base+4 of private2-b first: the prediction must move on to base+5.
    ec2.create_network_interface(SubnetId=net.subnets["my-workspace-subnet-app-private2-b"], Description="other")
    fargate.build(offline_lab, *chapter_04)
    predicted = answer("05-first-task-ips")
    assert predicted == ["10.0.0.4", "10.0.2.5"]
    assert _task_ips(offline_lab) == []  # the scheduler has not started anything yet
    clock.advance("45s")
    assert _task_ips(offline_lab) == predicted == answer("05-first-task-ips")


def test_reference_answers_and_explanations_for_the_chapter_as_built(
    offline_lab: lab.Lab, running: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _task_ips(offline_lab) == ["10.0.0.4", "10.0.2.4"]
    td = offline_lab.client("ecs").describe_task_definition(taskDefinition="my-app-frontend")["taskDefinition"]
    assert td["executionRoleArn"].endswith(":role/ecsTaskExecutionRole") and "taskRoleArn" not in td
    for key in KEYS:
        assert answer(key) == CASES[key][0], key
        truth, right, wrong = CASES[key]
        out = _verdict(capsys, key, right[0])
        assert out.startswith("✔ right") and "✘" not in out, out
        assert ID.search(out) is None, out
        out = _verdict(capsys, key, wrong[0])
        assert out.startswith("✘ not quite") and f"you said {wrong[0]!r}, the answer is {truth!r}" in out

    # The explanations state the facts, read from the region.
    out = _verdict(capsys, "05-fargate-memory-256", [512, 1024, 2048])
    assert "512 MiB (0.5 GB), 1024 MiB (1 GB), 2048 MiB (2 GB)" in out
    assert "4096 MiB needs at least 512 CPU units" in out and "cpu 256 / memory 512: the smallest size" in out
    out = _verdict(capsys, "05-first-task-ips", ["10.0.0.4", "10.0.2.4"])
    assert "my-workspace-subnet-app-private1-a (10.0.0.0/24) has 10.0.0.4 (base+4" in out
    assert "my-workspace-subnet-app-private2-b (10.0.2.0/24) has 10.0.2.4 (base+4" in out
    assert "AWS picks any free one" in out
    out = _verdict(capsys, "05-pull-role", "execution role")
    assert "my-app-frontend:1 names ecsTaskExecutionRole" in out
    assert "with AmazonECSTaskExecutionRolePolicy" in out and "names no task role" in out


def test_a_task_definition_without_execution_role_has_no_puller(
    offline_lab: lab.Lab, chapter_04: tuple[network.Network, loadbalancer.LoadBalancer]
) -> None:
    # A public image needs no execution role on Fargate, so such a definition registers.
    td = fargate.task_definition("public.ecr.aws/nginx/nginx:latest", offline_lab)
    del td["executionRoleArn"], td["containerDefinitions"][0]["logConfiguration"]
    offline_lab.client("ecs").register_task_definition(**td)
    with pytest.raises(LabError) as err:
        answer("05-pull-role")
    assert "names no execution role" in err.value.problem and "ecsTaskExecutionRole" in err.value.fix


# -- the helpers the notebook prints with ------------------------------------------------------


def test_tasks_table_and_events_name_no_ids(offline_lab: lab.Lab, running: Any) -> None:
    rows = fargate.tasks(offline_lab)
    assert [(r.az, r.subnet, r.ip, r.status, r.health, r.desired) for r in rows] == [
        ("us-west-2a", PRIVATE[0], "10.0.0.4", "RUNNING", "healthy", "RUNNING"),
        ("us-west-2b", PRIVATE[1], "10.0.2.4", "RUNNING", "healthy", "RUNNING"),
    ]
    assert all(len(r.task) == 12 and r.task_definition == "my-app-frontend:1" for r in rows)
    table = fargate.task_table(rows)
    assert table.splitlines()[0].split() == ["AZ", "subnet", "IP", "lastStatus", "health"]
    assert ID.search(table) is None and rows[0].task not in table
    assert rows[0].task in fargate.task_table(rows, columns=("task", "ip"))
    with pytest.raises(LabError, match="pick from"):
        fargate.task_table(rows, columns=("colour",))
    assert fargate.task_table([]) == "(no tasks)"

    lines = fargate.events(offline_lab)
    # ECS's wording, with tasks shown by IP and target groups by name (the engine owns the wording).
    assert lines[0] == "(service my-app-frontend) has started 2 tasks: (task 10.0.0.4) (task 10.0.2.4)."
    assert lines[-1] == "(service my-app-frontend) has reached a steady state."
    assert any("targets in (target-group my-app-frontend-tg-1)" in line for line in lines)
    assert [line for line in lines if ID.search(line)] == []
    assert fargate.events(offline_lab, last=1) == lines[-1:] and fargate.events(offline_lab, last=0) == []


def test_draining_and_one_off_tasks(offline_lab: lab.Lab, running: Any) -> None:
    ecs = offline_lab.client("ecs")
    ecs.update_service(cluster="my-app-cluster", service="my-app-frontend", desiredCount=1)
    clock.advance("5s")
    # The stopping task is still listed while its target drains (its lastStatus is the engine's call).
    states = sorted((r.health, r.desired) for r in fargate.tasks(offline_lab))
    assert states == [("draining", "STOPPED"), ("healthy", "RUNNING")]
    clock.advance("1m")
    assert [r.status for r in fargate.tasks(offline_lab)] == ["RUNNING"]
    assert len(fargate.tasks(offline_lab, stopped=True)) == 2

    # A one-off task of an image that was never pushed: listed by startedBy, never by the service.
    net = network.build(offline_lab)
    broken = fargate.task_definition(images.uri("my-app-frontend:v9"), offline_lab)
    broken["family"] = "my-app-frontend-oneoff"
    ecs.run_task(
        cluster="my-app-cluster",
        taskDefinition=fargate.register(broken, offline_lab),
        launchType="FARGATE",
        startedBy="test-05",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": [net.subnets[PRIVATE[0]]],
                "securityGroups": [net.security_groups["my-app-frontend-sg"]],
            }
        },
    )
    clock.advance("30s")
    assert fargate.tasks(offline_lab, started_by="test-05") == []
    (row,) = fargate.tasks(offline_lab, started_by="test-05", stopped=True)
    assert (row.status, row.health, row.task_definition) == ("STOPPED", "-", "my-app-frontend-oneoff:1")
    assert row.stopped_reason.startswith("CannotPullContainerError") and row.stopped_reason.endswith("not found")
    assert len(fargate.tasks(offline_lab)) == 1


def test_tasks_and_events_before_anything_exists(offline_lab: lab.Lab) -> None:
    assert fargate.tasks(offline_lab) == [] and fargate.events(offline_lab) == []


def test_image_lookups(offline_lab: lab.Lab) -> None:
    assert not images.exists("my-app-frontend:v1") and images.pushed_tags("my-app-frontend") == []
    images.push("my-app-frontend:v1", offline_lab)
    images.push("my-app-frontend:v2", offline_lab)
    assert images.exists("my-app-frontend:v1") and images.exists("my-app-frontend:v2")
    assert not images.exists("my-app-frontend:v9") and not images.exists("other-repo:v1")
    assert images.pushed_tags("my-app-frontend") == ["v1", "v2"]
    with pytest.raises(LabError, match="not a valid ECR repository name"):
        images.exists("My_App:v1")
