"""Chapter 06's client-side release helpers: the arithmetic, the timeline, and real rollouts.

The arithmetic (ECS's rounding, the circuit breaker's threshold) is checked against the examples of
aws-behaviour.md §3.3 and against exact fractions. The timeline and measurement are checked on
hand-made steps (their text, their numbers, their figure) and then on real rollouts in the offline
region: recreate fails requests, rolling does not, a re-run deploys nothing new, a release that never
gets healthy stays stuck without the circuit breaker and is rolled back with it.
"""

from __future__ import annotations

import io
import math
import re
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from labsupport import clock, config, fargate, lab, loadbalancer, network, releases, traffic
from labsupport.errors import LabError
from labsupport.releases import DeploymentState, ReleaseTimeline, Step, VersionCount

ID = re.compile(r"\b(?:vpc|subnet|sg|eni|tg)-[0-9a-f]{8,17}\b|arn:aws|[0-9a-f]{8}-[0-9a-f]{4}-|ecs-svc/\d")
QUICK = settings(max_examples=200, deadline=None, derandomize=True, database=None)


@pytest.fixture(autouse=True)
def _forget_releases() -> None:
    """Each test starts without a 'last release' (the module keeps one per kernel)."""
    releases._LAST.update(release=None, timeline=None)
    releases._HISTORY.clear()


@pytest.fixture
def offline_lab(region: str, region_home: Path, monkeypatch: pytest.MonkeyPatch) -> lab.Lab:
    monkeypatch.setenv("LABSUPPORT_HOME", str(region_home))
    current = lab.Lab(mode="offline", region="us-west-2", config=config.load(), endpoint=region)
    monkeypatch.setattr(lab, "_current", current)
    return current


@pytest.fixture
def config_lab(monkeypatch: pytest.MonkeyPatch) -> lab.Lab:
    """A lab whose region is never contacted."""
    current = lab.Lab(mode="offline", region="us-west-2", config=config.load(), endpoint="http://127.0.0.1:9")
    monkeypatch.setattr(lab, "_current", current)
    return current


@pytest.fixture
def service(offline_lab: lab.Lab) -> lab.Lab:
    """What chapter 05 leaves: two healthy tasks of v1; then 20 requests per second of users."""
    net = network.build(offline_lab)
    fargate.build(offline_lab, net, loadbalancer.build(offline_lab, net))
    assert releases.watch(until="steady", every="5s").finished
    traffic.start(20, 80, offline_lab)
    clock.advance(5)
    return offline_lab


# -- the arithmetic --------------------------------------------------------------------------------


def test_the_rounding_examples_of_the_aws_documentation() -> None:
    # desired 4 & min 50 -> may stop 2 first; desired 2 & min 75 -> ceil(1.5) = 2, none first;
    # desired 4 & max 200 -> may start 4 new first (aws-behaviour.md §3.3).
    assert releases.deployment_bounds(4, 50, 200).can_stop_first == 2
    two = releases.deployment_bounds(2, 75, 200)
    assert (two.min_healthy, two.can_stop_first) == (2, 0)
    assert releases.deployment_bounds(4, 100, 200).can_start_first == 4
    # Integer arithmetic: 3 × 33 % is 0.99, which rounds up to 1 (a float product would too, but
    # 3 × 110 % = 3.3000000000000003 must round down to 3, not up).
    assert releases.deployment_bounds(3, 33, 110).min_healthy == 1
    assert releases.deployment_bounds(3, 33, 110).max_tasks == 3
    recreate = releases.deployment_bounds(2, 0, 100)
    assert (recreate.min_healthy, recreate.max_tasks, recreate.blocked) == (0, 2, False)
    assert releases.deployment_bounds(2, 100, 100).blocked
    assert releases.deployment_bounds(1, 50, 150).blocked  # 1.5 tasks round down to 1
    assert not releases.deployment_bounds(0, 100, 100).blocked


@QUICK
@given(st.integers(0, 500), st.integers(0, 100), st.integers(100, 400))
def test_bounds_are_exact_ceil_and_floor(desired: int, low: int, high: int) -> None:
    b = releases.deployment_bounds(desired, low, high)
    assert b.min_healthy == math.ceil(Fraction(desired * low, 100))
    assert b.max_tasks == math.floor(Fraction(desired * high, 100))
    assert 0 <= b.min_healthy <= desired <= b.max_tasks


