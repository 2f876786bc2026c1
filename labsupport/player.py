"""The deployment player: record a release frame by frame, then watch it happen (and replay it later).

A deployment is a story told over minutes: new tasks start, the load balancer health-checks them,
traffic moves from blue to green, the old tasks drain. :func:`record` takes a snapshot every few
seconds of everything that story is made of and keeps it as a :class:`Frame`:

* which version answered the users' requests, second by second (the region's synthetic traffic,
  :mod:`labsupport.traffic`), and how many failed;
* the service's tasks per task-definition revision (running, pending, stopping) and the health of
  every target in its target groups;
* where the deployment is: for a rolling update (ECS controller) the ``deployments`` list with its
  ``rolloutState``, read as three steps (new tasks starting, draining old, steady); for a CodeDeploy
  blue/green deployment its lifecycle events (``BeforeInstall`` ... ``AfterAllowTraffic``), its
  status and ``deploymentOverview``, and the ``trafficWeight`` of the Blue and Green task sets;
* ECS's service events (and CodeDeploy's changes of status) that appeared since the previous frame.

Offline, "every few seconds" means advancing the region's virtual clock, so three minutes are
recorded in a second or two; against real AWS the recorder really waits between polls. A
:class:`Recording` is plain data: ``to_json()`` saves it, ``Recording.from_json`` loads it, and
:func:`draw_frame` draws any frame of it as one picture (the widget in
:mod:`labsupport.widgets.deployment_player` plays them one after another):

    >>> rec = player.record("3m", every="5s")          # after update_service, with traffic running
    >>> print(rec.summary())
    >>> player.draw_frame(rec, 20)                       # t+100 s, as a matplotlib Figure
    >>> Path("release.json").write_text(rec.to_json())   # replay it in another notebook

Times are seconds since the recording started (``t``), tasks and targets are named by version and
private IP, never by ID, so the same steps give the same recording and the same pictures every run.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from botocore.exceptions import ClientError
from matplotlib.axes import Axes
from matplotlib.colors import is_color_like, to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from . import clock, offline, traffic
from .errors import LabError
from .lab import Lab, current
from .target_health import STATE_COLOURS

__all__ = [
    "CODEDEPLOY_STEPS",
    "FORMAT",
    "ROLLING_STEPS",
    "DeploymentView",
    "Event",
    "Frame",
    "Recording",
    "Rollout",
    "TargetRow",
    "TaskCount",
    "TaskSetView",
    "TrafficSecond",
    "codedeploy_changes",
    "codedeploy_view",
    "draw_frame",
    "explain",
    "record",
    "reroute",
    "rolling_view",
    "share",
    "status_line",
    "stop_and_roll_back",
    "terminate_original",
]

#: The lifecycle events of an ECS blue/green deployment, in order (aws-behaviour.md §5.4). A
#: deployment without a test listener reports only six of them; the row then shows those six.
CODEDEPLOY_STEPS: tuple[str, ...] = (
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "AllowTestTraffic",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
)
#: A rolling update (ECS controller) has no named events; these are the three things one sees.
ROLLING_STEPS: tuple[str, ...] = ("new tasks starting", "draining old", "steady")

FORMAT = "labsupport.player/1"  # the JSON's format tag, so an old file is recognised as such
MAX_FRAMES = 2000  # a recording that polls more often than this is almost certainly a typo
GRID_SECONDS = 60  # the request grid shows the last minute
GRID_ROWS = 20  # at most this many cells per second: more requests are sampled
LEAD_IN = 60.0  # the first frame also holds the traffic and events of the minute before the recording

_PENDING = {"PROVISIONING", "PENDING", "ACTIVATING"}
_TASK_REF = re.compile(r"\(task ([0-9a-f-]{8,36})\)")
_TG_REF = re.compile(r"\(target-group (arn:[^)\s]+)\)")
_DEPLOYMENT_REF = re.compile(r"ecs-svc/\d+")
_SERVICE_PREFIX = re.compile(r"^\(service [^)]+\) ")

# Colours: the app's colour names as matplotlib hues; failures in red (5xx) and black (no answer).
NAMED_COLOURS = {"blue": "#1f77b4", "green": "#2ca02c", "orange": "#ff7f0e", "purple": "#9467bd"}
_PALETTE = ("#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")
FAILED_COLOUR = "#d62728"
NO_ANSWER_COLOUR = "#111111"
OTHER_COLOUR = "#bdbdbd"  # answered by the load balancer without a version, not a failure (4xx)
_STEP_FILL = {
    "Succeeded": "#c8e6c9",
    "InProgress": "#fff59d",
    "Failed": "#ef9a9a",
    "Skipped": "#eeeeee",
    "Ready": "#bbdefb",
    "Pending": "#f7f7f7",
    "Unknown": "#f7f7f7",
}
_IN_PROGRESS = {"InProgress", "IN_PROGRESS", "Created", "Queued", "PENDING"}


# -- the data of a recording ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TrafficSecond:
    """The users' requests of the virtual second that ends ``t`` seconds after the recording started.

    (The region sends a second's requests together at its end, so they show the world at ``t``.)
    """

    t: float
    total: int
    failed: int
    versions: dict[str, int] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskCount:
    """The tasks of one task-definition revision in one frame."""

    revision: str  # "my-app-frontend:2"
    version: str  # "v2" (APP_VERSION), or the revision when it has none
    running: int = 0
    pending: int = 0
    stopping: int = 0
    healthy: int = 0

    def __str__(self) -> str:
        parts = [f"{self.running} running"] if self.running else []
        parts += [f"{self.pending} pending"] if self.pending else []
        parts += [f"{self.stopping} stopping"] if self.stopping else []
        return f"{self.version}: {', '.join(parts) or 'none'}"


@dataclass(frozen=True)
class TargetRow:
    """One target of one target group, as ``describe_target_health`` reported it in one frame."""

    target: str  # "10.0.0.5:80"
    target_group: str
    state: str
    reason: str | None = None
    version: str = ""


@dataclass(frozen=True)
class Rollout:
    """One entry of the service's ``deployments`` list (rolling updates)."""

    revision: str
    version: str
    status: str  # PRIMARY | ACTIVE
    rollout_state: str  # IN_PROGRESS | COMPLETED | FAILED
    running: int = 0
    pending: int = 0
    desired: int = 0
    failed_tasks: int = 0
    reason: str = ""


@dataclass(frozen=True)
class TaskSetView:
    """One entry of a CodeDeploy target's ``taskSetsInfo`` (aws-behaviour.md §5.6)."""

    label: str  # Blue | Green
    status: str  # PRIMARY | ACTIVE | DRAINING
    traffic_weight: float
    desired: int = 0
    running: int = 0
    pending: int = 0
    target_group: str = ""


@dataclass(frozen=True)
class DeploymentView:
    """Where the deployment is in one frame: its lifecycle step, status and the details behind them."""

    kind: str  # "rolling" | "codedeploy"
    status: str  # the primary rolloutState, or the CodeDeploy deployment status
    step: str  # the current step (one of ``steps``)
    steps: tuple[str, ...] = ROLLING_STEPS
    step_statuses: dict[str, str] = field(default_factory=dict)  # step -> Succeeded | InProgress | ...
    rollouts: tuple[Rollout, ...] = ()
    task_sets: tuple[TaskSetView, ...] = ()
    overview: dict[str, int] = field(default_factory=dict)  # CodeDeploy deploymentOverview
    error: str = ""  # errorInformation / rolloutStateReason of a failure
    note: str = ""  # what the status alone does not say: "termination wait", "rolled back by d-…"
    deployment_id: str = ""

    def green_weight(self) -> float | None:
        """The Green (replacement) task set's share of production traffic, in percent (CodeDeploy)."""
        found = next((s for s in self.task_sets if s.label.lower() == "green"), None)
        return None if found is None else found.traffic_weight


@dataclass(frozen=True)
class Event:
    """Something ECS or CodeDeploy said, ``t`` seconds after the recording started."""

    t: float
    text: str


@dataclass(frozen=True)
class Frame:
    """Everything the player shows at one moment, ``t`` seconds after the recording started.

    ``traffic`` holds the seconds that passed since the previous frame, ``events`` what appeared
    since then; tasks, targets and the deployment are as they were at ``t``.
    """

    t: float
    traffic: tuple[TrafficSecond, ...] = ()
    tasks: tuple[TaskCount, ...] = ()
    targets: tuple[TargetRow, ...] = ()
    deployment: DeploymentView = field(default_factory=lambda: DeploymentView("rolling", "-", "steady"))
    events: tuple[Event, ...] = ()


@dataclass
class Recording:
    """Frames over virtual time, plus what is needed to name and colour them.

    ``labels`` maps a revision to its version (``"my-app-frontend:2"`` → ``"v2"``), ``colours`` a
    version to its colour (``"v2"`` → ``"green"``, the app's ``APP_COLOUR``). ``origin`` is the clock
    (epoch seconds) at ``t = 0``; it is kept so a recording can be continued, never shown.
    """

    frames: list[Frame] = field(default_factory=list)
    every: float = 5.0
    cluster: str = ""
    service: str = ""
    deployment_id: str | None = None
    origin: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)
    colours: dict[str, str] = field(default_factory=dict)
    _recorder: Any = field(default=None, repr=False, compare=False)

    # -- reading --------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.frames)

    @property
    def end(self) -> float:
        """``t`` of the last frame (0 for an empty recording)."""
        return self.frames[-1].t if self.frames else 0.0

    @property
    def kind(self) -> str:
        """``"codedeploy"`` when a CodeDeploy deployment was followed, else ``"rolling"``."""
        return self.frames[-1].deployment.kind if self.frames else ("codedeploy" if self.deployment_id else "rolling")

    def frame(self, index: int) -> Frame:
        """Frame ``index`` (negative counts from the end); a LabError names the valid range."""
        if not self.frames:
            raise LabError(
                "The recording has no frames.", "record some first: player.record('3m') (after update_service)."
            )
        if not -len(self.frames) <= index < len(self.frames):
            raise LabError(
                f"There is no frame {index}: the recording has {len(self.frames)}.",
                f"pass an index from 0 to {len(self.frames) - 1} (or -1 for the last).",
            )
        return self.frames[index]

    def _index(self, index: int) -> int:
        self.frame(index)
        return index % len(self.frames)

    def seconds(self, index: int = -1) -> list[TrafficSecond]:
        """Every second of traffic up to and including frame ``index``, oldest first."""
        last = self._index(index)
        return [s for f in self.frames[: last + 1] for s in f.traffic]

    def all_seconds(self) -> list[TrafficSecond]:
        return [s for f in self.frames for s in f.traffic]

    def events(self, index: int = -1) -> list[Event]:
        """Every event up to and including frame ``index``, oldest first."""
        last = self._index(index)
        return [e for f in self.frames[: last + 1] for e in f.events]

    def failed(self, index: int = -1) -> int:
        """Failed requests (5xx or no answer) up to and including frame ``index``."""
        return sum(s.failed for s in self.seconds(index))

    def versions(self) -> list[str]:
        """Every version seen (in traffic, tasks or targets), in order of first appearance."""
        found: dict[str, None] = {}
        for f in self.frames:
            for s in f.traffic:
                for v in s.versions:
                    found.setdefault(v, None)
            for task in f.tasks:
                found.setdefault(task.version, None)
        return list(found)

    def colour_name(self, version: str) -> str:
        """The app's colour word for ``version`` (``"green"``), or the version itself if unknown."""
        return self.colours.get(version) or version

    def colour_of(self, version: str) -> str:
        """The hue ``version`` is drawn in: its colour name if matplotlib knows it, else a palette entry."""
        name = self.colours.get(version, "")
        if name in NAMED_COLOURS:
            return NAMED_COLOURS[name]
        if name and is_color_like(name):
            return name
        versions = self.versions()
        index = versions.index(version) if version in versions else len(versions)
        return _PALETTE[index % len(_PALETTE)]

    def summary(self) -> str:
        """One line: how long, which versions answered how much, how many failed, where it ended."""
        if not self.frames:
            return "empty recording"
        seconds = self.all_seconds()
        totals: Counter[str] = Counter()
        for s in seconds:
            totals.update(s.versions)
        total = sum(s.total for s in seconds)
        failed = sum(s.failed for s in seconds)
        answered = ", ".join(f"{v} ({self.colour_name(v)}) {n}" for v, n in totals.items()) or "no traffic"
        last = self.frames[-1].deployment
        return (
            f"{len(self.frames)} frames over {self.end:g} s: {total} requests, {failed} failed; "
            f"answered by {answered}; ended at {_step_text(last)}"
        )

    def figure(self, index: int = -1) -> Figure:
        """Frame ``index`` drawn by :func:`draw_frame`."""
        return draw_frame(self, index)

    # -- saving and loading ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (what :meth:`to_json` writes)."""
        return {
            "format": FORMAT,
            "every": self.every,
            "cluster": self.cluster,
            "service": self.service,
            "deployment_id": self.deployment_id,
            "origin": self.origin,
            "labels": dict(self.labels),
            "colours": dict(self.colours),
            "frames": [_frame_to_dict(f) for f in self.frames],
        }

    def to_json(self, indent: int | None = None) -> str:
        """The recording as JSON text: save it and replay the deployment later with :meth:`from_json`."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recording:
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise LabError(
                "This is not a deployment-player recording (its format tag is missing or different).",
                f'load what Recording.to_json() wrote (it starts with {{"format": "{FORMAT}"), or record a new one.',
            )
        try:
            return cls(
                frames=[_frame_from_dict(f) for f in data["frames"]],
                every=float(data["every"]),
                cluster=str(data.get("cluster") or ""),
                service=str(data.get("service") or ""),
                deployment_id=data.get("deployment_id"),
                origin=float(data.get("origin") or 0.0),
                labels={str(k): str(v) for k, v in (data.get("labels") or {}).items()},
                colours={str(k): str(v) for k, v in (data.get("colours") or {}).items()},
            )
        except (KeyError, TypeError, ValueError) as err:
            raise LabError(
                f"The recording is damaged: {type(err).__name__} {err}.", "record it again with player.record()."
            ) from None

    @classmethod
    def from_json(cls, text: str | bytes) -> Recording:
        """A recording saved by :meth:`to_json`."""
        try:
            data = json.loads(text)
        except ValueError as err:
            raise LabError(
                f"The recording is not valid JSON ({err}).", "load what Recording.to_json() wrote."
            ) from None
        return cls.from_dict(data)

    @classmethod
    def from_frames(
        cls,
        frames: Iterable[Frame],
        *,
        every: float = 5.0,
        colours: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        deployment_id: str | None = None,
        cluster: str = "",
        service: str = "",
    ) -> Recording:
        """A recording from frames made elsewhere (a replay, a lesson's prepared story, a test)."""
        ordered = list(frames)
        for before, after in itertools.pairwise(ordered):
            if after.t < before.t:
                raise LabError(
                    f"Frame at t={after.t:g} s comes after one at t={before.t:g} s.",
                    "pass the frames in time order: a recording only moves forward, like the clock.",
                )
        return cls(
            frames=ordered,
            every=float(every),
            cluster=cluster,
            service=service,
            deployment_id=deployment_id,
            colours=dict(colours or {}),
            labels=dict(labels or {}),
        )


# -- JSON helpers ---------------------------------------------------------------------------------------


def _frame_to_dict(frame: Frame) -> dict[str, Any]:
    d = frame.deployment
    return {
        "t": frame.t,
        "traffic": [
            {
                "t": s.t,
                "total": s.total,
                "failed": s.failed,
                "versions": dict(s.versions),
                # JSON object keys are strings; from_json turns them back into status codes.
                "statuses": {str(code): n for code, n in s.statuses.items()},
            }
            for s in frame.traffic
        ],
        "tasks": [[t.revision, t.version, t.running, t.pending, t.stopping, t.healthy] for t in frame.tasks],
        "targets": [[r.target, r.target_group, r.state, r.reason, r.version] for r in frame.targets],
        "deployment": {
            "kind": d.kind,
            "status": d.status,
            "step": d.step,
            "steps": list(d.steps),
            "step_statuses": dict(d.step_statuses),
            "rollouts": [
                [
                    r.revision,
                    r.version,
                    r.status,
                    r.rollout_state,
                    r.running,
                    r.pending,
                    r.desired,
                    r.failed_tasks,
                    r.reason,
                ]
                for r in d.rollouts
            ],
            "task_sets": [
                [s.label, s.status, s.traffic_weight, s.desired, s.running, s.pending, s.target_group]
                for s in d.task_sets
            ],
            "overview": dict(d.overview),
            "error": d.error,
            "note": d.note,
            "deployment_id": d.deployment_id,
        },
        "events": [[e.t, e.text] for e in frame.events],
    }


def _frame_from_dict(data: Mapping[str, Any]) -> Frame:
    d = data["deployment"]
    return Frame(
        t=float(data["t"]),
        traffic=tuple(
            TrafficSecond(
                t=float(s["t"]),
                total=int(s["total"]),
                failed=int(s["failed"]),
                versions={str(k): int(v) for k, v in s["versions"].items()},
                statuses={int(k): int(v) for k, v in s["statuses"].items()},
            )
            for s in data["traffic"]
        ),
        tasks=tuple(TaskCount(str(a), str(b), int(c), int(p), int(s), int(h)) for a, b, c, p, s, h in data["tasks"]),
        targets=tuple(TargetRow(str(a), str(b), str(c), r, str(v)) for a, b, c, r, v in data["targets"]),
        deployment=DeploymentView(
            kind=str(d["kind"]),
            status=str(d["status"]),
            step=str(d["step"]),
            steps=tuple(str(s) for s in d["steps"]),
            step_statuses={str(k): str(v) for k, v in d["step_statuses"].items()},
            rollouts=tuple(
                Rollout(str(a), str(b), str(c), str(e), int(r), int(p), int(w), int(f), str(why))
                for a, b, c, e, r, p, w, f, why in d["rollouts"]
            ),
            task_sets=tuple(
                TaskSetView(str(a), str(b), float(w), int(x), int(r), int(p), str(g))
                for a, b, w, x, r, p, g in d["task_sets"]
            ),
            overview={str(k): int(v) for k, v in d["overview"].items()},
            error=str(d.get("error") or ""),
            note=str(d.get("note") or ""),
            deployment_id=str(d.get("deployment_id") or ""),
        ),
        events=tuple(Event(float(t), str(text)) for t, text in data["events"]),
    )


# -- recording ------------------------------------------------------------------------------------------


def _ip_key(target: str) -> tuple[int, int, str]:
    address, _, port = target.rpartition(":")
    try:
        return int(ipaddress.ip_address(address or target)), int(port or 0), target
    except ValueError:
        return 2**128, 0, target


def _detail(task: Mapping[str, Any], name: str) -> str:
    for attachment in task.get("attachments") or []:
        for detail in attachment.get("details") or []:
            if detail.get("name") == name:
                return str(detail.get("value") or "")
    return ""


def _epoch(when: Any) -> float:
    if isinstance(when, datetime):
        return when.timestamp()
    if isinstance(when, int | float):
        return float(when)
    return datetime.fromisoformat(str(when).replace("Z", "+00:00")).timestamp()


def _error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


class _Recorder:
    """The polling state behind a recording: tasks followed, events already seen, names learnt."""

    def __init__(self, lab: Lab, recording: Recording, codedeploy: Any = None) -> None:
        self.lab = lab
        self.rec = recording
        self._codedeploy = codedeploy
        self.known_tasks: set[str] = set()
        self.seen_events: set[str] = set()
        self.ips: dict[str, str] = {}  # task id -> private IP
        self.deployments: dict[str, str] = {}  # ecs-svc/… -> revision
        self.target_groups: dict[str, str] = {}  # name -> ARN
        self.running_ips: dict[str, str] = {}  # IP of a running task -> its revision
        self.first = not recording.frames
        # A recording loaded from JSON and continued: events up to its end were shown already.
        self.cutoff = recording.origin + recording.end if recording.frames else None
        self.previous: DeploymentView | None = recording.frames[-1].deployment if recording.frames else None

    @property
    def codedeploy(self) -> Any:
        if self._codedeploy is None:
            self._codedeploy = self.lab.client("codedeploy")
        return self._codedeploy

    # -- time --------------------------------------------------------------------------------------
    def now(self) -> float:
        if self.lab.offline:
            endpoint = self.lab.endpoint or offline.require().endpoint
            return float(offline.control(endpoint, "/_lab/clock")["epoch_seconds"])
        return time.time()

    def wait(self, seconds: float) -> None:
        if self.lab.offline:
            # The lab's own region (not whichever the state file names): tests and classrooms run several.
            endpoint = self.lab.endpoint or offline.require().endpoint
            offline.control(endpoint, "/_lab/clock/advance", {"seconds": seconds}, timeout=300)
        else:
            time.sleep(seconds)

    # -- one frame -----------------------------------------------------------------------------------
    def poll(self, t: float, since: float) -> Frame:
        service = self._service()
        tasks, ip_versions = self._tasks()
        if self.rec.deployment_id:
            view = self._codedeploy_view()
            targets = self._targets(service, view.task_sets, ip_versions)
        else:
            targets = self._targets(service, (), ip_versions)
            view = self._rolling_view(service, tasks, targets)
        tasks = self._with_health(tasks, targets)
        seconds = self._traffic(since, t)
        events = self._events(service, t) + self._codedeploy_events(view, t)
        self.previous = view
        self.first = False
        return Frame(t, seconds, tasks, targets, view, tuple(events))

    def _with_health(self, tasks: tuple[TaskCount, ...], targets: Sequence[TargetRow]) -> tuple[TaskCount, ...]:
        """Each revision's running tasks that are healthy in one of the service's target groups."""
        healthy_ips = {r.target.rsplit(":", 1)[0] for r in targets if r.state == "healthy"}
        healthy: Counter[str] = Counter(rev for ip, rev in self.running_ips.items() if ip in healthy_ips)
        return tuple(
            TaskCount(t.revision, t.version, t.running, t.pending, t.stopping, healthy[t.revision]) for t in tasks
        )

    def _service(self) -> dict[str, Any]:
        ecs = self.lab.client("ecs")
        try:
            found = ecs.describe_services(cluster=self.rec.cluster, services=[self.rec.service])["services"]
        except ClientError as err:
            if _error_code(err) != "ClusterNotFoundException":
                raise
            found = []
        if not found or found[0].get("status") != "ACTIVE":
            raise LabError(
                f"There is no active service {self.rec.service!r} in cluster {self.rec.cluster!r} to record.",
                "build it first (chapter 05, or labsupport.catchup.catch_up(6)), or pass service=... "
                "with the name of yours.",
            )
        for d in found[0].get("deployments") or []:
            self.deployments[str(d["id"])] = str(d["taskDefinition"]).rsplit("/", 1)[-1]
        return dict(found[0])

    def _label(self, task_definition_arn: str) -> str:
        """The version of a revision (its APP_VERSION), learning its colour (APP_COLOUR) on the way."""
        revision = task_definition_arn.rsplit("/", 1)[-1]
        if revision not in self.rec.labels:
            env: dict[str, str] = {}
            try:
                found = self.lab.client("ecs").describe_task_definition(taskDefinition=task_definition_arn)
                for container in found["taskDefinition"].get("containerDefinitions") or []:
                    env.update({e["name"]: e["value"] for e in container.get("environment") or []})
            except ClientError:  # a deregistered revision still labels itself by its name
                env = {}
            version = env.get("APP_VERSION") or revision
            self.rec.labels[revision] = version
            if env.get("APP_COLOUR"):
                self.rec.colours.setdefault(version, env["APP_COLOUR"])
        return self.rec.labels[revision]

    def _tasks(self) -> tuple[tuple[TaskCount, ...], dict[str, str]]:
        ecs = self.lab.client("ecs")
        cluster, name = self.rec.cluster, self.rec.service
        wanted = ("RUNNING", "STOPPED") if self.first else ("RUNNING",)
        for desired in wanted:
            # On the first poll, tasks already on their way out (draining, stopping) are followed too.
            for page in ecs.get_paginator("list_tasks").paginate(
                cluster=cluster, serviceName=name, desiredStatus=desired
            ):
                self.known_tasks.update(page["taskArns"])
        ordered = sorted(self.known_tasks)
        described: list[dict[str, Any]] = []
        for start in range(0, len(ordered), 100):  # DescribeTasks takes up to 100 tasks per call
            described += ecs.describe_tasks(cluster=cluster, tasks=ordered[start : start + 100])["tasks"]
        counts: dict[str, Counter[str]] = {}
        ip_versions: dict[str, str] = {}
        running_ips: dict[str, str] = {}
        for task in described:
            arn = str(task["taskArn"])
            ip = _detail(task, "privateIPv4Address")
            self.ips[arn.rsplit("/", 1)[-1]] = ip
            status = str(task.get("lastStatus") or "")
            if status == "STOPPED":
                self.known_tasks.discard(arn)
                continue
            version = self._label(str(task["taskDefinitionArn"]))
            revision = str(task["taskDefinitionArn"]).rsplit("/", 1)[-1]
            if ip:
                ip_versions[ip] = version
            bucket = counts.setdefault(revision, Counter())
            if status in _PENDING:
                bucket["pending"] += 1
            elif status == "RUNNING" and task.get("desiredStatus") != "STOPPED":
                bucket["running"] += 1
                running_ips[ip] = revision
            else:
                bucket["stopping"] += 1
        self.running_ips = running_ips
        rows = tuple(
            TaskCount(r, self.rec.labels.get(r, r), c["running"], c["pending"], c["stopping"], 0)
            for r, c in sorted(counts.items(), key=lambda item: _revision_key(item[0]))
        )
        return rows, ip_versions

    def _tg_arn(self, name: str) -> str | None:
        if name not in self.target_groups:
            try:
                found = self.lab.client("elbv2").describe_target_groups(Names=[name])["TargetGroups"]
            except ClientError:
                return None
            if not found:
                return None
            self.target_groups[name] = str(found[0]["TargetGroupArn"])
        return self.target_groups[name]

    def _targets(
        self, service: Mapping[str, Any], task_sets: Sequence[TaskSetView], ip_versions: Mapping[str, str]
    ) -> tuple[TargetRow, ...]:
        arns: dict[str, str] = {}  # ARN -> name, in a stable order
        entries = list(service.get("loadBalancers") or [])
        for task_set in service.get("taskSets") or []:
            entries += list(task_set.get("loadBalancers") or [])
        for entry in entries:
            arn = entry.get("targetGroupArn")
            if arn:
                arns.setdefault(str(arn), str(arn).split("/")[1] if "/" in str(arn) else str(arn))
        for task_set in task_sets:
            if task_set.target_group:
                arn = self._tg_arn(task_set.target_group)
                if arn:
                    arns.setdefault(arn, task_set.target_group)
        elbv2 = self.lab.client("elbv2")
        rows: list[TargetRow] = []
        for arn, name in sorted(arns.items(), key=lambda item: item[1]):
            described = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
            for row in described:
                target, health = row["Target"], row.get("TargetHealth") or {}
                ip = str(target["Id"])
                rows.append(
                    TargetRow(
                        target=f"{ip}:{target.get('Port', '')}".rstrip(":"),
                        target_group=name,
                        state=str(health.get("State", "unknown")),
                        reason=health.get("Reason"),
                        version=ip_versions.get(ip, ""),
                    )
                )
        rows.sort(key=lambda r: (r.target_group, _ip_key(r.target)))
        return tuple(rows)

    def _traffic(self, since: float, t: float) -> tuple[TrafficSecond, ...]:
        if not self.lab.offline:
            return ()  # synthetic users exist only on the offline region's clock
        origin = self.rec.origin
        # The region sends second s's requests at the instant s, as the world is at s: they belong
        # to the frame that sees that world, so a frame at t takes the seconds in (previous t, t].
        low, high = math.floor(origin + since) + 1, math.floor(origin + t) + 1
        found = traffic.series(low, high, self.lab)
        unknown = [v for v in found.versions if v not in self.rec.colours]
        if unknown:
            # A version no task definition named (a task gone before the first poll): ask the traffic.
            for stats in traffic.summary(low, high, self.lab).versions:
                if stats.version in unknown and stats.colours:
                    self.rec.colours.setdefault(stats.version, stats.colours[0])
        return tuple(
            TrafficSecond(
                t=round(s.at.timestamp() - origin, 3),
                total=s.total,
                failed=s.failed,
                versions=dict(s.versions),
                statuses=dict(s.statuses),
            )
            for s in found.seconds
        )

    def _events(self, service: Mapping[str, Any], t: float) -> list[Event]:
        found = []
        for event in reversed(service.get("events") or []):  # ECS lists them newest first
            key = str(event.get("id") or event.get("message"))
            if key in self.seen_events:
                continue
            self.seen_events.add(key)
            when = _epoch(event["createdAt"]) if event.get("createdAt") is not None else self.rec.origin + t
            if self.cutoff is not None and when <= self.cutoff:
                continue  # a continued recording showed these already
            at = round(when - self.rec.origin, 3)
            if self.first and at < -LEAD_IN:
                continue  # long before the recording: not part of this story
            found.append(Event(at, self._tidy(str(event.get("message") or ""))))
        self.cutoff = None
        return found

    def _tidy(self, text: str) -> str:
        """ECS's words with IDs replaced: a task by its IP, a deployment by its version, a TG by name."""
        text = _SERVICE_PREFIX.sub("", text)

        def task(match: re.Match[str]) -> str:
            ip = self.ips.get(match.group(1)) or self._task_ip(match.group(1))
            return f"(task {ip or match.group(1)[:8] + '…'})"

        def deployment(match: re.Match[str]) -> str:
            revision = self.deployments.get(match.group(0))
            return f"of {self.rec.labels.get(revision, revision)}" if revision else "…"

        text = _TASK_REF.sub(task, text)
        text = _DEPLOYMENT_REF.sub(deployment, text)
        return _TG_REF.sub(lambda m: f"(target-group {m.group(1).split('/')[1]})", text)

    def _task_ip(self, task_id: str) -> str:
        try:
            found = self.lab.client("ecs").describe_tasks(cluster=self.rec.cluster, tasks=[task_id])["tasks"]
        except ClientError:  # an expired task: the caller falls back to its short id
            return ""
        ip = _detail(found[0], "privateIPv4Address") if found else ""
        self.ips[task_id] = ip
        return ip

    # -- where the deployment is ---------------------------------------------------------------------
    def _rolling_view(
        self, service: Mapping[str, Any], tasks: tuple[TaskCount, ...], targets: Sequence[TargetRow]
    ) -> DeploymentView:
        rollouts = []
        for d in service.get("deployments") or []:
            version = self._label(str(d["taskDefinition"]))
            rollouts.append(
                Rollout(
                    revision=str(d["taskDefinition"]).rsplit("/", 1)[-1],
                    version=version,
                    status=str(d.get("status") or ""),
                    rollout_state=str(d.get("rolloutState") or "-"),
                    running=int(d.get("runningCount") or 0),
                    pending=int(d.get("pendingCount") or 0),
                    desired=int(d.get("desiredCount") or 0),
                    failed_tasks=int(d.get("failedTasks") or 0),
                    reason=str(d.get("rolloutStateReason") or ""),
                )
            )
        return rolling_view(
            tuple(rollouts),
            self._with_health(tasks, targets),
            desired=int(service.get("desiredCount") or 0),
            load_balanced=bool(service.get("loadBalancers")),
        )

    def _codedeploy_view(self) -> DeploymentView:
        deployment_id = str(self.rec.deployment_id)
        try:
            info = self.codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        except ClientError as err:
            if _error_code(err) in ("DeploymentDoesNotExistException", "InvalidDeploymentIdException"):
                raise LabError(
                    f"CodeDeploy has no deployment {deployment_id!r}.",
                    "pass the deploymentId that create_deployment returned (or see codedeploy.list_deployments).",
                ) from None
            raise
        target: dict[str, Any] = {}
        try:
            answer = self.codedeploy.get_deployment_target(
                deploymentId=deployment_id, targetId=f"{self.rec.cluster}:{self.rec.service}"
            )
            target = dict((answer.get("deploymentTarget") or {}).get("ecsTarget") or {})
        except ClientError as err:
            # A deployment that has not started yet has no target; the frame shows it as not started.
            if _error_code(err) not in (
                "DeploymentNotStartedException",
                "DeploymentTargetDoesNotExistException",
                "InvalidDeploymentTargetIdException",
            ):
                raise
        return codedeploy_view(info, target)

    def _codedeploy_events(self, view: DeploymentView, t: float) -> list[Event]:
        if view.kind != "codedeploy":
            return []
        return [Event(t, text) for text in codedeploy_changes(self.previous, view)]


def _revision_key(revision: str) -> tuple[str, int]:
    family, _, number = revision.rpartition(":")
    return (family, int(number)) if number.isdigit() else (revision, 0)


def rolling_view(
    rollouts: Sequence[Rollout], tasks: Sequence[TaskCount], *, desired: int, load_balanced: bool = True
) -> DeploymentView:
    """Read a rolling update's state as one of :data:`ROLLING_STEPS`.

    *new tasks starting* until the PRIMARY deployment's tasks all run (and, behind a load balancer,
    are healthy); *draining old* while tasks of other revisions, or other deployments, remain;
    *steady* once one COMPLETED deployment is left. A FAILED rollout (the circuit breaker) marks the
    step it failed in.
    """
    primary = next((r for r in rollouts if r.status == "PRIMARY"), None)
    if primary is None:
        return DeploymentView("rolling", "-", "steady", ROLLING_STEPS, _linear_statuses(ROLLING_STEPS, 2, "Succeeded"))
    new = next((t for t in tasks if t.revision == primary.revision), None)
    ready = new is not None and new.running >= desired and (new.healthy >= desired or not load_balanced)
    old_tasks = sum(t.running + t.pending + t.stopping for t in tasks if t.revision != primary.revision)
    others = [r for r in rollouts if r is not primary]
    if not ready:
        index = 0
    elif old_tasks or others or primary.rollout_state == "IN_PROGRESS" or (new is not None and new.pending):
        index = 1
    else:
        index = 2
    current_status = "InProgress"
    if primary.rollout_state == "FAILED":
        current_status = "Failed"
    elif index == 2:
        current_status = "Succeeded"
    failed = next((r for r in rollouts if r.rollout_state == "FAILED"), None)
    return DeploymentView(
        kind="rolling",
        status=primary.rollout_state,
        step=ROLLING_STEPS[index],
        steps=ROLLING_STEPS,
        step_statuses=_linear_statuses(ROLLING_STEPS, index, current_status),
        rollouts=tuple(rollouts),
        error=failed.reason if failed is not None else "",
        note=f"{failed.version} failed: rolling back" if failed is not None and failed is not primary else "",
    )


def _linear_statuses(steps: Sequence[str], index: int, current_status: str) -> dict[str, str]:
    return {
        step: ("Succeeded" if i < index else current_status if i == index else "Pending")
        for i, step in enumerate(steps)
    }


def codedeploy_view(info: Mapping[str, Any], target: Mapping[str, Any]) -> DeploymentView:
    """A CodeDeploy deployment as the player shows it, from ``get_deployment``'s ``deploymentInfo``
    and ``get_deployment_target``'s ``ecsTarget`` (either may be partial; aws-behaviour.md §5.6).

    The current step is the lifecycle event in progress, else the first that failed, else the last
    one that finished; before any has run, the first.
    """
    events = list(target.get("lifecycleEvents") or [])
    statuses = {str(e["lifecycleEventName"]): str(e.get("status") or "Pending") for e in events}
    steps = tuple(statuses) or CODEDEPLOY_STEPS
    if not statuses:
        statuses = dict.fromkeys(steps, "Pending")
    step = next((s for s in steps if statuses[s] == "InProgress"), None)
    step = step or next((s for s in steps if statuses[s] == "Failed"), None)
    if step is None:
        done = [s for s in steps if statuses[s] in ("Succeeded", "Skipped")]
        step = done[-1] if done else steps[0]
    task_sets = tuple(
        TaskSetView(
            label=str(s.get("taskSetLabel") or ""),
            status=str(s.get("status") or ""),
            traffic_weight=float(s.get("trafficWeight") or 0.0),
            desired=int(s.get("desiredCount") or 0),
            running=int(s.get("runningCount") or 0),
            pending=int(s.get("pendingCount") or 0),
            target_group=str((s.get("targetGroup") or {}).get("name") or ""),
        )
        for s in sorted(target.get("taskSetsInfo") or [], key=lambda s: str(s.get("taskSetLabel") or ""))
    )
    status = str(info.get("status") or "-")
    notes = []
    if status == "Ready":
        notes.append("waiting to reroute")
    if info.get("instanceTerminationWaitTimeStarted") and status not in ("Succeeded", "Failed", "Stopped"):
        notes.append("termination wait")  # the original task set is kept until the wait ends
    rollback = info.get("rollbackInfo") or {}
    if rollback.get("rollbackDeploymentId"):
        notes.append(f"rolled back by {rollback['rollbackDeploymentId']}")
    elif rollback.get("rollbackTriggeringDeploymentId"):
        notes.append(f"the rollback of {rollback['rollbackTriggeringDeploymentId']}")
    return DeploymentView(
        kind="codedeploy",
        status=status,
        step=step,
        steps=steps,
        step_statuses=statuses,
        task_sets=task_sets,
        overview={str(k): int(v) for k, v in (info.get("deploymentOverview") or {}).items()},
        error=str((info.get("errorInformation") or {}).get("message") or ""),
        note="; ".join(notes),
        deployment_id=str(info.get("deploymentId") or ""),
    )


def codedeploy_changes(before: DeploymentView | None, after: DeploymentView) -> list[str]:
    """What changed between two CodeDeploy views, as event lines (CodeDeploy keeps no event log)."""
    lines = []
    was = before if before is not None and before.kind == "codedeploy" else None
    if was is None or was.status != after.status:
        lines.append(f"deployment {after.deployment_id or ''} {after.status}".replace("  ", " "))
    for step in after.steps:
        status = after.step_statuses.get(step, "Pending")
        old = was.step_statuses.get(step, "Pending") if was is not None else "Pending"
        if status != old:
            lines.append(f"{step}: {status}")
    weights = {s.label: s.traffic_weight for s in after.task_sets}
    old_weights = {s.label: s.traffic_weight for s in was.task_sets} if was is not None else {}
    if weights and weights != old_weights:
        lines.append("traffic: " + " · ".join(f"{label} {w:g} %" for label, w in weights.items()))
    if after.error and (was is None or was.error != after.error):
        lines.append(f"error: {after.error}")
    return lines


def record(
    duration: str | float = "3m",
    every: str | float = "5s",
    deployment_id: str | None = None,
    service: str | None = None,
    lab: Lab | None = None,
    *,
    recording: Recording | None = None,
    codedeploy: Any = None,
    wait: Callable[[float], Any] | None = None,
) -> Recording:
    """Record the service for ``duration``, one frame every ``every`` (``"3m"``, ``"5s"``, or seconds).

    The first frame is taken at once (``t = 0``); then time passes ``every`` at a time: offline the
    region's virtual clock advances (instantly), on real AWS the call really waits. With
    ``deployment_id`` (a CodeDeploy ``d-…``) each frame also holds that deployment's lifecycle events,
    status and task-set traffic weights. Pass ``recording`` to continue one (``t`` keeps counting).
    """
    lab = lab or current()
    seconds = clock.parse_duration(duration)
    step = clock.parse_duration(every)
    if step <= 0:
        raise LabError(f"every={every!r} would record without letting time pass.", "use every='5s' or more.")
    if seconds / step > MAX_FRAMES:
        raise LabError(
            f"Recording {seconds:g} s every {step:g} s would take {seconds / step:.0f} frames.",
            f"record for a shorter time or less often (a larger `every`): at most {MAX_FRAMES} frames.",
        )
    cfg = lab.config.raw["ecs"]
    if recording is None:
        recording = Recording(deployment_id=deployment_id)
    elif deployment_id:
        recording.deployment_id = deployment_id
    if not recording.frames:
        # A new recording (or an empty one a widget made) learns what to watch from the lab.
        recording.every = step
        recording.cluster = recording.cluster or str(cfg["cluster"])
        recording.service = str(service or recording.service or cfg["service"])
    recorder = recording._recorder
    stale = recorder is None or recorder.lab is not lab
    if stale or (codedeploy is not None and recorder._codedeploy is not codedeploy):
        recorder = _Recorder(lab, recording, codedeploy)
        recording._recorder = recorder
    pause = wait or recorder.wait
    if not recording.frames:
        recording.origin = recorder.now()
        # The first frame carries the minute before it, so the request grid starts full, not empty.
        recording.frames.append(recorder.poll(0.0, -LEAD_IN))
    elapsed = 0.0
    while elapsed < seconds - 1e-9:
        chunk = min(step, seconds - elapsed)
        pause(chunk)
        elapsed += chunk
        before = recording.end
        # t is what the clock says, not the sum of the waits: on real AWS each poll itself takes time.
        t = max(before, round(recorder.now() - recording.origin, 3)) if wait is None else round(before + chunk, 3)
        recording.frames.append(recorder.poll(t, before))
    return recording


# -- what the status line says ----------------------------------------------------------------------------


def share(recording: Recording, index: int = -1) -> tuple[str, float] | None:
    """The share that the deployment is moving, as (colour word, percent) at frame ``index``.

    CodeDeploy: the Green (replacement) task set's ``trafficWeight``. Rolling: the share of the
    PRIMARY deployment's version among the requests of the frame (or of the latest frame with
    traffic before it), named by its colour. None when there is nothing to measure.
    """
    frame = recording.frame(index)
    view = frame.deployment
    if view.kind == "codedeploy":
        weight = view.green_weight()
        return ("green", weight if weight is not None else 0.0)
    primary = next((r for r in view.rollouts if r.status == "PRIMARY"), None)
    last = recording._index(index)
    for f in reversed(recording.frames[: last + 1]):
        total = sum(s.total for s in f.traffic)
        if total:
            if primary is not None:
                version = primary.version
            else:
                counts: Counter[str] = Counter()
                for s in f.traffic:
                    counts.update(s.versions)
                version = max(counts, key=lambda v: (counts[v], v)) if counts else ""
            if not version:
                return None
            answered = sum(s.versions.get(version, 0) for s in f.traffic)
            return recording.colour_name(version), 100.0 * answered / total
    return None


def _step_text(view: DeploymentView) -> str:
    quiet = {"InProgress", "IN_PROGRESS", "COMPLETED", "-"}
    text = view.step if view.status in quiet else f"{view.step} ({view.status})"
    return f"{text}, {view.note}" if view.note else text


def status_line(recording: Recording, index: int = -1) -> str:
    """One line for frame ``index``: ``"t+95 s · AllowTraffic · green 10 % · 0 failed"``."""
    frame = recording.frame(index)
    parts = [f"t+{frame.t:g} s", _step_text(frame.deployment)]
    found = share(recording, index)
    if found is not None:
        parts.append(f"{found[0]} {found[1]:.0f} %")
    parts.append(f"{recording.failed(index)} failed")
    return " · ".join(parts)


# -- the CodeDeploy buttons, without a widget -----------------------------------------------------------


def _client(codedeploy: Any, lab: Lab | None) -> Any:
    return codedeploy if codedeploy is not None else (lab or current()).client("codedeploy")


def reroute(deployment_id: str, *, codedeploy: Any = None, lab: Lab | None = None) -> str:
    """The console's *Reroute traffic*: ``continue_deployment(READY_WAIT)``; production starts to move.

    Only a deployment that is ``Ready`` (waiting with ``STOP_DEPLOYMENT``) accepts it; otherwise AWS
    answers ``DeploymentIsNotInReadyStateException`` (raised as botocore's ClientError).
    """
    _client(codedeploy, lab).continue_deployment(deploymentId=deployment_id, deploymentWaitType="READY_WAIT")
    return f"reroute requested: {deployment_id} moves production traffic to the replacement task set"


def stop_and_roll_back(deployment_id: str, *, codedeploy: Any = None, lab: Lab | None = None) -> str:
    """The console's *Stop and roll back*: ``stop_deployment(autoRollbackEnabled=True)``.

    CodeDeploy sends the traffic back to the original task set (a rollback is a new deployment).
    """
    answer = _client(codedeploy, lab).stop_deployment(deploymentId=deployment_id, autoRollbackEnabled=True)
    status = answer.get("status", "") if isinstance(answer, Mapping) else ""
    message = answer.get("statusMessage", "") if isinstance(answer, Mapping) else ""
    return f"stop and roll back requested: {status or 'sent'}" + (f" ({message})" if message else "")


def terminate_original(deployment_id: str, *, codedeploy: Any = None, lab: Lab | None = None) -> str:
    """The console's *Terminate original task set*: ``continue_deployment(TERMINATION_WAIT)``, ending the wait now."""
    _client(codedeploy, lab).continue_deployment(deploymentId=deployment_id, deploymentWaitType="TERMINATION_WAIT")
    return f"terminate requested: {deployment_id} deletes the original task set now"


_HINTS = {
    "DeploymentIsNotInReadyStateException": (
        "Reroute works only while the deployment is Ready (waiting with STOP_DEPLOYMENT), and Terminate only "
        "during the termination wait after traffic has moved."
    ),
    "DeploymentAlreadyCompletedException": "The deployment has already finished: there is nothing left to stop.",
    "DeploymentDoesNotExistException": "Check the deployment id (codedeploy.list_deployments lists them).",
    "InvalidDeploymentIdException": "A deployment id looks like d-ABCDEF123.",
    "UnsupportedActionForDeploymentTypeException": "This control works only for blue/green deployments.",
    "DeploymentNotStartedException": "The deployment has not started yet: let a second pass and try again.",
}


def explain(err: Exception) -> str:
    """An error as one line for the status: AWS's code and words, plus what it means here."""
    if isinstance(err, ClientError):
        code = _error_code(err)
        message = str(err.response.get("Error", {}).get("Message", "")) or str(err)
        hint = _HINTS.get(code, "")
        return f"{code}: {message}" + (f" — {hint}" if hint else "")
    if isinstance(err, LabError):
        return str(err)
    return f"{type(err).__name__}: {err}"


# -- drawing ------------------------------------------------------------------------------------------------


def _rgb(colour: str) -> tuple[float, float, float]:
    r, g, b = to_rgb(colour)
    return float(r), float(g), float(b)


def _allocate(counts: Sequence[tuple[str, int]], cap: int) -> list[tuple[str, int]]:
    """Scale counts to at most ``cap`` cells, deterministically (largest remainder; ties by order).

    Every category that has requests keeps at least one cell, so a single failure among hundreds
    of answers stays visible.
    """
    total = sum(n for _, n in counts)
    if total <= cap:
        return list(counts)
    present = [(k, n) for k, n in counts if n > 0]
    if len(present) >= cap:
        return [(k, 1) for k, _ in present[:cap]]
    spare = cap - len(present)
    quotas = [(n - 1) * spare / (total - len(present)) if total > len(present) else 0.0 for _, n in present]
    cells = [1 + int(q) for q in quotas]
    left = cap - sum(cells)
    order = sorted(range(len(present)), key=lambda i: (-(quotas[i] - int(quotas[i])), i))
    for i in order[:left]:
        cells[i] += 1
    return [(k, c) for (k, _), c in zip(present, cells, strict=True)]


def _categories(second: TrafficSecond, versions: Sequence[str]) -> list[tuple[str, int]]:
    """One second's requests as drawable categories: versions (answered), then 5xx, then no answer."""
    failed_5xx = sum(n for code, n in second.statuses.items() if code >= 500)
    no_answer = second.statuses.get(0, 0)
    answered_ok = max(0, second.total - failed_5xx - no_answer)
    # A version may have answered with a 5xx itself: its share of the good answers shrinks to fit.
    by_version = [(v, second.versions.get(v, 0)) for v in versions if second.versions.get(v, 0)]
    scaled = _allocate(by_version, answered_ok) if sum(n for _, n in by_version) > answered_ok else by_version
    other = answered_ok - sum(n for _, n in scaled)
    result = [(f"v:{v}", n) for v, n in scaled]
    if other > 0:
        result.append(("other", other))
    result += [("5xx", failed_5xx)] if failed_5xx else []
    result += [("none", no_answer)] if no_answer else []
    return result


def _cell_colour(recording: Recording, key: str) -> str:
    if key.startswith("v:"):
        return recording.colour_of(key[2:])
    return {"5xx": FAILED_COLOUR, "none": NO_ANSWER_COLOUR}.get(key, OTHER_COLOUR)


def _draw_grid(ax: Axes, recording: Recording, index: int) -> None:
    frame = recording.frame(index)
    start = frame.t - GRID_SECONDS
    window = [s for s in recording.seconds(index) if start < s.t <= frame.t]
    versions = recording.versions()
    columns: dict[int, list[tuple[str, int]]] = {}
    sampled = False
    for second in window:
        cats = _categories(second, versions)
        if sum(n for _, n in cats) > GRID_ROWS:
            sampled = True
        # The second that ends at t is the column (t - 1, t]: the last column ends at the frame.
        column = min(GRID_SECONDS - 1, max(0, math.ceil(second.t - start) - 1))
        columns[column] = _allocate(cats, GRID_ROWS)
    rows = max((sum(n for _, n in c) for c in columns.values()), default=0)
    rows = max(rows, 1)
    # The picture is an image: 4 × 4 pixels per cell plus a 1-pixel white gap, drawn bottom-up.
    cell, gap = 4, 1
    pitch = cell + gap
    image = np.ones((rows * pitch, GRID_SECONDS * pitch, 3))  # white: no request there
    seen: dict[str, None] = {}
    for col, cats in columns.items():
        row = 0
        for key, n in cats:
            seen.setdefault(key, None)
            colour = _rgb(_cell_colour(recording, key))
            for _ in range(n):
                y0, x0 = row * pitch, col * pitch
                image[y0 : y0 + cell, x0 : x0 + cell] = colour
                row += 1
    ax.imshow(image, origin="lower", aspect="auto", interpolation="nearest", extent=(start, frame.t, 0, rows))
    ax.set_yticks([])
    ax.tick_params(labelsize=7)
    ax.set_xlim(start, frame.t)
    note = f", sampled to at most {GRID_ROWS} per second" if sampled else ""
    ax.set_title(
        f"(a) the last {GRID_SECONDS} s: one cell per request, coloured by the version that answered{note}",
        fontsize=8.5,
        loc="left",
    )
    if not window:
        ax.text(
            (start + frame.t) / 2,
            rows / 2,
            "no requests in this minute" + ("" if recording.all_seconds() else " (offline: traffic.start(rate=20))"),
            ha="center",
            va="center",
            fontsize=8,
            color="#555555",
        )
    names = {"5xx": "5xx", "none": "no answer", "other": "other answers"}
    handles = [
        Patch(
            color=_cell_colour(recording, k),
            label=f"{k[2:]} ({recording.colour_name(k[2:])})" if k.startswith("v:") else names[k],
        )
        for k in sorted(seen, key=lambda k: (not k.startswith("v:"), versions.index(k[2:]) if k[2:] in versions else 0))
    ]
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7, frameon=False)


