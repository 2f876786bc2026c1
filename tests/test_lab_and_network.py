"""The lab entry point (modes, safety), the network builders (idempotence, tags, teardown), catch-up."""

from __future__ import annotations

import pytest

import labsupport.lab as labmod
from labsupport import catchup, chapters, config, network
from labsupport.errors import LabError
from labsupport.lab import Lab, setup


@pytest.fixture
def lab(region: str, monkeypatch: pytest.MonkeyPatch) -> Lab:
    the_lab = Lab(mode="offline", region="us-west-2", config=config.load(), endpoint=region)
    monkeypatch.setattr(labmod, "_current", the_lab)
    return the_lab


def _counts(ec2) -> dict[str, int]:
    return {
        "vpcs": len(ec2.describe_vpcs()["Vpcs"]),
        "subnets": len(ec2.describe_subnets()["Subnets"]),
        "route_tables": len(ec2.describe_route_tables()["RouteTables"]),
        "igws": len(ec2.describe_internet_gateways()["InternetGateways"]),
        "sgs": len(ec2.describe_security_groups()["SecurityGroups"]),
        "nats": len(
            ec2.describe_nat_gateways(Filter=[{"Name": "state", "Values": ["pending", "available"]}])["NatGateways"]
        ),
        "eips": len(ec2.describe_addresses()["Addresses"]),
    }


def test_offline_clients_ignore_real_credentials(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    # Even with a real-looking profile and keys in the environment, offline clients stay local.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA-NOT-A-REAL-KEY")
    monkeypatch.setenv("AWS_PROFILE", "production")
    ec2 = Lab(mode="offline", region="us-west-2", config=lab.config, endpoint=lab.endpoint).client("ec2")
    assert ec2.meta.endpoint_url == lab.endpoint
    creds = ec2._request_signer._credentials  # the keys the client really signs with
    assert creds.access_key == "testing"
    assert ec2.describe_vpcs()["Vpcs"]  # and it answers (the default VPC)


def test_real_aws_needs_the_explicit_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABSUPPORT_ALLOW_REAL_AWS", raising=False)
    with pytest.raises(LabError, match="LABSUPPORT_ALLOW_REAL_AWS=1"):
        setup(mode="aws", quiet=True)


def test_real_aws_refuses_a_lab_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABSUPPORT_ALLOW_REAL_AWS", "1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4747")
    with pytest.raises(LabError, match="unset AWS_ENDPOINT_URL"):
        setup(mode="aws", quiet=True)


def test_unknown_mode_names_the_fix() -> None:
    with pytest.raises(LabError, match="mode='offline'"):
        setup(mode="cloud", quiet=True)


def test_tags_carry_name_and_ownership(lab: Lab) -> None:
    spec = lab.tags("vpc", "x", tier="public")
    keys = {t["Key"]: t["Value"] for t in spec[0]["Tags"]}
    assert keys == {"Name": "x", "lab:workbook": "aws-container-deployments", "tier": "public"}


def test_build_is_idempotent_and_tags_everything(lab: Lab) -> None:
    ec2 = lab.client("ec2")
    first = network.build(lab)
    after_one = _counts(ec2)
    second = network.build(lab)
    assert second == first
    assert _counts(ec2) == after_one
    assert len(first.subnets) == 4
    assert set(first.security_groups) == {"my-app-lb-sg", "my-app-frontend-sg"}
    owned = network.find_all(ec2, "subnet", lab)
    assert {network.name_of(s) for s in owned} == {s.name for s in lab.config.subnets}
    # every private subnet routes to the NAT gateway, every public one to the IGW
    for plan in lab.config.subnets:
        tables = ec2.describe_route_tables(
            Filters=[{"Name": "association.subnet-id", "Values": [first.subnets[plan.name]]}]
        )["RouteTables"]
        assert len(tables) == 1
        default = [r for r in tables[0]["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
        key = "GatewayId" if plan.tier == "public" else "NatGatewayId"
        assert default and default[0].get(key, "").startswith("igw-" if plan.tier == "public" else "nat-")


def test_teardown_deletes_only_what_the_lab_owns(lab: Lab) -> None:
    ec2 = lab.client("ec2")
    before = _counts(ec2)
    # A resource the learner made by hand, without the lab tag, must survive clean-up.
    foreign = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    network.build(lab)
    deleted = network.teardown(lab)
    assert "VPC my-workspace-vpc" in deleted and len(deleted) >= 13
    remaining = {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]}
    assert foreign in remaining
    after = _counts(ec2)
    after["vpcs"] -= 1  # the foreign VPC
    after["route_tables"] -= 1  # its main route table
    after["sgs"] -= 1  # its default security group
    assert after == before


def test_catch_up_builds_what_earlier_chapters_built(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    state = catchup.catch_up(2, lab)
    assert state == {}
    assert "nothing to catch up" in capsys.readouterr().out
    state = catchup.catch_up(4, lab)
    assert state["network"].security_groups
    line = capsys.readouterr().out
    assert line.startswith("caught up: what chapters 02, 03 build is in place")
    # The same line whether or not anything had to be created: notebook outputs stay stable.
    catchup.catch_up(4, lab)
    assert capsys.readouterr().out == line


def test_catch_up_rejects_unknown_chapters(lab: Lab) -> None:
    with pytest.raises(LabError, match="from 0 to 13"):
        catchup.catch_up(42, lab)


def test_find_rejects_unknown_kinds(lab: Lab) -> None:
    with pytest.raises(LabError, match="use one of"):
        network.find(lab.client("ec2"), "vpn", "x", lab)


def test_every_written_chapter_has_its_notebook() -> None:
    for ch in chapters.CHAPTERS:
        if ch.available:
            assert (config.REPO_ROOT / "notebooks" / ch.notebook).exists(), ch.notebook


def test_complete_prints_the_sentinel(capsys: pytest.CaptureFixture[str]) -> None:
    chapters.complete(0)
    assert capsys.readouterr().out.startswith("✔ chapter 00 complete — next: 01_cidr_planning.ipynb")


def test_config_errors_name_the_fix(tmp_path) -> None:
    bad = tmp_path / "lab.json"
    bad.write_text("{not json")
    with pytest.raises(LabError, match="Fix: fix the JSON syntax"):
        config.load(bad)
    bad.write_text("{}")
    with pytest.raises(LabError, match=r"compare it with data/lab\.json"):
        config.load(bad)
    with pytest.raises(LabError, match="use one of"):
        config.load().subnet("nope")
