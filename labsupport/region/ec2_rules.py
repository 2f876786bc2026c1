"""EC2 networking rules AWS enforces and moto skips.

Each rule below is one AWS rule, named in the first line of its docstring (that line is what
``GET /_lab/rules`` lists). A rule either refuses the request with the error code and message AWS
gives, or rewrites the request the way AWS silently does (a CIDR block with host bits set is stored
as its network address). Error texts are AWS's own where public API output shows them; where no
public source settles AWS's wording, the code is AWS's and the message is ours, and the comment
says so.

Rules must never crash on input they do not expect: a learner's typo should get AWS's error, not a
lab bug. Anything a rule cannot judge (a missing parameter, an unknown ID) is left to moto, which
answers with its own ``...NotFound``/``MissingParameter`` error. :func:`_ec2_rule` enforces this: an
unexpected exception inside a rule is logged to the region's log and the request goes on to moto.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from typing import Any

from .protocol import AwsError, AwsRequest
from .rules import Check, Context, rule

# -- helpers ----------------------------------------------------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _ec2_rule(*actions: str) -> Callable[[Check], Check]:
    """Register a rule of this service (``rules.rule`` logs a rule's own bugs instead of showing them)."""
    return rule("ec2", *actions)


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterValue", message)


def _ec2(ctx: Context) -> Any:
    return ctx.backend("ec2")


def _ipv4(text: Any) -> ipaddress.IPv4Network | None:
    """``text`` as an IPv4 network (host bits allowed), or None; a bare address is not a CIDR block."""
    if not isinstance(text, str) or "/" not in text:
        return None
    try:
        return ipaddress.IPv4Network(text.strip(), strict=False)
    except ValueError:
        return None


def _ipv6(text: Any) -> ipaddress.IPv6Network | None:
    if not isinstance(text, str) or "/" not in text:
        return None
    try:
        return ipaddress.IPv6Network(text.strip(), strict=False)
    except ValueError:
        return None


def _canonicalise(request: AwsRequest, key: str, network: Network | None) -> None:
    """Write ``network``'s canonical form back into ``key`` when the learner's text differs.

    AWS stores ``10.0.4.5/24`` as ``10.0.4.0/24`` without complaint; moto would store the text as
    given, and every later comparison (overlaps, route look-ups, describe output) would be wrong.
    """
    if network is not None and request.get(key) != str(network):
        request.set(key, str(network))


def _numbered(request: AwsRequest, prefix: str) -> list[str]:
    """Values of the EC2 list parameter ``Prefix.1``, ``Prefix.2`` ... in order."""
    found = []
    for key, value in request.params.items():
        head, _, number = key.rpartition(".")
        if head == prefix and number.isdigit():
            found.append((int(number), value))
    return [value for _, value in sorted(found)]


def _vpc_cidrs(vpc: Any) -> list[ipaddress.IPv4Network]:
    """The VPC's associated IPv4 CIDR blocks."""
    blocks = []
    for association in vpc.get_cidr_block_association_set(ipv6=False):
        network = _ipv4(association.get("cidr_block"))
        if network is not None:
            blocks.append(network)
    return blocks


def _subnets_of(backend: Any, vpc_id: str) -> list[Any]:
    return [subnet for subnet in backend.describe_subnets() if subnet.vpc_id == vpc_id]


_NAT_GONE = ("deleting", "deleted", "failed")


# -- 1. VPC CIDR blocks ------------------------------------------------------------------------------


@_ec2_rule("CreateVpc", "AssociateVpcCidrBlock")
def vpc_cidr_block(request: AwsRequest, ctx: Context) -> None:
    """A VPC IPv4 CIDR block is /16 to /28; host bits are cleared (10.0.0.1/16 is stored as 10.0.0.0/16)."""
    text = request.get("CidrBlock")
    if not text:
        return  # an IPv6 association, or the parameter is missing: moto answers
    network = _ipv4(text)
    if network is None:
        try:
            ipaddress.IPv4Address(str(text).strip())
        except ValueError:
            raise _invalid(
                f"Value ({text}) for parameter cidrBlock is invalid. This is not a valid CIDR block."
            ) from None
        # An address without a prefix length: AWS (and moto) call the range invalid.
        raise AwsError("InvalidVpc.Range", f"The CIDR '{text}' is invalid.")
    if not 16 <= network.prefixlen <= 28:
        raise AwsError("InvalidVpc.Range", f"The CIDR '{text}' is invalid.")
    _canonicalise(request, "CidrBlock", network)


@_ec2_rule("AssociateVpcCidrBlock")
def vpc_cidr_no_overlap(request: AwsRequest, ctx: Context) -> None:
    """A secondary VPC CIDR block must not overlap a CIDR block the VPC already has."""
    network = _ipv4(request.get("CidrBlock"))
    vpc = _ec2(ctx).vpcs.get(request.get("VpcId"))
    if network is None or vpc is None:
        return
    for existing in _vpc_cidrs(vpc):
        if existing.overlaps(network):
            # AWS's exact wording for this case is not public; the code is the one AWS uses for
            # VPC ranges it refuses.
            raise AwsError(
                "InvalidVpc.Range",
                f"The CIDR '{network}' overlaps with CIDR block {existing}, already associated with {vpc.id}. "
                "A VPC's CIDR blocks must not overlap.",
            )


# -- 2. Subnets --------------------------------------------------------------------------------------


@_ec2_rule("CreateSubnet")
def subnet_cidr_block(request: AwsRequest, ctx: Context) -> None:
    """A subnet IPv4 CIDR block is /16 to /28; host bits are cleared (10.0.4.5/24 is stored as 10.0.4.0/24)."""
    text = request.get("CidrBlock")
    network = _ipv4(text)
    if network is None:
        return  # missing or malformed: moto answers (InvalidParameterValue)
    if not 16 <= network.prefixlen <= 28:
        raise AwsError("InvalidSubnet.Range", f"The CIDR '{text}' is invalid.")
    _canonicalise(request, "CidrBlock", network)


def _region_zones(region: str) -> list[tuple[str, str]]:
    """(name, zone id) of the region's Availability Zones, as the region knows them."""
    from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend

    return sorted((zone.name, zone.zone_id) for zone in RegionsAndZonesBackend.zones.get(region, []))


@_ec2_rule("CreateSubnet")
def subnet_zone_in_region(request: AwsRequest, ctx: Context) -> None:
    """A subnet's Availability Zone (name or zone ID) must be one of the request's region."""
    zones = _region_zones(ctx.region)
    if not zones:
        return
    names = [name for name, _ in zones]
    ids = sorted(zone_id for _, zone_id in zones)
    name = request.get("AvailabilityZone")
    zone_id = request.get("AvailabilityZoneId")
    # moto checks against every region's zones, so us-east-1a was accepted in us-west-2.
    if name and name not in names:
        raise _invalid(
            f"Value ({name}) for parameter availabilityZone is invalid. "
            f"Subnets can currently only be created in the following availability zones: {', '.join(names)}."
        )
    if zone_id and zone_id not in ids:
        raise _invalid(
            f"Value ({zone_id}) for parameter availabilityZoneId is invalid. "
            f"Subnets can currently only be created in the following availability zones: {', '.join(ids)}."
        )
    if zone_id and not name:
        # moto files a subnet created by zone ID under no zone name and marks it DefaultForAz with
        # MapPublicIpOnLaunch; passing the zone's name instead gives the subnet AWS's attributes.
        request.params.pop("AvailabilityZoneId", None)
        request.set("AvailabilityZone", dict((zid, zname) for zname, zid in zones)[zone_id])


@_ec2_rule("DeleteSubnet")
def subnet_delete_dependencies(request: AwsRequest, ctx: Context) -> None:
    """A subnet that still holds a NAT gateway cannot be deleted (DependencyViolation)."""
    subnet_id = request.get("SubnetId")
    if not subnet_id:
        return
    for nat in _ec2(ctx).nat_gateways.values():
        if nat.subnet_id == subnet_id and nat.state not in _NAT_GONE:
            raise AwsError("DependencyViolation", f"The subnet '{subnet_id}' has dependencies and cannot be deleted.")


# -- 3. Internet gateways ----------------------------------------------------------------------------


@_ec2_rule("AttachInternetGateway")
def one_internet_gateway_per_vpc(request: AwsRequest, ctx: Context) -> None:
    """A VPC can have only one internet gateway attached."""
    backend = _ec2(ctx)
    igw = backend.internet_gateways.get(request.get("InternetGatewayId"))
    vpc_id = request.get("VpcId")
    if igw is None or igw.vpc is not None or not vpc_id:
        return  # unknown IGW, or this IGW already attached somewhere: moto's own errors
    for other in backend.internet_gateways.values():
        if other.vpc is not None and other.vpc.id == vpc_id:
            raise AwsError(
                "Resource.AlreadyAssociated", f"resource {vpc_id} is already attached to network gateway {other.id}"
            )


# -- 4. Routes ---------------------------------------------------------------------------------------

# Route targets that are gateways out of the VPC. A route to (part of) the VPC's own range can
# never point at one of these: that traffic always stays inside the VPC.
_GATEWAY_TARGETS = (
    "GatewayId",
    "TransitGatewayId",
    "VpcPeeringConnectionId",
    "EgressOnlyInternetGatewayId",
    "CarrierGatewayId",
    "LocalGatewayId",
    "CoreNetworkArn",
)
_GATEWAY_PREFIXES = ("igw-", "vgw-", "vpce-")


def _inside_vpc_message(destination: ipaddress.IPv4Network) -> AwsError:
    return _invalid(
        f"The destination CIDR block {destination} is equal to or more specific than one of this VPC's "
        "CIDR blocks. This route can target only an interface or an instance."
    )


@_ec2_rule("CreateRoute", "ReplaceRoute")
def route_destination(request: AwsRequest, ctx: Context) -> None:
    """Routes to (part of) the VPC's own range can't target a gateway, and the local route can't be overwritten."""
    text = request.get("DestinationCidrBlock")
    destination = _ipv4(text)
    if destination is None:
        return  # IPv6 or prefix-list destination, or malformed: moto answers
    _canonicalise(request, "DestinationCidrBlock", destination)
    backend = _ec2(ctx)
    table = backend.route_tables.get(request.get("RouteTableId"))
    vpc = backend.vpcs.get(table.vpc_id) if table is not None else None
    if vpc is None:
        return
    if not any(destination.subnet_of(block) for block in _vpc_cidrs(vpc)):
        return
    local = {str(_ipv4(route.destination_cidr_block)) for route in table.routes if route.local}
    endpoint = str(request.get("GatewayId") or "").startswith("vpce-")
    to_gateway = not endpoint and any(request.get(key) for key in _GATEWAY_TARGETS)
    # NAT gateways and Gateway Load Balancer endpoints are the middlebox targets: AWS lets them take
    # traffic for a whole subnet of the VPC, never for the VPC's own (local) range.
    to_middlebox = endpoint or bool(request.get("NatGatewayId"))
    if to_gateway:
        raise _inside_vpc_message(destination)
    if str(destination) in local:
        if to_middlebox:
            raise _inside_vpc_message(destination)
        if request.action == "CreateRoute":
            # moto would replace the local route with this one; AWS keeps it and refuses.
            raise AwsError("RouteAlreadyExists", f"The route identified by {destination} already exists")
        return
    if to_middlebox and str(destination) not in {str(subnet.cidr) for subnet in _subnets_of(backend, vpc.id)}:
        # ... and never for an arbitrary part of the VPC's range.
        raise _inside_vpc_message(destination)


@_ec2_rule("CreateRoute", "ReplaceRoute")
def route_target_in_vpc(request: AwsRequest, ctx: Context) -> None:
    """A route's internet gateway must be attached to, and its NAT gateway inside, the route table's VPC."""
    backend = _ec2(ctx)
    table = backend.route_tables.get(request.get("RouteTableId"))
    if table is None:
        return
    gateway_id = request.get("GatewayId")
    if gateway_id and gateway_id != "local" and not gateway_id.startswith(_GATEWAY_PREFIXES):
        # A NAT gateway ID in GatewayId is a classic slip; moto would store a route with no target.
        raise _invalid(f"invalid value for parameter gateway-id: {gateway_id}")
    if gateway_id and gateway_id.startswith("igw-"):
        igw = backend.internet_gateways.get(gateway_id)
        if igw is not None and (igw.vpc is None or igw.vpc.id != table.vpc_id):
            raise _invalid(f"route table {table.id} and network gateway {gateway_id} belong to different networks")
    nat_id = request.get("NatGatewayId")
    if nat_id:
        nat = backend.nat_gateways.get(nat_id)
        if nat is None:
            # moto would silently store a route without a target.
            raise AwsError("InvalidNatGatewayID.NotFound", f"The natGateway ID '{nat_id}' does not exist")
        if nat.vpc_id != table.vpc_id:
            raise _invalid(f"route table {table.id} and network gateway {nat_id} belong to different networks")


@_ec2_rule("DeleteRoute")
def local_route_is_permanent(request: AwsRequest, ctx: Context) -> None:
    """The local route of a route table cannot be deleted."""
    destination = _ipv4(request.get("DestinationCidrBlock"))
    if destination is None:
        return
    _canonicalise(request, "DestinationCidrBlock", destination)
    table = _ec2(ctx).route_tables.get(request.get("RouteTableId"))
    if table is None:
        return
    for route in table.routes:
        if route.local and str(_ipv4(route.destination_cidr_block)) == str(destination):
            raise _invalid(f"cannot remove local route {destination} in route table {table.id}")


# -- 5. Route table associations ---------------------------------------------------------------------


@_ec2_rule("AssociateRouteTable")
def one_route_table_per_subnet(request: AwsRequest, ctx: Context) -> None:
    """A subnet has one explicit route table association, with a route table of its own VPC."""
    subnet_id = request.get("SubnetId")
    backend = _ec2(ctx)
    table = backend.route_tables.get(request.get("RouteTableId"))
    if not subnet_id or table is None:
        return
    try:
        subnet = backend.get_subnet(subnet_id)
    except Exception:
        return  # unknown subnet: moto answers InvalidSubnetID.NotFound
    if subnet.vpc_id != table.vpc_id:
        raise _invalid(f"Route table {table.id} and subnet {subnet_id} belong to different networks")
    for other in backend.route_tables.values():
        if subnet_id in other._associations.values():
            # moto returns a fresh association ID here but leaves the subnet on its old table.
            raise AwsError(
                "Resource.AlreadyAssociated",
                f"the specified association for route table {table.id} conflicts with an existing association",
            )


# -- 6. Security groups ------------------------------------------------------------------------------


@_ec2_rule("CreateSecurityGroup")
def security_group_name(request: AwsRequest, ctx: Context) -> None:
    """A security group needs a name and a description: ASCII, at most 255 characters, the name not sg-*."""
    name = request.get("GroupName")
    description = request.get("GroupDescription")
    if name is None or name == "":
        raise AwsError("MissingParameter", "The request must contain the parameter GroupName")
    if description is None or description == "":
        raise AwsError("MissingParameter", "The request must contain the parameter GroupDescription")
    if name.lower().startswith("sg-"):
        raise _invalid(f"Value ({name}) for parameter GroupName is invalid. Group names may not be in the format sg-*.")
    for parameter, value in (("GroupName", name), ("GroupDescription", description)):
        if not value.isascii():
            # Learners writing in Japanese or Korean meet this one on AWS: descriptions are ASCII only.
            raise _invalid(
                f"Value ({value}) for parameter {parameter} is invalid. Character sets beyond ASCII are not supported."
            )
        if len(value) > 255:
            # AWS's wording for over-long values is not public; the code is AWS's.
            raise _invalid(
                f"Value ({value[:40]}...) for parameter {parameter} is invalid. "
                f"It is {len(value)} characters long; the maximum is 255."
            )


# -- 7. Security group rules -------------------------------------------------------------------------

_PROTOCOL_NAMES = {"tcp": "tcp", "udp": "udp", "icmp": "icmp", "icmpv6": "icmpv6", "-1": "-1"}
_PROTOCOL_NUMBERS = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6"}
_CIDR_KEY = re.compile(r"^(?:IpRanges\.\d+\.CidrIp|CidrIp)$")
_CIDR6_KEY = re.compile(r"^(?:Ipv6Ranges\.\d+\.CidrIpv6|CidrIpv6)$")


def _permissions(request: AwsRequest) -> Iterator[tuple[str, dict[str, str]]]:
    """(parameter prefix, fields) of every permission in the request, flat or legacy form."""
    numbers: set[int] = set()
    for key in request.params:
        parts = key.split(".")
        if len(parts) > 2 and parts[0] == "IpPermissions" and parts[1].isdigit():
            numbers.add(int(parts[1]))
    for number in sorted(numbers):
        prefix = f"IpPermissions.{number}."
        yield prefix, {key[len(prefix) :]: value for key, value in request.params.items() if key.startswith(prefix)}
    if not numbers and "IpProtocol" in request.params:
        # The legacy top-level form (IpProtocol/FromPort/ToPort/CidrIp), as the AWS CLI's
        # --protocol/--port/--cidr options send it.
        legacy = ("IpProtocol", "FromPort", "ToPort", "CidrIp", "CidrIpv6")
        yield "", {key: request.params[key] for key in legacy if key in request.params}


def _protocol(raw: str) -> str:
    """The canonical protocol for ``raw`` (tcp, udp, icmp, icmpv6, -1 or a number), or AWS's error."""
    text = str(raw).strip().lower()
    if text in _PROTOCOL_NAMES:
        return _PROTOCOL_NAMES[text]
    if re.fullmatch(r"\d{1,3}", text) and 0 <= int(text) <= 255:
        return _PROTOCOL_NUMBERS.get(int(text), str(int(text)))
    # AWS refuses "all" too (only -1 means every protocol), although moto and some docs accept it.
    raise _invalid(f"Invalid value '{raw}' for IP protocol. Unknown protocol.")


def _port(raw: str) -> int:
    try:
        return int(str(raw).strip())
    except ValueError:
        raise _invalid(f"Invalid value '{raw}' for portRange. Ports must be whole numbers.") from None


def _check_ports(request: AwsRequest, prefix: str, fields: dict[str, str], protocol: str) -> None:
    raw_from, raw_to = fields.get("FromPort"), fields.get("ToPort")
    if protocol in ("tcp", "udp"):
        if raw_from is None or raw_to is None:
            raise _invalid("Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange.")
        low, high = _port(raw_from), _port(raw_to)
        for label, port in (("from", low), ("to", high)):
            if not 0 <= port <= 65535:
                raise _invalid(f"TCP/UDP ({label}) port ({port}) out of range")
        if low > high:
            # No public source shows AWS's wording for a reversed range; the code is AWS's.
            raise _invalid(f"Invalid TCP/UDP port range ({low}-{high}): FromPort must not be greater than ToPort.")
    elif protocol in ("icmp", "icmpv6"):
        if raw_from is None or raw_to is None:
            if protocol == "icmp":
                raise _invalid("Invalid value 'Must specify both from and to ports with ICMP.' for portRange.")
            # ICMPv6 without type and code means every type and code; moto needs numbers there.
            request.set(prefix + "FromPort", "-1")
            request.set(prefix + "ToPort", "-1")
            return
        icmp_type, icmp_code = _port(raw_from), _port(raw_to)
        if not -1 <= icmp_type <= 255:
            raise _invalid(f"ICMP type ({icmp_type}) out of range")
        if not -1 <= icmp_code <= 255:
            raise _invalid(f"ICMP code ({icmp_code}) out of range")
    elif protocol != "-1" and (raw_from is None or raw_to is None):
        # Any other protocol number carries no ports on AWS (all traffic of that protocol).
        # moto needs numbers there and would crash without them.
        request.set(prefix + "FromPort", "-1")
        request.set(prefix + "ToPort", "-1")


@_ec2_rule(
    "AuthorizeSecurityGroupIngress",
    "AuthorizeSecurityGroupEgress",
    "RevokeSecurityGroupIngress",
    "RevokeSecurityGroupEgress",
)
def security_group_rule_values(request: AwsRequest, ctx: Context) -> None:
    """A rule's protocol is tcp, udp, icmp, icmpv6, -1 or 0-255; TCP/UDP ports 0-65535, from <= to; CIDRs valid."""
    for prefix, fields in _permissions(request):
        if fields.get("IpProtocol") is not None:
            protocol = _protocol(fields["IpProtocol"])
            _check_ports(request, prefix, fields, protocol)
        for key, value in fields.items():
            if _CIDR_KEY.match(key):
                network: Network | None = _ipv4(value)
            elif _CIDR6_KEY.match(key):
                network = _ipv6(value)
            else:
                continue
            if network is None:
                raise _invalid(f"CIDR block {value} is malformed")
            # Canonicalising also makes a revoke of 10.0.1.7/24 find the rule stored as 10.0.1.0/24.
            _canonicalise(request, prefix + key, network)


# -- Look-ups whose moto errors read unlike AWS's ----------------------------------------------------


def _not_found(code: str, kind: str, missing: list[str]) -> AwsError:
    if len(missing) == 1:
        return AwsError(code, f"The {kind} ID '{missing[0]}' does not exist")
    return AwsError(code, f"The {kind} IDs '{', '.join(missing)}' do not exist")


@_ec2_rule("DescribeVpcs")
def describe_known_vpcs(request: AwsRequest, ctx: Context) -> None:
    """Describing a VPC ID that does not exist is InvalidVpcID.NotFound."""
    vpcs = _ec2(ctx).vpcs
    missing = [vpc_id for vpc_id in _numbered(request, "VpcId") if vpc_id not in vpcs]
    if missing:
        raise _not_found("InvalidVpcID.NotFound", "vpc", missing)


@_ec2_rule("DescribeInternetGateways")
def describe_known_internet_gateways(request: AwsRequest, ctx: Context) -> None:
    """Describing an internet gateway ID that does not exist is InvalidInternetGatewayID.NotFound."""
    gateways = _ec2(ctx).internet_gateways
    missing = [igw for igw in _numbered(request, "InternetGatewayId") if igw not in gateways]
    if missing:
        raise _not_found("InvalidInternetGatewayID.NotFound", "internetGateway", missing)


@_ec2_rule("DescribeSecurityGroups")
def describe_known_security_groups(request: AwsRequest, ctx: Context) -> None:
    """Describing a security group ID that does not exist is InvalidGroup.NotFound."""
    backend = _ec2(ctx)
    for group_id in _numbered(request, "GroupId"):
        if backend.get_security_group_from_id(group_id) is None:
            raise AwsError("InvalidGroup.NotFound", f"The security group '{group_id}' does not exist")


@_ec2_rule(
    "DescribeSecurityGroups",
    "DeleteSecurityGroup",
    "AuthorizeSecurityGroupIngress",
    "RevokeSecurityGroupIngress",
)
def group_names_mean_the_default_vpc(request: AwsRequest, ctx: Context) -> None:
    """A security group named by GroupName (not GroupId) is looked up in the default VPC only."""
    names = _numbered(request, "GroupName") if request.action == "DescribeSecurityGroups" else []
    if request.action != "DescribeSecurityGroups" and request.get("GroupName") and not request.get("GroupId"):
        names = [request.get("GroupName")]
    if not names:
        return
    backend = _ec2(ctx)
    default_vpc = next((vpc for vpc in backend.vpcs.values() if vpc.is_default), None)
    if default_vpc is None:
        return
    for name in names:
        if backend.get_security_group_from_name(name, vpc_id=default_vpc.id) is None:
            # moto searched every VPC, so code that works offline failed on AWS for groups of the
            # learner's own VPC: those must be named by GroupId.
            raise AwsError(
                "InvalidGroup.NotFound", f"The security group '{name}' does not exist in default VPC '{default_vpc.id}'"
            )


@_ec2_rule("DeleteSecurityGroup")
def default_security_group_is_permanent(request: AwsRequest, ctx: Context) -> None:
    """A VPC's default security group cannot be deleted (CannotDelete)."""
    backend = _ec2(ctx)
    group_id = request.get("GroupId")
    name = request.get("GroupName")
    group = None
    if group_id:
        group = backend.get_security_group_from_id(group_id)
    elif name:
        # A GroupName means a group of the default VPC (group_names_mean_the_default_vpc).
        default_vpc = next((vpc for vpc in backend.vpcs.values() if vpc.is_default), None)
        if default_vpc is not None:
            group = backend.get_security_group_from_name(name, vpc_id=default_vpc.id)
    if group is None or group.name != "default":
        return  # unknown groups get moto's InvalidGroup.NotFound; other groups may be deleted
    # AWS's own wording (VPC User Guide, "Default security groups"); moto deleted the group, and a
    # VPC without its default group breaks every later "default group applies" lesson.
    raise AwsError("CannotDelete", f'the specified group: "{group.id}" name: "default" cannot be deleted by a user')


@_ec2_rule("DescribeNatGateways")
def describe_known_nat_gateways(request: AwsRequest, ctx: Context) -> None:
    """Describing a NAT gateway ID that does not exist is NatGatewayNotFound."""
    nats = _ec2(ctx).nat_gateways
    for nat_id in _numbered(request, "NatGatewayId"):
        if nat_id not in nats:
            raise AwsError("NatGatewayNotFound", f"NAT gateway {nat_id} was not found")


@_ec2_rule("DeleteNatGateway")
def delete_known_nat_gateway(request: AwsRequest, ctx: Context) -> None:
    """Deleting a NAT gateway ID that does not exist is NatGatewayNotFound."""
    nat_id = request.get("NatGatewayId")
    if nat_id and nat_id not in _ec2(ctx).nat_gateways:
        # moto crashes here (AttributeError on None).
        raise AwsError("NatGatewayNotFound", f"NAT gateway {nat_id} was not found")


@_ec2_rule("CreateNatGateway")
def nat_gateway_allocation(request: AwsRequest, ctx: Context) -> None:
    """A public NAT gateway's Elastic IP allocation must exist."""
    allocation_id = request.get("AllocationId")
    if not allocation_id or str(request.get("ConnectivityType", "public")).lower() == "private":
        return
    backend = _ec2(ctx)
    if not any(address.allocation_id == allocation_id for address in backend.addresses):
        # moto: "Allocation ID '['eipalloc-…']' not found." (a Python list in the message).
        raise AwsError("InvalidAllocationID.NotFound", f"The allocation ID '{allocation_id}' does not exist")


# -- Addresses inside subnets ------------------------------------------------------------------------


@_ec2_rule("CreateNatGateway", "CreateNetworkInterface")
def subnet_has_free_address(request: AwsRequest, ctx: Context) -> None:
    """A NAT gateway or network interface needs a free address in its subnet (5 per subnet are reserved)."""
    from .ipam import next_free_address

    subnet_id = request.get("SubnetId")
    if not subnet_id or request.get("PrivateIpAddress"):
        return  # an explicit address is judged by subnet_private_address
    backend = _ec2(ctx)
    try:
        subnet = backend.get_subnet(subnet_id)
    except Exception:
        return  # unknown subnet: moto answers InvalidSubnetID.NotFound
    if next_free_address(backend, subnet) is None:
        raise AwsError(
            "InsufficientFreeAddressesInSubnet",
            f"There are not enough free addresses in subnet '{subnet_id}' to satisfy the requested number of "
            "instances.",
        )


@_ec2_rule("CreateNetworkInterface")
def subnet_private_address(request: AwsRequest, ctx: Context) -> None:
    """An explicit private IP must lie in the subnet, outside its 5 reserved addresses, and be free."""
    from .ipam import addresses_in_use

    text = request.get("PrivateIpAddress")
    subnet_id = request.get("SubnetId")
    if not text or not subnet_id:
        return
    backend = _ec2(ctx)
    try:
        subnet = backend.get_subnet(subnet_id)
        address = ipaddress.ip_address(str(text).strip())
    except Exception:
        return  # unknown subnet or not an address: moto answers
    network = subnet.cidr
    if address not in network:
        raise _invalid(f"Address {address} does not fall within the subnet's address range")
    offset = int(address) - int(network.network_address)
    if offset < 4 or address == network.broadcast_address:
        raise _invalid(f"Address {address} is in subnet's reserved address range")
    if str(address) in addresses_in_use(backend, subnet):
        raise AwsError("InvalidIPAddress.InUse", f"Address {address} is in use.")
