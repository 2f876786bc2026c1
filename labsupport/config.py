"""The lab's configuration: region, resource names and the VPC plan, read from ``data/lab.json``.

The names follow the seed notes the workbook teaches from (``my-workspace-vpc``,
``my-app-lb-sg`` ...), so a learner who later follows those notes on real AWS meets the same names.
An instructor can point ``LABSUPPORT_CONFIG`` at another JSON file with the same shape to give a
class different names or CIDRs without touching a notebook.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import LabError

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO_ROOT / "data" / "lab.json"


@dataclass(frozen=True)
class SubnetPlan:
    name: str
    tier: str  # "public" or "private"
    az: str
    cidr: str


@dataclass(frozen=True)
class RulePlan:
    protocol: str
    port: int
    source: str  # a CIDR, or the key of another security group in the plan ("alb")
    from_group: bool
    why: str


@dataclass(frozen=True)
class SecurityGroupPlan:
    key: str
    name: str
    description: str
    ingress: tuple[RulePlan, ...]


@dataclass(frozen=True)
class LabConfig:
    region: str
    project: str
    tag_key: str
    tag_value: str
    vpc_name: str
    vpc_cidr: str
    azs: tuple[str, ...]
    subnets: tuple[SubnetPlan, ...]
    public_route_table: str
    private_route_tables: dict[str, str]
    internet_gateway: str
    nat_gateway: str
    nat_subnet: str
    security_groups: tuple[SecurityGroupPlan, ...]
    my_ip: str
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    def subnet(self, name: str) -> SubnetPlan:
        for plan in self.subnets:
            if plan.name == name:
                return plan
        known = ", ".join(s.name for s in self.subnets)
        raise LabError(f"There is no subnet called {name!r} in the lab plan.", f"use one of: {known}.")

    def tier(self, tier: str) -> list[SubnetPlan]:
        return [s for s in self.subnets if s.tier == tier]

    def security_group(self, key: str) -> SecurityGroupPlan:
        for plan in self.security_groups:
            if key in (plan.key, plan.name):
                return plan
        known = ", ".join(f"{p.key} ({p.name})" for p in self.security_groups)
        raise LabError(f"There is no security group {key!r} in the lab plan.", f"use one of: {known}.")


def load(path: str | os.PathLike[str] | None = None) -> LabConfig:
    """Read the lab configuration (``LABSUPPORT_CONFIG`` or ``data/lab.json``)."""
    source = Path(path or os.environ.get("LABSUPPORT_CONFIG") or DEFAULT_CONFIG)
    try:
        raw = json.loads(source.read_text(encoding="utf-8"))
    except OSError as err:
        raise LabError(
            f"Cannot read the lab configuration {source}: {err.strerror}.",
            "check LABSUPPORT_CONFIG or restore data/lab.json.",
        ) from None
    except ValueError as err:
        raise LabError(
            f"The lab configuration {source} is not valid JSON ({err}).", "fix the JSON syntax at that position."
        ) from None
    try:
        vpc = raw["vpc"]
        groups = tuple(
            SecurityGroupPlan(
                key=key,
                name=g["name"],
                description=g["description"],
                ingress=tuple(
                    RulePlan(
                        protocol=r["protocol"],
                        port=int(r["port"]),
                        source=r.get("from_group") or r["from"],
                        from_group="from_group" in r,
                        why=r.get("why", ""),
                    )
                    for r in g.get("ingress", [])
                ),
            )
            for key, g in raw["security_groups"].items()
        )
        return LabConfig(
            region=raw["region"],
            project=raw["project"],
            tag_key=raw["tag_key"],
            tag_value=raw["tag_value"],
            vpc_name=vpc["name"],
            vpc_cidr=vpc["cidr"],
            azs=tuple(vpc["azs"]),
            subnets=tuple(SubnetPlan(**s) for s in vpc["subnets"]),
            public_route_table=vpc["route_tables"]["public"],
            private_route_tables=dict(vpc["route_tables"]["private"]),
            internet_gateway=vpc["internet_gateway"],
            nat_gateway=vpc["nat_gateway"]["name"],
            nat_subnet=vpc["nat_gateway"]["subnet"],
            security_groups=groups,
            my_ip=raw.get("my_ip", "203.0.113.10"),
            raw=raw,
        )
    except (KeyError, TypeError) as err:
        raise LabError(
            f"The lab configuration {source} is missing or mistypes {err}.",
            "compare it with data/lab.json in the repository.",
        ) from None
