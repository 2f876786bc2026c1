"""Tests for the CIDR planner widget and the widget-free figure and summary behind it."""

from __future__ import annotations

import html
import re

import ipywidgets as widgets
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from labsupport import cidr
from labsupport.errors import LabError
from labsupport.widgets import cidr_planner as module
from labsupport.widgets.cidr_planner import (
    CidrPlanner,
    cidr_planner,
    figure_png,
    plan_summary,
    render_plan_figure,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def status_text(planner: CidrPlanner) -> str:
    """The status line as a browser shows it (tags stripped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", planner.status.value))


def seed_layout() -> cidr.Layout:
    return cidr.plan_layout("10.0.0.0/20", ["us-west-2a", "us-west-2b"], [("public", 24), ("app-private", 24)])


# ---------------------------------------------------------------------------------------------
# widget-free functions
# ---------------------------------------------------------------------------------------------


def test_plan_summary_states_the_numbers() -> None:
    assert plan_summary(seed_layout()) == (
        "VPC 10.0.0.0/20: 4096 addresses, 4 subnets planned, 1004 usable, 3072 free (dense, 25% planned)"
    )


def test_render_plan_figure_has_three_panels_and_png() -> None:
    fig = render_plan_figure(seed_layout())
    assert isinstance(fig, Figure)
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert len(fig.axes) == 3
    assert titles[0].startswith("(a) 10.0.0.0/20: 20 network bits | 12 host bits")
    assert titles[1].startswith("(b) split tree and address line (dense)")
    assert titles[2].startswith("(c) AZ x tier: 4 subnets, 1,004 usable")
    grid_text = {t.get_text() for t in fig.axes[2].texts}
    assert {"10.0.0.0/24", "10.0.3.0/24", "251 usable", "my-workspace-subnet-app-private2-b"} <= grid_text
    png = figure_png(fig)
    assert png.startswith(PNG_SIGNATURE)
    assert figure_png(render_plan_figure(seed_layout())) == png  # deterministic


def test_blocks_used_by_several_tiers_are_drawn_used_not_free() -> None:
    # The dense plan fills 10.0.0.0/22 with two private and two public /24s: every address is used,
    # by two tiers, so its block must be grey like a partly used one, never hatched like free space.
    layout = seed_layout()
    fig = render_plan_figure(layout)
    tree_ax = fig.axes[1]
    bars = {
        (round(p.get_x(), 4), round(p.get_width(), 4), round(p.get_y())): p
        for p in tree_ax.patches
        if isinstance(p, Rectangle)
    }
    # Rows from the top: /20 at y=4, /21 at 3, /22 at 2, /23 at 1, subnets at 0.
    block_22 = bars[(0.0, 0.25, 2)]
    assert not block_22.get_hatch()
    assert to_hex(block_22.get_facecolor()) == module.USED_GREY.lower()
    free_22 = bars[(0.25, 0.25, 2)]  # 10.0.4.0/22 really is free
    assert free_22.get_hatch() == module.FREE_HATCH
    # A /23 filled by one tier (two public /24s, then two private ones) keeps that tier's colour.
    for x, tier in ((0.0, 0), (0.125, 1)):
        one_tier = bars[(x, 0.125, 1)]
        assert not one_tier.get_hatch() and to_hex(one_tier.get_facecolor()) == module.TIER_COLOURS[tier].lower()
    # Every node of the tree: hatched exactly when nothing in it is planned.
    colours = {t.name: module._tier_colour(i) for i, t in enumerate(layout.tiers)}
    for node in cidr.split_tree(layout.vpc, 3, allocated=layout).nodes():
        face, hatch, _ = module._node_style(node, layout, colours)
        assert (hatch == module.FREE_HATCH) == (node.state == "free"), node
        if node.state != "free":
            assert face != "white", node


def test_render_plan_figure_gapped_and_tiny_plans() -> None:
    gapped = cidr.plan_layout(
        "10.0.0.0/16",
        ["us-west-2a", "us-west-2b", "us-west-2c"],
        [("public", 24), ("app", 20), ("data", 24), ("infra", 28)],
        style="gapped",
    )
    assert figure_png(render_plan_figure(gapped)).startswith(PNG_SIGNATURE)
    whole = cidr.plan_layout("10.0.0.0/28", ["us-west-2a"], [("only", 28)])
    assert figure_png(render_plan_figure(whole)).startswith(PNG_SIGNATURE)


def test_render_plan_figure_rejects_non_layouts() -> None:
    with pytest.raises(LabError) as info:
        render_plan_figure("10.0.0.0/20")  # type: ignore[arg-type]
    assert "plan_layout" in info.value.fix


def test_az_pool_extends_region_letters() -> None:
    assert module._az_pool(("us-west-2a", "us-west-2b")) == ("us-west-2a", "us-west-2b", "us-west-2c", "us-west-2d")
    assert module._az_pool(("zone-1",)) == ("zone-1",)
    assert len(module._az_pool(tuple(f"r-{c}" for c in "abcde"))) == 5


# ---------------------------------------------------------------------------------------------
# the widget
# ---------------------------------------------------------------------------------------------


def test_widget_starts_with_the_seed_plan() -> None:
    planner = cidr_planner()
    assert isinstance(planner, widgets.VBox)
    assert 'class="lab-status"' in planner.status.value
    assert status_text(planner) == plan_summary(seed_layout())
    assert planner.png.startswith(PNG_SIGNATURE)
    assert planner.plan is not None and planner.error is None
    assert planner.vpc_prefix.value == 20 and planner.az_count.value == 2 and planner.az_count.max == 4
    assert set(planner.tier_prefixes) == {"public", "app-private"}
    assert isinstance(planner.image, widgets.Image) and planner.image.format == "png"


def test_sliders_move_figure_and_status_together() -> None:
    planner = cidr_planner()
    png0, text0 = planner.png, status_text(planner)

    planner.tier_prefixes["app-private"].value = 22
    assert planner.png != png0 and status_text(planner) != text0
    assert status_text(planner).startswith("VPC 10.0.0.0/20: 4096 addresses, 4 subnets planned, 2540 usable, 1536 free")

    png1 = planner.png
    planner.az_count.value = 3
    assert "6 subnets planned" in status_text(planner) and planner.png != png1
    assert planner.plan is not None and planner.plan.azs[-1] == "us-west-2c"

    planner.style_toggle.value = "gapped"
    # 3 x /22 no longer fit in a /21 tier slot: the status explains instead of raising.
    assert "Error:" in status_text(planner) and "style='dense'" in status_text(planner)
    assert planner.plan is None and planner.error is not None
    planner.az_count.value = 2
    assert "(gapped," in status_text(planner)


def test_vpc_prefix_slider_rewrites_the_cidr() -> None:
    planner = cidr_planner()
    png0 = planner.png
    planner.vpc_prefix.value = 22
    assert planner.vpc_text.value == "10.0.0.0/22"
    assert status_text(planner).startswith("VPC 10.0.0.0/22: 1024 addresses, 4 subnets planned, 1004 usable, 0 free")
    assert planner.png != png0
    # Snapping to a bigger block canonicalises the base the way AWS does.
    planner.vpc_text.value = "10.0.16.0/20"
    planner.vpc_prefix.value = 16
    assert planner.vpc_text.value == "10.0.0.0/16"


def test_typing_a_cidr_moves_the_prefix_slider() -> None:
    planner = cidr_planner()
    planner.vpc_text.value = "192.168.0.0/16"
    assert planner.vpc_prefix.value == 16
    assert status_text(planner).startswith("VPC 192.168.0.0/16: 65536 addresses")


def test_bad_cidr_is_reported_in_the_status_not_raised() -> None:
    planner = cidr_planner()
    png0 = planner.png
    planner.vpc_text.value = "10.0.0/24"  # must not raise
    text = status_text(planner)
    assert text.startswith("Error:") and "exactly 4" in text and "Fix:" in text and "10.0.0.0/24" in text
    assert "lab-error" in planner.status.value and "lab-status" in planner.status.value
    assert planner.plan is None and isinstance(planner.error, LabError)
    assert planner.png == png0  # the last good picture stays
    planner.vpc_prefix.value = 21  # the slider cannot fix broken text; still no exception
    assert status_text(planner).startswith("Error:")

    planner.vpc_text.value = "10.0.4.5/20"
    assert "host bits set" in status_text(planner) and "10.0.0.0/20" in status_text(planner)

    planner.vpc_text.value = "10.0.0.0/20"
    assert status_text(planner) == plan_summary(seed_layout())
    assert planner.error is None


def test_out_of_range_and_oversized_inputs() -> None:
    planner = cidr_planner()
    planner.vpc_text.value = "10.0.0.0/8"
    assert "InvalidVpc.Range" in status_text(planner)
    assert planner.vpc_prefix.value == 20  # an impossible prefix leaves the slider alone
    planner.vpc_text.value = "10.0.0.0/20"
    planner.tier_prefixes["public"].value = 16
    assert "bigger than the whole VPC" in status_text(planner)


def test_html_in_input_is_escaped() -> None:
    planner = cidr_planner()
    planner.vpc_text.value = "<b>10.0.0.0/20"
    assert "<b>" not in planner.status.value and "&lt;b&gt;" in planner.status.value


def test_bad_initial_cidr_shows_error() -> None:
    planner = cidr_planner(vpc="10.0.0.0")
    assert status_text(planner).startswith("Error:") and "10.0.0.0/16" in status_text(planner)
    assert planner.png == b""
    assert planner.vpc_prefix.value == 20


def test_custom_arguments() -> None:
    planner = cidr_planner(
        vpc="10.1.0.0/16",
        azs=("eu-west-1a", "eu-west-1b", "eu-west-1c"),
        tiers=(cidr.TierSpec("web", 24), ("db", 26)),
        style="gapped",
        project="shop",
        name_pattern="{project}-{tier}-{az_letter}",
    )
    assert planner.plan is not None
    assert planner.plan.subnets[0].name == "shop-web-a"
    assert planner.style_toggle.value == "gapped" and planner.az_count.value == 3


@pytest.mark.parametrize(
    ("kwargs", "fix"),
    [
        ({"tiers": [("public", 29)]}, "size_for_hosts()"),
        ({"azs": []}, "us-west-2a"),
        ({"style": "packed"}, "style='dense'"),
    ],
)
def test_bad_shape_arguments_raise_at_construction(kwargs: dict, fix: str) -> None:
    with pytest.raises(LabError) as info:
        cidr_planner(**kwargs)
    assert fix in info.value.fix


def test_internal_errors_reach_the_status(monkeypatch: pytest.MonkeyPatch) -> None:
    planner = cidr_planner()

    def broken(layout: cidr.Layout) -> Figure:
        raise RuntimeError("boom")

    monkeypatch.setattr(module, "render_plan_figure", broken)
    planner.az_count.value = 1
    assert status_text(planner) == "Internal error in the planner: RuntimeError: boom"
    assert planner.plan is None