def test_circuit_breaker_threshold() -> None:
    # 0.5 × desired, rounded up, at least 3, at most 200 (desired 25 -> 13, desired 1 -> 3).
    assert [releases.circuit_breaker_threshold(d) for d in (0, 1, 2, 6, 7, 25, 399, 400, 1000)] == [
        3, 3, 3, 3, 4, 13, 200, 200, 200,
    ]  # fmt: skip


@pytest.mark.parametrize(
    "call",
    [
        lambda: releases.deployment_bounds(-1, 100, 200),
        lambda: releases.deployment_bounds(2, 50.5, 200),
        lambda: releases.deployment_bounds(2, 100, True),
        lambda: releases.circuit_breaker_threshold("2"),
    ],
)
def test_bad_numbers_are_lab_errors(call) -> None:
    with pytest.raises(LabError, match="Fix: pass"):
        call()


def test_strategy_names_and_the_rounding_table() -> None:
    assert releases.strategy_name(0, 100) == "recreate"
    assert releases.strategy_name(100, 200) == releases.strategy_name(0, 200) == "rolling"
    table = releases.rounding_table((1, 2), ((100, 200), (100, 100)))
    assert table.splitlines() == [
        "desired  100 / 200  100 / 100",
        "      1  ≥1 / ≤2    ≥1 / ≤1 blocked",
        "      2  ≥2 / ≤4    ≥2 / ≤2 blocked",
    ]


# -- the timeline on hand-made steps ----------------------------------------------------------------


def _deployment(revision: str, status: str, state: str, updated: float = 0.0, failed: int = 0) -> DeploymentState:
    return DeploymentState(revision, status, state, failed, created_at=0.0, updated_at=updated)


def _rolling_steps() -> list[Step]:
    """A 100 / 200 rollout from v1 (:1) to v2 (:2), as the region plays it (every 10 s)."""
    v1, v2 = "my-app-frontend:1", "my-app-frontend:2"
    new = _deployment(v2, "PRIMARY", "IN_PROGRESS")
    old = _deployment(v1, "ACTIVE", "COMPLETED")
    return [
        Step(0, {v1: VersionCount(2, 0, 0, 2)}, {"healthy": 2}, (new, old), 2),
        Step(10, {v1: VersionCount(2, 0, 0, 2), v2: VersionCount(0, 2)}, {"healthy": 2}, (new, old), 2,
             events=((1.0, "has started 2 tasks: (10.0.0.5) (10.0.2.5)."),)),
        Step(40, {v1: VersionCount(0, 0, 2), v2: VersionCount(2, 0, 0, 2)}, {"healthy": 2, "draining": 2},
             (new, old), 2),
        Step(50, {v1: VersionCount(0, 0, 2), v2: VersionCount(2, 0, 0, 2)}, {"healthy": 2}, (new, old), 2),
        Step(90, {v2: VersionCount(2, 0, 0, 2)}, {"healthy": 2},
             (_deployment(v2, "PRIMARY", "COMPLETED", updated=82.0),), 2,
             events=((82.0, "(deployment of v2) deployment completed."), (82.0, "has reached a steady state."))),
    ]  # fmt: skip