def _time_range(recording: Recording) -> tuple[float, float]:
    """The x range of the panels over the whole recording: its traffic, and each frame's interval."""
    seconds = recording.all_seconds()
    first = min([-recording.every, *(s.t - 1 for s in seconds)])
    last = max([recording.end, *(s.t for s in seconds)])
    return first, last


def _draw_shares(ax: Axes, recording: Recording, index: int) -> None:
    frame = recording.frame(index)
    seconds = recording.all_seconds()
    first, last = _time_range(recording)
    ax.set_xlim(first, last)
    ax.set_ylim(0, 100)
    ax.set_yticks([0, 50, 100], ["0", "50", "100 %"])
    ax.tick_params(labelsize=7)
    ax.set_title("(b) share of each second's requests, over the whole recording", fontsize=8.5, loc="left")
    if seconds:
        versions = recording.versions()
        lo = int(np.floor(first))
        n = int(np.ceil(last)) - lo
        layers: dict[str, np.ndarray] = {f"v:{v}": np.zeros(n) for v in versions}
        layers.update({k: np.zeros(n) for k in ("other", "5xx", "none")})
        for s in seconds:
            if not s.total:
                continue
            i = min(n - 1, max(0, math.ceil(s.t) - 1 - lo))  # the second (t - 1, t]
            for key, count in _categories(s, versions):
                layers[key][i] += 100.0 * count / s.total
        x = np.arange(lo, lo + n + 1, dtype=float)
        bottom = np.zeros(n)
        for key, values in layers.items():
            if not values.any():
                continue
            top = bottom + values
            # Step edges: each second is a flat bar from t to t + 1.
            ax.fill_between(
                x,
                np.append(bottom, bottom[-1]),
                np.append(top, top[-1]),
                step="post",
                color=_cell_colour(recording, key),
                linewidth=0,
            )
            bottom = top
        # What has not happened yet at this frame is faded, so the cursor reads as "now".
        if frame.t < last:
            ax.axvspan(frame.t, last, color="white", alpha=0.65, linewidth=0)
    else:
        ax.text(
            (first + last) / 2,
            50,
            "no traffic recorded",
            ha="center",
            va="center",
            fontsize=8,
            color="#555555",
        )
    ax.axvline(frame.t, color="black", linewidth=1.2)


