"""Idempotent builders for the lab's network, and its clean-up.

Each ``ensure_*`` function looks for the resource by its ``Name`` tag *and* the lab's ownership tag,
and creates it only if it is missing; running a cell twice therefore never makes a second VPC.
The same pattern is what notebooks show in the open::

    vpc = network.find(ec2, "vpc", "my-workspace-vpc", lab) or ec2.create_vpc(...)["Vpc"]

Only boto3 calls are used, so everything here works against real AWS too.
:func:`teardown` deletes, in dependency order, only what carries the lab's ownership tag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import LabError
from .lab import Lab

# describe call, response key, and id field per kind of EC2 resource the lab builds
_KINDS: dict[str, tuple[str, str, str]] = {
    "vpc": ("describe_vpcs", "Vpcs", "VpcId"),
    "subnet": ("describe_subnets", "Subnets", "SubnetId"),
    "internet-gateway": ("describe_internet_gateways", "InternetGateways", "InternetGatewayId"),
    "route-table": ("describe_route_tables", "RouteTables", "RouteTableId"),
    "natgateway": ("describe_nat_gateways", "NatGateways", "NatGatewayId"),
    "security-group": ("describe_security_groups", "SecurityGroups", "GroupId"),
    "elastic-ip": ("describe_addresses", "Addresses", "AllocationId"),
}


def _owned_filters(lab: Lab, name: str | None = None) -> list[dict[str, Any]]:
    filters = [{"Name": f"tag:{lab.config.tag_key}", "Values": [lab.config.tag_value]}]
    if name is not None:
        filters.append({"Name": "tag:Name", "Values": [name]})
    return filters


def find_all(ec2: Any, kind: str, lab: Lab, name: str | None = None) -> list[dict[str, Any]]:
    """Every lab-owned resource of ``kind`` (optionally with this Name), live ones only."""
    if kind not in _KINDS:
        raise LabError(f"Unknown resource kind {kind!r}.", f"use one of: {', '.join(_KINDS)}.")
    call, key, _ = _KINDS[kind]
    filters = _owned_filters(lab, name)
    if kind == "natgateway":
        # NAT gateways stay visible for a while after deletion; only live ones count.
        filters.append({"Name": "state", "Values": ["pending", "available"]})
        response = ec2.describe_nat_gateways(Filters=filters)
    else:
        response = getattr(ec2, call)(Filters=filters)
    return list(response[key])


def find(ec2: Any, kind: str, name: str, lab: Lab) -> dict[str, Any] | None:
    """The lab-owned resource of ``kind`` called ``name``, or None."""
    found = find_all(ec2, kind, lab, name)
    return found[0] if found else None


def name_of(resource: dict[str, Any]) -> str:
    for tag in resource.get("Tags", []):
        if tag["Key"] == "Name":
            return str(tag["Value"])
    return ""


@dataclass
class Network:
    """What the lab's network builders made (or found): ids by name."""

    vpc_id: str = ""
    subnets: dict[str, str] = field(default_factory=dict)
    internet_gateway_id: str = ""
    nat_gateway_id: str = ""
    route_tables: dict[str, str] = field(default_factory=dict)
    security_groups: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        """Names only (ids differ between runs), so a notebook's output stays the same."""
        parts = [f"VPC ok, {len(self.subnets)} subnets"]
        if self.internet_gateway_id:
            parts.append("internet gateway attached")
        if self.nat_gateway_id:
            parts.append("NAT gateway")
        if self.route_tables:
            parts.append(f"{len(self.route_tables)} route tables")
        if self.security_groups:
            parts.append(f"security groups {', '.join(sorted(self.security_groups))}")
        return ", ".join(parts)


def ensure_vpc(lab: Lab) -> dict[str, Any]:
    """The lab VPC (``my-workspace-vpc``, 10.0.0.0/20), created if missing, DNS hostnames on."""
    ec2 = lab.client("ec2")
    cfg = lab.config
    vpc = find(ec2, "vpc", cfg.vpc_name, lab)
    if vpc is None:
        vpc = ec2.create_vpc(CidrBlock=cfg.vpc_cidr, TagSpecifications=lab.tags("vpc", cfg.vpc_name))["Vpc"]
        # Tasks with awsvpc networking get DNS names only when the VPC has DNS hostnames on.
        ec2.modify_vpc_attribute(VpcId=vpc["VpcId"], EnableDnsHostnames={"Value": True})
        ec2.modify_vpc_attribute(VpcId=vpc["VpcId"], EnableDnsSupport={"Value": True})
    return vpc


def ensure_subnets(lab: Lab, vpc_id: str) -> dict[str, str]:
    """One subnet per (AZ, tier) from the plan. Returns {name: subnet id}."""
    ec2 = lab.client("ec2")
    result = {}
    for plan in lab.config.subnets:
        subnet = find(ec2, "subnet", plan.name, lab)
        if subnet is None:
            subnet = ec2.create_subnet(
                VpcId=vpc_id,
                CidrBlock=plan.cidr,
                AvailabilityZone=plan.az,
                TagSpecifications=lab.tags("subnet", plan.name, tier=plan.tier),
            )["Subnet"]
        result[plan.name] = subnet["SubnetId"]
    return result


