"""The region's running world: the engines that make moto's stored resources *do* something.

moto stores services, target groups and listeners; the world runs them:

- ``apps``       the containers' processes (the sample app's real code, one instance per task)
- ``health``     load-balancer health checks on the virtual clock
- ``ecs``        the ECS service scheduler (tasks, deployments, service events)
- ``listeners``  real HTTP servers on loopback ports for every ALB listener

There is exactly one world per region process; rules, after-hooks and moto patches reach it
through :func:`get`. Everything here runs under the region's lock (requests, clock events and
listener traffic are serialised), so engines never see a half-changed region.
"""

from __future__ import annotations

import ipaddress
import threading
from typing import Any

from .apps import AppHost
from .clock import VirtualClock

ACCOUNT_ID = "123456789012"


class World:
    def __init__(self, region: str, lock: threading.RLock, clock: VirtualClock, seed: int) -> None:
        from .codedeploy import CodeDeploy
        from .ecs_engine import EcsScheduler
        from .health import HealthBook
        from .lambdas import Lambdas
        from .listeners import Listeners
        from .metrics import Metrics
        from .traffic import Traffic

        self.region = region
        self._backends: dict[str, Any] = {}
        self.lock = lock
        self.clock = clock
        self.seed = seed
        self.apps = AppHost(clock.now)
        self.health = HealthBook(self)
        self.ecs = EcsScheduler(self)
        self.listeners = Listeners(self)
        self.metrics = Metrics(self)
        self.lambdas = Lambdas(self)
        self.traffic = Traffic(self)  # after the listeners: it observes their requests
        self.codedeploy = CodeDeploy(self)  # after ecs and lambdas: it drives task sets and invokes hooks

    def backend(self, service: str) -> Any:
        """moto's backend for ``service`` in this region (cached: health checks ask thousands of times)."""
        cached = self._backends.get(service)
        if cached is not None:
            return cached
        from moto.backends import get_backend

        backends = get_backend(service)[ACCOUNT_ID]  # type: ignore[arg-type]
        found = backends[self.region if self.region in backends.regions else "aws"]
        self._backends[service] = found
        return found

    def forget_backends(self) -> None:
        """moto builds new backend objects after a reset; drop the cached ones."""
        self._backends.clear()

    def reset(self) -> None:
        """Forget everything that runs (called with the lock held, after moto itself was reset)."""
        self.listeners.close_all()
        self.apps.clear()
        self.health.clear()
        self.ecs.clear()
        self.metrics.clear()
        self.lambdas.clear()
        self.traffic.clear()

    def shutdown(self) -> None:
        self.listeners.close_all()

    # -- network reachability used by health checks and listeners ---------------------------------
    def load_balancers_of(self, tg: Any) -> list[Any]:
        """The load balancers whose listeners forward to target group ``tg``."""
        from .health import forward_targets

        found = []
        for lb in self.backend("elbv2").load_balancers.values():
            for listener in lb.listeners.values():
                if any(tg.arn in forward_targets(rule.actions) for rule in listener.rules.values()):
                    found.append(lb)
                    break
        return found

    def reachable_from_load_balancer(self, tg: Any, ip: str, port: int) -> bool:
        """Would the target's security groups let the load balancer in on ``port``?

        A task's ENI admits traffic only if one of its groups has an inbound rule for the port from
        the load balancer's security group, or from a CIDR that covers the load balancer's subnets.
        A wrong rule here is the classic cause of targets stuck ``unhealthy`` with ``Target.Timeout``.
        """
        ec2 = self.backend("ec2")
        eni = next((e for e in ec2.enis.values() if e.private_ip_address == ip), None)
        if eni is None:
            return True  # not an ENI the region knows (a hand-registered IP): no group to consult
        lbs = self.load_balancers_of(tg)
        lb_groups = {g for lb in lbs for g in (lb.security_groups or [])}
        lb_cidrs = []
        for lb in lbs:
            for subnet in lb.subnets:
                lb_cidrs.append(ipaddress.ip_network(subnet.cidr_block))
        for group in eni.group_set:
            for rule in group.ingress_rules:
                if not _covers(rule, port):
                    continue
                if rule.source_group.get("GroupId") in lb_groups:
                    return True
                cidr = rule.ip_range.get("CidrIp")
                if cidr:
                    network = ipaddress.ip_network(cidr, strict=False)
                    if any(sub.subnet_of(network) for sub in lb_cidrs if sub.version == network.version):
                        return True
        return False


def _covers(rule: Any, port: int) -> bool:
    if rule.ip_protocol in ("-1", None):
        return True
    if rule.ip_protocol not in ("tcp", "6"):
        return False
    return int(rule.from_port) <= port <= int(rule.to_port)


_world: World | None = None


def install(world: World) -> None:
    global _world
    _world = world


def get() -> World:
    if _world is None:  # pragma: no cover - only if a hook runs outside a region process
        raise RuntimeError("the region's world is not running")
    return _world


_request_params: dict[str, Any] = {}


def set_request_params(params: dict[str, Any]) -> None:
    """The parameters of the API request being handled (engines read options moto drops)."""
    global _request_params
    _request_params = params


def request_params() -> dict[str, Any]:
    return _request_params
