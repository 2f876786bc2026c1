"""ALB metrics in CloudWatch and alarm evaluation, in the offline region.

The region tests go through boto3 and the control API only, exactly as a learner's notebook does:
build a VPC, an ALB, a target group and a listener, send requests to the listener's loopback URL,
move the virtual clock a minute, then read CloudWatch. The decision rule is also checked on its own
against the two example tables of CloudWatch's documentation ("How alarm state is evaluated when
data is missing"), which is where its behaviour comes from.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from labsupport.errors import LabError
from labsupport.region import metrics
from labsupport.region.clock import EPOCH, VirtualClock
from labsupport.region.listeners import Served

NS = "AWS/ApplicationELB"
T0 = datetime(2026, 1, 5, 9, 0)  # the region's clock starts here (EPOCH), UTC


# -- helpers -----------------------------------------------------------------------------------------


def control(endpoint: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(endpoint + path, data=data, method="POST" if body is not None else "GET")
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.loads(response.read()))


def advance(endpoint: str, seconds: int) -> None:
    control(endpoint, "/_lab/clock/advance", {"seconds": seconds})


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


@dataclass
class Alb:
    lb_arn: str
    tg_arn: str
    url: str

    @property
    def lb(self) -> list[dict[str, str]]:
        return [{"Name": "LoadBalancer", "Value": self.lb_arn.split(":loadbalancer/")[1]}]

    @property
    def tg(self) -> list[dict[str, str]]:
        return [{"Name": "TargetGroup", "Value": self.tg_arn.rsplit(":", 1)[1]}, *self.lb]


@pytest.fixture
def clients(region: str) -> SimpleNamespace:
    import boto3

    def client(name: str) -> Any:
        return boto3.client(name, endpoint_url=region, region_name="us-west-2")

    return SimpleNamespace(endpoint=region, ec2=client("ec2"), elbv2=client("elbv2"), cw=client("cloudwatch"))


@pytest.fixture
def alb(clients: SimpleNamespace) -> Alb:
    """The seed lesson's network with an ALB, one IP target group (no targets) and a port-80 listener."""
    ec2, elbv2 = clients.ec2, clients.elbv2
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/20")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]
        for cidr, zone in (("10.0.0.0/24", "us-west-2a"), ("10.0.1.0/24", "us-west-2b"))
    ]
    group = ec2.create_security_group(GroupName="alb-sg", Description="ALB", VpcId=vpc)["GroupId"]
    lb = elbv2.create_load_balancer(Name="my-app-alb", Subnets=subnets, SecurityGroups=[group])
    lb_arn = lb["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elbv2.create_target_group(Name="my-app-frontend-tg-1", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip")[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    elbv2.create_listener(
        LoadBalancerArn=lb_arn, Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}]
    )
    rows = control(clients.endpoint, "/_lab/listeners")["listeners"]
    return Alb(lb_arn, tg, next(row["local_url"] for row in rows if row["port"] == 80))


def datapoints(cw: Any, name: str, dims: list[dict[str, str]], *stats: str, namespace: str = NS) -> list[tuple]:
    """[(HH:MM, {stat: value}), ...] for 08:00-10:00 virtual time, one-minute periods."""
    answer = cw.get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=dims,
        StartTime=datetime(2026, 1, 5, 8, 0, tzinfo=UTC),
        EndTime=datetime(2026, 1, 5, 10, 0, tzinfo=UTC),
        Period=60,
        Statistics=list(stats or ("Sum",)),
    )["Datapoints"]
    points = sorted(answer, key=lambda p: p["Timestamp"])
    return [(p["Timestamp"].astimezone(UTC).strftime("%H:%M"), {s: p[s] for s in stats or ("Sum",)}) for p in points]


def alarm(cw: Any, name: str) -> dict[str, Any]:
    return dict(cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0])


# -- the decision rule, against CloudWatch's documented examples ----------------------------------------

