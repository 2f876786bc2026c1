"""A frozen, plain-data picture of one VPC, built from standard EC2 describe calls.

Everything the workbook explains about a network (longest-prefix routing, "is this subnet public?",
packet walks, the VPC diagram) works on a :class:`VpcSnapshot` rather than on live API calls. That
split has two reasons:

- the explanations are pure functions of data, so they are fast, deterministic and testable from
  hand-written describe-shaped dicts (:meth:`VpcSnapshot.from_describe`), with no AWS at all;
- :func:`snapshot` uses only ordinary ``describe_*`` calls filtered by ``vpc-id``, so the very same
  code runs against the offline lab region and against a real AWS account.

A snapshot is a picture taken at one moment: after changing the network, take a new one.

Every resource reads in prose by its ``Name`` tag, never by its ID: IDs differ on every run and in
every account, and mean nothing to a reader. ``label`` is the short form (``my-workspace-igw``),
``title`` the noun phrase for a sentence (``internet gateway my-workspace-igw``); a resource without
a Name tag gets a role word instead (``main``/``the main route table``, ``the VPC's default security
group``, ``subnet 10.0.3.0/24``). The IDs stay on the objects (``id``, ``Route.target_id``,
``SgRule.peer``) for code that needs them, and :meth:`VpcSnapshot.readable` rewrites IDs in any
other text (an AWS error message, say) the same way.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import LabError

__all__ = [
    "TARGET_WORDS",
    "InternetGateway",
    "NatGateway",
    "NetworkInterface",
    "Route",
    "RouteTable",
    "SecurityGroup",
    "SgRule",
    "Subnet",
    "Vpc",
    "VpcSnapshot",
    "example_describe",
    "example_snapshot",
    "snapshot",
    "snapshot_from_describe_map",
    "snapshot_from_dicts",
]

#: Route target kinds, keyed by the id prefix AWS uses for that kind of target.
_TARGET_PREFIXES: tuple[tuple[str, str], ...] = (
    ("igw-", "igw"),
    ("eigw-", "egress-only-igw"),
    ("nat-", "nat"),
    ("vgw-", "vgw"),
    ("vpce-", "vpc-endpoint"),
    ("pcx-", "peering"),
    ("tgw-", "transit-gateway"),
    ("eni-", "eni"),
    ("i-", "instance"),
    ("cagw-", "carrier-gateway"),
    ("lgw-", "local-gateway"),
)

# The order matters: AWS fills both InstanceId and NetworkInterfaceId for a route to an instance,
# and the instance is what the learner created the route with.
_TARGET_KEYS: tuple[str, ...] = (
    "GatewayId",
    "NatGatewayId",
    "TransitGatewayId",
    "VpcPeeringConnectionId",
    "EgressOnlyInternetGatewayId",
    "InstanceId",
    "NetworkInterfaceId",
    "CarrierGatewayId",
    "LocalGatewayId",
    "CoreNetworkArn",
)

_PROTOCOL_NAMES = {"-1": "all", "all": "all", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}

#: How each kind of route target reads in a sentence ("... to NAT gateway my-nat").
TARGET_WORDS: dict[str, str] = {
    "igw": "internet gateway",
    "nat": "NAT gateway",
    "eni": "network interface",
    "instance": "instance",
    "peering": "peering connection",
    "transit-gateway": "transit gateway",
    "vgw": "virtual private gateway",
    "vpc-endpoint": "VPC endpoint",
    "egress-only-igw": "egress-only internet gateway",
    "carrier-gateway": "carrier gateway",
    "local-gateway": "local gateway",
}

#: Resource IDs as AWS writes them: a type prefix and 8 or 17 hex digits.
_ID = re.compile(
    r"\b(vpc|subnet|rtb|rtbassoc|igw|eigw|nat|sg|sgr|eni|eipalloc|eipassoc|acl|aclassoc|vpce|pcx|tgw|vgw|i)"
    r"-[0-9a-f]{8,17}\b"
)


def _tags(item: Mapping[str, Any]) -> dict[str, str]:
    # ENIs call their tags "TagSet"; everything else says "Tags".
    raw = item.get("Tags") or item.get("TagSet") or []
    return {str(t.get("Key")): str(t.get("Value", "")) for t in raw}


def _name(item: Mapping[str, Any]) -> str:
    return _tags(item).get("Name", "")


@dataclass(frozen=True)
class Vpc:
    """The VPC itself: id, its IPv4 CIDR blocks (primary first) and its ``Name`` tag."""

    id: str
    cidrs: tuple[str, ...]
    name: str = ""

    @property
    def label(self) -> str:
        """The Name tag, else ``VPC <primary CIDR>``."""
        if self.name:
            return self.name
        return f"VPC {self.cidrs[0]}" if self.cidrs else "the VPC"

    @property
    def title(self) -> str:
        """``VPC <name>``, else ``VPC <primary CIDR>``."""
        return f"VPC {self.name}" if self.name else self.label

    def contains(self, ip: str | ipaddress.IPv4Address) -> bool:
        """True if ``ip`` lies inside one of the VPC's CIDR blocks."""
        address = ipaddress.ip_address(ip)
        return any(address in ipaddress.ip_network(c) for c in self.cidrs)


