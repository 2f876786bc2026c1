"""Target health over time: poll ``describe_target_health`` while time passes, and draw the story.

An Application Load Balancer decides on its own when a target is ``initial``, ``healthy``,
``unhealthy`` or ``draining``; all you can do is ask it, again and again. :func:`watch` does exactly
that: it asks, lets ``every`` seconds pass, and asks again, keeping every answer as a
:class:`Sample` in a :class:`Timeline`. Offline, "letting time pass" advances the region's virtual
clock (nothing sleeps); against real AWS it sleeps for real, so the same code polls a real load
balancer. Only boto3 and :mod:`labsupport.clock` are used.

A timeline answers the questions a deployment raises: when did each target turn healthy
(:meth:`Timeline.first`), when were all of them unhealthy (:meth:`Timeline.settled`), what changed
and why (:meth:`Timeline.changes`, printed by ``print(timeline)``), and it draws itself with one
lane per target coloured by state (:func:`draw_timeline`). Times are seconds since the timeline
started, never wall-clock timestamps, so the same steps give the same output on every run.

    >>> timeline = watch(elbv2, "my-app-frontend-tg-1", "1m", until="healthy")
    >>> print(timeline)               # every change, with its reason code
    >>> timeline.figure()             # the picture (a matplotlib Figure, shown as PNG)
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import Patch

from . import clock
from .errors import LabError

__all__ = [
    "GONE",
    "STATE_COLOURS",
    "Mark",
    "Sample",
    "Segment",
    "TargetState",
    "Timeline",
    "current",
    "draw_timeline",
    "resolve_target_group",
    "table",
    "watch",
]

#: The timeline's word for "describe_target_health no longer lists this target" (drained, or never
#: registered at this point). It is not an AWS state; the figure leaves the lane empty there.
GONE = "not listed"

#: One colour per target state (AWS's TargetHealthStateEnum), chosen to read as traffic lights.
STATE_COLOURS: dict[str, str] = {
    "initial": "#90caf9",
    "healthy": "#2e7d32",
    "unhealthy": "#c62828",
    "unhealthy.draining": "#ef6c00",
    "draining": "#ffb300",
    "unused": "#bdbdbd",
    "unavailable": "#616161",
}
_UNKNOWN_COLOUR = "#7e57c2"

#: A watch that would poll more often than this is almost certainly a typo (``every=0.01``).
MAX_POLLS = 5000


@dataclass(frozen=True)
class TargetState:
    """One row of ``describe_target_health``: which target, its state, and why."""

    target: str  # "10.0.0.4:80": the target's Id and port, as the console shows them
    state: str
    reason: str | None = None
    description: str | None = None

    @property
    def ip(self) -> str:
        """The target's Id without the port (an IP address for ``ip`` target groups)."""
        return self.target.rsplit(":", 1)[0]


@dataclass(frozen=True)
class Sample:
    """What one poll said about one target, ``at`` seconds after the timeline started."""

    at: float
    target: str
    state: str
    reason: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Mark:
    """A labelled moment on a timeline, such as "health check path → /healthz".

    ``after`` counts the samples recorded before the mark, so a mark made between two polls at the
    same second sorts after the first poll and before the second.
    """

    at: float
    label: str
    after: int = 0


@dataclass(frozen=True)
class Segment:
    """A stretch of time during which one target kept one state and reason."""

    start: float
    end: float
    state: str
    reason: str | None = None


def _target_key(target: str) -> tuple[int, int, str]:
    """Sort targets by address (10.0.0.4 before 10.0.2.4), then by the text."""
    address, _, port = target.rpartition(":")
    try:
        return int(ipaddress.ip_address(address or target)), int(port or 0), target
    except ValueError:
        return 2**128, 0, target


def _seconds(value: float) -> str:
    """``5`` → ``"5 s"``, ``2.5`` → ``"2.5 s"``: whole seconds print without a decimal point."""
    return f"{value:g} s"


