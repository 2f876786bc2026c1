"""Chapter 04's predict-then-check exercises: the Application Load Balancer.

Every answer is computed now, from the live load balancer: a real HTTP request to the production
listener, the target group's health-check settings, the listener's forward action. If the learner
changes the load balancer, the answers change with it. Explanations use names and numbers, never
IDs or ARNs (they differ from run to run).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

from . import loadbalancer
from .errors import LabError
from .exercises import exercise
from .lab import Lab, current

__all__ = ["http_status"]

#: How many requests the weighted-forwarding exercise asks about.
REQUESTS = 20

_REASONS = {
    200: "OK",
    403: "Forbidden",
    404: "Not Found",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Timeout",
}


def _int_same(predicted: object, truth: object) -> bool:
    # 503, "503" and " 503 " are the same number; True, 503.5 or "five hundred three" are not.
    if isinstance(predicted, bool):
        return False
    if isinstance(predicted, float) and predicted.is_integer():
        predicted = int(predicted)
    text = str(predicted).strip().removesuffix("s").strip()
    return text.isascii() and text.isdigit() and int(text) == truth


def _config(lab: Lab) -> dict[str, Any]:
    return dict(lab.config.raw["load_balancer"])


def _load_balancer(lab: Lab) -> dict[str, Any]:
    name = _config(lab)["name"]
    found = loadbalancer.find_load_balancer(lab, name)
    if found is None:
        raise LabError(
            f"There is no load balancer {name} yet, so there is nothing to ask.",
            "run the cells of section 2 that create it (or `catch_up(5)`), then this cell again.",
        )
    return found


def _target_group(lab: Lab, colour: str = "blue") -> dict[str, Any]:
    name = _config(lab)["target_groups"][colour]
    found = loadbalancer.find_target_group(lab, name)
    if found is None:
        raise LabError(
            f"There is no target group {name} yet.",
            "run the cells of section 3 that create it, then this cell again.",
        )
    return found


def _listener(lab: Lab, port: int) -> dict[str, Any]:
    lb = _load_balancer(lab)
    for listener in lab.client("elbv2").describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]:
        if int(listener["Port"]) == port:
            return dict(listener)
    raise LabError(
        f"{lb['LoadBalancerName']} has no listener on port {port} yet.",
        "run the cells of section 4 that create the listeners, then this cell again.",
    )


def http_status(url: str, timeout: float = 10) -> int:
    """The status code of ``GET url`` (an HTTP error status is an answer too, not an exception)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except (urllib.error.URLError, OSError) as err:
        raise LabError(
            f"Nothing answered at the load balancer ({type(err).__name__}).",
            "check that the offline region runs (`python -m labsupport region status`) and the listener exists.",
        ) from None


def _target_counts(lab: Lab) -> dict[str, int]:
    group = _target_group(lab)
    rows = lab.client("elbv2").describe_target_health(TargetGroupArn=group["TargetGroupArn"])[
        "TargetHealthDescriptions"
    ]
    counts: dict[str, int] = {}
    for row in rows:
        state = row["TargetHealth"]["State"]
        counts[state] = counts.get(state, 0) + 1
    return counts


# -- section 5: a request with no targets ---------------------------------------------------------


def _explain_empty_status(status: int) -> str:
    lab = current()
    cfg = _config(lab)
    group = cfg["target_groups"]["blue"]
    counts = _target_counts(lab)
    text = f"{status} {_REASONS.get(status, '')}".rstrip()
    if status == 503 and not counts:
        return (
            f"{text}. The listener on port {cfg['production_port']} forwards to {group}, and {group} has no "
            "registered targets: there is nobody to forward to, so the load balancer answers by itself "
            "(the page comes from the load balancer, not from your app). Compare 502 Bad Gateway: a target "
            "was chosen but its answer was broken or refused; and 504 Gateway Timeout: the target answered "
            "too slowly."
        )
    listed = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "no targets"
    if status == 503:
        return (
            f"{text}. {group} has targets ({listed}), but none that may take a request: a new target is "
            "initial until its first health check passes, and a draining target gets no new requests. So the "
            "load balancer answers by itself, as it does for an empty target group."
        )
    return (
        f"{text}. {group} has {listed} right now, so this is no longer the empty target group of section 5. "
        "With no targets at all the load balancer answers 503 Service Temporarily Unavailable by itself."
    )