@dataclass(frozen=True)
class Subnet:
    """One subnet: it lives in exactly one Availability Zone."""

    id: str
    name: str
    az: str
    cidr: str
    available_ips: int
    map_public_ip_on_launch: bool = False

    @property
    def label(self) -> str:
        """The Name tag, else ``subnet <CIDR>`` (a CIDR names one subnet of a VPC as well as its id)."""
        return self.name or f"subnet {self.cidr}"

    @property
    def title(self) -> str:
        """``subnet <name>``, else ``subnet <CIDR>``."""
        return f"subnet {self.name}" if self.name else self.label

    @property
    def network(self) -> ipaddress.IPv4Network:
        """The subnet's CIDR as an :class:`ipaddress.IPv4Network`."""
        return ipaddress.ip_network(self.cidr)  # type: ignore[return-value]

    def contains(self, ip: str | ipaddress.IPv4Address) -> bool:
        """True if ``ip`` lies inside this subnet's CIDR."""
        return ipaddress.ip_address(ip) in self.network

    def first_usable_ip(self) -> str:
        """The first address AWS hands out: base + 4 (base+0..+3 are reserved by AWS)."""
        return str(self.network.network_address + 4)


@dataclass(frozen=True)
class Route:
    """One route: destination, what kind of target it points at, the target's id, and its state.

    ``target_kind`` is one of ``local``, ``igw``, ``nat``, ``eni``, ``instance``, ``peering``,
    ``transit-gateway``, ``vgw``, ``vpc-endpoint``, ``egress-only-igw``, ... or ``unknown``.
    ``state`` is ``active`` or ``blackhole`` (the target is gone).

    ``target_name`` and ``target_title`` are how the target reads (``my-workspace-igw``, ``internet
    gateway my-workspace-igw``); a snapshot fills them in for the targets it holds. They are left
    out of comparisons: two routes are the same route whatever their targets are called.
    """

    destination: str
    target_kind: str
    target_id: str
    state: str = "active"
    target_name: str = field(default="", compare=False)
    target_title: str = field(default="", compare=False)

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
        """The destination as a network, or ``None`` for a prefix-list destination (``pl-...``)."""
        try:
            return ipaddress.ip_network(self.destination, strict=False)
        except ValueError:
            return None

    @property
    def target_label(self) -> str:
        """The target, short: ``local``, its name, a role word, or (for a target the snapshot does
        not hold, such as a deleted gateway) its id."""
        if self.target_kind == "local":
            return "local"
        return self.target_name or self.target_title or self.target_id or "nothing"

    @property
    def target_phrase(self) -> str:
        """The target as a noun phrase: ``internet gateway my-workspace-igw``, ``NAT gateway nat-0ab...``."""
        if self.target_kind == "local":
            return "local (inside the VPC)"
        if self.target_title:
            return self.target_title
        word = TARGET_WORDS.get(self.target_kind)
        if word and self.target_id:
            return f"{word} {self.target_id}"
        return self.target_id or "nothing"

    def __str__(self) -> str:
        state = "" if self.state == "active" else f" ({self.state})"
        return f"{self.destination} -> {self.target_label}{state}"


@dataclass(frozen=True)
class RouteTable:
    """A route table: whether it is the VPC's main table, which subnets are explicitly associated."""

    id: str
    name: str
    main: bool
    subnet_ids: tuple[str, ...]
    routes: tuple[Route, ...]

    @property
    def label(self) -> str:
        """The Name tag, else ``main`` for the VPC's main table (which AWS creates unnamed), else the id."""
        return self.name or ("main" if self.main else self.id)

    @property
    def title(self) -> str:
        """``route table <name>``, else ``the main route table`` (or ``route table <id>``)."""
        if self.name:
            return f"route table {self.name}"
        return "the main route table" if self.main else f"route table {self.id}"

    def route_to(self, destination: str) -> Route | None:
        """The route whose destination is exactly ``destination`` (e.g. ``"0.0.0.0/0"``), if any."""
        for route in self.routes:
            if route.destination == destination:
                return route
        return None


@dataclass(frozen=True)
class InternetGateway:
    """An internet gateway attached to the VPC."""

    id: str
    name: str = ""
    state: str = "available"

    @property
    def label(self) -> str:
        """The Name tag, else ``the VPC's internet gateway`` (a VPC has at most one)."""
        return self.name or "the VPC's internet gateway"

    @property
    def title(self) -> str:
        """``internet gateway <name>``, else ``the VPC's internet gateway``."""
        return f"internet gateway {self.name}" if self.name else self.label


@dataclass(frozen=True)
class NatGateway:
    """A NAT gateway: the subnet it sits in decides whether it can reach the internet at all."""

    id: str
    subnet_id: str
    state: str
    name: str = ""
    private_ip: str = ""
    public_ip: str = ""
    connectivity: str = "public"

    @property
    def label(self) -> str:
        """The Name tag, else ``the NAT gateway at <private IP>`` (else the id)."""
        if self.name:
            return self.name
        return f"the NAT gateway at {self.private_ip}" if self.private_ip else self.id

    @property
    def title(self) -> str:
        """``NAT gateway <name>``, else ``the NAT gateway at <private IP>``."""
        if self.name:
            return f"NAT gateway {self.name}"
        return self.label if self.private_ip else f"NAT gateway {self.id}"