def _two_lines(name: str) -> str:
    """``AfterAllowTestTraffic`` → ``AfterAllow\\nTestTraffic``: long step names split at a capital."""
    if len(name) <= 12 or " " in name:
        return name.replace(" ", "\n", 1) if len(name) > 12 else name
    cuts = [i for i, ch in enumerate(name) if ch.isupper() and i > 0]
    if not cuts:
        return name
    cut = min(cuts, key=lambda i: abs(i - len(name) / 2))
    return f"{name[:cut]}\n{name[cut:]}"


def _draw_steps(ax: Axes, recording: Recording, index: int) -> None:
    frame = recording.frame(index)
    view = frame.deployment
    steps = view.steps or ROLLING_STEPS
    n = len(steps)
    ax.set_xlim(0, n)
    ax.set_ylim(-1.1, 1.05)
    ax.axis("off")
    title = "CodeDeploy lifecycle events" if view.kind == "codedeploy" else "rolling update (ECS)"
    ax.set_title(f"(c) {title}: {_step_text(view)}", fontsize=8.5, loc="left")
    for i, step in enumerate(steps):
        status = view.step_statuses.get(step, "Pending")
        current = step == view.step
        ax.add_patch(
            Rectangle(
                (i + 0.04, 0.05),
                0.92,
                0.9,
                facecolor=_STEP_FILL.get(status, _STEP_FILL["Pending"]),
                edgecolor="black" if current else "#9e9e9e",
                linewidth=2.4 if current else 0.8,
                hatch="//" if status == "Skipped" else None,
            )
        )
        ax.text(
            i + 0.5,
            0.6,
            _two_lines(step),
            ha="center",
            va="center",
            fontsize=7,
            fontweight="bold" if current else "normal",
        )
        ax.text(i + 0.5, 0.17, status, ha="center", va="center", fontsize=6.5, color="#424242")
    lines = []
    if frame.tasks:
        lines.append("tasks: " + " · ".join(str(t) for t in frame.tasks))
    if view.kind == "codedeploy" and view.task_sets:
        lines.append(
            "task sets: "
            + " · ".join(
                f"{s.label} {s.status} {s.traffic_weight:g} % ({s.running}/{s.desired} running"
                + (f", {s.target_group})" if s.target_group else ")")
                for s in view.task_sets
            )
        )
    elif view.rollouts:
        lines.append(
            "deployments: "
            + " · ".join(
                f"{r.version} {r.status} {r.rollout_state} ({r.running}/{r.desired} running"
                + (f", {r.failed_tasks} failed" if r.failed_tasks else "")
                + ")"
                for r in view.rollouts
            )
        )
    if view.error:
        lines.append(f"error: {view.error}")
    for k, line in enumerate(lines[:3]):
        ax.text(
            0.02,
            -0.2 - 0.33 * k,
            line,
            ha="left",
            va="center",
            fontsize=7,
            color="#c62828" if line.startswith("error") else "#212121",
        )


