"""Corrections to moto's models where moto answers but gets AWS wrong.

Rules (:mod:`.ec2_rules`) refuse or rewrite requests; this module fixes what moto *stores* and
therefore what every describe call shows afterwards. The patches are applied once, when this module
is imported (the region's app imports it before any backend exists), and applying them twice is
harmless. Each patch says what AWS does and what moto did.

- Route state: a route whose internet gateway is no longer attached to the route table's VPC (or
  no longer exists), whose NAT gateway is deleted, or whose network interface is gone, is
  ``blackhole`` on AWS. moto always said ``active``.
- Default security group: AWS's default group of every VPC also allows all inbound traffic from
  itself. moto created only the egress rule.
- Network interface addresses: an ENI created without an address inside its subnet (a NAT gateway,
  an ECS task, ``create_network_interface`` without ``PrivateIpAddress``) gets the lowest free
  address of its subnet, from base+4 on, the way the lab teaches the 5 reserved addresses. moto gave
  NAT gateways and ECS tasks a random 10.x.x.x address outside the subnet, and other ENIs a random
  address of the subnet that could be a reserved or a taken one.
- Subnets of non-default VPCs are never ``DefaultForAz`` and do not map public IPs on launch (moto
  marked the first subnet it filed under a zone as default).
- Deleting a NAT gateway releases its network interface and disassociates its Elastic IP, as AWS
  does; moto kept both, so the subnet's address stayed taken.
- Reproducible IDs: building moto's app for a service no longer consumes the seeded random numbers
  that resource IDs come from, so a freshly started region gives the same IDs as a reset one.
- The region starts without moto's ~1,300 sample AMIs (see ``MOTO_EC2_LOAD_DEFAULT_AMIS`` below).
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any

from .ipam import next_free_address
from .protocol import AwsRequest
from .rules import Context, after

# moto loads ~1,300 sample AMIs (with random volume and snapshot IDs) every time an EC2 backend is
# created, which is most of the cost of a region reset (0.2 s of 0.21 s). The lab runs containers on
# Fargate and never launches EC2 instances from AMIs, so the region starts without them. This must
# happen before the first EC2 backend exists; setdefault lets MOTO_EC2_LOAD_DEFAULT_AMIS=true,
# exported before the region starts, bring them back.
os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")

_MARK = "_labsupport_patched"


def _already(function: Any) -> bool:
    return bool(getattr(function, _MARK, False))


def _mark(function: Any) -> Any:
    setattr(function, _MARK, True)
    return function


# -- a. route state ----------------------------------------------------------------------------------


def route_state(route: Any) -> str:
    """``blackhole`` when the route's target can no longer carry traffic, else ``active``."""
    try:
        table = route.route_table
        backend = table.ec2_backend
        gateway = route.gateway
        if gateway is not None and str(getattr(gateway, "id", "")).startswith("igw-"):
            if backend.internet_gateways.get(gateway.id) is not gateway:
                return "blackhole"  # the internet gateway was deleted
            if gateway.vpc is None or gateway.vpc.id != table.vpc_id:
                return "blackhole"  # detached from this VPC
        nat = route.nat_gateway
        if nat is not None and (nat.state in ("deleting", "deleted", "failed") or nat.id not in backend.nat_gateways):
            return "blackhole"
        interface = route.interface
        if interface is not None and backend.enis.get(interface.id) is not interface:
            return "blackhole"
    except Exception:  # a half-built model must never break DescribeRouteTables
        return "active"
    return "active"


def _patch_route_state() -> None:
    from moto.ec2.models.route_tables import Route

    current = Route.__dict__.get("state")
    if isinstance(current, property) and _already(current.fget):
        return
    Route.state = property(_mark(route_state))  # type: ignore[method-assign,assignment]


# -- b. default security group -----------------------------------------------------------------------


def allow_default_group_from_itself(backend: Any, group: Any) -> None:
    """Give a VPC's default security group AWS's inbound rule: all traffic from the group itself."""
    for existing in group.ingress_rules:
        if existing.ip_protocol == "-1" and (existing.source_group or {}).get("GroupId") == group.id:
            return
    backend.authorize_security_group_ingress(
        group_name_or_id=group.id,
        ip_protocol="-1",
        from_port=None,
        to_port=None,
        ip_ranges=[],
        source_groups=[{"GroupId": group.id, "UserId": backend.account_id}],
        vpc_id=group.vpc_id,
    )


def _patch_default_security_group() -> None:
    from moto.ec2.models.security_groups import SecurityGroupBackend

    original = SecurityGroupBackend.create_security_group
    if _already(original):
        return

    def create_security_group(self: Any, *args: Any, **kwargs: Any) -> Any:
        group = original(self, *args, **kwargs)
        if group.is_default and group.vpc_id:
            allow_default_group_from_itself(self, group)
        return group

    SecurityGroupBackend.create_security_group = _mark(create_security_group)  # type: ignore[method-assign]


# -- c. network interface addresses ------------------------------------------------------------------


