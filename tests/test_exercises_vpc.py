"""Chapter 02's predict-then-check exercises, against a region built by ``network.build``.

Each reference answer is compared with the same fact read straight from the region's describe calls
(not through the exercise code), and ``check`` must tick the right predictions, cross the wrong ones
and ask for a prediction when the learner skipped the question. The answers are live: changing the
network (the main-table trap of the notebook) changes them.
"""

from __future__ import annotations

from typing import Any

import pytest

from labsupport import config, lab, network
from labsupport.errors import LabError
from labsupport.exercises import answer, check, get
from labsupport.exercises_vpc import lab_snapshot

PUBLIC = ["my-workspace-subnet-app-public1-a", "my-workspace-subnet-app-public2-b"]

# key -> (the answer for the network chapter 02 builds, predictions that count as right, ones that do not)
CASES: dict[str, tuple[object, list[object], list[object]]] = {
    "02-nat-free-ips": (250, [250, "250", " 250 "], [251, 256, 249, "two hundred fifty", True, 250.5, None]),
    "02-public-subnets": (
        PUBLIC,
        [
            PUBLIC,
            list(reversed(PUBLIC)),
            set(PUBLIC),
            ("public1-a", "public2-b"),
            ["PUBLIC1-A", " my-workspace-subnet-app-public2-b "],
        ],
        [
            ["public1-a"],
            ["public1-a", "public2-b", "private1-a"],
            ["public"],  # too short: it fits no single subnet
            ["public1-a", "public2-b", "public3-c"],  # not a subnet of the lab
            "public1-a",
            [],
            42,
        ],
    ),
    "02-route-8888": (
        "NAT gateway",
        ["NAT gateway", "nat", "NAT", "nat-gateway", "the NAT gateway", "my-workspace-nat-public1-a"],
        ["internet gateway", "igw", "local", "my-workspace-igw", "", "0.0.0.0/0", 8],
    ),
}
KEYS = sorted(CASES)


@pytest.fixture
def offline_lab(region: str, monkeypatch: pytest.MonkeyPatch) -> lab.Lab:
    """A lab on the test session's region (freshly reset), set as the kernel's current lab."""
    current = lab.Lab(mode="offline", region="us-west-2", config=config.load(), endpoint=region)
    monkeypatch.setattr(lab, "_current", current)
    return current


@pytest.fixture
def config_lab(monkeypatch: pytest.MonkeyPatch) -> lab.Lab:
    """A lab whose region is never contacted: judging a prediction only reads the configuration."""
    current = lab.Lab(mode="offline", region="us-west-2", config=config.load(), endpoint="http://127.0.0.1:9")
    monkeypatch.setattr(lab, "_current", current)
    return current


@pytest.fixture
def built(offline_lab: lab.Lab) -> network.Network:
    """The network chapter 02 builds (security groups are chapter 03's)."""
    return network.build(offline_lab, security_groups=False)


def _table_of(ec2: Any, subnet_id: str) -> dict[str, Any]:
    by_subnet = [{"Name": "association.subnet-id", "Values": [subnet_id]}]
    return ec2.describe_route_tables(Filters=by_subnet)["RouteTables"][0]


def _verdict(capsys: pytest.CaptureFixture[str], key: str, prediction: object) -> str:
    check(key, prediction)
    return capsys.readouterr().out


# -- reference answers, against the region itself ---------------------------------------------


def test_reference_answers_are_what_the_region_says(offline_lab: lab.Lab, built: network.Network) -> None:
    ec2 = offline_lab.client("ec2")
    subnets = {
        network.name_of(s): s
        for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [built.vpc_id]}])["Subnets"]
    }

    # The NAT gateway sits in public1-a, and its interface is the only thing that took an address.
    nat = ec2.describe_nat_gateways(NatGatewayIds=[built.nat_gateway_id])["NatGateways"][0]
    assert nat["SubnetId"] == subnets["my-workspace-subnet-app-public1-a"]["SubnetId"]
    assert answer("02-nat-free-ips") == subnets["my-workspace-subnet-app-public1-a"]["AvailableIpAddressCount"]
    assert sorted(s["AvailableIpAddressCount"] for s in subnets.values()) == [250, 251, 251, 251]

    # Public: the subnet's own table sends 0.0.0.0/0 to the internet gateway.
    public = [
        name
        for name, subnet in subnets.items()
        if any(
            r.get("DestinationCidrBlock") == "0.0.0.0/0" and r.get("GatewayId") == built.internet_gateway_id
            for r in _table_of(ec2, subnet["SubnetId"])["Routes"]
        )
    ]
    assert answer("02-public-subnets") == sorted(public)

    # From private1-a, only 0.0.0.0/0 contains 8.8.8.8, and it points at the NAT gateway.
    routes = _table_of(ec2, built.subnets["my-workspace-subnet-app-private1-a"])["Routes"]
    assert [r.get("NatGatewayId") for r in routes if r["DestinationCidrBlock"] == "0.0.0.0/0"] == [built.nat_gateway_id]
    assert answer("02-route-8888") == "NAT gateway"

    for key in KEYS:
        assert answer(key) == CASES[key][0], key


