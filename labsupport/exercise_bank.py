"""The workbook's predict-then-check exercises, chapter by chapter.

Each ``solve`` function computes the answer now, from the live lab or from the lab's own
functions, so an exercise can never drift from what the system really does.
"""

from __future__ import annotations

from .exercises import exercise
from .lab import current

# -- 00 start here -----------------------------------------------------------------------------


@exercise(
    "00-default-vpcs",
    "How many VPCs in this region are marked as the default VPC?",
    lambda n: f"There is {n} default VPC: AWS creates one (172.31.0.0/16) in every region of a new account.",
)
def _default_vpcs() -> int:
    ec2 = current().client("ec2")
    return len(ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"])


# -- 01 CIDR planning --------------------------------------------------------------------------
# Self-contained: chapter 01 needs no region, only the address math in labsupport.cidr. Imports
# stay inside the functions so this section can be moved or extended without touching the top.


def _prefix_same(predicted: object, truth: object) -> bool:
    # Learners write a prefix as 25, "25" or "/25"; all mean the same block size.
    text = str(predicted).strip().lstrip("/")
    return text.isascii() and text.isdigit() and int(text) == truth


def _cidr_same(predicted: object, truth: object) -> bool:
    # Compare the text exactly: a lenient parse would accept the misaligned 10.0.3.0/23 itself.
    return str(predicted).strip() == str(truth)


def _explain_usable_24(usable: int) -> str:
    from . import cidr

    counts = cidr.address_counts("10.0.0.0/24")
    return (
        f"A /24 has {counts.total} addresses (2^(32-24)). AWS keeps {len(counts.reserved)} in every subnet "
        f"(network, VPC router, Amazon DNS, future use, broadcast), so {usable} are usable. "
        f"{counts.total - 2} is the answer outside AWS, where only network and broadcast are taken."
    )


@exercise("01-usable-24", "How many addresses of a /24 subnet can your tasks use in AWS?", _explain_usable_24)
def _usable_24() -> int:
    from . import cidr

    return cidr.address_counts("10.0.0.0/24").usable


def _explain_canonical_23(stored: str) -> str:
    from . import cidr

    where = cidr.alignment("10.0.3.0/23")
    return (
        f"A /23 starts every {where.block_size} addresses, and 10.0.3.0 is {where.offset} past "
        f"{where.below.network_address}: "
        f"AWS clears the host bits and stores {stored} without a word. "
        f"If you meant the block starting after it, write {where.above}."
    )


@exercise(
    "01-canonical-23",
    "You ask AWS for a subnet 10.0.3.0/23. Which block does AWS store?",
    _explain_canonical_23,
    same=_cidr_same,
)
def _canonical_23() -> str:
    from . import cidr

    return str(cidr.alignment("10.0.3.0/23").below)


def _explain_surge_prefix(prefix: int) -> str:
    from . import cidr

    counts = cidr.address_counts(f"10.0.0.0/{prefix}")
    smaller = cidr.address_counts(f"10.0.0.0/{prefix + 1}")
    return (
        f"Blue/green runs both versions at once, so 50 tasks need 100 addresses (one per awsvpc task). "
        f"A /{prefix + 1} has only {smaller.usable} usable; a /{prefix} has {counts.total} addresses, "
        f"{counts.usable} usable: size_for_hosts(50, surge_factor=2) is {prefix}."
    )


@exercise(
    "01-surge-prefix",
    "Smallest subnet prefix (a number like 24) for 50 Fargate tasks, deployed blue/green?",
    _explain_surge_prefix,
    same=_prefix_same,
)
def _surge_prefix() -> int:
    from . import cidr

    return cidr.size_for_hosts(50, surge_factor=2)


def _explain_overlap(relation: str) -> str:
    return (
        f"The lab VPC 10.0.0.0/20 (10.0.0.0 - 10.0.15.255) is {relation} 10.0.0.0/16 (10.0.0.0 - 10.0.255.255): "
        "every address of the /20 is also in the /16, so AWS would refuse to peer the two VPCs."
    )


@exercise(
    "01-overlap",
    "How does the lab VPC 10.0.0.0/20 relate to a colleague's VPC 10.0.0.0/16: "
    "equal, contains, inside, partial or disjoint?",
    _explain_overlap,
)
def _overlap() -> str:
    from . import cidr

    return cidr.classify_overlap("10.0.0.0/20", "10.0.0.0/16")
