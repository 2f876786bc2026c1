"""A packet walk through a VPC snapshot: every check in order, where it stops, and the reply.

Reachability Analyzer's idea without an AWS account: the walk models the configuration (it
sends no packets) and lists each hop with the check made there, the verdict and the reason,
stopping at the first hop that blocks. For traffic entering the VPC the order is the one AWS
documents: internet gateway -> route table -> network ACL -> security group -> target.

Two lessons are built into the output:

- security groups are *stateful*: the reply path is allowed by connection tracking, with no rule
  needed (:func:`sg_allows` decides the request; the reply never asks the rules again);
- the lab uses each VPC's *default* network ACL, which allows everything in both directions, so
  the NACL hop always says so instead of pretending to evaluate rules.

Sources and destinations can be ``"internet"`` (an outside client, :data:`INTERNET_IP` from the
documentation range), any outside IP, an IP inside the VPC, a subnet name/id (its first usable
address), a ``(subnet, ip)`` pair, an ENI id, or an :class:`Endpoint` carrying security groups.

The text names every resource by its Name tag (or a role word such as "the VPC's default security
group"), never by its ID, and a NAT gateway's public address as "its Elastic IP": both differ from
run to run. Each :class:`Hop` keeps the IDs of the resources it checked in ``resource_ids``.
"""

from __future__ import annotations

import ipaddress
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field

from .errors import LabError
from .routing import RouteDecision, explain_route, is_public_subnet, parse_ip, route_table_for
from .topology import InternetGateway, NetworkInterface, SecurityGroup, SgRule, Subnet, VpcSnapshot

__all__ = [
    "DEFAULT_NACL",
    "INTERNET_IP",
    "STATEFUL_REPLY",
    "Endpoint",
    "EndpointLike",
    "Hop",
    "SgDecision",
    "WalkResult",
    "sg_allows",
    "walk",
]

#: The outside client used for ``"internet"``: an address from TEST-NET-3 (RFC 5737), which is
#: reserved for documentation and never routed, so examples never name somebody's real host. It is
#: not the lab's ``my_ip`` (203.0.113.10), so "the internet" never passes a rule meant for you.
INTERNET_IP = "203.0.113.200"

#: What the reply hop at a security group says, every time.
STATEFUL_REPLY = (
    "allowed by connection tracking (security groups are stateful) — no inbound/outbound rule needed for the reply"
)

#: What every network ACL hop says: the lab never replaces the default NACL.
DEFAULT_NACL = (
    "default network ACL (the lab never replaces it): allows all traffic in and out. A custom "
    "NACL is stateless and would need rules both ways, incl. ephemeral ports 1024-65535."
)

_DIRECTIONS = {
    "ingress": "ingress",
    "inbound": "ingress",
    "in": "ingress",
    "egress": "egress",
    "outbound": "egress",
    "out": "egress",
}
_PROTOCOLS = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp", "1": "icmp"}
_PROTOCOLS.update({"all": "all", "-1": "all"})


@dataclass(frozen=True)
class Endpoint:
    """One end of a connection inside (or outside) the VPC.

    ``security_groups`` are ids or group names. ``public_ip`` is the public IPv4 address, if the
    endpoint has one (an internet-facing load balancer does; a task in a private subnet does
    not). ``subnet`` may be left out when the IP says which subnet it is in.
    """

    ip: str
    subnet: str | None = None
    security_groups: Sequence[str] = ()
    public_ip: str | None = None
    name: str = ""

    def __post_init__(self) -> None:
        groups = self.security_groups
        if isinstance(groups, str):
            groups = (groups,)
        object.__setattr__(self, "security_groups", tuple(groups))


#: Everything :func:`walk` accepts as a source or destination: ``"internet"``, an IP, a subnet
#: name/id, an ENI id, a ``(subnet, ip)`` pair, or an :class:`Endpoint`.
EndpointLike = str | tuple[str, str] | Endpoint


@dataclass(frozen=True)
class Hop:
    """One step of a walk: where, what was checked, ``allow``/``deny``, and why.

    ``place`` and ``reason`` name resources by name; ``resource_ids`` holds the IDs of the
    resources checked at this hop (the internet gateway, the route table, the security groups ...),
    empty where there is none (a network ACL, the target).
    """

    place: str
    check: str
    verdict: str
    reason: str
    resource_ids: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        """True when the hop lets the packet through."""
        return self.verdict == "allow"


