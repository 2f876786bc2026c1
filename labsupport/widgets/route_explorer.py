"""Route explorer: pick a subnet and a destination IP, see longest prefix match at work.

The picture lines up the destination's 32 bits with the network bits of every route in the
subnet's route table. A route matches when all of its network bits equal the destination's;
the matching route with the longest bar (the most specific prefix) wins, wherever it sits in the
table. Routes that do not match show the first bit where they differ, in red.

Widget-free path: :func:`route_figure` (the picture) and
:func:`labsupport.routing.explain_route` (the decision in words).
"""

from __future__ import annotations

import html
import ipaddress
import textwrap

import ipywidgets as widgets
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..diagram import figure_to_png
from ..errors import LabError
from ..routing import RouteDecision, explain_route, route_table_for
from ..topology import Route, RouteTable, VpcSnapshot

__all__ = ["RouteExplorer", "route_explorer", "route_figure"]

_WINNER = "#2e7d32"
_MATCH = "#a5d6a7"
_BLACKHOLE = "#c62828"
_NOMATCH = "#e0e0e0"
_DIFF = "#ef9a9a"
_IP = "#fff3c4"

# Geometry in inches (1 data unit = 1 inch).
_CELL = 0.19
_OCTET_GAP = 0.1
_LEFT = 1.55
_ROW = 0.34
_RIGHT = 4.5


def _bits(address: ipaddress.IPv4Address) -> str:
    return format(int(address), "032b")