def _target_lanes(recording: Recording) -> list[tuple[str, str]]:
    found: dict[tuple[str, str], None] = {}
    for frame in recording.frames:
        for row in frame.targets:
            found.setdefault((row.target_group, row.target), None)
    return list(found)


def _short_names(names: Sequence[str]) -> dict[str, str]:
    """``my-app-frontend-tg-1``, ``my-app-frontend-tg-2`` → ``tg-1``, ``tg-2``: what tells them apart."""
    if len(names) < 2:
        return {n: n for n in names}
    prefix = names[0]
    for name in names[1:]:
        while not name.startswith(prefix):
            prefix = prefix[:-1]
    cut = prefix.rfind("-", 0, len(prefix) - 1) + 1 if "-" in prefix[:-1] else 0
    # Keep the word the names differ in whole ("tg-1", not "1"): cut at the dash before it.
    return {n: n[cut:] or n for n in names}


def _draw_lanes(ax: Axes, recording: Recording, index: int, lanes: list[tuple[str, str]]) -> None:
    frame = recording.frame(index)
    first, end = _time_range(recording)
    ax.set_xlim(first, end)
    ax.set_ylim(max(len(lanes), 1) - 0.5, -0.5)
    ax.tick_params(labelsize=7)
    ax.set_title("(d) target health, one lane per target", fontsize=8.5, loc="left")
    ax.set_xlabel("seconds since the recording started (t)", fontsize=7)
    if not lanes:
        ax.text((first + end) / 2, 0, "no targets registered", ha="center", va="center", fontsize=8)
        ax.set_yticks([])
        return
    groups = {g for g, _ in lanes}
    versions: dict[tuple[str, str], str] = {}
    seen_states: dict[str, None] = {}
    for lane, key in enumerate(lanes):
        spans: list[tuple[float, float, str]] = []
        for i, f in enumerate(recording.frames):
            row = next((r for r in f.targets if (r.target_group, r.target) == key), None)
            if row is None:
                continue
            if row.version:
                versions.setdefault(key, row.version)
            # A poll at t shows the state reached by t: it colours (previous poll, t], like the traffic.
            begin = recording.frames[i - 1].t if i else f.t - recording.every
            if spans and spans[-1][2] == row.state and spans[-1][1] == begin:
                spans[-1] = (spans[-1][0], f.t, row.state)
            else:
                spans.append((begin, f.t, row.state))
        for a, b, state in spans:
            seen_states.setdefault(state, None)
            ax.barh(
                lane,
                max(b - a, 0.3),
                left=a,
                height=0.62,
                color=STATE_COLOURS.get(state, "#7e57c2"),
                edgecolor="white",
                linewidth=0.6,
            )
    short = _short_names(sorted(groups))
    labels = []
    for group, target in lanes:
        version = versions.get((group, target), "")
        label = f"{version} {target}".strip()
        labels.append(f"{label} {short[group]}" if len(groups) > 1 else label)
    ax.set_yticks(range(len(lanes)), labels)
    if frame.t < end:
        ax.axvspan(frame.t, end, color="white", alpha=0.65, linewidth=0)
    ax.axvline(frame.t, color="black", linewidth=1.2)
    handles = [Patch(color=STATE_COLOURS.get(s, "#7e57c2"), label=s) for s in seen_states]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7, frameon=False)


