"""The target-health timeline: its data model, watch() against a scripted client, the figure, the widget,
and one run against the real offline region's health checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from matplotlib.figure import Figure

from labsupport import target_health
from labsupport.diagram import figure_to_png
from labsupport.errors import LabError
from labsupport.target_health import GONE, Sample, TargetState, Timeline, draw_timeline, watch
from labsupport.widgets.target_health import TargetHealthTimeline, status_text, target_health_timeline

PNG = b"\x89PNG\r\n\x1a\n"
TG_ARN = "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/my-app-frontend-tg-1/0123456789abcdef"
A, B = "10.0.0.4:80", "10.0.2.4:80"


class NotFound(Exception):
    pass


class FakeElbv2:
    """Just enough of an ELBv2 client: one target group whose health follows a script of the clock.

    ``script(now)`` returns ``{target: (state, reason)}``; ``wait`` moves ``now`` like clock.advance.
    """

    class exceptions:
        TargetGroupNotFoundException = NotFound

    def __init__(self, script: Any) -> None:
        self.script = script
        self.now = 0.0
        self.polls = 0

    def wait(self, seconds: float) -> None:
        self.now += seconds

    def describe_target_groups(self, Names: list[str] | None = None, TargetGroupArns: list[str] | None = None) -> Any:
        if Names == ["my-app-frontend-tg-1"] or TargetGroupArns == [TG_ARN]:
            return {"TargetGroups": [{"TargetGroupArn": TG_ARN, "TargetGroupName": "my-app-frontend-tg-1"}]}
        raise NotFound("no such target group")

    def describe_target_health(self, TargetGroupArn: str) -> Any:
        assert TargetGroupArn == TG_ARN
        self.polls += 1
        rows = []
        for target, (state, reason) in self.script(self.now).items():
            ip, port = target.split(":")
            health = {"State": state}
            if reason:
                health.update(Reason=reason, Description=f"because {reason}")
            rows.append({"Target": {"Id": ip, "Port": int(port)}, "TargetHealth": health})
        return {"TargetHealthDescriptions": rows}


def registration(now: float) -> dict[str, tuple[str, str | None]]:
    """Two new targets: initial for 5 s, then healthy; B is listed first to check the sorting."""
    state = ("initial", "Elb.RegistrationInProgress") if now < 5 else ("healthy", None)
    return {B: state, A: state}


# ---------------------------------------------------------------------- the timeline model
def test_record_changes_segments_and_queries() -> None:
    line = Timeline("tg", labels={"10.0.0.4": "10.0.0.4 (us-west-2a)"})
    line.record(0, [TargetState(B, "initial", "Elb.RegistrationInProgress"), TargetState(A, "initial")])
    line.record(1, [TargetState(A, "initial"), TargetState(B, "initial", "Elb.RegistrationInProgress")])
    line.record(5, [TargetState(A, "healthy"), TargetState(B, "healthy")])
    line.record(6, [TargetState(A, "draining", "Target.DeregistrationInProgress")])
    assert line.targets() == [A, B]  # by address within a poll
    assert [(s.at, s.target, s.state) for s in line.changes()] == [
        (0, A, "initial"),
        (0, B, "initial"),
        (5, A, "healthy"),
        (5, B, "healthy"),
        (6, A, "draining"),
        (6, B, GONE),
    ]
    assert line.first("healthy") == 5 and line.first("healthy", B) == 5 and line.first("unhealthy") is None
    assert line.settled("healthy") == 5 and line.settled("initial") == 0 and line.settled("draining") == 6
    assert [s.state for s in line.now()] == ["draining"]
    assert line.segments(A) == [
        target_health.Segment(0, 5, "initial"),
        target_health.Segment(5, 6, "healthy"),
        target_health.Segment(6, 6, "draining", "Target.DeregistrationInProgress"),
    ]
    assert line.label(A) == "10.0.0.4 (us-west-2a)" and line.label(B) == B
    with pytest.raises(LabError, match="comes before"):
        line.record(3, [])
    with pytest.raises(LabError, match="never seen target"):
        line.latest("10.9.9.9:80")


def test_a_change_without_time_passing_supersedes_and_marks_sort_between_polls() -> None:
    line = Timeline("tg")
    line.mark("registered")
    line.record(0, [TargetState(A, "initial", "Elb.RegistrationInProgress")])
    line.record(5, [TargetState(A, "healthy")])
    line.mark("deregistered")
    line.record(5, [TargetState(A, "draining", "Target.DeregistrationInProgress")])
    assert line.segments(A) == [
        target_health.Segment(0, 5, "initial", "Elb.RegistrationInProgress"),
        target_health.Segment(5, 5, "draining", "Target.DeregistrationInProgress"),
    ]
    text = str(line).splitlines()
    assert text == [
        "+0 s  --- registered",
        "+0 s  10.0.0.4:80  initial   Elb.RegistrationInProgress",
        "+5 s  10.0.0.4:80  healthy",
        "+5 s  --- deregistered",
        "+5 s  10.0.0.4:80  draining  Target.DeregistrationInProgress",
    ]
    assert line.text(after=5).splitlines()[0] == "+5 s  10.0.0.4:80  healthy"
    assert "no targets seen" in Timeline("empty-tg").text()


# ---------------------------------------------------------------------- watch() with a scripted client
def test_watch_polls_until_healthy_and_continues() -> None:
    client = FakeElbv2(registration)
    line = watch(client, "my-app-frontend-tg-1", "1m", until="healthy", wait=client.wait)
    assert line.target_group == "my-app-frontend-tg-1"
    assert line.end == 5 and client.now == 5 and client.polls == 6  # polls at 0, 1, ..., 5
    assert line.first("healthy") == 5
    assert [s.reason for s in line.changes()][:2] == ["Elb.RegistrationInProgress"] * 2
    # Continuing: times keep counting, and a state already reached stops at once (one poll, no wait).
    watch(client, TG_ARN, "1m", timeline=line, until="healthy", wait=client.wait)
    assert line.end == 5 and client.now == 5
    watch(client, TG_ARN, 10, every=5, timeline=line, wait=client.wait)
    assert line.end == 15 and line.every == 5


def test_watch_refuses_bad_arguments() -> None:
    client = FakeElbv2(registration)
    with pytest.raises(LabError, match="without letting time pass"):
        watch(client, TG_ARN, "1m", every=0, wait=client.wait)
    with pytest.raises(LabError, match="polls"):
        watch(client, TG_ARN, "1d", every=1, wait=client.wait)
    with pytest.raises(LabError, match="not a target state"):
        watch(client, TG_ARN, "1m", until="green", wait=client.wait)
    with pytest.raises(LabError, match="no target group 'my-app-frontend-tg-9'"):
        watch(client, "my-app-frontend-tg-9", "1m", wait=client.wait)
    with pytest.raises(LabError, match="write it like"):
        watch(client, TG_ARN, "soon", wait=client.wait)
    assert client.polls == 0 and client.now == 0


def test_watch_until_a_function_and_table() -> None:
    client = FakeElbv2(lambda now: {A: ("draining", "Target.DeregistrationInProgress")} if now < 30 else {})
    line = watch(client, TG_ARN, "2m", until=lambda t: not t.now(), wait=client.wait, labels={A: "task a"})
    assert line.end == 30 and [s.state for s in line.changes()] == ["draining", GONE]
    states = target_health.current(client, TG_ARN)
    assert states == []
    assert target_health.table(states) == "no targets registered"
    rows = [TargetState(A, "unhealthy", "Target.Timeout", "Request timed out"), TargetState(B, "healthy")]
    assert target_health.table(rows, {"10.0.0.4": "task a"}).splitlines() == [
        "target       state      reason          description",
        "task a       unhealthy  Target.Timeout  Request timed out",
        "10.0.2.4:80  healthy    -               -",
    ]


# ---------------------------------------------------------------------- the figure
def _story() -> Timeline:
    client = FakeElbv2(
        lambda now: {
            A: ("initial", "Elb.RegistrationInProgress")
            if now < 5
            else ("healthy", None)
            if now < 25
            else ("unhealthy", "Target.ResponseCodeMismatch"),
            B: ("healthy", None) if now < 40 else ("draining", "Target.DeregistrationInProgress"),
        }
    )
    line = Timeline("my-app-frontend-tg-1", labels={"10.0.0.4": "10.0.0.4 (us-west-2a)"})
    line.mark("registered")
    watch(client, TG_ARN, "50s", timeline=line, wait=client.wait)
    line.mark("path broken", at=15)
    return line


def test_figure_has_one_lane_per_target_with_states_reasons_and_marks() -> None:
    fig = _story().figure()
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["10.0.0.4 (us-west-2a)", B]
    words = [t.get_text() for t in ax.texts]
    assert "unhealthy\nTarget.ResponseCodeMismatch" in words
    assert "draining" in " ".join(words) and " registered" in words and " path broken" in words
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["initial", "healthy", "unhealthy", "draining"]
    colours = {tuple(round(c, 3) for c in bar.get_facecolor()[:3]) for bar in ax.patches}
    assert len(colours) == 4
    assert figure_to_png(fig).startswith(PNG)


def test_figure_of_an_empty_timeline_says_so() -> None:
    fig = draw_timeline(Timeline("my-app-frontend-tg-1"), title="nothing yet")
    words = [t.get_text() for t in fig.axes[0].texts] + [t.get_text() for t in fig.texts]
    assert "no targets registered in this target group" in words and "nothing yet" in words
    assert figure_to_png(fig).startswith(PNG)


# ---------------------------------------------------------------------- the widget
def test_widget_starts_with_one_poll_and_buttons_watch_longer() -> None:
    client = FakeElbv2(registration)
    widget = target_health_timeline(client, "my-app-frontend-tg-1", wait=client.wait)
    assert isinstance(widget, TargetHealthTimeline)
    assert client.now == 0 and client.polls == 1
    assert bytes(widget.image.value).startswith(PNG)
    assert "initial (Elb.RegistrationInProgress)" in widget.status.value
    assert [b.description for b in widget.buttons] == ["+10 s", "+30 s", "+2 min"]
    widget.buttons[0].click()
    assert client.now == 10 and widget.timeline.end == 10
    assert widget.status.value == "+10 s: 10.0.0.4:80 healthy · 10.0.2.4:80 healthy"
    assert not any(b.disabled for b in widget.buttons)


def test_widget_continues_a_timeline_and_reports_errors() -> None:
    client = FakeElbv2(registration)
    line = watch(client, TG_ARN, "1m", until="healthy", wait=client.wait, labels={"10.0.0.4": "task a"})
    widget = TargetHealthTimeline(client, TG_ARN, line, wait=client.wait)
    assert widget.timeline is line and client.polls == 6  # no extra poll for a timeline with samples
    assert status_text(line).startswith("+5 s: task a healthy")
    broken = TargetHealthTimeline(client, "my-app-frontend-tg-9", wait=client.wait)
    assert "Error" in broken.status.value and "no target group" in broken.status.value
    assert widget.watch(-5) is None and "negative" in widget.status.value


def test_sample_is_plain_data() -> None:
    sample = Sample(5, A, "healthy")
    assert sample.reason is None and sample == Sample(5.0, A, "healthy")


# ---------------------------------------------------------------------- against the offline region
def test_a_target_with_nothing_listening_times_out_then_drains(
    region: str, region_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import labsupport.lab
    from labsupport import config, loadbalancer, network
    from labsupport.lab import Lab

    lab = Lab(mode="offline", region="us-west-2", config=config.load(), endpoint=region)
    monkeypatch.setattr(labsupport.lab, "_current", lab)
    # labsupport.clock finds the region through its state file, so LABSUPPORT_HOME points there.
    monkeypatch.setenv("LABSUPPORT_HOME", str(region_home))
    net = network.build(lab)
    lb = loadbalancer.build(lab, net)
    elbv2 = lab.client("elbv2")
    tg = lb.target_groups["my-app-frontend-tg-1"]

    line = Timeline("my-app-frontend-tg-1")
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": "10.0.0.200", "Port": 80}])
    watch(elbv2, "my-app-frontend-tg-1", "1m", timeline=line, until="unhealthy")
    # Registration 5 s, then checks at 5 s and 15 s find nothing listening: two failures in a row.
    assert [(s.at, s.state, s.reason) for s in line.changes()] == [
        (0, "initial", "Elb.RegistrationInProgress"),
        (5, "initial", "Elb.InitialHealthChecking"),
        (15, "unhealthy", "Target.Timeout"),
    ]
    assert target_health.current(elbv2, tg)[0].description == "Request timed out"
    gone = line.mark("deregistered")
    elbv2.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": "10.0.0.200", "Port": 80}])
    watch(elbv2, tg, "2m", timeline=line, until=lambda t: not t.now())
    assert [(s.at - gone, s.state) for s in line.changes(after=gone)][-2:] == [(0, "draining"), (30, GONE)]
