"""The offline region's Application Load Balancer rules, through boto3 as a learner calls them.

Every refusal is checked for AWS's exact error code, and for the exact message where the region
sets it; every rule also gets its good path, so that no rule refuses what AWS accepts. The network
is the seed lesson's: my-workspace-vpc 10.0.0.0/20 in us-west-2, with subnets in two zones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError


def fails(call: Any, **kwargs: Any) -> tuple[str, str]:
    """(code, message) of the ClientError ``call(**kwargs)`` raises; fails the test if it succeeds."""
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    error = info.value.response["Error"]
    return error["Code"], error["Message"]


@dataclass
class Net:
    vpc: str
    a: str  # 10.0.0.0/24, us-west-2a
    b: str  # 10.0.1.0/24, us-west-2b
    a2: str  # 10.0.2.0/24, us-west-2a again
    sg: str
    other_vpc: str
    other_subnet: str  # 10.1.0.0/24, us-west-2b, in other_vpc


@pytest.fixture
def elbv2(region: str) -> Any:
    import boto3

    return boto3.client("elbv2", endpoint_url=region, region_name="us-west-2")


@pytest.fixture
def net(ec2: Any) -> Net:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/20")["Vpc"]["VpcId"]

    def subnet(vpc_id: str, cidr: str, zone: str) -> str:
        return ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]

    other = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="alb-sg", Description="ALB", VpcId=vpc)["GroupId"]
    return Net(
        vpc=vpc,
        a=subnet(vpc, "10.0.0.0/24", "us-west-2a"),
        b=subnet(vpc, "10.0.1.0/24", "us-west-2b"),
        a2=subnet(vpc, "10.0.2.0/24", "us-west-2a"),
        sg=group,
        other_vpc=other,
        other_subnet=subnet(other, "10.1.0.0/24", "us-west-2b"),
    )


def make_alb(elbv2: Any, net: Net, name: str = "my-app-alb", **kwargs: Any) -> str:
    kwargs.setdefault("Subnets", [net.a, net.b])
    kwargs.setdefault("SecurityGroups", [net.sg])
    return elbv2.create_load_balancer(Name=name, **kwargs)["LoadBalancers"][0]["LoadBalancerArn"]


def make_tg(elbv2: Any, vpc: str, name: str = "my-app-frontend-tg-1", **kwargs: Any) -> str:
    kwargs.setdefault("Protocol", "HTTP")
    kwargs.setdefault("Port", 80)
    kwargs.setdefault("TargetType", "ip")
    return elbv2.create_target_group(Name=name, VpcId=vpc, **kwargs)["TargetGroups"][0]["TargetGroupArn"]


def forward(*weights: tuple[str, int]) -> list[dict[str, Any]]:
    return [
        {
            "Type": "forward",
            "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": arn, "Weight": weight} for arn, weight in weights]},
        }
    ]


# -- load balancers ----------------------------------------------------------------------------------


def test_alb_subnets_two_zones_one_vpc(elbv2: Any, net: Net) -> None:
    assert fails(elbv2.create_load_balancer, Name="one", Subnets=[net.a]) == (
        "ValidationError",
        "At least two subnets in two different Availability Zones must be specified",
    )
    assert fails(elbv2.create_load_balancer, Name="same-zone", Subnets=[net.a, net.a2]) == (
        "InvalidConfigurationRequest",
        "A load balancer cannot be attached to multiple subnets in the same Availability Zone",
    )
    code, message = fails(elbv2.create_load_balancer, Name="two-vpcs", Subnets=[net.a, net.other_subnet])
    assert code == "InvalidConfigurationRequest" and net.other_vpc in message
    # SubnetMappings count the same way.
    assert fails(elbv2.create_load_balancer, Name="maps", SubnetMappings=[{"SubnetId": net.a}])[0] == "ValidationError"
    # A Network Load Balancer may use one zone.
    elbv2.create_load_balancer(Name="my-nlb", Subnets=[net.a], Type="network")
    balancer = elbv2.describe_load_balancers(LoadBalancerArns=[make_alb(elbv2, net)])["LoadBalancers"][0]
    assert sorted(zone["ZoneName"] for zone in balancer["AvailabilityZones"]) == ["us-west-2a", "us-west-2b"]
    arn = balancer["LoadBalancerArn"]
    assert fails(elbv2.set_subnets, LoadBalancerArn=arn, Subnets=[net.b])[0] == "ValidationError"
    assert fails(elbv2.set_subnets, LoadBalancerArn=arn, Subnets=[net.a, net.other_subnet])[0] == (
        "InvalidConfigurationRequest"
    )


def test_load_balancer_names(elbv2: Any, net: Net) -> None:
    long_name = "a" * 33
    assert fails(elbv2.create_load_balancer, Name=long_name, Subnets=[net.a, net.b]) == (
        "ValidationError",
        f"The load balancer name '{long_name}' cannot be longer than '32' characters",
    )
    assert fails(elbv2.create_load_balancer, Name="my_alb", Subnets=[net.a, net.b]) == (
        "ValidationError",
        "The load balancer name 'my_alb' can only contain characters that are alphanumeric characters or hyphens(-)",
    )
    assert fails(elbv2.create_load_balancer, Name="-alb", Subnets=[net.a, net.b]) == (
        "ValidationError",
        "The load balancer name '-alb' cannot begin or end with '-'",
    )
    assert fails(elbv2.create_load_balancer, Name="internal-alb", Subnets=[net.a, net.b]) == (
        "ValidationError",
        "The load balancer name 'internal-alb' cannot begin with 'internal-'",
    )
    make_alb(elbv2, net, name="a" * 32)


def test_load_balancer_name_is_idempotent_or_duplicate(elbv2: Any, net: Net) -> None:
    first = make_alb(elbv2, net)
    # The same call again (a notebook cell run twice) returns the same load balancer.
    assert make_alb(elbv2, net) == first
    assert len(elbv2.describe_load_balancers()["LoadBalancers"]) == 1
    assert fails(
        elbv2.create_load_balancer,
        Name="my-app-alb",
        Subnets=[net.a, net.b],
        SecurityGroups=[net.sg],
        Scheme="internal",
    ) == (
        "DuplicateLoadBalancerName",
        "A load balancer with the same name 'my-app-alb' exists, but with different settings",
    )
    assert len(elbv2.describe_load_balancers()["LoadBalancers"]) == 1


# -- target groups -----------------------------------------------------------------------------------


def test_target_group_names_and_idempotency(elbv2: Any, net: Net) -> None:
    assert fails(elbv2.create_target_group, Name="t" * 33, Protocol="HTTP", Port=80, VpcId=net.vpc)[0] == (
        "ValidationError"
    )
    assert fails(elbv2.create_target_group, Name="tg-", Protocol="HTTP", Port=80, VpcId=net.vpc) == (
        "ValidationError",
        "Target group name 'tg-' cannot begin or end with '-'",
    )
    first = make_tg(elbv2, net.vpc)
    assert make_tg(elbv2, net.vpc) == first
    assert fails(elbv2.create_target_group, Name="my-app-frontend-tg-1", Protocol="HTTP", Port=8080, VpcId=net.vpc) == (
        "DuplicateTargetGroupName",
        "A target group with the same name 'my-app-frontend-tg-1' exists, but with different settings",
    )


def test_health_check_timeout_defaults(elbv2: Any, net: Net) -> None:
    def timeout(arn: str) -> int:
        return elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]["HealthCheckTimeoutSeconds"]

    assert timeout(make_tg(elbv2, net.vpc, name="http")) == 5
    assert timeout(make_tg(elbv2, net.vpc, name="https", Protocol="HTTPS")) == 5
    assert timeout(make_tg(elbv2, net.vpc, name="tcp", Protocol="TCP")) == 10
    assert timeout(make_tg(elbv2, net.vpc, name="given", HealthCheckTimeoutSeconds=7)) == 7
    # A 5 s interval is still accepted (the default timeout must not collide with it).
    make_tg(elbv2, net.vpc, name="fast", HealthCheckIntervalSeconds=5)


# -- listeners ---------------------------------------------------------------------------------------


def test_one_listener_per_port(elbv2: Any, net: Net) -> None:
    alb = make_alb(elbv2, net)
    blue, green = make_tg(elbv2, net.vpc, name="tg-1"), make_tg(elbv2, net.vpc, name="tg-2")
    action = [{"Type": "forward", "TargetGroupArn": blue}]
    listener = elbv2.create_listener(LoadBalancerArn=alb, Protocol="HTTP", Port=80, DefaultActions=action)
    arn = listener["Listeners"][0]["ListenerArn"]
    again = elbv2.create_listener(LoadBalancerArn=alb, Protocol="HTTP", Port=80, DefaultActions=action)
    assert again["Listeners"][0]["ListenerArn"] == arn
    assert fails(
        elbv2.create_listener,
        LoadBalancerArn=alb,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": green}],
    ) == ("DuplicateListener", f"A listener already exists on this port for this load balancer '{alb}'")
    assert len(elbv2.describe_listeners(LoadBalancerArn=alb)["Listeners"]) == 1
    test = elbv2.create_listener(
        LoadBalancerArn=alb, Protocol="HTTP", Port=9000, DefaultActions=[{"Type": "forward", "TargetGroupArn": green}]
    )["Listeners"][0]["ListenerArn"]
    assert fails(elbv2.modify_listener, ListenerArn=test, Port=80) == (
        "ValidationError",
        "Listener port '80' is already in use",
    )
    elbv2.modify_listener(ListenerArn=test, Port=8080)


def test_https_listener_needs_a_certificate(elbv2: Any, net: Net) -> None:
    alb = make_alb(elbv2, net)
    action = [{"Type": "forward", "TargetGroupArn": make_tg(elbv2, net.vpc)}]
    assert fails(elbv2.create_listener, LoadBalancerArn=alb, Protocol="HTTPS", Port=443, DefaultActions=action) == (
        "ValidationError",
        "A certificate must be specified for HTTPS listeners",
    )
    missing = "arn:aws:acm:us-west-2:123456789012:certificate/00000000-0000-0000-0000-000000000000"
    assert fails(
        elbv2.create_listener,
        LoadBalancerArn=alb,
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": missing}],
        DefaultActions=action,
    ) == ("CertificateNotFound", f"Certificate '{missing}' not found")


def test_forward_action_weights(elbv2: Any, net: Net) -> None:
    alb = make_alb(elbv2, net)
    groups = [make_tg(elbv2, net.vpc, name=f"tg-{n}") for n in range(1, 7)]
    blue, green = groups[0], groups[1]

    def create(actions: list[dict[str, Any]]) -> tuple[str, str]:
        return fails(elbv2.create_listener, LoadBalancerArn=alb, Protocol="HTTP", Port=80, DefaultActions=actions)

    assert create(forward((blue, 1000), (green, 0))) == (
        "ValidationError",
        "1 validation error detected: Value '1000' at 'defaultActions.1.member.forwardConfig.targetGroups.1.member"
        ".weight' failed to satisfy constraint: Member must have value less than or equal to 999",
    )
    assert create(forward((blue, 0), (green, 0)))[0] == "ValidationError"
    code, message = create(forward(*((arn, 1) for arn in groups)))
    assert code == "ValidationError" and "at most 5" in message
    both = [{"Type": "forward", "TargetGroupArn": blue, "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": green}]}}]
    assert create(both)[0] == "ValidationError"
    same = [{"Type": "forward", "TargetGroupArn": blue, "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": blue}]}}]
    listener = elbv2.create_listener(LoadBalancerArn=alb, Protocol="HTTP", Port=80, DefaultActions=same)
    arn = listener["Listeners"][0]["ListenerArn"]
    # The blue/green primitive: weights move between two target groups.
    for weights in ((100, 0), (90, 10), (0, 100)):
        elbv2.modify_listener(ListenerArn=arn, DefaultActions=forward((blue, weights[0]), (green, weights[1])))
    stored = elbv2.describe_listeners(ListenerArns=[arn])["Listeners"][0]["DefaultActions"][0]["ForwardConfig"]
    assert [group["Weight"] for group in stored["TargetGroups"]] == [0, 100]
    assert fails(elbv2.modify_listener, ListenerArn=arn, DefaultActions=forward((blue, 0), (green, 0)))[0] == (
        "ValidationError"
    )
    rule = {"Field": "path-pattern", "Values": ["/v2/*"]}
    assert fails(
        elbv2.create_rule, ListenerArn=arn, Priority=1, Conditions=[rule], Actions=forward((blue, 1000), (green, 1))
    )[1].startswith("1 validation error detected: Value '1000' at 'actions.1.member.forwardConfig")
    elbv2.create_rule(ListenerArn=arn, Priority=1, Conditions=[rule], Actions=forward((blue, 50), (green, 50)))


def test_target_group_belongs_to_one_load_balancer(elbv2: Any, net: Net) -> None:
    first = make_alb(elbv2, net, name="alb-1")
    second = make_alb(elbv2, net, name="alb-2")
    shared = make_tg(elbv2, net.vpc, name="shared")
    elbv2.create_listener(
        LoadBalancerArn=first, Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": shared}]
    )
    assert fails(
        elbv2.create_listener,
        LoadBalancerArn=second,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": shared}],
    ) == (
        "TargetGroupAssociationLimit",
        f"The following target groups cannot be associated with more than one load balancer: {shared}",
    )
    # The same target group on a second listener of the same load balancer is fine (a test listener).
    elbv2.create_listener(
        LoadBalancerArn=first,
        Protocol="HTTP",
        Port=9000,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": shared}],
    )
    elsewhere = make_tg(elbv2, net.other_vpc, name="elsewhere")
    code, message = fails(
        elbv2.create_listener,
        LoadBalancerArn=second,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": elsewhere}],
    )
    assert (code, message) == (
        "InvalidConfigurationRequest",
        f"Target group '{elsewhere}' is in a different VPC than load balancer '{second}'",
    )


# -- targets -----------------------------------------------------------------------------------------


def test_register_ip_targets(elbv2: Any, net: Net) -> None:
    group = make_tg(elbv2, net.vpc)
    elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": "10.0.0.10", "Port": 80}, {"Id": "10.0.1.10"}])
    assert fails(elbv2.register_targets, TargetGroupArn=group, Targets=[{"Id": "192.168.1.1"}]) == (
        "ValidationError",
        "The Availability Zone is required for IP address '192.168.1.1' because it is not in the VPC",
    )
    # Inside the VPC's range but in no subnet: AWS judges by the subnets.
    assert fails(elbv2.register_targets, TargetGroupArn=group, Targets=[{"Id": "10.0.9.9"}])[0] == "ValidationError"
    elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": "192.168.1.1", "AvailabilityZone": "all"}])
    code, message = fails(elbv2.register_targets, TargetGroupArn=group, Targets=[{"Id": "8.8.8.8"}])
    assert code == "ValidationError" and "8.8.8.8" in message and "private" in message
    assert fails(elbv2.register_targets, TargetGroupArn=group, Targets=[{"Id": "i-0123456789abcdef0"}]) == (
        "ValidationError",
        "The IP address 'i-0123456789abcdef0' is not a valid IPv4 address",
    )
    instances = make_tg(elbv2, net.vpc, name="instances", TargetType="instance")
    assert fails(elbv2.register_targets, TargetGroupArn=instances, Targets=[{"Id": "10.0.0.10"}]) == (
        "ValidationError",
        "Instance ID '10.0.0.10' is not valid",
    )
    registered = elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
    assert {item["Target"]["Id"] for item in registered} == {"10.0.0.10", "10.0.1.10", "192.168.1.1"}


def test_rules_are_listed(region: str) -> None:
    import json
    import urllib.request

    with urllib.request.urlopen(region + "/_lab/rules", timeout=10) as response:
        rules = json.load(response)["rules"]
    names = {row["rule"] for row in rules if row["service"] == "elasticloadbalancing"}
    assert (
        "An Application Load Balancer needs subnets of one VPC in at least two Availability Zones, one per zone."
        in (names)
    )
