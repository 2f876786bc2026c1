"""Private IP addresses in subnets, allocated the way a VPC does.

moto gives NAT gateway and ECS task interfaces a random 10.x address, often outside their subnet.
On AWS every ENI gets a free address *of its subnet*, never one of the five AWS reserves (network,
router, DNS, future use, broadcast). Learners look at these addresses (tasks and their IPs in the
subnets), so the region hands out the lowest free one, which also keeps addresses stable run to run.
``patches`` applies this to every network interface moto creates; ``ec2_rules`` uses it to check
addresses a learner asks for.
"""

from __future__ import annotations

import ipaddress
from typing import Any


def addresses_in_use(backend: Any, subnet: Any) -> set[str]:
    """Private IPv4 addresses taken in ``subnet``: by network interfaces and by instances."""
    used: set[str] = set(getattr(subnet, "_subnet_ips", {}))
    for eni in backend.enis.values():
        if getattr(eni.subnet, "id", None) != subnet.id:
            continue
        if eni.private_ip_address:
            used.add(str(eni.private_ip_address))
        for item in eni.private_ip_addresses or []:
            if isinstance(item, dict) and item.get("PrivateIpAddress"):
                used.add(str(item["PrivateIpAddress"]))
    return used


def next_free_address(backend: Any, subnet: Any) -> str | None:
    """The lowest address of ``subnet`` that is neither reserved nor in use; None when it is full.

    AWS reserves the network address, base+1 (router), base+2 (DNS), base+3 (future use) and the
    last address, so the first usable one is base+4 (10.0.1.4 in 10.0.1.0/24).
    """
    network = subnet.cidr
    if not isinstance(network, ipaddress.IPv4Network):
        return None
    used = addresses_in_use(backend, subnet)
    for offset in range(4, network.num_addresses - 1):
        candidate = str(network.network_address + offset)
        if candidate not in used:
            return candidate
    return None
