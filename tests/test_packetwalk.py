"""Security groups (stateful, SG references) and hop-by-hop packet walks over the sample VPC."""

from __future__ import annotations

import re

import pytest

from labsupport.errors import LabError
from labsupport.packetwalk import DEFAULT_NACL, INTERNET_IP, STATEFUL_REPLY, Endpoint, Hop, format_hops, sg_allows, walk
from labsupport.topology import VpcSnapshot, example_describe, snapshot_from_describe_map

PUBLIC_A = "my-workspace-subnet-app-public1-a"
PRIVATE_A = "my-workspace-subnet-app-private1-a"
PRIVATE_B = "my-workspace-subnet-app-private2-b"
ALB = "10.0.1.10"  # the load balancer's ENI in public1-a (public IP 198.51.100.10)
TASK = "10.0.0.20"  # an app task's ENI in private1-a (no public IP)
LB_SG = "my-app-lb-sg"
APP_SG = "my-app-sg"
ID = re.compile(r"\b(?:vpc|subnet|rtb|igw|nat|sg|eni)-[0-9a-f]{8,17}\b")


def build(change=None) -> VpcSnapshot:
    data = example_describe()
    if change is not None:
        change(data)
    return snapshot_from_describe_map(data)


@pytest.fixture
def snap() -> VpcSnapshot:
    return build()


def kinds(hops) -> list[str]:
    """The kind of place of each hop: igw, route-table, nacl, sg, nat, target."""
    out = []
    for hop in hops:
        place = hop.place
        if place.startswith("internet gateway"):
            out.append("igw")
        elif place.startswith("route table"):
            out.append("route-table")
        elif place.startswith("network ACL"):
            out.append("nacl")
        elif place.startswith("security group"):
            out.append("sg")
        elif place.startswith("NAT gateway"):
            out.append("nat")
        else:
            out.append("target")
    return out


# ---------------------------------------------------------------------- security groups
def test_lb_group_allows_http_from_anywhere_and_the_test_port_from_one_address(snap: VpcSnapshot) -> None:
    assert sg_allows(snap, [LB_SG], "ingress", "tcp", 80, "198.18.7.7")
    developer = sg_allows(snap, LB_SG, "inbound", "tcp", 9000, "203.0.113.25")
    assert developer and "203.0.113.25/32" in developer.reason
    assert developer.rule is not None and developer.rule.ports == "9000"
    stranger = sg_allows(snap, [LB_SG], "ingress", "tcp", 9000, "203.0.113.26")
    assert not stranger and stranger.rule is None
    assert "deny everything they do not explicitly allow" in stranger.reason
    assert not sg_allows(snap, [LB_SG], "ingress", "udp", 80, "198.18.7.7")  # tcp rule, udp packet
    assert not sg_allows(snap, [LB_SG], "ingress", "tcp", 81, "198.18.7.7")


def test_rule_referencing_a_group_matches_peers_that_carry_it(snap: VpcSnapshot) -> None:
    lb = snap.security_group(LB_SG)
    assert sg_allows(snap, [APP_SG], "ingress", "tcp", 80, LB_SG)  # by group name
    assert sg_allows(snap, [APP_SG], "ingress", "tcp", 80, lb.id)  # by group id
    carrying = sg_allows(snap, [APP_SG], "ingress", "tcp", 80, Endpoint(ip=ALB, security_groups=[LB_SG]))
    assert carrying and f"carries {LB_SG}" in carrying.reason and not ID.search(carrying.reason)
    assert carrying.rule is not None and carrying.rule.peer == lb.id  # the id stays on the rule
    # Same address without the group: the rule does not match, the IP alone proves nothing.
    assert not sg_allows(snap, [APP_SG], "ingress", "tcp", 80, ALB)
    assert not sg_allows(snap, [APP_SG], "ingress", "tcp", 80, INTERNET_IP)
    assert not sg_allows(snap, [APP_SG], "ingress", "tcp", 8080, LB_SG)


