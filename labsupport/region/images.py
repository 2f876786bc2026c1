"""Can a Fargate task pull its container image? The two ways it fails on AWS.

A task's image is pulled when the task goes PENDING. It fails with ``CannotPullContainerError`` when

1. the image is not there: a private ECR image whose repository or tag does not exist (a typo in the
   tag, or forgetting to push before updating the task definition), or
2. the task cannot reach the registry: a task in a private subnet with no NAT gateway and no VPC
   endpoints (``ecr.api``, ``ecr.dkr`` and the S3 gateway endpoint, since image layers live in S3),
   or a task in a public subnet without a public IP (``assignPublicIp: DISABLED``). This is the most
   common first-day Fargate error.

Every image in the lab runs the sample app's code (the lab has no container runtime); what varies
between "images" is the task definition's environment, exactly as for the lab's real-AWS images.
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runtime import World

ECR_PRIVATE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<repo>[^:@]+)(?:[:@](?P<ref>.+))?$"
)
RETRIES = 5


def pull_problem(world: World, task_definition: Any, subnet_id: str, ip: str, public_ip: bool) -> str | None:
    """None if every container image can be pulled, else the task's ``stoppedReason``."""
    for container in task_definition.container_definitions:
        image = str(container.get("image") or "")
        problem = _reachability(world, image, subnet_id, public_ip) or _existence(world, image)
        if problem:
            return problem
    return None


def _existence(world: World, image: str) -> str | None:
    match = ECR_PRIVATE.match(image)
    if not match:
        return None  # public registries: the lab cannot look inside them, it assumes the image exists
    ref = match["ref"] or "latest"
    repo = world.backend("ecr").repositories.get(match["repo"])
    found = False
    if repo is not None:
        for img in repo.images:
            if ref in (img.image_tags or []) or ref == getattr(img, "image_digest", None):
                found = True
                break
    if found:
        return None
    full = image if match["ref"] else f"{image}:latest"
    return (
        f"CannotPullContainerError: pull image manifest has been retried {RETRIES} time(s): "
        f"failed to resolve ref {full}: {full}: not found"
    )


def _reachability(world: World, image: str, subnet_id: str, public_ip: bool) -> str | None:
    ec2 = world.backend("ec2")
    subnet = ec2.get_subnet(subnet_id)
    route = _default_route(ec2, subnet)
    if route is not None:
        if route.nat_gateway is not None and getattr(route.nat_gateway, "state", "available") == "available":
            return None
        if route.gateway is not None and str(route.gateway.id).startswith("igw-") and public_ip:
            return None
    match = ECR_PRIVATE.match(image)
    if match and _has_ecr_endpoints(ec2, subnet.vpc_id, world.region):
        return None
    registry = (
        match.group(0).split("/", 1)[0]
        if match
        else (image.split("/", 1)[0] if "/" in image else "registry-1.docker.io")
    )
    if "." not in registry and ":" not in registry:
        registry = "registry-1.docker.io"
    return (
        f"CannotPullContainerError: pull image manifest has been retried {RETRIES} time(s): "
        f'failed to resolve ref {image}: failed to do request: Head "https://{registry}/v2/": '
        f"dial tcp {registry}:443: i/o timeout"
    )


def _default_route(ec2: Any, subnet: Any) -> Any | None:
    """The route a packet to the internet takes from ``subnet`` (explicit table, else the main one)."""
    tables = [t for t in ec2.route_tables.values() if t.vpc_id == subnet.vpc_id]
    chosen = next((t for t in tables if subnet.id in t._associations.values()), None)
    if chosen is None:
        chosen = next((t for t in tables if t.main_association_id is not None), None)
    if chosen is None:
        return None
    best, best_len = None, -1
    target = ipaddress.ip_address("52.94.0.1")  # somewhere on the internet
    for route in chosen.routes:
        if not route.destination_cidr_block:
            continue
        network = ipaddress.ip_network(route.destination_cidr_block, strict=False)
        if target in network and network.prefixlen > best_len:
            best, best_len = route, network.prefixlen
    return best


def _has_ecr_endpoints(ec2: Any, vpc_id: str, region: str) -> bool:
    names = {e.service_name for e in ec2.vpc_end_points.values() if e.vpc_id == vpc_id}
    needed = {f"com.amazonaws.{region}.ecr.api", f"com.amazonaws.{region}.ecr.dkr", f"com.amazonaws.{region}.s3"}
    return needed <= names
