"""Chapter 04: the load-balancer exercises, held against the offline region's load balancer.

The reference answers come from the live region (a real request through the listener, the target
group's settings, the listener's forward action), so each test changes the load balancer and checks
that the answer follows. ``check`` must tick right predictions, cross wrong ones and never print an ID.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from labsupport import config, lab, loadbalancer, network
from labsupport.errors import LabError
from labsupport.exercises import answer, check, get
from labsupport.exercises_alb import REQUESTS, http_status

ID = re.compile(r"\b(?:vpc|subnet|sg|eni)-[0-9a-f]{8,17}\b|arn:aws|[0-9a-f]{16}")
KEYS = ["04-empty-target-group-status", "04-seconds-to-unhealthy", "04-weighted-green-share"]


@pytest.fixture
def offline_lab(region: str, region_home: Path, monkeypatch: pytest.MonkeyPatch) -> lab.Lab:
    """A lab on the test session's region (freshly reset), set as the kernel's current lab.

    ``loadbalancer.url`` finds the region through its state file, so LABSUPPORT_HOME points there.
    """
    monkeypatch.setenv("LABSUPPORT_HOME", str(region_home))
    current = lab.Lab(mode="offline", region="us-west-2", config=config.load(), endpoint=region)
    monkeypatch.setattr(lab, "_current", current)
    return current


@pytest.fixture
def built(offline_lab: lab.Lab) -> tuple[network.Network, loadbalancer.LoadBalancer]:
    """What chapter 04 leaves behind: the network, the groups, the load balancer and its listeners."""
    net = network.build(offline_lab)
    return net, loadbalancer.build(offline_lab, net)


def _verdict(capsys: pytest.CaptureFixture[str], key: str, prediction: object) -> str:
    check(key, prediction)
    return capsys.readouterr().out


def test_every_exercise_is_registered_with_a_question() -> None:
    for key in KEYS:
        assert get(key).question.endswith("?"), key


def test_without_a_load_balancer_the_answers_say_what_to_build(offline_lab: lab.Lab) -> None:
    for key in KEYS:
        with pytest.raises(LabError, match="section"):
            answer(key)


def test_skipping_a_prediction_asks_for_one(capsys: pytest.CaptureFixture[str], offline_lab: lab.Lab) -> None:
    for key in KEYS:
        out = _verdict(capsys, key, None)
        assert out.startswith("❓") and "replace None" in out


def test_an_empty_target_group_answers_503_and_judging_is_fair(
    capsys: pytest.CaptureFixture[str], built: tuple[network.Network, loadbalancer.LoadBalancer]
) -> None:
    assert answer("04-empty-target-group-status") == 503
    for right in [503, "503", " 503 ", 503.0]:
        assert _verdict(capsys, "04-empty-target-group-status", right).startswith("✔ right"), right
    for wrong in [502, "504", True, "five hundred three", 200]:
        out = _verdict(capsys, "04-empty-target-group-status", wrong)
        assert out.startswith("✘ not quite") and "503" in out, wrong
    out = _verdict(capsys, "04-empty-target-group-status", 503)
    assert "has no registered targets" in out and "502 Bad Gateway" in out
    assert not ID.search(out), out


def test_a_registered_target_that_is_not_healthy_yet_still_gets_503_explained(
    capsys: pytest.CaptureFixture[str], offline_lab: lab.Lab, built: tuple[network.Network, loadbalancer.LoadBalancer]
) -> None:
    _, lb = built
    tg = lb.target_groups["my-app-frontend-tg-1"]
    offline_lab.client("elbv2").register_targets(TargetGroupArn=tg, Targets=[{"Id": "10.0.0.200", "Port": 80}])
    assert http_status(loadbalancer.url(80)) == 503
    out = _verdict(capsys, "04-empty-target-group-status", 503)
    assert "1 initial" in out and "first health check" in out


def test_seconds_to_unhealthy_follow_the_target_group(
    capsys: pytest.CaptureFixture[str], offline_lab: lab.Lab, built: tuple[network.Network, loadbalancer.LoadBalancer]
) -> None:
    assert answer("04-seconds-to-unhealthy") == 20
    assert _verdict(capsys, "04-seconds-to-unhealthy", "20 s").startswith("✔ right")
    for wrong in [10, "30", 2, "twenty"]:
        assert _verdict(capsys, "04-seconds-to-unhealthy", wrong).startswith("✘ not quite"), wrong
    out = _verdict(capsys, "04-seconds-to-unhealthy", 20)
    assert "fail 2 health checks in a row" in out and "1 more follows" in out
    _, lb = built
    offline_lab.client("elbv2").modify_target_group(
        TargetGroupArn=lb.target_groups["my-app-frontend-tg-1"],
        HealthCheckIntervalSeconds=30,
        UnhealthyThresholdCount=3,
    )
    assert answer("04-seconds-to-unhealthy") == 90
    out = _verdict(capsys, "04-seconds-to-unhealthy", 90)
    assert "At most 90 s" in out and "2 more follow" in out and not ID.search(out)


def test_the_green_share_follows_the_listener_weights(
    capsys: pytest.CaptureFixture[str], offline_lab: lab.Lab, built: tuple[network.Network, loadbalancer.LoadBalancer]
) -> None:
    net, lb = built
    # A plain forward to blue: green gets nothing.
    assert answer("04-weighted-green-share") == 0
    assert "without weights" in _verdict(capsys, "04-weighted-green-share", 0)
    elbv2 = offline_lab.client("elbv2")
    blue = lb.target_groups["my-app-frontend-tg-1"]
    green = loadbalancer.ensure_target_group(offline_lab, net, "my-app-frontend-tg-2")["TargetGroupArn"]

    def weights(w_blue: int, w_green: int) -> None:
        groups = [{"TargetGroupArn": blue, "Weight": w_blue}, {"TargetGroupArn": green, "Weight": w_green}]
        action = {"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}
        elbv2.modify_listener(ListenerArn=lb.listeners[80], DefaultActions=[action])

    weights(100, 0)
    assert answer("04-weighted-green-share") == 0
    out = _verdict(capsys, "04-weighted-green-share", "0")
    assert out.startswith("✔ right") and f"None of {REQUESTS}" in out and "weight 0 means none" in out
    assert not ID.search(out), out
    weights(90, 10)
    assert answer("04-weighted-green-share") == 2
    assert _verdict(capsys, "04-weighted-green-share", 0).startswith("✘ not quite")
    weights(0, 100)
    assert answer("04-weighted-green-share") == REQUESTS
    assert "About 20 of 20" in _verdict(capsys, "04-weighted-green-share", 20)


def test_http_status_reports_error_statuses_and_refuses_nothing_listening(
    built: tuple[network.Network, loadbalancer.LoadBalancer],
) -> None:
    assert http_status(loadbalancer.url(9000)) == 503
    with pytest.raises(LabError, match="Nothing answered"):
        http_status("http://127.0.0.1:9/", timeout=2)