# (data points oldest → newest as the docs write them, MISSING, IGNORE, BREACHING, NOT BREACHING);
# "keep" is "Retain current state". Evaluation range 5 in both tables.
TABLE_3_OF_3 = [
    ("0 - X - X", "OK", "OK", "OK", "OK"),
    ("0 - - - -", "OK", "OK", "OK", "OK"),
    ("- - - - -", "INSUFFICIENT_DATA", "keep", "ALARM", "OK"),
    ("0 X X - X", "ALARM", "ALARM", "ALARM", "ALARM"),
    ("- - X - -", "ALARM", "keep", "ALARM", "OK"),
]
TABLE_2_OF_3 = [
    ("0 - X - X", "ALARM", "ALARM", "ALARM", "ALARM"),
    ("0 0 X 0 X", "ALARM", "ALARM", "ALARM", "ALARM"),
    ("0 - X - -", "OK", "OK", "ALARM", "OK"),
    ("- - - - 0", "OK", "OK", "ALARM", "OK"),
    ("- - - X -", "ALARM", "keep", "ALARM", "OK"),
]


def _window(text: str) -> list[bool | None]:
    marks = {"0": False, "X": True, "-": None}
    return [marks[mark] for mark in reversed(text.split())]  # the rule takes the most recent first


@pytest.mark.parametrize(
    ("m", "row"), [(3, row) for row in TABLE_3_OF_3] + [(2, row) for row in TABLE_2_OF_3], ids=lambda v: str(v)
)
def test_decide_matches_the_documented_tables(m: int, row: tuple[str, ...]) -> None:
    data, *expected = row
    for treat, want in zip(("missing", "ignore", "breaching", "notBreaching"), expected, strict=True):
        got = metrics.decide(_window(data), 3, m, treat).state
        assert (got or "keep") == want, f"{data} {m}/3 TreatMissingData={treat}"


def test_decide_counts_m_out_of_n() -> None:
    assert metrics.decide([True, False, True], 3, 2, "missing").state == "ALARM"
    assert metrics.decide([True, False, False], 3, 2, "missing").state == "OK"
    assert metrics.decide([True, None, None], 3, 1, "ignore").state == "ALARM"  # 1 of 3 is enough
    # A breaching point too recent to count alone does not alarm yet (the "premature alarm" guard).
    assert metrics.decide([True, None, None, None, None], 3, 3, "missing").state == "OK"


def test_statistics_and_dimension_names() -> None:
    entries = [
        metrics._Entry(3, 3.0, 1.0, 1.0, "Count", ((1.0, 3),)),
        metrics._Entry(1, 9.0, 9.0, 9.0, None, ((9.0, 1),)),
    ]
    assert [metrics.statistic(entries, s) for s in ("Sum", "SampleCount", "Average", "Minimum", "Maximum")] == [
        12.0,
        4.0,
        3.0,
        1.0,
        9.0,
    ]
    assert metrics.statistic(entries, "p50") == 1.0 and metrics.statistic(entries, "p99") == 9.0
    assert metrics.statistic([], "Sum") is None
    listener = (
        "arn:aws:elasticloadbalancing:us-west-2:123456789012:listener/app/my-app-alb/50dc6c495c0c9188/f2f7dc8efc522ab2"
    )
    lb = metrics.load_balancer_of_listener(listener)
    assert lb == "arn:aws:elasticloadbalancing:us-west-2:123456789012:loadbalancer/app/my-app-alb/50dc6c495c0c9188"
    assert metrics.load_balancer_dimension(lb) == "app/my-app-alb/50dc6c495c0c9188"
    tg = "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/my-tg/73e2d6bc24d8a067"
    assert metrics.target_group_dimension(tg) == "targetgroup/my-tg/73e2d6bc24d8a067"


# -- the engine on its own, with stand-ins for moto (no region process) --------------------------------


class _CloudWatch:
    def __init__(self) -> None:
        self.alarms: dict[str, Any] = {}
        self.metric_data: list[Any] = []
        self.put: list[dict[str, Any]] = []

    def put_metric_data(self, namespace: str, data: list[dict[str, Any]]) -> None:
        assert namespace == NS
        self.put.extend(data)


