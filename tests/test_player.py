"""The deployment player: recordings of real releases in the region, their pictures, and the widget.

The region tests build the chapter-06 stack (two v1 tasks behind the ALB), send 20 synthetic
requests per virtual second, roll the service to v2 (green) and record three virtual minutes.
CodeDeploy is driven through a small fake client that answers ``get_deployment`` and
``get_deployment_target`` with the shapes of aws-behaviour.md §5.6, one phase per poll, so the
player's CodeDeploy side is tested whatever state the region's CodeDeploy engine is in.
"""

from __future__ import annotations

import html
import json
import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import ipywidgets as widgets
import pytest
from botocore.exceptions import ClientError

import labsupport.lab as labmod
from labsupport import catchup, config, fargate, player, traffic
from labsupport.diagram import figure_to_png
from labsupport.errors import LabError
from labsupport.lab import Lab
from labsupport.player import (
    CODEDEPLOY_STEPS,
    Event,
    Frame,
    Recording,
    Rollout,
    TargetRow,
    TaskCount,
    TrafficSecond,
)
from labsupport.widgets.deployment_player import DeploymentPlayer, deployment_player

CLUSTER = "my-app-cluster"
SERVICE = "my-app-frontend"
PNG = b"\x89PNG\r\n\x1a\n"


def advance(endpoint: str, seconds: float) -> None:
    body = json.dumps({"seconds": seconds}).encode()
    request = urllib.request.Request(endpoint + "/_lab/clock/advance", data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=120) as answer:
        answer.read()


def status_text(widget: DeploymentPlayer) -> str:
    """The status as a browser shows it (tags stripped, entities decoded)."""
    text = re.sub(r"<br\s*/?>", "\n", widget.status.value)
    return html.unescape(re.sub(r"<[^>]+>", "", text)).replace("\xa0", " ")