def _x(i: int) -> float:
    return _LEFT + i * _CELL + (i // 8) * _OCTET_GAP


def route_figure(route_table: RouteTable, ip: str) -> Figure:
    """Draw the longest-prefix-match lookup of ``ip`` in ``route_table`` as bit bars.

    Top row: the destination's 32 bits. One row per IPv4 route, most specific first among the
    matches, then the routes that do not match: the filled cells are the route's network bits
    (the ones that must equal the destination's), the winner is drawn in dark green, a winning
    blackhole route in red, and a non-matching route marks its first differing bit. Raises
    :class:`~labsupport.errors.LabError` for something that is not an IP address.
    """
    decision = explain_route(route_table, ip)
    address = ipaddress.ip_address(decision.destination)
    title = textwrap.fill(decision.reason, 135)
    title_lines = title.count("\n") + 1
    if address.version != 4:
        fig = Figure(figsize=(8, 1.2 + 0.2 * title_lines), dpi=100)
        fig.text(0.02, 0.5, title + "\n(the bit view is drawn for IPv4 only)", fontsize=9, va="center")
        return fig

    ipv4 = [r for r in route_table.routes if r.network is not None and r.network.version == 4]
    matches = list(decision.matches)
    others = sorted(
        (r for r in ipv4 if r not in matches),
        key=lambda r: (-r.network.prefixlen, r.destination),  # type: ignore[union-attr]
    )
    rows: list[Route] = matches + others
    width = _x(31) + _CELL + _RIGHT + 0.2
    top_band = 0.45 + 0.18 * title_lines
    height = top_band + _ROW * (len(rows) + 1) + 0.75
    fig = Figure(figsize=(width, height), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_axis_off()

    ax.text(0.12, height - 0.12, title, fontsize=8.5, va="top", fontweight="bold")
    ax.text(
        0.12,
        height - 0.2 - 0.18 * title_lines,
        f"route table {route_table.label}",
        fontsize=7.5,
        va="top",
        color="#555555",
    )
    y = height - top_band - _ROW
    ip_bits = _bits(address)  # type: ignore[arg-type]
    ax.text(_LEFT - 0.1, y + _ROW / 2, f"{address}", ha="right", va="center", fontsize=8.5, fontweight="bold")
    for i, bit in enumerate(ip_bits):
        ax.add_patch(Rectangle((_x(i), y + 0.04), _CELL, _ROW - 0.08, fc=_IP, ec="#b8a000", lw=0.6))
        ax.text(_x(i) + _CELL / 2, y + _ROW / 2, bit, ha="center", va="center", fontsize=7)
    ax.text(
        _x(31) + _CELL + 0.15,
        y + _ROW / 2,
        "destination address, bit by bit",
        va="center",
        fontsize=7.5,
        color="#555555",
    )
    for octet in range(4):
        ax.text(
            _x(octet * 8) + 4 * _CELL,
            y + _ROW + 0.03,
            f"bits {octet * 8}-{octet * 8 + 7}",
            ha="center",
            va="bottom",
            fontsize=6,
            color="#777777",
        )

    winner = decision.winner
    for route in rows:
        y -= _ROW
        _draw_route_row(ax, route, y, ip_bits, route is winner, decision)

    if winner is not None:
        # A dashed line where the winning prefix ends: every bit left of it had to match.
        edge = _x(winner.network.prefixlen - 1) + _CELL if winner.network.prefixlen else _LEFT  # type: ignore[union-attr]
        top = height - top_band
        colour = _BLACKHOLE if winner.state == "blackhole" else _WINNER
        ax.plot([edge, edge], [y - 0.05, top], ls="--", lw=1, color=colour)

    if not rows:
        ax.text(_LEFT, y - 0.25, "this route table has no IPv4 routes", fontsize=8, style="italic", color="#777777")
    legend = (
        "filled cells = the route's network bits (they must equal the destination's);  "
        "dark green = winner (longest prefix);  light green = also matches;  "
        "red cell = first bit that differs"
    )
    ax.text(0.12, 0.3, textwrap.fill(legend, 150), fontsize=6.5, color="#555555", va="center")
    return fig


def _draw_route_row(ax: object, route: Route, y: float, ip_bits: str, is_winner: bool, decision: RouteDecision) -> None:
    network = route.network
    assert network is not None
    prefix = network.prefixlen
    route_bits = _bits(network.network_address)  # type: ignore[arg-type]
    matched = route in decision.matches
    differ = next((i for i in range(prefix) if route_bits[i] != ip_bits[i]), None)
    if is_winner:
        fill = _BLACKHOLE if route.state == "blackhole" else _WINNER
    elif matched:
        fill = _MATCH
    else:
        fill = _NOMATCH
    text_colour = "white" if is_winner else "#222222"
    label_weight = "bold" if is_winner else "normal"
    ax.text(
        _LEFT - 0.1,
        y + _ROW / 2,
        route.destination,
        ha="right",
        va="center",  # type: ignore[attr-defined]
        fontsize=8,
        fontweight=label_weight,
    )
    for i in range(32):
        if i < prefix:
            colour = _DIFF if i == differ else fill
            ax.add_patch(
                Rectangle(
                    (_x(i), y + 0.05),
                    _CELL,
                    _ROW - 0.1,
                    fc=colour,  # type: ignore[attr-defined]
                    ec="#555555" if i == differ else "white",
                    lw=0.6,
                )
            )
            ax.text(
                _x(i) + _CELL / 2,
                y + _ROW / 2,
                route_bits[i],
                ha="center",
                va="center",  # type: ignore[attr-defined]
                fontsize=6.5,
                color=text_colour if i != differ else "#222222",
            )
        else:
            ax.add_patch(
                Rectangle(
                    (_x(i), y + 0.05),
                    _CELL,
                    _ROW - 0.1,
                    fill=False,  # type: ignore[attr-defined]
                    ec="#dddddd",
                    lw=0.5,
                )
            )
    target = route.target_label + ("" if route.state == "active" else f" ({route.state})")
    if is_winner and route.state == "blackhole":
        verdict = "WINNER, blackhole: dropped"
    elif is_winner:
        verdict = "WINNER (longest prefix)"
    elif matched and prefix == 0:
        verdict = "matches everything (a /0 has no network bits)"
    elif matched:
        verdict = "matches, less specific"
    else:
        verdict = f"no match (bit {differ} differs)"
    ax.text(
        _x(31) + _CELL + 0.15,
        y + _ROW / 2,
        f"/{prefix} → {target}   {verdict}",  # type: ignore[attr-defined]
        va="center",
        fontsize=7.5,
        fontweight=label_weight,
        color=(_BLACKHOLE if is_winner and route.state == "blackhole" else _WINNER) if is_winner else "#333333",
    )


# ---------------------------------------------------------------------- the widget
def _error_html(err: Exception) -> str:
    text = str(err) if isinstance(err, LabError) else f"{type(err).__name__}: {err}"
    return f'<span style="color:#c62828"><b>Error:</b> {html.escape(text)}</span>'


class RouteExplorer(widgets.VBox):
    """The route explorer widget: subnet dropdown, destination IP, presets, figure and status.

    ``status`` (CSS class ``lab-status``) holds the decision in words; ``image`` holds the PNG.
    Set ``subnet.value`` / ``destination.value`` or call :meth:`show` to change it from code.
    """

    def __init__(self, snapshot: VpcSnapshot) -> None:
        subnet = widgets.Dropdown(
            options=[(f"{s.label}  ({s.cidr}, {s.az})", s.id) for s in snapshot.subnets],
            description="subnet",
            layout=widgets.Layout(width="560px"),
            style={"description_width": "90px"},
        )
        first = snapshot.subnets[0] if snapshot.subnets else None
        destination = widgets.Text(
            value=str(first.network.network_address + 7) if first else "8.8.8.8",
            description="destination",
            placeholder="an IP address, e.g. 10.0.1.7",
            continuous_update=False,
            layout=widgets.Layout(width="320px"),
            style={"description_width": "90px"},
        )
        presets = [
            widgets.Button(description="a host in the VPC", tooltip="an address in this subnet"),
            widgets.Button(description="the internet 8.8.8.8", tooltip="an address outside the VPC"),
            widgets.Button(description="another subnet", tooltip="an address in a different subnet"),
        ]
        image = widgets.Image(format="png")
        table_info = widgets.HTML()
        status = widgets.HTML()
        status.add_class("lab-status")
        super().__init__(
            children=[
                subnet,
                widgets.HBox([destination, *presets]),
                table_info,
                status,
                image,
            ]
        )
        self.snapshot = snapshot
        self.subnet = subnet
        self.destination = destination
        self.presets = presets
        self.image = image
        self.table_info = table_info
        self.status = status
        self.decision: RouteDecision | None = None
        self._quiet = False
        presets[0].on_click(lambda _b: self._preset("vpc"))
        presets[1].on_click(lambda _b: self._preset("internet"))
        presets[2].on_click(lambda _b: self._preset("other"))
        subnet.observe(self._changed, names="value")
        destination.observe(self._changed, names="value")
        self.refresh()

    def _changed(self, _change: object) -> None:
        if not self._quiet:
            self.refresh()

    def _preset(self, which: str) -> None:
        try:
            self.destination.value = self.preset_ip(which)
        except Exception as err:  # callback errors must reach the learner
            self.status.value = _error_html(err)

    def preset_ip(self, which: str) -> str:
        """The address a preset button fills in: ``vpc``, ``internet`` or ``other`` (subnet)."""
        if which == "internet":
            return "8.8.8.8"
        subnets = self.snapshot.subnets
        if not subnets:
            raise LabError(
                f"{self.snapshot.vpc.label} has no subnets yet.",
                "Create a subnet, then take a new snapshot and open the explorer again.",
            )
        current = self.snapshot.subnet(self.subnet.value) if self.subnet.value else subnets[0]
        if which == "vpc":
            return str(current.network.network_address + 7)
        others = [s for s in subnets if s.id != current.id]
        if not others:
            raise LabError(
                f"{current.label} is the only subnet in {self.snapshot.vpc.label}.",
                "Create a second subnet to see traffic between subnets.",
            )
        return str(others[0].network.network_address + 7)

    def show(self, subnet: str | None = None, ip: str | None = None) -> RouteDecision | None:
        """Select ``subnet`` (id or Name) and/or ``ip`` and redraw; returns the decision."""
        # Change both values first and redraw once, not once per value.
        self._quiet = True
        try:
            if subnet is not None:
                self.subnet.value = self.snapshot.subnet(subnet).id
            if ip is not None:
                self.destination.value = ip
        finally:
            self._quiet = False
        self.refresh()
        return self.decision

    def refresh(self) -> None:
        """Recompute the decision and the picture; errors go to the status line, never lost."""
        try:
            if not self.snapshot.subnets:
                raise LabError(
                    f"{self.snapshot.vpc.label} has no subnets yet, so there is no route table to look in.",
                    "Create a subnet, then take a new snapshot and open the explorer again.",
                )
            choice = route_table_for(self.snapshot, self.subnet.value)
            decision = explain_route(choice.route_table, self.destination.value)
            png = figure_to_png(route_figure(choice.route_table, self.destination.value))
        except Exception as err:  # show every failure in the status line
            self.decision = None
            self.status.value = _error_html(err)
            return
        self.decision = decision
        self.image.value = png
        self.table_info.value = html.escape(choice.reason)
        self.status.value = html.escape(decision.reason)


def route_explorer(snapshot: VpcSnapshot) -> RouteExplorer:
    """Build the route explorer for ``snapshot`` (display it as the last line of a cell)."""
    return RouteExplorer(snapshot)
