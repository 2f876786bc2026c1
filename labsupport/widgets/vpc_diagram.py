"""VPC diagram widget: take a fresh snapshot of a VPC and draw it, again on every Refresh.

The learner builds the network step by step with boto3 calls; pressing Refresh re-runs
:func:`labsupport.topology.snapshot` and :func:`labsupport.diagram.draw_vpc`, so the picture is
always the VPC as it is now, read back through the same describe calls a real account answers.

Widget-free path: ``draw_vpc(snapshot(ec2, vpc_id))`` and :func:`vpc_status`.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from ..diagram import draw_vpc, figure_to_png
from ..errors import LabError
from ..routing import is_public_subnet
from ..topology import VpcSnapshot, snapshot

__all__ = ["VpcDiagram", "vpc_diagram", "vpc_status"]


def vpc_status(snap: VpcSnapshot) -> str:
    """The status line under the diagram, e.g. ``"... 4 subnets in 2 AZs, 1 IGW, ...; 2 public, 2 private"``."""
    public = sum(1 for s in snap.subnets if is_public_subnet(snap, s))
    private = len(snap.subnets) - public
    return f"{snap.summary()}; {public} public, {private} private"


def _error_text(err: Exception) -> str:
    # botocore's ClientError text already names AWS's error code, which the workbook teaches.
    text = str(err) if isinstance(err, LabError) else f"{type(err).__name__}: {err}"
    return f'<span style="color:#c62828"><b>Error:</b> {html.escape(text)}</span>'


class VpcDiagram(widgets.VBox):
    """A Refresh button, the VPC diagram as PNG, and a status line (CSS class ``lab-status``)."""

    def __init__(self, ec2_client: Any, vpc_id: str) -> None:
        button = widgets.Button(description="Refresh", icon="refresh", tooltip="take a new snapshot")
        status = widgets.HTML()
        status.add_class("lab-status")
        image = widgets.Image(format="png")
        super().__init__(children=[widgets.HBox([button, status]), image])
        self.ec2_client = ec2_client
        self.vpc_id = vpc_id
        self.button = button
        self.status = status
        self.image = image
        self.snapshot: VpcSnapshot | None = None
        button.on_click(lambda _b: self.refresh())
        self.refresh()

    def refresh(self) -> VpcSnapshot | None:
        """Snapshot the VPC and redraw. On failure the status says why and the old picture stays."""
        try:
            snap = snapshot(self.ec2_client, self.vpc_id)
            png = figure_to_png(draw_vpc(snap))
            text = vpc_status(snap)
        except Exception as err:  # callback errors must reach the learner
            self.status.value = _error_text(err)
            return None
        self.snapshot = snap
        self.image.value = png
        self.status.value = html.escape(text)
        return snap


def vpc_diagram(ec2_client: Any, vpc_id: str) -> VpcDiagram:
    """Build the VPC diagram widget for ``vpc_id`` (display it as the last line of a cell)."""
    return VpcDiagram(ec2_client, vpc_id)