@pytest.fixture(name="lab")
def lab_fixture(region: str, region_home: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    the_lab = Lab(mode="offline", region="us-west-2", config=config.load(), endpoint=region)
    monkeypatch.setattr(labmod, "_current", the_lab)
    monkeypatch.setenv("LABSUPPORT_HOME", str(region_home))
    yield the_lab


def build_with_traffic(lab: Lab, region: str) -> dict[str, Any]:
    """The chapter-06 stack with both v1 tasks healthy and 20 requests/s flowing for 10 s."""
    built = catchup.catch_up(6, lab, quiet=True)
    advance(region, 90)
    traffic.start(rate=20)
    advance(region, 10)
    return built


# -- a real rolling update in the region ---------------------------------------------------------------


def test_recording_a_rolling_update_shows_blue_then_green_and_no_failures(lab: Lab, region: str) -> None:
    built = build_with_traffic(lab, region)
    arn = fargate.register(fargate.task_definition(built["service"].image, lab, APP_VERSION="v2", APP_COLOUR="green"))
    lab.client("ecs").update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=arn)

    rec = player.record("3m", every="5s")
    assert len(rec) == 37 and rec.frames[0].t == 0 and rec.end == 180 and rec.kind == "rolling"
    assert rec.colours == {"v1": "blue", "v2": "green"}
    assert rec.versions() == ["v1", "v2"]
    assert rec.failed() == 0 and sum(s.total for s in rec.all_seconds()) == 20 * (10 + 180)
    # The first frame carries the traffic from before it: ten seconds of v1 only.
    first = rec.frames[0]
    assert [s.t for s in first.traffic] == list(range(-9, 1)) and {v for s in first.traffic for v in s.versions} == {
        "v1"
    }
    # Blue answers first, green last; in between there is a moment both do.
    answered = [{v for s in f.traffic for v in s.versions} for f in rec.frames[1:]]
    assert answered[0] == {"v1"} and answered[-1] == {"v2"}
    switch = next(i for i, versions in enumerate(answered) if "v2" in versions)
    assert all(versions == {"v2"} for versions in answered[switch + 1 :])

    steps = [f.deployment.step for f in rec.frames]
    assert steps[0] == "new tasks starting" and steps[-1] == "steady" and "draining old" in steps
    assert steps == sorted(steps, key=player.ROLLING_STEPS.index)  # the steps only move forward
    assert [str(t) for t in rec.frames[0].tasks] == ["v1: 2 running"]
    assert [str(t) for t in rec.frames[-1].tasks] == ["v2: 2 running"]
    assert rec.frames[-1].tasks[0].healthy == 2
    last = rec.frames[-1].deployment
    assert [(r.version, r.status, r.rollout_state) for r in last.rollouts] == [("v2", "PRIMARY", "COMPLETED")]
    # Target lanes: the v1 targets drained, the v2 targets went initial -> healthy.
    states = {(r.version, r.state) for f in rec.frames for r in f.targets}
    assert {("v1", "healthy"), ("v1", "draining"), ("v2", "initial"), ("v2", "healthy")} <= states
    texts = [e.text for e in rec.events()]
    assert any(t.startswith("has started 2 tasks: (task 10.0.") for t in texts)
    assert any("deregistered 2 targets in (target-group my-app-frontend-tg-1)" in t for t in texts)
    assert texts[-1] == "has reached a steady state." and not any("arn:" in t or "ecs-svc" in t for t in texts)

    assert player.status_line(rec, 0) == "t+0 s · new tasks starting · green 0 % · 0 failed"
    assert player.status_line(rec, -1) == "t+180 s · steady · green 100 % · 0 failed"
    summary = rec.summary()
    assert summary.startswith("37 frames over 180 s: 3800 requests, 0 failed; answered by v1 (blue)")
    assert summary.endswith("ended at steady")

    # JSON round trip: the same recording, the same text, the same pictures.
    text = rec.to_json()
    again = Recording.from_json(text)
    assert again == rec and again.to_json() == text
    png_early, png_late = figure_to_png(player.draw_frame(rec, 2)), figure_to_png(player.draw_frame(rec, 20))
    assert png_early.startswith(PNG) and png_early != png_late
    assert figure_to_png(player.draw_frame(again, 20)) == png_late  # deterministic

    # The widget, built from the recording: moving the slider moves the picture and the status.
    widget = deployment_player(again)
    assert "lab-status" in widget.status._dom_classes and isinstance(widget.image, widgets.Image)
    assert widget.slider.max == 36 == widget.play.max and "reroute" not in widget.buttons
    start_png, start_status = widget.image.value, status_text(widget)
    assert "t+0 s · new tasks starting · green 0 % · 0 failed" in start_status
    widget.slider.value = 36
    assert widget.image.value != start_png and bytes(widget.image.value).startswith(PNG)
    assert "t+180 s · steady · green 100 % · 0 failed" in status_text(widget)
    assert "has reached a steady state." in status_text(widget)  # the latest events under the line
    widget.play.value = 10  # Play drives the slider
    assert widget.slider.value == 10 and "t+50 s" in status_text(widget)

    # Live: +30 s lets the virtual clock run and appends six frames.
    live = deployment_player(live=True, lab=lab)
    assert len(live.recording) == 1 and "advance" in live.buttons and live.buttons["advance"].description == "+30 s"
    live.buttons["advance"].click()
    assert len(live.recording) == 7 and live.slider.value == 6 == live.slider.max
    assert "t+30 s · steady · green 100 % · 0 failed" in status_text(live)


# -- CodeDeploy, through a fake client -----------------------------------------------------------------


def _events(statuses: dict[str, str]) -> list[dict[str, Any]]:
    return [{"lifecycleEventName": name, "status": statuses.get(name, "Pending")} for name in CODEDEPLOY_STEPS]


def _upto(last: str, current: str | None = None, current_status: str = "InProgress") -> dict[str, str]:
    done = CODEDEPLOY_STEPS[: CODEDEPLOY_STEPS.index(last) + 1]
    found = dict.fromkeys(done, "Succeeded")
    if current:
        found[current] = current_status
    return found


def _task_set(label: str, status: str, weight: float, tg: str) -> dict[str, Any]:
    return {
        "identifer": f"ecs-svc/{label}",  # sic: AWS's spelling
        "desiredCount": 2,
        "pendingCount": 0,
        "runningCount": 2,
        "status": status,
        "trafficWeight": weight,
        "targetGroup": {"name": tg},
        "taskSetLabel": label,
    }


