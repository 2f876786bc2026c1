"""The CIDR planner widget: bits, split tree and AZ x tier grid of one VPC plan, moving together.

Behind the widget are two widget-free functions that notebooks and tests call directly:

* :func:`render_plan_figure` draws a :class:`~labsupport.cidr.Layout` as ONE matplotlib figure
  with three panels: (a) the bit strip of the VPC base address, network bits coloured per octet
  and host bits grey, dashed lines where the tiers' subnet prefixes cut; (b) the split tree of
  the VPC over its address line, the planned subnets coloured per tier, blocks in use by several
  tiers (or partly in use) grey, and free space hatched;
  (c) the AZ x tier grid with each subnet's CIDR and AWS-usable count.
* :func:`plan_summary` states the same numbers as one line of text, e.g.
  ``"VPC 10.0.0.0/20: 4096 addresses, 4 subnets planned, 1004 usable, 3072 free (dense, 25% planned)"``.

:func:`cidr_planner` wires them to controls. The figure is rendered to PNG with the Agg canvas
(never SVG, never a display backend), so it looks the same in JupyterLab, nbclient and tests. The
status line is ``<span class="lab-status">`` inside an HTML widget: browser tests read it; an
error (a mistyped CIDR, a plan that does not fit) appears there with its fix instead of being
raised into a callback, where JupyterLab would swallow it.
"""

from __future__ import annotations

import html
import io
import ipaddress
from collections.abc import Sequence

import ipywidgets as widgets
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from labsupport import cidr
from labsupport.errors import LabError

__all__ = ["CidrPlanner", "cidr_planner", "figure_png", "plan_summary", "render_plan_figure"]

# Colour per tier, in tier order (colour-blind friendly "tableau" hues); free space is hatched grey.
TIER_COLOURS = ("#4C78A8", "#F58518", "#54A24B", "#B279A2", "#E45756", "#72B7B2", "#EECA3B", "#9D755D")
# Network bits are coloured per octet, as cidr.xyz does, so the octet boundaries stay visible.
OCTET_COLOURS = ("#1F77B4", "#2CA02C", "#D62728", "#9467BD")
HOST_COLOUR = "#E6E6E6"
FREE_HATCH = "///"
USED_GREY = "#D9D9D9"  # a tree node in use by several tiers, or only partly in use
_MAX_TREE_LEVELS = 3  # more rows than this turn the address line into noise


def _tier_colour(index: int) -> str:
    return TIER_COLOURS[index % len(TIER_COLOURS)]


def plan_summary(layout: cidr.Layout) -> str:
    """One line stating the plan's numbers, as the widget's status shows them.

    ``"VPC 10.0.0.0/20: 4096 addresses, 4 subnets planned, 1004 usable, 3072 free (dense, 25% planned)"``.
    Plain integers (no thousands separators) so tests and browser checks can match them exactly.
    """
    return (
        f"VPC {layout.vpc}: {layout.total} addresses, {len(layout.subnets)} subnets planned, "
        f"{layout.usable} usable, {layout.free_addresses} free ({layout.style}, {layout.utilisation:.0%} planned)"
    )


