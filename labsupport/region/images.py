"""Can a Fargate task get its image (and its log stream)? The ways it fails on AWS, in the order they happen.

A Fargate task (platform version 1.4.0, which ``LATEST`` means) prepares its containers while it is
PENDING, in this order, and the first step that fails stops the task with ``stopCode``
``TaskFailedToStart``:

1. **registry auth** for a private ECR image: a call to ``api.ecr.<region>.amazonaws.com``. With no
   way out of the subnet this is the first thing that times out, so the most common first-day Fargate
   error is not ``CannotPullContainerError`` but ``ResourceInitializationError: unable to pull secrets
   or registry auth: ... i/o timeout. Please check your task network configuration.``
2. **the image manifest** from ``<account>.dkr.ecr.<region>.amazonaws.com``: unreachable →
   ``CannotPullContainerError: pull image manifest has been retried 5 time(s): ... i/o timeout``; a
   tag or repository that does not exist (a typo, or forgetting to push) → ``... : not found``.
3. **the image layers**, which ECR serves from S3 (``prod-<region>-starport-layer-bucket``):
   unreachable → ``CannotPullContainerError: ref pull has been retried 5 time(s): failed to copy:
   httpReadSeeker: failed open: ... i/o timeout``. In a private subnet this is the S3 *gateway*
   endpoint, which must be associated with the subnet's route table.
4. **the ``awslogs`` log stream**: the log group must exist (or ``awslogs-create-group`` be
   ``"true"``) and ``logs.<region>.amazonaws.com`` be reachable →
   ``ResourceInitializationError: failed to validate logger args: create stream has been retried 1
   times: failed to create Cloudwatch log stream: ...``.

"A way out" is one of: a NAT gateway (private subnet), an internet gateway *and* a public IP
(``assignPublicIp: ENABLED``), or the VPC endpoints ``ecr.api``, ``ecr.dkr`` (interface) and ``s3``
(gateway) — plus ``logs`` when the task logs with ``awslogs``. The task's security groups must also
let it out on TCP 443. Images outside ECR (Docker Hub and the like) need the internet.

Wordings are the ECS agent's, as quoted from real stopped tasks in public issues and the ECS
developer guide's "stopped task error codes" page; the IP addresses in "dial tcp" are the lab's
(stable per host name). Platform version 1.3.0 reported unreachable registries as
``CannotPullContainerError`` instead (it had no separate auth step); the lab does the same.

Every image in the lab runs the sample app's code (the lab has no container runtime); what varies
between "images" is the task definition's environment, exactly as for the lab's real-AWS images.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runtime import World

ECR_PRIVATE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<repo>[^:@]+)(?:[:@](?P<ref>.+))?$"
)
RETRIES = 5
INTERNET = ipaddress.ip_address("52.94.0.1")  # somewhere on the internet, for route lookups


def pull_problem(
    world: World,
    task_definition: Any,
    subnet_id: str,
    ip: str,
    public_ip: bool,
    *,
    groups: list[str] | None = None,
    platform_version: str = "LATEST",
) -> str | None:
    """None if every container can be prepared, else the task's ``stoppedReason``.

    ``groups`` are the task's security groups (None: not checked); ``public_ip`` is
    ``assignPublicIp == ENABLED``.
    """
    paths = _Paths(world, subnet_id, public_ip, groups)
    legacy = str(platform_version).startswith("1.3")
    for container in task_definition.container_definitions:
        image = str(container.get("image") or "")
        problem = _image_problem(world, paths, image, legacy)
        if problem:
            return problem
    for container in task_definition.container_definitions:
        problem = _log_problem(world, paths, container)
        if problem:
            return problem
    return None


class _Paths:
    """Which AWS endpoints a task in ``subnet_id`` can reach over HTTPS."""

    def __init__(self, world: World, subnet_id: str, public_ip: bool, groups: list[str] | None) -> None:
        self.region = world.region
        ec2 = world.backend("ec2")
        self.subnet = ec2.get_subnet(subnet_id)
        table = _route_table(ec2, self.subnet)
        route = _default_route(table)
        self.egress = _egress_allows_https(ec2, groups)
        nat_ok = route is not None and route.nat_gateway is not None and route.nat_gateway.state == "available"
        igw_ok = (
            route is not None and route.gateway is not None and str(route.gateway.id).startswith("igw-") and public_ip
        )
        self.internet = self.egress and (nat_ok or igw_ok)
        endpoints = [e for e in ec2.vpc_end_points.values() if e.vpc_id == self.subnet.vpc_id]
        self._interface = {
            e.service_name
            for e in endpoints
            if str(e.vpc_endpoint_type or "").lower() == "interface" and e.private_dns_enabled is not False
        }
        table_id = table.id if table is not None else None
        self._gateway = {
            e.service_name
            for e in endpoints
            if str(e.vpc_endpoint_type or "").lower() == "gateway" and table_id in (e.route_table_ids or [])
        }

    def reaches(self, service: str) -> bool:
        """Can the task reach ``com.amazonaws.<region>.<service>``?"""
        if self.internet:
            return True
        name = f"com.amazonaws.{self.region}.{service}"
        if service == "s3":
            return self.egress and name in self._gateway
        return self.egress and name in self._interface


def _image_problem(world: World, paths: _Paths, image: str, legacy: bool) -> str | None:
    match = ECR_PRIVATE.match(image)
    if not match:
        if paths.internet:
            return None  # public registries: the lab cannot look inside them, it assumes the image exists
        registry, repo, ref = _public_parts(image)
        return (
            f"CannotPullContainerError: pull image manifest has been retried {RETRIES} time(s): failed to resolve "
            f'ref {_full(image)}: failed to do request: Head "https://{registry}/v2/{repo}/manifests/{ref}": '
            f"dial tcp {_address(registry)}:443: i/o timeout"
        )
    registry = image.split("/", 1)[0]
    region = match["region"]
    ref = match["ref"] or "latest"
    same_region = region == paths.region
    api = f"api.ecr.{region}.amazonaws.com"
    if not (paths.internet or (same_region and paths.reaches("ecr.api"))):
        if legacy:
            return (
                f"CannotPullContainerError: Error response from daemon: Get https://{registry}/v2/: net/http: "
                "request canceled while waiting for connection (Client.Timeout exceeded while awaiting headers)"
            )
        return (
            "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval "
            "failed: unable to retrieve ecr registry auth: service call has been retried 3 time(s): RequestError: "
            f'send request failed caused by: Post "https://{api}/": dial tcp {_address(api)}:443: i/o timeout. '
            "Please check your task network configuration."
        )
    if not (paths.internet or (same_region and paths.reaches("ecr.dkr"))):
        return (
            f"CannotPullContainerError: pull image manifest has been retried {RETRIES} time(s): failed to resolve "
            f'ref {_full(image)}: failed to do request: Head "https://{registry}/v2/{match["repo"]}/manifests/{ref}": '
            f"dial tcp {_address(registry)}:443: i/o timeout"
        )
    missing = _existence(world, match)
    if missing:
        return missing
    if not (paths.internet or (same_region and paths.reaches("s3"))):
        bucket = f"prod-{region}-starport-layer-bucket.s3.{region}.amazonaws.com"
        return (
            f"CannotPullContainerError: ref pull has been retried {RETRIES} time(s): failed to copy: httpReadSeeker: "
            f'failed open: failed to do request: Get "https://{bucket}/": dial tcp {_address(bucket)}:443: '
            "i/o timeout"
        )
    return None


def _existence(world: World, match: re.Match[str]) -> str | None:
    ref = match["ref"] or "latest"
    repo = world.backend("ecr").repositories.get(match["repo"])
    if repo is not None:
        for img in repo.images:
            if ref in (img.image_tags or []) or ref == getattr(img, "image_digest", None):
                return None
    full = _full(match.group(0))
    return (
        f"CannotPullContainerError: pull image manifest has been retried {RETRIES} time(s): "
        f"failed to resolve ref {full}: {full}: not found"
    )


def _log_problem(world: World, paths: _Paths, container: dict[str, Any]) -> str | None:
    config = container.get("logConfiguration") or {}
    if config.get("logDriver") != "awslogs":
        return None
    options = config.get("options") or {}
    region = str(options.get("awslogs-region") or paths.region)
    prefix = "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: "
    host = f"logs.{region}.amazonaws.com"
    if not (paths.internet or (region == paths.region and paths.reaches("logs"))):
        return (
            f'{prefix}failed to create Cloudwatch log stream: RequestError: send request failed caused by: Post "'
            f'https://{host}/": dial tcp {_address(host)}:443: i/o timeout : exit status 1'
        )
    group = options.get("awslogs-group")
    if group and region == paths.region and str(options.get("awslogs-create-group", "")).lower() != "true":
        try:
            groups = world.backend("logs").groups
        except Exception:  # no logs backend: nothing to judge
            return None
        if group not in groups:
            return (
                f"{prefix}failed to create Cloudwatch log stream: ResourceNotFoundException: "
                "The specified log group does not exist. : exit status 1"
            )
    return None


def _full(image: str) -> str:
    last = image.rsplit("/", 1)[-1]
    return image if (":" in last or "@" in image) else f"{image}:latest"


def _public_parts(image: str) -> tuple[str, str, str]:
    name, ref = image, "latest"
    if "@" in name:
        name, ref = name.split("@", 1)
    elif ":" in name.rsplit("/", 1)[-1]:
        name, ref = name.rsplit(":", 1)
    first = name.split("/", 1)[0]
    if "/" in name and ("." in first or ":" in first or first == "localhost"):
        return first, name.split("/", 1)[1], ref
    repo = name if "/" in name else f"library/{name}"
    return "registry-1.docker.io", repo, ref


def _address(host: str) -> str:
    """A stable public address for ``host`` (what "dial tcp" shows), the same on every run."""
    digest = hashlib.sha256(host.encode()).digest()
    return f"52.94.{digest[0]}.{max(1, digest[1] % 255)}"


def _route_table(ec2: Any, subnet: Any) -> Any | None:
    """The subnet's route table: its explicit association, else the VPC's main table."""
    tables = [t for t in ec2.route_tables.values() if t.vpc_id == subnet.vpc_id]
    chosen = next((t for t in tables if subnet.id in t._associations.values()), None)
    if chosen is None:
        chosen = next((t for t in tables if t.main_association_id is not None), None)
    return chosen


def _default_route(table: Any | None) -> Any | None:
    """The route a packet to the internet takes from a subnet that uses ``table``."""
    if table is None:
        return None
    best, best_len = None, -1
    for route in table.routes.values() if isinstance(table.routes, dict) else table.routes:
        if not route.destination_cidr_block:
            continue
        network = ipaddress.ip_network(route.destination_cidr_block, strict=False)
        if INTERNET in network and network.prefixlen > best_len:
            best, best_len = route, network.prefixlen
    return best


def _egress_allows_https(ec2: Any, groups: list[str] | None) -> bool:
    """Does one of the task's security groups let it open TCP 443 connections (anywhere)?"""
    if groups is None:
        return True
    found = False
    for group_id in groups:
        group = _group(ec2, group_id)
        if group is None:
            continue
        found = True
        for rule in group.egress_rules:
            if rule.ip_protocol in ("-1", None) or (
                rule.ip_protocol in ("tcp", "6") and int(rule.from_port) <= 443 <= int(rule.to_port)
            ):
                return True
    return not found  # no group the region knows: nothing to judge


def _group(ec2: Any, group_id: str) -> Any | None:
    try:
        return ec2.get_security_group_from_id(group_id)
    except Exception:
        return None
