"""Chapter 02's predict-then-check exercises: the VPC, its subnets, route tables and gateways.

Every answer is worked out now, from a fresh snapshot of the lab VPC in the live region (through
:func:`labsupport.topology.snapshot` and :mod:`labsupport.routing`), never from a stored value: if
the learner changes the network, the answers change with it. Explanations are the routing module's
own sentences, which name resources by their Name tags: IDs differ on every run and mean nothing to
a reader.
"""

from __future__ import annotations

from . import network, routing, topology
from .errors import LabError
from .exercises import exercise
from .lab import Lab, current

__all__ = ["lab_snapshot"]

#: Words a learner may use for each kind of route target, in the normalised form of :func:`_words`.
_TARGET_ALIASES: dict[str, set[str]] = {
    "local": {"local", "localroute", "vpc", "thevpc", "insidethevpc"},
    "igw": {"igw", "internetgateway", "internetgw", "theinternetgateway"},
    "nat": {"nat", "natgateway", "natgw", "ngw", "thenatgateway", "thenat"},
}

#: How each kind of target reads in an answer.
_TARGET_WORDS = {"local": "local", "igw": "internet gateway", "nat": "NAT gateway"}


def lab_snapshot(lab: Lab | None = None) -> topology.VpcSnapshot:
    """A fresh snapshot of the lab VPC (``my-workspace-vpc``); a LabError if it is not built yet."""
    lab = lab or current()
    ec2 = lab.client("ec2")
    vpc = network.find(ec2, "vpc", lab.config.vpc_name, lab)
    if vpc is None:
        raise LabError(
            f"The lab VPC {lab.config.vpc_name} does not exist yet, so there is nothing to check.",
            "run the cells of chapter 02 from step 1 (or `catch_up(3)`, which builds the whole network).",
        )
    return topology.snapshot(ec2, vpc["VpcId"])


def _words(value: object) -> str:
    # "NAT gateway", "nat-gateway" and "the NAT" all reduce to letters and digits only.
    return "".join(ch for ch in str(value).lower() if ch.isalnum())


# -- step 6: the NAT gateway takes an address ---------------------------------------------------


def _nat_subnet(snap: topology.VpcSnapshot) -> tuple[topology.Subnet, topology.NatGateway]:
    lab = current()
    live = [n for n in snap.nat_gateways if n.state in ("pending", "available")]
    nat = next((n for n in live if n.name == lab.config.nat_gateway), live[0] if live else None)
    if nat is None:
        raise LabError(
            f"{snap.vpc.label} has no NAT gateway yet, so no subnet has lost an address to one.",
            "run the cell of step 6 that creates the NAT gateway, then check again.",
        )
    subnet = next((s for s in snap.subnets if s.id == nat.subnet_id), None)
    if subnet is None:
        raise LabError(
            f"NAT gateway {nat.label} sits in a subnet outside {snap.vpc.label}.",
            "create the NAT gateway in one of the lab's public subnets (step 6).",
        )
    return subnet, nat


def _int_same(predicted: object, truth: object) -> bool:
    # 250, "250" and " 250 " are the same count; 250.0 or "two hundred fifty" are not accepted.
    if isinstance(predicted, bool):
        return False
    text = str(predicted).strip()
    return text.isascii() and text.isdigit() and int(text) == truth


def _explain_nat_free_ips(free: int) -> str:
    snap = lab_snapshot()
    subnet, nat = _nat_subnet(snap)
    size = subnet.network.num_addresses
    others = [s for s in snap.subnets if s.id != subnet.id]
    where = f" ({nat.private_ip})" if nat.private_ip else ""
    return (
        f"{subnet.label} {subnet.cidr} has {size} addresses; AWS keeps 5, so a new subnet shows {size - 5}. "
        f"NAT gateway {nat.label} has a network interface in it, and that interface holds one address{where}: "
        f"{size} - 5 - 1 = {size - 6}, and the count says {free}. "
        f"The other subnets still show {', '.join(str(s.available_ips) for s in others)}. "
        "Every network interface counts the same way: from chapter 05 on, each Fargate task takes one too."
    )


@exercise(
    "02-nat-free-ips",
    "The NAT gateway now sits in my-workspace-subnet-app-public1-a (10.0.1.0/24). "
    "How many free addresses (AvailableIpAddressCount) does that subnet report?",
    _explain_nat_free_ips,
    same=_int_same,
)
def _nat_free_ips() -> int:
    subnet, _ = _nat_subnet(lab_snapshot())
    return subnet.available_ips


