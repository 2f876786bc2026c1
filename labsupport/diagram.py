"""Draw a VPC as built: AZ columns, public/private subnets, gateways and the 0.0.0.0/0 paths.

The picture is decided by the data, never by names: a subnet is drawn public (green) only if its
route table sends 0.0.0.0/0 to an attached internet gateway, whatever its Name tag says. That is
the point of drawing it: a subnet called "public" that is not public shows up blue.

Layout is deterministic (AZs sorted, subnets by CIDR inside an AZ) so the same VPC always gives
the same PNG. Arrows follow lanes between the AZ columns so they do not cross subnet boxes:
green lanes lead to the internet gateway, orange lanes to a NAT gateway, red ones are routes that
exist but lead nowhere useful (a NAT gateway in a private subnet, for example).
"""

from __future__ import annotations

import io
import textwrap

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch, Patch, Rectangle

from .routing import internet_path, is_public_subnet, route_table_for
from .topology import NatGateway, Subnet, VpcSnapshot

__all__ = ["COLOURS", "describe_lines", "draw_vpc", "figure_to_png"]

#: The palette, shared with the widgets so legends agree.
COLOURS = {
    "public": "#cfeccf",
    "public_edge": "#2e7d32",
    "private": "#d6e6f7",
    "private_edge": "#1f5fa8",
    "vpc_edge": "#6a1b9a",
    "igw": "#2e7d32",
    "nat": "#e67e00",
    "broken": "#c62828",
    "az_edge": "#888888",
}

# Geometry in figure inches (1 data unit = 1 inch), so text sizes stay readable at any size.
_COL_W = 3.5
_COL_GAP = 0.5
_MARGIN = 0.45
_SUB_H = 1.3
_SUB_GAP = 0.3
_AZ_HEAD = 0.4
_TITLE_BAND = 0.5
_BUS_BAND = 0.3
_ABOVE = 1.3
_LEGEND = 0.75
_LANE = 0.14
_NAT_W = 1.6