@dataclass(frozen=True)
class SgRule:
    """One security-group rule, normalised to a single peer.

    ``direction`` is ``ingress`` or ``egress``. ``protocol`` is ``tcp``, ``udp``, ``icmp``,
    ``icmpv6``, ``all`` or a protocol number as text. ``from_port``/``to_port`` are ``None`` when
    the rule covers every port (protocol ``all``, or AWS's ``-1``). ``peer`` is the source (ingress)
    or destination (egress): a CIDR, a security-group id, or a prefix-list id, as ``peer_kind``
    ``cidr`` / ``sg`` / ``prefix-list`` says.
    """

    direction: str
    protocol: str
    from_port: int | None
    to_port: int | None
    peer: str
    peer_kind: str
    description: str = ""
    peer_name: str = field(default="", compare=False)

    @property
    def peer_label(self) -> str:
        """The peer as it reads: a CIDR, or the group name of a security-group peer (else its id)."""
        return self.peer_name or self.peer

    @property
    def ports(self) -> str:
        """The port range as text: ``80``, ``8000-8080`` or ``all``."""
        if self.from_port is None or self.to_port is None:
            return "all"
        if self.from_port == self.to_port:
            return str(self.from_port)
        return f"{self.from_port}-{self.to_port}"

    def __str__(self) -> str:
        word = "from" if self.direction == "ingress" else "to"
        proto = "all traffic" if self.protocol == "all" else f"{self.protocol} {self.ports}"
        return f"{proto} {word} {self.peer_label}"


@dataclass(frozen=True)
class SecurityGroup:
    """A security group. ``name`` is the group name (``GroupName``), which AWS requires."""

    id: str
    name: str
    description: str
    ingress: tuple[SgRule, ...]
    egress: tuple[SgRule, ...]

    @property
    def label(self) -> str:
        """The group name (AWS requires one; it is unique in a VPC), else the id."""
        return self.name or self.id

    @property
    def default(self) -> bool:
        """True for the VPC's ``default`` group, which AWS creates with the VPC."""
        return self.name == "default"

    @property
    def title(self) -> str:
        """``security group <name>``, or ``the VPC's default security group``."""
        return "the VPC's default security group" if self.default else f"security group {self.label}"


@dataclass(frozen=True)
class NetworkInterface:
    """An ENI: what actually holds an IP address and carries security groups."""

    id: str
    subnet_id: str
    private_ip: str
    public_ip: str = ""
    security_groups: tuple[str, ...] = ()
    description: str = ""
    interface_type: str = "interface"

    @property
    def label(self) -> str:
        """``the network interface at <private IP>`` (ENIs have no name of their own)."""
        return f"the network interface at {self.private_ip}" if self.private_ip else self.id

    title = label