@dataclass
class Timeline:
    """Every poll of one target group's health, in order, plus labelled moments (``marks``).

    ``labels`` maps a target (``"10.0.0.4:80"``) or its address (``"10.0.0.4"``) to the name shown
    in tables and figures, such as ``"10.0.0.4 (us-west-2a)"``.
    """

    target_group: str = ""
    every: float = 1.0
    end: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)

    # -- building ---------------------------------------------------------------------------------
    def record(self, at: float, states: Iterable[TargetState]) -> None:
        """Add one poll's answer taken ``at`` seconds in.

        A target that an earlier poll listed and this one does not is recorded as :data:`GONE`, so
        the timeline shows where a drained target left.
        """
        if at < self.end:
            raise LabError(
                f"A poll at {_seconds(at)} comes before the timeline's end ({_seconds(self.end)}).",
                "record polls in time order: a timeline only moves forward, like the clock.",
            )
        seen = set()
        for item in sorted(states, key=lambda s: _target_key(s.target)):
            seen.add(item.target)
            self.samples.append(Sample(at, item.target, item.state, item.reason, item.description))
        for target in self.targets():
            if target not in seen and self.latest(target).state != GONE:
                self.samples.append(Sample(at, target, GONE))
        self.end = at

    def mark(self, label: str, at: float | None = None) -> float:
        """Remember a moment (``"health check path → /healthz"``); returns its time (default: now)."""
        when = self.end if at is None else float(at)
        self.marks.append(Mark(when, label, len(self.samples)))
        return when

    # -- reading ----------------------------------------------------------------------------------
    def targets(self) -> list[str]:
        """Every target the timeline has seen, in order of first appearance (by address within a poll)."""
        found: dict[str, None] = {}
        for sample in self.samples:
            found.setdefault(sample.target, None)
        return list(found)

    def label(self, target: str) -> str:
        """The name to show for ``target``: its label, else the label of its address, else itself."""
        return self.labels.get(target) or self.labels.get(target.rsplit(":", 1)[0]) or target

    def history(self, target: str) -> list[Sample]:
        return [s for s in self.samples if s.target == target]

    def latest(self, target: str) -> Sample:
        """The last sample of ``target``; a LabError if the timeline never saw it."""
        for sample in reversed(self.samples):
            if sample.target == target:
                return sample
        raise LabError(
            f"The timeline of {self.target_group or 'this target group'} has never seen target {target!r}.",
            f"use one of: {', '.join(self.targets()) or 'none yet (register targets, then watch)'}.",
        )

    def now(self) -> list[Sample]:
        """The latest sample of every target that is still listed."""
        return [s for s in (self.latest(t) for t in self.targets()) if s.state != GONE]

    def changes(self, after: float = 0.0) -> list[Sample]:
        """Samples where a target's state or reason changed (its first sample counts), from ``after`` on."""
        return [sample for _, sample in self._changes(after)]

    def _changes(self, after: float) -> list[tuple[int, Sample]]:
        result = []
        previous: dict[str, tuple[str, str | None]] = {}
        for index, sample in enumerate(self.samples):
            key = (sample.state, sample.reason)
            if previous.get(sample.target) != key and sample.at >= after:
                result.append((index, sample))
            previous[sample.target] = key
        return result

    def first(self, state: str, target: str | None = None, after: float = 0.0) -> float | None:
        """The first time (≥ ``after``) that ``target`` (or any target) was seen in ``state``."""
        for sample in self.samples:
            if sample.at >= after and sample.state == state and target in (None, sample.target):
                return sample.at
        return None

    def settled(self, state: str, after: float = 0.0) -> float | None:
        """The first poll time (≥ ``after``) at which every listed target was in ``state``."""
        for at in sorted({s.at for s in self.samples if s.at >= after}):
            listed = [s for s in self._as_of(at) if s.state != GONE]
            if listed and all(s.state == state for s in listed):
                return at
        return None

    def _as_of(self, at: float) -> list[Sample]:
        latest: dict[str, Sample] = {}
        for sample in self.samples:
            if sample.at <= at:
                latest[sample.target] = sample
        return list(latest.values())

    def segments(self, target: str) -> list[Segment]:
        """``target``'s history as stretches of one state each; the last one lasts until :attr:`end`.

        Two polls at the same second (one before and one after a change made without letting time
        pass) leave only the later state.
        """
        result: list[Segment] = []
        for sample in self.history(target):
            if result and result[-1].start == sample.at:
                result.pop()  # superseded at the same instant
            if result and (result[-1].state, result[-1].reason) == (sample.state, sample.reason):
                continue
            if result:
                last = result[-1]
                result[-1] = Segment(last.start, sample.at, last.state, last.reason)
            result.append(Segment(sample.at, self.end, sample.state, sample.reason))
        return result

    def text(self, after: float = 0.0) -> str:
        """The changes and marks as an aligned table: time, target, state and reason code."""
        changes = self._changes(after)
        rows = [(f"+{_seconds(s.at)}", self.label(s.target), s.state, s.reason or "") for _, s in changes]
        marks = [m for m in self.marks if m.at >= after]
        if not rows and not marks:
            return f"{self.target_group or 'target group'}: no targets seen (nothing is registered)"
        widths = [max((len(r[i]) for r in rows), default=0) for i in range(3)]
        widths[0] = max([widths[0], *(len(f"+{_seconds(m.at)}") for m in marks)])
        lines: list[tuple[float, float, str]] = []
        for (index, sample), row in zip(changes, rows, strict=True):
            cells = [row[i].ljust(widths[i]) for i in range(3)] + [row[3]]
            lines.append((sample.at, index, "  ".join(cells).rstrip()))
        for mark in marks:
            lines.append((mark.at, mark.after - 0.5, f"+{_seconds(mark.at)}".ljust(widths[0]) + f"  --- {mark.label}"))
        return "\n".join(line for _, _, line in sorted(lines, key=lambda item: (item[0], item[1])))

    def __str__(self) -> str:
        return self.text()

    def figure(self, title: str | None = None) -> Figure:
        """The timeline drawn by :func:`draw_timeline`."""
        return draw_timeline(self, title)


