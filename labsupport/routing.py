"""Route tables as AWS reads them: longest prefix match, main-table fallback, public vs private.

Three facts this module makes visible, because learners get them wrong:

1. A route table is not read top-down. Every route whose destination contains the address is a
   candidate, and the most specific one (longest prefix) wins (:func:`explain_route`).
2. A subnet that was never explicitly associated with a route table silently uses the VPC's
   *main* route table (:func:`route_table_for` says which of the two happened).
3. "Public" is not a subnet setting: a subnet is public because its route table sends
   ``0.0.0.0/0`` to an internet gateway (:func:`is_public_subnet`). A NAT gateway only gives a
   private subnet a way out if the NAT gateway itself sits in a public subnet (:func:`internet_path`).

All functions work on a :class:`~labsupport.topology.VpcSnapshot`; none calls AWS. Their sentences
name resources by their Name tags (IDs differ on every run); the IDs stay on the result objects.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from .errors import LabError
from .topology import NatGateway, Route, RouteTable, Subnet, VpcSnapshot

__all__ = [
    "InternetPath",
    "PublicVerdict",
    "RouteDecision",
    "RouteTableChoice",
    "explain_route",
    "internet_path",
    "is_public_subnet",
    "parse_ip",
    "route_table_for",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: What happens to a packet, by the kind of target of the winning route ({target}: the target's
#: noun phrase, e.g. "internet gateway my-workspace-igw").
_CONSEQUENCE = {
    "local": "so it stays inside the VPC",
    "igw": "so it leaves the VPC through {target}",
    "egress-only-igw": "so it leaves the VPC through {target}",
    "peering": "so it crosses the VPC {target}",
    "vgw": "so it goes to {target} (the VPN)",
}


def parse_ip(ip: object) -> IPAddress:
    """Parse one IP address given as text; a learner-facing :class:`LabError` if it is not one."""
    if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return ip
    text = str(ip).strip() if isinstance(ip, str) else ""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if "/" in text:
        raise LabError(
            f"{ip!r} is a CIDR block, but a route lookup is for one destination address.",
            f"Give a single address without the /prefix, e.g. {text.split('/')[0]!r}.",
        )
    raise LabError(
        f"{ip!r} is not an IP address.",
        "Give a dotted IPv4 address as text, four numbers 0-255 such as '10.0.1.7' or '8.8.8.8'.",
    )


# ---------------------------------------------------------------------- route table choice
@dataclass(frozen=True)
class RouteTableChoice:
    """Which route table a subnet uses, and whether that is explicit or the main-table fallback."""

    subnet: Subnet
    route_table: RouteTable
    explicit: bool
    reason: str

    @property
    def association(self) -> str:
        """``"explicit"`` or ``"main"``."""
        return "explicit" if self.explicit else "main"

    def __str__(self) -> str:
        return self.reason


def route_table_for(snapshot: VpcSnapshot, subnet: str | Subnet) -> RouteTableChoice:
    """The route table ``subnet`` (id or Name) uses: its explicit association, else the main table.

    The reason says which, because the implicit main-table association is a classic trap: a
    subnet you forgot to associate quietly follows whatever the main table says.
    """
    s = snapshot.subnet(subnet)
    explicit = [rt for rt in snapshot.route_tables if s.id in rt.subnet_ids]
    if explicit:
        rt = explicit[0]
        main_note = " (which also happens to be the main table)" if rt.main else ""
        return RouteTableChoice(
            subnet=s,
            route_table=rt,
            explicit=True,
            reason=f"{s.label} is explicitly associated with {rt.title}{main_note}.",
        )
    main = snapshot.main_route_table
    if main is None:
        raise LabError(
            f"{s.label} has no explicit route table association and {snapshot.vpc.label} has "
            "no main route table in this snapshot.",
            "Include the VPC's main route table (Associations with Main: true) in the "
            "describe_route_tables data, or take the snapshot with topology.snapshot().",
        )
    return RouteTableChoice(
        subnet=s,
        route_table=main,
        explicit=False,
        reason=(
            f"{s.label} has no explicit route table association, so it uses {_main_words(main)}. "
            "(Forgetting the association is a classic trap: the subnet silently follows the main table.)"
        ),
    )


def _main_words(main: RouteTable) -> str:
    return f"the VPC's main route table {main.name}" if main.name else "the VPC's main route table"


# ---------------------------------------------------------------------- longest prefix match
@dataclass(frozen=True)
class RouteDecision:
    """The full story of one route lookup.

    ``matches`` holds every route whose destination contains the address, most specific first.
    ``winner`` is the longest-prefix match (``None`` if nothing matched). ``outcome`` is the
    winner's target kind (``local``, ``igw``, ``nat`` ...), ``blackhole`` if the winning route's
    target is gone, or ``dropped`` when no route matches. ``skipped`` lists prefix-list routes
    (gateway endpoints), whose address lists a snapshot does not contain.
    """

    destination: str
    route_table: RouteTable
    matches: tuple[Route, ...]
    winner: Route | None
    outcome: str
    reason: str
    skipped: tuple[Route, ...] = ()

    @property
    def dropped(self) -> bool:
        """True if the packet goes nowhere (no route, or a blackhole route won)."""
        return self.outcome in ("dropped", "blackhole")

    def __str__(self) -> str:
        return self.reason


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def explain_route(route_table: RouteTable, destination_ip: str) -> RouteDecision:
    """Look up ``destination_ip`` in ``route_table`` the way the VPC router does.

    Every route whose destination contains the address matches; the most specific (longest
    prefix) wins, wherever it sits in the table. A winning ``blackhole`` route drops the packet
    (AWS does not fall back to a less specific route), and no match at all means "dropped: no route".
    """
    address = parse_ip(destination_ip)
    matches: list[Route] = []
    skipped: list[Route] = []
    for route in route_table.routes:
        network = route.network
        if network is None:
            skipped.append(route)
        elif network.version == address.version and address in network:
            matches.append(route)
    # Sort most specific first; ties cannot happen in a valid table, the rest keeps it stable.
    matches.sort(key=lambda r: (-r.network.prefixlen, r.destination, r.target_id))  # type: ignore[union-attr]
    ip = str(address)
    if not matches:
        return RouteDecision(
            destination=ip,
            route_table=route_table,
            matches=(),
            winner=None,
            outcome="dropped",
            reason=(
                f"dropped: no route - {ip} matches no route in {route_table.title}, so the VPC "
                "router discards the packet."
            ),
            skipped=tuple(skipped),
        )
    winner = matches[0]
    listed = _join([f"{r.destination} ({r.target_label})" for r in matches])
    prefix = f"/{winner.network.prefixlen}"  # type: ignore[union-attr]
    if len(matches) == 1:
        head = f"{ip} matches only {listed}"
    elif len(matches) == 2:
        head = f"{ip} matches {listed}; {prefix} is more specific"
    else:
        head = f"{ip} matches {listed}; {prefix} is the most specific"
    if winner.state == "blackhole":
        reason = (
            f"{head}, but that route is a blackhole (its target, {winner.target_phrase}, is gone), so "
            "the packet is dropped - AWS does not fall back to a less specific route"
        )
        outcome = "blackhole"
    else:
        consequence = _CONSEQUENCE.get(winner.target_kind, "so it goes to {target}")
        reason = f"{head}, {consequence.format(target=winner.target_phrase)}"
        outcome = winner.target_kind
    return RouteDecision(
        destination=ip,
        route_table=route_table,
        matches=tuple(matches),
        winner=winner,
        outcome=outcome,
        reason=reason,
        skipped=tuple(skipped),
    )


# ---------------------------------------------------------------------- public or private
@dataclass(frozen=True)
class PublicVerdict:
    """Whether a subnet is public, and why. Truthy when public.

    ``why`` is the route-table fact that decides it; ``reason`` is the full sentence.
    """

    subnet: Subnet
    public: bool
    why: str
    choice: RouteTableChoice
    default_route: Route | None

    @property
    def reason(self) -> str:
        """``"<subnet> is public|private: <why> 'Public' is a route-table fact ..."``."""
        word = "public" if self.public else "private"
        return f"{self.subnet.label} is {word}: {self.why} 'Public' is a route-table fact, not a subnet setting."

    def __bool__(self) -> bool:
        return self.public

    def __str__(self) -> str:
        return self.reason


def _association_words(choice: RouteTableChoice) -> str:
    table = choice.route_table
    if choice.explicit:
        return f"its {table.title} (explicitly associated)"
    return f"{_main_words(table)} (used because the subnet has no explicit association)"


def is_public_subnet(snapshot: VpcSnapshot, subnet: str | Subnet) -> PublicVerdict:
    """Is ``subnet`` public? Public means its route table sends 0.0.0.0/0 to an internet gateway.

    That is a route-table fact, not a subnet setting: the same subnet becomes private the moment
    its route table changes. The reason names the table and how the subnet got it.
    """
    choice = route_table_for(snapshot, subnet)
    s = choice.subnet
    where = _association_words(choice)
    route = choice.route_table.route_to("0.0.0.0/0")
    if route is None:
        why = f"{where} has no 0.0.0.0/0 route, so traffic for the internet has nowhere to go."
        return PublicVerdict(s, False, why, choice, None)
    if route.target_kind != "igw":
        why = f"{where} sends 0.0.0.0/0 to {route.target_phrase}, not to an internet gateway."
        return PublicVerdict(s, False, why, choice, route)
    if route.state == "blackhole":
        why = (
            f"{where} sends 0.0.0.0/0 to {route.target_phrase}, but that route is a blackhole "
            "(the internet gateway was detached or deleted)."
        )
        return PublicVerdict(s, False, why, choice, route)
    if snapshot.internet_gateway(route.target_id) is None:
        why = (
            f"{where} sends 0.0.0.0/0 to {route.target_phrase}, which is not attached to "
            f"{snapshot.vpc.label}, so the route leads nowhere."
        )
        return PublicVerdict(s, False, why, choice, route)
    why = f"{where} sends 0.0.0.0/0 to {route.target_phrase}."
    return PublicVerdict(s, True, why, choice, route)


# ---------------------------------------------------------------------- way out to the internet
@dataclass(frozen=True)
class InternetPath:
    """How (and whether) a subnet reaches the internet.

    ``kind`` is ``"igw"``, ``"nat"`` or ``"none"``. ``broken`` is true when a path was intended
    (a route exists) but cannot work, e.g. a NAT gateway sitting in a private subnet.
    ``str(path)`` is ``"igw"``, ``"nat via subnet <name>"`` or ``"none"``. ``internet_gateway_id``
    is the id of the internet gateway the path leaves through (empty when there is none).
    """

    subnet: Subnet
    kind: str
    explanation: str
    nat_gateway: NatGateway | None = None
    via_subnet: Subnet | None = None
    broken: bool = False
    internet_gateway_id: str = ""

    @property
    def summary(self) -> str:
        """``"igw"``, ``"nat via subnet <name>"`` or ``"none"``."""
        if self.kind == "nat" and self.via_subnet is not None:
            return f"nat via subnet {self.via_subnet.label}"
        return self.kind

    def __str__(self) -> str:
        return self.summary


def internet_path(snapshot: VpcSnapshot, subnet: str | Subnet) -> InternetPath:
    """Follow the 0.0.0.0/0 route of ``subnet``: straight out via the IGW, via a NAT gateway, or none.

    A NAT gateway only helps if it sits in a public subnet itself (and is available); otherwise
    the path is broken and the explanation says where it breaks.
    """
    verdict = is_public_subnet(snapshot, subnet)
    s = verdict.subnet
    route = verdict.default_route
    if verdict.public:
        auto = (
            "this subnet auto-assigns one (MapPublicIpOnLaunch is on)"
            if s.map_public_ip_on_launch
            else "this subnet does not auto-assign one (MapPublicIpOnLaunch is off)"
        )
        gateway = route.target_phrase if route else "the internet gateway"
        return InternetPath(
            s,
            "igw",
            f"{s.label} reaches the internet directly through {gateway}. Each host also needs its own "
            f"public IPv4 address for the gateway to translate; {auto}.",
            internet_gateway_id=route.target_id if route else "",
        )
    if route is None:
        return InternetPath(
            s,
            "none",
            f"{s.label} has no way to the internet: {verdict.why}",
        )
    if route.target_kind != "nat":
        return InternetPath(
            s,
            "none",
            f"{s.label} has no path to the internet this lab can follow: {verdict.reason}",
            broken=route.target_kind == "igw",
        )
    nat = snapshot.nat_gateway(route.target_id)
    if route.state == "blackhole" or nat is None:
        return InternetPath(
            s,
            "none",
            f"{s.label}'s 0.0.0.0/0 route points at {route.target_phrase}, which does not "
            "exist any more (blackhole route), so the path is broken.",
            broken=True,
        )
    if nat.state != "available":
        return InternetPath(
            s,
            "none",
            f"{s.label}'s 0.0.0.0/0 route points at {nat.title}, but it is "
            f"'{nat.state}', not 'available', so the path is broken.",
            nat_gateway=nat,
            broken=True,
        )
    if nat.connectivity == "private":
        return InternetPath(
            s,
            "none",
            f"{s.label}'s 0.0.0.0/0 route points at {nat.title}, a *private* NAT "
            "gateway: it has no public IP and cannot reach the internet.",
            nat_gateway=nat,
            broken=True,
        )
    nat_subnet = next((x for x in snapshot.subnets if x.id == nat.subnet_id), None)
    if nat_subnet is None:
        return InternetPath(
            s,
            "none",
            # The subnet is not in the snapshot, so its id is all there is to name it by.
            f"{nat.title} sits in subnet {nat.subnet_id}, which is not part of this "
            "snapshot, so the path cannot be followed.",
            nat_gateway=nat,
            broken=True,
        )
    nat_verdict = is_public_subnet(snapshot, nat_subnet)
    if not nat_verdict.public:
        return InternetPath(
            s,
            "none",
            f"{s.label} sends 0.0.0.0/0 to {nat.title}, but that NAT gateway sits in "
            f"{nat_subnet.label}, which is private itself: {nat_verdict.why} "
            "So the path is broken: a NAT gateway must sit in a public subnet.",
            nat_gateway=nat,
            via_subnet=nat_subnet,
            broken=True,
        )
    igw = nat_verdict.default_route
    return InternetPath(
        s,
        "nat",
        f"{s.label} reaches the internet through {nat.title} in public subnet "
        f"{nat_subnet.label}, which forwards through {igw.target_phrase if igw else 'the internet gateway'} "
        "using its own public IP. Replies come back the same way, but nothing on the internet can open "
        "a connection to this subnet.",
        nat_gateway=nat,
        via_subnet=nat_subnet,
        internet_gateway_id=igw.target_id if igw else "",
    )