BLUE_TG, GREEN_TG = "my-app-frontend-tg-1", "my-app-frontend-tg-2"
PHASES: list[tuple[str, dict[str, str], list[dict[str, Any]], bool]] = [
    ("InProgress", {"BeforeInstall": "InProgress"}, [_task_set("Blue", "PRIMARY", 100.0, BLUE_TG)], False),
    (
        "InProgress",
        _upto("BeforeInstall", "Install"),
        [_task_set("Blue", "PRIMARY", 100.0, BLUE_TG), _task_set("Green", "ACTIVE", 0.0, GREEN_TG)],
        False,
    ),
    (
        "Ready",
        _upto("AfterAllowTestTraffic"),
        [_task_set("Blue", "PRIMARY", 100.0, BLUE_TG), _task_set("Green", "ACTIVE", 0.0, GREEN_TG)],
        False,
    ),
    (
        "InProgress",
        _upto("BeforeAllowTraffic", "AllowTraffic"),
        [_task_set("Blue", "PRIMARY", 90.0, BLUE_TG), _task_set("Green", "ACTIVE", 10.0, GREEN_TG)],
        False,
    ),
    (
        "InProgress",
        _upto("AfterAllowTraffic"),
        [_task_set("Blue", "ACTIVE", 0.0, BLUE_TG), _task_set("Green", "PRIMARY", 100.0, GREEN_TG)],
        True,
    ),
    ("Succeeded", _upto("AfterAllowTraffic"), [_task_set("Green", "PRIMARY", 100.0, GREEN_TG)], False),
]


class FakeCodeDeploy:
    """Just enough of boto3's CodeDeploy client: each get_deployment moves one phase on (then stays)."""

    def __init__(self, deployment_id: str = "d-TESTABCDE") -> None:
        self.deployment_id = deployment_id
        self.phase = -1
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _current(self) -> tuple[str, dict[str, str], list[dict[str, Any]], bool]:
        return PHASES[min(max(self.phase, 0), len(PHASES) - 1)]

    def _check(self, deployment_id: str, operation: str) -> None:
        if deployment_id != self.deployment_id:
            raise ClientError(
                {"Error": {"Code": "DeploymentDoesNotExistException", "Message": "The deployment does not exist."}},
                operation,
            )

    def get_deployment(self, deploymentId: str) -> dict[str, Any]:
        self._check(deploymentId, "GetDeployment")
        self.phase += 1
        status, _, _, waiting = self._current()
        info = {
            "deploymentId": deploymentId,
            "applicationName": "AppECS-my-app-cluster-my-app-frontend",
            "deploymentGroupName": "DgpECS-my-app-cluster-my-app-frontend",
            "status": status,
            "deploymentOverview": {
                "Pending": 0,
                "InProgress": int(status == "InProgress"),
                "Succeeded": int(status == "Succeeded"),
                "Failed": 0,
                "Skipped": 0,
                "Ready": int(status == "Ready"),
            },
            "instanceTerminationWaitTimeStarted": waiting,
            "computePlatform": "ECS",
        }
        return {"deploymentInfo": info}

    def get_deployment_target(self, deploymentId: str, targetId: str) -> dict[str, Any]:
        self._check(deploymentId, "GetDeploymentTarget")
        assert targetId == f"{CLUSTER}:{SERVICE}"
        status, statuses, task_sets, _ = self._current()
        return {
            "deploymentTarget": {
                "deploymentTargetType": "ECSTarget",
                "ecsTarget": {
                    "deploymentId": deploymentId,
                    "targetId": targetId,
                    "lifecycleEvents": _events(statuses),
                    "status": "Succeeded" if status == "Succeeded" else "InProgress",
                    "taskSetsInfo": task_sets,
                },
            }
        }

    def continue_deployment(self, deploymentId: str, deploymentWaitType: str) -> dict[str, Any]:
        self._check(deploymentId, "ContinueDeployment")
        self.calls.append(
            ("continue_deployment", {"deploymentId": deploymentId, "deploymentWaitType": deploymentWaitType})
        )
        status = self._current()[0]
        if deploymentWaitType == "READY_WAIT" and status != "Ready":
            raise ClientError(
                {
                    "Error": {
                        "Code": "DeploymentIsNotInReadyStateException",
                        "Message": f"The deployment {deploymentId} does not have a status of Ready.",
                    }
                },
                "ContinueDeployment",
            )
        return {}

    def stop_deployment(self, deploymentId: str, autoRollbackEnabled: bool) -> dict[str, Any]:
        self._check(deploymentId, "StopDeployment")
        self.calls.append(
            ("stop_deployment", {"deploymentId": deploymentId, "autoRollbackEnabled": autoRollbackEnabled})
        )
        return {"status": "Pending", "statusMessage": "Stopping the deployment and rolling back."}