# -- asking AWS ----------------------------------------------------------------------------------------


def resolve_target_group(elbv2: Any, target_group: str) -> tuple[str, str]:
    """``(arn, name)`` of a target group given by ARN or by name; a LabError if there is none."""
    try:
        if target_group.startswith("arn:"):
            found = elbv2.describe_target_groups(TargetGroupArns=[target_group])["TargetGroups"]
        else:
            found = elbv2.describe_target_groups(Names=[target_group])["TargetGroups"]
    except elbv2.exceptions.TargetGroupNotFoundException:
        found = []
    if not found:
        raise LabError(
            f"There is no target group {target_group!r}.",
            "create it first (chapter 04, section 3), or check the name with describe_target_groups.",
        )
    return str(found[0]["TargetGroupArn"]), str(found[0]["TargetGroupName"])


def current(elbv2: Any, target_group: str) -> list[TargetState]:
    """What ``describe_target_health`` says about every target of ``target_group`` now, by address."""
    arn = target_group if target_group.startswith("arn:") else resolve_target_group(elbv2, target_group)[0]
    rows = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    states = []
    for row in rows:
        target, health = row["Target"], row.get("TargetHealth", {})
        states.append(
            TargetState(
                target=f"{target['Id']}:{target.get('Port', '')}".rstrip(":"),
                state=str(health.get("State", "unknown")),
                reason=health.get("Reason"),
                description=health.get("Description"),
            )
        )
    return sorted(states, key=lambda s: _target_key(s.target))


def table(states: Iterable[TargetState], labels: Mapping[str, str] | None = None) -> str:
    """``describe_target_health`` rows as an aligned text table (target, state, reason, description)."""
    labels = labels or {}
    rows = [
        (labels.get(s.target) or labels.get(s.ip) or s.target, s.state, s.reason or "-", s.description or "-")
        for s in states
    ]
    if not rows:
        return "no targets registered"
    header = ("target", "state", "reason", "description")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    return "\n".join(
        "  ".join([row[i].ljust(widths[i]) for i in range(3)] + [row[3]]).rstrip() for row in [header, *rows]
    )


def _default_wait() -> Callable[[float], Any]:
    """Offline: advance the region's virtual clock. Real AWS: really wait."""
    from .lab import current as current_lab

    return clock.advance if current_lab().offline else time.sleep


def _until(condition: str | Callable[[Timeline], bool] | None) -> Callable[[Timeline], bool]:
    if condition is None:
        return lambda _timeline: False
    if callable(condition):
        return condition
    state = str(condition)
    if state not in STATE_COLOURS:
        raise LabError(
            f"{state!r} is not a target state.",
            f"use one of: {', '.join(STATE_COLOURS)} (or a function that takes the timeline).",
        )

    def all_in_state(timeline: Timeline) -> bool:
        listed = timeline.now()
        return bool(listed) and all(s.state == state for s in listed)

    return all_in_state


def watch(
    elbv2: Any,
    target_group: str,
    duration: str | float = "1m",
    *,
    every: float = 1.0,
    timeline: Timeline | None = None,
    until: str | Callable[[Timeline], bool] | None = None,
    labels: Mapping[str, str] | None = None,
    wait: Callable[[float], Any] | None = None,
) -> Timeline:
    """Poll ``target_group``'s health every ``every`` seconds for ``duration``; return the timeline.

    ``target_group`` is a name or an ARN; ``duration`` takes ``90``, ``"90s"``, ``"2m"``.
    ``until`` stops early: a state (``"healthy"``: stop once every listed target is healthy) or a
    function of the timeline. Pass ``timeline`` to continue an earlier one (times keep counting from
    its end). ``wait(seconds)`` is what makes time pass: by default the offline region's virtual
    clock advances (instantly), and against real AWS the call really sleeps, so a two-minute watch
    takes two minutes there.
    """
    seconds = clock.parse_duration(duration)
    step = float(every)
    if step <= 0:
        raise LabError(f"every={every!r} would poll without letting time pass.", "use every=1 or more (seconds).")
    if seconds / step > MAX_POLLS:
        raise LabError(
            f"Watching {_seconds(seconds)} every {_seconds(step)} would take {seconds / step:.0f} polls.",
            f"poll less often (a larger `every`) or watch for a shorter time: at most {MAX_POLLS} polls.",
        )
    arn, name = resolve_target_group(elbv2, target_group)
    if timeline is None:
        timeline = Timeline(target_group=name, every=step)
    timeline.every = step
    if labels:
        timeline.labels.update(labels)
    pause = wait or _default_wait()
    stop = _until(until)
    # Always poll first, without waiting: a change made since the last poll (a new health check
    # path, a deregistration) shows at the moment it was made.
    timeline.record(timeline.end, current(elbv2, arn))
    elapsed = 0.0
    while elapsed < seconds and not stop(timeline):
        pause(step)
        elapsed += step
        timeline.record(timeline.end + step, current(elbv2, arn))
    return timeline