def _draw_bits(ax: Axes, layout: cidr.Layout) -> None:
    strip = cidr.bits(layout.vpc)
    gap = 0.35  # space between octets

    def x_of(i: int) -> float:
        return i + (i // 8) * gap

    for bit in strip.bits:
        colour = OCTET_COLOURS[bit.group] if bit.part == "network" else HOST_COLOUR
        x = x_of(bit.index)
        ax.add_patch(Rectangle((x, 0), 0.92, 1, facecolor=colour, edgecolor="white"))
        ax.text(
            x + 0.46,
            0.5,
            str(bit.value),
            ha="center",
            va="center",
            fontsize=9,
            color="white" if bit.part == "network" else "#333333",
            fontweight="bold",
        )
    for octet, value in enumerate(layout.vpc.network_address.packed):
        ax.text(x_of(octet * 8) + 3.95, 1.25, str(value), ha="center", va="bottom", fontsize=10)
    # The VPC prefix divider, and dashed lines where each tier's subnet prefix cuts the host bits:
    # the bits between them number the subnets (Terraform's "netnum").
    divider = x_of(layout.vpc.prefixlen) - (gap / 2 if layout.vpc.prefixlen % 8 == 0 else 0.04)
    ax.plot([divider, divider], [-0.25, 1.2], color="black", linewidth=2.5)
    first_tier_of = {t.prefix: i for i, t in reversed(list(enumerate(layout.tiers)))}
    for prefix, index in sorted(first_tier_of.items()):
        if prefix in (layout.vpc.prefixlen, 32):
            continue
        x = x_of(prefix) - (gap / 2 if prefix % 8 == 0 else 0.04)
        ax.plot([x, x], [-0.25, 1.1], color=_tier_colour(index), linewidth=1.8, linestyle="--")
        ax.text(x, -0.3, f"/{prefix}", ha="center", va="top", fontsize=8, color=_tier_colour(index))
    host = 32 - layout.vpc.prefixlen
    ax.set_title(
        f"(a) {layout.vpc}: {layout.vpc.prefixlen} network bits | {host} host bits "
        f"= 2^{host} = {layout.total:,} addresses",
        fontsize=10,
        loc="left",
    )
    ax.set_xlim(-0.3, x_of(31) + 1.2)
    ax.set_ylim(-0.8, 1.7)
    ax.axis("off")


def _node_style(node: cidr.SplitNode, layout: cidr.Layout, colour_of: dict[str, str]) -> tuple[str, str | None, float]:
    """(face colour, hatch, alpha) of one split-tree node on the address line.

    Only a ``free`` node is hatched: hatching means "nothing planned here". A node in use is drawn
    in its tier's colour when every subnet inside it belongs to one tier (two /24s of one tier
    fill a /23), and grey otherwise: partly used, or fully used by subnets of several tiers (the
    dense plan's 10.0.0.0/22 holds private and public /24s and must not look free).
    """
    if node.state == "free":
        return "white", FREE_HATCH, 1.0
    tiers_inside = {s.tier for s in layout.subnets if s.cidr.overlaps(node.network)}
    if node.state == "allocated" and len(tiers_inside) == 1:
        return colour_of[next(iter(tiers_inside))], None, 0.45
    return USED_GREY, None, 1.0


def _draw_address_line(ax: Axes, layout: cidr.Layout) -> None:
    vpc = layout.vpc
    total = layout.total
    base = int(vpc.network_address)
    colour_of = {t.name: _tier_colour(i) for i, t in enumerate(layout.tiers)}
    deepest = max(t.prefix for t in layout.tiers)
    levels = min(_MAX_TREE_LEVELS, deepest - vpc.prefixlen)
    tree = cidr.split_tree(vpc, levels, allocated=layout)
    rows = levels + 2  # tree levels 0..levels, then the subnet row

    def block(
        network: ipaddress.IPv4Network, row: int, face: str, hatch: str | None, label: str, alpha: float = 1.0
    ) -> None:
        start = (int(network.network_address) - base) / total
        width = network.num_addresses / total
        y = rows - 1 - row
        ax.add_patch(
            Rectangle(
                (start, y + 0.08),
                width,
                0.84,
                facecolor=face,
                edgecolor="#555555",
                hatch=hatch,
                alpha=alpha,
                linewidth=0.8,
            )
        )
        if width >= 0.085:
            ax.text(start + width / 2, y + 0.5, label, ha="center", va="center", fontsize=7.5, clip_on=True)

    for node in tree.nodes():
        face, hatch, alpha = _node_style(node, layout, colour_of)
        block(node.network, node.depth, face, hatch, str(node.network), alpha)
    for s in layout.subnets:
        block(s.cidr, rows - 1, colour_of[s.tier], None, f"{s.cidr}\n{s.tier}")
    for f in layout.free:
        block(f, rows - 1, "white", FREE_HATCH, f"{f}\nfree")

    ticks = [0, 0.25, 0.5, 0.75, 1.0]
    ax.set_xticks(ticks)
    labels = [str(vpc.network_address + int(t * total)) for t in ticks[:-1]] + [str(vpc.broadcast_address)]
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_yticks([rows - 1 - r + 0.5 for r in range(rows)])
    ax.set_yticklabels([f"/{p}" for p in tree.prefixes] + ["subnets"], fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, rows)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)
    handles = [Rectangle((0, 0), 1, 1, facecolor=colour_of[t.name]) for t in layout.tiers]
    handles.append(Rectangle((0, 0), 1, 1, facecolor=USED_GREY, edgecolor="#555555"))
    handles.append(Rectangle((0, 0), 1, 1, facecolor="white", edgecolor="#555555", hatch=FREE_HATCH))
    ax.legend(
        handles,
        [f"{t.name} /{t.prefix}" for t in layout.tiers] + ["mixed or part used", "free"],
        loc="upper left",
        bbox_to_anchor=(1.005, 1.0),
        fontsize=8,
        frameon=False,
    )
    ax.set_title(
        f"(b) split tree and address line ({layout.style}): {layout.planned_addresses:,} planned, "
        f"{layout.free_addresses:,} free",
        fontsize=10,
        loc="left",
    )