def test_a_timeline_reads_as_a_table_and_measures_the_rollout(config_lab: lab.Lab) -> None:
    timeline = ReleaseTimeline(
        steps=_rolling_steps(),
        labels={"my-app-frontend:1": "v1", "my-app-frontend:2": "v2"},
        colours={"my-app-frontend:1": "blue", "my-app-frontend:2": "green"},
    )
    assert timeline.revisions() == ["my-app-frontend:1", "my-app-frontend:2"]
    assert (timeline.peak_tasks, timeline.fewest_healthy, timeline.completed_after_seconds) == (4, 2, 82.0)
    assert timeline.finished and timeline.outcome == "completed" and not timeline.rolled_back
    # 2 extra tasks from 10 s to 90 s (starting, then draining) = 160 task-seconds.
    assert timeline.extra_task_seconds == 160
    assert [at for at, _ in timeline.events] == [1.0, 82.0, 82.0]
    lines = timeline.table().splitlines()
    assert lines[0].split() == ["after", "v1", "v2", "targets", "deployment"]
    assert lines[1] == "  0 s  2 running (2 healthy)  -                      2 healthy              v2 IN_PROGRESS"
    assert lines[3] == "       · 1 s  has started 2 tasks: (10.0.0.5) (10.0.2.5)."
    assert "2 stopping" in lines[4] and "2 healthy, 2 draining" in lines[4]
    assert lines[-1] == "       · 82 s  has reached a steady state."
    assert "·" not in timeline.table(events=False)
    assert timeline.summary() == ("completed after 82 s; at most 4 tasks running or pending; fewest healthy targets 2")
    assert str(timeline).endswith(timeline.summary())


def test_a_rolled_back_timeline_and_twin_versions() -> None:
    bad, good = "my-app-frontend:4", "my-app-frontend:2"
    failing = (_deployment(bad, "PRIMARY", "IN_PROGRESS", failed=2), _deployment(good, "ACTIVE", "COMPLETED"))
    failed = (_deployment(good, "PRIMARY", "IN_PROGRESS"), _deployment(bad, "ACTIVE", "FAILED", failed=4))
    done = (_deployment(good, "PRIMARY", "COMPLETED", updated=213.0),)
    steps = [
        Step(0, {good: VersionCount(2, 0, 0, 2)}, {"healthy": 2}, failing, 2),
        Step(170, {good: VersionCount(2, 0, 0, 2), bad: VersionCount(0, 0, 2)}, {"healthy": 2}, failed, 2),
        Step(220, {good: VersionCount(2, 0, 0, 2)}, {"healthy": 2}, done, 2),
    ]
    timeline = ReleaseTimeline(steps=steps, labels={bad: "v4", good: "v2"})
    assert timeline.failed == [bad] and timeline.rolled_back and timeline.outcome == "rolled back"
    assert "v2 IN_PROGRESS; v4 FAILED" in timeline.table()
    assert timeline.summary().startswith("v4 FAILED and was rolled back; steady again after 213 s")
    stuck = ReleaseTimeline(steps=steps[:1], labels={bad: "v4", good: "v2"})
    assert stuck.outcome == "in progress" and stuck.completed_after_seconds is None
    assert stuck.summary().startswith("still in progress after 0 s")
    # Two revisions that call themselves v2 are told apart by their revision number.
    twins = ReleaseTimeline(steps=steps, labels={bad: "v2", good: "v2"})
    assert twins.label(bad) == "v2 (:4)" and twins.label(good) == "v2 (:2)"
    assert ReleaseTimeline().summary() == "nothing watched yet" and ReleaseTimeline().table() == "nothing watched yet"


def test_the_figure_is_a_png_without_traffic_when_there_is_no_release(config_lab: lab.Lab) -> None:
    timeline = ReleaseTimeline(steps=_rolling_steps(), labels={"my-app-frontend:1": "v1", "my-app-frontend:2": "v2"})
    fig = timeline.figure()
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    assert buffer.getvalue().startswith(b"\x89PNG")


def test_a_measurement_without_traffic_says_so() -> None:
    m = releases.Measurement(
        release="v2 (green)", settings="minimumHealthyPercent 100 / maximumPercent 200 (rolling)",
        outcome="completed", completed_after_seconds=82.0, peak_tasks=4, fewest_healthy=2, requests=None,
        failed=None, downtime_seconds=None, longest_downtime_seconds=None, versions={}, window_seconds=91.0,
    )  # fmt: skip
    assert str(m).splitlines() == [
        "v2 (green), minimumHealthyPercent 100 / maximumPercent 200 (rolling)",
        "  service: completed after 82 s; at most 4 tasks running or pending; fewest healthy targets 2",
        "  users:   no synthetic traffic on real AWS (use traffic.probe while you deploy)",
    ]
    assert m.failure_rate == 0.0