def ensure_internet_gateway(lab: Lab, vpc_id: str) -> str:
    """The lab's internet gateway, created and attached to the VPC if needed."""
    ec2 = lab.client("ec2")
    name = lab.config.internet_gateway
    igw = find(ec2, "internet-gateway", name, lab)
    if igw is None:
        igw = ec2.create_internet_gateway(TagSpecifications=lab.tags("internet-gateway", name))["InternetGateway"]
    if not any(a.get("VpcId") == vpc_id for a in igw.get("Attachments", [])):
        ec2.attach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=vpc_id)
    return str(igw["InternetGatewayId"])


def ensure_nat_gateway(lab: Lab, subnets: dict[str, str]) -> str:
    """A public NAT gateway (with an Elastic IP) in the first public subnet."""
    ec2 = lab.client("ec2")
    cfg = lab.config
    nat = find(ec2, "natgateway", cfg.nat_gateway, lab)
    if nat is not None:
        return str(nat["NatGatewayId"])
    eip_name = cfg.nat_gateway + "-eip"
    eip = find(ec2, "elastic-ip", eip_name, lab)
    if eip is None:
        eip = ec2.allocate_address(Domain="vpc", TagSpecifications=lab.tags("elastic-ip", eip_name))
    nat = ec2.create_nat_gateway(
        SubnetId=subnets[cfg.nat_subnet],
        AllocationId=eip["AllocationId"],
        TagSpecifications=lab.tags("natgateway", cfg.nat_gateway),
    )["NatGateway"]
    return str(nat["NatGatewayId"])


def _ensure_route_table(lab: Lab, vpc_id: str, name: str) -> dict[str, Any]:
    ec2 = lab.client("ec2")
    table = find(ec2, "route-table", name, lab)
    if table is None:
        table = ec2.create_route_table(VpcId=vpc_id, TagSpecifications=lab.tags("route-table", name))["RouteTable"]
    return table


def _ensure_default_route(lab: Lab, table: dict[str, Any], **target: str) -> None:
    ec2 = lab.client("ec2")
    for route in table.get("Routes", []):
        if route.get("DestinationCidrBlock") == "0.0.0.0/0":
            if all(route.get(k) == v for k, v in target.items()) and route.get("State") == "active":
                return
            ec2.replace_route(RouteTableId=table["RouteTableId"], DestinationCidrBlock="0.0.0.0/0", **target)
            return
    ec2.create_route(RouteTableId=table["RouteTableId"], DestinationCidrBlock="0.0.0.0/0", **target)


def _ensure_association(lab: Lab, table: dict[str, Any], subnet_id: str) -> None:
    ec2 = lab.client("ec2")
    current = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])[
        "RouteTables"
    ]
    for other in current:
        for assoc in other.get("Associations", []):
            if assoc.get("SubnetId") != subnet_id:
                continue
            if other["RouteTableId"] == table["RouteTableId"]:
                return
            # A subnet has exactly one route table: move it rather than add a second association.
            ec2.replace_route_table_association(
                AssociationId=assoc["RouteTableAssociationId"], RouteTableId=table["RouteTableId"]
            )
            return
    ec2.associate_route_table(RouteTableId=table["RouteTableId"], SubnetId=subnet_id)


def ensure_route_tables(
    lab: Lab, vpc_id: str, subnets: dict[str, str], igw_id: str, nat_id: str = ""
) -> dict[str, str]:
    """Public table (0.0.0.0/0 → IGW) for public subnets; one private table per AZ (→ NAT if any)."""
    cfg = lab.config
    result = {}
    public = _ensure_route_table(lab, vpc_id, cfg.public_route_table)
    _ensure_default_route(lab, public, GatewayId=igw_id)
    result[cfg.public_route_table] = public["RouteTableId"]
    for plan in cfg.tier("public"):
        _ensure_association(lab, public, subnets[plan.name])
    for plan in cfg.tier("private"):
        name = cfg.private_route_tables[plan.az]
        table = _ensure_route_table(lab, vpc_id, name)
        if nat_id:
            _ensure_default_route(lab, table, NatGatewayId=nat_id)
        _ensure_association(lab, table, subnets[plan.name])
        result[name] = table["RouteTableId"]
    return result