def _draw_grid(ax: Axes, layout: cidr.Layout) -> None:
    grid = layout.grid()
    n_rows, n_cols = len(layout.tiers), len(layout.azs)
    for r, tier in enumerate(layout.tiers):
        y = n_rows - 1 - r
        for c, az in enumerate(layout.azs):
            s = grid[(tier.name, az)]
            ax.add_patch(
                Rectangle((c + 0.03, y + 0.06), 0.94, 0.88, facecolor=_tier_colour(r), alpha=0.35, edgecolor="#555555")
            )
            ax.text(c + 0.5, y + 0.62, str(s.cidr), ha="center", va="center", fontsize=10, fontweight="bold")
            ax.text(c + 0.5, y + 0.36, f"{s.usable:,} usable", ha="center", va="center", fontsize=8.5)
            ax.text(c + 0.5, y + 0.16, s.name, ha="center", va="center", fontsize=6.5, color="#333333")
    ax.set_xlim(0, n_cols)
    ax.set_ylim(0, n_rows)
    ax.set_xticks([c + 0.5 for c in range(n_cols)])
    ax.set_xticklabels(layout.azs, fontsize=9)
    ax.xaxis.tick_top()
    ax.set_yticks([n_rows - 1 - r + 0.5 for r in range(n_rows)])
    ax.set_yticklabels([f"{t.name}\n/{t.prefix}" for t in layout.tiers], fontsize=9)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(
        f"(c) AZ x tier: {len(layout.subnets)} subnets, {layout.usable:,} usable (5 reserved per subnet)",
        fontsize=10,
        loc="left",
        pad=22,
    )


def render_plan_figure(layout: cidr.Layout) -> Figure:
    """Draw a plan as one figure with three panels (bits, split tree + address line, AZ x tier grid).

    Uses :class:`matplotlib.figure.Figure` with the Agg canvas directly (no pyplot, no display), so
    it is safe in any kernel and in tests; pass the result to :func:`figure_png` for PNG bytes.
    """
    if not isinstance(layout, cidr.Layout):
        raise LabError(
            f"render_plan_figure() needs a Layout, got {type(layout).__name__}.",
            "Make one with labsupport.cidr.plan_layout(vpc_cidr, azs, tiers).",
        )
    levels = min(_MAX_TREE_LEVELS, max(t.prefix for t in layout.tiers) - layout.vpc.prefixlen)
    tree_height = 0.45 * (levels + 2) + 0.6
    grid_height = 0.75 * len(layout.tiers) + 0.9
    fig = Figure(figsize=(11, 1.9 + tree_height + grid_height), dpi=90)
    FigureCanvasAgg(fig)
    gs = fig.add_gridspec(3, 1, height_ratios=[1.4, tree_height, grid_height], hspace=0.55)
    _draw_bits(fig.add_subplot(gs[0]), layout)
    _draw_address_line(fig.add_subplot(gs[1]), layout)
    _draw_grid(fig.add_subplot(gs[2]), layout)
    fig.suptitle(plan_summary(layout), fontsize=11, x=0.01, ha="left")
    fig.subplots_adjust(left=0.09, right=0.86, top=0.9, bottom=0.04)
    return fig


def figure_png(fig: Figure) -> bytes:
    """Render a figure to PNG bytes with the Agg canvas (deterministic for the same figure)."""
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    buf = io.BytesIO()
    canvas.print_figure(buf, format="png", dpi=fig.dpi)
    return buf.getvalue()


