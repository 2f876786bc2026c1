"""Chapter 06's predict-then-check exercises: recreate vs rolling, ECS's rounding, the circuit breaker.

The answers come from :mod:`labsupport.releases`' arithmetic (the same rules the offline region's
scheduler follows, and the tests hold the two against each other) applied to the live service: its
desired count and its target group's deregistration delay are read from the region when the check
runs. If the service does not exist yet, the lab's planned desired count (``data/lab.json``) stands
in, so a learner can check a prediction before building anything.
"""

from __future__ import annotations

from typing import Any

from .exercises import exercise
from .lab import Lab, current
from .releases import circuit_breaker_threshold, deployment_bounds

_YES = {"yes", "y", "true", "t", "fail", "fails", "some", "yes they fail"}
_NO = {"no", "n", "false", "f", "none", "no failures", "zero", "0"}


def _desired(lab: Lab) -> tuple[int, bool]:
    """The service's desired count, and whether it came from the live service (else the lab plan)."""
    cfg = lab.config.raw["ecs"]
    ecs = lab.client("ecs")
    try:
        found = ecs.describe_services(cluster=cfg["cluster"], services=[cfg["service"]])["services"]
    except ecs.exceptions.ClusterNotFoundException:
        found = []
    service = next((s for s in found if s.get("status") == "ACTIVE"), None)
    if service is None:
        return int(cfg["desired_count"]), False
    return int(service["desiredCount"]), True


def _drain_seconds(lab: Lab) -> int | None:
    """The blue target group's deregistration delay (None if it does not exist yet)."""
    elbv2 = lab.client("elbv2")
    name = lab.config.raw["load_balancer"]["target_groups"]["blue"]
    try:
        group = elbv2.describe_target_groups(Names=[name])["TargetGroups"][0]
    except elbv2.exceptions.TargetGroupNotFoundException:
        return None
    attributes = elbv2.describe_target_group_attributes(TargetGroupArn=group["TargetGroupArn"])["Attributes"]
    found = next((a["Value"] for a in attributes if a["Key"] == "deregistration_delay.timeout_seconds"), None)
    return None if found is None else int(found)


def _where(live: bool) -> str:
    return "my-app-frontend's desired count" if live else "the lab's planned desired count (the service is not built)"