@dataclass(frozen=True)
class VpcSnapshot:
    """Everything about one VPC that the routing, packet-walk and diagram helpers need.

    Build it with :func:`snapshot` (live API) or :meth:`from_describe` (describe-shaped dicts).
    All collections are tuples sorted deterministically (subnets by AZ then CIDR, the rest by id).
    """

    vpc: Vpc
    subnets: tuple[Subnet, ...] = ()
    route_tables: tuple[RouteTable, ...] = ()
    internet_gateways: tuple[InternetGateway, ...] = ()
    nat_gateways: tuple[NatGateway, ...] = ()
    security_groups: tuple[SecurityGroup, ...] = ()
    network_interfaces: tuple[NetworkInterface, ...] = ()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_describe(
        cls,
        vpcs: Any,
        subnets: Any = (),
        route_tables: Any = (),
        internet_gateways: Any = (),
        nat_gateways: Any = (),
        security_groups: Any = (),
        network_interfaces: Any = (),
        *,
        vpc_id: str | None = None,
    ) -> VpcSnapshot:
        """Build a snapshot from raw describe responses, without calling AWS.

        Each argument may be a whole response (``{"Subnets": [...]}``), a list of responses (one
        per page), or a plain list of items. Items of other VPCs are dropped, so unfiltered
        describe output works too. ``vpc_id`` picks the VPC when ``vpcs`` holds several.
        """
        vpc_items = _items(vpcs, "Vpcs")
        if vpc_id is None:
            if len(vpc_items) != 1:
                ids = ", ".join(sorted(str(v.get("VpcId")) for v in vpc_items)) or "none"
                raise LabError(
                    f"Expected exactly one VPC in the describe_vpcs data, found {ids}.",
                    "Pass vpc_id='vpc-...' to say which VPC to picture.",
                )
            raw_vpc = vpc_items[0]
        else:
            matching = [v for v in vpc_items if v.get("VpcId") == vpc_id]
            if not matching:
                known = ", ".join(sorted(str(v.get("VpcId")) for v in vpc_items)) or "none"
                raise LabError(
                    f"VPC {vpc_id} is not in the describe_vpcs data (it holds: {known}).",
                    "Pass the VpcId of one of those VPCs, or describe the VPC you meant.",
                )
            raw_vpc = matching[0]
        vpc = _parse_vpc(raw_vpc)

        def mine(item: Mapping[str, Any]) -> bool:
            # Items without a VpcId (hand-built dicts) are taken as belonging to this VPC.
            return item.get("VpcId", vpc.id) == vpc.id

        subnet_objs = sorted(
            (_parse_subnet(s) for s in _items(subnets, "Subnets") if mine(s)),
            key=lambda s: (s.az, s.network.network_address, s.network.prefixlen, s.id),
        )
        rt_objs = sorted(
            (_parse_route_table(r) for r in _items(route_tables, "RouteTables") if mine(r)),
            key=lambda r: r.id,
        )
        igw_objs = sorted(
            (
                igw
                for raw in _items(internet_gateways, "InternetGateways")
                if (igw := _parse_igw(raw, vpc.id)) is not None
            ),
            key=lambda g: g.id,
        )
        nat_objs = sorted(
            (_parse_nat(n) for n in _items(nat_gateways, "NatGateways") if mine(n)),
            key=lambda n: n.id,
        )
        sg_objs = sorted(
            (_parse_sg(g) for g in _items(security_groups, "SecurityGroups") if mine(g)),
            key=lambda g: g.id,
        )
        eni_objs = sorted(
            (_parse_eni(e) for e in _items(network_interfaces, "NetworkInterfaces") if mine(e)),
            key=lambda e: e.id,
        )
        # Name route targets and security-group peers now, so that a route table or a group read on
        # its own (as explain_route and the route explorer do) still speaks in names.
        titles: dict[str, tuple[str, str]] = {}
        for igw in igw_objs:
            titles[igw.id] = (igw.name, igw.title)
        for nat in nat_objs:
            titles[nat.id] = (nat.name, nat.title)
        for eni in eni_objs:
            titles[eni.id] = ("", eni.title)
        rt_objs = [_name_routes(rt, titles) for rt in rt_objs]
        group_names = {g.id: g.name for g in sg_objs}
        sg_objs = [_name_peers(g, group_names) for g in sg_objs]
        return cls(
            vpc=vpc,
            subnets=tuple(subnet_objs),
            route_tables=tuple(rt_objs),
            internet_gateways=tuple(igw_objs),
            nat_gateways=tuple(nat_objs),
            security_groups=tuple(sg_objs),
            network_interfaces=tuple(eni_objs),
        )

    # ------------------------------------------------------------------ look-ups
    def subnet(self, key: str | Subnet) -> Subnet:
        """The subnet whose id or Name tag is ``key`` (a :class:`Subnet` is returned as is)."""
        if isinstance(key, Subnet):
            return key
        if not isinstance(key, str) or not key.strip():
            raise LabError(
                f"A subnet must be given by its id or Name tag, not {key!r}.",
                f"Use one of: {self._subnet_names()}.",
            )
        key = key.strip()
        for s in self.subnets:
            if key in (s.id, s.name):
                return s
        for s in self.subnets:
            # An unnamed subnet is listed as "subnet 10.0.3.0/24": that (or the bare CIDR) finds it.
            if key in (s.cidr, s.label):
                return s
        raise LabError(
            f"There is no subnet called {key!r} in {self.vpc.label}.",
            f"Use one of the subnets it has: {self._subnet_names()} (or take a new snapshot if you just created it).",
        )

    def _subnet_names(self) -> str:
        if not self.subnets:
            return "none yet - create a subnet first"
        return ", ".join(s.label for s in self.subnets)

    def subnet_for_ip(self, ip: str) -> Subnet | None:
        """The subnet whose CIDR contains ``ip``, or ``None``."""
        address = ipaddress.ip_address(ip)
        for s in self.subnets:
            if address in s.network:
                return s
        return None

    def route_table(self, key: str) -> RouteTable:
        """The route table whose id or Name tag is ``key``."""
        for rt in self.route_tables:
            if key in (rt.id, rt.name):
                return rt
        known = ", ".join(rt.label for rt in self.route_tables) or "none"
        raise LabError(
            f"There is no route table called {key!r} in {self.vpc.label}.",
            f"Use one of: {known}.",
        )

    @property
    def main_route_table(self) -> RouteTable | None:
        """The VPC's main route table (every VPC has exactly one)."""
        for rt in self.route_tables:
            if rt.main:
                return rt
        return None

    def security_group(self, key: str) -> SecurityGroup:
        """The security group whose id or group name is ``key``."""
        if isinstance(key, str):
            for g in self.security_groups:
                if key.strip() in (g.id, g.name):
                    return g
        known = ", ".join(g.label for g in self.security_groups) or "none"
        raise LabError(
            f"There is no security group called {key!r} in {self.vpc.label}.",
            f"Use the id or name of one of: {known}.",
        )

    def internet_gateway(self, igw_id: str) -> InternetGateway | None:
        """The attached internet gateway with this id, or ``None`` if it is not attached here."""
        for g in self.internet_gateways:
            if g.id == igw_id:
                return g
        return None

    def nat_gateway(self, nat_id: str) -> NatGateway | None:
        """The NAT gateway with this id, or ``None``."""
        for n in self.nat_gateways:
            if n.id == nat_id:
                return n
        return None

    def interface_for_ip(self, ip: str) -> NetworkInterface | None:
        """The ENI whose private (or public) IP is ``ip``, or ``None``."""
        for e in self.network_interfaces:
            if ip in (e.private_ip, e.public_ip):
                return e
        return None

    @property
    def azs(self) -> tuple[str, ...]:
        """The Availability Zones that hold at least one subnet, sorted."""
        return tuple(sorted({s.az for s in self.subnets}))

    def summary(self) -> str:
        """A one-line inventory, e.g. ``"my-vpc 10.0.0.0/20: 4 subnets in 2 AZs, 1 IGW, ..."``."""
        live_nats = [n for n in self.nat_gateways if n.state not in ("deleted", "deleting")]
        parts = [
            _count(len(self.subnets), "subnet") + f" in {_count(len(self.azs), 'AZ')}",
            _count(len(self.internet_gateways), "IGW"),
            _count(len(live_nats), "NAT gateway"),
            _count(len(self.route_tables), "route table"),
            _count(len(self.security_groups), "security group"),
        ]
        head = f"{self.vpc.name} {', '.join(self.vpc.cidrs)}" if self.vpc.name else f"VPC {', '.join(self.vpc.cidrs)}"
        return f"{head}: " + ", ".join(parts)

    # ------------------------------------------------------------------ readable text
    def names(self) -> dict[str, str]:
        """Every resource id of the snapshot mapped to how that resource reads (its ``label``)."""
        out: dict[str, str] = {self.vpc.id: self.vpc.label}
        items: list[Any] = [
            *self.subnets,
            *self.route_tables,
            *self.internet_gateways,
            *self.nat_gateways,
            *self.security_groups,
            *self.network_interfaces,
        ]
        for item in items:
            if item.id:
                out[item.id] = item.label
        return out

    def readable(self, text: str) -> str:
        """``text`` with resource ids replaced by names, for text the lab did not write itself.

        An AWS error message or a describe dump names resources by id; this rewrites each id of
        this snapshot as the resource's ``label`` (``"my-app-lb-sg (sg-0ab...)"`` becomes
        ``"my-app-lb-sg"``), a NAT gateway's Elastic IP as ``the Elastic IP of <NAT gateway>``,
        and shortens any other id to its type (``igw-…``), because ids differ on every run and
        mean nothing to a reader. The lab's own explanations need none of this: they speak in
        names already.
        """
        names = self.names()
        for item_id, label in names.items():
            if label != item_id:
                # "name (id)" is how AWS and older lab text name a group: say the name once.
                text = text.replace(f"{label} ({item_id})", label)
        for nat in self.nat_gateways:
            if nat.public_ip:
                pattern = r"(?<![\d.])" + re.escape(nat.public_ip) + r"(?!\d|\.\d)"
                text = re.sub(pattern, f"the Elastic IP of {nat.title}", text)
        return _ID.sub(lambda m: names.get(m.group(0), m.group(1) + "-…"), text)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


