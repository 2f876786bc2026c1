"""The VPC diagram, the route figure, and the two widgets built on them."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from matplotlib.figure import Figure

from labsupport.diagram import COLOURS, describe_lines, draw_vpc, figure_to_png
from labsupport.errors import LabError
from labsupport.topology import Route, RouteTable, VpcSnapshot, example_describe, snapshot_from_describe_map
from labsupport.widgets.route_explorer import RouteExplorer, route_explorer, route_figure
from labsupport.widgets.vpc_diagram import VpcDiagram, vpc_diagram, vpc_status

PNG = b"\x89PNG\r\n\x1a\n"
PUBLIC_A = "my-workspace-subnet-app-public1-a"
PRIVATE_A = "my-workspace-subnet-app-private1-a"
PRIVATE_B = "my-workspace-subnet-app-private2-b"


def build(change=None) -> VpcSnapshot:
    data = example_describe()
    if change is not None:
        change(data)
    return snapshot_from_describe_map(data)


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def add_subnets(data: dict, *specs: tuple[str, str, str]) -> None:
    for i, (name, cidr, az) in enumerate(specs):
        data["Subnets"].append(
            {
                "SubnetId": f"subnet-0e{i:015d}",
                "VpcId": data["Vpcs"][0]["VpcId"],
                "CidrBlock": cidr,
                "AvailabilityZone": az,
                "Tags": [{"Key": "Name", "Value": name}],
            }
        )


# ---------------------------------------------------------------------- draw_vpc
def test_diagram_of_the_sample_vpc() -> None:
    snap = build()
    fig = draw_vpc(snap)
    words = texts(fig)
    assert isinstance(fig, Figure)
    assert "us-west-2a" in words and "us-west-2b" in words
    assert words.count("PUBLIC") == 2 and words.count("PRIVATE") == 2
    assert any("10.0.0.0/20" in w for w in words)
    assert any(w.startswith("10.0.1.0/24") and "249 free IPs" in w for w in words)
    assert any("route table: my-workspace-rtb-public1-a" in w for w in words)
    assert any(w.startswith("NAT my-workspace-nat-a") for w in words)
    assert any(w.startswith("IGW my-workspace-igw") for w in words)
    png = figure_to_png(fig)
    assert png.startswith(PNG)


def test_colours_follow_routing_not_names() -> None:
    def misleading(data: dict) -> None:
        data["Subnets"][0]["Tags"] = [{"Key": "Name", "Value": "called-public-but-is-not"}]

    fig = draw_vpc(build(misleading))
    ax = fig.axes[0]
    by_text = {t.get_text(): t for t in ax.texts}
    name = by_text["called-public-but-is-not"]
    # The PUBLIC/PRIVATE tag on the same row as the name.
    tag = next(
        t
        for t in ax.texts
        if t.get_text() in ("PUBLIC", "PRIVATE")
        and t.get_position()[1] == name.get_position()[1]
        and abs(t.get_position()[0] - name.get_position()[0]) < 4
    )
    assert tag.get_text() == "PRIVATE"
    facecolours = {tuple(round(c, 3) for c in p.get_facecolor()) for p in ax.patches}
    from matplotlib.colors import to_rgba

    assert tuple(round(c, 3) for c in to_rgba(COLOURS["public"])) in facecolours
    assert tuple(round(c, 3) for c in to_rgba(COLOURS["private"])) in facecolours


def test_diagram_is_deterministic() -> None:
    assert figure_to_png(draw_vpc(build())) == figure_to_png(draw_vpc(build()))


@pytest.mark.parametrize("layout", ["empty", "one-az", "three-az-six-subnets", "main-fallback", "nat-in-private"])
def test_diagram_renders_every_layout(layout: str) -> None:
    data = example_describe()
    if layout == "empty":
        data = {"Vpcs": data["Vpcs"]}
    elif layout == "one-az":
        data["Subnets"] = [s for s in data["Subnets"] if s["AvailabilityZone"] == "us-west-2a"]
    elif layout == "three-az-six-subnets":
        add_subnets(data, ("extra-c1", "10.0.4.0/24", "us-west-2c"), ("extra-c2", "10.0.5.0/24", "us-west-2c"))
    elif layout == "main-fallback":
        data["RouteTables"][2]["Associations"] = []
    else:
        data["NatGateways"][0]["SubnetId"] = "subnet-0a1b2c3d4e5f60004"
    snap = snapshot_from_describe_map(data)
    fig = draw_vpc(snap)
    words = texts(fig)
    assert figure_to_png(fig).startswith(PNG)
    assert words.count("PUBLIC") + words.count("PRIVATE") == len(snap.subnets)
    if layout == "empty":
        assert any("no subnets yet" in w for w in words)
    if layout == "three-az-six-subnets":
        assert {"us-west-2a", "us-west-2b", "us-west-2c"} <= set(words)
        width, _ = fig.get_size_inches()
        assert width > draw_vpc(build()).get_size_inches()[0]
    if layout == "main-fallback":
        assert any("(main, implicit)" in w for w in words)


def test_describe_lines_say_public_or_private() -> None:
    lines = describe_lines(build())
    assert lines[0].startswith("my-workspace-vpc 10.0.0.0/20: 4 subnets")
    assert any(PRIVATE_B in line and "private -> nat via subnet" in line for line in lines)


# ---------------------------------------------------------------------- route_figure
def test_route_figure_highlights_the_winner() -> None:
    rt = RouteTable(
        "rtb-t",
        "test",
        False,
        (),
        (
            Route("0.0.0.0/0", "igw", "igw-1"),
            Route("10.0.0.0/20", "local", "local"),
            Route("10.0.2.0/24", "eni", "eni-1"),
        ),
    )
    fig = route_figure(rt, "10.0.2.9")
    words = texts(fig)
    assert any("/24 → eni-1" in w and "WINNER" in w for w in words)
    assert any("/20 → local" in w and "matches, less specific" in w for w in words)
    other = route_figure(rt, "10.0.3.9")
    assert any("/24 → eni-1" in w and "no match (bit 23 differs)" in w for w in texts(other))
    assert figure_to_png(fig) != figure_to_png(other)
    with pytest.raises(LabError):
        route_figure(rt, "10.0.2.999")


# ---------------------------------------------------------------------- route explorer widget
def test_route_explorer_updates_png_and_status() -> None:
    widget = route_explorer(build())
    assert isinstance(widget, RouteExplorer)
    assert "lab-status" in widget.status._dom_classes
    first_png = bytes(widget.image.value)
    assert first_png.startswith(PNG)
    assert "stays inside the VPC" in widget.status.value  # default: a host in the first subnet
    assert "explicitly associated" in widget.table_info.value

    widget.destination.value = "8.8.8.8"
    assert "so it goes to NAT gateway" in widget.status.value
    assert bytes(widget.image.value) != first_png

    nat_png = bytes(widget.image.value)
    widget.subnet.value = build().subnet(PUBLIC_A).id
    assert "internet gateway" in widget.status.value
    assert bytes(widget.image.value) != nat_png
    assert widget.decision is not None and widget.decision.outcome == "igw"


def test_route_explorer_shows_bad_ip_in_the_status() -> None:
    widget = route_explorer(build())
    good_png = bytes(widget.image.value)
    widget.destination.value = "10.0.1.300"
    assert "Error" in widget.status.value and "not an IP address" in widget.status.value
    assert "Fix:" in widget.status.value
    assert widget.decision is None
    assert bytes(widget.image.value) == good_png  # the old picture stays; the status says why
    widget.destination.value = "10.0.1.7"
    assert "Error" not in widget.status.value


def test_route_explorer_presets_and_show() -> None:
    widget = route_explorer(build())
    widget.presets[1].click()
    assert widget.destination.value == "8.8.8.8"
    widget.presets[0].click()
    assert widget.destination.value == "10.0.0.7"
    widget.presets[2].click()
    assert widget.destination.value == "10.0.1.7"
    decision = widget.show(PRIVATE_B, "10.0.2.9")
    assert decision is not None and decision.outcome == "local"
    assert widget.subnet.value == build().subnet(PRIVATE_B).id


def test_route_explorer_main_table_and_empty_vpc() -> None:
    snap = build(lambda d: d["RouteTables"][2].update(Associations=[]))
    widget = route_explorer(snap)
    widget.show(PRIVATE_A, "8.8.8.8")
    assert "dropped: no route" in widget.status.value
    assert "main route table" in widget.table_info.value

    empty = route_explorer(snapshot_from_describe_map({"Vpcs": example_describe()["Vpcs"]}))
    assert "no subnets yet" in empty.status.value and "Fix:" in empty.status.value
    empty.presets[0].click()
    assert "Error" in empty.status.value


# ---------------------------------------------------------------------- VPC diagram widget
class FakeEC2:
    """Answers the describe calls from describe-shaped dicts (no pagination), like a tiny region."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.fail: Exception | None = None

    def can_paginate(self, _operation: str) -> bool:
        return False

    def _answer(self, key: str) -> dict[str, Any]:
        if self.fail is not None:
            raise self.fail
        return {key: copy.deepcopy(self.data.get(key, []))}

    def describe_vpcs(self, **_: Any) -> dict[str, Any]:
        return self._answer("Vpcs")

    def describe_subnets(self, **_: Any) -> dict[str, Any]:
        return self._answer("Subnets")

    def describe_route_tables(self, **_: Any) -> dict[str, Any]:
        return self._answer("RouteTables")

    def describe_internet_gateways(self, **_: Any) -> dict[str, Any]:
        return self._answer("InternetGateways")

    def describe_nat_gateways(self, **_: Any) -> dict[str, Any]:
        return self._answer("NatGateways")

    def describe_security_groups(self, **_: Any) -> dict[str, Any]:
        return self._answer("SecurityGroups")

    def describe_network_interfaces(self, **_: Any) -> dict[str, Any]:
        return self._answer("NetworkInterfaces")