def test_egress_all_and_cidr_rules_against_a_group_peer(snap: VpcSnapshot) -> None:
    assert sg_allows(snap, [APP_SG], "egress", "tcp", 443, "8.8.8.8")
    assert sg_allows(snap, [APP_SG], "egress", "udp", 53, "8.8.8.8")
    # A peer known only by its group still matches a 0.0.0.0/0 rule (it contains every address).
    assert sg_allows(snap, [LB_SG], "ingress", "tcp", 80, APP_SG)
    assert not sg_allows(snap, [LB_SG], "ingress", "tcp", 9000, APP_SG)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (([LB_SG], "sideways", "tcp", 80, "1.2.3.4"), "'ingress'"),
        (([LB_SG], "ingress", "gre", 80, "1.2.3.4"), "'tcp'"),
        (([LB_SG], "ingress", "tcp", 70000, "1.2.3.4"), "0-65535"),
        (([LB_SG], "ingress", "tcp", "80", "1.2.3.4"), "whole number"),
        (([], "ingress", "tcp", 80, "1.2.3.4"), "my-app-lb-sg"),
        ((["no-such-sg"], "ingress", "tcp", 80, "1.2.3.4"), "my-app-sg"),
        (([LB_SG], "ingress", "tcp", 80, "not-a-peer"), "Endpoint"),
    ],
)
def test_bad_sg_questions_name_the_fix(snap: VpcSnapshot, args: tuple, words: str) -> None:
    with pytest.raises(LabError, match="Fix:") as err:
        sg_allows(snap, *args)
    assert words in str(err.value)


# ---------------------------------------------------------------------- walks
def test_internet_to_the_load_balancer_is_allowed_in_documented_order(snap: VpcSnapshot) -> None:
    result = walk(snap, "internet", ALB, 80)
    assert result.allowed and result.verdict == "allow" and result.blocked_at is None
    assert kinds(result.hops) == ["igw", "route-table", "nacl", "sg", "target"]
    igw, rt, nacl, sg, target = result.hops
    assert "198.51.100.10" in igw.reason
    assert "leaves the VPC through internet gateway" in rt.reason
    assert nacl.reason == DEFAULT_NACL and "default network ACL" in nacl.reason and "allows all" in nacl.reason
    assert sg.place == "security group my-app-lb-sg" and "0.0.0.0/0" in sg.reason
    assert f"{ALB}:80" in target.reason
    assert result.source == f"internet {INTERNET_IP}"
    # Places and reasons speak in names; the ids of what each hop checked stay on the hop.
    assert igw.place == "internet gateway my-workspace-igw" and igw.resource_ids == ("igw-0a1b2c3d4e5f60001",)
    assert rt.place.startswith("route table my-workspace-rtb-public1-a") and rt.resource_ids == (
        "rtb-0a1b2c3d4e5f60002",
    )
    assert sg.resource_ids == ("sg-0a1b2c3d4e5f60002",) and nacl.resource_ids == ()
    assert not any(ID.search(h.place + h.reason) for h in (*result.hops, *result.reply))


def test_the_internet_is_not_the_learner() -> None:
    # "internet" must never pass a rule written for the lab's own IP (my_ip in data/lab.json).
    from labsupport import config

    assert config.load().my_ip != INTERNET_IP
    assert INTERNET_IP.startswith("203.0.113.")  # TEST-NET-3: documentation only, never routed


def test_reply_is_allowed_by_connection_tracking(snap: VpcSnapshot) -> None:
    result = walk(snap, "internet", ALB, 80)
    sg_replies = [h for h in result.reply if h.place.startswith("security group")]
    assert sg_replies and all(h.reason == STATEFUL_REPLY for h in sg_replies)
    assert "security groups are stateful" in STATEFUL_REPLY and "no inbound/outbound rule" in STATEFUL_REPLY
    assert all(h.allowed for h in result.reply)
    assert "198.51.100.10" in result.reply[-2].reason  # the IGW translates the source back


def test_reply_needs_no_rule_even_when_the_group_has_no_outbound_rules() -> None:
    def strip_egress(data: dict) -> None:
        for group in data["SecurityGroups"]:
            group["IpPermissionsEgress"] = []
            if group["GroupName"] == LB_SG:
                # The load balancer still needs to send the request itself.
                group["IpPermissionsEgress"] = [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 80,
                        "ToPort": 80,
                        "UserIdGroupPairs": [{"GroupId": "sg-0a1b2c3d4e5f60003"}],
                    }
                ]

    snap = build(strip_egress)
    result = walk(snap, ALB, TASK, 80)
    assert result.allowed
    assert result.reply[0].reason == STATEFUL_REPLY and result.reply[0].allowed
    assert not sg_allows(snap, [APP_SG], "egress", "tcp", 80, ALB)  # no rule, yet the reply flows