def _primary(address: Any) -> str | None:
    if isinstance(address, list):
        address = address[0] if address else None
    return str(address) if address else None


def _inside(address: str | None, network: Any) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address) in network
    except ValueError:
        return False


def _patch_interface_addresses() -> None:
    from moto.ec2.models.elastic_network_interfaces import NetworkInterface
    from moto.ec2.models.nat_gateways import NatGateway

    original_eni = NetworkInterface.__init__
    if not _already(original_eni):

        def eni_init(
            self: Any, ec2_backend: Any, subnet: Any, private_ip_address: Any, *args: Any, **kwargs: Any
        ) -> None:
            explicit_list = kwargs.get("private_ip_addresses") or (args[0] if args else None)
            try:
                target = ec2_backend.get_subnet(subnet) if isinstance(subnet, str) else subnet
                if not explicit_list and not _inside(_primary(private_ip_address), target.cidr):
                    # moto's NAT gateways and ECS tasks pass a random 10.x address; an ENI
                    # created with no address got a random one that may be reserved or taken.
                    private_ip_address = next_free_address(ec2_backend, target) or private_ip_address
            except Exception:  # unknown subnet and the like: moto raises its own error next
                pass
            original_eni(self, ec2_backend, subnet, private_ip_address, *args, **kwargs)

        NetworkInterface.__init__ = _mark(eni_init)  # type: ignore[method-assign]

    original_nat = NatGateway.__init__
    if not _already(original_nat):

        def nat_init(self: Any, *args: Any, **kwargs: Any) -> None:
            original_nat(self, *args, **kwargs)
            # Keep the gateway's own record in step with the address its ENI received.
            self.private_ip = self._eni.private_ip_address

        NatGateway.__init__ = _mark(nat_init)  # type: ignore[method-assign]


# -- d. subnets of non-default VPCs ------------------------------------------------------------------


def _patch_subnet_defaults() -> None:
    from moto.ec2.models.subnets import SubnetBackend

    original = SubnetBackend.create_subnet
    if _already(original):
        return

    def create_subnet(self: Any, *args: Any, **kwargs: Any) -> Any:
        subnet = original(self, *args, **kwargs)
        vpc = self.vpcs.get(subnet.vpc_id)
        if vpc is not None and not vpc.is_default:
            subnet.default_for_az = False
            subnet.map_public_ip_on_launch = False
        return subnet

    SubnetBackend.create_subnet = _mark(create_subnet)  # type: ignore[method-assign]


@after("ec2", "DeleteNatGateway")
def release_nat_gateway_interface(request: AwsRequest, ctx: Context, status: int, body: bytes) -> None:
    """A deleted NAT gateway gives back its subnet address and its Elastic IP association."""
    backend = ctx.backend("ec2")
    nat = backend.nat_gateways.get(request.get("NatGatewayId"))
    eni = getattr(nat, "_eni", None)
    if eni is None or eni.id not in backend.enis:
        return
    for address in list(backend.addresses):
        if address.eni is eni and address.association_id:
            backend.disassociate_address(association_id=address.association_id)
    backend.enis.pop(eni.id, None)


# -- deterministic IDs -------------------------------------------------------------------------------


def _patch_dispatcher_randomness() -> None:
    """Keep moto's server from drawing IDs' random numbers when it first meets a service.

    The first request for a service makes moto's dispatcher build that service's app, which
    instantiates a throw-away us-east-1 backend (for EC2: 1,300 AMIs with random volume and
    snapshot IDs) from the same seeded generator that makes resource IDs. In a freshly started
    region that happened after the seed, so the first VPC got a different ID than after a reset.
    Restoring the generator's state around the app's construction makes it invisible to IDs.
    """
    from moto.moto_api._internal import mock_random
    from moto.moto_server import werkzeug_app

    original = werkzeug_app.create_backend_app
    if _already(original):
        return

    def create_backend_app(service: Any) -> Any:
        state = mock_random.getstate()
        try:
            return original(service)
        finally:
            mock_random.setstate(state)

    # The region's app looks the function up in this module when it builds moto's dispatcher,
    # which happens after this patch (app.py imports this module first).
    werkzeug_app.create_backend_app = _mark(create_backend_app)


# -- applying ----------------------------------------------------------------------------------------


def apply() -> None:
    """Apply every model patch (idempotent)."""
    _patch_route_state()
    _patch_default_security_group()
    _patch_interface_addresses()
    _patch_subnet_defaults()
    _patch_dispatcher_randomness()


apply()


def after_reset(ctx: Context) -> None:
    """Called after every reset, once the lab's backends exist.

    The default VPC is created while moto's EC2 backend initialises, through the patched
    ``create_security_group``, so its default group already has the self-referencing rule; this
    re-check keeps that true even if the backend was created before the patches were applied.
    """
    backend = ctx.backend("ec2")
    for vpc in list(backend.vpcs.values()):
        group = backend.get_default_security_group(vpc.id)
        if group is not None:
            allow_default_group_from_itself(backend, group)