def _whole(value: object) -> int | None:
    """3, "3", " 3 " -> 3; True, 3.5, "three" -> None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _same_number(predicted: object, truth: object) -> bool:
    return _whole(predicted) == truth


# -- 1. does recreate fail requests? -------------------------------------------------------------


def _yes_no(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = " ".join(value.strip().lower().rstrip(".!").split())
        if word in _YES:
            return True
        if word in _NO:
            return False
    return None


def _same_yes_no(predicted: object, truth: object) -> bool:
    return _yes_no(predicted) is truth


def _explain_recreate(truth: bool) -> str:
    lab = current()
    desired, live = _desired(lab)
    b = deployment_bounds(desired, 0, 100)
    drain = _drain_seconds(lab)
    drain_text = f"{drain} s here" if drain is not None else "30 s in this lab"
    if not truth:
        return (
            f"With {_where(live)} of {desired}, minimumHealthyPercent 0 keeps {b.min_healthy} task(s) healthy, "
            "so some capacity stays: no request needs to fail."
        )
    return (
        f"Yes. With {_where(live)} of {desired}: minimumHealthyPercent 0 means at least {b.min_healthy} tasks "
        f"must stay healthy (0 % × {desired}), and maximumPercent 100 means at most {b.max_tasks} may run, so "
        f"there is no room to start a new task first. ECS stops all {desired} old tasks at once: they drain "
        f"(deregistration delay, {drain_text}), stop, and only then do the new ones start, pull the image and "
        "pass a health check. All that time the target group has no healthy target and the load balancer "
        "answers 503 to every request: the app is down, exactly the seed's problem 1."
    )


@exercise(
    "06-recreate-fails",
    "ECS replaces my-app-frontend's 2 tasks with minimumHealthyPercent 0 and maximumPercent 100 "
    "('recreate'). Will any user request fail during the release? (True or False)",
    _explain_recreate,
    same=_same_yes_no,
)
def _recreate_fails() -> bool:
    desired, _ = _desired(current())
    b = deployment_bounds(desired, 0, 100)
    # No healthy task has to stay and no extra task may start first: every old task goes before a new one serves.
    return desired > 0 and b.min_healthy == 0 and b.can_start_first == 0


# -- 2. the peak of a rolling update ---------------------------------------------------------------


def _explain_peak(truth: int) -> str:
    desired, live = _desired(current())
    b = deployment_bounds(desired, 100, 200)
    return (
        f"maximumPercent caps the tasks RUNNING or PENDING at once: {desired} × 200 % = {b.max_tasks} "
        f"(rounded down; {_where(live)} is {desired}). minimumHealthyPercent 100 forbids stopping any old task "
        f"before a new one is healthy, so ECS starts {b.can_start_first} new tasks next to the {desired} old ones: "
        f"{truth} at the peak, which you pay for while it lasts. Then the old ones drain and stop."
    )


@exercise(
    "06-rolling-peak",
    "A rolling update of my-app-frontend's 2 tasks with minimumHealthyPercent 100 and maximumPercent 200: "
    "how many tasks run (or are pending) at most at the same time?",
    _explain_peak,
    same=_same_number,
)
def _rolling_peak() -> int:
    desired, _ = _desired(current())
    return deployment_bounds(desired, 100, 200).max_tasks


# -- 3. rounding up the healthy floor ---------------------------------------------------------------

ROUNDING_DESIRED = 3
ROUNDING_PERCENT = 50


def _explain_rounding(truth: int) -> str:
    b = deployment_bounds(ROUNDING_DESIRED, ROUNDING_PERCENT, 100)
    exact = ROUNDING_DESIRED * ROUNDING_PERCENT / 100
    return (
        f"{ROUNDING_DESIRED} × {ROUNDING_PERCENT} % = {exact:g} tasks, and ECS rounds the healthy floor UP: "
        f"{truth} must stay healthy, so only {b.can_stop_first} may be stopped first. maximumPercent rounds "
        "DOWN instead. Both err on the safe side: never less capacity, never more tasks than you allowed."
    )


@exercise(
    "06-min-healthy-3",
    f"A service of {ROUNDING_DESIRED} tasks deploys with minimumHealthyPercent {ROUNDING_PERCENT}. "
    "How many tasks must stay healthy during the deployment?",
    _explain_rounding,
    same=_same_number,
)
def _min_healthy_3() -> int:
    return deployment_bounds(ROUNDING_DESIRED, ROUNDING_PERCENT, 100).min_healthy


# -- 4. the circuit breaker's threshold --------------------------------------------------------------


def _failed_so_far(lab: Lab) -> list[dict[str, Any]]:
    cfg = lab.config.raw["ecs"]
    ecs = lab.client("ecs")
    try:
        found = ecs.describe_services(cluster=cfg["cluster"], services=[cfg["service"]])["services"]
    except ecs.exceptions.ClusterNotFoundException:
        return []
    return [d for s in found if s.get("status") == "ACTIVE" for d in s.get("deployments") or []]


def _explain_threshold(truth: int) -> str:
    lab = current()
    desired, live = _desired(lab)
    half = desired / 2
    text = (
        f"The threshold is 0.5 × desired count, rounded up, at least 3 and at most 200: {_where(live)} is {desired}, "
        f"0.5 × {desired} = {half:g}, raised to the minimum: {truth}. So the breaker needs {truth} failed tasks; "
        "a small service gets a few tries (before January 2024 the minimum was 10)."
    )
    failing = [d for d in _failed_so_far(lab) if int(d.get("failedTasks") or 0)]
    if failing:
        counts = ", ".join(f"{d['status']} {d.get('rolloutState', '')}: {d['failedTasks']}" for d in failing)
        text += f" failedTasks of the service's deployments now: {counts}."
    return text


@exercise(
    "06-breaker-threshold",
    "With the deployment circuit breaker on, after how many failed tasks does ECS give up on a deployment of "
    "my-app-frontend (desired count 2)?",
    _explain_threshold,
    same=_same_number,
)
def _breaker_threshold() -> int:
    desired, _ = _desired(current())
    return circuit_breaker_threshold(desired)
