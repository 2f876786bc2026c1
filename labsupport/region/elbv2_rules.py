"""Application Load Balancer rules AWS enforces and moto skips.

Each rule below is one AWS rule, named in the first line of its docstring (that line is what
``GET /_lab/rules`` lists). A rule refuses the request with the error code and message AWS gives,
or rewrites it the way AWS silently does. Error texts are AWS's own where public API output shows
them (quoted from error reports of real AWS calls); where no public source settles AWS's wording,
the code is AWS's and the message is ours, and the comment says so.

ELBv2 speaks the ``query`` protocol: list parameters arrive flat (``Subnets.member.1``,
``DefaultActions.member.1.ForwardConfig.TargetGroups.member.2.Weight``); :func:`request_tree`
turns them back into the nested shape of the API reference.

``CreateLoadBalancer``, ``CreateTargetGroup`` and ``CreateListener`` are idempotent on AWS: the
same call with the same settings returns the existing resource, which matters in a notebook whose
cells are run twice. moto created a second load balancer with the same name, refused a second
target group and stacked a second listener on the port. The rules refuse a same-name (same-port)
call whose settings differ, and the small model patches at the end return the existing resource
for an identical one.

Rules must never crash on input they do not expect: anything a rule cannot judge (a missing
parameter, an unknown ARN) is left to moto, which answers with its own ``...NotFound`` error, and
an unexpected exception inside a rule is logged and the request goes on to moto.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from typing import Any

from .protocol import AwsError, AwsRequest
from .rules import Check, Context, rule

SERVICE = "elasticloadbalancing"  # ELBv2's SigV4 signing name

# -- helpers ----------------------------------------------------------------------------------------


def _elbv2_rule(*actions: str) -> Callable[[Check], Check]:
    """Register a rule of this service (``rules.rule`` logs a rule's own bugs instead of showing them)."""
    return rule(SERVICE, *actions)


def _validation(message: str) -> AwsError:
    return AwsError("ValidationError", message)


def _invalid_configuration(message: str) -> AwsError:
    return AwsError("InvalidConfigurationRequest", message)


def request_tree(params: dict[str, Any]) -> dict[str, Any]:
    """The flat query parameters of an ELBv2 request as the nested structure of the API reference.

    ``{"Subnets.member.1": "subnet-a", "Subnets.member.2": "subnet-b"}`` becomes
    ``{"Subnets": ["subnet-a", "subnet-b"]}``; members keep their order by number.
    """
    root: dict[Any, Any] = {}
    for key, value in params.items():
        parts = [part for part in str(key).split(".") if part != "member"]
        node = root
        for depth, part in enumerate(parts):
            name: Any = int(part) if part.isdigit() else part
            if depth == len(parts) - 1:
                node[name] = value
                break
            child = node.setdefault(name, {})
            if not isinstance(child, dict):
                break  # a scalar and a structure under one name: not a request AWS would accept
            node = child
    return _as_lists(root)


def _as_lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(isinstance(key, int) for key in node):
        return [_as_lists(node[key]) for key in sorted(node)]
    return {key: _as_lists(value) for key, value in node.items()}


def _elbv2(ctx: Context) -> Any:
    return ctx.backend("elbv2")


def _ec2(ctx: Context) -> Any:
    return ctx.backend("ec2")


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _listeners(backend: Any) -> Iterator[tuple[Any, Any]]:
    """(load balancer, listener) for every listener in the region."""
    for balancer in list(backend.load_balancers.values()):
        for listener in list(balancer.listeners.values()):
            yield balancer, listener


def _action_target_groups(data: dict[str, Any]) -> list[str]:
    """Target group ARNs an action (request or stored form) forwards to, in order, without repeats."""
    arns: list[str] = []
    if data.get("TargetGroupArn"):
        arns.append(str(data["TargetGroupArn"]))
    forward = data.get("ForwardConfig")
    if isinstance(forward, dict):
        for item in forward.get("TargetGroups") or []:
            if isinstance(item, dict) and item.get("TargetGroupArn"):
                arns.append(str(item["TargetGroupArn"]))
    return list(dict.fromkeys(arns))


def load_balancers_using(backend: Any, target_group_arn: str) -> set[str]:
    """ARNs of the load balancers whose listeners or rules forward to ``target_group_arn``.

    Computed from the listeners themselves: moto's own ``load_balancer_arns`` list repeats an ARN
    per listener and is not updated by ``ModifyListener``.
    """
    found: set[str] = set()
    for balancer, listener in _listeners(backend):
        for listener_rule in list(listener.rules.values()):
            for action in listener_rule.actions or []:
                if target_group_arn in _action_target_groups(getattr(action, "data", {}) or {}):
                    found.add(balancer.arn)
    return found


def _find_listener(backend: Any, listener_arn: str | None) -> tuple[Any, Any] | tuple[None, None]:
    for balancer, listener in _listeners(backend):
        if listener.arn == listener_arn:
            return balancer, listener
    return None, None


def _find_rule_listener(backend: Any, rule_arn: str | None) -> tuple[Any, Any] | tuple[None, None]:
    for balancer, listener in _listeners(backend):
        if rule_arn in listener.rules:
            return balancer, listener
    return None, None


# -- 1. Load balancer names --------------------------------------------------------------------------

_NAME_CHARACTERS = re.compile(r"^[A-Za-z0-9-]+$")


@_elbv2_rule("CreateLoadBalancer")
def load_balancer_name(request: AwsRequest, ctx: Context) -> None:
    """A load balancer name: at most 32 alphanumerics or hyphens, no hyphen at either end, not internal-*."""
    name = request.get("Name")
    if not isinstance(name, str) or not name:
        return  # botocore requires a name; moto answers anything else
    # AWS's wording for the length case is public ("The load balancer name '…' cannot be longer
    # than '32' characters"); the other three follow the same pattern (and moto's target group texts).
    if len(name) > 32:
        raise _validation(f"The load balancer name '{name}' cannot be longer than '32' characters")
    if not _NAME_CHARACTERS.match(name):
        raise _validation(
            f"The load balancer name '{name}' can only contain characters that are alphanumeric characters "
            "or hyphens(-)"
        )
    if name.startswith("-") or name.endswith("-"):
        raise _validation(f"The load balancer name '{name}' cannot begin or end with '-'")
    if name.lower().startswith("internal-"):
        # AWS prefixes internal load balancers' DNS names with "internal-", so names may not start so.
        raise _validation(f"The load balancer name '{name}' cannot begin with 'internal-'")


# -- 2. Load balancer subnets ------------------------------------------------------------------------


def _request_subnet_ids(tree: dict[str, Any]) -> list[str]:
    ids = [str(subnet) for subnet in tree.get("Subnets") or [] if subnet]
    for mapping in tree.get("SubnetMappings") or []:
        if isinstance(mapping, dict) and mapping.get("SubnetId"):
            ids.append(str(mapping["SubnetId"]))
    return ids


def _check_alb_subnets(ctx: Context, subnet_ids: list[str], vpc_id: str | None = None) -> None:
    ec2 = _ec2(ctx)
    subnets = []
    for subnet_id in subnet_ids:
        try:
            subnets.append(ec2.get_subnet(subnet_id))
        except Exception:
            return  # unknown subnet: moto answers SubnetNotFound
    vpcs = {subnet.vpc_id for subnet in subnets}
    if vpc_id is not None:
        vpcs.add(vpc_id)
    if len(vpcs) > 1:
        # The code is AWS's; no public source shows its message for this case.
        where = ", ".join(f"{subnet.id} is in {subnet.vpc_id}" for subnet in subnets)
        raise _invalid_configuration(
            f"All subnets of a load balancer must belong to the same VPC{f' ({vpc_id})' if vpc_id else ''}: {where}."
        )
    zones: dict[str, str] = {}
    for subnet in subnets:
        if subnet.availability_zone in zones:
            raise _invalid_configuration(
                "A load balancer cannot be attached to multiple subnets in the same Availability Zone"
            )
        zones[subnet.availability_zone] = subnet.id
    if len(zones) < 2:
        raise _validation("At least two subnets in two different Availability Zones must be specified")


@_elbv2_rule("CreateLoadBalancer")
def load_balancer_subnets(request: AwsRequest, ctx: Context) -> None:
    """An Application Load Balancer needs subnets of one VPC in at least two Availability Zones, one per zone."""
    tree = request_tree(request.params)
    if str(tree.get("Type") or "application").lower() != "application":
        return  # Network and Gateway Load Balancers may use a single zone
    subnet_ids = _request_subnet_ids(tree)
    if not subnet_ids:
        return  # moto answers SubnetNotFound, as AWS does
    _check_alb_subnets(ctx, subnet_ids)


@_elbv2_rule("SetSubnets")
def load_balancer_new_subnets(request: AwsRequest, ctx: Context) -> None:
    """SetSubnets on an Application Load Balancer keeps it in its VPC, in two or more zones, one subnet per zone."""
    tree = request_tree(request.params)
    balancer = _elbv2(ctx).load_balancers.get(request.get("LoadBalancerArn"))
    subnet_ids = _request_subnet_ids(tree)
    if balancer is None or balancer.type != "application" or not subnet_ids:
        return
    _check_alb_subnets(ctx, subnet_ids, vpc_id=balancer.vpc_id)


# -- 3. Idempotent creates: same name (or port), same settings ---------------------------------------


def _load_balancer_settings(
    scheme: Any, kind: Any, subnets: list[str], groups: list[str], address_type: Any
) -> tuple[Any, ...]:
    return (
        str(scheme or "internet-facing"),
        str(kind or "application"),
        tuple(sorted(subnets)),
        tuple(sorted(groups)),
        str(address_type or "ipv4"),
    )


def _stored_load_balancer_settings(balancer: Any) -> tuple[Any, ...]:
    return _load_balancer_settings(
        balancer.scheme,
        balancer.type,
        [subnet.id for subnet in balancer.subnets],
        list(balancer.security_groups or []),
        balancer.ip_address_type,
    )


@_elbv2_rule("CreateLoadBalancer")
def load_balancer_name_unique(request: AwsRequest, ctx: Context) -> None:
    """Load balancer names are unique per region; creating one again with the same settings returns it."""
    name = request.get("Name")
    tree = request_tree(request.params)
    wanted = _load_balancer_settings(
        tree.get("Scheme"),
        tree.get("Type"),
        _request_subnet_ids(tree),
        [str(group) for group in tree.get("SecurityGroups") or []],
        tree.get("IpAddressType"),
    )
    for balancer in _elbv2(ctx).load_balancers.values():
        if balancer.name == name and _stored_load_balancer_settings(balancer) != wanted:
            # moto created a second load balancer with the same name.
            raise AwsError(
                "DuplicateLoadBalancerName",
                f"A load balancer with the same name '{name}' exists, but with different settings",
            )


def _target_group_settings(protocol: Any, port: Any, vpc_id: Any, target_type: Any) -> tuple[str, ...]:
    return (str(protocol or "").upper(), str(port or ""), str(vpc_id or ""), str(target_type or "instance"))


@_elbv2_rule("CreateTargetGroup")
def target_group_name_unique(request: AwsRequest, ctx: Context) -> None:
    """Target group names are unique per region; creating one again with the same settings returns it."""
    name = request.get("Name")
    wanted = _target_group_settings(
        request.get("Protocol"), request.get("Port"), request.get("VpcId"), request.get("TargetType")
    )
    for group in _elbv2(ctx).target_groups.values():
        if group.name == name:
            stored = _target_group_settings(group.protocol, group.port, group.vpc_id, group.target_type)
            if stored != wanted:
                raise AwsError(
                    "DuplicateTargetGroupName",
                    f"A target group with the same name '{name}' exists, but with different settings",
                )


def _request_forwarded(tree: dict[str, Any], key: str) -> list[tuple[str, tuple[str, ...]]]:
    """(type, forwarded target groups) of each action in the request, for comparing listeners."""
    return [
        (str(action.get("Type", "")), tuple(_action_target_groups(action)))
        for action in tree.get(key) or []
        if isinstance(action, dict)
    ]


def _stored_forwarded(actions: list[Any]) -> list[tuple[str, tuple[str, ...]]]:
    return [(str(action.type or ""), tuple(_action_target_groups(action.data or {}))) for action in actions or []]


@_elbv2_rule("CreateListener")
def one_listener_per_port(request: AwsRequest, ctx: Context) -> None:
    """A load balancer has one listener per port; creating it again with the same settings returns it."""
    balancer = _elbv2(ctx).load_balancers.get(request.get("LoadBalancerArn"))
    port = _int(request.get("Port"))
    if balancer is None or port is None:
        return
    tree = request_tree(request.params)
    for listener in balancer.listeners.values():
        if _int(listener.port) != port:
            continue
        same = str(listener.protocol or "").upper() == str(request.get("Protocol") or "").upper() and (
            _stored_forwarded(listener.default_actions) == _request_forwarded(tree, "DefaultActions")
        )
        if not same:
            # moto stacked a second listener on the port.
            raise AwsError(
                "DuplicateListener", f"A listener already exists on this port for this load balancer '{balancer.arn}'"
            )


@_elbv2_rule("ModifyListener")
def listener_port_free(request: AwsRequest, ctx: Context) -> None:
    """A listener can move only to a port no other listener of its load balancer uses."""
    port = _int(request.get("Port"))
    if port is None:
        return
    balancer, listener = _find_listener(_elbv2(ctx), request.get("ListenerArn"))
    if balancer is None:
        return
    for other in balancer.listeners.values():
        if other is not listener and _int(other.port) == port:
            raise _validation(f"Listener port '{port}' is already in use")


# -- 4. HTTPS listeners ------------------------------------------------------------------------------


@_elbv2_rule("CreateListener")
def https_listener_certificate(request: AwsRequest, ctx: Context) -> None:
    """An HTTPS listener needs a certificate, and the certificate must exist."""
    if str(request.get("Protocol") or "").upper() != "HTTPS":
        return
    certificates = request_tree(request.params).get("Certificates") or []
    arns = [
        str(item["CertificateArn"]) for item in certificates if isinstance(item, dict) and item.get("CertificateArn")
    ]
    if not arns:
        # moto created the listener without one.
        raise _validation("A certificate must be specified for HTTPS listeners")
    backend = _elbv2(ctx)
    if not backend._certificate_exists(certificate_arn=arns[0]):
        raise AwsError("CertificateNotFound", f"Certificate '{arns[0]}' not found")


# -- 5. Forward actions ------------------------------------------------------------------------------

_MAX_FORWARD_TARGET_GROUPS = 5


def _forward_checks(request: AwsRequest, ctx: Context, key: str, balancer: Any) -> None:
    """Check every forward action under ``key`` (DefaultActions or Actions) of the request."""
    tree = request_tree(request.params)
    member = key[0].lower() + key[1:]  # how AWS's validation messages name the list
    backend = _elbv2(ctx)
    for position, action in enumerate(tree.get(key) or [], start=1):
        if not isinstance(action, dict) or str(action.get("Type", "")).lower() != "forward":
            continue
        forward = action.get("ForwardConfig") if isinstance(action.get("ForwardConfig"), dict) else None
        groups = [item for item in (forward or {}).get("TargetGroups") or [] if isinstance(item, dict)]
        if len(groups) > _MAX_FORWARD_TARGET_GROUPS:
            # The limit is AWS's (5 target groups per forward action); the wording is ours.
            raise _validation(
                f"A forward action can have at most {_MAX_FORWARD_TARGET_GROUPS} target groups; "
                f"{member} {position} has {len(groups)}."
            )
        total = 0
        for index, item in enumerate(groups, start=1):
            weight = _int(item.get("Weight", 1))
            where = f"{member}.{position}.member.forwardConfig.targetGroups.{index}.member.weight"
            # AWS's standard wording for a value outside a modelled range.
            if weight is not None and weight > 999:
                raise _validation(
                    f"1 validation error detected: Value '{weight}' at '{where}' failed to satisfy constraint: "
                    "Member must have value less than or equal to 999"
                )
            if weight is not None and weight < 0:
                raise _validation(
                    f"1 validation error detected: Value '{weight}' at '{where}' failed to satisfy constraint: "
                    "Member must have value greater than or equal to 0"
                )
            total += weight or 0
        if groups and total == 0:
            # The project's reading of AWS's weighted-forwarding rule (moto-gaps §11): a forward action
            # must send its traffic somewhere. The wording is ours.
            raise _validation(
                f"The target group weights of forward action {position} add up to 0; at least one target group "
                "must have a weight greater than 0."
            )
        single = action.get("TargetGroupArn")
        if single and groups:
            named = [str(item.get("TargetGroupArn")) for item in groups]
            if named != [str(single)]:
                # The rule is AWS's (API reference, Action.ForwardConfig); the wording is ours.
                raise _validation(
                    "You can specify both TargetGroupArn and ForwardConfig only if ForwardConfig names exactly one "
                    f"target group and it is the same one as TargetGroupArn ('{single}')."
                )
        if balancer is None:
            continue
        for arn in _action_target_groups(action):
            group = backend.target_groups.get(arn)
            if group is None:
                continue  # moto answers TargetGroupNotFound
            if group.vpc_id and balancer.vpc_id and group.vpc_id != balancer.vpc_id:
                # AWS's wording as reported from real calls.
                raise _invalid_configuration(
                    f"Target group '{arn}' is in a different VPC than load balancer '{balancer.arn}'"
                )
            others = load_balancers_using(backend, arn) - {balancer.arn}
            if others:
                raise AwsError(
                    "TargetGroupAssociationLimit",
                    f"The following target groups cannot be associated with more than one load balancer: {arn}",
                )


@_elbv2_rule("CreateListener")
def listener_forward_actions(request: AwsRequest, ctx: Context) -> None:
    """Forward actions: weights 0-999, non-zero total, at most 5 TGs; each TG in the LB's VPC and on one LB only."""
    _forward_checks(request, ctx, "DefaultActions", _elbv2(ctx).load_balancers.get(request.get("LoadBalancerArn")))


@_elbv2_rule("ModifyListener")
def modified_listener_forward_actions(request: AwsRequest, ctx: Context) -> None:
    """Forward actions: weights 0-999, non-zero total, at most 5 TGs; each TG in the LB's VPC and on one LB only."""
    balancer, _ = _find_listener(_elbv2(ctx), request.get("ListenerArn"))
    _forward_checks(request, ctx, "DefaultActions", balancer)


@_elbv2_rule("CreateRule")
def rule_forward_actions(request: AwsRequest, ctx: Context) -> None:
    """Forward actions: weights 0-999, non-zero total, at most 5 TGs; each TG in the LB's VPC and on one LB only."""
    balancer, _ = _find_listener(_elbv2(ctx), request.get("ListenerArn"))
    _forward_checks(request, ctx, "Actions", balancer)


@_elbv2_rule("ModifyRule")
def modified_rule_forward_actions(request: AwsRequest, ctx: Context) -> None:
    """Forward actions: weights 0-999, non-zero total, at most 5 TGs; each TG in the LB's VPC and on one LB only."""
    balancer, _ = _find_rule_listener(_elbv2(ctx), request.get("RuleArn"))
    _forward_checks(request, ctx, "Actions", balancer)


# -- 6. Target groups --------------------------------------------------------------------------------


@_elbv2_rule("CreateTargetGroup")
def target_group_name(request: AwsRequest, ctx: Context) -> None:
    """A target group name: at most 32 alphanumerics or hyphens, no hyphen at either end."""
    name = request.get("Name")
    if not isinstance(name, str) or not name:
        return
    # The same texts moto uses for these cases, which follow AWS's ("Target group name '…' cannot be
    # longer than '32' characters").
    if len(name) > 32:
        raise _validation(f"Target group name '{name}' cannot be longer than '32' characters")
    if not _NAME_CHARACTERS.match(name):
        raise _validation(
            f"Target group name '{name}' can only contain characters that are alphanumeric characters or hyphens(-)"
        )
    if name.startswith("-") or name.endswith("-"):
        raise _validation(f"Target group name '{name}' cannot begin or end with '-'")


@_elbv2_rule("CreateTargetGroup")
def health_check_timeout_default(request: AwsRequest, ctx: Context) -> None:
    """An HTTP/HTTPS target group's health-check timeout defaults to 5 seconds (ALB user guide)."""
    if request.get("HealthCheckTimeoutSeconds") not in (None, ""):
        return
    if str(request.get("Protocol") or "").upper() not in ("HTTP", "HTTPS"):
        return
    if str(request.get("TargetType") or "instance").lower() == "lambda":
        return  # Lambda targets default to 30 s
    interval = _int(request.get("HealthCheckIntervalSeconds"))
    if interval is not None and interval <= 5:
        return  # an explicit 5 s timeout would then be refused; moto's own default applies
    # moto 5.2.5 already defaults HTTP/HTTPS groups to 5 s inside create_target_group, but its model
    # falls back to 10 s (the NLB value): pinning the value keeps describe output right either way.
    request.set("HealthCheckTimeoutSeconds", "5")


# -- 7. Registering targets --------------------------------------------------------------------------

# Addresses an ip target may have outside the target group's VPC: a peered VPC or a network
# reached over VPN / Direct Connect uses these ranges; public addresses are never targets.
_PRIVATE_RANGES = tuple(
    ipaddress.IPv4Network(block) for block in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)


@_elbv2_rule("RegisterTargets")
def target_addresses(request: AwsRequest, ctx: Context) -> None:
    """An ip target lies in the target group's VPC, or (with an Availability Zone) in RFC 1918 or 100.64.0.0/10."""
    group = _elbv2(ctx).target_groups.get(request.get("TargetGroupArn"))
    if group is None:
        return  # moto answers TargetGroupNotFound
    targets = [item for item in request_tree(request.params).get("Targets") or [] if isinstance(item, dict)]
    if group.target_type == "instance":
        for target in targets:
            target_id = str(target.get("Id", ""))
            if not target_id.startswith("i-"):
                # AWS's wording, as reported for an IP address registered in an instance target group.
                raise _validation(f"Instance ID '{target_id}' is not valid")
        return
    if group.target_type != "ip":
        return
    ec2 = _ec2(ctx)
    subnets = [subnet for subnet in ec2.describe_subnets() if subnet.vpc_id == group.vpc_id]
    for target in targets:
        text = str(target.get("Id", ""))
        try:
            address = ipaddress.IPv4Address(text.strip())
        except ValueError:
            raise _validation(f"The IP address '{text}' is not a valid IPv4 address") from None
        if any(address in ipaddress.IPv4Network(str(subnet.cidr_block)) for subnet in subnets):
            continue  # inside the VPC: AWS finds the zone from the subnet
        if not any(address in block for block in _PRIVATE_RANGES):
            # The rule is AWS's (ALB guide: ip targets come from the VPC, RFC 1918 or 100.64.0.0/10,
            # never publicly routable addresses); the wording is ours.
            raise _validation(
                f"The IP address '{address}' is outside the VPC of the target group ({group.vpc_id}) and is not a "
                "private address (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10). IP targets must be "
                "private addresses; publicly routable addresses cannot be registered."
            )
        if not target.get("AvailabilityZone"):
            # AWS's wording.
            raise _validation(
                f"The Availability Zone is required for IP address '{address}' because it is not in the VPC"
            )


# -- model patches: idempotent creates ----------------------------------------------------------------

_MARK = "_labsupport_patched"


def _patch_idempotent_creates() -> None:
    """Make moto return the existing resource for an identical create, as AWS does.

    The rules above have already refused a same-name (same-port) create whose settings differ, so
    whatever reaches these functions with a known name (port) is a repeat of an earlier call.
    Returning before moto draws random numbers keeps later resource IDs reproducible.
    """
    from moto.elbv2.models import ELBv2Backend

    create_load_balancer = ELBv2Backend.create_load_balancer
    if not getattr(create_load_balancer, _MARK, False):

        def load_balancer(
            self: Any, name: str, security_groups: Any, subnet_ids: Any, *args: Any, **kwargs: Any
        ) -> Any:
            mappings = kwargs.get("subnet_mappings") or (args[0] if args else None) or []
            wanted = _load_balancer_settings(
                kwargs.get("scheme", "internet-facing"),
                kwargs.get("loadbalancer_type"),
                [str(s) for s in subnet_ids or []] + [str(m.get("SubnetId")) for m in mappings if isinstance(m, dict)],
                [str(group) for group in security_groups or []],
                kwargs.get("ip_address_type", "ipv4"),
            )
            for existing in self.load_balancers.values():
                if existing.name == name and _stored_load_balancer_settings(existing) == wanted:
                    return existing
            return create_load_balancer(self, name, security_groups, subnet_ids, *args, **kwargs)

        setattr(load_balancer, _MARK, True)
        ELBv2Backend.create_load_balancer = load_balancer  # type: ignore[method-assign]

    create_target_group = ELBv2Backend.create_target_group
    if not getattr(create_target_group, _MARK, False):

        def target_group(self: Any, name: str, **kwargs: Any) -> Any:
            wanted = _target_group_settings(
                kwargs.get("protocol"), kwargs.get("port"), kwargs.get("vpc_id"), kwargs.get("target_type")
            )
            for existing in self.target_groups.values():
                stored = _target_group_settings(existing.protocol, existing.port, existing.vpc_id, existing.target_type)
                if existing.name == name and stored == wanted:
                    return existing
            return create_target_group(self, name, **kwargs)

        setattr(target_group, _MARK, True)
        ELBv2Backend.create_target_group = target_group  # type: ignore[method-assign]

    create_listener = ELBv2Backend.create_listener
    if not getattr(create_listener, _MARK, False):

        def listener(self: Any, load_balancer_arn: str, protocol: str, port: Any, *args: Any, **kwargs: Any) -> Any:
            balancer = self.load_balancers.get(load_balancer_arn)
            if balancer is not None:
                for existing in balancer.listeners.values():
                    same_protocol = str(existing.protocol or "").upper() == str(protocol or "").upper()
                    if _int(existing.port) == _int(port) and same_protocol:
                        return existing
            return create_listener(self, load_balancer_arn, protocol, port, *args, **kwargs)

        setattr(listener, _MARK, True)
        ELBv2Backend.create_listener = listener  # type: ignore[method-assign]


_patch_idempotent_creates()