# ---------------------------------------------------------------------- parsing helpers
def _items(value: Any, key: str) -> list[Mapping[str, Any]]:
    """Normalise a response, a list of page responses, or a list of items into a list of items."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        if key in value:
            return list(value[key] or [])
        # A single item given on its own.
        return [value]
    out: list[Mapping[str, Any]] = []
    for element in value:
        if isinstance(element, Mapping) and key in element:
            out.extend(element[key] or [])
        elif isinstance(element, Mapping):
            out.append(element)
        else:
            raise LabError(
                f"Expected describe data for {key} (dicts), got {type(element).__name__}.",
                f"Pass the describe response itself, e.g. ec2.describe_{_snake(key)}(...).",
            )
    return out


def _snake(key: str) -> str:
    out = "".join("_" + c.lower() if c.isupper() else c for c in key).lstrip("_")
    return out


def _name_routes(table: RouteTable, titles: Mapping[str, tuple[str, str]]) -> RouteTable:
    routes = tuple(
        replace(r, target_name=titles[r.target_id][0], target_title=titles[r.target_id][1])
        if r.target_id in titles
        else r
        for r in table.routes
    )
    return replace(table, routes=routes)


def _name_peers(group: SecurityGroup, names: Mapping[str, str]) -> SecurityGroup:
    def named(rules: tuple[SgRule, ...]) -> tuple[SgRule, ...]:
        return tuple(
            replace(r, peer_name=names[r.peer]) if r.peer_kind == "sg" and r.peer in names else r for r in rules
        )

    return replace(group, ingress=named(group.ingress), egress=named(group.egress))


def _parse_vpc(raw: Mapping[str, Any]) -> Vpc:
    cidrs: list[str] = []
    primary = raw.get("CidrBlock")
    if primary:
        cidrs.append(str(primary))
    for assoc in raw.get("CidrBlockAssociationSet") or []:
        state = (assoc.get("CidrBlockState") or {}).get("State", "associated")
        block = assoc.get("CidrBlock")
        if block and block not in cidrs and state in ("associated", "associating"):
            cidrs.append(str(block))
    return Vpc(id=str(raw.get("VpcId", "")), cidrs=tuple(cidrs), name=_name(raw))


def _parse_subnet(raw: Mapping[str, Any]) -> Subnet:
    cidr = str(raw.get("CidrBlock", ""))
    available = raw.get("AvailableIpAddressCount")
    if available is None:
        # Hand-built dicts may leave it out: a fresh subnet has size - 5 (AWS reserves 5).
        available = ipaddress.ip_network(cidr, strict=False).num_addresses - 5
    return Subnet(
        id=str(raw.get("SubnetId", "")),
        name=_name(raw),
        az=str(raw.get("AvailabilityZone", "")),
        cidr=cidr,
        available_ips=int(available),
        map_public_ip_on_launch=bool(raw.get("MapPublicIpOnLaunch", False)),
    )


def _parse_route(raw: Mapping[str, Any]) -> Route:
    destination = (
        raw.get("DestinationCidrBlock")
        or raw.get("DestinationIpv6CidrBlock")
        or raw.get("DestinationPrefixListId")
        or ""
    )
    target_id = ""
    for key in _TARGET_KEYS:
        if raw.get(key):
            target_id = str(raw[key])
            break
    return Route(
        destination=str(destination),
        target_kind=_target_kind(target_id),
        target_id=target_id,
        state=str(raw.get("State", "active")),
    )


def _target_kind(target_id: str) -> str:
    if target_id == "local":
        return "local"
    for prefix, kind in _TARGET_PREFIXES:
        if target_id.startswith(prefix):
            return kind
    return "unknown"


def _parse_route_table(raw: Mapping[str, Any]) -> RouteTable:
    main = False
    subnet_ids: list[str] = []
    for assoc in raw.get("Associations") or []:
        state = (assoc.get("AssociationState") or {}).get("State", "associated")
        if state not in ("associated", "associating"):
            continue
        if assoc.get("Main"):
            main = True
        if assoc.get("SubnetId"):
            subnet_ids.append(str(assoc["SubnetId"]))
    return RouteTable(
        id=str(raw.get("RouteTableId", "")),
        name=_name(raw),
        main=main,
        subnet_ids=tuple(sorted(subnet_ids)),
        routes=tuple(_parse_route(r) for r in raw.get("Routes") or []),
    )


def _parse_igw(raw: Mapping[str, Any], vpc_id: str) -> InternetGateway | None:
    attachments = raw.get("Attachments")
    if attachments is None:
        # Hand-built dicts may omit attachments: take them as attached to this VPC.
        return InternetGateway(id=str(raw.get("InternetGatewayId", "")), name=_name(raw))
    for att in attachments:
        if att.get("VpcId") == vpc_id and att.get("State", "available") in (
            "available",
            "attached",
            "attaching",
        ):
            return InternetGateway(
                id=str(raw.get("InternetGatewayId", "")),
                name=_name(raw),
                state=str(att.get("State", "available")),
            )
    return None


def _parse_nat(raw: Mapping[str, Any]) -> NatGateway:
    addresses = raw.get("NatGatewayAddresses") or [{}]
    first = addresses[0] if addresses else {}
    return NatGateway(
        id=str(raw.get("NatGatewayId", "")),
        subnet_id=str(raw.get("SubnetId", "")),
        state=str(raw.get("State", "available")),
        name=_name(raw),
        private_ip=str(first.get("PrivateIp", "")),
        public_ip=str(first.get("PublicIp", "")),
        connectivity=str(raw.get("ConnectivityType", "public")),
    )


def _normalise_protocol(value: Any) -> str:
    text = str(value if value is not None else "-1").strip().lower()
    return _PROTOCOL_NAMES.get(text, text)


def _parse_permissions(direction: str, permissions: Iterable[Mapping[str, Any]]) -> list[SgRule]:
    rules: list[SgRule] = []
    for perm in permissions:
        protocol = _normalise_protocol(perm.get("IpProtocol"))
        from_port: int | None = perm.get("FromPort")
        to_port: int | None = perm.get("ToPort")
        if protocol == "all" or from_port in (None, -1):
            # AWS uses -1 (or omits ports) to mean "every port" / "every ICMP type".
            from_port = to_port = None
        elif to_port in (None, -1):
            to_port = 65535 if protocol in ("tcp", "udp") else None
            if to_port is None:
                from_port = None
        peers: list[tuple[str, str, str]] = []
        for r in perm.get("IpRanges") or []:
            peers.append((str(r.get("CidrIp", "")), "cidr", str(r.get("Description", ""))))
        for r in perm.get("Ipv6Ranges") or []:
            peers.append((str(r.get("CidrIpv6", "")), "cidr", str(r.get("Description", ""))))
        for r in perm.get("UserIdGroupPairs") or []:
            peers.append((str(r.get("GroupId", "")), "sg", str(r.get("Description", ""))))
        for r in perm.get("PrefixListIds") or []:
            peers.append((str(r.get("PrefixListId", "")), "prefix-list", str(r.get("Description", ""))))
        for peer, kind, description in peers:
            rules.append(
                SgRule(
                    direction=direction,
                    protocol=protocol,
                    from_port=None if from_port is None else int(from_port),
                    to_port=None if to_port is None else int(to_port),
                    peer=peer,
                    peer_kind=kind,
                    description=description,
                )
            )
    return rules


def _parse_sg(raw: Mapping[str, Any]) -> SecurityGroup:
    return SecurityGroup(
        id=str(raw.get("GroupId", "")),
        name=str(raw.get("GroupName", "") or _name(raw)),
        description=str(raw.get("Description", "")),
        ingress=tuple(_parse_permissions("ingress", raw.get("IpPermissions") or [])),
        egress=tuple(_parse_permissions("egress", raw.get("IpPermissionsEgress") or [])),
    )


def _parse_eni(raw: Mapping[str, Any]) -> NetworkInterface:
    association = raw.get("Association") or {}
    return NetworkInterface(
        id=str(raw.get("NetworkInterfaceId", "")),
        subnet_id=str(raw.get("SubnetId", "")),
        private_ip=str(raw.get("PrivateIpAddress", "")),
        public_ip=str(association.get("PublicIp", "")),
        security_groups=tuple(str(g.get("GroupId", "")) for g in raw.get("Groups") or []),
        description=str(raw.get("Description", "")),
        interface_type=str(raw.get("InterfaceType", "interface")),
    )


# ---------------------------------------------------------------------- public builders
def snapshot_from_dicts(
    vpcs: Any,
    subnets: Any = (),
    route_tables: Any = (),
    internet_gateways: Any = (),
    nat_gateways: Any = (),
    security_groups: Any = (),
    network_interfaces: Any = (),
    *,
    vpc_id: str | None = None,
) -> VpcSnapshot:
    """Same as :meth:`VpcSnapshot.from_describe`: build a snapshot from describe-shaped dicts."""
    return VpcSnapshot.from_describe(
        vpcs,
        subnets,
        route_tables,
        internet_gateways,
        nat_gateways,
        security_groups,
        network_interfaces,
        vpc_id=vpc_id,
    )


def _describe_all(client: Any, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Run one describe call, through its paginator when botocore has one (real AWS pages)."""
    if client.can_paginate(operation):
        items: list[dict[str, Any]] = []
        for page in client.get_paginator(operation).paginate(**kwargs):
            items.extend(page.get(key) or [])
        return items
    return list(getattr(client, operation)(**kwargs).get(key) or [])


