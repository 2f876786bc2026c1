"""ALB target health in the offline region, checked against aws-behaviour.md §2.2.

Targets here are mostly standalone tasks (RunTask) registered by hand in their own target group, so
that no ECS service reacts to their health: each test watches the load balancer alone. Health
checks really call the sample app in the task (``FAIL_HEALTH``, ``SLOW_START_SECONDS``,
``RESPONSE_DELAY_MS``), on the virtual clock: every check time below is exact.
"""

from __future__ import annotations

from typing import Any

from test_region_ecs_engine import (  # noqa: F401  (lab_fixture provides the "lab" fixture)
    Stack,
    advance,
    at,
    build_stack,
    health_history,
    ip_of,
    lab_fixture,
)

from labsupport.lab import Lab

PRIVATE_A = "my-workspace-subnet-app-private1-a"


def target_group(stack: Stack, name: str, priority: int | None = None, **health: Any) -> str:
    """An ``ip`` target group with the lab's health check; with ``priority``, a listener-80 rule uses it."""
    settings = {
        "HealthCheckPath": "/health",
        "HealthCheckIntervalSeconds": 10,
        "HealthCheckTimeoutSeconds": 5,
        "HealthyThresholdCount": 2,
        "UnhealthyThresholdCount": 2,
        "Matcher": {"HttpCode": "200"},
    }
    settings.update(health)
    arn = stack.elbv2.create_target_group(
        Name=name, Protocol="HTTP", Port=80, VpcId=stack.net.vpc_id, TargetType="ip", **settings
    )["TargetGroups"][0]["TargetGroupArn"]
    stack.elbv2.modify_target_group_attributes(
        TargetGroupArn=arn, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}]
    )
    if priority is not None:
        use(stack, arn, name, priority)
    return str(arn)


def use(stack: Stack, tg_arn: str, name: str, priority: int) -> None:
    stack.elbv2.create_rule(
        ListenerArn=stack.built["load_balancer"].listeners[80],
        Priority=priority,
        Conditions=[{"Field": "path-pattern", "Values": [f"/{name}/*"]}],
        Actions=[{"Type": "forward", "TargetGroupArn": tg_arn}],
    )


def start_task(stack: Stack, subnet: str = PRIVATE_A, groups: list[str] | None = None, **env: str) -> str:
    """A standalone task (RUNNING 30 s later, when its app starts); returns its IP."""
    arn = stack.register(**env) if env else stack.built["service"].task_definition_arn
    network = {
        "subnets": [stack.net.subnets[subnet]],
        "securityGroups": groups or [stack.net.security_groups["my-app-frontend-sg"]],
        "assignPublicIp": "DISABLED",
    }
    task = stack.ecs.run_task(
        cluster="my-app-cluster",
        taskDefinition=arn,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": network},
    )["tasks"][0]
    return ip_of(task)


def register(stack: Stack, tg_arn: str, ip: str) -> None:
    stack.elbv2.register_targets(TargetGroupArn=tg_arn, Targets=[{"Id": ip, "Port": 80}])


def state(stack: Stack, tg_arn: str, ip: str) -> tuple[str, str | None, str | None]:
    health = stack.health(tg_arn)[ip]
    return health["State"], health.get("Reason"), health.get("Description")


def changes(stack: Stack, tg_arn: str, ip: str) -> list[tuple[float, str, str]]:
    """(seconds since start, old, new) for one target, from GET /_lab/health-history."""
    start = at(0).timestamp()
    return [
        (round(c["at"] - start, 3), c["old"], c["new"])
        for c in health_history(stack.endpoint)
        if c["tg_arn"] == tg_arn and c["target_id"] == ip
    ]


INITIAL = ("initial", "Elb.RegistrationInProgress", "Target registration is in progress")
CHECKING = ("initial", "Elb.InitialHealthChecking", "Initial health checks in progress")
HEALTHY = ("healthy", None, None)
TIMEOUT = ("unhealthy", "Target.Timeout", "Request timed out")


def mismatch(code: int) -> tuple[str, str, str]:
    return "unhealthy", "Target.ResponseCodeMismatch", f"Health checks failed with these codes: [{code}]"


# -- registration and the first check ---------------------------------------------------------------