def ensure_security_groups(lab: Lab, vpc_id: str) -> dict[str, str]:
    """The plan's security groups and their inbound rules. Returns {group name: id}."""
    ec2 = lab.client("ec2")
    ids: dict[str, str] = {}
    for plan in lab.config.security_groups:
        group = find(ec2, "security-group", plan.name, lab)
        if group is None:
            group_id = ec2.create_security_group(
                GroupName=plan.name,
                Description=plan.description,
                VpcId=vpc_id,
                TagSpecifications=lab.tags("security-group", plan.name),
            )["GroupId"]
            group = {"GroupId": group_id, "IpPermissions": []}
        ids[plan.key] = group["GroupId"]
    for plan in lab.config.security_groups:
        existing = ec2.describe_security_groups(GroupIds=[ids[plan.key]])["SecurityGroups"][0]["IpPermissions"]
        for rule in plan.ingress:
            permission: dict[str, Any] = {"IpProtocol": rule.protocol, "FromPort": rule.port, "ToPort": rule.port}
            if rule.from_group:
                permission["UserIdGroupPairs"] = [{"GroupId": ids[rule.source], "Description": rule.why}]
            else:
                permission["IpRanges"] = [{"CidrIp": rule.source, "Description": rule.why}]
            if not _has_permission(existing, permission):
                ec2.authorize_security_group_ingress(GroupId=ids[plan.key], IpPermissions=[permission])
    return {lab.config.security_group(k).name: v for k, v in ids.items()}


def _has_permission(existing: list[dict[str, Any]], wanted: dict[str, Any]) -> bool:
    for perm in existing:
        if (perm.get("IpProtocol"), perm.get("FromPort"), perm.get("ToPort")) != (
            wanted["IpProtocol"],
            wanted["FromPort"],
            wanted["ToPort"],
        ):
            continue
        cidrs = {r["CidrIp"] for r in perm.get("IpRanges", [])}
        groups = {g["GroupId"] for g in perm.get("UserIdGroupPairs", [])}
        if all(r["CidrIp"] in cidrs for r in wanted.get("IpRanges", [])) and all(
            g["GroupId"] in groups for g in wanted.get("UserIdGroupPairs", [])
        ):
            return True
    return False


def build(lab: Lab, *, nat: bool = True, security_groups: bool = True) -> Network:
    """Everything chapters 02 and 03 build, in order; safe to call any number of times."""
    net = Network()
    vpc = ensure_vpc(lab)
    net.vpc_id = vpc["VpcId"]
    net.subnets = ensure_subnets(lab, net.vpc_id)
    net.internet_gateway_id = ensure_internet_gateway(lab, net.vpc_id)
    if nat:
        net.nat_gateway_id = ensure_nat_gateway(lab, net.subnets)
    net.route_tables = ensure_route_tables(lab, net.vpc_id, net.subnets, net.internet_gateway_id, net.nat_gateway_id)
    if security_groups:
        net.security_groups = ensure_security_groups(lab, net.vpc_id)
    return net


def teardown(lab: Lab) -> list[str]:
    """Delete every lab-owned network resource, in dependency order. Returns what was deleted.

    Order matters on AWS: security groups and NAT gateways first (they hold ENIs in subnets), then
    Elastic IPs, route tables (after their associations), the internet gateway (detach, then
    delete), subnets, and the VPC last. Anything without the lab's ownership tag is left alone.
    """
    ec2 = lab.client("ec2")
    deleted: list[str] = []
    vpcs = find_all(ec2, "vpc", lab)
    for group in find_all(ec2, "security-group", lab):
        # Rules that reference another group must go before that group can be deleted.
        if group.get("IpPermissions"):
            ec2.revoke_security_group_ingress(GroupId=group["GroupId"], IpPermissions=group["IpPermissions"])
    for group in find_all(ec2, "security-group", lab):
        ec2.delete_security_group(GroupId=group["GroupId"])
        deleted.append(f"security group {name_of(group)}")
    for nat in find_all(ec2, "natgateway", lab):
        ec2.delete_nat_gateway(NatGatewayId=nat["NatGatewayId"])
        deleted.append(f"NAT gateway {name_of(nat)}")
        if not lab.offline:
            # On AWS the NAT gateway keeps its Elastic IP and subnet ENI until it is fully deleted.
            ec2.get_waiter("nat_gateway_deleted").wait(NatGatewayIds=[nat["NatGatewayId"]])
    for eip in find_all(ec2, "elastic-ip", lab):
        ec2.release_address(AllocationId=eip["AllocationId"])
        deleted.append(f"Elastic IP {name_of(eip)}")
    for table in find_all(ec2, "route-table", lab):
        for assoc in table.get("Associations", []):
            if not assoc.get("Main"):
                ec2.disassociate_route_table(AssociationId=assoc["RouteTableAssociationId"])
        ec2.delete_route_table(RouteTableId=table["RouteTableId"])
        deleted.append(f"route table {name_of(table)}")
    for igw in find_all(ec2, "internet-gateway", lab):
        for attachment in igw.get("Attachments", []):
            ec2.detach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=attachment["VpcId"])
        ec2.delete_internet_gateway(InternetGatewayId=igw["InternetGatewayId"])
        deleted.append(f"internet gateway {name_of(igw)}")
    for subnet in find_all(ec2, "subnet", lab):
        ec2.delete_subnet(SubnetId=subnet["SubnetId"])
        deleted.append(f"subnet {name_of(subnet)}")
    for vpc in vpcs:
        ec2.delete_vpc(VpcId=vpc["VpcId"])
        deleted.append(f"VPC {name_of(vpc)}")
    return deleted
