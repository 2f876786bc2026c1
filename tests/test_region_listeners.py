"""ALB listeners in the offline region: real HTTP on loopback, routed as an ALB routes (aws-behaviour.md §2.3).

Requests go over real sockets to the local port of the production listener (80 → a loopback port
that ``GET /_lab/listeners`` names); the answers come from the sample app in the task the load
balancer picked, or from the load balancer itself (fixed responses, redirects, 502/503/504).
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from test_region_ecs_engine import (  # noqa: F401  (lab_fixture provides the "lab" fixture)
    Stack,
    advance,
    build_stack,
    control,
    http_get,
    lab_fixture,
    listener_url,
    task_id,
)
from test_region_health import register, start_task, target_group

from labsupport.lab import Lab


def listener(stack: Stack, port: int = 80) -> str:
    return str(stack.built["load_balancer"].listeners[port])


def fixed(status: int, body: str) -> list[dict[str, Any]]:
    config = {"StatusCode": str(status), "ContentType": "text/plain", "MessageBody": body}
    return [{"Type": "fixed-response", "FixedResponseConfig": config}]


def rule(stack: Stack, priority: int, conditions: list[dict[str, Any]], actions: list[dict[str, Any]]) -> None:
    stack.elbv2.create_rule(ListenerArn=listener(stack), Priority=priority, Conditions=conditions, Actions=actions)


def path(*patterns: str) -> dict[str, Any]:
    return {"Field": "path-pattern", "PathPatternConfig": {"Values": list(patterns)}}


def green_target_group(stack: Stack, name: str = "my-app-frontend-tg-2") -> str:
    """A second target group with one v2 task registered (t advances 30 s; checked once a listener uses it)."""
    tg = target_group(stack, name)
    ip = start_task(stack, APP_VERSION="v2", APP_COLOUR="green")
    advance(stack.endpoint, 30)
    register(stack, tg, ip)
    return tg


def forward(*weighted: tuple[str, int]) -> list[dict[str, Any]]:
    groups = [{"TargetGroupArn": arn, "Weight": weight} for arn, weight in weighted]
    return [{"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}]


# -- rules -----------------------------------------------------------------------------------------


def test_rules_match_by_priority_and_the_default_rule_comes_last(lab: Lab, region: str) -> None:
    stack = build_stack(lab, region)
    green = green_target_group(stack)
    url = listener_url(region)
    rule(stack, 20, [path("/api/*")], fixed(200, "api"))
    rule(stack, 10, [path("/api/admin*")], fixed(403, "admin"))
    rule(stack, 30, [{"Field": "host-header", "HostHeaderConfig": {"Values": ["beta.example.*"]}}], fixed(200, "beta"))
    header = {"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Canary", "Values": ["yes"]}}
    rule(stack, 40, [header], [{"Type": "forward", "TargetGroupArn": green}])
    query = {"Field": "query-string", "QueryStringConfig": {"Values": [{"Key": "version", "Value": "2"}]}}
    rule(stack, 50, [query], fixed(200, "query"))
    rule(stack, 60, [path("/[literal]")], fixed(200, "brackets are literal"))
    advance(region, 10)  # the green target's first check passes
    assert http_get(url, "/api/admin/users")[0::2] == (403, b"admin")  # priority 10 before 20
    status, headers, body = http_get(url, "/api/orders")
    assert (status, body, headers["content-type"], headers["server"]) == (200, b"api", "text/plain", "awselb/2.0")
    assert http_get(url, "/", {"Host": "beta.example.com"})[2] == b"beta"
    assert http_get(url, "/api/x", {"Host": "beta.example.com"})[2] == b"api"  # lower priority number wins
    assert http_get(url, "/", {"x-canary": "YES"})[1]["x-app-version"] == "v2"  # header values: any case
    assert http_get(url, "/?version=2")[2] == b"query"
    assert http_get(url, "/[literal]")[2] == b"brackets are literal"
    assert http_get(url, "/l")[1]["x-app-version"] == "v1"  # no rule matched: the default rule
    # The default rule forwards to the service's tasks in turn; each answer names its task.
    served = [http_get(url, "/")[1]["x-served-by"] for _ in range(4)]
    tasks = sorted(task_id(t)[:12] for t in stack.tasks())
    assert sorted(set(served)) == tasks and served[0] == served[2] != served[1] == served[3]


def test_fixed_responses_and_redirects(lab: Lab, region: str) -> None:
    stack = build_stack(lab, region)
    url = listener_url(region)
    redirect = {
        "Type": "redirect",
        "RedirectConfig": {
            "Protocol": "HTTPS",
            "Port": "443",
            "Host": "example.com",
            "Path": "/new/#{path}",
            "StatusCode": "HTTP_301",
        },
    }
    rule(stack, 10, [path("/old/*")], [redirect])
    rule(stack, 20, [path("/maintenance")], fixed(503, "back soon"))
    status, headers, body = http_get(url, "/old/page?x=1")
    assert (status, headers["location"], body) == (301, "https://example.com:443/new/old/page?x=1", b"")
    assert http_get(url, "/maintenance")[0::2] == (503, b"back soon")


# -- weighted forwarding ---------------------------------------------------------------------------------


def _weighted_sequence(lab: Lab, region: str) -> tuple[list[str], Stack, str]:
    stack = build_stack(lab, region)
    green = green_target_group(stack)
    url = listener_url(region)
    stack.elbv2.modify_listener(ListenerArn=listener(stack), DefaultActions=forward((stack.tg_arn, 50), (green, 50)))
    advance(region, 10)  # the green group is in use now: its target gets its first check
    return [http_get(url)[1]["x-app-version"] for _ in range(40)], stack, green


def test_weighted_forward_splits_traffic_deterministically(lab: Lab, region: str) -> None:
    first, stack, green = _weighted_sequence(lab, region)
    assert 10 <= first.count("v2") <= 30 and set(first) == {"v1", "v2"}
    url = listener_url(region)
    stack.elbv2.modify_listener(ListenerArn=listener(stack), DefaultActions=forward((stack.tg_arn, 100), (green, 0)))
    assert {http_get(url)[1]["x-app-version"] for _ in range(30)} == {"v1"}
    stack.elbv2.modify_listener(ListenerArn=listener(stack), DefaultActions=forward((stack.tg_arn, 0), (green, 100)))
    assert {http_get(url)[1]["x-app-version"] for _ in range(30)} == {"v2"}
    # After a reset the same steps split the same requests the same way (the generator is seeded).
    control(region, "/_lab/reset", {})
    second, _, _ = _weighted_sequence(lab, region)
    assert second == first


def test_weights_of_zero_everywhere_are_refused(lab: Lab, region: str) -> None:
    stack = build_stack(lab, region, settle=False)
    green = target_group(stack, "my-app-frontend-tg-2")
    with pytest.raises(ClientError) as info:
        stack.elbv2.modify_listener(ListenerArn=listener(stack), DefaultActions=forward((stack.tg_arn, 0), (green, 0)))
    assert info.value.response["Error"]["Code"] == "ValidationError"


# -- when the load balancer answers itself -----------------------------------------------------------------


def test_503_when_a_target_group_has_no_targets(lab: Lab, region: str) -> None:
    stack = build_stack(lab, region)
    empty = target_group(stack, "lab-empty")
    rule(stack, 10, [path("/empty/*")], [{"Type": "forward", "TargetGroupArn": empty}])
    status, headers, body = http_get(listener_url(region), "/empty/page")
    assert (status, headers["server"]) == (503, "awselb/2.0")
    assert b"503 Service Temporarily Unavailable" in body


def test_all_targets_unhealthy_fails_open(lab: Lab, region: str) -> None:
    """With no healthy target the ALB sends to every (unhealthy) target: the app still answers."""
    stack = build_stack(lab, region)
    tg = target_group(stack, "lab-failing")
    rule(stack, 10, [path("/failing/*")], [{"Type": "forward", "TargetGroupArn": tg}])
    ip = start_task(stack, FAIL_HEALTH="true", APP_VERSION="v3")
    advance(region, 30)
    register(stack, tg, ip)
    advance(region, 15)
    assert stack.health(tg)[ip]["State"] == "unhealthy"
    status, headers, _ = http_get(listener_url(region), "/failing/x")
    assert (status, headers["x-app-version"]) == (404, "v3")  # the app itself answered (its 404 page)


def test_502_when_the_targets_app_is_gone(lab: Lab, region: str) -> None:
    stack = build_stack(lab, region)
    tg = target_group(stack, "lab-gone")
    rule(stack, 10, [path("/gone/*")], [{"Type": "forward", "TargetGroupArn": tg}])
    task = stack.run_task("my-workspace-subnet-app-private1-a")
    advance(region, 30)
    ip = next(d["value"] for a in task["attachments"] for d in a["details"] if d["name"] == "privateIPv4Address")
    register(stack, tg, ip)
    advance(region, 10)
    url = listener_url(region)
    assert http_get(url, "/gone/x")[0] == 404  # healthy, and the app answers (404: not its path)
    stack.ecs.stop_task(cluster="my-app-cluster", task=task["taskArn"])  # registered by hand: nobody drains it
    advance(region, 1)  # SIGTERM: the app is gone, the target is still registered (and still healthy)
    assert stack.health(tg)[ip]["State"] == "healthy"
    status, headers, body = http_get(url, "/gone/x")
    assert (status, headers["server"]) == (502, "awselb/2.0") and b"502 Bad Gateway" in body
    register(stack, tg, "10.0.0.200")  # an address where nothing ever ran
    advance(region, 60)  # both unhealthy now: fail-open, and neither answers
    assert {http_get(url, "/gone/x")[0] for _ in range(4)} == {502}


def test_504_when_the_app_answers_after_the_idle_timeout(lab: Lab, region: str) -> None:
    stack = build_stack(lab, region)
    tg = target_group(stack, "lab-slow", HealthCheckTimeoutSeconds=5)
    rule(stack, 10, [path("/slow/*")], [{"Type": "forward", "TargetGroupArn": tg}])
    ip = start_task(stack, RESPONSE_DELAY_MS="61000")
    advance(region, 30)
    register(stack, tg, ip)
    advance(region, 15)
    status, headers, body = http_get(listener_url(region), "/slow/x")
    assert (status, headers["server"]) == (504, "awselb/2.0") and b"504 Gateway Time-out" in body
