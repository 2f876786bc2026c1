"""VpcSnapshot: parsing describe-shaped dicts, look-ups, and a live snapshot through moto."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from labsupport.errors import LabError
from labsupport.topology import (
    Route,
    VpcSnapshot,
    example_describe,
    example_snapshot,
    snapshot,
    snapshot_from_describe_map,
    snapshot_from_dicts,
)

PUBLIC_A = "my-workspace-subnet-app-public1-a"
PRIVATE_A = "my-workspace-subnet-app-private1-a"


@pytest.fixture
def data() -> dict:
    return example_describe()


@pytest.fixture
def snap(data: dict) -> VpcSnapshot:
    return snapshot_from_describe_map(data)


def test_vpc_and_subnets_are_parsed_and_sorted_by_az_then_cidr(snap: VpcSnapshot) -> None:
    assert snap.vpc.name == "my-workspace-vpc"
    assert snap.vpc.cidrs == ("10.0.0.0/20",)
    assert [(s.az, s.cidr) for s in snap.subnets] == [
        ("us-west-2a", "10.0.0.0/24"),
        ("us-west-2a", "10.0.1.0/24"),
        ("us-west-2b", "10.0.2.0/24"),
        ("us-west-2b", "10.0.3.0/24"),
    ]
    public = snap.subnet(PUBLIC_A)
    assert public.name == PUBLIC_A  # from the Name tag
    assert public.available_ips == 249
    assert public.first_usable_ip() == "10.0.1.4"
    assert snap.azs == ("us-west-2a", "us-west-2b")


def test_route_tables_keep_main_flag_associations_and_target_kinds(snap: VpcSnapshot) -> None:
    main = snap.main_route_table
    assert main is not None and main.name == "my-workspace-rtb-main" and main.subnet_ids == ()
    public = snap.route_table("my-workspace-rtb-public1-a")
    assert not public.main
    assert len(public.subnet_ids) == 2
    default = public.route_to("0.0.0.0/0")
    assert default == Route("0.0.0.0/0", "igw", "igw-0a1b2c3d4e5f60001", "active")
    private = snap.route_table("my-workspace-rtb-private1-a")
    assert private.route_to("0.0.0.0/0").target_kind == "nat"  # type: ignore[union-attr]
    assert private.route_to("10.0.0.0/20").target_kind == "local"  # type: ignore[union-attr]


def test_gateways_and_interfaces(snap: VpcSnapshot) -> None:
    assert [g.id for g in snap.internet_gateways] == ["igw-0a1b2c3d4e5f60001"]
    (nat,) = snap.nat_gateways
    assert nat.subnet_id == snap.subnet(PUBLIC_A).id
    assert (nat.state, nat.public_ip, nat.name) == ("available", "198.51.100.7", "my-workspace-nat-a")
    eni = snap.interface_for_ip("10.0.0.20")
    assert eni is not None and eni.security_groups == ("sg-0a1b2c3d4e5f60003",)
    assert snap.interface_for_ip("10.0.1.10").public_ip == "198.51.100.10"  # type: ignore[union-attr]


def test_security_group_rules_are_normalised_one_peer_per_rule(snap: VpcSnapshot) -> None:
    lb = snap.security_group("my-app-lb-sg")
    assert [(r.protocol, r.ports, r.peer, r.peer_kind) for r in lb.ingress] == [
        ("tcp", "80", "0.0.0.0/0", "cidr"),
        ("tcp", "9000", "203.0.113.25/32", "cidr"),
    ]
    assert lb.ingress[1].description == "developer"
    (egress,) = lb.egress
    assert (egress.protocol, egress.from_port, egress.to_port, egress.ports) == ("all", None, None, "all")
    app = snap.security_group("sg-0a1b2c3d4e5f60003")
    # A group peer keeps its id (peer) and reads by its group name.
    assert [(r.peer, r.peer_kind, r.peer_label, str(r)) for r in app.ingress] == [
        (lb.id, "sg", "my-app-lb-sg", "tcp 80 from my-app-lb-sg"),
    ]
    default = snap.security_group("default")
    assert str(default.ingress[0]) == "all traffic from default"
    assert default.title == "the VPC's default security group" and lb.title == "security group my-app-lb-sg"


def test_protocol_numbers_port_ranges_and_other_peers_are_normalised() -> None:
    raw = {
        "Vpcs": [{"VpcId": "vpc-1", "CidrBlock": "10.1.0.0/16"}],
        "SecurityGroups": [
            {
                "GroupId": "sg-1",
                "GroupName": "mixed",
                "IpPermissions": [
                    {"IpProtocol": "6", "FromPort": 8000, "ToPort": 8080, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
                    {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
                    {"IpProtocol": "17", "FromPort": 53, "ToPort": 53, "PrefixListIds": [{"PrefixListId": "pl-1"}]},
                ],
            }
        ],
    }
    group = snapshot_from_describe_map(raw).security_group("mixed")
    assert [(r.protocol, r.ports, r.peer, r.peer_kind) for r in group.ingress] == [
        ("tcp", "8000-8080", "10.0.0.0/8", "cidr"),
        ("icmp", "all", "::/0", "cidr"),
        ("udp", "53", "pl-1", "prefix-list"),
    ]
    assert group.egress == ()


def test_from_describe_accepts_responses_pages_and_plain_lists(data: dict) -> None:
    as_responses = VpcSnapshot.from_describe(
        {"Vpcs": data["Vpcs"]},
        [{"Subnets": data["Subnets"][:2]}, {"Subnets": data["Subnets"][2:]}],  # two pages
        data["RouteTables"],
        {"InternetGateways": data["InternetGateways"]},
        data["NatGateways"],
        data["SecurityGroups"],
        data["NetworkInterfaces"],
    )
    assert as_responses == snapshot_from_describe_map(data)
    assert snapshot_from_dicts(data["Vpcs"], data["Subnets"]).subnets == as_responses.subnets


def test_items_of_other_vpcs_and_unattached_gateways_are_dropped(data: dict) -> None:
    other = copy.deepcopy(data)
    other["Vpcs"].append({"VpcId": "vpc-other", "CidrBlock": "172.31.0.0/16"})
    other["Subnets"].append(
        {"SubnetId": "subnet-x", "VpcId": "vpc-other", "CidrBlock": "172.31.0.0/20", "AvailabilityZone": "us-west-2a"}
    )
    other["InternetGateways"].append(
        {"InternetGatewayId": "igw-other", "Attachments": [{"VpcId": "vpc-other", "State": "available"}]}
    )
    snap = snapshot_from_describe_map(other, vpc_id="vpc-0a1b2c3d4e5f60001")
    assert "subnet-x" not in [s.id for s in snap.subnets]
    assert [g.id for g in snap.internet_gateways] == ["igw-0a1b2c3d4e5f60001"]
    with pytest.raises(LabError, match="vpc_id="):
        snapshot_from_describe_map(other)
    with pytest.raises(LabError, match="vpc-nope"):
        snapshot_from_describe_map(other, vpc_id="vpc-nope")


def test_route_targets_read_by_name_and_keep_their_ids(snap: VpcSnapshot) -> None:
    public = snap.route_table("my-workspace-rtb-public1-a")
    default = public.route_to("0.0.0.0/0")
    assert default is not None and default.target_id == "igw-0a1b2c3d4e5f60001"
    assert (default.target_label, default.target_phrase) == ("my-workspace-igw", "internet gateway my-workspace-igw")
    assert str(default) == "0.0.0.0/0 -> my-workspace-igw"
    nat = snap.route_table("my-workspace-rtb-private1-a").route_to("0.0.0.0/0")
    assert nat is not None and nat.target_phrase == "NAT gateway my-workspace-nat-a"
    # A hand-built route knows no names: it reads by its id, and equals the named one.
    bare = Route("0.0.0.0/0", "igw", "igw-0a1b2c3d4e5f60001")
    assert bare == default and bare.target_label == "igw-0a1b2c3d4e5f60001"
    assert bare.target_phrase == "internet gateway igw-0a1b2c3d4e5f60001"


def test_labels_and_titles_without_name_tags(data: dict) -> None:
    for key in ("Vpcs", "Subnets", "RouteTables", "InternetGateways", "NatGateways"):
        for item in data[key]:
            item.pop("Tags", None)
    snap = snapshot_from_describe_map(data)
    assert (snap.vpc.label, snap.vpc.title) == ("VPC 10.0.0.0/20", "VPC 10.0.0.0/20")
    assert snap.summary().startswith("VPC 10.0.0.0/20: 4 subnets")
    subnet = snap.subnets[0]
    assert (subnet.label, subnet.title) == ("subnet 10.0.0.0/24", "subnet 10.0.0.0/24")
    assert snap.subnet("10.0.0.0/24") is subnet and snap.subnet("subnet 10.0.0.0/24") is subnet
    main = snap.main_route_table
    assert main is not None and (main.label, main.title) == ("main", "the main route table")
    (igw,) = snap.internet_gateways
    assert (igw.label, igw.title) == ("the VPC's internet gateway", "the VPC's internet gateway")
    (nat,) = snap.nat_gateways
    assert nat.title == "the NAT gateway at 10.0.1.200"
    named = example_snapshot()
    assert (named.internet_gateways[0].title, named.nat_gateways[0].title) == (
        "internet gateway my-workspace-igw",
        "NAT gateway my-workspace-nat-a",
    )
    assert named.route_table("my-workspace-rtb-main").title == "route table my-workspace-rtb-main"


def test_readable_rewrites_ids_and_the_elastic_ip(snap: VpcSnapshot) -> None:
    text = (
        "resource vpc-0a1b2c3d4e5f60001 is already attached to network gateway igw-0a1b2c3d4e5f60001; "
        "my-app-lb-sg (sg-0a1b2c3d4e5f60002) and sg-0a1b2c3d4e5f60001; route rtb-0a1b2c3d4e5f60003 "
        "-> nat-0a1b2c3d4e5f60001 at 198.51.100.7, not 198.51.100.70; igw-0123456789abcdef0 is gone"
    )
    assert snap.readable(text) == (
        "resource my-workspace-vpc is already attached to network gateway my-workspace-igw; "
        "my-app-lb-sg and default; route my-workspace-rtb-private1-a "
        "-> my-workspace-nat-a at the Elastic IP of NAT gateway my-workspace-nat-a, not 198.51.100.70; "
        "igw-… is gone"
    )
    assert snap.readable("nothing to change: 10.0.1.7") == "nothing to change: 10.0.1.7"
    assert snap.names()["subnet-0a1b2c3d4e5f60002"] == PUBLIC_A


def test_lookups_name_the_fix(snap: VpcSnapshot) -> None:
    assert snap.subnet(PRIVATE_A).id == snap.subnet("subnet-0a1b2c3d4e5f60001").id
    with pytest.raises(LabError) as err:
        snap.subnet("my-workspace-subnet-app-public9-z")
    assert PUBLIC_A in str(err.value) and "Fix:" in str(err.value)
    with pytest.raises(LabError, match="my-app-lb-sg"):
        snap.security_group("no-such-sg")
    with pytest.raises(LabError):
        snap.subnet("")


def test_snapshot_is_frozen_and_summarised(snap: VpcSnapshot) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.vpc.name = "x"  # type: ignore[misc]
    assert snap.summary() == (
        "my-workspace-vpc 10.0.0.0/20: 4 subnets in 2 AZs, 1 IGW, 1 NAT gateway, 3 route tables, 3 security groups"
    )
    assert example_snapshot() == snap


def test_snapshot_rejects_something_that_is_not_a_vpc_id() -> None:
    with pytest.raises(LabError, match="not a VPC id"):
        snapshot(object(), "my-workspace-vpc")


# ---------------------------------------------------------------------- live API through moto
@pytest.fixture
def moto_ec2(monkeypatch: pytest.MonkeyPatch):
    moto = pytest.importorskip("moto")
    import boto3

    for key in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    with moto.mock_aws():
        yield boto3.client("ec2", region_name="us-west-2")


def _tag(kind: str, name: str) -> list[dict]:
    return [{"ResourceType": kind, "Tags": [{"Key": "Name", "Value": name}]}]


def test_snapshot_of_a_live_vpc(moto_ec2) -> None:
    from labsupport.routing import internet_path, is_public_subnet, route_table_for

    ec2 = moto_ec2
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/20", TagSpecifications=_tag("vpc", "my-workspace-vpc"))["Vpc"]["VpcId"]
    private = ec2.create_subnet(
        VpcId=vpc, CidrBlock="10.0.0.0/24", AvailabilityZone="us-west-2a", TagSpecifications=_tag("subnet", PRIVATE_A)
    )["Subnet"]["SubnetId"]
    public = ec2.create_subnet(
        VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-west-2a", TagSpecifications=_tag("subnet", PUBLIC_A)
    )["Subnet"]["SubnetId"]
    igw = ec2.create_internet_gateway(TagSpecifications=_tag("internet-gateway", "my-workspace-igw"))
    igw_id = igw["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc)
    rtb = ec2.create_route_table(VpcId=vpc, TagSpecifications=_tag("route-table", "my-workspace-rtb-public1-a"))
    rtb_id = rtb["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=rtb_id, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw_id)
    ec2.associate_route_table(RouteTableId=rtb_id, SubnetId=public)
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=public, AllocationId=eip)["NatGateway"]["NatGatewayId"]
    prt = ec2.create_route_table(VpcId=vpc, TagSpecifications=_tag("route-table", "my-workspace-rtb-private1-a"))
    prt_id = prt["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=prt_id, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    ec2.associate_route_table(RouteTableId=prt_id, SubnetId=private)
    lb = ec2.create_security_group(GroupName="my-app-lb-sg", Description="lb", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=lb,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    app = ec2.create_security_group(GroupName="my-app-sg", Description="app", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=app,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "UserIdGroupPairs": [{"GroupId": lb}]}],
    )
    # A second VPC's resources must not leak into the snapshot.
    other = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    ec2.create_subnet(VpcId=other, CidrBlock="10.9.0.0/24", AvailabilityZone="us-west-2b")

    snap = snapshot(ec2, vpc)

    assert snap.vpc.name == "my-workspace-vpc" and snap.vpc.cidrs == ("10.0.0.0/20",)
    assert [(s.name, s.cidr, s.az) for s in snap.subnets] == [
        (PRIVATE_A, "10.0.0.0/24", "us-west-2a"),
        (PUBLIC_A, "10.0.1.0/24", "us-west-2a"),
    ]
    assert snap.subnet(PRIVATE_A).available_ips == 251
    assert [g.id for g in snap.internet_gateways] == [igw_id]
    assert [(n.id, n.subnet_id, n.state) for n in snap.nat_gateways] == [(nat, public, "available")]
    assert snap.main_route_table is not None
    assert route_table_for(snap, PUBLIC_A).route_table.id == rtb_id
    assert snap.route_table(rtb_id).route_to("0.0.0.0/0") == Route("0.0.0.0/0", "igw", igw_id, "active")
    assert {g.name for g in snap.security_groups} == {"default", "my-app-lb-sg", "my-app-sg"}
    assert snap.security_group("my-app-sg").ingress[0].peer == lb
    assert bool(is_public_subnet(snap, PUBLIC_A)) and not is_public_subnet(snap, PRIVATE_A)
    assert str(internet_path(snap, PRIVATE_A)) == f"nat via subnet {PUBLIC_A}"
    assert any(e.interface_type == "nat_gateway" or e.subnet_id == public for e in snap.network_interfaces)


def test_snapshot_of_an_unknown_vpc_is_aws_own_error(moto_ec2) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as err:
        snapshot(moto_ec2, "vpc-00000000")
    assert err.value.response["Error"]["Code"] == "InvalidVpcID.NotFound"