def test_series_counts_per_minute_and_stays_quiet_without_traffic() -> None:
    cloudwatch = _CloudWatch()
    lock = threading.RLock()
    world = SimpleNamespace(
        lock=lock,
        clock=VirtualClock(lock=lock),
        listeners=SimpleNamespace(observers=[]),
        health=SimpleNamespace(listeners=[], records={}),
        backend=lambda service: cloudwatch if service == "cloudwatch" else SimpleNamespace(load_balancers={}),
    )
    engine = metrics.Metrics(world, patch_moto=False)  # type: ignore[arg-type]
    listener = "arn:aws:elasticloadbalancing:us-west-2:123456789012:listener/app/alb/0123456789abcdef/fedcba9876543210"
    lb = metrics.load_balancer_of_listener(listener)
    tg = "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/tg/0011223344556677"

    def serve(status: int, target: bool) -> None:
        where, source = ("10.0.0.50:80", "target") if target else (None, "elb")
        record = Served(world.clock.now(), listener, "/", status, tg, where, None, None, None, source)
        for observer in world.listeners.observers:
            observer(record)

    for _ in range(3):
        serve(503, target=False)
    serve(200, target=True)
    serve(500, target=True)
    world.clock.advance(60)
    assert engine.series(lb, "HTTPCode_ELB_503_Count") == [(int(EPOCH), 3.0)]
    assert engine.series(lb, "RequestCount") == [(int(EPOCH), 2.0)]  # only requests that reached a target
    assert engine.series(tg, "HTTPCode_Target_5XX_Count") == [(int(EPOCH), 1.0)]
    assert engine.series(tg, "TargetResponseTime") == [(int(EPOCH), metrics.BASE_RESPONSE_SECONDS)]
    names = {(d["MetricName"], len(d["Dimensions"])) for d in cloudwatch.put}
    assert ("HTTPCode_ELB_5XX_Count", 1) in names and ("RequestCount", 2) in names
    assert all(d["Timestamp"] == T0 for d in cloudwatch.put)
    published = len(cloudwatch.put)
    world.clock.advance(600)  # ten quiet minutes: nothing to publish, no zeros
    assert len(cloudwatch.put) == published
    with pytest.raises(LabError, match="RequestCount"):
        engine.series(lb, "Requests")


# -- the region, through boto3 ---------------------------------------------------------------------------


def test_elb_503_metrics_and_a_5xx_alarm(clients: SimpleNamespace, alb: Alb) -> None:
    cw, endpoint = clients.cw, clients.endpoint
    cw.put_metric_alarm(
        AlarmName="alb-5xx",
        Namespace=NS,
        MetricName="HTTPCode_ELB_5XX_Count",
        Dimensions=alb.lb,
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        DatapointsToAlarm=1,
        Threshold=0.0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )
    created = alarm(cw, "alb-5xx")
    assert (created["StateValue"], created["StateReason"]) == ("INSUFFICIENT_DATA", "Unchecked: Initial alarm creation")

    # No targets registered: the ALB answers every request itself with 503.
    assert [get(alb.url) for _ in range(3)] == [503, 503, 503]
    advance(endpoint, 60)
    assert datapoints(cw, "HTTPCode_ELB_503_Count", alb.lb, "Sum", "SampleCount") == [
        ("09:00", {"Sum": 3.0, "SampleCount": 3.0})
    ]
    assert datapoints(cw, "HTTPCode_ELB_5XX_Count", alb.lb) == [("09:00", {"Sum": 3.0})]
    # AWS: RequestCount counts only requests for which a target could be chosen.
    assert datapoints(cw, "RequestCount", alb.lb) == []
    fired = alarm(cw, "alb-5xx")
    assert fired["StateValue"] == "ALARM"
    assert fired["StateReason"] == (
        "Threshold Crossed: 1 out of the last 1 datapoints [3.0 (05/01/26 09:00:00)] was greater than the "
        "threshold (0.0) (minimum 1 datapoint for OK -> ALARM transition)."
    )
    assert fired["StateUpdatedTimestamp"].astimezone(UTC) == datetime(2026, 1, 5, 9, 1, tzinfo=UTC)
    reason_data = json.loads(fired["StateReasonData"])
    assert reason_data["recentDatapoints"] == [3.0] and reason_data["period"] == 60

    # Quiet minutes: CloudWatch still finds the 09:00 datapoint in the alarm's evaluation range ...
    advance(endpoint, 120)
    assert alarm(cw, "alb-5xx")["StateValue"] == "ALARM"
    # ... until it leaves the range; then the missing datapoint counts as not breaching.
    advance(endpoint, 60)
    cleared = alarm(cw, "alb-5xx")
    assert (cleared["StateValue"], cleared["StateReason"]) == (
        "OK",
        "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as "
        "[NonBreaching].",
    )
    # The target group's host counts are published every minute, traffic or not.
    hosts = datapoints(cw, "HealthyHostCount", alb.tg, "Average")
    assert hosts == [(f"09:0{i}", {"Average": 0.0}) for i in range(4)]