@exercise(
    "04-empty-target-group-status",
    "The production listener forwards to my-app-frontend-tg-1, which has no targets yet. "
    "What HTTP status code does a request to the load balancer get?",
    _explain_empty_status,
    same=_int_same,
)
def _empty_target_group_status() -> int:
    lab = current()
    _listener(lab, int(_config(lab)["production_port"]))
    return http_status(loadbalancer.url(int(_config(lab)["production_port"]), lab))


# -- section 6: how long until unhealthy -----------------------------------------------------------


def _health_settings(lab: Lab) -> tuple[int, int, int]:
    group = _target_group(lab)
    return (
        int(group["HealthCheckIntervalSeconds"]),
        int(group["UnhealthyThresholdCount"]),
        int(group["HealthyThresholdCount"]),
    )


def _explain_seconds_to_unhealthy(seconds: int) -> str:
    interval, unhealthy, healthy = _health_settings(current())
    more = "1 more follows" if unhealthy == 2 else f"{unhealthy - 1} more follow"
    return (
        f"At most {seconds} s: the target must fail {unhealthy} health checks in a row, and checks run every "
        f"{interval} s. The first failing check comes up to {interval} s after the path broke (whenever the "
        f"next check is due), then {more} {interval} s apart: somewhere between just over "
        f"{(unhealthy - 1) * interval} s and {seconds} s. Until then the target stays healthy and keeps getting "
        f"requests. The way back takes {healthy} passing checks (the healthy threshold), so up to "
        f"{healthy * interval} s too. Only a newly registered target needs a single passing check."
    )


@exercise(
    "04-seconds-to-unhealthy",
    "The health check path of my-app-frontend-tg-1 is wrong now. Checks run every 10 s and the unhealthy "
    "threshold is 2. At most how many seconds until a healthy target is marked unhealthy?",
    _explain_seconds_to_unhealthy,
    same=_int_same,
)
def _seconds_to_unhealthy() -> int:
    interval, unhealthy, _ = _health_settings(current())
    return interval * unhealthy


# -- section 8: weighted forwarding -----------------------------------------------------------------


def _weights(lab: Lab) -> tuple[dict[str, int], dict[str, str]]:
    """The production listener's default action as {target group ARN: weight}, and ARN → name."""
    listener = _listener(lab, int(_config(lab)["production_port"]))
    action = next((a for a in listener["DefaultActions"] if a["Type"] == "forward"), None)
    if action is None:
        return {}, {}
    groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
    weights = {g["TargetGroupArn"]: int(g.get("Weight", 1)) for g in groups}
    if not weights and action.get("TargetGroupArn"):
        weights = {action["TargetGroupArn"]: 1}
    elbv2 = lab.client("elbv2")
    names = {}
    for arn in weights:
        try:
            found = elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"]
        except elbv2.exceptions.TargetGroupNotFoundException:
            found = []
        names[arn] = found[0]["TargetGroupName"] if found else "a deleted target group"
    return weights, names


def _green_share(lab: Lab) -> int:
    weights, names = _weights(lab)
    green = _config(lab)["target_groups"]["green"]
    total = sum(weights.values())
    mine = sum(w for arn, w in weights.items() if names[arn] == green)
    return round(REQUESTS * mine / total) if total else 0


def _explain_green_share(count: int) -> str:
    lab = current()
    weights, names = _weights(lab)
    green = _config(lab)["target_groups"]["green"]
    total = sum(weights.values())
    split = ", ".join(f"{names[arn]} weight {w}" for arn, w in weights.items())
    if len(weights) < 2:
        only = ", ".join(names.values()) or "no target group"
        share = "every request" if count == REQUESTS else "nothing"
        return f"{count}: the listener forwards to {only} alone, without weights, so {green} gets {share}."
    lead = f"None of {REQUESTS}" if count == 0 else f"About {count} of {REQUESTS}"
    return (
        f"{lead}: the listener forwards with {split}. Weights are relative: each request "
        f"goes to a target group with the chance weight / total ({total} here), so weight 0 means none, "
        f"whatever the other number is. A blue/green switch is one call that changes 100/0 into 0/100; a "
        f"canary is 90/10 for a while first (chapter 07)."
    )


@exercise(
    "04-weighted-green-share",
    f"The production listener forwards with weights 100 (my-app-frontend-tg-1) and 0 (my-app-frontend-tg-2). "
    f"How many of {REQUESTS} requests reach my-app-frontend-tg-2?",
    _explain_green_share,
    same=_int_same,
)
def _weighted_green_share() -> int:
    return _green_share(current())