def test_recording_follows_a_codedeploy_deployment_through_its_lifecycle(lab: Lab, region: str) -> None:
    build_with_traffic(lab, region)
    fake = FakeCodeDeploy()
    rec = player.record("25s", every="5s", deployment_id=fake.deployment_id, codedeploy=fake)
    assert len(rec) == 6 and rec.kind == "codedeploy" and rec.deployment_id == "d-TESTABCDE"
    steps = [f.deployment.step for f in rec.frames]
    assert steps == [
        "BeforeInstall",
        "Install",
        "AfterAllowTestTraffic",
        "AllowTraffic",
        "AfterAllowTraffic",
        "AfterAllowTraffic",
    ]
    assert [f.deployment.status for f in rec.frames] == [p[0] for p in PHASES]
    assert [f.deployment.green_weight() for f in rec.frames] == [None, 0.0, 0.0, 10.0, 100.0, 100.0]
    assert rec.frames[2].deployment.overview["Ready"] == 1
    assert "waiting to reroute" in rec.frames[2].deployment.note
    assert "termination wait" in rec.frames[4].deployment.note
    assert {r.target_group for r in rec.frames[0].targets} == {BLUE_TG}
    # CodeDeploy keeps no event log: the player writes its changes as events.
    texts = [e.text for e in rec.events()]
    assert "deployment d-TESTABCDE InProgress" in texts and "deployment d-TESTABCDE Ready" in texts
    assert "AllowTraffic: InProgress" in texts and "traffic: Blue 90 % · Green 10 %" in texts
    assert player.status_line(rec, 3) == "t+15 s · AllowTraffic · green 10 % · 0 failed"
    assert player.status_line(rec, 2).startswith("t+10 s · AfterAllowTestTraffic (Ready), waiting to reroute")
    assert player.status_line(rec, -1) == "t+25 s · AfterAllowTraffic (Succeeded) · green 100 % · 0 failed"
    assert Recording.from_json(rec.to_json()) == rec
    assert figure_to_png(player.draw_frame(rec, 3)) != figure_to_png(player.draw_frame(rec, 4))

    with pytest.raises(LabError, match="CodeDeploy has no deployment 'd-NOPE'"):
        player.record(0, deployment_id="d-NOPE", codedeploy=FakeCodeDeploy())


def _codedeploy_recording(phase_statuses: list[int]) -> Recording:
    """A recording made without a region: one frame per phase, 100 requests/s, 2 of them 502 at t=10."""
    frames = []
    for i, phase in enumerate(phase_statuses):
        status, statuses, task_sets, waiting = PHASES[phase]
        info = {"deploymentId": "d-TESTABCDE", "status": status, "instanceTerminationWaitTimeStarted": waiting}
        target = {"lifecycleEvents": _events(statuses), "taskSetsInfo": task_sets}
        weight = next((s["trafficWeight"] for s in task_sets if s["taskSetLabel"] == "Green"), 0.0)
        seconds = []
        for t in range(i * 5 - 5, i * 5) if i else ():
            green = round(weight)
            failed = 2 if t == 10 else 0
            seconds.append(
                TrafficSecond(
                    t=float(t),
                    total=100,
                    failed=failed,
                    versions={k: v for k, v in (("v1", 100 - green - failed), ("v2", green)) if v},
                    statuses={200: 100 - failed, **({502: failed} if failed else {})},
                )
            )
        frames.append(
            Frame(
                t=5.0 * i,
                traffic=tuple(seconds),
                tasks=(
                    TaskCount("my-app-frontend:1", "v1", 2, 0, 0, 2),
                    TaskCount("my-app-frontend:2", "v2", 2, 0, 0, 2),
                ),
                targets=(
                    TargetRow("10.0.0.4:80", BLUE_TG, "healthy", None, "v1"),
                    TargetRow("10.0.0.6:80", GREEN_TG, "initial" if i < 2 else "healthy", None, "v2"),
                ),
                deployment=player.codedeploy_view(info, target),
                events=(Event(5.0 * i, f"phase {phase}"),),
            )
        )
    return Recording.from_frames(frames, colours={"v1": "blue", "v2": "green"}, deployment_id="d-TESTABCDE")