def test_unhealthy_target_502s_and_host_counts(clients: SimpleNamespace, alb: Alb) -> None:
    cw, endpoint = clients.cw, clients.endpoint
    # A target with nothing listening: health checks at 09:00:05 and 09:00:35 time out -> unhealthy.
    clients.elbv2.register_targets(TargetGroupArn=alb.tg_arn, Targets=[{"Id": "10.0.0.50", "Port": 80}])
    advance(endpoint, 60)
    # All targets unhealthy: the ALB fails open, picks the target, and gets no answer -> 502.
    assert [get(alb.url) for _ in range(4)] == [502] * 4
    advance(endpoint, 60)
    assert datapoints(cw, "RequestCount", alb.lb) == [("09:01", {"Sum": 4.0})]  # not doubled by the TG series
    assert datapoints(cw, "RequestCount", alb.tg) == [("09:01", {"Sum": 4.0})]
    assert datapoints(cw, "HTTPCode_ELB_502_Count", alb.lb) == [("09:01", {"Sum": 4.0})]
    assert datapoints(cw, "HTTPCode_Target_5XX_Count", alb.lb) == []  # the target never answered
    unhealthy = datapoints(cw, "UnHealthyHostCount", alb.tg, "Average", "Minimum", "Maximum")
    assert unhealthy == [
        ("09:00", {"Average": 25 / 60, "Minimum": 0.0, "Maximum": 1.0}),  # unhealthy from 09:00:35
        ("09:01", {"Average": 1.0, "Minimum": 1.0, "Maximum": 1.0}),
    ]
    assert datapoints(cw, "HealthyHostCount", alb.tg, "Maximum") == [
        ("09:00", {"Maximum": 0.0}),
        ("09:01", {"Maximum": 0.0}),
    ]
    # Dimensions in another order name the same metric; list_metrics lists each metric once.
    reordered = [alb.tg[1], alb.tg[0]]
    answer = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "q",
                "MetricStat": {
                    "Metric": {"Namespace": NS, "MetricName": "RequestCount", "Dimensions": reordered},
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=T0.replace(tzinfo=UTC),
        EndTime=datetime(2026, 1, 5, 9, 5, tzinfo=UTC),
    )["MetricDataResults"][0]
    assert answer["Values"] == [4.0]
    listed = [(m["MetricName"], len(m["Dimensions"])) for m in cw.list_metrics(Namespace=NS)["Metrics"]]
    assert len(listed) == len(set(listed))
    assert ("UnHealthyHostCount", 2) in listed


def test_custom_metric_alarm_m_of_n_and_alarm_updates(clients: SimpleNamespace) -> None:
    cw, endpoint = clients.cw, clients.endpoint
    settings: dict[str, Any] = {
        "AlarmName": "app-errors",
        "Namespace": "Lab/App",
        "MetricName": "Errors",
        "Statistic": "Maximum",
        "Period": 60,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 2,
        "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanThreshold",
    }
    cw.put_metric_alarm(**settings)
    # Without a Timestamp a datapoint lands at the region's (virtual) now, as on AWS at real now.
    cw.put_metric_data(Namespace="Lab/App", MetricData=[{"MetricName": "Errors", "Value": 5.0}])
    assert datapoints(cw, "Errors", [], "Maximum", namespace="Lab/App") == [("09:00", {"Maximum": 5.0})]
    advance(endpoint, 60)
    assert alarm(cw, "app-errors")["StateValue"] == "OK"  # 1 breaching datapoint; 2 of 3 are needed
    cw.put_metric_data(Namespace="Lab/App", MetricData=[{"MetricName": "Errors", "Value": 7.0}])
    advance(endpoint, 60)
    fired = alarm(cw, "app-errors")
    assert (fired["StateValue"], fired["StateReason"]) == (
        "ALARM",
        "Threshold Crossed: 2 out of the last 2 datapoints [7.0 (05/01/26 09:01:00), 5.0 (05/01/26 09:00:00)] "
        "were greater than the threshold (1.0) (minimum 2 datapoints for OK -> ALARM transition).",
    )
    # Updating an alarm keeps its state (AWS); SetAlarmState lasts until the next evaluation.
    cw.put_metric_alarm(**settings, AlarmDescription="errors from the sample app")
    assert alarm(cw, "app-errors")["StateValue"] == "ALARM"
    cw.set_alarm_state(AlarmName="app-errors", StateValue="OK", StateReason="testing the pager")
    assert alarm(cw, "app-errors")["StateValue"] == "OK"
    advance(endpoint, 60)
    assert alarm(cw, "app-errors")["StateValue"] == "ALARM"
