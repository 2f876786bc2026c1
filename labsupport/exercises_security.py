"""Chapter 03's predict-then-check exercises: security groups and the packet walk.

Every answer is computed now, from the live lab network (``describe_security_groups`` and a
:func:`~labsupport.packetwalk.walk` over a fresh :func:`~labsupport.topology.snapshot`), so an
exercise follows whatever the learner's groups really say. The explanations quote the walk's own
hops, which name resources by their names, never by IDs: IDs differ from run to run, and a
notebook's output must not.

The walks use the same stand-ins as the notebook: a load-balancer node at base+10 of the first
public subnet with the documentation address :data:`ALB_PUBLIC_IP`, a task at base+10 of the first
private subnet, and :data:`OTHER_IP` as "somebody who is not you" (both RFC 5737 ranges).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from . import network, packetwalk, topology
from .errors import LabError
from .exercises import exercise
from .lab import Lab, current

#: The public address the walks give the load balancer's node (TEST-NET-2, never a real host).
ALB_PUBLIC_IP = "198.51.100.10"
#: An outside client that is not the learner (TEST-NET-1); the learner's own IP is ``lab.config.my_ip``.
OTHER_IP = "192.0.2.44"
#: The port of the test listener that later chapters put on the load balancer.
TEST_PORT = 9000
#: The app port: the ALB's production listener and the containers both use it.
APP_PORT = 80

_YES = {"yes", "y", "true", "allow", "allowed", "reachable"}
_NO = {"no", "n", "false", "deny", "denied", "blocked", "unreachable"}


# -- helpers -----------------------------------------------------------------------------------


def _snapshot(lab: Lab) -> topology.VpcSnapshot:
    """A fresh snapshot of the lab VPC, or a LabError that says how to build it."""
    ec2 = lab.client("ec2")
    vpc = network.find(ec2, "vpc", lab.config.vpc_name, lab)
    if vpc is None:
        raise LabError(
            f"The lab VPC {lab.config.vpc_name} does not exist yet, so there is nothing to check.",
            "run the notebook's catch-up cell (catch_up(3)) first, then this cell again.",
        )
    return topology.snapshot(ec2, vpc["VpcId"])


def _group(snap: topology.VpcSnapshot, key: str, lab: Lab) -> topology.SecurityGroup:
    name = lab.config.security_group(key).name
    for group in snap.security_groups:
        if group.name == name:
            return group
    raise LabError(
        f"The security group {name} does not exist in {snap.vpc.label} yet.",
        f"run the cells of this chapter that create {name} (sections 2 and 3), then this cell again.",
    )


def _host(cidr: str, offset: int = 10) -> str:
    return str(ipaddress.ip_network(cidr).network_address + offset)


def _alb(lab: Lab) -> packetwalk.Endpoint:
    subnet = lab.config.tier("public")[0]
    return packetwalk.Endpoint(
        ip=_host(subnet.cidr),
        subnet=subnet.name,
        security_groups=[lab.config.security_group("alb").name],
        public_ip=ALB_PUBLIC_IP,
        name="the ALB",
    )


def _task(lab: Lab) -> packetwalk.Endpoint:
    subnet = lab.config.tier("private")[0]
    return packetwalk.Endpoint(
        ip=_host(subnet.cidr),
        subnet=subnet.name,
        security_groups=[lab.config.security_group("app").name],
        name="a task",
    )


def _yes_no(allowed: bool) -> str:
    return "yes" if allowed else "no"


def _yes_no_same(predicted: Any, truth: Any) -> bool:
    """``True``/``False`` and the usual words (yes, no, allowed, denied ...) all count."""
    if isinstance(predicted, bool):
        return _yes_no(predicted) == truth
    if isinstance(predicted, str):
        text = predicted.strip().lower().rstrip(".!")
        if text in _YES:
            return truth == "yes"
        if text in _NO:
            return truth == "no"
    return False


def _hop_number(result: packetwalk.WalkResult, hop: packetwalk.Hop) -> int:
    return result.hops.index(hop) + 1


def _the(place: str) -> str:
    """A hop's place as it reads after "stops at hop 4,": "the security group ...", never "the the ..."."""
    return place if place.startswith("the ") else f"the {place}"


# -- 03 security groups and the packet walk ------------------------------------------------------


def _default_group_inbound_same(predicted: Any, truth: Any) -> bool:
    text = str(predicted).strip().lower()
    for prefix in ("from ", "the group ", "the "):
        text = text.removeprefix(prefix)
    aliases = {"self": "itself", "group itself": "itself", "same group": "itself", "its members": "itself"}
    return aliases.get(text, text) == str(truth)


def _default_group(lab: Lab) -> dict[str, Any]:
    snap = _snapshot(lab)
    found = lab.client("ec2").describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [snap.vpc.id]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"]
    if not found:
        raise LabError(
            f"{snap.vpc.label} has no default security group, and every VPC has one.",
            "reset the region (python -m labsupport region reset) and run the notebook again.",
        )
    return dict(found[0])