def figure_to_png(fig: Figure, dpi: int = 100) -> bytes:
    """Render ``fig`` to PNG bytes (never SVG: PNG output is stable for notebook checks)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    return buffer.getvalue()


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def draw_vpc(snapshot: VpcSnapshot) -> Figure:
    """Draw ``snapshot`` as a diagram and return the matplotlib ``Figure`` (not shown, not saved).

    Shows the VPC box with its CIDRs, one column per Availability Zone, each subnet with its
    CIDR, free IP count and route table (marked "main" when the subnet only has it implicitly),
    the internet gateway(s), NAT gateways inside their subnets, and the 0.0.0.0/0 path of every
    subnet as an arrow. Works for an empty VPC too.
    """
    azs = list(snapshot.azs) or ["(no subnets yet)"]
    columns: dict[str, list[Subnet]] = {az: [] for az in azs}
    for subnet in snapshot.subnets:
        columns[subnet.az].append(subnet)
    rows = max([len(v) for v in columns.values()] + [1])

    n = len(azs)
    inner_w = n * _COL_W + (n - 1) * _COL_GAP
    vpc_w = inner_w + 2 * _MARGIN
    col_h = _AZ_HEAD + rows * (_SUB_H + _SUB_GAP) + _SUB_GAP * 0.3
    vpc_h = _TITLE_BAND + _BUS_BAND + col_h + _MARGIN
    total_w = max(vpc_w + 0.4, 7.0)
    total_h = _ABOVE + vpc_h + _LEGEND + 0.2
    x0 = (total_w - vpc_w) / 2  # VPC box left edge
    y_vpc_bottom = _LEGEND + 0.1
    y_vpc_top = y_vpc_bottom + vpc_h

    fig = Figure(figsize=(total_w, total_h), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, total_w)
    ax.set_ylim(0, total_h)
    ax.set_axis_off()

    # ---- the VPC box and its title
    ax.add_patch(
        FancyBboxPatch(
            (x0, y_vpc_bottom),
            vpc_w,
            vpc_h,
            boxstyle="round,pad=0,rounding_size=0.12",
            fill=False,
            lw=2,
            ec=COLOURS["vpc_edge"],
        )
    )
    # The title sits on the left and the gateways on the right, so arrows never cross it.
    room = max(int((vpc_w - 2.2) * 12), 16)
    ax.text(
        x0 + 0.15,
        y_vpc_top - 0.2,
        _short(f"VPC {snapshot.vpc.label}", room),
        fontsize=9,
        fontweight="bold",
        color=COLOURS["vpc_edge"],
        va="center",
    )
    # Names and CIDRs only: IDs differ from run to run and say nothing to a learner.
    second = ", ".join(snapshot.vpc.cidrs)
    ax.text(
        x0 + 0.15,
        y_vpc_top - 0.42,
        _short(second, int(room * 1.4)),
        fontsize=7.5,
        color=COLOURS["vpc_edge"],
        va="center",
    )
    bus_y = y_vpc_top - _TITLE_BAND - _BUS_BAND / 2

    # ---- internet and internet gateways on the top border
    centre = x0 + vpc_w - 1.1
    ax.add_patch(
        FancyBboxPatch(
            (centre - 0.8, total_h - 0.55),
            1.6,
            0.38,
            boxstyle="round,pad=0.02,rounding_size=0.18",
            fc="#f2f2f2",
            ec="#999999",
        )
    )
    ax.text(centre, total_h - 0.36, "Internet", ha="center", va="center", fontsize=9)
    igw_x: dict[str, float] = {}
    igws = snapshot.internet_gateways
    for i, igw in enumerate(igws):
        x = centre - i * 1.9
        igw_x[igw.id] = x
        ax.add_patch(
            FancyBboxPatch(
                (x - 0.8, y_vpc_top - 0.2),
                1.6,
                0.4,
                boxstyle="round,pad=0.02,rounding_size=0.06",
                fc="white",
                ec=COLOURS["igw"],
                lw=1.5,
                zorder=4,
            )
        )
        label = f"IGW {igw.name}" if igw.name else "IGW"
        ax.text(
            x, y_vpc_top + 0.07, _short(label, 24), ha="center", va="center", fontsize=7, fontweight="bold", zorder=5
        )
        ax.annotate(
            "",
            xy=(x, total_h - 0.56),
            xytext=(x, y_vpc_top + 0.21),
            arrowprops={"arrowstyle": "<->", "color": COLOURS["igw"], "lw": 1.2},
        )
    if not igws:
        ax.text(
            centre,
            y_vpc_top + 0.25,
            "no internet gateway attached",
            ha="center",
            fontsize=7,
            color="#777777",
            style="italic",
        )

    # ---- AZ columns and subnet boxes
    boxes: dict[str, tuple[float, float, float, float]] = {}  # subnet id -> x, y, w, h
    lanes: dict[str, tuple[float, float]] = {}  # subnet id -> (left lane x, right lane x)
    y_col_top = y_vpc_top - _TITLE_BAND - _BUS_BAND
    for c, az in enumerate(azs):
        cx = x0 + _MARGIN + c * (_COL_W + _COL_GAP)
        ax.add_patch(
            Rectangle(
                (cx, y_col_top - col_h),
                _COL_W,
                col_h,
                fill=False,
                ls="--",
                lw=0.9,
                ec=COLOURS["az_edge"],
            )
        )
        ax.text(cx + 0.1, y_col_top - 0.2, az, fontsize=8, color="#555555", va="center")
        for r, subnet in enumerate(columns[az]):
            sy = y_col_top - _AZ_HEAD - (r + 1) * _SUB_H - r * _SUB_GAP
            sx = cx + 0.12
            sw = _COL_W - 0.24
            boxes[subnet.id] = (sx, sy, sw, _SUB_H)
            lanes[subnet.id] = (cx - _LANE, cx + _COL_W + _LANE)
            _draw_subnet(ax, snapshot, subnet, sx, sy, sw)
    if not snapshot.subnets:
        cx = x0 + _MARGIN
        ax.text(
            cx + _COL_W / 2,
            y_col_top - _AZ_HEAD - _SUB_H / 2,
            "no subnets yet\ncreate one with ec2.create_subnet(\nVpcId=..., CidrBlock=..., AvailabilityZone=...)",
            ha="center",
            va="center",
            fontsize=7.5,
            color="#777777",
            style="italic",
        )

    # ---- NAT gateways, drawn as badges inside the subnet that holds them
    nat_badges: dict[str, tuple[float, float, float]] = {}  # nat id -> (right x, centre y, left x)
    per_subnet: dict[str, int] = {}
    for nat in snapshot.nat_gateways:
        if nat.state in ("deleted", "deleting", "failed") or nat.subnet_id not in boxes:
            continue
        sx, sy, sw, _ = boxes[nat.subnet_id]
        k = per_subnet.get(nat.subnet_id, 0)
        per_subnet[nat.subnet_id] = k + 1
        right = sx + sw - 0.08 - k * (_NAT_W + 0.1)
        nat_badges[nat.id] = (right, sy + 0.2, right - _NAT_W)
        _draw_nat(ax, nat, right - _NAT_W, sy + 0.06)

    # ---- 0.0.0.0/0 arrows along the lanes
    for subnet in snapshot.subnets:
        _draw_default_route(ax, snapshot, subnet, boxes, lanes, nat_badges, igw_x, bus_y, y_vpc_top, y_col_top - col_h)

    # ---- legend
    handles = [
        Patch(fc=COLOURS["public"], ec=COLOURS["public_edge"], label="public subnet (0.0.0.0/0 → IGW)"),
        Patch(fc=COLOURS["private"], ec=COLOURS["private_edge"], label="private subnet"),
        Line2D([], [], color=COLOURS["igw"], lw=1.5, label="0.0.0.0/0 → internet gateway"),
        Line2D([], [], color=COLOURS["nat"], lw=1.5, label="0.0.0.0/0 → NAT gateway"),
        Line2D([], [], color=COLOURS["broken"], lw=1.5, ls="--", label="route that leads nowhere"),
    ]
    ax.legend(
        handles=handles,
        loc="lower center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=3 if total_w < 9 else 5,
        fontsize=7,
        frameon=False,
    )
    return fig


def _draw_subnet(ax: object, snapshot: VpcSnapshot, subnet: Subnet, x: float, y: float, w: float) -> None:
    public = bool(is_public_subnet(snapshot, subnet))
    kind = "public" if public else "private"
    ax.add_patch(  # type: ignore[attr-defined]
        FancyBboxPatch(
            (x, y),
            w,
            _SUB_H,
            boxstyle="round,pad=0,rounding_size=0.06",
            fc=COLOURS[kind],
            ec=COLOURS[f"{kind}_edge"],
            lw=1.3,
            zorder=2,
        )
    )
    chars = int(w * 15)
    choice = route_table_for(snapshot, subnet)
    rt_line = f"route table: {choice.route_table.label}"
    if not choice.explicit:
        rt_line += " (main, implicit)"
    default = choice.route_table.route_to("0.0.0.0/0")
    if default is None:
        route_line = "0.0.0.0/0: no route (stays inside the VPC)"
    else:
        state = "" if default.state == "active" else f" ({default.state})"
        route_line = f"0.0.0.0/0 → {getattr(default, 'target_title', default.target_label)}{state}"
    text = ax.text  # type: ignore[attr-defined]
    text(
        x + 0.08,
        y + _SUB_H - 0.2,
        _short(subnet.label, chars - 9),
        fontsize=7.5,
        fontweight="bold",
        va="center",
        zorder=3,
    )
    text(
        x + w - 0.08,
        y + _SUB_H - 0.2,
        kind.upper(),
        fontsize=6.5,
        ha="right",
        va="center",
        color=COLOURS[f"{kind}_edge"],
        fontweight="bold",
        zorder=3,
    )
    text(
        x + 0.08,
        y + _SUB_H - 0.45,
        f"{subnet.cidr}   {subnet.available_ips} free IPs",
        fontsize=7,
        va="center",
        zorder=3,
    )
    small = int(w * 19)  # 6.5 pt characters fit about 19 to the inch
    text(x + 0.08, y + _SUB_H - 0.68, _short(rt_line, small), fontsize=6.5, va="center", color="#333333", zorder=3)
    text(x + 0.08, y + _SUB_H - 0.9, _short(route_line, small), fontsize=6.5, va="center", color="#333333", zorder=3)


def _draw_nat(ax: object, nat: NatGateway, x: float, y: float) -> None:
    ax.add_patch(  # type: ignore[attr-defined]
        FancyBboxPatch(
            (x, y),
            _NAT_W,
            0.28,
            boxstyle="round,pad=0,rounding_size=0.05",
            fc="white",
            ec=COLOURS["nat"],
            lw=1.3,
            zorder=4,
        )
    )
    label = "NAT " + (nat.name if nat.name else "gateway")
    ax.text(
        x + _NAT_W / 2,
        y + 0.14,
        _short(label, 30),
        fontsize=6,
        ha="center",
        va="center",  # type: ignore[attr-defined]
        zorder=5,
        fontweight="bold",
    )


def _polyline_arrow(ax: object, points: list[tuple[float, float]], colour: str, dashed: bool) -> None:
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    style = "--" if dashed else "-"
    ax.plot(xs[:-1], ys[:-1], color=colour, lw=1.3, ls=style, zorder=6, solid_capstyle="butt")  # type: ignore[attr-defined]
    ax.annotate(  # type: ignore[attr-defined]
        "",
        xy=points[-1],
        xytext=points[-2],
        arrowprops={
            "arrowstyle": "-|>",
            "color": colour,
            "lw": 1.3,
            "ls": style,
            "shrinkA": 0,
            "shrinkB": 0,
            "mutation_scale": 10,
        },
        zorder=6,
    )


def _draw_default_route(
    ax: object,
    snapshot: VpcSnapshot,
    subnet: Subnet,
    boxes: dict[str, tuple[float, float, float, float]],
    lanes: dict[str, tuple[float, float]],
    nat_badges: dict[str, tuple[float, float, float]],
    igw_x: dict[str, float],
    bus_y: float,
    y_vpc_top: float,
    y_floor: float,
) -> None:
    choice = route_table_for(snapshot, subnet)
    route = choice.route_table.route_to("0.0.0.0/0")
    if route is None:
        return
    sx, sy, sw, sh = boxes[subnet.id]
    left_lane, right_lane = lanes[subnet.id]
    yc = sy + sh / 2
    if route.target_kind == "igw" and route.target_id in igw_x:
        public = bool(is_public_subnet(snapshot, subnet))
        colour = COLOURS["igw"] if public else COLOURS["broken"]
        gx = igw_x[route.target_id]
        points = [(sx, yc), (left_lane, yc), (left_lane, bus_y), (gx, bus_y), (gx, y_vpc_top - 0.2)]
        _polyline_arrow(ax, points, colour, dashed=not public)
    elif route.target_kind == "nat" and route.target_id in nat_badges:
        path = internet_path(snapshot, subnet)
        colour = COLOURS["broken"] if path.broken else COLOURS["nat"]
        right, ny, _ = nat_badges[route.target_id]
        nat = snapshot.nat_gateway(route.target_id)
        assert nat is not None
        nat_lane = lanes[nat.subnet_id][1]
        # Run down to the floor of the AZ columns, across, and up the NAT subnet's right lane.
        floor = y_floor - 0.12
        points = [
            (sx + sw, yc),
            (right_lane, yc),
            (right_lane, floor),
            (nat_lane, floor),
            (nat_lane, ny),
            (right, ny),
        ]
        if right_lane == nat_lane:
            points = [(sx + sw, yc), (right_lane, yc), (right_lane, ny), (right, ny)]
        _polyline_arrow(ax, points, colour, dashed=path.broken)


def describe_lines(snapshot: VpcSnapshot) -> list[str]:
    """The diagram in words, one line per subnet (useful as alt text and in tests)."""
    out = [snapshot.summary()]
    for subnet in snapshot.subnets:
        verdict = is_public_subnet(snapshot, subnet)
        path = internet_path(snapshot, subnet)
        out.append(
            textwrap.shorten(
                f"{subnet.az} {subnet.label} {subnet.cidr} {'public' if verdict else 'private'} -> {path}",
                width=160,
            )
        )
    return out