def snapshot(ec2_client: Any, vpc_id: str) -> VpcSnapshot:
    """Take a snapshot of VPC ``vpc_id`` with plain describe calls, all filtered by its id.

    Works against the offline lab region and against real AWS alike. AWS's own errors (for
    example ``InvalidVpcID.NotFound`` for a VPC that does not exist) come through as
    ``botocore.exceptions.ClientError``, because recognising those codes is part of the lesson.
    """
    if not isinstance(vpc_id, str) or not vpc_id.startswith("vpc-"):
        raise LabError(
            f"{vpc_id!r} is not a VPC id.",
            "Pass the VpcId string returned by create_vpc or describe_vpcs, e.g. 'vpc-0abc...'.",
        )
    by_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    vpcs = _describe_all(ec2_client, "describe_vpcs", "Vpcs", VpcIds=[vpc_id])
    subnets = _describe_all(ec2_client, "describe_subnets", "Subnets", Filters=by_vpc)
    route_tables = _describe_all(ec2_client, "describe_route_tables", "RouteTables", Filters=by_vpc)
    igws = _describe_all(
        ec2_client,
        "describe_internet_gateways",
        "InternetGateways",
        Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}],
    )
    # DescribeNatGateways spells its filter parameter "Filter", not "Filters".
    nats = _describe_all(ec2_client, "describe_nat_gateways", "NatGateways", Filter=by_vpc)
    sgs = _describe_all(ec2_client, "describe_security_groups", "SecurityGroups", Filters=by_vpc)
    enis = _describe_all(ec2_client, "describe_network_interfaces", "NetworkInterfaces", Filters=by_vpc)
    return VpcSnapshot.from_describe(vpcs, subnets, route_tables, igws, nats, sgs, enis, vpc_id=vpc_id)