def test_a_new_target_is_healthy_after_one_passing_check(lab: Lab, region: str) -> None:
    stack = build_stack(lab, region, settle=False)
    advance(region, 31)  # the service's tasks reach RUNNING and are registered at t=31
    ips = sorted(stack.health())
    assert len(ips) == 2
    assert {state(stack, stack.tg_arn, ip) for ip in ips} == {INITIAL}
    advance(region, 4.9)
    assert {state(stack, stack.tg_arn, ip) for ip in ips} == {INITIAL}
    advance(region, 0.1)  # first check 5 s after registration; HealthyThresholdCount (2) does not apply
    assert {state(stack, stack.tg_arn, ip) for ip in ips} == {HEALTHY}
    for ip in ips:
        assert changes(stack, stack.tg_arn, ip) == [(31.0, "unregistered", "initial"), (36.0, "initial", "healthy")]


def test_failing_checks_turn_unhealthy_at_the_threshold_and_recover(lab: Lab, region: str) -> None:
    stack = build_stack(lab, region)  # t=60
    slow = target_group(stack, "lab-slow", priority=10)
    failing = target_group(stack, "lab-failing", priority=11, UnhealthyThresholdCount=3)
    slow_ip = start_task(stack, SLOW_START_SECONDS="60")  # app starts at t=90 and is ready at t=150
    failing_ip = start_task(stack, FAIL_HEALTH="true")
    advance(region, 30)
    register(stack, slow, slow_ip)  # t=90: checks at 95, 105, 115, ...
    register(stack, failing, failing_ip)
    advance(region, 5)
    assert state(stack, slow, slow_ip) == CHECKING  # one failure: still initial
    assert state(stack, failing, failing_ip) == CHECKING
    advance(region, 10)
    assert state(stack, slow, slow_ip) == mismatch(503)  # UnhealthyThresholdCount 2 reached at t=105
    assert state(stack, failing, failing_ip) == CHECKING
    advance(region, 10)
    assert state(stack, failing, failing_ip) == mismatch(500)  # UnhealthyThresholdCount 3 reached at t=115
    advance(region, 40)
    assert state(stack, slow, slow_ip) == mismatch(503)  # t=155: one pass, HealthyThresholdCount is 2
    advance(region, 10)
    assert state(stack, slow, slow_ip) == HEALTHY
    assert changes(stack, slow, slow_ip) == [
        (90.0, "unregistered", "initial"),
        (105.0, "initial", "unhealthy"),
        (165.0, "unhealthy", "healthy"),
    ]
    assert changes(stack, failing, failing_ip) == [(90.0, "unregistered", "initial"), (115.0, "initial", "unhealthy")]


# -- deregistration -------------------------------------------------------------------------------------


def test_a_deregistered_target_drains_for_exactly_the_delay(lab: Lab, region: str) -> None:
    stack = build_stack(lab, region)
    tg = target_group(stack, "lab-drain", priority=10)
    quick = target_group(stack, "lab-quick", priority=11)
    stack.elbv2.modify_target_group_attributes(
        TargetGroupArn=quick, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "0"}]
    )
    ip = start_task(stack)
    advance(region, 30)
    register(stack, tg, ip)
    register(stack, quick, ip)
    advance(region, 10)  # t=100, healthy in both
    stack.elbv2.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": ip, "Port": 80}])
    stack.elbv2.deregister_targets(TargetGroupArn=quick, Targets=[{"Id": ip, "Port": 80}])
    draining = ("draining", "Target.DeregistrationInProgress", "Target deregistration is in progress")
    assert state(stack, tg, ip) == draining
    advance(region, 0)  # a delay of 0: gone as soon as the clock moves at all
    assert stack.health(quick) == {}
    advance(region, 29.9)
    assert state(stack, tg, ip) == draining
    advance(region, 0.1)
    assert stack.health(tg) == {}
    assert changes(stack, tg, ip)[-2:] == [(100.0, "healthy", "draining"), (130.0, "draining", "unregistered")]


# -- why a target is not healthy -----------------------------------------------------------------------