@dataclass(frozen=True)
class SgDecision:
    """The answer of :func:`sg_allows`. Truthy when the traffic is allowed."""

    allowed: bool
    direction: str
    security_groups: tuple[str, ...]
    reason: str
    rule: SgRule | None = None
    group: SecurityGroup | None = None

    def __bool__(self) -> bool:
        return self.allowed

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True)
class WalkResult:
    """The walk: ordered hops, the overall verdict, and the reply path (empty when denied)."""

    source: str
    destination: str
    protocol: str
    port: int | None
    hops: tuple[Hop, ...]
    reply: tuple[Hop, ...]
    verdict: str
    notes: tuple[str, ...] = field(default=())

    @property
    def allowed(self) -> bool:
        """True when the request reaches its destination."""
        return self.verdict == "allow"

    @property
    def blocked_at(self) -> Hop | None:
        """The hop that denied the packet, or ``None`` when it got through."""
        for hop in self.hops:
            if not hop.allowed:
                return hop
        return None

    @property
    def summary(self) -> str:
        """One line: what was sent and whether it arrived (and where it stopped if not)."""
        what = f"{self.protocol}/{self.port}" if self.port is not None else self.protocol
        head = f"{self.source} -> {self.destination} {what}"
        if self.allowed:
            return f"{head}: ALLOWED"
        blocked = self.blocked_at
        where = f" at {blocked.place}" if blocked else ""
        return f"{head}: DENIED{where}"

    def __str__(self) -> str:
        lines = [self.summary, format_hops(self.hops)]
        if self.reply:
            lines += ["", "reply path:", format_hops(self.reply)]
        else:
            lines += ["", "reply path: none (the request never arrived)"]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width``, broken between words; a name longer than the column
    breaks after one of its hyphens (``my-workspace-subnet-`` / ``app-public1-a``), never mid-word."""
    lines: list[str] = []
    for line in textwrap.wrap(text, width, break_on_hyphens=False, break_long_words=False):
        if len(line) <= width:
            lines.append(line)
        else:
            lines.extend(textwrap.wrap(line, width, break_on_hyphens=True, break_long_words=False))
    return lines or [""]


def format_hops(hops: Sequence[Hop]) -> str:
    """Hops as a fixed-width text table with wrapped columns (for ``print`` in a notebook).

    Names stay whole on one line wherever they fit; see :func:`_wrap`.
    """
    widths = {"#": 2, "place": 28, "check": 24, "verdict": 7, "reason": 54}
    header = ["#", "place", "check", "verdict", "reason"]
    rows: list[list[list[str]]] = []
    for number, hop in enumerate(hops, start=1):
        cells = [str(number), hop.place, hop.check, hop.verdict, hop.reason]
        rows.append([_wrap(text, widths[name]) for name, text in zip(header, cells, strict=True)])
    out = [
        "  ".join(h.ljust(widths[h]) for h in header).rstrip(),
        "  ".join("-" * widths[h] for h in header),
    ]
    for row in rows:
        height = max(len(cell) for cell in row)
        for i in range(height):
            parts = [
                (cell[i] if i < len(cell) else "").ljust(widths[name]) for name, cell in zip(header, row, strict=True)
            ]
            out.append("  ".join(parts).rstrip())
    return "\n".join(out)


# ---------------------------------------------------------------------- security groups
def _direction(direction: str) -> str:
    key = str(direction).strip().lower()
    if key not in _DIRECTIONS:
        raise LabError(
            f"{direction!r} is not a traffic direction.",
            "Use 'ingress' (inbound rules) or 'egress' (outbound rules).",
        )
    return _DIRECTIONS[key]


def _protocol(protocol: str) -> str:
    key = str(protocol).strip().lower()
    if key not in _PROTOCOLS:
        raise LabError(
            f"{protocol!r} is not a protocol this lab checks.",
            "Use 'tcp', 'udp', 'icmp' or 'all'.",
        )
    return _PROTOCOLS[key]


def _port(port: int | None, protocol: str) -> int | None:
    if protocol in ("icmp", "all"):
        return None if port is None else int(port)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise LabError(
            f"Port {port!r} is not a valid {protocol.upper()} port.",
            "Give the destination port as a whole number 0-65535, e.g. 80 for HTTP.",
        )
    return port


def _resolve_sgs(snapshot: VpcSnapshot, sg_ids: str | Sequence[str]) -> tuple[SecurityGroup, ...]:
    if isinstance(sg_ids, str):
        sg_ids = [sg_ids]
    groups = tuple(snapshot.security_group(key) for key in sg_ids)
    if not groups:
        known = ", ".join(g.label for g in snapshot.security_groups) or "none"
        raise LabError(
            "No security group was given: every network interface carries at least one.",
            f"Name the security groups, e.g. one of: {known}.",
        )
    return groups


def _rule_matches(rule: SgRule, protocol: str, port: int | None, ip: str | None, sgs: set[str]) -> bool:
    if rule.protocol != "all" and rule.protocol != protocol:
        return False
    has_range = rule.from_port is not None and rule.to_port is not None and port is not None
    if has_range and protocol in ("tcp", "udp") and not rule.from_port <= port <= rule.to_port:  # type: ignore[operator]
        return False
    if rule.peer_kind == "sg":
        return rule.peer in sgs
    if rule.peer_kind == "cidr":
        try:
            network = ipaddress.ip_network(rule.peer, strict=False)
        except ValueError:
            return False
        if ip is None:
            # A peer known only by its security group still matches "everywhere" rules.
            return network.prefixlen == 0
        address = ipaddress.ip_address(ip)
        return address.version == network.version and address in network
    # Prefix lists hold AWS-managed address ranges that a snapshot does not contain.
    return False


def _peer(snapshot: VpcSnapshot, peer: str | Endpoint) -> tuple[str | None, set[str], str]:
    """(ip, security-group ids, label) for a peer given as IP, SG id/name or Endpoint."""
    if isinstance(peer, Endpoint):
        groups = {snapshot.security_group(g).id for g in peer.security_groups}
        return str(parse_ip(peer.ip)), groups, peer.name or peer.ip
    if isinstance(peer, str):
        text = peer.strip()
        try:
            return str(ipaddress.ip_address(text)), set(), text
        except ValueError:
            pass
        if any(text in (g.id, g.name) for g in snapshot.security_groups):
            group = snapshot.security_group(text)
            return None, {group.id}, f"a member of {group.label}"
    raise LabError(
        f"{peer!r} is neither an IP address nor a security group of this VPC.",
        "Give the peer as an IP such as '203.0.113.200', or a security-group id or name "
        "(e.g. the load balancer's group), or an Endpoint(ip=..., security_groups=[...]).",
    )


def sg_allows(
    snapshot: VpcSnapshot,
    sg_ids: str | Sequence[str],
    direction: str,
    protocol: str,
    port: int | None,
    peer: str | Endpoint,
) -> SgDecision:
    """Do the security groups ``sg_ids`` allow this traffic in ``direction``?

    ``peer`` is the other end: the source for ingress, the destination for egress. It may be an
    IP address, a security-group id/name ("a member of that group"), or an :class:`Endpoint`
    (both an IP and the groups it carries). A rule that references another security group matches
    when the peer carries that group. Security groups only allow: all rules of all groups are
    considered, and traffic no rule allows is denied.
    """
    way = _direction(direction)
    proto = _protocol(protocol)
    port_number = _port(port, proto)
    groups = _resolve_sgs(snapshot, sg_ids)
    peer_ip, peer_sgs, peer_label = _peer(snapshot, peer)
    ids = tuple(g.id for g in groups)
    what = f"{proto} {port_number}" if port_number is not None else proto
    word = "from" if way == "ingress" else "to"
    for group in groups:
        rules = group.ingress if way == "ingress" else group.egress
        for rule in rules:
            if _rule_matches(rule, proto, port_number, peer_ip, peer_sgs):
                via = ""
                if rule.peer_kind == "sg":
                    via = f" ({peer_label} carries {rule.peer_label})"
                return SgDecision(
                    True,
                    way,
                    ids,
                    f"{group.title} allows {what} {word} {peer_label}: rule '{rule}'{via}.",
                    rule,
                    group,
                )
    listed = []
    for group in groups:
        rules = group.ingress if way == "ingress" else group.egress
        shown = "; ".join(str(r) for r in rules[:4]) or "no rules"
        more = f"; +{len(rules) - 4} more" if len(rules) > 4 else ""
        listed.append(f"{group.label}: {shown}{more}")
    return SgDecision(
        False,
        way,
        ids,
        f"no {way} rule allows {what} {word} {peer_label} ({' | '.join(listed)}); security "
        "groups deny everything they do not explicitly allow.",
    )


# ---------------------------------------------------------------------- endpoints
@dataclass(frozen=True)
class _End:
    outside: bool
    ip: str
    label: str
    subnet: Subnet | None = None
    sgs: tuple[str, ...] = ()
    public_ip: str = ""
    public_note: str = ""
    sg_note: str = ""


def _default_sgs(snapshot: VpcSnapshot, what: str) -> tuple[tuple[str, ...], str]:
    for group in snapshot.security_groups:
        if group.default:
            return (group.id,), (
                f"{what} was given no security group, so {group.title} applies, as it does for "
                "an interface created without one."
            )
    known = ", ".join(g.label for g in snapshot.security_groups) or "none"
    raise LabError(
        f"{what} has no security groups and the snapshot holds no 'default' group.",
        f"Say which groups it carries: Endpoint(ip=..., security_groups=[...]) with one of: {known}.",
    )


def _in_vpc(snapshot: VpcSnapshot, ip: str) -> bool:
    return snapshot.vpc.contains(ip)


def _eni_endpoint(eni: NetworkInterface) -> Endpoint:
    # No name: the endpoint then reads "<ip> (<subnet>)" like any other address in the VPC.
    return Endpoint(
        ip=eni.private_ip,
        subnet=eni.subnet_id,
        security_groups=eni.security_groups,
        public_ip=eni.public_ip or None,
    )


def _resolve_end(snapshot: VpcSnapshot, value: object, role: str) -> _End:
    if isinstance(value, str) and value.strip().lower() == "internet":
        return _End(True, INTERNET_IP, f"internet {INTERNET_IP}")
    if isinstance(value, str) and value.strip().startswith("eni-"):
        eni = next((e for e in snapshot.network_interfaces if e.id == value.strip()), None)
        if eni is None:
            raise LabError(
                f"Network interface {value!r} is not in this snapshot of {snapshot.vpc.label}.",
                "Take a new snapshot, or describe the endpoint with Endpoint(ip=..., "
                "subnet=..., security_groups=[...]).",
            )
        value = _eni_endpoint(eni)
    if isinstance(value, tuple | list) and len(value) == 2 and not isinstance(value, str):
        value = Endpoint(ip=str(value[1]), subnet=str(value[0]))
    if isinstance(value, str):
        text = value.strip()
        try:
            ipaddress.ip_address(text)
            eni = snapshot.interface_for_ip(text)
            # A public IP of one of the VPC's interfaces means that interface, not some outside host.
            value = _eni_endpoint(eni) if eni is not None and eni.public_ip == text else Endpoint(ip=text)
        except ValueError:
            subnet = snapshot.subnet(text)  # LabError lists the subnet names if unknown
            value = Endpoint(ip=subnet.first_usable_ip(), subnet=subnet.id)
    if not isinstance(value, Endpoint):
        raise LabError(
            f"The {role} {value!r} is not something the walk understands.",
            "Use 'internet', an IP address, a subnet name, a (subnet, ip) pair, an ENI id, or "
            "Endpoint(ip=..., subnet=..., security_groups=[...]).",
        )
    ip = str(parse_ip(value.ip))
    if value.subnet is None and not _in_vpc(snapshot, ip):
        return _End(True, ip, value.name or f"internet {ip}")
    subnet = snapshot.subnet(value.subnet) if value.subnet else snapshot.subnet_for_ip(ip)
    if subnet is None:
        raise LabError(
            f"{ip} is inside {snapshot.vpc.label} ({', '.join(snapshot.vpc.cidrs)}) but in no subnet of it.",
            "Use an address inside one of the subnets: "
            + ", ".join(f"{s.label} {s.cidr}" for s in snapshot.subnets)
            + ".",
        )
    if not subnet.contains(ip):
        raise LabError(
            f"{ip} is not inside subnet {subnet.label} ({subnet.cidr}).",
            f"Pick an address in {subnet.cidr}, e.g. {subnet.first_usable_ip()} (base + 4 is "
            "the first one AWS hands out).",
        )
    label = value.name or f"{ip} ({subnet.label})"
    if value.security_groups:
        sgs = tuple(snapshot.security_group(g).id for g in value.security_groups)
        sg_note = ""
    else:
        eni = snapshot.interface_for_ip(ip)
        if eni is not None and eni.security_groups:
            sgs, sg_note = eni.security_groups, ""
        else:
            sgs, sg_note = _default_sgs(snapshot, label)
    public_ip, public_note = "", ""
    if value.public_ip:
        public_ip = str(parse_ip(value.public_ip))
        public_note = f"public IP {public_ip}"
    else:
        eni = snapshot.interface_for_ip(ip)
        if eni is not None and eni.public_ip:
            public_ip, public_note = eni.public_ip, f"public IP {eni.public_ip} (from its ENI)"
        elif subnet.map_public_ip_on_launch:
            public_ip = "auto"
            public_note = f"an auto-assigned public IP ({subnet.label} has MapPublicIpOnLaunch on)"
    return _End(False, ip, label, subnet, sgs, public_ip, public_note, sg_note)


def _as_peer(end: _End) -> Endpoint:
    return Endpoint(ip=end.ip, security_groups=end.sgs, name=end.label)


# ---------------------------------------------------------------------- the walk
def _rt_place(snapshot: VpcSnapshot, subnet: Subnet) -> tuple[str, str, tuple[str, ...]]:
    """(place, how the subnet got its table, the table's id) of a subnet's route-table hop."""
    choice = route_table_for(snapshot, subnet)
    table = choice.route_table
    how = "" if choice.explicit else ", main table"
    place = f"route table {table.label} ({subnet.label}{how})"
    return place, choice.reason, (table.id,)


def _sg_place(groups: Sequence[SecurityGroup]) -> str:
    if len(groups) == 1:
        return groups[0].title
    return "security groups " + ", ".join(g.label for g in groups)


def _sg_hop(snapshot: VpcSnapshot, end: _End, way: str, proto: str, port: int | None, peer: str | Endpoint) -> Hop:
    decision = sg_allows(snapshot, end.sgs, way, proto, port, peer)
    groups = [snapshot.security_group(g) for g in end.sgs]
    word = "inbound" if way == "ingress" else "outbound"
    reason = decision.reason
    if end.sg_note:
        reason = f"{reason} {end.sg_note[0].upper()}{end.sg_note[1:]}"
    return Hop(
        _sg_place(groups),
        f"{word} rules of {end.label}",
        "allow" if decision.allowed else "deny",
        reason,
        tuple(g.id for g in groups),
    )


def _nacl_hop(subnet: Subnet, word: str) -> Hop:
    return Hop(f"network ACL ({subnet.label})", f"{word} NACL rules", "allow", DEFAULT_NACL)


def _igw_place(igw: InternetGateway | None, igw_id: str = "") -> str:
    if igw is not None:
        return igw.title
    # A gateway this VPC does not hold (detached or deleted): its id is all there is to name it.
    return f"internet gateway {igw_id}" if igw_id else "internet gateway (none)"


def _finish(
    src: _End,
    dst: _End,
    proto: str,
    port: int | None,
    hops: list[Hop],
    reply: list[Hop],
    notes: list[str],
) -> WalkResult:
    allowed = all(h.allowed for h in hops)
    return WalkResult(
        source=src.label,
        destination=dst.label,
        protocol=proto,
        port=port,
        hops=tuple(hops),
        reply=tuple(reply) if allowed else (),
        verdict="allow" if allowed else "deny",
        notes=tuple(notes),
    )


def walk(
    snapshot: VpcSnapshot,
    source: EndpointLike,
    destination: EndpointLike,
    port: int | None,
    protocol: str = "tcp",
) -> WalkResult:
    """Walk a request from ``source`` to ``destination`` on ``protocol``/``port`` hop by hop.

    Returns a :class:`WalkResult` whose ``hops`` stop at the first hop that denies, whose
    ``verdict`` is ``allow`` or ``deny``, and whose ``reply`` shows the way back (security
    groups answer from connection tracking). ``print(result)`` shows it as a text table.
    """
    proto = _protocol(protocol)
    port_number = _port(port, proto)
    src = _resolve_end(snapshot, source, "source")
    dst = _resolve_end(snapshot, destination, "destination")
    if src.outside and dst.outside:
        raise LabError(
            f"Both ends are outside {snapshot.vpc.label} ({src.ip} and {dst.ip}): the walk has "
            "nothing of the VPC to cross.",
            "Make one end a subnet, an address inside the VPC, or an Endpoint(...).",
        )
    if src.outside:
        return _walk_in(snapshot, src, dst, proto, port_number)
    if dst.outside:
        return _walk_out(snapshot, src, dst, proto, port_number)
    return _walk_inside(snapshot, src, dst, proto, port_number)


def _walk_in(snapshot: VpcSnapshot, src: _End, dst: _End, proto: str, port: int | None) -> WalkResult:
    """Internet -> VPC: IGW -> route table -> NACL -> security group -> target."""
    assert dst.subnet is not None
    hops: list[Hop] = []
    reply: list[Hop] = []
    notes: list[str] = []
    igws = snapshot.internet_gateways
    igw = igws[0] if igws else None
    igw_place = _igw_place(igw)
    igw_ids = (igw.id,) if igw is not None else ()
    check = f"can the internet address {dst.ip}?"
    if igw is None:
        hops.append(
            Hop(
                igw_place,
                check,
                "deny",
                f"no internet gateway is attached to {snapshot.vpc.label}, so nothing from the "
                "internet can enter the VPC at all.",
            )
        )
        return _finish(src, dst, proto, port, hops, reply, notes)
    if not dst.public_ip:
        hops.append(
            Hop(
                igw_place,
                check,
                "deny",
                f"no public IP: {dst.ip} is a private address with no public IPv4 address, so "
                f"the internet cannot address it; the internet gateway only translates public "
                f"IPs that belong to an interface in the VPC. Put an internet-facing load "
                f"balancer in a public subnet in front of {dst.subnet.label}.",
                igw_ids,
            )
        )
        return _finish(src, dst, proto, port, hops, reply, notes)
    shown_public = "its public IP" if dst.public_ip == "auto" else dst.public_ip
    hops.append(
        Hop(
            igw_place,
            check,
            "allow",
            f"{dst.label} has {dst.public_note}; the internet gateway translates {shown_public} to "
            f"the private address {dst.ip} and hands the packet to the VPC router.",
            igw_ids,
        )
    )
    place, choice_reason, rt_ids = _rt_place(snapshot, dst.subnet)
    rt = route_table_for(snapshot, dst.subnet).route_table
    back: RouteDecision = explain_route(rt, src.ip)
    public = is_public_subnet(snapshot, dst.subnet)
    route_check = f"route back to {src.ip} through the IGW?"
    if back.outcome == "igw" and snapshot.internet_gateway(back.winner.target_id) is not None:  # type: ignore[union-attr]
        hops.append(
            Hop(
                place,
                route_check,
                "allow",
                f"the local route delivers {dst.ip} inside the VPC; replies: {back.reason}. {choice_reason}",
                rt_ids,
            )
        )
    else:
        hops.append(
            Hop(
                place,
                route_check,
                "deny",
                f"no route back to the internet gateway: {back.reason}. Replies to {src.ip} "
                f"would not leave through the IGW, so the internet cannot reach "
                f"{dst.subnet.label} ({public.reason})",
                rt_ids,
            )
        )
        return _finish(src, dst, proto, port, hops, reply, notes)
    hops.append(_nacl_hop(dst.subnet, "inbound"))
    hops.append(_sg_hop(snapshot, dst, "ingress", proto, port, Endpoint(ip=src.ip, name=src.label)))
    if not hops[-1].allowed:
        return _finish(src, dst, proto, port, hops, reply, notes)
    hops.append(_target_hop(dst, port, proto))
    reply = [
        Hop(f"security group of {dst.label}", "reply leaves the target", "allow", STATEFUL_REPLY, dst.sgs),
        _nacl_hop(dst.subnet, "outbound"),
        Hop(place, f"route to {src.ip}", "allow", back.reason, rt_ids),
        Hop(
            igw_place,
            "translate back",
            "allow",
            f"the internet gateway rewrites the source {dst.ip} back to {shown_public} and sends the "
            f"reply to {src.ip}.",
            igw_ids,
        ),
        Hop(src.label, "reply delivered", "allow", f"the reply arrives at {src.ip}."),
    ]
    return _finish(src, dst, proto, port, hops, reply, notes)


def _target_hop(dst: _End, port: int | None, proto: str) -> Hop:
    where = f"{dst.ip}:{port}" if port is not None else dst.ip
    return Hop(dst.label, "delivered", "allow", f"the packet arrives at {where} ({proto}).")


def _walk_out(snapshot: VpcSnapshot, src: _End, dst: _End, proto: str, port: int | None) -> WalkResult:
    """VPC -> internet: security group -> NACL -> route table -> (NAT ->) IGW -> internet."""
    assert src.subnet is not None
    hops: list[Hop] = []
    reply: list[Hop] = []
    notes: list[str] = []
    hops.append(_sg_hop(snapshot, src, "egress", proto, port, dst.ip))
    if not hops[-1].allowed:
        return _finish(src, dst, proto, port, hops, reply, notes)
    hops.append(_nacl_hop(src.subnet, "outbound"))
    place, choice_reason, rt_ids = _rt_place(snapshot, src.subnet)
    rt = route_table_for(snapshot, src.subnet).route_table
    decision = explain_route(rt, dst.ip)
    check = f"longest prefix match for {dst.ip}"
    if decision.dropped or decision.winner is None:
        hops.append(Hop(place, check, "deny", f"{decision.reason}. {choice_reason}", rt_ids))
        return _finish(src, dst, proto, port, hops, reply, notes)
    kind = decision.outcome
    if kind not in ("igw", "nat"):
        hops.append(
            Hop(
                place,
                check,
                "deny",
                f"{decision.reason}; this walk follows only internet gateways and NAT gateways out of the VPC.",
                rt_ids,
            )
        )
        return _finish(src, dst, proto, port, hops, reply, notes)
    hops.append(Hop(place, check, "allow", decision.reason, rt_ids))
    nat_hops: list[Hop] = []
    if kind == "nat":
        route = decision.winner
        assert route is not None
        nat = snapshot.nat_gateway(route.target_id)
        nat_ids = (route.target_id,)
        problem = ""
        nat_subnet = None
        if nat is None:
            problem = f"{route.target_phrase} is not in this VPC any more"
        elif nat.state != "available":
            problem = f"{nat.title} is '{nat.state}', not 'available'"
        elif nat.connectivity == "private":
            problem = f"{nat.title} is a private NAT gateway, which cannot reach the internet"
        else:
            nat_subnet = next((s for s in snapshot.subnets if s.id == nat.subnet_id), None)
            if nat_subnet is None:
                # That subnet is outside the snapshot: its id is all there is to name it by.
                problem = f"{nat.title} sits in subnet {nat.subnet_id}, which is not in the snapshot"
        if problem or nat is None or nat_subnet is None:
            hops.append(Hop(route.target_phrase, "forward to the internet?", "deny", problem + ".", nat_ids))
            return _finish(src, dst, proto, port, hops, reply, notes)
        # The Elastic IP is an address AWS picks (and the offline region too): it differs from run
        # to run, so the text names it by role; it stays on snapshot.nat_gateway(...).public_ip.
        egress = "the NAT gateway's Elastic IP"
        hops.append(
            Hop(
                f"{nat.title} ({nat_subnet.label})",
                "translate the source address",
                "allow",
                f"rewrites the source {src.ip} to its own public address, its Elastic IP; connection "
                "tracking remembers the mapping for the reply.",
                nat_ids,
            )
        )
        if nat_subnet.az != src.subnet.az:
            notes.append(
                f"the NAT gateway is in {nat_subnet.az} while {src.label} is in "
                f"{src.subnet.az}: cross-AZ traffic is charged, and if {nat_subnet.az} fails "
                f"{src.subnet.az} loses its way out (use one NAT gateway per AZ)."
            )
        nat_place2, _, nat_rt_ids = _rt_place(snapshot, nat_subnet)
        nat_rt = route_table_for(snapshot, nat_subnet).route_table
        onward = explain_route(nat_rt, dst.ip)
        if onward.outcome != "igw" or snapshot.internet_gateway(onward.winner.target_id) is None:  # type: ignore[union-attr]
            hops.append(
                Hop(
                    nat_place2,
                    f"NAT gateway's route to {dst.ip}",
                    "deny",
                    f"{onward.reason}. The NAT gateway sits in {nat_subnet.label}, which is "
                    "private itself, so the path is broken: a NAT gateway must sit in a public "
                    "subnet (0.0.0.0/0 -> internet gateway).",
                    nat_rt_ids,
                )
            )
            return _finish(src, dst, proto, port, hops, reply, notes)
        hops.append(Hop(nat_place2, f"NAT gateway's route to {dst.ip}", "allow", onward.reason, nat_rt_ids))
        igw_id = onward.winner.target_id  # type: ignore[union-attr]
        nat_hops = [
            Hop(
                nat.title,
                "translate back",
                "allow",
                f"connection tracking maps the reply for its Elastic IP back to {src.ip} — no "
                "rule needed; the internet still cannot open new connections to it.",
                nat_ids,
            )
        ]
    else:
        igw_id = decision.winner.target_id
        if snapshot.internet_gateway(igw_id) is None:
            hops.append(
                Hop(
                    _igw_place(None, igw_id),
                    "attached to this VPC?",
                    "deny",
                    f"{decision.winner.target_phrase} is not attached to {snapshot.vpc.label}, so the "
                    "route leads nowhere.",
                    (igw_id,),
                )
            )
            return _finish(src, dst, proto, port, hops, reply, notes)
        if not src.public_ip:
            hops.append(
                Hop(
                    _igw_place(snapshot.internet_gateway(igw_id)),
                    f"public IP for {src.ip}?",
                    "deny",
                    f"no public IP: {src.label} has no public IPv4 address, so the internet "
                    "gateway has nothing to translate its private source address to and the "
                    "traffic goes nowhere. A route to the IGW alone is not enough.",
                    (igw_id,),
                )
            )
            return _finish(src, dst, proto, port, hops, reply, notes)
        egress = "its public IP" if src.public_ip == "auto" else src.public_ip
    igw_place = _igw_place(snapshot.internet_gateway(igw_id), igw_id)
    if kind == "nat":
        leaves = "the packet leaves for the internet with the NAT gateway's Elastic IP as its source."
    else:
        leaves = f"the packet leaves for the internet with source {egress} ({src.public_note})."
    hops.append(Hop(igw_place, "leave the VPC", "allow", leaves, (igw_id,)))
    hops.append(_target_hop(dst, port, proto))
    reply = [
        Hop(
            igw_place,
            "reply enters the VPC",
            "allow",
            f"the reply from {dst.ip} to {egress} enters through the internet gateway.",
            (igw_id,),
        ),
        *nat_hops,
        Hop(place, f"route to {src.ip}", "allow", "the local route delivers it inside the VPC.", rt_ids),
        _nacl_hop(src.subnet, "inbound"),
        Hop(f"security group of {src.label}", "reply arrives", "allow", STATEFUL_REPLY, src.sgs),
    ]
    return _finish(src, dst, proto, port, hops, reply, notes)


def _walk_inside(snapshot: VpcSnapshot, src: _End, dst: _End, proto: str, port: int | None) -> WalkResult:
    """VPC -> VPC: source SG -> NACL -> route table (local) -> NACL -> target SG -> target."""
    assert src.subnet is not None and dst.subnet is not None
    hops: list[Hop] = []
    reply: list[Hop] = []
    notes: list[str] = []
    hops.append(_sg_hop(snapshot, src, "egress", proto, port, _as_peer(dst)))
    if not hops[-1].allowed:
        return _finish(src, dst, proto, port, hops, reply, notes)
    hops.append(_nacl_hop(src.subnet, "outbound"))
    place, choice_reason, rt_ids = _rt_place(snapshot, src.subnet)
    rt = route_table_for(snapshot, src.subnet).route_table
    decision = explain_route(rt, dst.ip)
    check = f"longest prefix match for {dst.ip}"
    if decision.outcome != "local":
        extra = "" if decision.dropped else "; this walk does not follow routes to appliances inside the VPC"
        hops.append(Hop(place, check, "deny", f"{decision.reason}{extra}. {choice_reason}", rt_ids))
        return _finish(src, dst, proto, port, hops, reply, notes)
    hops.append(Hop(place, check, "allow", decision.reason, rt_ids))
    hops.append(_nacl_hop(dst.subnet, "inbound"))
    hops.append(_sg_hop(snapshot, dst, "ingress", proto, port, _as_peer(src)))
    if not hops[-1].allowed:
        return _finish(src, dst, proto, port, hops, reply, notes)
    hops.append(_target_hop(dst, port, proto))
    if src.subnet.az != dst.subnet.az:
        notes.append(
            f"this request crosses Availability Zones ({src.subnet.az} -> {dst.subnet.az}); "
            "cross-AZ traffic is charged per GB."
        )
    back_place, _, back_ids = _rt_place(snapshot, dst.subnet)
    back = explain_route(route_table_for(snapshot, dst.subnet).route_table, src.ip)
    reply = [
        Hop(f"security group of {dst.label}", "reply leaves the target", "allow", STATEFUL_REPLY, dst.sgs),
        _nacl_hop(dst.subnet, "outbound"),
        Hop(
            back_place,
            f"route to {src.ip}",
            "allow" if back.outcome == "local" else "deny",
            back.reason,
            back_ids,
        ),
        _nacl_hop(src.subnet, "inbound"),
        Hop(f"security group of {src.label}", "reply arrives", "allow", STATEFUL_REPLY, src.sgs),
    ]
    return _finish(src, dst, proto, port, hops, reply, notes)