# ---------------------------------------------------------------------- the workbook's sample VPC
def example_describe() -> dict[str, Any]:
    """Describe-shaped dicts of the workbook's lab network, for offline demos and tests.

    my-workspace-vpc 10.0.0.0/20 in us-west-2: public subnets 10.0.1.0/24 (2a) and 10.0.2.0/24
    (2b) on a route table sending 0.0.0.0/0 to the internet gateway; private subnets 10.0.0.0/24
    (2a) and 10.0.3.0/24 (2b) on a route table sending 0.0.0.0/0 to one NAT gateway in the public
    2a subnet; security groups ``my-app-lb-sg`` (HTTP 80 from anywhere, test port 9000 from one
    developer address) and ``my-app-sg`` (80 only from the load balancer's group); ENIs for the
    load balancer, one task and the NAT gateway. Public addresses come from the documentation
    ranges (RFC 5737), so nothing here names a real host. Returns fresh dicts on every call, keyed
    like the describe responses (``Vpcs``, ``Subnets``, ``RouteTables`` ...), ready for
    :func:`snapshot_from_describe_map` (or :func:`example_snapshot`, which does exactly that).
    """
    vpc = "vpc-0a1b2c3d4e5f60001"
    igw = "igw-0a1b2c3d4e5f60001"
    nat = "nat-0a1b2c3d4e5f60001"
    sub = {
        "private1-a": "subnet-0a1b2c3d4e5f60001",
        "public1-a": "subnet-0a1b2c3d4e5f60002",
        "public2-b": "subnet-0a1b2c3d4e5f60003",
        "private2-b": "subnet-0a1b2c3d4e5f60004",
    }
    sg_default, sg_lb, sg_app = (
        "sg-0a1b2c3d4e5f60001",
        "sg-0a1b2c3d4e5f60002",
        "sg-0a1b2c3d4e5f60003",
    )

    def name(value: str) -> list[dict[str, str]]:
        return [{"Key": "Name", "Value": value}]

    def subnet(key: str, cidr: str, az: str, used: int) -> dict[str, Any]:
        return {
            "SubnetId": sub[key],
            "VpcId": vpc,
            "CidrBlock": cidr,
            "AvailabilityZone": az,
            "AvailableIpAddressCount": 251 - used,
            "MapPublicIpOnLaunch": False,
            "Tags": name(f"my-workspace-subnet-app-{key}"),
        }

    local = {"DestinationCidrBlock": "10.0.0.0/20", "GatewayId": "local", "State": "active"}
    everything_out = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    return {
        "Vpcs": [
            {
                "VpcId": vpc,
                "CidrBlock": "10.0.0.0/20",
                "State": "available",
                "Tags": name("my-workspace-vpc"),
            }
        ],
        "Subnets": [
            subnet("private1-a", "10.0.0.0/24", "us-west-2a", 1),
            subnet("public1-a", "10.0.1.0/24", "us-west-2a", 2),
            subnet("public2-b", "10.0.2.0/24", "us-west-2b", 1),
            subnet("private2-b", "10.0.3.0/24", "us-west-2b", 0),
        ],
        "RouteTables": [
            {
                "RouteTableId": "rtb-0a1b2c3d4e5f60001",
                "VpcId": vpc,
                "Associations": [{"Main": True, "AssociationState": {"State": "associated"}}],
                "Routes": [dict(local)],
                "Tags": name("my-workspace-rtb-main"),
            },
            {
                "RouteTableId": "rtb-0a1b2c3d4e5f60002",
                "VpcId": vpc,
                "Associations": [
                    {"Main": False, "SubnetId": sub["public1-a"]},
                    {"Main": False, "SubnetId": sub["public2-b"]},
                ],
                # The default route is listed first on purpose: order never decides a route.
                "Routes": [
                    {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igw, "State": "active"},
                    dict(local),
                ],
                "Tags": name("my-workspace-rtb-public1-a"),
            },
            {
                "RouteTableId": "rtb-0a1b2c3d4e5f60003",
                "VpcId": vpc,
                "Associations": [
                    {"Main": False, "SubnetId": sub["private1-a"]},
                    {"Main": False, "SubnetId": sub["private2-b"]},
                ],
                "Routes": [
                    dict(local),
                    {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": nat, "State": "active"},
                ],
                "Tags": name("my-workspace-rtb-private1-a"),
            },
        ],
        "InternetGateways": [
            {
                "InternetGatewayId": igw,
                "Attachments": [{"VpcId": vpc, "State": "available"}],
                "Tags": name("my-workspace-igw"),
            }
        ],
        "NatGateways": [
            {
                "NatGatewayId": nat,
                "VpcId": vpc,
                "SubnetId": sub["public1-a"],
                "State": "available",
                "ConnectivityType": "public",
                "NatGatewayAddresses": [{"PrivateIp": "10.0.1.200", "PublicIp": "198.51.100.7"}],
                "Tags": name("my-workspace-nat-a"),
            }
        ],
        "SecurityGroups": [
            {
                "GroupId": sg_default,
                "GroupName": "default",
                "Description": "default VPC security group",
                "VpcId": vpc,
                "IpPermissions": [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": sg_default}]}],
                "IpPermissionsEgress": everything_out,
            },
            {
                "GroupId": sg_lb,
                "GroupName": "my-app-lb-sg",
                "Description": "load balancer: HTTP from anywhere, test port from the developer",
                "VpcId": vpc,
                "IpPermissions": [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 80,
                        "ToPort": 80,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                    },
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 9000,
                        "ToPort": 9000,
                        "IpRanges": [{"CidrIp": "203.0.113.25/32", "Description": "developer"}],
                    },
                ],
                "IpPermissionsEgress": everything_out,
            },
            {
                "GroupId": sg_app,
                "GroupName": "my-app-sg",
                "Description": "app tasks: HTTP only from the load balancer",
                "VpcId": vpc,
                "IpPermissions": [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 80,
                        "ToPort": 80,
                        "UserIdGroupPairs": [{"GroupId": sg_lb}],
                    }
                ],
                "IpPermissionsEgress": everything_out,
            },
        ],
        "NetworkInterfaces": [
            {
                "NetworkInterfaceId": "eni-0a1b2c3d4e5f60001",
                "VpcId": vpc,
                "SubnetId": sub["public1-a"],
                "PrivateIpAddress": "10.0.1.10",
                "Association": {"PublicIp": "198.51.100.10"},
                "Groups": [{"GroupId": sg_lb, "GroupName": "my-app-lb-sg"}],
                "Description": "ELB app/my-app-alb",
                "InterfaceType": "interface",
            },
            {
                "NetworkInterfaceId": "eni-0a1b2c3d4e5f60002",
                "VpcId": vpc,
                "SubnetId": sub["public2-b"],
                "PrivateIpAddress": "10.0.2.10",
                "Association": {"PublicIp": "198.51.100.11"},
                "Groups": [{"GroupId": sg_lb, "GroupName": "my-app-lb-sg"}],
                "Description": "ELB app/my-app-alb",
                "InterfaceType": "interface",
            },
            {
                "NetworkInterfaceId": "eni-0a1b2c3d4e5f60003",
                "VpcId": vpc,
                "SubnetId": sub["private1-a"],
                "PrivateIpAddress": "10.0.0.20",
                "Groups": [{"GroupId": sg_app, "GroupName": "my-app-sg"}],
                "Description": "arn:aws:ecs:us-west-2:123456789012:attachment/my-app-task",
                "InterfaceType": "interface",
            },
            {
                "NetworkInterfaceId": "eni-0a1b2c3d4e5f60004",
                "VpcId": vpc,
                "SubnetId": sub["public1-a"],
                "PrivateIpAddress": "10.0.1.200",
                "Association": {"PublicIp": "198.51.100.7"},
                "Groups": [],
                "Description": f"Interface for NAT Gateway {nat}",
                "InterfaceType": "nat_gateway",
            },
        ],
    }


def snapshot_from_describe_map(data: Mapping[str, Any], *, vpc_id: str | None = None) -> VpcSnapshot:
    """Build a snapshot from one dict keyed like the describe responses (``Vpcs``, ``Subnets``...).

    This is the shape :func:`example_describe` returns; missing keys count as empty.
    """
    return VpcSnapshot.from_describe(
        data.get("Vpcs", ()),
        data.get("Subnets", ()),
        data.get("RouteTables", ()),
        data.get("InternetGateways", ()),
        data.get("NatGateways", ()),
        data.get("SecurityGroups", ()),
        data.get("NetworkInterfaces", ()),
        vpc_id=vpc_id,
    )


def example_snapshot() -> VpcSnapshot:
    """The workbook's sample lab network (see :func:`example_describe`) as a snapshot."""
    return snapshot_from_describe_map(example_describe())