# -- mistakes ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("", "green"), {}, "is not a version name"),
        (("v2", None), {}, "is not a colour name"),
        (("v2", "green"), {"minimum_healthy_percent": -5}, "non-negative percentage"),
        (("v2", "green"), {"maximum_percent": "200"}, "non-negative percentage"),
        (("v2", "green"), {"circuit_breaker": "yes"}, "is not a circuit-breaker setting"),
        (("v2", "green"), {"FAIL_HEALTH": ["true"]}, "cannot be an environment variable"),
    ],
)
def test_release_refuses_bad_arguments_before_calling_aws(
    config_lab: lab.Lab, args: tuple, kwargs: dict, message: str
) -> None:
    with pytest.raises(LabError, match=message):
        releases.release(*args, **kwargs)


def test_release_without_a_service_names_the_catch_up(offline_lab: lab.Lab) -> None:
    with pytest.raises(LabError) as err:
        releases.release("v2", "green")
    assert "does not exist" in err.value.problem and "catch_up(6)" in err.value.fix
    with pytest.raises(LabError, match="no watched release"):
        releases.measure()
    with pytest.raises(LabError, match="every='10s' or more"):
        releases.watch(every=0)
    with pytest.raises(LabError, match="at most 2000 steps"):
        releases.watch("1d", every="1s")


# -- real rollouts in the offline region ------------------------------------------------------------


def test_recreate_goes_down_rolling_does_not_and_a_rerun_deploys_nothing(service: lab.Lab) -> None:
    ecs = service.client("ecs")
    recreate = releases.release("v2", "green", minimum_healthy_percent=0, maximum_percent=100, lab=service)
    assert (recreate.revision, recreate.deployed, recreate.registered, recreate.strategy) == (
        "my-app-frontend:2", True, True, "recreate",
    )  # fmt: skip
    down = releases.watch()
    cost = releases.measure()
    assert down.finished and down.fewest_healthy == 0 and down.peak_tasks == 2
    assert cost.failed and cost.failed > 0.5 * cost.requests and cost.downtime_seconds and cost.downtime_seconds >= 60
    assert 60 < (down.completed_after_seconds or 0) < 120
    assert any("has stopped 2 running tasks" in text for _, text in down.events)
    assert ID.search(str(down) + str(cost)) is None

    rolling = releases.release("v3", "orange", minimum_healthy_percent=100, maximum_percent=200)
    smooth = releases.watch()
    users = releases.measure()
    assert smooth.finished and smooth.peak_tasks == 4 and smooth.fewest_healthy == 2
    assert users.failed == 0 and users.downtime_seconds == 0
    assert set(users.versions) == {"v2", "v3"}  # both versions answered during the rollout
    assert traffic.requests_to("v3", since=rolling.started) == users.versions["v3"]
    service_now = ecs.describe_services(cluster="my-app-cluster", services=["my-app-frontend"])["services"][0]
    assert service_now["deploymentConfiguration"]["minimumHealthyPercent"] == 100
    assert service_now["taskDefinition"].endswith("my-app-frontend:3")

    # Running the "release v3" cell again: the same revision, nothing deployed, the same story.
    revisions = ecs.list_task_definitions(familyPrefix="my-app-frontend")["taskDefinitionArns"]
    again = releases.release("v3", "orange", minimum_healthy_percent=100, maximum_percent=200)
    assert not again.deployed and again.already == "runs" and again.revision == rolling.revision
    assert str(again).startswith("the service already runs v3 (orange) (my-app-frontend:3): nothing new to deploy")
    assert releases.watch() is smooth
    assert releases.measure() == users
    assert ecs.list_task_definitions(familyPrefix="my-app-frontend")["taskDefinitionArns"] == revisions
    deployments = ecs.describe_services(cluster="my-app-cluster", services=["my-app-frontend"])["services"][0]
    assert len(deployments["deployments"]) == 1

    # Back to v2, one task at a time: the v2 revision is reused, capacity dips, never a third task.
    back = releases.release("v2", "green", minimum_healthy_percent=50, maximum_percent=100)
    assert back.deployed and not back.registered and back.revision == "my-app-frontend:2"
    slow = releases.watch()
    assert slow.finished and slow.peak_tasks == 2 and slow.fewest_healthy == 1
    assert releases.measure().failed == 0
    assert (slow.completed_after_seconds or 0) > (smooth.completed_after_seconds or 0)
    assert len(slow.figure(service).axes) == 2  # tasks, and the users' traffic