def test_internet_to_a_private_task_stops_at_the_gateway_no_public_ip(snap: VpcSnapshot) -> None:
    result = walk(snap, "internet", TASK, 80)
    assert not result.allowed and result.verdict == "deny"
    assert kinds(result.hops) == ["igw"]
    assert result.blocked_at is result.hops[-1]
    assert "no public IP" in result.blocked_at.reason
    assert result.reply == ()


def test_internet_to_a_private_task_with_a_public_ip_stops_at_the_route_table(snap: VpcSnapshot) -> None:
    task = Endpoint(ip=TASK, public_ip="198.51.100.99", security_groups=[APP_SG])
    result = walk(snap, "internet", task, 80)
    assert kinds(result.hops) == ["igw", "route-table"]
    blocked = result.blocked_at
    assert blocked is not None and blocked.place.startswith("route table my-workspace-rtb-private1-a")
    assert "no route back to the internet gateway" in blocked.reason and "NAT gateway" in blocked.reason


def test_internet_is_stopped_by_the_security_group_on_the_test_port(snap: VpcSnapshot) -> None:
    result = walk(snap, "internet", ALB, 9000)
    assert kinds(result.hops)[-1] == "sg" and not result.allowed
    assert walk(snap, "203.0.113.25", ALB, 9000).allowed  # the developer's /32


def test_load_balancer_to_task_is_allowed_by_the_group_reference(snap: VpcSnapshot) -> None:
    result = walk(snap, ALB, TASK, 80)
    assert result.allowed
    assert kinds(result.hops) == ["sg", "nacl", "route-table", "nacl", "sg", "target"]
    route = result.hops[2]
    assert "10.0.0.0/20 (local)" in route.reason and "stays inside the VPC" in route.reason
    ingress = result.hops[4]
    assert APP_SG in ingress.place and f"carries {LB_SG}" in ingress.reason
    assert ingress.resource_ids == ("sg-0a1b2c3d4e5f60003",)
    # The other AZ's load balancer node crosses AZs: the walk says so.
    across = walk(snap, "10.0.2.10", TASK, 80)
    assert across.allowed and any("crosses Availability Zones" in n for n in across.notes)


def test_anything_else_to_the_task_is_denied_at_its_security_group(snap: VpcSnapshot) -> None:
    result = walk(snap, Endpoint(ip="10.0.3.30", security_groups=[APP_SG]), TASK, 80)
    assert not result.allowed and kinds(result.hops)[-1] == "sg"
    assert "no ingress rule allows tcp 80" in result.blocked_at.reason  # type: ignore[union-attr]


def test_task_to_the_internet_goes_through_the_nat_gateway(snap: VpcSnapshot) -> None:
    result = walk(snap, TASK, "internet", 443)
    assert result.allowed
    assert kinds(result.hops) == ["sg", "nacl", "route-table", "nat", "route-table", "igw", "target"]
    assert "so it goes to NAT gateway my-workspace-nat-a" in result.hops[2].reason
    # The NAT gateway's public address changes from run to run: the text says "its Elastic IP".
    assert "to its own public address, its Elastic IP" in result.hops[3].reason
    assert result.hops[3].place == "NAT gateway my-workspace-nat-a (my-workspace-subnet-app-public1-a)"
    assert result.hops[3].resource_ids == ("nat-0a1b2c3d4e5f60001",)
    assert "with the NAT gateway's Elastic IP as its source" in result.hops[5].reason
    texts = [h.place + h.reason for h in (*result.hops, *result.reply)]
    assert not any("198.51.100.7" in t or ID.search(t) for t in texts)
    assert any(h.place.startswith("NAT gateway") and "connection tracking" in h.reason for h in result.reply)
    assert result.reply[-1].reason == STATEFUL_REPLY


def test_nat_gateway_in_a_private_subnet_is_a_broken_path() -> None:
    snap = build(lambda d: d["NatGateways"][0].update(SubnetId="subnet-0a1b2c3d4e5f60004"))
    result = walk(snap, TASK, "8.8.8.8", 443)
    assert not result.allowed
    blocked = result.blocked_at
    assert blocked is not None and "must sit in a public subnet" in blocked.reason
    assert kinds(result.hops)[-1] == "route-table"