def test_the_buttons_call_codedeploy_and_show_its_refusals_in_the_status() -> None:
    rec = _codedeploy_recording([0, 1, 3, 3, 4])
    fake = FakeCodeDeploy()
    fake.phase = 3  # AllowTraffic: not Ready, so "Reroute now" is refused
    widget = DeploymentPlayer(rec, codedeploy=fake)
    assert set(widget.buttons) == {"reroute", "stop", "terminate"} and "advance" not in widget.buttons
    assert [b.description for b in widget.buttons.values()] == [
        "Reroute now",
        "Stop and roll back",
        "Terminate original now",
    ]
    widget.slider.value = 3
    before = widget.image.value
    assert "t+15 s · AllowTraffic · green 10 % · 2 failed" in status_text(widget)

    widget.buttons["reroute"].click()  # a button press must not raise: the refusal goes to the status
    assert fake.calls[-1] == (
        "continue_deployment",
        {"deploymentId": "d-TESTABCDE", "deploymentWaitType": "READY_WAIT"},
    )
    shown = status_text(widget)
    assert (
        "Error: DeploymentIsNotInReadyStateException: The deployment d-TESTABCDE does not have a status of Ready."
        in shown
    )
    assert "Reroute works only while the deployment is Ready" in shown
    assert "t+15 s · AllowTraffic" in shown and widget.image.value == before  # the frame stays

    assert (
        widget.stop_and_roll_back()
        == "stop and roll back requested: Pending (Stopping the deployment and rolling back.)"
    )
    assert fake.calls[-1] == ("stop_deployment", {"deploymentId": "d-TESTABCDE", "autoRollbackEnabled": True})
    assert "Error" not in status_text(widget) and "stop and roll back requested: Pending" in status_text(widget)

    widget.buttons["terminate"].click()
    assert fake.calls[-1] == (
        "continue_deployment",
        {"deploymentId": "d-TESTABCDE", "deploymentWaitType": "TERMINATION_WAIT"},
    )
    assert "terminate requested: d-TESTABCDE deletes the original task set now" in status_text(widget)

    fake.phase = 2  # Ready: now the reroute is accepted
    assert widget.reroute() == "reroute requested: d-TESTABCDE moves production traffic to the replacement task set"

    # The widget-free functions are the same calls; AWS's error stays a ClientError there.
    with pytest.raises(ClientError):
        player.reroute("d-OTHER", codedeploy=fake)
    assert player.explain(LabError("x.", "y.")) == "x. Fix: y."


def test_draw_frame_samples_busy_seconds_and_keeps_failures_visible() -> None:
    rec = _codedeploy_recording([0, 1, 3, 3, 4])
    assert rec.failed() == 2 and rec.failed(2) == 0
    cats = player._categories(rec.frames[3].traffic[0], rec.versions())  # t=10: 88 v1, 10 v2, 2 × 502
    assert cats == [("v:v1", 88), ("v:v2", 10), ("5xx", 2)]
    sampled = player._allocate(cats, player.GRID_ROWS)
    assert sum(n for _, n in sampled) == player.GRID_ROWS and dict(sampled)["5xx"] >= 1
    assert player._allocate([("a", 999), ("b", 1)], 20) == [("a", 19), ("b", 1)]
    pngs = [figure_to_png(player.draw_frame(rec, i)) for i in range(len(rec))]
    assert all(p.startswith(PNG) for p in pngs) and len(set(pngs)) == len(rec)
    assert figure_to_png(rec.figure(3)) == pngs[3]
    fig = player.draw_frame(rec, 3)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts] + [t.get_text() for t in fig.texts]
    assert "t+15 s · AllowTraffic · green 10 % · 2 failed" in texts
    assert "AfterAllow\nTestTraffic" in texts and "InProgress" in texts
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert any("sampled to at most 20 per second" in t for t in titles)
    assert any(t.startswith("(c) CodeDeploy lifecycle events: AllowTraffic") for t in titles)