def test_a_release_that_never_gets_healthy_without_and_with_the_circuit_breaker(service: lab.Lab) -> None:
    bad = releases.release("v4", "red", FAIL_HEALTH="true", minimum_healthy_percent=100, maximum_percent=200)
    assert bad.environment["FAIL_HEALTH"] == "true" and "FAIL_HEALTH=true" in str(bad)
    stuck = releases.watch("3m")
    assert stuck.outcome == "in progress" and not stuck.finished and stuck.end == 180
    assert stuck.fewest_healthy == 2 and stuck.peak_tasks == 4  # v1 kept serving
    assert any("is unhealthy in (my-app-frontend-tg-1)" in text for _, text in stuck.events)
    assert releases.measure().failed == 0 and traffic.requests_to("v4", since=bad.started) == 0
    # The deployment is still going: running it again deploys nothing new, and says so.
    again = releases.release("v4", "red", FAIL_HEALTH=True)
    assert not again.deployed and again.already == "deploys" and "is already deploying v4" in str(again)

    back = releases.release("v1", "blue")  # the manual rollback: another deployment of the old revision
    assert back.revision == "my-app-frontend:1" and not back.registered
    assert releases.watch().finished

    threshold = releases.circuit_breaker_threshold(2)
    guarded = releases.release("v4", "red", FAIL_HEALTH="true", circuit_breaker=True)
    assert guarded.circuit_breaker == {"enable": True, "rollback": True} and guarded.revision == bad.revision
    timeline = releases.watch()
    assert timeline.rolled_back and timeline.outcome == "rolled back" and timeline.failed == [bad.revision]
    failed = next(d for s in timeline.steps for d in s.deployments if d.rollout_state == "FAILED")
    assert failed.failed_tasks >= threshold and "circuit breaker" in failed.reason
    texts = [text for _, text in timeline.events]
    assert "(deployment of v4) deployment failed: tasks failed to start." in texts
    assert "rolling back to deployment of v1." in texts
    assert timeline.steps[-1].primary is not None and timeline.steps[-1].primary.revision == "my-app-frontend:1"
    assert releases.measure().failed == 0
    assert ID.search(str(timeline)) is None


def test_watch_without_a_release_and_on_a_steady_service(service: lab.Lab) -> None:
    timeline = releases.watch(until="steady", release=None)
    assert len(timeline.steps) == 1 and timeline.finished
    later = releases.watch("20s", every="10s")
    assert [s.at - later.steps[0].at for s in later.steps] == [0, 10, 20]
    assert isinstance(clock.now(), datetime) and clock.now().tzinfo == UTC


def test_blocked_settings_and_a_breaker_without_rollback(service: lab.Lab) -> None:
    stuck = releases.release("v2", "green", minimum_healthy_percent=100, maximum_percent=100)
    assert stuck.bounds.blocked and "Blocked: with these settings ECS may neither stop" in str(stuck)
    timeline = releases.watch()  # stops as soon as ECS says it cannot move, not after 30 minutes
    assert timeline.outcome == "blocked" and timeline.blocked and timeline.end < 120
    assert timeline.summary().startswith("blocked: the deployment configuration lets ECS neither stop nor start")

    # Unblock: the same release with room to start new tasks first (the v2 revision is reused).
    moving = releases.release("v2", "green", maximum_percent=200)
    assert not moving.deployed and moving.already == "deploys" and moving.maximum_percent == 200
    assert releases.watch().outcome == "completed"

    failing = releases.release("v4", "red", FAIL_HEALTH="true", circuit_breaker={"enable": True, "rollback": False})
    assert failing.circuit_breaker == {"enable": True, "rollback": False}
    assert "circuit breaker on without rollback" in str(failing)
    failed = releases.watch()
    assert failed.outcome == "failed" and not failed.rolled_back and failed.failed == [failing.revision]
    assert failed.summary().startswith("FAILED (circuit breaker, no rollback) at")