def test_a_target_group_no_listener_uses_is_unused_and_not_checked(lab: Lab, region: str) -> None:
    stack = build_stack(lab, region)
    tg = target_group(stack, "lab-unused")
    ip = start_task(stack)
    advance(region, 30)
    register(stack, tg, ip)
    unused = ("unused", "Target.NotInUse", "Target group is not configured to receive traffic from the load balancer")
    assert state(stack, tg, ip) == unused
    advance(region, 60)
    assert state(stack, tg, ip) == unused
    assert changes(stack, tg, ip) == [(90.0, "unregistered", "initial")]  # no check ever ran
    use(stack, tg, "lab-unused", 10)
    advance(region, 10)
    assert state(stack, tg, ip) == HEALTHY


def test_a_security_group_that_does_not_admit_the_alb_times_out(lab: Lab, region: str) -> None:
    stack = build_stack(lab, region)
    closed = stack.ec2.create_security_group(
        GroupName="lab-closed-sg", Description="no inbound rules", VpcId=stack.net.vpc_id
    )["GroupId"]
    tg = target_group(stack, "lab-closed", priority=10)
    ip = start_task(stack, groups=[closed])
    advance(region, 30)
    register(stack, tg, ip)
    advance(region, 15)
    assert state(stack, tg, ip) == TIMEOUT
    # Allow the load balancer's group in on the app port: the next two checks pass.
    stack.ec2.authorize_security_group_ingress(
        GroupId=closed,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 80,
                "ToPort": 80,
                "UserIdGroupPairs": [{"GroupId": stack.net.security_groups["my-app-lb-sg"]}],
            }
        ],
    )
    advance(region, 20)
    assert state(stack, tg, ip) == HEALTHY


def test_an_address_where_nothing_runs_times_out(lab: Lab, region: str) -> None:
    stack = build_stack(lab, region)
    tg = target_group(stack, "lab-empty", priority=10)
    register(stack, tg, "10.0.0.200")
    advance(region, 5)
    assert state(stack, tg, "10.0.0.200") == CHECKING
    advance(region, 10)
    assert state(stack, tg, "10.0.0.200") == TIMEOUT


def test_matcher_codes_and_ranges(lab: Lab, region: str) -> None:
    stack = build_stack(lab, region)
    tg = target_group(stack, "lab-matcher", priority=10, Matcher={"HttpCode": "202"})
    ip = start_task(stack)
    advance(region, 30)
    register(stack, tg, ip)
    advance(region, 15)
    assert state(stack, tg, ip) == mismatch(200)
    stack.elbv2.modify_target_group(TargetGroupArn=tg, Matcher={"HttpCode": "200-299"})
    advance(region, 20)
    assert state(stack, tg, ip) == HEALTHY
    stack.elbv2.modify_target_group(TargetGroupArn=tg, Matcher={"HttpCode": "201,202"})
    advance(region, 20)
    assert state(stack, tg, ip) == mismatch(200)


def test_health_check_timeout_against_a_slow_app(lab: Lab, region: str) -> None:
    stack = build_stack(lab, region)
    tg = target_group(stack, "lab-timeout", priority=10)
    ip = start_task(stack, RESPONSE_DELAY_MS="6000")
    advance(region, 30)
    register(stack, tg, ip)
    advance(region, 15)
    assert state(stack, tg, ip) == TIMEOUT  # 6 s answers, 5 s timeout
    stack.elbv2.modify_target_group(TargetGroupArn=tg, HealthCheckTimeoutSeconds=10, HealthCheckIntervalSeconds=15)
    advance(region, 40)
    assert state(stack, tg, ip) == HEALTHY


def test_a_target_in_a_zone_the_load_balancer_does_not_use_is_unused(lab: Lab, region: str) -> None:
    stack = build_stack(lab, region)
    ec2 = stack.ec2
    subnet = ec2.create_subnet(VpcId=stack.net.vpc_id, CidrBlock="10.0.5.0/24", AvailabilityZone="us-west-2c")["Subnet"]
    ec2.associate_route_table(
        RouteTableId=stack.net.route_tables["my-workspace-rtb-private1-a"], SubnetId=subnet["SubnetId"]
    )
    stack.net.subnets["lab-private-c"] = subnet["SubnetId"]
    tg = target_group(stack, "lab-zone", priority=10)
    ip = start_task(stack, subnet="lab-private-c")
    advance(region, 30)
    register(stack, tg, ip)
    advance(region, 30)
    assert state(stack, tg, ip) == (
        "unused",
        "Target.NotInUse",
        "Target is in an Availability Zone that is not enabled for the load balancer",
    )
