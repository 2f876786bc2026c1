"""Longest prefix match, main-table fallback, public vs private, and the way out to the internet."""

from __future__ import annotations

import copy
import re

import pytest

from labsupport.errors import LabError
from labsupport.routing import explain_route, internet_path, is_public_subnet, parse_ip, route_table_for
from labsupport.topology import Route, RouteTable, VpcSnapshot, example_describe, snapshot_from_describe_map

PUBLIC_A = "my-workspace-subnet-app-public1-a"
PUBLIC_B = "my-workspace-subnet-app-public2-b"
PRIVATE_A = "my-workspace-subnet-app-private1-a"
PRIVATE_B = "my-workspace-subnet-app-private2-b"
IGW = "igw-0a1b2c3d4e5f60001"
NAT = "nat-0a1b2c3d4e5f60001"
IGW_NAME = "my-workspace-igw"
NAT_NAME = "my-workspace-nat-a"
ID = re.compile(r"\b(?:vpc|subnet|rtb|igw|nat|sg|eni)-[0-9a-f]{8,17}\b")


def build(change=None) -> VpcSnapshot:
    data = example_describe()
    if change is not None:
        change(data)
    return snapshot_from_describe_map(data)


def table(*routes: Route) -> RouteTable:
    return RouteTable("rtb-test", "test-rtb", False, (), routes)


@pytest.fixture
def snap() -> VpcSnapshot:
    return build()


# ---------------------------------------------------------------------- longest prefix match
def test_more_specific_route_wins_whatever_the_order() -> None:
    routes = [
        Route("0.0.0.0/0", "igw", IGW),
        Route("10.0.0.0/20", "local", "local"),
        Route("10.0.2.0/24", "nat", NAT),
    ]
    for order in (routes, routes[::-1], [routes[1], routes[0], routes[2]]):
        decision = explain_route(table(*order), "10.0.2.9")
        assert decision.winner == Route("10.0.2.0/24", "nat", NAT)
        assert [r.destination for r in decision.matches] == ["10.0.2.0/24", "10.0.0.0/20", "0.0.0.0/0"]
        assert decision.outcome == "nat"
        assert "/24 is the most specific" in decision.reason
    # Outside the /24 but inside the VPC the /20 local route wins.
    assert explain_route(table(*routes), "10.0.3.9").outcome == "local"
    assert explain_route(table(*routes), "10.0.16.1").outcome == "igw"  # just past the /20


def test_reason_sentence_for_an_address_in_the_vpc(snap: VpcSnapshot) -> None:
    decision = explain_route(snap.route_table("my-workspace-rtb-public1-a"), "10.0.1.7")
    assert str(decision) == (
        f"10.0.1.7 matches 10.0.0.0/20 (local) and 0.0.0.0/0 ({IGW_NAME}); /20 is more specific, so it stays inside "
        "the VPC"
    )
    assert decision.outcome == "local" and not decision.dropped


def test_internet_address_takes_the_default_route(snap: VpcSnapshot) -> None:
    public = explain_route(snap.route_table("my-workspace-rtb-public1-a"), "8.8.8.8")
    assert public.outcome == "igw" and public.matches == (Route("0.0.0.0/0", "igw", IGW),)
    assert public.reason == (
        f"8.8.8.8 matches only 0.0.0.0/0 ({IGW_NAME}), so it leaves the VPC through internet gateway {IGW_NAME}"
    )
    private = explain_route(snap.route_table("my-workspace-rtb-private1-a"), "8.8.8.8")
    assert private.outcome == "nat" and private.reason.endswith(f"so it goes to NAT gateway {NAT_NAME}")
    assert private.winner is not None and private.winner.target_id == NAT  # the id stays on the route


def test_no_route_means_dropped(snap: VpcSnapshot) -> None:
    decision = explain_route(snap.main_route_table, "8.8.8.8")  # type: ignore[arg-type]
    assert decision.outcome == "dropped" and decision.dropped and decision.winner is None
    assert decision.reason.startswith("dropped: no route")


def test_a_winning_blackhole_drops_without_falling_back() -> None:
    rt = table(
        Route("10.0.0.0/20", "local", "local"),
        Route("0.0.0.0/0", "igw", IGW),
        Route("10.0.3.0/24", "nat", "nat-gone", "blackhole"),
    )
    decision = explain_route(rt, "10.0.3.9")
    assert decision.outcome == "blackhole" and decision.dropped
    assert "blackhole" in decision.reason and "does not fall back" in decision.reason


def test_prefix_list_and_ipv6_routes_do_not_match_an_ipv4_address() -> None:
    rt = table(
        Route("pl-68a54001", "vpc-endpoint", "vpce-1"),
        Route("::/0", "egress-only-igw", "eigw-1"),
        Route("10.0.0.0/20", "local", "local"),
    )
    decision = explain_route(rt, "10.0.0.9")
    assert decision.outcome == "local"
    assert [r.destination for r in decision.skipped] == ["pl-68a54001"]
    assert explain_route(rt, "2001:db8::1").outcome == "egress-only-igw"


