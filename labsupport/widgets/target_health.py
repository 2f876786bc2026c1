"""Target-health timeline widget: let time pass in steps and watch each target change state.

Each button watches the target group a little longer (``+10 s``, ``+30 s``, ``+2 min``): it polls
``describe_target_health`` every second while the region's virtual clock advances, adds what it saw
to the timeline and redraws the picture (one lane per target, coloured by state). The status line
says where every target stands now. Change something in another cell (register a target, break the
health check path, deregister) and press a button again to see what the load balancer makes of it.

Against real AWS the buttons really wait: ``+2 min`` takes two minutes.

Widget-free path: :func:`labsupport.target_health.watch` and
:func:`labsupport.target_health.draw_timeline` (or ``timeline.figure()``).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ipywidgets as widgets

from ..clock import parse_duration
from ..diagram import figure_to_png
from ..errors import LabError
from ..target_health import Timeline, draw_timeline, resolve_target_group, watch

__all__ = ["TargetHealthTimeline", "status_text", "target_health_timeline"]

DEFAULT_STEPS = ("10s", "30s", "2m")


def status_text(timeline: Timeline) -> str:
    """One line: the time and the latest state of every listed target (``+35 s: 10.0.0.4 healthy · …``)."""
    now = timeline.now()
    when = f"+{timeline.end:g} s"
    if not now:
        return f"{when}: no targets registered in {timeline.target_group}"
    parts = [f"{timeline.label(s.target)} {s.state}" + (f" ({s.reason})" if s.reason else "") for s in now]
    return f"{when}: " + " · ".join(parts)


def _error_html(err: Exception) -> str:
    text = str(err) if isinstance(err, LabError) else f"{type(err).__name__}: {err}"
    return f'<span style="color:#c62828"><b>Error:</b> {html.escape(text)}</span>'


def _button_text(step: str) -> str:
    seconds = parse_duration(step)
    return f"+{seconds / 60:g} min" if seconds >= 60 and seconds % 60 == 0 else f"+{seconds:g} s"


class TargetHealthTimeline(widgets.VBox):
    """Buttons that watch a target group longer, the timeline as PNG, and a status line.

    ``status`` (CSS class ``lab-status``) holds the current states; ``image`` holds the PNG;
    ``timeline`` is the :class:`~labsupport.target_health.Timeline` the widget extends (pass your
    own to continue it). :meth:`watch` does what a button does, from code.
    """

    def __init__(
        self,
        elbv2: Any,
        target_group: str,
        timeline: Timeline | None = None,
        *,
        labels: Mapping[str, str] | None = None,
        every: float = 1.0,
        steps: Sequence[str] = DEFAULT_STEPS,
        wait: Callable[[float], Any] | None = None,
    ) -> None:
        status = widgets.HTML()
        status.add_class("lab-status")
        image = widgets.Image(format="png")
        buttons = [widgets.Button(description=_button_text(step), tooltip=f"watch {step} more") for step in steps]
        super().__init__(children=[widgets.HBox([widgets.Label("watch"), *buttons]), status, image])
        self.elbv2 = elbv2
        self.target_group = target_group
        self.every = every
        self.wait = wait
        self.steps = list(steps)
        self.buttons = buttons
        self.status = status
        self.image = image
        self.timeline = timeline if timeline is not None else Timeline()
        if labels:
            self.timeline.labels.update(labels)
        for button, step in zip(buttons, steps, strict=True):
            button.on_click(lambda _b, step=step: self.watch(step))
        try:
            if not self.timeline.target_group:
                self.timeline.target_group = resolve_target_group(elbv2, target_group)[1]
            if not self.timeline.samples:
                # One poll, no waiting: the picture starts with the targets as they are now.
                watch(elbv2, target_group, 0, every=every, timeline=self.timeline, wait=wait)
        except Exception as err:  # a missing target group must reach the learner, not vanish
            self.status.value = _error_html(err)
            return
        self.refresh()

    def watch(self, duration: str | float) -> Timeline | None:
        """Watch ``duration`` longer (``"30s"``, ``"2m"``), then redraw; errors go to the status line."""
        for button in self.buttons:
            button.disabled = True
        try:
            watch(self.elbv2, self.target_group, duration, every=self.every, timeline=self.timeline, wait=self.wait)
        except Exception as err:  # callback errors must reach the learner
            self.status.value = _error_html(err)
            return None
        finally:
            for button in self.buttons:
                button.disabled = False
        self.refresh()
        return self.timeline

    def refresh(self) -> None:
        """Redraw the picture and the status line from the timeline as it is."""
        try:
            png = figure_to_png(draw_timeline(self.timeline))
        except Exception as err:  # show every failure in the status line
            self.status.value = _error_html(err)
            return
        self.image.value = png
        self.status.value = html.escape(status_text(self.timeline))


def target_health_timeline(
    elbv2: Any,
    target_group: str,
    timeline: Timeline | None = None,
    **options: Any,
) -> TargetHealthTimeline:
    """Build the timeline widget for ``target_group`` (display it as the last line of a cell)."""
    return TargetHealthTimeline(elbv2, target_group, timeline, **options)
