"""CodeDeploy deployment configurations for ECS: how production traffic moves to the replacement.

Three styles (CodeDeploy's ``TrafficRoutingType``):

- ``AllAtOnce``: 100 % in one step;
- ``TimeBasedCanary``: ``canaryPercentage`` first, the rest ``canaryInterval`` minutes later;
- ``TimeBasedLinear``: ``linearPercentage`` more every ``linearInterval`` minutes until 100 %.

The five predefined ECS configurations are below, spelled exactly as AWS spells them (note the plural
``...Every1Minutes``, unlike the Lambda config ``...Every1Minute``). :func:`schedule` turns any of
them into the list of (minute, percent on the replacement) steps; the offline region's CodeDeploy
engine and the lab's pictures both use it, so what you predict from the config is what happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import LabError

PREFIX = "CodeDeployDefault."


@dataclass(frozen=True)
class TrafficRouting:
    type: str  # AllAtOnce | TimeBasedCanary | TimeBasedLinear
    percentage: int = 100
    interval_minutes: int = 0

    def to_api(self) -> dict[str, Any]:
        if self.type == "TimeBasedCanary":
            return {
                "type": self.type,
                "timeBasedCanary": {"canaryPercentage": self.percentage, "canaryInterval": self.interval_minutes},
            }
        if self.type == "TimeBasedLinear":
            return {
                "type": self.type,
                "timeBasedLinear": {"linearPercentage": self.percentage, "linearInterval": self.interval_minutes},
            }
        return {"type": "AllAtOnce"}

    @classmethod
    def from_api(cls, config: dict[str, Any]) -> TrafficRouting:
        kind = config.get("type")
        if kind == "TimeBasedCanary":
            body = config.get("timeBasedCanary") or {}
            return cls(kind, int(body.get("canaryPercentage", 0)), int(body.get("canaryInterval", 0)))
        if kind == "TimeBasedLinear":
            body = config.get("timeBasedLinear") or {}
            return cls(kind, int(body.get("linearPercentage", 0)), int(body.get("linearInterval", 0)))
        if kind == "AllAtOnce":
            return cls("AllAtOnce")
        raise LabError(f"Unknown traffic routing type {kind!r}.", "use AllAtOnce, TimeBasedCanary or TimeBasedLinear.")


PREDEFINED: dict[str, TrafficRouting] = {
    "CodeDeployDefault.ECSAllAtOnce": TrafficRouting("AllAtOnce"),
    "CodeDeployDefault.ECSLinear10PercentEvery1Minutes": TrafficRouting("TimeBasedLinear", 10, 1),
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes": TrafficRouting("TimeBasedLinear", 10, 3),
    "CodeDeployDefault.ECSCanary10Percent5Minutes": TrafficRouting("TimeBasedCanary", 10, 5),
    "CodeDeployDefault.ECSCanary10Percent15Minutes": TrafficRouting("TimeBasedCanary", 10, 15),
}


def validate(routing: TrafficRouting) -> None:
    """The limits CodeDeploy puts on a custom ECS configuration."""
    if routing.type == "AllAtOnce":
        return
    if not 1 <= routing.percentage <= 99:
        raise LabError(
            f"A {routing.type} step of {routing.percentage} % is out of range.",
            "use a whole percentage from 1 to 99 (100 % in one step is AllAtOnce).",
        )
    if routing.interval_minutes < 1:
        raise LabError(
            f"A {routing.type} interval of {routing.interval_minutes} minutes is out of range.",
            "use a whole number of minutes, 1 or more.",
        )


def validate_name(name: str) -> None:
    if name.startswith(PREFIX):
        raise LabError(
            f"{name!r} starts with {PREFIX!r}, which is reserved for AWS's own configurations.",
            "choose another name, e.g. MyCanary25Percent45Minutes.",
        )
    if not 1 <= len(name) <= 100:
        raise LabError("A deployment configuration name has 1 to 100 characters.", "shorten the name.")


def schedule(routing: TrafficRouting) -> list[tuple[int, int]]:
    """The shift as (minutes after the shift starts, percent of production on the replacement).

    >>> schedule(PREDEFINED["CodeDeployDefault.ECSCanary10Percent5Minutes"])
    [(0, 10), (5, 100)]
    >>> schedule(TrafficRouting("TimeBasedLinear", 30, 2))
    [(0, 30), (2, 60), (4, 90), (6, 100)]
    """
    if routing.type == "AllAtOnce":
        return [(0, 100)]
    if routing.type == "TimeBasedCanary":
        return [(0, routing.percentage), (routing.interval_minutes, 100)]
    steps, percent, minute = [], 0, 0
    while percent < 100:
        percent = min(100, percent + routing.percentage)
        steps.append((minute, percent))
        minute += routing.interval_minutes
    return steps


def total_minutes(routing: TrafficRouting) -> int:
    """How long the production shift takes, from the first step to 100 %."""
    return schedule(routing)[-1][0]


def describe(name: str, routing: TrafficRouting) -> str:
    steps = ", ".join(f"{p} % at +{m} min" for m, p in schedule(routing))
    return f"{name}: {routing.type} ({steps})"