def _status_html(text: str, *, error: bool = False) -> str:
    cls = "lab-status lab-error" if error else "lab-status"
    colour = "#B00020" if error else "inherit"
    return f'<span class="{cls}" style="color:{colour}">{html.escape(text)}</span>'


def _az_pool(azs: Sequence[str], wanted: int = 4) -> tuple[str, ...]:
    """The given AZs, extended with the following letters of the same Region up to ``wanted``.

    ``("us-west-2a", "us-west-2b")`` -> adds ``us-west-2c`` and ``us-west-2d`` so the AZ slider can
    go to 4; names that don't end in a letter are not extended.
    """
    pool = list(azs)
    last = pool[-1]
    if not last[-1].isalpha() or not last[-1].islower():
        return tuple(pool)
    region, letter = last[:-1], last[-1]
    while len(pool) < wanted and letter < "z":
        letter = chr(ord(letter) + 1)
        if region + letter not in pool:
            pool.append(region + letter)
    return tuple(pool)


class CidrPlanner(widgets.VBox):
    """The planner's container. Its controls are attributes so tests and notebooks can drive them:
    ``vpc_text``, ``vpc_prefix``, ``tier_prefixes`` (tier name -> slider), ``az_count``,
    ``style_toggle``, ``image`` (PNG) and ``status`` (HTML with ``<span class="lab-status">``).
    ``plan`` is the current :class:`~labsupport.cidr.Layout` (None while there is an error) and
    ``error`` the current :class:`LabError` (None when the plan is fine).
    """

    def __init__(
        self,
        vpc: str,
        azs: Sequence[str],
        tiers: Sequence[cidr.TierSpec | tuple[str, int]],
        *,
        style: str = "dense",
        project: str = cidr.DEFAULT_PROJECT,
        name_pattern: str = cidr.DEFAULT_NAME_PATTERN,
    ) -> None:
        # Tiers and AZs shape the controls, so mistakes there raise now (a call error in the
        # cell); everything typed or slid later is reported in the status line instead.
        tier_list = cidr._normalise_tiers(tiers)
        self._azs = _az_pool(cidr._normalise_azs(azs))
        if style not in ("dense", "gapped"):
            raise LabError(f"style must be 'dense' or 'gapped', got {style!r}.", "Use style='dense' or style='gapped'.")
        self._project = project
        self._name_pattern = name_pattern
        self._syncing = False
        self.plan: cidr.Layout | None = None
        self.error: LabError | None = None

        try:
            start_prefix = cidr.parse(vpc, strict=False).prefixlen
        except LabError:
            start_prefix = 20
        start_prefix = min(max(start_prefix, cidr.AWS_MIN_PREFIX), cidr.AWS_MAX_PREFIX)
        # continuous_update=False: re-plan on release/Enter, not on every keystroke or drag step.
        self.vpc_text = widgets.Text(
            value=vpc, description="VPC CIDR", continuous_update=False, style={"description_width": "initial"}
        )
        self.vpc_prefix = widgets.IntSlider(
            value=start_prefix,
            min=cidr.AWS_MIN_PREFIX,
            max=cidr.AWS_MAX_PREFIX,
            description="VPC /n",
            continuous_update=False,
        )
        self.tier_prefixes = {
            t.name: widgets.IntSlider(
                value=t.prefix,
                min=cidr.AWS_MIN_PREFIX,
                max=cidr.AWS_MAX_PREFIX,
                description=f"{t.name} /n",
                continuous_update=False,
                style={"description_width": "initial"},
            )
            for t in tier_list
        }
        self.az_count = widgets.IntSlider(
            value=len(tuple(azs)), min=1, max=len(self._azs), description="AZs", continuous_update=False
        )
        self.style_toggle = widgets.ToggleButtons(options=["dense", "gapped"], value=style, description="style")
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="990px"))
        self.status = widgets.HTML(value=_status_html("starting..."))

        self.vpc_text.observe(self._on_text, names="value")
        self.vpc_prefix.observe(self._on_prefix, names="value")
        for slider in self.tier_prefixes.values():
            slider.observe(self._on_change, names="value")
        self.az_count.observe(self._on_change, names="value")
        self.style_toggle.observe(self._on_change, names="value")

        super().__init__(
            [
                widgets.HBox([self.vpc_text, self.vpc_prefix]),
                widgets.HBox([self.az_count, self.style_toggle]),
                widgets.HBox(list(self.tier_prefixes.values())),
                self.status,
                self.image,
            ]
        )
        self.refresh()

    # -- state -------------------------------------------------------------------------------
    @property
    def azs(self) -> tuple[str, ...]:
        """The AZs currently planned (the first ``az_count`` of the pool)."""
        return self._azs[: self.az_count.value]

    @property
    def tiers(self) -> tuple[cidr.TierSpec, ...]:
        return tuple(cidr.TierSpec(name, s.value) for name, s in self.tier_prefixes.items())

    @property
    def png(self) -> bytes:
        return bytes(self.image.value)

    # -- callbacks ---------------------------------------------------------------------------
    def _on_text(self, change: dict) -> None:
        if self._syncing:
            return
        try:
            net = cidr.parse(change["new"], strict=False)
        except LabError:
            net = None
        if net is not None and net.version == 4 and cidr.AWS_MIN_PREFIX <= net.prefixlen <= cidr.AWS_MAX_PREFIX:
            self._syncing = True
            try:
                self.vpc_prefix.value = net.prefixlen
            finally:
                self._syncing = False
        self.refresh()

    def _on_prefix(self, change: dict) -> None:
        if self._syncing:
            return
        address = self.vpc_text.value.strip().split("/")[0].strip()
        try:
            # Moving the slider keeps the base address and snaps it to the new block size, as
            # AWS canonicalises: 10.0.16.0 at /16 becomes 10.0.0.0/16.
            net = cidr.parse(f"{address}/{change['new']}", strict=False)
        except LabError:
            net = None  # the text is broken; refresh() reports it
        if net is not None:
            self._syncing = True
            try:
                self.vpc_text.value = str(net)
            finally:
                self._syncing = False
        self.refresh()

    def _on_change(self, change: dict) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Re-plan from the controls and redraw; errors go to the status line, never up the stack."""
        try:
            layout = cidr.plan_layout(
                self.vpc_text.value,
                self.azs,
                self.tiers,
                style=self.style_toggle.value,
                project=self._project,
                name_pattern=self._name_pattern,
            )
            png = figure_png(render_plan_figure(layout))
        except LabError as err:
            self.plan, self.error = None, err
            self.status.value = _status_html(f"Error: {err.problem} Fix: {err.fix}", error=True)
            return
        except Exception as err:
            # A bug of ours, not a learner mistake: an exception raised in a widget callback is
            # invisible in JupyterLab, so say it where the learner is looking instead.
            self.plan, self.error = None, None
            self.status.value = _status_html(f"Internal error in the planner: {type(err).__name__}: {err}", error=True)
            return
        self.plan, self.error = layout, None
        self.image.value = png
        self.status.value = _status_html(plan_summary(layout))


def cidr_planner(
    vpc: str = "10.0.0.0/20",
    azs: Sequence[str] = ("us-west-2a", "us-west-2b"),
    tiers: Sequence[cidr.TierSpec | tuple[str, int]] = (("public", 24), ("app-private", 24)),
    *,
    style: str = "dense",
    project: str = cidr.DEFAULT_PROJECT,
    name_pattern: str = cidr.DEFAULT_NAME_PATTERN,
) -> CidrPlanner:
    """An interactive planner for one VPC: type a CIDR, slide prefixes, AZ count and style.

    Controls: a Text for the VPC CIDR, an IntSlider for the VPC prefix (16-28), one IntSlider per
    tier for its subnet prefix, an AZ count slider (up to 4, extending the AZ letters of the
    Region) and a dense/gapped toggle. The figure (PNG) shows the bit strip, the split tree with
    the planned subnets and the AZ x tier grid; the status line states the numbers as
    :func:`plan_summary` does, or the error and its fix. The same picture without widgets::

        render_plan_figure(plan_layout("10.0.0.0/20", ["us-west-2a", "us-west-2b"], [("public", 24)]))
    """
    return CidrPlanner(vpc, azs, tiers, style=style, project=project, name_pattern=name_pattern)