def test_rolling_view_reads_the_deployments_list_as_three_steps() -> None:
    v1 = TaskCount("app:1", "v1", running=2, healthy=2)
    starting = player.rolling_view(
        (
            Rollout("app:2", "v2", "PRIMARY", "IN_PROGRESS", pending=2, desired=2),
            Rollout("app:1", "v1", "ACTIVE", "COMPLETED"),
        ),
        (v1, TaskCount("app:2", "v2", pending=2)),
        desired=2,
    )
    assert starting.step == "new tasks starting" and starting.step_statuses == {
        "new tasks starting": "InProgress",
        "draining old": "Pending",
        "steady": "Pending",
    }
    draining = player.rolling_view(
        (Rollout("app:2", "v2", "PRIMARY", "IN_PROGRESS"),),
        (TaskCount("app:1", "v1", stopping=2), TaskCount("app:2", "v2", running=2, healthy=2)),
        desired=2,
    )
    assert draining.step == "draining old"
    steady = player.rolling_view(
        (Rollout("app:2", "v2", "PRIMARY", "COMPLETED"),), (TaskCount("app:2", "v2", running=2, healthy=2),), desired=2
    )
    assert steady.step == "steady" and set(steady.step_statuses.values()) == {"Succeeded"}
    # Running but not yet healthy behind the load balancer: still starting.
    unhealthy = player.rolling_view(
        (Rollout("app:2", "v2", "PRIMARY", "IN_PROGRESS"),), (v1, TaskCount("app:2", "v2", running=2)), desired=2
    )
    assert unhealthy.step == "new tasks starting"
    failed = player.rolling_view(
        (
            Rollout("app:1", "v1", "PRIMARY", "IN_PROGRESS"),
            Rollout(
                "app:2",
                "v2",
                "ACTIVE",
                "FAILED",
                failed_tasks=3,
                reason="ECS deployment circuit breaker: tasks failed to start.",
            ),
        ),
        (v1,),
        desired=2,
    )
    assert failed.step == "draining old" and failed.note == "v2 failed: rolling back"
    assert failed.error == "ECS deployment circuit breaker: tasks failed to start."


def test_mistakes_become_lab_errors_and_the_widget_shows_them() -> None:
    rec = _codedeploy_recording([0, 1])
    with pytest.raises(LabError, match="There is no frame 5: the recording has 2"):
        player.draw_frame(rec, 5)
    with pytest.raises(LabError, match="The recording has no frames"):
        player.status_line(Recording(), 0)
    with pytest.raises(LabError, match="not a deployment-player recording"):
        Recording.from_json('{"frames": []}')
    with pytest.raises(LabError, match="not valid JSON"):
        Recording.from_json("{")
    with pytest.raises(LabError, match="damaged"):
        Recording.from_json(json.dumps({"format": player.FORMAT, "frames": [{"t": 0}], "every": 5}))
    with pytest.raises(LabError, match="time order"):
        Recording.from_frames([Frame(5.0), Frame(0.0)])
    with pytest.raises(LabError, match="would record without letting time pass"):
        player.record("1m", every=0, lab=Lab(mode="offline", region="us-west-2", config=config.load()))
    with pytest.raises(LabError, match="at most 2000 frames"):
        player.record("1d", every=1, lab=Lab(mode="offline", region="us-west-2", config=config.load()))

    empty = deployment_player()
    assert "There is nothing to play yet" in status_text(empty) and empty.image.value == b""
    plain = DeploymentPlayer(Recording.from_frames(rec.frames))
    assert plain.buttons == {} and plain.reroute() is None
    assert "follows no CodeDeploy deployment" in status_text(plain)
