"""The lab's Application Load Balancer: idempotent builders and where to send requests.

Names follow the seed notes: load balancer ``my-app-alb`` in the two public subnets with
``my-app-lb-sg``; target group ``my-app-frontend-tg-1`` (type ``ip``, as Fargate needs) and, for
blue/green, ``my-app-frontend-tg-2``; the production listener on port 80 and the test listener on
port 9000. Builders look things up by name first, so re-running a cell creates nothing twice.
Everything uses boto3 only; :func:`url` is the one place that knows the offline region maps each
listener to a loopback port.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import offline
from .errors import LabError
from .lab import Lab, current
from .network import Network


@dataclass
class LoadBalancer:
    arn: str = ""
    dns_name: str = ""
    target_groups: dict[str, str] = field(default_factory=dict)  # name -> arn
    listeners: dict[int, str] = field(default_factory=dict)  # port -> arn

    def summary(self) -> str:
        ports = ", ".join(str(p) for p in sorted(self.listeners))
        return f"load balancer with listeners on {ports} and target groups {', '.join(sorted(self.target_groups))}"


def _config(lab: Lab) -> dict[str, Any]:
    return dict(lab.config.raw["load_balancer"])


def find_load_balancer(lab: Lab, name: str) -> dict[str, Any] | None:
    elbv2 = lab.client("elbv2")
    try:
        return elbv2.describe_load_balancers(Names=[name])["LoadBalancers"][0]
    except elbv2.exceptions.LoadBalancerNotFoundException:
        return None


def find_target_group(lab: Lab, name: str) -> dict[str, Any] | None:
    elbv2 = lab.client("elbv2")
    try:
        return elbv2.describe_target_groups(Names=[name])["TargetGroups"][0]
    except elbv2.exceptions.TargetGroupNotFoundException:
        return None


def ensure_load_balancer(lab: Lab, net: Network) -> dict[str, Any]:
    """``my-app-alb``: internet-facing, in the public subnets (two AZs), with the ALB's security group."""
    cfg = _config(lab)
    found = find_load_balancer(lab, cfg["name"])
    if found is not None:
        return found
    public = [net.subnets[s.name] for s in lab.config.tier("public")]
    return lab.client("elbv2").create_load_balancer(
        Name=cfg["name"],
        Subnets=public,
        SecurityGroups=[net.security_groups[lab.config.security_group("alb").name]],
        Scheme=cfg["scheme"],
        Type="application",
        IpAddressType="ipv4",
        Tags=lab.tag_list(cfg["name"]),
    )["LoadBalancers"][0]


def ensure_target_group(lab: Lab, net: Network, name: str) -> dict[str, Any]:
    """An ``ip`` target group for the app's port, with the lab's health check and a short drain."""
    found = find_target_group(lab, name)
    if found is not None:
        return found
    cfg = _config(lab)
    hc = cfg["health_check"]
    elbv2 = lab.client("elbv2")
    group = elbv2.create_target_group(
        Name=name,
        Protocol="HTTP",
        Port=int(lab.config.raw["ecs"]["container_port"]),
        VpcId=net.vpc_id,
        TargetType="ip",
        HealthCheckProtocol="HTTP",
        HealthCheckPath=hc["path"],
        HealthCheckIntervalSeconds=int(hc["interval_seconds"]),
        HealthCheckTimeoutSeconds=int(hc["timeout_seconds"]),
        HealthyThresholdCount=int(hc["healthy_threshold"]),
        UnhealthyThresholdCount=int(hc["unhealthy_threshold"]),
        Matcher={"HttpCode": hc["matcher"]},
        Tags=lab.tag_list(name),
    )["TargetGroups"][0]
    # 300 s is the default drain; the lab uses 30 s so that deployments finish in a few minutes.
    elbv2.modify_target_group_attributes(
        TargetGroupArn=group["TargetGroupArn"],
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": str(cfg["deregistration_delay_seconds"])}],
    )
    return group


def ensure_listener(lab: Lab, lb_arn: str, port: int, target_group_arn: str) -> dict[str, Any]:
    """An HTTP listener on ``port`` forwarding to one target group (kept as it is if it exists)."""
    elbv2 = lab.client("elbv2")
    for listener in elbv2.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]:
        if int(listener["Port"]) == port:
            return listener
    return elbv2.create_listener(
        LoadBalancerArn=lb_arn,
        Protocol="HTTP",
        Port=port,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group_arn}],
        Tags=lab.tag_list(f"{_config(lab)['name']}-{port}"),
    )["Listeners"][0]


def build(lab: Lab, net: Network) -> LoadBalancer:
    """What chapter 04 builds: the ALB, the blue target group, production and test listeners."""
    cfg = _config(lab)
    lb = ensure_load_balancer(lab, net)
    result = LoadBalancer(arn=lb["LoadBalancerArn"], dns_name=lb["DNSName"])
    blue = ensure_target_group(lab, net, cfg["target_groups"]["blue"])
    result.target_groups[blue["TargetGroupName"]] = blue["TargetGroupArn"]
    for port in (int(cfg["production_port"]), int(cfg["test_port"])):
        listener = ensure_listener(lab, result.arn, port, blue["TargetGroupArn"])
        result.listeners[port] = listener["ListenerArn"]
    return result


def url(port: int = 80, lab: Lab | None = None, name: str | None = None) -> str:
    """Where to send an HTTP request for the listener on ``port``.

    Offline, every listener answers on a loopback port (80 → http://127.0.0.1:20080/); on AWS it is
    the load balancer's DNS name.
    """
    lab = lab or current()
    name = name or _config(lab)["name"]
    if lab.offline:
        info = offline.require()
        for row in offline.control(info.endpoint, "/_lab/listeners")["listeners"]:
            if row["load_balancer"] == name and row["port"] == port and row["local_url"]:
                return str(row["local_url"])
        raise LabError(
            f"The load balancer {name!r} has no listener on port {port}.",
            "create the listener first (chapter 04), or pick a port `python -m labsupport listeners` shows.",
        )
    lb = find_load_balancer(lab, name)
    if lb is None:
        raise LabError(f"There is no load balancer {name!r}.", "create it first (chapter 04).")
    return f"http://{lb['DNSName']}:{port}/"


def teardown(lab: Lab) -> list[str]:
    """Delete the lab's load balancer (its listeners go with it) and its target groups."""
    cfg = _config(lab)
    elbv2 = lab.client("elbv2")
    deleted = []
    lb = find_load_balancer(lab, cfg["name"])
    if lb is not None:
        elbv2.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
        deleted.append(f"load balancer {cfg['name']}")
    for name in cfg["target_groups"].values():
        group = find_target_group(lab, name)
        if group is not None:
            elbv2.delete_target_group(TargetGroupArn=group["TargetGroupArn"])
            deleted.append(f"target group {name}")
    return deleted