@pytest.mark.parametrize("bad", ["10.0.1.300", "8.8.8", "", "hello", None, 42])
def test_bad_ip_is_a_lab_error_with_a_fix(bad: object) -> None:
    with pytest.raises(LabError, match="Fix:"):
        explain_route(table(Route("0.0.0.0/0", "igw", IGW)), bad)  # type: ignore[arg-type]


def test_a_cidr_instead_of_an_ip_says_drop_the_prefix() -> None:
    with pytest.raises(LabError, match="without the /prefix"):
        parse_ip("10.0.1.0/24")


# ---------------------------------------------------------------------- which table
def test_explicit_association_is_reported(snap: VpcSnapshot) -> None:
    choice = route_table_for(snap, PUBLIC_A)
    assert choice.explicit and choice.association == "explicit"
    assert choice.route_table.name == "my-workspace-rtb-public1-a"
    assert "explicitly associated" in choice.reason


def test_unassociated_subnet_falls_back_to_the_main_table() -> None:
    def forget_private_b(data: dict) -> None:
        # Only private1-a stays associated with the private table; private2-b loses its association.
        data["RouteTables"][2]["Associations"] = [{"Main": False, "SubnetId": "subnet-0a1b2c3d4e5f60001"}]

    snap = build(forget_private_b)
    choice = route_table_for(snap, PRIVATE_B)
    assert not choice.explicit and choice.association == "main"
    assert choice.route_table.name == "my-workspace-rtb-main"
    assert "main route table" in choice.reason and "trap" in choice.reason
    verdict = is_public_subnet(snap, PRIVATE_B)
    assert not verdict and "the VPC's main route table my-workspace-rtb-main (used because" in verdict.reason
    assert str(internet_path(snap, PRIVATE_B)) == "none"


def test_main_table_missing_from_hand_built_data_names_the_fix() -> None:
    def drop_main_and_one_association(data: dict) -> None:
        data["RouteTables"].pop(0)  # the main table
        data["RouteTables"][1]["Associations"].pop()  # private2-b is now unassociated

    snap = build(drop_main_and_one_association)
    assert route_table_for(snap, PRIVATE_A).explicit
    with pytest.raises(LabError, match="main route table"):
        route_table_for(snap, PRIVATE_B)


def test_unknown_subnet_lists_the_known_names(snap: VpcSnapshot) -> None:
    with pytest.raises(LabError) as err:
        is_public_subnet(snap, "my-workspace-subnet-app-public3-c")
    for name in (PUBLIC_A, PUBLIC_B, PRIVATE_A, PRIVATE_B):
        assert name in str(err.value)


# ---------------------------------------------------------------------- public or private
def test_public_and_private_are_route_table_facts(snap: VpcSnapshot) -> None:
    for name in (PUBLIC_A, PUBLIC_B):
        verdict = is_public_subnet(snap, name)
        assert verdict and verdict.public
        assert f"sends 0.0.0.0/0 to internet gateway {IGW_NAME}" in verdict.reason
        assert verdict.default_route is not None and verdict.default_route.target_id == IGW
        assert "route-table fact, not a subnet setting" in verdict.reason
    for name in (PRIVATE_A, PRIVATE_B):
        verdict = is_public_subnet(snap, name)
        assert not verdict
        assert f"NAT gateway {NAT_NAME}, not to an internet gateway" in verdict.reason
    # By id works too.
    assert is_public_subnet(snap, "subnet-0a1b2c3d4e5f60002")


def test_a_subnet_named_public_on_the_private_table_is_private() -> None:
    def rename_and_move(data: dict) -> None:
        data["Subnets"][0]["Tags"] = [{"Key": "Name", "Value": "definitely-public"}]

    snap = build(rename_and_move)
    assert not is_public_subnet(snap, "definitely-public")


def test_detached_or_blackhole_gateway_route_is_not_public() -> None:
    detached = build(lambda d: d["InternetGateways"].clear())
    verdict = is_public_subnet(detached, PUBLIC_A)
    assert not verdict and "not attached" in verdict.reason

    def blackhole(data: dict) -> None:
        data["RouteTables"][1]["Routes"][0]["State"] = "blackhole"

    verdict = is_public_subnet(build(blackhole), PUBLIC_A)
    assert not verdict and "blackhole" in verdict.reason