# -- drawing -------------------------------------------------------------------------------------------


def draw_timeline(timeline: Timeline, title: str | None = None) -> Figure:
    """One lane per target, coloured by state over time, with reason codes and the marked moments.

    The x axis is seconds since the timeline started (the virtual clock offline); a target that is
    no longer listed leaves its lane empty. Returns a ``matplotlib.figure.Figure`` (not shown).
    """
    targets = timeline.targets()
    lanes = max(len(targets), 1)
    # Geometry in inches: title and marks on top, lanes, then the axis label and the legend.
    top, lane_height, bottom, left, width = 0.8, 0.6, 0.75, 2.0, 9.5
    height = top + lane_height * lanes + bottom
    fig = Figure(figsize=(width, height), dpi=100)
    ax = fig.add_axes((left / width, bottom / height, 1 - (left + 0.3) / width, lane_height * lanes / height))
    tail = timeline.every  # the last sample stands for one more poll interval
    total = max(timeline.end, 1.0) + tail
    ax.set_xlim(0, total)
    ax.set_ylim(lanes - 0.5, -0.5)  # first target on top
    fig.text(
        0.01,
        1 - 0.12 / height,
        title or f"target health of {timeline.target_group or 'the target group'}",
        fontsize=10,
        va="top",
    )
    ax.set_xlabel("seconds since the watch started (the region's clock)", fontsize=8)
    ax.tick_params(labelsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    per_char = 0.0085  # the share of the axis one character of 7-point text takes
    seen_states: dict[str, None] = {}
    if not targets:
        ax.text(total / 2, 0, "no targets registered in this target group", ha="center", va="center", fontsize=9)
    for lane, target in enumerate(targets):
        segments = timeline.segments(target)
        for index, segment in enumerate(segments):
            if segment.state == GONE:
                continue
            end = timeline.end + tail if index == len(segments) - 1 else segment.end
            span = max(end - segment.start, 0.3)
            colour = STATE_COLOURS.get(segment.state, _UNKNOWN_COLOUR)
            seen_states.setdefault(segment.state, None)
            ax.barh(lane, span, left=segment.start, height=0.6, color=colour, edgecolor="white", linewidth=0.8)
            ink = "white" if segment.state in ("healthy", "unhealthy", "unavailable") else "#222222"
            reason = segment.reason or ""
            # The most that fits in the bar: state over reason, the state alone, or nothing.
            for words in ([segment.state, reason] if reason else [segment.state], [segment.state]):
                if span / total > per_char * max(len(line) for line in words):
                    text = "\n".join(words)
                    ax.text(segment.start + span / 2, lane, text, ha="center", va="center", fontsize=7, color=ink)
                    break
    ax.set_yticks(range(len(targets)), [timeline.label(t) for t in targets])
    # Marks close together take turns on two rows of labels above the lanes.
    row, last_at = 0, None
    for mark in timeline.marks:
        ax.axvline(mark.at, color="#424242", linestyle="--", linewidth=0.9)
        crowded = last_at is not None and (mark.at - last_at) / total < 0.012 * 24
        row = 1 - row if crowded else 0
        last_at = mark.at
        ax.text(mark.at, -0.55 - 0.32 * row, f" {mark.label}", fontsize=7, color="#424242", va="bottom", clip_on=False)
    if seen_states:
        handles = [Patch(color=STATE_COLOURS.get(s, _UNKNOWN_COLOUR), label=s) for s in seen_states]
        fig.legend(
            handles=handles,
            loc="lower center",
            ncol=len(handles),
            fontsize=7.5,
            frameon=False,
            bbox_to_anchor=(0.5, 0.0),
        )
    return fig
