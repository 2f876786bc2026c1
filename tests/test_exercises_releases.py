"""Chapter 06's exercises: recreate's failures, the rolling peak, the rounding, the breaker's threshold.

The reference answers come from :mod:`labsupport.releases`' arithmetic applied to the live service;
here they are held against what the offline region's scheduler really does (the failed requests of a
recreate, the peak task count of a rolling update, the failed-task count at which the circuit breaker
fired). ``check`` must tick the right predictions, cross the wrong ones, ask for a prediction when the
learner skipped the question, and never print an ID.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from labsupport import clock, config, fargate, lab, loadbalancer, network, releases, traffic
from labsupport.exercises import answer, check, get

ID = re.compile(r"\b(?:vpc|subnet|sg|eni|tg)-[0-9a-f]{8,17}\b|arn:aws|[0-9a-f]{8}-[0-9a-f]{4}-|ecs-svc/\d")

# key -> (the answer for the lab's service of 2 tasks, predictions that count as right, ones that do not)
CASES: dict[str, tuple[object, list[object], list[object]]] = {
    "06-recreate-fails": (
        True,
        [True, "yes", "Yes.", "true", " y ", "fail"],
        [False, "no", "0", None, 1, "maybe", ["yes"]],
    ),
    "06-rolling-peak": (4, [4, "4", " 4 ", 4.0], [2, 3, "four", 4.5, True, [4], None]),
    "06-min-healthy-3": (2, [2, "2", 2.0], [1, 1.5, 3, "1.5", "2 tasks", None]),
    "06-breaker-threshold": (3, [3, "3"], [1, 2, 10, 200, "three", 3.5, None]),
}
KEYS = sorted(CASES)


@pytest.fixture(autouse=True)
def _forget_releases() -> None:
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
    current = lab.Lab(mode="offline", region="us-west-2", config=config.load(), endpoint="http://127.0.0.1:9")
    monkeypatch.setattr(lab, "_current", current)
    return current


@pytest.fixture
def service(offline_lab: lab.Lab) -> lab.Lab:
    net = network.build(offline_lab)
    fargate.build(offline_lab, net, loadbalancer.build(offline_lab, net))
    releases.watch(until="steady", every="5s")
    return offline_lab


def _verdict(capsys: pytest.CaptureFixture[str], key: str, prediction: object) -> str:
    check(key, prediction)
    return capsys.readouterr().out


@pytest.mark.parametrize("key", KEYS)
def test_same_accepts_the_right_forms_and_nothing_else(key: str, config_lab: lab.Lab) -> None:
    truth, right, wrong = CASES[key]
    judge = get(key).same
    assert [p for p in right if not judge(p, truth)] == []
    assert [p for p in wrong if judge(p, truth)] == []


def test_skipped_exercises_ask_for_a_prediction(config_lab: lab.Lab, capsys: pytest.CaptureFixture[str]) -> None:
    for key in KEYS:
        out = _verdict(capsys, key, None)
        assert out.startswith("❓ " + get(key).question), out
        assert "✔" not in out and "✘" not in out


def test_answers_before_the_service_exists_use_the_lab_plan(
    offline_lab: lab.Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    assert [answer(key) for key in KEYS] == [CASES[key][0] for key in KEYS]
    out = _verdict(capsys, "06-rolling-peak", 4)
    assert out.startswith("✔ right") and "planned desired count (the service is not built)" in out


def test_verdicts_and_explanations_for_the_built_service(service: lab.Lab, capsys: pytest.CaptureFixture[str]) -> None:
    for key in KEYS:
        truth, right, wrong = CASES[key]
        assert answer(key) == truth, key
        out = _verdict(capsys, key, right[0])
        assert out.startswith("✔ right") and "✘" not in out, out
        assert ID.search(out) is None, out
        out = _verdict(capsys, key, wrong[0])
        assert out.startswith("✘ not quite") and f"you said {wrong[0]!r}, the answer is {truth!r}" in out
    out = _verdict(capsys, "06-recreate-fails", True)
    assert "my-app-frontend's desired count of 2" in out and "deregistration delay, 30 s here" in out
    assert "answers 503" in out
    out = _verdict(capsys, "06-rolling-peak", 4)
    assert "2 × 200 % = 4" in out and "starts 2 new tasks next to the 2 old ones" in out
    out = _verdict(capsys, "06-min-healthy-3", 2)
    assert "3 × 50 % = 1.5 tasks" in out and "only 1 may be stopped first" in out
    out = _verdict(capsys, "06-breaker-threshold", 3)
    assert "0.5 × 2 = 1, raised to the minimum: 3" in out


def test_the_answers_are_what_the_region_does(service: lab.Lab, capsys: pytest.CaptureFixture[str]) -> None:
    """Recreate fails requests, the rolling peak is the predicted one, the breaker fires at its threshold."""
    traffic.start(20, 80, service)
    clock.advance(5)
    releases.release("v2", "green", minimum_healthy_percent=0, maximum_percent=100)
    releases.watch()
    assert (releases.measure().failed or 0) > 0 and answer("06-recreate-fails") is True

    releases.release("v3", "orange", minimum_healthy_percent=100, maximum_percent=200)
    assert releases.watch().peak_tasks == answer("06-rolling-peak")

    # A service of 3 with minimum 50 %: the region never lets fewer than the predicted 2 be healthy.
    service.client("ecs").update_service(cluster="my-app-cluster", service="my-app-frontend", desiredCount=3)
    assert releases.watch("2m").finished
    releases.release("v2", "green", minimum_healthy_percent=50, maximum_percent=100)
    three = releases.watch()
    assert three.finished and three.fewest_healthy == answer("06-min-healthy-3")

    service.client("ecs").update_service(cluster="my-app-cluster", service="my-app-frontend", desiredCount=2)
    assert releases.watch("2m").finished
    releases.release("v4", "red", FAIL_HEALTH="true", minimum_healthy_percent=100, maximum_percent=200,
                     circuit_breaker=True)  # fmt: skip
    guarded = releases.watch()
    threshold = answer("06-breaker-threshold")
    counts = [d.failed_tasks for s in guarded.steps for d in s.deployments if d.revision == guarded.failed[0]]
    failed_at = next(s for s in guarded.steps if any(d.rollout_state == "FAILED" for d in s.deployments))
    before = [
        d.failed_tasks
        for s in guarded.steps
        if s.at < failed_at.at
        for d in s.deployments
        if d.revision == guarded.failed[0]
    ]
    # Tasks fail two at a time here: the breaker did not fire below the threshold, and fired at it.
    assert max(before) < threshold <= max(counts)
    assert guarded.rolled_back