MAX_LANES = 12


def draw_frame(recording: Recording, index: int = -1) -> Figure:
    """Frame ``index`` of ``recording`` as one picture (a ``matplotlib.figure.Figure``, not shown).

    (a) the last minute's requests, one cell each, coloured by the version that answered (red: 5xx,
    black: no answer); (b) each second's shares over the whole recording, with a cursor at this frame;
    (c) the lifecycle steps with the current one outlined; (d) one lane of target health per target.
    The same recording and index always give the same picture.
    """
    recording.frame(index)  # a LabError for an index out of range, before any drawing
    lanes = _target_lanes(recording)
    shown = lanes[:MAX_LANES]
    # Geometry in inches (as target_health.draw_timeline does): fixed panels, lanes grow with targets.
    width, left, right = 10.5, 1.9, 1.75
    top, grid_h, gap, share_h, steps_h, lane_h, bottom = 0.45, 1.7, 0.4, 1.0, 1.25, 0.26, 0.55
    lanes_h = lane_h * max(len(shown), 1) + 0.1
    height = top + grid_h + gap + share_h + gap + 0.25 + steps_h + gap + lanes_h + bottom
    fig = Figure(figsize=(width, height), dpi=80)
    fig.text(0.01, 1 - 0.12 / height, status_line(recording, index), fontsize=10, va="top", fontweight="bold")
    y = height - top

    def axes(h: float) -> Axes:
        nonlocal y
        y -= h
        return fig.add_axes((left / width, y / height, 1 - (left + right) / width, h / height))

    _draw_grid(axes(grid_h), recording, index)
    y -= gap
    _draw_shares(axes(share_h), recording, index)
    y -= gap + 0.25
    _draw_steps(axes(steps_h), recording, index)
    y -= gap
    _draw_lanes(axes(lanes_h), recording, index, shown)
    if len(lanes) > len(shown):
        fig.text(0.01, 0.01, f"(+{len(lanes) - len(shown)} more targets not shown)", fontsize=7)
    return fig