def _inbound_sources(group: dict[str, Any]) -> str:
    """Where ``group`` accepts inbound traffic from: nowhere, itself, anywhere, or somewhere."""
    permissions = group.get("IpPermissions") or []
    if not permissions:
        return "nowhere"
    sources = set()
    for perm in permissions:
        sources |= {r.get("CidrIp") for r in perm.get("IpRanges") or []}
        sources |= {r.get("CidrIpv6") for r in perm.get("Ipv6Ranges") or []}
        sources |= {
            "itself" if p.get("GroupId") == group["GroupId"] else "other" for p in perm.get("UserIdGroupPairs") or []
        }
    if sources & {"0.0.0.0/0", "::/0"}:
        return "anywhere"
    if sources == {"itself"}:
        return "itself"
    return "somewhere"


def _explain_default_group(where: str) -> str:
    if where == "itself":
        return (
            "The default group has one inbound rule: all traffic from the default group itself (a group "
            "reference, not a CIDR). So interfaces that carry the default group can talk to each other, and "
            "nothing else gets in. Its outbound rule allows everything. A group you create starts with no "
            "inbound rules at all."
        )
    if where == "nowhere":
        return (
            "This default group has no inbound rules. On AWS it has one: all traffic from the group itself. "
            "Someone removed it here."
        )
    return (
        f"This default group now accepts inbound traffic from {where}: its rules were changed. On AWS it starts "
        "with one inbound rule, all traffic from the group itself."
    )


@exercise(
    "03-default-group-inbound",
    "Inbound traffic to the VPC's default security group: allowed from 'nowhere', 'anywhere' or 'itself'?",
    _explain_default_group,
    same=_default_group_inbound_same,
)
def _default_group_inbound() -> str:
    return _inbound_sources(_default_group(current()))


def _internet_to_task(lab: Lab) -> packetwalk.WalkResult:
    snap = _snapshot(lab)
    _group(snap, "app", lab)
    return packetwalk.walk(snap, OTHER_IP, _task(lab), APP_PORT)


def _explain_internet_to_task(answer: str) -> str:
    result = _internet_to_task(current())
    hop = result.blocked_at
    if hop is None:
        return (
            f"Yes: the walk reaches the task on port {APP_PORT}. Something opened the private subnet to the "
            "internet; that is not what the lab built."
        )
    before = "" if "security group" in hop.place else ", before any security group is asked"
    return f"No. The request stops at hop {_hop_number(result, hop)}, {_the(hop.place)}{before}: {hop.reason}"


@exercise(
    "03-internet-to-private-task",
    f"Can the internet reach a task in the private subnet on port {APP_PORT} ('yes' or 'no')?",
    _explain_internet_to_task,
    same=_yes_no_same,
)
def _internet_to_private_task() -> str:
    return _yes_no(_internet_to_task(current()).allowed)


def _other_to_test_listener(lab: Lab) -> tuple[packetwalk.WalkResult, topology.VpcSnapshot]:
    snap = _snapshot(lab)
    _group(snap, "alb", lab)
    return packetwalk.walk(snap, OTHER_IP, _alb(lab), TEST_PORT), snap


def _explain_test_listener(answer: str) -> str:
    lab = current()
    result, snap = _other_to_test_listener(lab)
    hop = result.blocked_at
    if hop is None:
        sg_hop = next(h for h in result.hops if "security group" in h.place)
        return (
            f"Yes: {sg_hop.reason} The test listener is open wider than your IP "
            f"({lab.config.my_ip}/32); later chapters put untested versions behind it."
        )
    number = _hop_number(result, hop)
    passed = f"gets through {number - 1} hops and " if number > 1 else ""
    group = _group(snap, "alb", lab)
    peers = [
        rule.peer_label
        for rule in group.ingress
        if rule.from_port is None or rule.to_port is None or rule.from_port <= TEST_PORT <= rule.to_port
    ]
    if peers:
        who = f"Only {', '.join(peers)} may use port {TEST_PORT}"
        if peers == [f"{lab.config.my_ip}/32"]:
            who += " (your IP: /32 is exactly one address)"
    else:
        who = f"No rule allows port {TEST_PORT} at all, not even from your IP: add it as in section 2"
    return (
        f"No. The request from {OTHER_IP} {passed}stops at hop {number}, {_the(hop.place)}: "
        f"{hop.reason} {who}; the rule for port {APP_PORT} from anywhere opens port {APP_PORT} only."
    )


@exercise(
    "03-test-listener-other-ip",
    f"A colleague at {OTHER_IP} (not your IP) opens the ALB's test listener on port {TEST_PORT}. "
    "Does the request get in ('yes' or 'no')?",
    _explain_test_listener,
    same=_yes_no_same,
)
def _test_listener_other_ip() -> str:
    return _yes_no(_other_to_test_listener(current())[0].allowed)