# -- judging predictions -----------------------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_same_accepts_the_right_forms_and_nothing_else(key: str, config_lab: lab.Lab) -> None:
    # Judging needs no AWS call: only the lab's configuration (for subnet and gateway names).
    truth, right, wrong = CASES[key]
    judge = get(key).same
    assert [p for p in right if not judge(p, truth)] == []
    assert [p for p in wrong if judge(p, truth)] == []


def test_check_prints_a_tick_or_a_cross_with_an_explanation_that_names_no_ids(
    built: network.Network, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = [built.vpc_id, built.internet_gateway_id, built.nat_gateway_id]
    ids += [*built.subnets.values(), *built.route_tables.values()]
    for key in KEYS:
        truth, right, wrong = CASES[key]
        out = _verdict(capsys, key, right[0])
        assert out.startswith("✔ right") and "✘" not in out, out
        assert "my-workspace" in out
        assert [i for i in ids if i in out] == [], out

        out = _verdict(capsys, key, wrong[0])
        assert out.startswith("✘ not quite"), out
        assert f"you said {wrong[0]!r}, the answer is {truth!r}" in out


def test_explanations_state_the_facts(built: network.Network, capsys: pytest.CaptureFixture[str]) -> None:
    out = _verdict(capsys, "02-nat-free-ips", 250)
    assert "256 - 5 - 1 = 250" in out and "(10.0.1.4)" in out and "NAT gateway my-workspace-nat-public1-a" in out
    out = _verdict(capsys, "02-public-subnets", PUBLIC)
    assert "2 of 4 subnets are public" in out
    assert (
        "my-workspace-subnet-app-public2-b: public, its route table my-workspace-rtb-public sends 0.0.0.0/0 to "
        "my-workspace-igw" in out
    )
    assert (
        "my-workspace-subnet-app-private2-b: private, its route table my-workspace-rtb-private2-b sends 0.0.0.0/0 "
        "to my-workspace-nat-public1-a" in out
    )
    out = _verdict(capsys, "02-route-8888", "nat")
    assert "uses route table my-workspace-rtb-private1-a" in out
    assert "so it goes to NAT gateway my-workspace-nat-public1-a" in out
    assert "10.0.0.0/20 does not contain it" in out


def test_skipped_exercises_ask_for_a_prediction_even_before_anything_is_built(
    offline_lab: lab.Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in KEYS:
        out = _verdict(capsys, key, None)
        assert out.startswith("❓ " + get(key).question), out
        assert "✔" not in out and "✘" not in out


def test_checking_before_building_says_what_to_run(offline_lab: lab.Lab) -> None:
    for key in KEYS:
        with pytest.raises(LabError) as err:
            check(key, CASES[key][1][0])
        assert "my-workspace-vpc does not exist yet" in err.value.problem
        assert "chapter 02" in err.value.fix and "catch_up(3)" in err.value.fix


def test_nat_question_before_the_nat_gateway_exists(offline_lab: lab.Lab) -> None:
    network.build(offline_lab, nat=False, security_groups=False)
    with pytest.raises(LabError) as err:
        answer("02-nat-free-ips")
    assert "no NAT gateway" in err.value.problem and "step 6" in err.value.fix
    # Without a NAT gateway the private subnets have no default route: 8.8.8.8 goes nowhere.
    assert answer("02-route-8888") == "no route"


# -- the answers are live ----------------------------------------------------------------------


def test_the_main_table_trap_and_a_changed_default_route_change_the_answers(
    offline_lab: lab.Lab, built: network.Network, capsys: pytest.CaptureFixture[str]
) -> None:
    ec2 = offline_lab.client("ec2")

    # Forget public2-b's association: it falls back to the main table and becomes private.
    subnet_id = built.subnets["my-workspace-subnet-app-public2-b"]
    table = _table_of(ec2, subnet_id)
    association = next(a for a in table["Associations"] if a.get("SubnetId") == subnet_id)
    ec2.disassociate_route_table(AssociationId=association["RouteTableAssociationId"])
    assert answer("02-public-subnets") == ["my-workspace-subnet-app-public1-a"]
    out = _verdict(capsys, "02-public-subnets", PUBLIC)
    assert out.startswith("✘ not quite") and "public2-b: private, the main route table has no 0.0.0.0/0 route" in out

    # Point private1-a's default route at the internet gateway: now it is public, and 8.8.8.8 goes there.
    table_id = built.route_tables["my-workspace-rtb-private1-a"]
    ec2.replace_route(RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0", GatewayId=built.internet_gateway_id)
    assert answer("02-route-8888") == "internet gateway"
    assert answer("02-public-subnets") == ["my-workspace-subnet-app-private1-a", "my-workspace-subnet-app-public1-a"]

    # The idempotent builder repairs both.
    network.build(offline_lab, security_groups=False)
    assert answer("02-public-subnets") == PUBLIC
    assert answer("02-route-8888") == "NAT gateway"


def test_the_live_snapshot_reads_by_name(offline_lab: lab.Lab, built: network.Network) -> None:
    """The lab's resources all carry Name tags; the main route table, which AWS creates, reads as a role."""
    snap = lab_snapshot(offline_lab)
    main = snap.main_route_table
    assert main is not None and (main.label, main.title) == ("main", "the main route table")
    text = f"{built.nat_gateway_id} {built.internet_gateway_id} {main.id} {built.vpc_id} 8.8.8.8"
    assert snap.readable(text) == "my-workspace-nat-public1-a my-workspace-igw main my-workspace-vpc 8.8.8.8"