# ---------------------------------------------------------------------- the way out
def test_internet_path_igw_and_nat(snap: VpcSnapshot) -> None:
    direct = internet_path(snap, PUBLIC_A)
    assert direct.kind == "igw" and str(direct) == "igw" and not direct.broken
    assert "public IPv4 address" in direct.explanation and "MapPublicIpOnLaunch is off" in direct.explanation
    via = internet_path(snap, PRIVATE_B)
    assert via.kind == "nat" and str(via) == f"nat via subnet {PUBLIC_A}"
    assert via.nat_gateway is not None and via.nat_gateway.id == NAT
    assert via.internet_gateway_id == direct.internet_gateway_id == IGW
    assert f"through NAT gateway {NAT_NAME} in public subnet {PUBLIC_A}" in via.explanation
    assert f"through internet gateway {IGW_NAME}" in via.explanation
    assert "nothing on the internet can open a connection" in via.explanation


def test_nat_gateway_in_a_private_subnet_breaks_the_path() -> None:
    snap = build(lambda d: d["NatGateways"][0].update(SubnetId="subnet-0a1b2c3d4e5f60001"))
    path = internet_path(snap, PRIVATE_B)
    assert path.kind == "none" and path.broken and str(path) == "none"
    assert "must sit in a public subnet" in path.explanation
    assert PRIVATE_A in path.explanation


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"State": "pending"}, "'pending', not 'available'"),
        ({"ConnectivityType": "private"}, "private* NAT gateway"),
    ],
)
def test_unusable_nat_gateway_is_reported(change: dict, words: str) -> None:
    snap = build(lambda d: d["NatGateways"][0].update(change))
    path = internet_path(snap, PRIVATE_A)
    assert path.kind == "none" and path.broken and words in path.explanation


def test_route_to_a_vanished_nat_gateway_is_broken() -> None:
    snap = build(lambda d: d["NatGateways"].clear())
    path = internet_path(snap, PRIVATE_A)
    assert path.broken and "does not exist" in path.explanation


def test_no_default_route_means_no_internet() -> None:
    snap = build(lambda d: d["RouteTables"][2]["Routes"].pop())
    path = internet_path(snap, PRIVATE_A)
    assert path.kind == "none" and not path.broken and "no 0.0.0.0/0 route" in path.explanation


def test_snapshot_data_is_not_shared_between_builds() -> None:
    first = example_describe()
    second = copy.deepcopy(first)
    first["Subnets"].clear()
    assert len(snapshot_from_describe_map(second).subnets) == 4
    assert len(example_describe()["Subnets"]) == 4


# ---------------------------------------------------------------------- names, not ids
def test_no_text_names_a_resource_by_id(snap: VpcSnapshot) -> None:
    texts = []
    for subnet in snap.subnets:
        texts += [route_table_for(snap, subnet).reason, is_public_subnet(snap, subnet).reason]
        texts.append(internet_path(snap, subnet).explanation)
    for rt in snap.route_tables:
        texts += [explain_route(rt, ip).reason for ip in ("10.0.2.15", "8.8.8.8")]
        texts += [str(route) for route in rt.routes]
    assert [t for t in texts if ID.search(t)] == []


def test_resources_without_a_name_tag_get_a_role_word() -> None:
    def unname(data: dict) -> None:
        # AWS creates the main table without a Name tag; say the gateways were created without one too.
        for item in (data["RouteTables"][0], *data["InternetGateways"], *data["NatGateways"]):
            item.pop("Tags")
        data["RouteTables"][2]["Associations"] = []  # the private subnets fall back to the main table
        data["RouteTables"][0]["Routes"].append(
            {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": NAT, "State": "active"}
        )

    snap = build(unname)
    choice = route_table_for(snap, PRIVATE_A)
    assert choice.reason.startswith(f"{PRIVATE_A} has no explicit route table association, so it uses the VPC's main")
    assert choice.route_table.label == "main" and choice.route_table.title == "the main route table"
    verdict = is_public_subnet(snap, PUBLIC_A)
    assert "sends 0.0.0.0/0 to the VPC's internet gateway." in verdict.reason
    decision = explain_route(choice.route_table, "8.8.8.8")
    assert decision.reason.endswith("so it goes to the NAT gateway at 10.0.1.200")
    path = internet_path(snap, PRIVATE_A)
    assert "through the NAT gateway at 10.0.1.200 in public subnet" in path.explanation
    assert "through the VPC's internet gateway" in path.explanation
    assert not ID.search(choice.reason + verdict.reason + decision.reason + path.explanation)


def test_a_target_the_snapshot_does_not_hold_is_named_by_its_id() -> None:
    # A deleted NAT gateway is not in the snapshot: its id is the only name it has.
    rt = table(Route("10.0.0.0/20", "local", "local"), Route("0.0.0.0/0", "nat", "nat-0123456789abcdef0", "blackhole"))
    decision = explain_route(rt, "8.8.8.8")
    assert "its target, NAT gateway nat-0123456789abcdef0, is gone" in decision.reason
