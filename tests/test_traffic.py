"""Synthetic traffic on the region's virtual clock, and the deployment measurements built on it.

Every test drives a real region process: the lab's stack is built with ``catch_up(6)`` (ALB with
listeners 80 and 9000, a service of two v1 tasks), 90 virtual seconds make both tasks healthy, and
the load is started and read through :mod:`labsupport.traffic` (the control API underneath).
The clock starts at 2026-01-05 09:00:00 UTC, so the traffic of a stream started at +90 s is sent
in seconds +91, +92, ...
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

import labsupport.lab as labmod
from labsupport import catchup, config, fargate, loadbalancer, traffic
from labsupport.errors import LabError
from labsupport.lab import Lab
from labsupport.region.traffic import summarise

CLUSTER = "my-app-cluster"
SERVICE = "my-app-frontend"
START = 1767603600  # 2026-01-05 09:00:00 UTC, the region clock's first instant


def control(endpoint: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(endpoint + path, data=data, method="GET" if body is None else "POST")
    request.add_header("Content-Type", "application/json")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=120) as answer:
        return dict(json.load(answer))


def advance(endpoint: str, seconds: float) -> dict[str, Any]:
    return control(endpoint, "/_lab/clock/advance", {"seconds": seconds})


def listener_url(endpoint: str, port: int = 80) -> str:
    for row in control(endpoint, "/_lab/listeners")["listeners"]:
        if row["port"] == port and row["local_url"]:
            return str(row["local_url"])
    raise AssertionError(f"no listener on port {port}")


@pytest.fixture(name="lab")
def lab_fixture(region: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    the_lab = Lab(mode="offline", region="us-west-2", config=config.load(), endpoint=region)
    monkeypatch.setattr(labmod, "_current", the_lab)
    yield the_lab
    assert control(region, "/_lab/status")["clock_errors"] == [], "a clock event failed inside the region"


def build(lab: Lab, region: str) -> dict[str, Any]:
    """The chapter-06 stack with both v1 tasks healthy (clock at +90 s)."""
    built = catchup.catch_up(6, lab, quiet=True)
    advance(region, 90)
    return built


def deploy(lab: Lab, built: dict[str, Any], **options: Any) -> None:
    """Roll the service to a new revision (environment in upper case, update_service options in lower)."""
    environment = {k: v for k, v in options.items() if k.isupper()}
    extra = {k: v for k, v in options.items() if not k.isupper()}
    arn = fargate.register(fargate.task_definition(built["service"].image, lab, **environment), lab)
    lab.client("ecs").update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=arn, **extra)


# -- steady load -------------------------------------------------------------------------------------


def test_fifty_requests_per_second_for_a_minute_are_3000_v1_answers(lab: Lab, region: str) -> None:
    build(lab, region)
    stream = traffic.start(rate=50)
    assert (stream.name, stream.listener, stream.rate, stream.sent) == ("default", "my-app-alb:80", 50.0, 0)
    assert str(stream) == "traffic 'default': 50 requests/s to my-app-alb:80 / (started 09:01:30 UTC, 0 requests sent)"
    slow = traffic.start(rate=0.5, port=9000, name="slow")  # one request every other second, on the test listener
    advance(region, 60)

    result = traffic.summary(stream="default")
    assert (result.total, result.failed, result.statuses) == (3000, 0, {200: 3000})
    assert [(v.version, v.colours, v.requests) for v in result.versions] == [("v1", ("blue",), 3000)]
    v1 = result.version("v1")
    assert v1 is not None and (v1.first_elapsed, v1.last_elapsed) == (91, 150)
    assert result.downtime_seconds == 0 and len(result.per_second) == 60
    assert {(s.total, s.failed, tuple(s.versions.items())) for s in result.per_second} == {(50, 0, (("v1", 50),))}
    text = str(result)
    assert text.startswith("3,000 requests from 09:01:31 to 09:02:30 UTC (60 seconds with traffic): 0 failed")
    assert "v1 (blue): 3,000 requests, 0 failed, answered from 09:01:31 to 09:02:30" in text
    assert "arn:" not in text and "no downtime" in text

    assert traffic.summary(stream="slow").total == 30 == traffic.requests_to("v1", stream="slow")
    assert [s.name for s in traffic.running()] == ["default", "slow"] and slow.listener == "my-app-alb:9000"
    seconds = traffic.series(stream="default")
    assert len(seconds) == 60 and seconds.versions == ["v1"]
    assert seconds.seconds[0].target_groups == {"my-app-frontend-tg-1": 50}
    assert str(seconds) == "09:01:31-09:02:30    60 s    3,000 requests  v1 100%  (0 failed)"
    # A window: [+100 s, +110 s) is ten seconds of fifty requests.
    assert traffic.summary(START + 100, START + 110, stream="default").total == 500

    # A learner's own request is counted as well, marked as real.
    probed = traffic.probe(listener_url(region), 5)
    assert (probed.statuses, probed.versions, probed.colours, probed.failed) == ({200: 5}, {"v1": 5}, {"blue": 5}, 0)
    assert str(probed) == "5 requests: 5 × 200; versions: v1 5; 0 failed"
    assert traffic.summary(stream="real").total == 5 == traffic.summary().real

    # Synthetic requests reach the listeners' observers: CloudWatch's RequestCount counts them.
    stopped = traffic.stop()
    assert sorted(s.name for s in stopped) == ["default", "slow"] and traffic.running() == []
    advance(region, 120)  # past the next two minute boundaries, where the metrics are published
    assert traffic.summary(stream="default").total == 3000  # nothing after stop
    series = control(region, "/_lab/metrics")["series"]
    lb = built_lb_arn(series)
    assert sum(v for _, v in series[lb]["RequestCount"]) == 3000 + 30 + 5


def built_lb_arn(series: dict[str, Any]) -> str:
    return next(arn for arn in series if ":loadbalancer/app/my-app-alb/" in arn)


# -- determinism and fidelity -------------------------------------------------------------------------


def scenario(lab: Lab, region: str, *, exact: bool = False) -> list[dict[str, Any]]:
    """From a reset region: a 90/10 weighted split (10 % to an empty group: 503), then a rolling
    update to a v2 that fails every 4th request, under 33 requests per second. The per-second counts."""
    control(region, "/_lab/reset", {})
    built = build(lab, region)
    lb = built["load_balancer"]
    empty = loadbalancer.ensure_target_group(lab, built["network"], "my-app-frontend-tg-2")["TargetGroupArn"]
    weighted = {"TargetGroups": [{"TargetGroupArn": lb.target_groups["my-app-frontend-tg-1"], "Weight": 90}]}
    weighted["TargetGroups"].append({"TargetGroupArn": empty, "Weight": 10})
    lab.client("elbv2").modify_listener(
        ListenerArn=lb.listeners[80], DefaultActions=[{"Type": "forward", "ForwardConfig": weighted}]
    )
    control(region, "/_lab/traffic/start", {"load_balancer": "my-app-alb", "port": 80, "rate": 33, "exact": exact})
    advance(region, 20)
    deploy(lab, built, APP_VERSION="v2", APP_COLOUR="green", ERROR_RATE="0.25")
    advance(region, 220)
    return list(control(region, "/_lab/traffic")["seconds"])


def test_same_seed_same_numbers_and_the_batched_path_counts_like_one_by_one(lab: Lab, region: str) -> None:
    first = scenario(lab, region)
    second = scenario(lab, region)
    assert first == second  # two resets, identical per-second aggregates
    one_by_one = scenario(lab, region, exact=True)  # every request through Listeners.route
    assert first == one_by_one

    totals: Counter[tuple[int, str | None]] = Counter()
    for row in first:
        for stream, _, status, version, _, _, n in row["rows"]:
            assert stream == "default"
            totals[(status, version)] += n
    assert sum(totals.values()) == 240 * 33
    # Every kind of answer is there: v1, v2, v2's ERROR_RATE 500s, and the empty group's 503s.
    assert {key for key in totals} == {(200, "v1"), (200, "v2"), (500, "v2"), (503, None)}
    assert 0.05 < totals[(503, None)] / sum(totals.values()) < 0.15


# -- deployments ----------------------------------------------------------------------------------------


def test_a_rolling_update_moves_the_users_from_v1_to_v2_without_a_failure(lab: Lab, region: str) -> None:
    built = build(lab, region)
    traffic.start(rate=50)
    advance(region, 30)
    deploy(lab, built, APP_VERSION="v2", APP_COLOUR="green")
    advance(region, 600)

    result = traffic.summary()
    assert result.total == 630 * 50 and result.failed == 0 and result.downtime_seconds == 0
    assert [v.version for v in result.versions] == ["v1", "v2"]
    v1, v2 = result.versions
    assert v1.first_elapsed == 91 and v1.first_elapsed < v2.first_elapsed <= v1.last_elapsed < v2.last_elapsed == 720
    assert v2.colours == ("green",) and v1.requests + v2.requests == result.total
    mixed = [s for s in result.per_second if len(s.versions) == 2]
    assert mixed, "during the rollout some seconds are served by both versions"
    # Blast-radius helper: v2's requests before it was first seen are none; all of them after.
    assert traffic.requests_to("v2", until=v2.first) == 0
    assert traffic.requests_to("v2", since=v2.first) == v2.requests
    assert "v1 (blue)" in str(result) and "v2 (green)" in str(result) and "0 failed" in str(result)


def test_scaling_to_zero_is_downtime(lab: Lab, region: str) -> None:
    build(lab, region)
    traffic.start(rate=20)
    advance(region, 30)
    lab.client("ecs").update_service(cluster=CLUSTER, service=SERVICE, desiredCount=0)
    advance(region, 120)

    result = traffic.summary()
    assert result.failed > 0 and result.statuses.get(503, 0) == result.failed
    assert result.answered_by_load_balancer == result.failed
    assert result.downtime_seconds > 0 and result.longest_downtime_seconds == result.downtime_seconds
    start, end = result.downtime_windows[0]
    assert end == result.last and (end - start).total_seconds() + 1 == result.downtime_seconds
    assert "down for" in str(result) and "the load balancer itself answered" in str(result)
    rows = traffic.series()
    assert rows.seconds[-1].statuses == {503: 20} and "DOWN" in str(rows).splitlines()[-1]


def test_seventy_five_virtual_minutes_at_100_rps_take_seconds(lab: Lab, region: str) -> None:
    build(lab, region)
    traffic.start(rate=100)
    started = time.perf_counter()
    advance(region, 75 * 60)
    wall = time.perf_counter() - started
    print(f"\n100 rps x 75 virtual minutes = 450,000 requests in {wall:.2f} s wall")
    result = traffic.summary()
    assert (result.total, result.failed) == (450_000, 0)
    assert wall < 10


# -- learner mistakes and real AWS -----------------------------------------------------------------------


def test_mistakes_are_explained(lab: Lab, region: str) -> None:
    build(lab, region)
    with pytest.raises(LabError) as err:
        traffic.start(load_balancer="nope")
    assert err.value.problem == (
        "There is no load balancer named 'nope' in the offline region (there are: my-app-alb)."
    )
    assert err.value.fix == "create it first (chapter 04: catch_up(5) builds it), or check the name."
    with pytest.raises(LabError, match=r"no listener on port 8080.*80, 9000"):
        traffic.start(port=8080)
    with pytest.raises(LabError, match="out of range"):
        traffic.start(rate=0)
    with pytest.raises(LabError, match="out of range"):
        traffic.start(rate=5000)
    with pytest.raises(LabError, match="cannot name a traffic stream"):
        traffic.start(name="real")
    with pytest.raises(LabError, match="Cannot read the instant"):
        traffic.summary(since="yesterday")
    assert traffic.stop("never-started") == []
    assert str(traffic.summary()) == "no requests recorded in this window"


def test_real_aws_points_to_probe_and_probe_counts_failures() -> None:
    aws = Lab(mode="aws", region="us-west-2", config=config.load())
    for call in (lambda: traffic.start(lab=aws), lambda: traffic.summary(lab=aws), lambda: traffic.stop(lab=aws)):
        with pytest.raises(LabError) as err:
            call()
        assert "virtual clock" in err.value.problem and "traffic.probe(" in err.value.fix
    with pytest.raises(LabError, match="not an http"):
        traffic.probe("my-app-alb", 3)
    with pytest.raises(LabError, match="between 1 and 1000"):
        traffic.probe("http://127.0.0.1:9/", 0)
    import socket

    with socket.socket() as s:  # a port nobody listens on: every request fails to connect
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    nothing = traffic.probe(f"http://127.0.0.1:{port}/", 3, timeout=2)
    assert (nothing.statuses, nothing.failed, nothing.versions) == ({0: 3}, 3, {})
    assert str(nothing) == "3 requests: 3 × no answer; versions: no version header; 3 failed"


def test_downtime_is_seconds_with_more_than_half_failed() -> None:
    def second(ok: int, failed: int, version: str = "v1") -> Counter[Any]:
        return Counter(
            {
                ("default", "alb:80", 200, version, "blue", "tg"): ok,
                ("default", "alb:80", 503, None, None, "tg"): failed,
            }
        )

    seconds = [(10, second(10, 0)), (11, second(4, 6)), (12, second(5, 5)), (13, second(0, 10)), (14, second(1, 9))]
    seconds += [(15, second(10, 0, "v2")), (17, second(0, 3))]
    result = summarise(seconds, origin=0)
    assert (result["total"], result["failed"], result["downtime_seconds"]) == (63, 33, 4)
    assert result["downtime_windows"] == [[11, 11], [13, 14], [17, 17]] and result["longest_downtime_seconds"] == 2
    assert [(v["version"], v["requests"], v["first_second"], v["last_second"]) for v in result["versions"]] == [
        ("v1", 20, 10, 14),
        ("v2", 10, 15, 15),
    ]