def test_public_subnet_host_without_public_ip_cannot_reach_the_internet(snap: VpcSnapshot) -> None:
    host = Endpoint(ip="10.0.1.50", subnet=PUBLIC_A, security_groups=[APP_SG])
    result = walk(snap, host, "internet", 443)
    assert not result.allowed and "no public IP" in result.blocked_at.reason  # type: ignore[union-attr]
    with_ip = Endpoint(ip="10.0.1.50", subnet=PUBLIC_A, security_groups=[APP_SG], public_ip="198.51.100.50")
    assert walk(snap, with_ip, "internet", 443).allowed


def test_subnet_without_a_default_route_drops_internet_traffic() -> None:
    snap = build(lambda d: d["RouteTables"][2].update(Associations=[]))  # private subnets fall back to main
    result = walk(snap, (PRIVATE_B, "10.0.3.9"), "internet", 443)
    assert not result.allowed and "dropped: no route" in result.blocked_at.reason  # type: ignore[union-attr]
    assert "main route table" in result.blocked_at.reason  # type: ignore[union-attr]


def test_endpoint_forms_and_default_group(snap: VpcSnapshot) -> None:
    # A subnet name stands for its first usable address; with no ENI there, the default group applies.
    result = walk(snap, "internet", PRIVATE_B, 80)
    assert not result.allowed and "10.0.3.4" in result.destination
    inside = walk(snap, TASK, (PRIVATE_B, "10.0.3.9"), 80)
    assert not inside.allowed  # the default group only admits members of itself
    assert inside.blocked_at.place == "the VPC's default security group"  # type: ignore[union-attr]
    assert "so the VPC's default security group applies" in inside.blocked_at.reason  # type: ignore[union-attr]
    by_eni = walk(snap, "internet", "eni-0a1b2c3d4e5f60001", 80)
    assert by_eni.allowed and by_eni.destination == f"{ALB} ({PUBLIC_A})"
    # The load balancer's public IP stands for its interface, not for an outside host.
    by_public_ip = walk(snap, "internet", "198.51.100.10", 80)
    assert by_public_ip.allowed and ALB in by_public_ip.destination


@pytest.mark.parametrize(
    ("source", "destination", "words"),
    [
        ("internet", "8.8.8.8", "Both ends are outside"),
        ("internet", "10.0.9.9", "in no subnet"),
        ("internet", (PUBLIC_A, "10.0.0.9"), "not inside subnet"),
        ("internet", "no-such-subnet", PRIVATE_A),
        ("internet", "eni-00000000", "not in this snapshot"),
        ("internet", 12345, "not something the walk understands"),
    ],
)
def test_bad_walks_name_the_fix(snap: VpcSnapshot, source: object, destination: object, words: str) -> None:
    with pytest.raises(LabError, match="Fix:") as err:
        walk(snap, source, destination, 80)
    assert words in str(err.value)


def test_walk_prints_as_a_table(snap: VpcSnapshot) -> None:
    text = str(walk(snap, "internet", ALB, 80))
    lines = text.splitlines()
    assert lines[0] == f"internet {INTERNET_IP} -> {ALB} ({PUBLIC_A}) tcp/80: ALLOWED"
    assert lines[1].split() == ["#", "place", "check", "verdict", "reason"]
    assert "reply path:" in text and STATEFUL_REPLY.split(" — ")[0].split()[0] in text
    assert max(len(line) for line in lines) <= 125
    denied = str(walk(snap, "internet", TASK, 80))
    assert "DENIED at internet gateway my-workspace-igw" in denied and "reply path: none" in denied
    assert not ID.search(text + denied)


def test_long_names_wrap_between_words_or_at_hyphens_never_mid_word() -> None:
    name = "my-workspace-subnet-app-private1-a"
    place = f"route table my-workspace-rtb-private1-a ({name})"
    reason = f"to {name} and on " * 4
    lines = format_hops([Hop(place, "check", "allow", reason.strip())]).splitlines()[2:]
    column = [line[4:34].strip() for line in lines]
    assert column == ["route table", "my-workspace-rtb-private1-a", "(my-workspace-subnet-app-", "private1-a)"]

    def rejoin(parts: list[str]) -> str:
        # A line that ends in a hyphen continues the same name; any other break is between words.
        text = ""
        for part in parts:
            text += part if text.endswith("-") or not text else " " + part
        return text

    assert rejoin([c for c in column if c]) == place
    reasons = [line[69:].strip() for line in lines]
    assert rejoin([r for r in reasons if r]) == reason.strip()
