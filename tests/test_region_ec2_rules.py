"""The offline region's EC2 networking rules and model patches, through boto3 as a learner calls them.

Every refusal is checked for AWS's exact error code, and for the exact message where the region
sets it; every rule also gets its good path, so that no rule refuses what AWS accepts. The network
mirrors the lab's seed lesson: my-workspace-vpc 10.0.0.0/20 in us-west-2 with a private and a
public /24.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from botocore.exceptions import ClientError

VPC_CIDR = "10.0.0.0/20"


def fails(call: Any, **kwargs: Any) -> tuple[str, str]:
    """(code, message) of the ClientError ``call(**kwargs)`` raises; fails the test if it succeeds."""
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    error = info.value.response["Error"]
    return error["Code"], error["Message"]


def make_vpc(ec2: Any, cidr: str = VPC_CIDR) -> str:
    return ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]


def make_subnet(ec2: Any, vpc_id: str, cidr: str, zone: str = "us-west-2a") -> str:
    return ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]


def attached_igw(ec2: Any, vpc_id: str) -> str:
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
    return igw


def main_table(ec2: Any, vpc_id: str) -> dict[str, Any]:
    tables = ec2.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "association.main", "Values": ["true"]}]
    )["RouteTables"]
    return tables[0]


def routes(ec2: Any, table_id: str) -> dict[str, dict[str, Any]]:
    table = ec2.describe_route_tables(RouteTableIds=[table_id])["RouteTables"][0]
    return {route.get("DestinationCidrBlock", ""): route for route in table["Routes"]}


def nat_gateway(ec2: Any, subnet_id: str) -> dict[str, Any]:
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    return ec2.create_nat_gateway(SubnetId=subnet_id, AllocationId=allocation)["NatGateway"]


# -- 1. VPC CIDR blocks ------------------------------------------------------------------------------


def test_vpc_cidr_range_and_host_bits(ec2: Any) -> None:
    assert fails(ec2.create_vpc, CidrBlock="10.0.0.0/15") == ("InvalidVpc.Range", "The CIDR '10.0.0.0/15' is invalid.")
    assert fails(ec2.create_vpc, CidrBlock="10.0.0.0/29") == ("InvalidVpc.Range", "The CIDR '10.0.0.0/29' is invalid.")
    assert fails(ec2.create_vpc, CidrBlock="10.0.0.0")[0] == "InvalidVpc.Range"
    assert fails(ec2.create_vpc, CidrBlock="300.0.0.0/16") == (
        "InvalidParameterValue",
        "Value (300.0.0.0/16) for parameter cidrBlock is invalid. This is not a valid CIDR block.",
    )
    # AWS stores the network address of a CIDR block given with host bits set.
    vpc = ec2.create_vpc(CidrBlock="10.0.0.1/16")["Vpc"]
    assert vpc["CidrBlock"] == "10.0.0.0/16"
    assert ec2.create_vpc(CidrBlock="10.1.0.0/28")["Vpc"]["CidrBlock"] == "10.1.0.0/28"


def test_secondary_vpc_cidr(ec2: Any) -> None:
    vpc_id = make_vpc(ec2)
    assert fails(ec2.associate_vpc_cidr_block, VpcId=vpc_id, CidrBlock="10.2.0.0/29")[0] == "InvalidVpc.Range"
    code, message = fails(ec2.associate_vpc_cidr_block, VpcId=vpc_id, CidrBlock="10.0.4.0/24")
    assert code == "InvalidVpc.Range" and "10.0.0.0/20" in message
    added = ec2.associate_vpc_cidr_block(VpcId=vpc_id, CidrBlock="10.1.0.7/24")["CidrBlockAssociation"]
    assert added["CidrBlock"] == "10.1.0.0/24"
    assert "10.1.0.0/24" in routes(ec2, main_table(ec2, vpc_id)["RouteTableId"])


# -- 2. Subnets --------------------------------------------------------------------------------------


def test_subnet_size_and_host_bits(ec2: Any) -> None:
    vpc_id = make_vpc(ec2)
    assert fails(ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.0.0.0/29", AvailabilityZone="us-west-2a") == (
        "InvalidSubnet.Range",
        "The CIDR '10.0.0.0/29' is invalid.",
    )
    smallest = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.0.0/28", AvailabilityZone="us-west-2a")["Subnet"]
    assert smallest["AvailableIpAddressCount"] == 11
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.4.5/24", AvailabilityZone="us-west-2b")["Subnet"]
    assert subnet["CidrBlock"] == "10.0.4.0/24"
    assert ec2.describe_subnets(SubnetIds=[subnet["SubnetId"]])["Subnets"][0]["CidrBlock"] == "10.0.4.0/24"
    # moto's own checks stay: outside the VPC, and overlapping another subnet.
    assert fails(ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.1.0.0/24")[0] == "InvalidSubnet.Range"
    assert fails(ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.0.4.128/25")[0] == "InvalidSubnet.Conflict"


def test_subnet_zone_must_be_in_region(ec2: Any) -> None:
    vpc_id = make_vpc(ec2)
    listing = "us-west-2a, us-west-2b, us-west-2c, us-west-2d"
    for zone in ("us-east-1a", "us-west-2z"):
        assert fails(ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.0.0.0/24", AvailabilityZone=zone) == (
            "InvalidParameterValue",
            f"Value ({zone}) for parameter availabilityZone is invalid. Subnets can currently only be created "
            f"in the following availability zones: {listing}.",
        )
    code, message = fails(ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.0.0.0/24", AvailabilityZoneId="use1-az1")
    assert code == "InvalidParameterValue"
    assert message.startswith("Value (use1-az1) for parameter availabilityZoneId is invalid.")
    assert "usw2-az1, usw2-az2, usw2-az3, usw2-az4." in message
    assert ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"] == []


def test_subnet_by_zone_id_gets_aws_attributes(ec2: Any) -> None:
    vpc_id = make_vpc(ec2)
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.0.0/24", AvailabilityZoneId="usw2-az1")["Subnet"]
    assert (subnet["AvailabilityZone"], subnet["AvailabilityZoneId"]) == ("us-west-2b", "usw2-az1")
    # A subnet of a VPC the learner created is never a default subnet.
    assert subnet["DefaultForAz"] is False
    assert subnet["MapPublicIpOnLaunch"] is False
    listed = ec2.describe_subnets(Filters=[{"Name": "availability-zone", "Values": ["us-west-2b"]}])["Subnets"]
    assert subnet["SubnetId"] in {s["SubnetId"] for s in listed}


def test_delete_subnet_with_nat_gateway(ec2: Any) -> None:
    vpc_id = make_vpc(ec2)
    subnet_id = make_subnet(ec2, vpc_id, "10.0.1.0/24")
    attached_igw(ec2, vpc_id)
    nat_id = nat_gateway(ec2, subnet_id)["NatGatewayId"]
    assert fails(ec2.delete_subnet, SubnetId=subnet_id) == (
        "DependencyViolation",
        f"The subnet '{subnet_id}' has dependencies and cannot be deleted.",
    )
    ec2.delete_nat_gateway(NatGatewayId=nat_id)
    ec2.delete_subnet(SubnetId=subnet_id)
    assert fails(ec2.describe_subnets, SubnetIds=[subnet_id])[0] == "InvalidSubnetID.NotFound"


# -- 3. Internet gateways ----------------------------------------------------------------------------


def test_one_internet_gateway_per_vpc(ec2: Any) -> None:
    vpc_id = make_vpc(ec2)
    first = attached_igw(ec2, vpc_id)
    second = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    assert fails(ec2.attach_internet_gateway, InternetGatewayId=second, VpcId=vpc_id) == (
        "Resource.AlreadyAssociated",
        f"resource {vpc_id} is already attached to network gateway {first}",
    )
    # moto's own check for attaching the same gateway twice stays.
    assert fails(ec2.attach_internet_gateway, InternetGatewayId=first, VpcId=vpc_id)[0] == "Resource.AlreadyAssociated"
    # After detaching the first, the second may attach.
    ec2.detach_internet_gateway(InternetGatewayId=first, VpcId=vpc_id)
    ec2.attach_internet_gateway(InternetGatewayId=second, VpcId=vpc_id)


# -- 4. Routes ---------------------------------------------------------------------------------------


def test_route_into_the_vpc_range_is_refused(ec2: Any) -> None:
    vpc_id = make_vpc(ec2)
    igw = attached_igw(ec2, vpc_id)
    table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    for destination in ("10.0.0.0/20", "10.0.1.0/24"):
        assert fails(ec2.create_route, RouteTableId=table, DestinationCidrBlock=destination, GatewayId=igw) == (
            "InvalidParameterValue",
            f"The destination CIDR block {destination} is equal to or more specific than one of this VPC's CIDR "
            "blocks. This route can target only an interface or an instance.",
        )
    # The local route survived (moto used to overwrite it with the IGW).
    assert routes(ec2, table)["10.0.0.0/20"]["GatewayId"] == "local"
    # A route that only contains the VPC's range is fine, and host bits are cleared.
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.0.0.7/8", GatewayId=igw)
    assert routes(ec2, table)["10.0.0.0/8"]["GatewayId"] == igw


def test_local_route_cannot_be_replaced_or_deleted(ec2: Any) -> None:
    vpc_id = make_vpc(ec2)
    igw = attached_igw(ec2, vpc_id)
    table = main_table(ec2, vpc_id)["RouteTableId"]
    code, message = fails(ec2.replace_route, RouteTableId=table, DestinationCidrBlock=VPC_CIDR, GatewayId=igw)
    assert code == "InvalidParameterValue" and "equal to or more specific" in message
    assert fails(ec2.delete_route, RouteTableId=table, DestinationCidrBlock=VPC_CIDR) == (
        "InvalidParameterValue",
        f"cannot remove local route {VPC_CIDR} in route table {table}",
    )
    assert routes(ec2, table)[VPC_CIDR]["GatewayId"] == "local"


def test_route_to_nat_gateway(ec2: Any) -> None:
    vpc_id = make_vpc(ec2)
    attached_igw(ec2, vpc_id)
    private = make_subnet(ec2, vpc_id, "10.0.0.0/24")
    public = make_subnet(ec2, vpc_id, "10.0.1.0/24")
    nat_id = nat_gateway(ec2, public)["NatGatewayId"]
    table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat_id)
    assert routes(ec2, table)["0.0.0.0/0"]["NatGatewayId"] == nat_id
    # A part of the VPC's range that is not a whole subnet cannot go to a NAT gateway ...
    code, _ = fails(ec2.create_route, RouteTableId=table, DestinationCidrBlock="10.0.8.0/22", NatGatewayId=nat_id)
    assert code == "InvalidParameterValue"
    # ... nor can the VPC's own range; a whole subnet can (AWS's middlebox routing).
    assert fails(ec2.create_route, RouteTableId=table, DestinationCidrBlock=VPC_CIDR, NatGatewayId=nat_id)[0] == (
        "InvalidParameterValue"
    )
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.0.0.0/24", NatGatewayId=nat_id)
    assert private
    # A NAT gateway ID passed as GatewayId, and a NAT gateway that does not exist.
    assert fails(ec2.create_route, RouteTableId=table, DestinationCidrBlock="192.0.2.0/24", GatewayId=nat_id) == (
        "InvalidParameterValue",
        f"invalid value for parameter gateway-id: {nat_id}",
    )
    assert fails(
        ec2.create_route, RouteTableId=table, DestinationCidrBlock="192.0.2.0/24", NatGatewayId="nat-0000000000dead"
    ) == ("InvalidNatGatewayID.NotFound", "The natGateway ID 'nat-0000000000dead' does not exist")


def test_route_targets_must_belong_to_the_vpc(ec2: Any) -> None:
    vpc_id = make_vpc(ec2)
    other_vpc = make_vpc(ec2, "10.1.0.0/16")
    table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    loose_igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    assert fails(ec2.create_route, RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=loose_igw) == (
        "InvalidParameterValue",
        f"route table {table} and network gateway {loose_igw} belong to different networks",
    )
    other_igw = attached_igw(ec2, other_vpc)
    code, message = fails(ec2.create_route, RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=other_igw)
    assert (code, message) == (
        "InvalidParameterValue",
        f"route table {table} and network gateway {other_igw} belong to different networks",
    )
    other_nat = nat_gateway(ec2, make_subnet(ec2, other_vpc, "10.1.0.0/24"))["NatGatewayId"]
    assert fails(ec2.create_route, RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=other_nat) == (
        "InvalidParameterValue",
        f"route table {table} and network gateway {other_nat} belong to different networks",
    )
    # The same checks guard ReplaceRoute.
    own_igw = attached_igw(ec2, vpc_id)
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=own_igw)
    assert fails(ec2.replace_route, RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=other_igw)[0] == (
        "InvalidParameterValue"
    )
    assert routes(ec2, table)["0.0.0.0/0"]["GatewayId"] == own_igw


def test_blackhole_routes(ec2: Any) -> None:
    vpc_id = make_vpc(ec2)
    igw = attached_igw(ec2, vpc_id)
    public = make_subnet(ec2, vpc_id, "10.0.1.0/24")
    nat_id = nat_gateway(ec2, public)["NatGatewayId"]
    table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="192.0.2.0/24", NatGatewayId=nat_id)
    assert {r["State"] for r in routes(ec2, table).values()} == {"active"}
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
    ec2.delete_nat_gateway(NatGatewayId=nat_id)
    after = routes(ec2, table)
    assert after["0.0.0.0/0"]["State"] == "blackhole"
    assert after["192.0.2.0/24"]["State"] == "blackhole"
    assert after[VPC_CIDR]["State"] == "active"
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
    assert routes(ec2, table)["0.0.0.0/0"]["State"] == "active"


# -- 5. Route table associations ---------------------------------------------------------------------


def test_one_route_table_per_subnet(ec2: Any) -> None:
    vpc_id = make_vpc(ec2)
    subnet_id = make_subnet(ec2, vpc_id, "10.0.0.0/24")
    first = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    second = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    association = ec2.associate_route_table(RouteTableId=first, SubnetId=subnet_id)["AssociationId"]
    assert fails(ec2.associate_route_table, RouteTableId=second, SubnetId=subnet_id) == (
        "Resource.AlreadyAssociated",
        f"the specified association for route table {second} conflicts with an existing association",
    )
    # The way AWS offers instead works.
    ec2.replace_route_table_association(AssociationId=association, RouteTableId=second)
    tables = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])
    assert [t["RouteTableId"] for t in tables["RouteTables"]] == [second]


def test_route_table_and_subnet_in_different_vpcs(ec2: Any) -> None:
    vpc_id = make_vpc(ec2)
    other_vpc = make_vpc(ec2, "10.1.0.0/16")
    subnet_id = make_subnet(ec2, other_vpc, "10.1.0.0/24")
    table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    assert fails(ec2.associate_route_table, RouteTableId=table, SubnetId=subnet_id) == (
        "InvalidParameterValue",
        f"Route table {table} and subnet {subnet_id} belong to different networks",
    )


# -- 6. Security groups ------------------------------------------------------------------------------


def test_security_group_names(ec2: Any) -> None:
    vpc_id = make_vpc(ec2)
    assert fails(ec2.create_security_group, GroupName="sg-web", Description="web", VpcId=vpc_id) == (
        "InvalidParameterValue",
        "Value (sg-web) for parameter GroupName is invalid. Group names may not be in the format sg-*.",
    )
    assert fails(ec2.create_security_group, GroupName="web", Description="", VpcId=vpc_id) == (
        "MissingParameter",
        "The request must contain the parameter GroupDescription",
    )
    code, message = fails(ec2.create_security_group, GroupName="x" * 256, Description="web", VpcId=vpc_id)
    assert code == "InvalidParameterValue" and "parameter GroupName" in message
    code, message = fails(ec2.create_security_group, GroupName="web", Description="d" * 256, VpcId=vpc_id)
    assert code == "InvalidParameterValue" and "parameter GroupDescription" in message
    assert fails(
        ec2.create_security_group, GroupName="alb-sg", Description="ALB: インターネットから", VpcId=vpc_id
    ) == (
        "InvalidParameterValue",
        "Value (ALB: インターネットから) for parameter GroupDescription is invalid. "
        "Character sets beyond ASCII are not supported.",
    )
    # 255 characters is the maximum, not beyond it.
    ec2.create_security_group(GroupName="w" * 255, Description="d" * 255, VpcId=vpc_id)
    group = ec2.create_security_group(GroupName="alb-sg", Description="ALB: HTTP from the internet", VpcId=vpc_id)
    assert group["GroupId"].startswith("sg-")


def test_default_security_group_allows_itself(ec2: Any) -> None:
    vpc_id = make_vpc(ec2)
    for vpc in (vpc_id, ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]):
        group = ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
        )["SecurityGroups"][0]
        assert len(group["IpPermissions"]) == 1
        inbound = group["IpPermissions"][0]
        assert inbound["IpProtocol"] == "-1"
        assert [pair["GroupId"] for pair in inbound["UserIdGroupPairs"]] == [group["GroupId"]]
        assert group["IpPermissionsEgress"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]


def test_group_names_refer_to_the_default_vpc(ec2: Any) -> None:
    vpc_id = make_vpc(ec2)
    group = ec2.create_security_group(GroupName="alb-sg", Description="alb", VpcId=vpc_id)["GroupId"]
    default_vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    message = f"The security group 'alb-sg' does not exist in default VPC '{default_vpc}'"
    assert fails(ec2.describe_security_groups, GroupNames=["alb-sg"]) == ("InvalidGroup.NotFound", message)
    assert fails(
        ec2.authorize_security_group_ingress, GroupName="alb-sg", IpProtocol="tcp", FromPort=80, ToPort=80,
        CidrIp="0.0.0.0/0",
    ) == ("InvalidGroup.NotFound", message)  # fmt: skip
    # By ID it is found; a group of the default VPC is found by name.
    assert ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["GroupName"] == "alb-sg"
    assert ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]["VpcId"] == default_vpc


def test_default_security_group_cannot_be_deleted(ec2: Any) -> None:
    vpc_id = make_vpc(ec2)
    by_name = [{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": ["default"]}]
    default = ec2.describe_security_groups(Filters=by_name)["SecurityGroups"][0]["GroupId"]
    assert fails(ec2.delete_security_group, GroupId=default) == (
        "CannotDelete",
        f'the specified group: "{default}" name: "default" cannot be deleted by a user',
    )
    # By name, "default" means the default VPC's default group: refused the same way.
    default_vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    default_of_default_vpc = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]
    assert default_of_default_vpc["VpcId"] == default_vpc
    assert fails(ec2.delete_security_group, GroupName="default") == (
        "CannotDelete",
        f'the specified group: "{default_of_default_vpc["GroupId"]}" name: "default" cannot be deleted by a user',
    )
    # Both are still there; a group of your own is deleted as usual, and a dry run says it would be.
    assert ec2.describe_security_groups(Filters=by_name)["SecurityGroups"][0]["GroupId"] == default
    assert fails(ec2.delete_security_group, GroupId=default, DryRun=True)[0] == "CannotDelete"
    own = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc_id)["GroupId"]
    assert fails(ec2.delete_security_group, GroupId=own, DryRun=True)[0] == "DryRunOperation"
    ec2.delete_security_group(GroupId=own)
    assert fails(ec2.delete_security_group, GroupId=own)[0] == "InvalidGroup.NotFound"


# -- 7. Security group rules -------------------------------------------------------------------------


def test_security_group_rule_protocols_and_ports(ec2: Any) -> None:
    vpc_id = make_vpc(ec2)
    group = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc_id)["GroupId"]

    def permission(protocol: str, low: int | None = None, high: int | None = None) -> dict[str, Any]:
        item: dict[str, Any] = {"IpProtocol": protocol, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        if low is not None:
            item["FromPort"] = low
        if high is not None:
            item["ToPort"] = high
        return item

    refused = {
        ("bogus", 80, 80): "Invalid value 'bogus' for IP protocol. Unknown protocol.",
        ("all", None, None): "Invalid value 'all' for IP protocol. Unknown protocol.",
        ("256", None, None): "Invalid value '256' for IP protocol. Unknown protocol.",
        ("tcp", 80, 70000): "TCP/UDP (to) port (70000) out of range",
        ("udp", -1, -1): "TCP/UDP (from) port (-1) out of range",
        ("tcp", 80, None): "Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange.",
        ("icmp", 256, 0): "ICMP type (256) out of range",
        ("icmp", 8, 300): "ICMP code (300) out of range",
        ("icmp", None, None): "Invalid value 'Must specify both from and to ports with ICMP.' for portRange.",
    }
    for (protocol, low, high), message in refused.items():
        assert fails(
            ec2.authorize_security_group_ingress, GroupId=group, IpPermissions=[permission(protocol, low, high)]
        ) == ("InvalidParameterValue", message), protocol
    code, message = fails(
        ec2.authorize_security_group_ingress, GroupId=group, IpPermissions=[permission("tcp", 8080, 80)]
    )
    assert code == "InvalidParameterValue" and message.startswith("Invalid TCP/UDP port range")
    # Egress is checked the same way, and a refused request stores nothing.
    assert fails(ec2.authorize_security_group_egress, GroupId=group, IpPermissions=[permission("tcp", 0, 65536)])[
        0
    ] == ("InvalidParameterValue")
    stored = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]
    assert stored["IpPermissions"] == [] and len(stored["IpPermissionsEgress"]) == 1

    # What AWS accepts.
    for accepted in (
        permission("tcp", 0, 65535),
        permission("TCP", 443, 443),
        permission("6", 8080, 8080),
        permission("udp", 53, 53),
        permission("icmp", -1, -1),
        permission("-1"),
        permission("50"),
    ):
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[accepted])
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])["SecurityGroupRules"]
    inbound = {(r["IpProtocol"], r.get("FromPort"), r.get("ToPort")) for r in rules if not r["IsEgress"]}
    assert {("tcp", 0, 65535), ("tcp", 443, 443), ("tcp", 8080, 8080), ("udp", 53, 53), ("-1", -1, -1)} <= inbound


def test_security_group_rule_cidrs(ec2: Any) -> None:
    vpc_id = make_vpc(ec2)
    group = ec2.create_security_group(GroupName="app", Description="app", VpcId=vpc_id)["GroupId"]
    for bad in ("1.2.3.4/33", "1.2.3.4", "not-a-cidr"):
        assert fails(
            ec2.authorize_security_group_ingress,
            GroupId=group,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": bad}]}],
        ) == ("InvalidParameterValue", f"CIDR block {bad} is malformed")
    # Host bits are cleared, in the flat form and in the legacy top-level form (AWS CLI --cidr).
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.0.1.7/24"}]}],
    )
    ec2.authorize_security_group_ingress(
        GroupId=group, IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="203.0.113.9/28"
    )
    assert fails(
        ec2.authorize_security_group_ingress,
        GroupId=group,
        IpProtocol="tcp",
        FromPort=22,
        ToPort=99999,
        CidrIp="0.0.0.0/0",
    ) == ("InvalidParameterValue", "TCP/UDP (to) port (99999) out of range")
    ranges = {
        (p["FromPort"], r["CidrIp"])
        for p in ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]
        for r in p["IpRanges"]
    }
    assert ranges == {(80, "10.0.1.0/24"), (22, "203.0.113.0/28")}
    # Revoking with the same (uncanonical) text finds the stored rule.
    ec2.revoke_security_group_ingress(GroupId=group, IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="203.0.113.9/28")
    assert len(ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]) == 1


# -- NAT gateways and addresses ----------------------------------------------------------------------


def test_nat_gateway_address_comes_from_its_subnet(ec2: Any) -> None:
    vpc_id = make_vpc(ec2)
    public = make_subnet(ec2, vpc_id, "10.0.1.0/24")
    eni = ec2.create_network_interface(SubnetId=public)["NetworkInterface"]
    assert eni["PrivateIpAddress"] == "10.0.1.4"  # base+4: the first address AWS does not reserve
    nat = nat_gateway(ec2, public)
    assert nat["NatGatewayAddresses"][0]["PrivateIp"] == "10.0.1.5"
    described = ec2.describe_nat_gateways(NatGatewayIds=[nat["NatGatewayId"]])["NatGateways"][0]
    assert described["NatGatewayAddresses"][0]["PrivateIp"] == "10.0.1.5"
    assert ec2.describe_subnets(SubnetIds=[public])["Subnets"][0]["AvailableIpAddressCount"] == 249
    # Deleting the NAT gateway frees its address and its Elastic IP association.
    ec2.delete_nat_gateway(NatGatewayId=nat["NatGatewayId"])
    assert ec2.describe_subnets(SubnetIds=[public])["Subnets"][0]["AvailableIpAddressCount"] == 250
    allocation = nat["NatGatewayAddresses"][0]["AllocationId"]
    assert "AssociationId" not in ec2.describe_addresses(AllocationIds=[allocation])["Addresses"][0]


def test_network_interface_addresses(ec2: Any) -> None:
    vpc_id = make_vpc(ec2)
    subnet = make_subnet(ec2, vpc_id, "10.0.0.0/28")
    assert fails(ec2.create_network_interface, SubnetId=subnet, PrivateIpAddress="10.0.3.7") == (
        "InvalidParameterValue",
        "Address 10.0.3.7 does not fall within the subnet's address range",
    )
    for reserved in ("10.0.0.1", "10.0.0.15"):
        assert fails(ec2.create_network_interface, SubnetId=subnet, PrivateIpAddress=reserved) == (
            "InvalidParameterValue",
            f"Address {reserved} is in subnet's reserved address range",
        )
    ec2.create_network_interface(SubnetId=subnet, PrivateIpAddress="10.0.0.9")
    assert fails(ec2.create_network_interface, SubnetId=subnet, PrivateIpAddress="10.0.0.9") == (
        "InvalidIPAddress.InUse",
        "Address 10.0.0.9 is in use.",
    )
    # A /28 has 11 usable addresses; one is taken, ten more fit, the twelfth does not.
    addresses = [
        ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["PrivateIpAddress"] for _ in range(10)
    ]
    assert addresses[:5] == ["10.0.0.4", "10.0.0.5", "10.0.0.6", "10.0.0.7", "10.0.0.8"]
    assert addresses[5] == "10.0.0.10"
    assert fails(ec2.create_network_interface, SubnetId=subnet)[0] == "InsufficientFreeAddressesInSubnet"


def test_unknown_ids_read_like_aws(ec2: Any) -> None:
    assert fails(ec2.describe_vpcs, VpcIds=["vpc-00000000"]) == (
        "InvalidVpcID.NotFound",
        "The vpc ID 'vpc-00000000' does not exist",
    )
    assert fails(ec2.describe_security_groups, GroupIds=["sg-00000000"]) == (
        "InvalidGroup.NotFound",
        "The security group 'sg-00000000' does not exist",
    )
    assert fails(ec2.describe_internet_gateways, InternetGatewayIds=["igw-00000000"]) == (
        "InvalidInternetGatewayID.NotFound",
        "The internetGateway ID 'igw-00000000' does not exist",
    )
    assert fails(ec2.describe_nat_gateways, NatGatewayIds=["nat-00000000"]) == (
        "NatGatewayNotFound",
        "NAT gateway nat-00000000 was not found",
    )
    assert fails(ec2.delete_nat_gateway, NatGatewayId="nat-00000000") == (
        "NatGatewayNotFound",
        "NAT gateway nat-00000000 was not found",
    )
    subnet = make_subnet(ec2, make_vpc(ec2), "10.0.0.0/24")
    assert fails(ec2.create_nat_gateway, SubnetId=subnet, AllocationId="eipalloc-0000dead") == (
        "InvalidAllocationID.NotFound",
        "The allocation ID 'eipalloc-0000dead' does not exist",
    )


# -- 9. DryRun ---------------------------------------------------------------------------------------


def test_dry_run_creates_nothing(ec2: Any) -> None:
    vpc_id = make_vpc(ec2)
    subnet_id = make_subnet(ec2, vpc_id, "10.0.0.0/24")
    igw = attached_igw(ec2, vpc_id)
    table = main_table(ec2, vpc_id)["RouteTableId"]
    before = {
        "vpcs": len(ec2.describe_vpcs()["Vpcs"]),
        "subnets": len(ec2.describe_subnets()["Subnets"]),
        "groups": len(ec2.describe_security_groups()["SecurityGroups"]),
        "routes": len(routes(ec2, table)),
    }
    dry_runs = [
        (ec2.create_vpc, {"CidrBlock": "10.9.0.0/16"}),
        (ec2.create_subnet, {"VpcId": vpc_id, "CidrBlock": "10.0.1.0/24", "AvailabilityZone": "us-west-2b"}),
        (ec2.create_security_group, {"GroupName": "web", "Description": "web", "VpcId": vpc_id}),
        (ec2.create_route, {"RouteTableId": table, "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igw}),
    ]
    for call, kwargs in dry_runs:
        assert fails(call, DryRun=True, **kwargs) == (
            "DryRunOperation",
            "Request would have succeeded, but DryRun flag is set.",
        )
    after = {
        "vpcs": len(ec2.describe_vpcs()["Vpcs"]),
        "subnets": len(ec2.describe_subnets()["Subnets"]),
        "groups": len(ec2.describe_security_groups()["SecurityGroups"]),
        "routes": len(routes(ec2, table)),
    }
    assert after == before
    assert subnet_id


def test_dry_run_of_an_invalid_request_gives_the_real_error(ec2: Any) -> None:
    vpc_id = make_vpc(ec2)
    igw = attached_igw(ec2, vpc_id)
    table = main_table(ec2, vpc_id)["RouteTableId"]
    assert fails(ec2.create_subnet, DryRun=True, VpcId=vpc_id, CidrBlock="10.0.0.0/29")[0] == "InvalidSubnet.Range"
    assert fails(ec2.create_vpc, DryRun=True, CidrBlock="10.0.0.0/8")[0] == "InvalidVpc.Range"
    assert fails(ec2.create_security_group, DryRun=True, GroupName="sg-1", Description="x")[0] == (
        "InvalidParameterValue"
    )
    assert (
        fails(ec2.create_route, DryRun=True, RouteTableId=table, DestinationCidrBlock=VPC_CIDR, GatewayId=igw)[0]
        == "InvalidParameterValue"
    )


def test_rules_are_catalogued(region: str) -> None:
    import json
    import urllib.request

    with urllib.request.urlopen(region + "/_lab/rules", timeout=10) as response:
        rules = json.load(response)["rules"]
    subnet_rules = [r["rule"] for r in rules if r["action"] == "CreateSubnet"]
    assert any("/16 to /28" in text for text in subnet_rules)
    assert all(r["rule"] and not r["rule"].startswith("guarded") for r in rules)


def test_rules_never_crash_on_odd_input() -> None:
    """Missing, empty or nonsense parameters get an AWS error or go on to moto; a rule never crashes."""
    import random

    from labsupport.region import ec2_rules, patches  # noqa: F401  (rules registered, moto patched)
    from labsupport.region.protocol import EC2_QUERY, AwsError, AwsRequest
    from labsupport.region.rules import _BEFORE, Context

    ctx = Context("123456789012", "us-west-2")
    backend = ctx.backend("ec2")  # an in-process EC2 backend: the rules only read it
    vpc = backend.create_vpc("10.0.0.0/20")
    subnet = backend.create_subnet(vpc.id, "10.0.0.0/24", availability_zone="us-west-2a")
    table = backend.create_route_table(vpc.id)
    igw = backend.create_internet_gateway()
    real = [vpc.id, subnet.id, table.id, igw.id, backend.get_default_security_group(vpc.id).id]
    keys = [
        "CidrBlock", "VpcId", "SubnetId", "AvailabilityZone", "AvailabilityZoneId", "InternetGatewayId",
        "RouteTableId", "DestinationCidrBlock", "GatewayId", "NatGatewayId", "GroupName", "GroupDescription",
        "GroupId", "IpProtocol", "FromPort", "ToPort", "CidrIp", "IpPermissions.1.IpProtocol",
        "IpPermissions.1.FromPort", "IpPermissions.1.ToPort", "IpPermissions.1.IpRanges.1.CidrIp",
        "IpPermissions.1.Ipv6Ranges.1.CidrIpv6", "VpcId.1", "GroupId.1", "NatGatewayId.1", "AllocationId",
        "PrivateIpAddress", "InternetGatewayId.1",
    ]  # fmt: skip
    values = [
        "", " ", "x", "-1", "0", "70000", "tcp", "icmp", "10.0.0.0", "10.0.0.5", "10.0.0.0/20", "10.0.0.0/99",
        "0.0.0.0/0", "::/0", "vpc-0", "igw-0", "nat-0", "us-west-2a", "usw2-az1", "é", "1" * 300, *real,
    ]  # fmt: skip
    rng = random.Random(2026)
    for (service, action), checks in _BEFORE.items():
        if service != "ec2":
            continue
        for check in checks:
            plain = getattr(check, "__wrapped__", check)  # without the guard that would hide a crash
            for attempt in range(100):
                params = {"Action": action}
                if attempt:
                    params.update({key: rng.choice(values) for key in keys if rng.random() < 0.6})
                request = AwsRequest("ec2", action, EC2_QUERY, "us-west-2", params, b"")
                with contextlib.suppress(AwsError):
                    plain(request, ctx)