# -- step 7: which subnets are public -----------------------------------------------------------


def _names_same(predicted: object, truth: object) -> bool:
    """Compare sets of subnet names; ``public1-a`` stands for ``my-workspace-subnet-app-public1-a``."""
    if isinstance(predicted, str):
        predicted = [predicted]
    if not isinstance(predicted, list | tuple | set | frozenset) or not isinstance(truth, list | tuple | set):
        return False
    known = [plan.name for plan in current().config.subnets]
    chosen = set()
    for item in predicted:
        text = str(item).strip().lower()
        matches = [name for name in known if name.lower() == text or name.lower().endswith("-" + text)]
        if len(matches) != 1:
            return False  # not a subnet of the lab, or too short to say which one
        chosen.add(matches[0])
    return chosen == set(truth)


def _explain_public_subnets(public: list[str]) -> str:
    snap = lab_snapshot()
    parts = []
    for subnet in snap.subnets:
        verdict = routing.is_public_subnet(snap, subnet)
        word = "public" if verdict else "private"
        table = verdict.choice.route_table
        # "its route table my-workspace-rtb-public", or "the main route table" (AWS leaves it unnamed).
        which = f"its {table.title}" if table.name else table.title
        if verdict.default_route is None:
            target = "has no 0.0.0.0/0 route"
        else:
            target = f"sends 0.0.0.0/0 to {verdict.default_route.target_label}"
        parts.append(f"{subnet.label}: {word}, {which} {target}")
    return (
        f"{len(public)} of {len(snap.subnets)} subnets are public. A subnet is public when its route table sends "
        "0.0.0.0/0 to an internet gateway; the name and the subnet's own settings do not decide it. "
        + "; ".join(parts)
        + "."
    )


@exercise(
    "02-public-subnets",
    "Which of the lab's subnets are public? (a list of names; the end of a name, such as 'private1-a', is enough)",
    _explain_public_subnets,
    same=_names_same,
)
def _public_subnets() -> list[str]:
    snap = lab_snapshot()
    return sorted(s.label for s in snap.subnets if routing.is_public_subnet(snap, s))


# -- step 8: longest prefix match for 8.8.8.8 ---------------------------------------------------

#: The subnet and destination of the route exercise: a private subnet sending to the internet.
ROUTE_SUBNET = "my-workspace-subnet-app-private1-a"
ROUTE_DESTINATION = "8.8.8.8"


def _route_decision() -> routing.RouteDecision:
    snap = lab_snapshot()
    table = routing.route_table_for(snap, ROUTE_SUBNET).route_table
    return routing.explain_route(table, ROUTE_DESTINATION)


def _target_same(predicted: object, truth: object) -> bool:
    """Right if the prediction names the same kind of target, in words or by the gateway's name."""
    words = _words(predicted)
    if not words:
        return False
    kinds = {kind for kind, aliases in _TARGET_ALIASES.items() if words in aliases}
    lab = current()
    if words == _words(lab.config.nat_gateway):
        kinds.add("nat")
    if words == _words(lab.config.internet_gateway):
        kinds.add("igw")
    truth_kind = next((kind for kind, text in _TARGET_WORDS.items() if text == truth), _words(truth))
    return truth_kind in kinds


def _explain_route_winner(_: str) -> str:
    decision = _route_decision()
    table = decision.route_table
    others = [r for r in table.routes if r not in decision.matches]
    missed = "; ".join(f"{r.destination} does not contain it" for r in others)
    after = {
        "nat": "The NAT gateway sits in a public subnet and sends the packet on to the internet gateway, "
        "so the task can reach the internet while nothing on the internet can reach the task.",
        "igw": "That makes the subnet public: its hosts are reachable from the internet if they have a public "
        "address. Containers belong behind a NAT gateway instead.",
        "dropped": "A private subnet needs 0.0.0.0/0 -> NAT gateway to reach the internet (step 6).",
    }.get(decision.outcome, "")
    return (
        f"{ROUTE_SUBNET} uses {table.title}. {decision.reason}. " + (f"({missed}.) " if missed else "") + after
    ).rstrip()


@exercise(
    "02-route-8888",
    f"A task in {ROUTE_SUBNET} sends a packet to {ROUTE_DESTINATION}. Which target does its route table "
    "pick: 'local', 'internet gateway' or 'NAT gateway'?",
    _explain_route_winner,
    same=_target_same,
)
def _route_winner() -> str:
    decision = _route_decision()
    if decision.winner is None:
        return "no route"
    return _TARGET_WORDS.get(decision.outcome, decision.outcome)