def test_vpc_diagram_refresh_redraws_and_reports() -> None:
    ec2 = FakeEC2(example_describe())
    widget = vpc_diagram(ec2, "vpc-0a1b2c3d4e5f60001")
    assert isinstance(widget, VpcDiagram)
    assert "lab-status" in widget.status._dom_classes
    assert "4 subnets in 2 AZs, 1 IGW, 1 NAT gateway" in widget.status.value
    assert "2 public, 2 private" in widget.status.value
    before = bytes(widget.image.value)
    assert before.startswith(PNG)

    add_subnets(ec2.data, ("extra-c1", "10.0.4.0/24", "us-west-2c"))
    widget.button.click()
    assert "5 subnets in 3 AZs" in widget.status.value and "2 public, 3 private" in widget.status.value
    assert bytes(widget.image.value) != before
    assert widget.snapshot is not None and len(widget.snapshot.subnets) == 5


def test_vpc_diagram_errors_show_in_the_status() -> None:
    from botocore.exceptions import ClientError

    ec2 = FakeEC2(example_describe())
    widget = vpc_diagram(ec2, "vpc-0a1b2c3d4e5f60001")
    good = bytes(widget.image.value)
    ec2.fail = ClientError(
        {"Error": {"Code": "InvalidVpcID.NotFound", "Message": "VpcID vpc-0a1b2c3d4e5f60001 does not exist."}},
        "DescribeVpcs",
    )
    widget.button.click()
    assert "Error" in widget.status.value and "InvalidVpcID.NotFound" in widget.status.value
    assert bytes(widget.image.value) == good
    assert widget.refresh() is None

    bad_id = vpc_diagram(ec2, "my-workspace-vpc")
    assert "not a VPC id" in bad_id.status.value and "Fix:" in bad_id.status.value


def test_vpc_status_widget_free() -> None:
    assert vpc_status(build()).endswith("; 2 public, 2 private")
