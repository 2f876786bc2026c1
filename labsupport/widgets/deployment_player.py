"""The deployment player widget: play a recorded release frame by frame, or follow one live.

Press Play (or drag the slider) to move through a :class:`~labsupport.player.Recording`: the picture
shows which version answered each request in the last minute, each second's blue/green shares
with a cursor at the current frame, the deployment's lifecycle step and the target-health lanes;
the status line says where the release is (``t+95 s · AllowTraffic · green 10 % · 0 failed``) and
shows the latest events.

With a CodeDeploy deployment id the console's buttons are there too, and they call the real API:
*Reroute now* (``continue_deployment(READY_WAIT)``), *Stop and roll back*
(``stop_deployment(autoRollbackEnabled=True)``) and *Terminate original now*
(``continue_deployment(TERMINATION_WAIT)``). With ``live=True`` a *+30 s* button lets time pass
(the virtual clock offline, real waiting on AWS) and appends the new frames. An error, from the
lab or from AWS (``DeploymentIsNotInReadyStateException`` ...), appears in the status line.

Widget-free path: :func:`labsupport.player.record`, :func:`labsupport.player.draw_frame`,
:func:`labsupport.player.status_line` and :func:`labsupport.player.reroute` and friends.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from .. import player
from ..clock import parse_duration
from ..diagram import figure_to_png
from ..lab import Lab
from ..player import Recording

__all__ = ["DeploymentPlayer", "deployment_player", "status_html"]

LAST_EVENTS = 3  # events shown under the status line
PLAY_INTERVAL_MS = 600  # one frame every 0.6 s: slow enough to read the status line


def status_html(recording: Recording, index: int, *, message: str = "", error: str = "") -> str:
    """The status as HTML: the line, the last few events, and a message or an error (in red)."""
    parts = [f"<b>{html.escape(player.status_line(recording, index))}</b>"]
    events = recording.events(index)[-LAST_EVENTS:]
    if events:
        items = "".join(f"<br>&nbsp;&nbsp;{html.escape(f'{e.t:g} s')} · {html.escape(e.text)}" for e in events)
        parts.append(f'<span style="color:#555555;font-size:90%">{items}</span>')
    if message:
        parts.append(f'<br><span style="color:#1b5e20">{html.escape(message)}</span>')
    if error:
        parts.append(f'<br><span style="color:#c62828"><b>Error:</b> {html.escape(error)}</span>')
    return "".join(parts)


class DeploymentPlayer(widgets.VBox):
    """Play/Pause, a frame slider, the picture (PNG), a status line and the deployment's buttons.

    ``status`` (CSS class ``lab-status``) holds the status; ``image`` the PNG; ``slider`` the frame
    index (setting ``slider.value`` moves the player); ``recording`` the frames. The methods
    :meth:`reroute`, :meth:`stop_and_roll_back`, :meth:`terminate_original` and :meth:`advance` do what
    the buttons do, from code.
    """

    def __init__(
        self,
        recording: Recording | None = None,
        *,
        live: bool = False,
        deployment_id: str | None = None,
        lab: Lab | None = None,
        codedeploy: Any = None,
        every: str | float = "5s",
        step: str | float = "30s",
    ) -> None:
        self.recording = recording if recording is not None else Recording()
        self.live = live
        self.deployment_id = deployment_id or self.recording.deployment_id
        self.lab = lab
        self.codedeploy = codedeploy
        self.every = every
        self.step = step
        self.message = ""
        self.error = ""

        self.play = widgets.Play(min=0, max=0, step=1, interval=PLAY_INTERVAL_MS, description="Play")
        self.slider = widgets.IntSlider(min=0, max=0, description="frame", continuous_update=True)
        # A kernel-side link (not jslink): every frame must be drawn by the kernel anyway, and it
        # also works where there is no browser (tests, nbclient).
        widgets.link((self.play, "value"), (self.slider, "value"))
        self.image = widgets.Image(format="png")
        self.status = widgets.HTML()
        self.status.add_class("lab-status")

        self.buttons: dict[str, widgets.Button] = {}
        actions: list[tuple[str, str, Callable[[], Any]]] = []
        if self.deployment_id:
            actions += [
                ("reroute", "Reroute now", self.reroute),
                ("stop", "Stop and roll back", self.stop_and_roll_back),
                ("terminate", "Terminate original now", self.terminate_original),
            ]
        if live:
            seconds = parse_duration(step)
            actions.append(("advance", f"+{seconds:g} s", self.advance))
        for key, text, action in actions:
            button = widgets.Button(description=text, layout=widgets.Layout(width="auto"))
            button.on_click(lambda _b, action=action: action())
            self.buttons[key] = button

        controls = widgets.HBox([self.play, self.slider, *self.buttons.values()])
        super().__init__(children=[controls, self.status, self.image])
        self.slider.observe(self._on_slider, names="value")

        if not self.recording.frames and live:
            self._record(0)
        if not self.recording.frames:
            if not self.error:
                self.error = (
                    "There is nothing to play yet. Fix: pass a recording (labsupport.player.record('3m')) "
                    "or live=True to record as you go."
                )
            self.status.value = status_html_empty(self.error)
            return
        self._go_to(self.slider.value)

    # -- showing ----------------------------------------------------------------------------------------
    def _on_slider(self, change: dict[str, Any]) -> None:
        self.show(int(change["new"]))

    def _go_to(self, index: int) -> None:
        """Fit the slider to the recording and show frame ``index`` (drawn once, by whoever moves)."""
        last = max(len(self.recording.frames) - 1, 0)
        self.slider.max = last
        self.play.max = last
        target = min(index, last)
        if self.slider.value == target:
            self.show(target)
        else:
            self.slider.value = target  # the observer draws it

    def show(self, index: int) -> None:
        """Draw frame ``index`` and its status; every failure is shown in the status line."""
        try:
            png = figure_to_png(player.draw_frame(self.recording, index), dpi=80)
            text = status_html(self.recording, index, message=self.message, error=self.error)
        except Exception as err:  # a callback's exception would vanish: show it instead
            self.status.value = status_html_empty(player.explain(err))
            return
        self.image.value = png
        self.status.value = text

    def refresh(self) -> None:
        """Redraw the current frame (after a message or an error changed)."""
        if self.recording.frames:
            self.show(self.slider.value)

    # -- the buttons --------------------------------------------------------------------------------------
    def _call(self, action: Callable[..., str]) -> str | None:
        self.message, self.error = "", ""
        if not self.deployment_id:
            self.error = "This player follows no CodeDeploy deployment. Fix: pass deployment_id='d-…'."
        try:
            if self.deployment_id:
                self.message = action(self.deployment_id, codedeploy=self.codedeploy, lab=self.lab)
        except Exception as err:  # AWS's refusal is part of the lesson: show it, do not raise it
            self.error = player.explain(err)
        if self.recording.frames:
            self.refresh()
        else:
            self.status.value = status_html_empty(self.error, self.message)
        return self.message or None

    def reroute(self) -> str | None:
        """Reroute now: ``continue_deployment(READY_WAIT)``. Returns the message, None on error."""
        return self._call(player.reroute)

    def stop_and_roll_back(self) -> str | None:
        """Stop and roll back: ``stop_deployment(autoRollbackEnabled=True)``."""
        return self._call(player.stop_and_roll_back)

    def terminate_original(self) -> str | None:
        """Terminate original now: ``continue_deployment(TERMINATION_WAIT)``."""
        return self._call(player.terminate_original)

    def advance(self, duration: str | float | None = None) -> int:
        """Let ``duration`` pass (default: the +N s button's), append the frames, show the last one.

        Returns how many frames were added (0 after an error, which the status line shows).
        """
        self.message, self.error = "", ""
        before = len(self.recording.frames)
        self._record(self.step if duration is None else duration)
        added = len(self.recording.frames) - before
        if self.recording.frames:
            self._go_to(len(self.recording.frames) - 1)
        else:
            self.status.value = status_html_empty(self.error)
        return added

    def _record(self, duration: str | float) -> None:
        for button in self.buttons.values():
            button.disabled = True
        try:
            player.record(
                duration,
                every=self.every,
                deployment_id=self.deployment_id,
                lab=self.lab,
                recording=self.recording,
                codedeploy=self.codedeploy,
            )
        except Exception as err:  # a missing service or an unknown deployment reaches the learner
            self.error = player.explain(err)
        finally:
            for button in self.buttons.values():
                button.disabled = False


def status_html_empty(error: str = "", message: str = "") -> str:
    """The status when there is no frame to describe: only the message or the error."""
    parts = []
    if message:
        parts.append(f'<span style="color:#1b5e20">{html.escape(message)}</span>')
    if error:
        parts.append(f'<span style="color:#c62828"><b>Error:</b> {html.escape(error)}</span>')
    return "<br>".join(parts) or "nothing recorded yet"


def deployment_player(
    recording: Recording | None = None,
    *,
    live: bool = False,
    deployment_id: str | None = None,
    lab: Lab | None = None,
    **options: Any,
) -> DeploymentPlayer:
    """Build the player (display it as the last line of a cell).

    ``deployment_player(rec)`` replays a recording; ``deployment_player(live=True)`` records as you
    press *+30 s*; ``deployment_id="d-…"`` adds CodeDeploy's buttons (and, live, its lifecycle).
    ``options``: ``codedeploy`` (a client), ``every`` (frame interval when live), ``step`` (the button).
    """
    return DeploymentPlayer(recording, live=live, deployment_id=deployment_id, lab=lab, **options)
