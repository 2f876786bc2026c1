"""CIDR planning with AWS's numbers, built only on the standard library :mod:`ipaddress`.

Everything here is plain data in, small frozen dataclasses out, so notebooks can ``print()`` a
result and tests can compare it. Learner mistakes raise :class:`~labsupport.errors.LabError` with
the fix in the message.

AWS facts used throughout (see ``aws-behaviour.md`` §1 in the project's shared reference):

* VPC and subnet IPv4 blocks are **/16 to /28**; a subnet lies within a VPC block and may equal it.
* AWS keeps **5 addresses per subnet**: base+0 (network), base+1 (VPC router), base+2 (Amazon DNS),
  base+3 (future use) and the last one (broadcast), so usable = 2^(32-n) - 5 (a /24 has 251).
* The API **silently canonicalises** host bits (``100.68.0.18/18`` is stored as ``100.68.0.0/18``);
  :func:`parse` is strict by default so the lab can *show* that instead of hiding it.
* IPv6 subnets are always a **/64** (Amazon-provided VPC IPv6 blocks are /56).

Quick tour (each result prints as readable text)::

    print(address_counts("10.0.0.0/24"))   # 256 total, the 5 reserved by role, 251 usable
    print(plan_layout("10.0.0.0/20", ["us-west-2a", "us-west-2b"], [("public", 24), ("app-private", 24)]))
    print(bits("10.0.0.0/28").dotted)      # 00001010.00000000.00000000.0000|0000
"""

from __future__ import annotations

import ipaddress
import math
import string
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Literal

from labsupport.errors import LabError

__all__ = [
    "AWS_IPV6_SUBNET_PREFIX",
    "AWS_IPV6_VPC_PREFIX",
    "AWS_MAX_PREFIX",
    "AWS_MIN_PREFIX",
    "AWS_RESERVED_PER_SUBNET",
    "DEFAULT_NAME_PATTERN",
    "DEFAULT_PROJECT",
    "WELL_KNOWN_RANGES",
    "AddressCounts",
    "Alignment",
    "Bit",
    "BitStrip",
    "CidrCheck",
    "Layout",
    "OverlapFinding",
    "OverlapReport",
    "PlannedSubnet",
    "RangeReport",
    "ReservedAddress",
    "SplitNode",
    "SplitTree",
    "TierSpec",
    "WellKnownRange",
    "address_counts",
    "alignment",
    "bits",
    "check_subnet_cidr",
    "check_vpc_cidr",
    "cidrsubnets",
    "classify_overlap",
    "classify_range",
    "free_blocks",
    "next_aligned",
    "overlaps",
    "parse",
    "plan_layout",
    "size_for_hosts",
    "split",
    "split_tree",
]

# --------------------------------------------------------------------------------------------
# AWS numbers
# --------------------------------------------------------------------------------------------

AWS_MIN_PREFIX = 16
"""Largest AWS VPC/subnet block: /16 (65,536 addresses). "Min" because it is the smallest prefix."""
AWS_MAX_PREFIX = 28
"""Smallest AWS VPC/subnet block: /28 (16 addresses, 11 usable)."""
AWS_RESERVED_PER_SUBNET = 5
"""Addresses AWS keeps in every subnet (network, router, DNS, future use, broadcast)."""
AWS_IPV6_SUBNET_PREFIX = 64
"""Every IPv6 subnet in a VPC is exactly a /64."""
AWS_IPV6_VPC_PREFIX = 56
"""Amazon-provided IPv6 VPC blocks are a /56 (256 subnets of /64)."""

DEFAULT_PROJECT = "my-workspace"
"""Project prefix used by the seed notes (``my-workspace-vpc``, ``my-workspace-subnet-...``)."""
DEFAULT_NAME_PATTERN = "{project}-subnet-{tier}{n}-{az_letter}"
"""Subnet Name pattern from the seed: ``my-workspace-subnet-app-private1-a``.

Fields: ``project``, ``tier``, ``n`` (1-based AZ position, as the console's "VPC and more" numbers
subnets), ``az`` (full AZ name), ``az_letter`` (its last letter) and ``index`` (1-based position in
the whole plan).
"""

# Guard rails so a typo such as split("10.0.0.0/8", 28) cannot build millions of objects in a
# notebook kernel; 4,096 is a /16 cut into /28s, the biggest split AWS itself allows.
_MAX_BLOCKS = 4096

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
CidrLike = str | ipaddress.IPv4Network | ipaddress.IPv6Network

_CIDR_FORM = "a.b.c.d/n: four numbers 0-255 separated by dots, a slash, and a prefix length 0-32 (e.g. 10.0.0.0/16)"


def _size_text(prefix: int) -> str:
    """'/28 (16 addresses, 11 usable)': the phrase the lab uses for every block size."""
    total = 2 ** (32 - prefix)
    usable = total - AWS_RESERVED_PER_SUBNET
    if usable > 0:
        return f"/{prefix} ({total:,} addresses, {usable:,} usable)"
    return f"/{prefix} ({total:,} addresses)"


# --------------------------------------------------------------------------------------------
# 1. Parsing
# --------------------------------------------------------------------------------------------


def _is_number(text: str) -> bool:
    # ASCII only: str.isdigit() also accepts characters such as "²" that int() then rejects.
    return text.isascii() and text.isdigit()


def _neighbours(net: Network) -> tuple[Network, Network | None]:
    """The aligned block that holds ``net``'s start, and the next aligned block (None at the end)."""
    above_start = int(net.network_address) + net.num_addresses
    if above_start >= 2**net.max_prefixlen:
        return net, None
    cls = ipaddress.IPv4Network if net.version == 4 else ipaddress.IPv6Network
    return net, cls((above_start, net.prefixlen))


def _host_bits_error(text: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address, net: Network) -> LabError:
    below, above = _neighbours(net)
    offset = int(address) - int(net.network_address)
    starts = f"{below} and {above}" if above is not None else f"{below}"
    problem = (
        f"'{text}' has host bits set: a /{net.prefixlen} block must start on a multiple of "
        f"{net.num_addresses:,} addresses, and {address} is {offset:,} past the start {net.network_address}. "
        f"AWS would silently store it as {net}."
    )
    fix = (
        f"Use the canonical network {net}"
        + (f", or the next legal start {above}" if above is not None else "")
        + f" (the nearest legal starts for a /{net.prefixlen}: {starts}); "
        "or call parse(..., strict=False) to canonicalise the way AWS does."
    )
    return LabError(problem, fix)


def _parse_ipv6(text: str, addr_text: str, prefix_text: str, strict: bool) -> ipaddress.IPv6Network:
    if not _is_number(prefix_text) or not 0 <= int(prefix_text) <= 128:
        raise LabError(
            f"'{text}' has prefix '/{prefix_text}', but an IPv6 prefix length is a number from 0 to 128.",
            "Write it like 2001:db8::/56 (an Amazon-provided VPC block) or 2001:db8::/64 (a subnet).",
        )
    try:
        address = ipaddress.IPv6Address(addr_text)
    except ValueError as err:
        raise LabError(
            f"'{text}' is not a valid IPv6 CIDR ({err}).",
            "Write eight groups of hex digits separated by ':' ('::' may stand for a run of zero "
            "groups), then /n, e.g. 2001:db8::/56.",
        ) from None
    net = ipaddress.IPv6Network((address, int(prefix_text)), strict=False)
    if strict and net.network_address != address:
        raise _host_bits_error(text, address, net)
    return net


def parse(cidr: CidrLike, *, strict: bool = True) -> Network:
    """Parse CIDR text such as ``"10.0.0.0/16"`` into an :mod:`ipaddress` network, explaining errors.

    * Malformed text (``"10.0.0/24"``, ``"300.0.0.0/16"``, no ``/n``) raises :class:`LabError` naming
      the expected form ``a.b.c.d/n`` and what exactly is wrong.
    * Host bits set (``"10.0.4.5/24"``): with ``strict=True`` (the default) raises a LabError naming
      the canonical network and the two nearest legal starts (``10.0.4.0/24`` and ``10.0.5.0/24``);
      with ``strict=False`` returns the canonical network, which is what AWS silently stores
      (``100.68.0.18/18`` becomes ``100.68.0.0/18``).
    * IPv6 text is accepted and returned as :class:`ipaddress.IPv6Network` for display; the AWS
      subnet rules elsewhere in this module are IPv4 (IPv6 subnets are always /64).

    Network objects are returned unchanged (they are canonical by construction).
    """
    if isinstance(cidr, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return cidr
    if not isinstance(cidr, str):
        raise LabError(
            f"Expected CIDR text like '10.0.0.0/16', got a {type(cidr).__name__}: {cidr!r}.",
            f"Pass the block as a string in the form {_CIDR_FORM}.",
        )
    text = cidr.strip()
    if not text:
        raise LabError("The CIDR is empty.", f"Write it in the form {_CIDR_FORM}.")
    if "/" not in text:
        raise LabError(
            f"'{text}' has no '/n' prefix length, so it does not say how big the block is "
            "(the EC2 API rejects it: InvalidVpc.Range for a VPC).",
            f"Add the prefix length: {text}/16 is 65,536 addresses, {text}/24 is 256. Form: {_CIDR_FORM}.",
        )
    if text.count("/") > 1:
        raise LabError(f"'{text}' has more than one '/'.", f"Write exactly one slash, in the form {_CIDR_FORM}.")
    addr_text, prefix_text = (part.strip() for part in text.split("/"))
    if ":" in addr_text:
        return _parse_ipv6(text, addr_text, prefix_text, strict)

    if not _is_number(prefix_text) or not 0 <= int(prefix_text) <= 32:
        raise LabError(
            f"'{text}' has prefix '/{prefix_text}', but an IPv4 prefix length is a whole number from "
            "0 to 32 (AWS VPCs and subnets use /16 to /28).",
            f"Write it in the form {_CIDR_FORM}.",
        )
    prefix = int(prefix_text)
    octets = addr_text.split(".")
    if len(octets) != 4:
        fix = f"Write all four numbers, in the form {_CIDR_FORM}."
        if 0 < len(octets) < 4 and all(_is_number(o) for o in octets):
            padded = ".".join(octets + ["0"] * (4 - len(octets)))
            fix = f"Write all four numbers, e.g. {padded}/{prefix}. Form: {_CIDR_FORM}."
        raise LabError(
            f"'{text}' has {len(octets)} number(s) before the '/', but an IPv4 address needs exactly 4 (a.b.c.d).",
            fix,
        )
    for octet in octets:
        if not _is_number(octet):
            raise LabError(
                f"'{text}': '{octet}' is not a number; each of the four parts is a decimal number 0-255.",
                f"Write it in the form {_CIDR_FORM}.",
            )
        if int(octet) > 255:
            raise LabError(
                f"'{text}': octet {octet} is larger than 255; each of the four numbers is one byte (0-255).",
                f"Use numbers from 0 to 255, in the form {_CIDR_FORM}.",
            )
        if len(octet) > 1 and octet.startswith("0"):
            raise LabError(
                f"'{text}': octet '{octet}' has a leading zero, which is ambiguous (some tools read it as octal).",
                f"Write it without leading zeros ({int(octet)}), in the form {_CIDR_FORM}.",
            )
    address = ipaddress.IPv4Address(addr_text)
    net = ipaddress.IPv4Network((address, prefix), strict=False)
    if strict and net.network_address != address:
        raise _host_bits_error(text, address, net)
    return net


def _ipv4(cidr: CidrLike, *, strict: bool = True, purpose: str = "this check") -> ipaddress.IPv4Network:
    """Parse and insist on IPv4, explaining that AWS's subnet arithmetic here is IPv4."""
    net = parse(cidr, strict=strict)
    if isinstance(net, ipaddress.IPv6Network):
        raise LabError(
            f"{net} is an IPv6 block, but {purpose} uses AWS's IPv4 rules (/16 to /28, 5 reserved addresses).",
            "Use an IPv4 CIDR such as 10.0.0.0/16. In AWS, IPv6 needs no planning of sizes: a VPC gets "
            f"a /{AWS_IPV6_VPC_PREFIX} and every IPv6 subnet is a fixed /{AWS_IPV6_SUBNET_PREFIX}.",
        )
    return net


def _check_int(value: object, name: str, lo: int, hi: int, fix: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise LabError(f"{name} must be a whole number, got {value!r}.", fix)
    if not lo <= value <= hi:
        raise LabError(f"{name} {value} is out of range ({lo} to {hi}).", fix)
    return value


# --------------------------------------------------------------------------------------------
# 2. Address counts and the five reserved addresses
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReservedAddress:
    """One of the five addresses AWS keeps in every subnet, with its role."""

    label: str  # "base+0" ... "base+3", "last"
    address: ipaddress.IPv4Address
    role: str

    def __str__(self) -> str:
        return f"{self.label:<7} {self.address!s:<15} {self.role}"


@dataclass(frozen=True)
class AddressCounts:
    """Total, reserved and usable addresses of one block, counted the AWS way."""

    network: ipaddress.IPv4Network
    total: int
    reserved: tuple[ReservedAddress, ...]
    usable: int
    first_usable: ipaddress.IPv4Address
    last_usable: ipaddress.IPv4Address

    @property
    def prefix(self) -> int:
        return self.network.prefixlen

    def table(self) -> str:
        """Multi-line text: the counts, then the five reserved addresses by role."""
        lines = [
            f"{self.network}: {self.total:,} addresses (2^(32-{self.prefix})), "
            f"{len(self.reserved)} reserved by AWS, {self.usable:,} usable "
            f"({self.first_usable} - {self.last_usable})",
        ]
        lines += [f"  {r}" for r in self.reserved]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def address_counts(cidr: CidrLike) -> AddressCounts:
    """Count a block's addresses with AWS's five reservations named by role.

    total = 2^(32-n); reserved = base+0 (network address), base+1 (VPC router), base+2 (Amazon DNS),
    base+3 (reserved for future use) and the last address (broadcast: VPCs don't support broadcast,
    AWS reserves it anyway); usable = total - 5. A /24 has 251 usable addresses, a /28 has 11.
    Blocks smaller than /28 raise LabError because AWS does not allow them.
    """
    net = _ipv4(cidr, purpose="address_counts")
    if net.prefixlen > AWS_MAX_PREFIX:
        raise _too_small_error(net, "block")
    base = net.network_address
    reserved = (
        ReservedAddress("base+0", base, "network address"),
        ReservedAddress("base+1", base + 1, "VPC router"),
        ReservedAddress(
            "base+2", base + 2, "Amazon DNS (the resolver sits at the VPC base +2; AWS reserves base+2 in every subnet)"
        ),
        ReservedAddress("base+3", base + 3, "reserved by AWS for future use"),
        ReservedAddress(
            "last", net.broadcast_address, "broadcast (VPCs don't support broadcast, AWS reserves it anyway)"
        ),
    )
    return AddressCounts(
        network=net,
        total=net.num_addresses,
        reserved=reserved,
        usable=net.num_addresses - AWS_RESERVED_PER_SUBNET,
        first_usable=base + 4,
        last_usable=net.broadcast_address - 1,
    )


# --------------------------------------------------------------------------------------------
# 3. AWS rules for VPC and subnet blocks
# --------------------------------------------------------------------------------------------


def _too_small_error(net: ipaddress.IPv4Network, role: str, aws_code: str | None = None) -> LabError:
    said = f" AWS answers {aws_code}: \"The CIDR '{net}' is invalid.\"" if aws_code else ""
    bigger = ipaddress.ip_network((net.network_address, AWS_MAX_PREFIX), strict=False)
    return LabError(
        f"{net}: a /{net.prefixlen} is too small for AWS: the smallest {role} is {_size_text(AWS_MAX_PREFIX)}.{said}",
        f"Use /{AWS_MAX_PREFIX} or a shorter prefix (bigger block), e.g. {bigger}.",
    )


def _too_big_error(net: ipaddress.IPv4Network, role: str, aws_code: str | None = None) -> LabError:
    said = f" AWS answers {aws_code}: \"The CIDR '{net}' is invalid.\"" if aws_code else ""
    smaller = ipaddress.ip_network((net.network_address, AWS_MIN_PREFIX))
    more = " or add secondary CIDR blocks to the VPC" if role == "VPC" else " or split it into several subnets"
    return LabError(
        f"{net}: a /{net.prefixlen} is too big for AWS: the largest {role} is {_size_text(AWS_MIN_PREFIX)}.{said}",
        f"Use /{AWS_MIN_PREFIX} or a longer prefix (smaller block), e.g. {smaller}{more}.",
    )


@dataclass(frozen=True)
class CidrCheck:
    """A block that passed AWS's rules, with what AWS will store and anything worth a warning."""

    given: str
    network: Network
    role: Literal["VPC", "subnet"]
    vpc: tuple[Network, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return True

    def __str__(self) -> str:
        net = self.network
        if isinstance(net, ipaddress.IPv6Network):
            size = f"an IPv6 /{net.prefixlen}"
        elif self.role == "subnet":
            size = f"{net.num_addresses:,} addresses, {net.num_addresses - AWS_RESERVED_PER_SUBNET:,} usable"
        else:
            size = f"{net.num_addresses:,} addresses"
        where = f" inside VPC {', '.join(map(str, self.vpc))}" if self.vpc else ""
        lines = [f"OK: {net} is a valid {self.role} CIDR{where} ({size})."]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _canonical_warning(given: object, net: Network) -> list[str]:
    if isinstance(given, str):
        address = ipaddress.ip_address(given.strip().split("/")[0].strip())
        if address != net.network_address:
            return [f"'{given.strip()}' has host bits set; AWS silently stores it as {net}."]
    return []


def check_vpc_cidr(cidr: CidrLike) -> CidrCheck:
    """Check a VPC CIDR block against AWS's rules; return a :class:`CidrCheck` or raise LabError.

    Rules: IPv4 /16 to /28 (AWS: ``InvalidVpc.Range``). Host bits are canonicalised the way AWS
    does it, with a warning. Well-known clash ranges (Docker's 172.17.0.0/16, the default VPC's
    172.31.0.0/16, home routers' 192.168.0.0/16) and public ranges produce warnings, not errors,
    because AWS accepts them. IPv6: Amazon-provided VPC blocks are /56.
    """
    net = parse(cidr, strict=False)
    if isinstance(net, ipaddress.IPv6Network):
        if net.prefixlen != AWS_IPV6_VPC_PREFIX:
            raise LabError(
                f"{net}: an IPv6 VPC block here is a /{AWS_IPV6_VPC_PREFIX}, not a /{net.prefixlen} "
                f"(Amazon provides /{AWS_IPV6_VPC_PREFIX} blocks; every IPv6 subnet is a /{AWS_IPV6_SUBNET_PREFIX}).",
                f"Use a /{AWS_IPV6_VPC_PREFIX}, e.g. {net.supernet(new_prefix=AWS_IPV6_VPC_PREFIX)}."
                if net.prefixlen > AWS_IPV6_VPC_PREFIX
                else f"Use a /{AWS_IPV6_VPC_PREFIX}, e.g. {next(net.subnets(new_prefix=AWS_IPV6_VPC_PREFIX))}.",
            )
        return CidrCheck(str(cidr), net, "VPC", warnings=tuple(_canonical_warning(cidr, net)))
    if net.prefixlen < AWS_MIN_PREFIX:
        raise _too_big_error(net, "VPC", "InvalidVpc.Range")
    if net.prefixlen > AWS_MAX_PREFIX:
        raise _too_small_error(net, "VPC", "InvalidVpc.Range")
    warnings = _canonical_warning(cidr, net) + list(classify_range(net).warnings)
    return CidrCheck(str(cidr), net, "VPC", warnings=tuple(warnings))


def _as_blocks(value: CidrLike | Iterable[CidrLike]) -> list[CidrLike]:
    if isinstance(value, (str, ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return [value]
    if isinstance(value, Mapping):
        return list(value.values())
    return list(value)


def check_subnet_cidr(
    subnet: CidrLike,
    vpc: CidrLike | Iterable[CidrLike],
    *,
    existing: CidrLike | Iterable[CidrLike] = (),
) -> CidrCheck:
    """Check a subnet block against AWS's rules; return a :class:`CidrCheck` or raise LabError.

    ``vpc`` is the VPC's CIDR, or a list of them (primary plus secondary blocks). ``existing`` are
    subnets already in the VPC (a list or a name -> CIDR mapping). Rules, with AWS's error codes:

    * IPv4 subnet /16 to /28 (``InvalidSubnet.Range``); IPv6 subnets are exactly /64.
    * it must lie within one of the VPC's blocks and may equal it (``InvalidSubnet.Range``);
    * it must not overlap an existing subnet (``InvalidSubnet.Conflict``).

    Host bits are canonicalised with a warning, as AWS does. The fix names a free block that fits.
    """
    vpc_blocks = [check_vpc_cidr(v).network for v in _as_blocks(vpc)]
    if not vpc_blocks:
        raise LabError(
            "No VPC CIDR was given to check the subnet against.", "Pass the VPC's CIDR, e.g. vpc='10.0.0.0/20'."
        )
    net = parse(subnet, strict=False)
    warnings = _canonical_warning(subnet, net)
    used = [parse(e, strict=False) for e in _as_blocks(existing)]
    same_family = [b for b in vpc_blocks if b.version == net.version]

    if isinstance(net, ipaddress.IPv6Network):
        if net.prefixlen != AWS_IPV6_SUBNET_PREFIX:
            raise LabError(
                f"{net}: AWS IPv6 subnets are always a /{AWS_IPV6_SUBNET_PREFIX}; a /{net.prefixlen} is not allowed.",
                f"Use a /{AWS_IPV6_SUBNET_PREFIX}, e.g. {ipaddress.IPv6Network((net.network_address, 64), False)}.",
            )
    else:
        if net.prefixlen < AWS_MIN_PREFIX:
            raise _too_big_error(net, "subnet", "InvalidSubnet.Range")
        if net.prefixlen > AWS_MAX_PREFIX:
            raise _too_small_error(net, "subnet", "InvalidSubnet.Range")

    home = [b for b in same_family if net.subnet_of(b)]  # type: ignore[arg-type]
    if not home:
        vpc_text = ", ".join(f"{b} ({b.network_address} - {b.broadcast_address})" for b in vpc_blocks)
        if any(b.subnet_of(net) and b != net for b in same_family):  # type: ignore[arg-type]
            biggest = min(b.prefixlen for b in same_family)
            why = f"it is bigger than the VPC (a /{net.prefixlen} cannot fit in a /{biggest})"
        elif not same_family:
            why = f"the VPC has no IPv{net.version} block"
        else:
            why = "it lies outside the VPC's addresses"
        suggestion = _suggest_free(same_family, net.prefixlen, used)
        fix = f"Pick a /{net.prefixlen} inside the VPC" + (f", e.g. {suggestion}." if suggestion else ".")
        if same_family and net.prefixlen < min(b.prefixlen for b in same_family):
            limit = min(b.prefixlen for b in same_family)
            fix = f"Make the subnet /{limit} or smaller (a longer prefix) and place it inside the VPC."
        raise LabError(
            f"Subnet {net} does not fit in VPC {vpc_text}: {why}. AWS answers InvalidSubnet.Range: "
            f"\"The CIDR '{net}' is invalid.\"",
            fix,
        )
    for other in used:
        if other.version == net.version and net.overlaps(other):  # type: ignore[arg-type]
            suggestion = _suggest_free(home, net.prefixlen, used)
            raise LabError(
                f"Subnet {net} overlaps the existing subnet {other}. AWS answers InvalidSubnet.Conflict: "
                f"\"The CIDR '{net}' conflicts with another subnet\".",
                "Give the new subnet a free block"
                + (
                    f", e.g. {suggestion}."
                    if suggestion
                    else "; none of that size is left, so use a smaller prefix or add a secondary CIDR."
                ),
            )
    return CidrCheck(str(subnet), net, "subnet", vpc=tuple(vpc_blocks), warnings=tuple(warnings))


def _suggest_free(blocks: Sequence[Network], prefix: int, used: Sequence[Network]) -> Network | None:
    """First aligned block of ``prefix`` inside ``blocks`` that overlaps nothing in ``used``."""
    for block in blocks:
        if prefix < block.prefixlen:
            continue
        size = 2 ** (block.max_prefixlen - prefix)
        end = int(block.broadcast_address)
        cursor = int(block.network_address)
        spans = sorted(
            (int(u.network_address), int(u.broadcast_address))
            for u in used
            if u.version == block.version and u.overlaps(block)  # type: ignore[arg-type]
        )
        for lo, hi in spans:
            if cursor + size - 1 < lo:
                break
            if hi >= cursor:
                cursor = -(-(hi + 1) // size) * size  # next aligned start after this used block
        if cursor + size - 1 <= end:
            cls = ipaddress.IPv4Network if block.version == 4 else ipaddress.IPv6Network
            return cls((cursor, prefix))
    return None


# --------------------------------------------------------------------------------------------
# 4. Alignment
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alignment:
    """Whether a base address is a legal start for its prefix, and the nearest legal starts.

    ``below`` is the aligned block that holds the address (the block itself when aligned, which
    is what AWS stores); ``above`` is the next aligned block (None at the very end of the space).
    """

    given: str
    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    prefix: int
    block_size: int
    aligned: bool
    offset: int
    below: Network
    above: Network | None

    def __str__(self) -> str:
        nxt = f"{self.above}" if self.above is not None else "none (end of the address space)"
        if self.aligned:
            return (
                f"{self.given} is aligned: {self.address} is a multiple of {self.block_size:,} "
                f"(the size of a /{self.prefix}). Next block of that size: {nxt}."
            )
        return (
            f"{self.given} is not aligned: a /{self.prefix} starts every {self.block_size:,} addresses and "
            f"{self.address} is {self.offset:,} past {self.below.network_address}. "
            f"Nearest legal starts: {self.below} (below) and {nxt} (above)."
        )


def alignment(cidr_text: CidrLike) -> Alignment:
    """Explain whether ``cidr_text``'s base address is aligned for its prefix.

    ``alignment("192.168.1.0/22")`` says it is not (a /22 starts every 1,024 addresses) and names
    192.168.0.0/22 below and 192.168.4.0/22 above. Unlike :func:`parse` this never raises for host
    bits, because showing them is its job.
    """
    net = parse(cidr_text, strict=False)
    if isinstance(cidr_text, str):
        address = ipaddress.ip_address(cidr_text.strip().split("/")[0].strip())
        given = cidr_text.strip()
    else:
        address = net.network_address
        given = str(net)
    below, above = _neighbours(net)
    offset = int(address) - int(below.network_address)
    return Alignment(given, address, net.prefixlen, net.num_addresses, offset == 0, offset, below, above)


def next_aligned(
    after: str | ipaddress.IPv4Address | ipaddress.IPv4Network,
    prefix: int,
    *,
    within: CidrLike | None = None,
) -> ipaddress.IPv4Network:
    """The first block of size ``/prefix`` that starts at or after ``after``.

    ``after`` is an address (``"10.0.1.7"``: the block may start at that address if aligned) or a
    CIDR block (``"10.0.1.0/24"``: the block starts after the block's last address). This is how a
    planner packs blocks: ``next_aligned("10.0.1.0/24", 22)`` is ``10.0.4.0/22`` — the alignment
    hole 10.0.2.0-10.0.3.255 is what Terraform's ``cidrsubnets`` leaves when sizes are mixed.
    With ``within``, raise LabError if the block does not fit inside that block.
    """
    _check_int(prefix, "prefix", 0, 32, "Use an IPv4 prefix length from 0 to 32 (AWS uses 16 to 28).")
    if isinstance(after, ipaddress.IPv4Network) or (isinstance(after, str) and "/" in after):
        block = _ipv4(after, strict=False, purpose="next_aligned")
        start = int(block.broadcast_address) + 1
    else:
        try:
            start = int(ipaddress.IPv4Address(after.strip() if isinstance(after, str) else after))
        except ValueError:
            raise LabError(
                f"{after!r} is neither an IPv4 address (a.b.c.d) nor a CIDR block (a.b.c.d/n).",
                "Pass an address like '10.0.1.7' or a block like '10.0.1.0/24'.",
            ) from None
    size = 2 ** (32 - prefix)
    aligned = -(-start // size) * size
    if aligned + size - 1 > 2**32 - 1:
        raise LabError(
            f"No /{prefix} block starts at or after {ipaddress.IPv4Address(min(start, 2**32 - 1))}: "
            "it would run past 255.255.255.255.",
            "Start earlier in the address space or use a smaller block (a longer prefix).",
        )
    result = ipaddress.IPv4Network((aligned, prefix))
    if within is not None:
        outer = _ipv4(within, strict=False, purpose="next_aligned")
        if not result.subnet_of(outer):
            raise LabError(
                f"The next /{prefix} after that point is {result}, which is outside {outer}: no room is left.",
                f"Use a smaller block (a longer prefix than /{prefix}) or a bigger enclosing block than {outer}.",
            )
    return result


# --------------------------------------------------------------------------------------------
# 5. Splitting
# --------------------------------------------------------------------------------------------


def split(cidr: CidrLike, new_prefix: int) -> tuple[ipaddress.IPv4Network, ...]:
    """Cut a block into equal blocks of ``/new_prefix`` (2^(new_prefix - n) of them), in address order.

    ``split("10.0.0.0/20", 22)`` gives four /22s. Raises LabError if ``new_prefix`` is shorter than
    the block's (a split makes blocks smaller), longer than /28 (AWS's smallest subnet), or would
    produce more than 4,096 blocks.
    """
    net = _ipv4(cidr, purpose="split")
    _check_int(new_prefix, "new_prefix", 0, 32, f"Use a prefix from /{net.prefixlen} to /{AWS_MAX_PREFIX}.")
    if new_prefix < net.prefixlen:
        raise LabError(
            f"Cannot split {net} into /{new_prefix} blocks: a /{new_prefix} is bigger than the block itself. "
            "Splitting makes the prefix longer (the blocks smaller).",
            f"Use a new prefix from /{net.prefixlen} to /{AWS_MAX_PREFIX}, "
            f"e.g. split('{net}', {min(net.prefixlen + 1, AWS_MAX_PREFIX)}).",
        )
    if new_prefix > AWS_MAX_PREFIX:
        raise LabError(
            f"A /{new_prefix} is too small for AWS: the smallest subnet is {_size_text(AWS_MAX_PREFIX)}.",
            f"Split into /{AWS_MAX_PREFIX} or bigger blocks (a prefix of {AWS_MAX_PREFIX} or less).",
        )
    count = 2 ** (new_prefix - net.prefixlen)
    if count > _MAX_BLOCKS:
        raise LabError(
            f"Splitting {net} into /{new_prefix} blocks makes {count:,} blocks, "
            f"more than the {_MAX_BLOCKS:,} this lab lists.",
            f"Split a smaller block, or use a shorter new prefix (at most /{net.prefixlen + 12}).",
        )
    return tuple(net.subnets(new_prefix=new_prefix))


def cidrsubnets(prefix: CidrLike, *newbits: int) -> tuple[ipaddress.IPv4Network, ...]:
    """Terraform's ``cidrsubnets(prefix, newbits...)``, for comparing the lab's plans with IaC output.

    Blocks are allocated in the order given, each aligned to its own size, so mixed sizes leave
    holes: ``cidrsubnets("10.1.0.0/16", 4, 4, 8, 4)`` gives 10.1.0.0/20, 10.1.16.0/20,
    10.1.32.0/24 and 10.1.48.0/20 (10.1.33.0-10.1.47.255 is skipped). When the blocks don't fit
    the LabError says whether sorting them largest-first (smallest newbits first) would.
    """
    net = _ipv4(prefix, purpose="cidrsubnets")
    result: list[ipaddress.IPv4Network] = []
    cursor = int(net.network_address)
    end = int(net.broadcast_address)
    for nb in newbits:
        _check_int(
            nb,
            "newbits",
            1,
            32 - net.prefixlen,
            f"Each newbits value adds 1 to {32 - net.prefixlen} bits to /{net.prefixlen}.",
        )
        size = 2 ** (32 - net.prefixlen - nb)
        start = -(-cursor // size) * size
        if start + size - 1 > end:
            sorted_fits = sum(2 ** (32 - net.prefixlen - b) for b in newbits) <= net.num_addresses
            fix = (
                f"Sort the sizes largest first: cidrsubnets('{net}', {', '.join(map(str, sorted(newbits)))}) fits."
                if sorted_fits
                else "Use a bigger prefix block or fewer/smaller subnets (larger newbits)."
            )
            raise LabError(
                f"Not enough remaining address space in {net} for a /{net.prefixlen + nb} "
                f"after {', '.join(map(str, result)) or 'nothing'}.",
                fix,
            )
        result.append(ipaddress.IPv4Network((start, net.prefixlen + nb)))
        cursor = start + size
    return tuple(result)


@dataclass(frozen=True)
class SplitNode:
    """One block in a split tree: its network, depth (0 = root) and allocation state.

    ``state`` is ``"allocated"`` (every address is in some allocation), ``"partial"`` (some are)
    or ``"free"`` (none are). ``owner`` names the allocation that contains the whole node, if one
    does.
    """

    network: ipaddress.IPv4Network
    depth: int
    state: Literal["allocated", "partial", "free"]
    owner: str | None = None
    children: tuple[SplitNode, ...] = ()

    @property
    def is_allocated(self) -> bool:
        return self.state == "allocated"

    @property
    def is_free(self) -> bool:
        return self.state == "free"

    def walk(self) -> Iterator[SplitNode]:
        """This node and all below it, depth first in address order."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True)
class SplitTree:
    """A block cut level by level (each level a longer prefix), for davidc-style drawings."""

    root: SplitNode
    prefixes: tuple[int, ...]  # root prefix first, then one per level

    def level(self, depth: int) -> tuple[SplitNode, ...]:
        """All nodes at ``depth`` (0 = the root), in address order."""
        return tuple(n for n in self.root.walk() if n.depth == depth)

    def nodes(self) -> tuple[SplitNode, ...]:
        return tuple(self.root.walk())

    def leaves(self) -> tuple[SplitNode, ...]:
        return self.level(len(self.prefixes) - 1)

    def table(self) -> str:
        lines = []
        for node in self.root.walk():
            owner = f" ({node.owner})" if node.owner else ""
            lines.append(f"{'  ' * node.depth}{node.network}  {node.state}{owner}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def _allocations(allocated: object) -> list[tuple[str, ipaddress.IPv4Network]]:
    if allocated is None:
        return []
    if isinstance(allocated, Layout):
        return [(s.name, s.cidr) for s in allocated.subnets]
    if isinstance(allocated, Mapping):
        return [(str(k), _ipv4(v, purpose="split_tree")) for k, v in allocated.items()]
    if isinstance(allocated, (str, ipaddress.IPv4Network)):
        allocated = [allocated]
    return [(str(n), n) for n in (_ipv4(a, purpose="split_tree") for a in allocated)]  # type: ignore[union-attr]


def split_tree(
    cidr: CidrLike,
    levels: int | Sequence[int],
    *,
    allocated: Mapping[str, CidrLike] | Iterable[CidrLike] | Layout | None = None,
) -> SplitTree:
    """Build a split tree of ``cidr``: ``levels`` is a depth (halve that many times) or a list of
    prefixes (e.g. ``[22, 24]``: cut into /22s, then each /22 into /24s).

    ``allocated`` marks blocks in use (a name -> CIDR mapping, a list of CIDRs, or a
    :class:`Layout`); each node is then ``allocated``, ``partial`` or ``free``.
    """
    net = _ipv4(cidr, purpose="split_tree")
    if isinstance(levels, int) and not isinstance(levels, bool):
        _check_int(levels, "depth", 0, 12, "Use a depth from 0 to 12 (each level halves the blocks).")
        prefixes = [net.prefixlen + i for i in range(1, levels + 1)]
    else:
        prefixes = [
            _check_int(p, "prefix", 0, 32, f"Use prefixes longer than /{net.prefixlen}, up to /{AWS_MAX_PREFIX}.")
            for p in levels
        ]
    previous = net.prefixlen
    for p in prefixes:
        if p <= previous:
            raise LabError(
                f"split_tree levels must get strictly longer: /{p} after /{previous}.",
                f"List increasing prefixes longer than /{net.prefixlen}, "
                f"e.g. [{net.prefixlen + 1}, {net.prefixlen + 2}].",
            )
        previous = p
    if prefixes and prefixes[-1] > AWS_MAX_PREFIX:
        raise LabError(
            f"The last level /{prefixes[-1]} is smaller than AWS allows: "
            f"the smallest subnet is {_size_text(AWS_MAX_PREFIX)}.",
            f"Stop at /{AWS_MAX_PREFIX} or earlier.",
        )
    if prefixes and 2 ** (prefixes[-1] - net.prefixlen) > _MAX_BLOCKS:
        raise LabError(
            f"The tree would have {2 ** (prefixes[-1] - net.prefixlen):,} leaves, "
            f"more than the {_MAX_BLOCKS:,} this lab draws.",
            f"Stop at /{net.prefixlen + 12} or earlier.",
        )
    allocs = _allocations(allocated)

    def build(block: ipaddress.IPv4Network, depth: int) -> SplitNode:
        covered = 0
        owner = None
        spans = []
        for name, a in allocs:
            if block.subnet_of(a):
                owner = name
            if block.overlaps(a):
                lo = max(int(a.network_address), int(block.network_address))
                hi = min(int(a.broadcast_address), int(block.broadcast_address))
                spans.append((lo, hi))
        covered = _interval_size(_merge(spans))
        state: Literal["allocated", "partial", "free"] = (
            "allocated" if covered == block.num_addresses else "partial" if covered else "free"
        )
        children: tuple[SplitNode, ...] = ()
        if depth < len(prefixes):
            children = tuple(build(c, depth + 1) for c in block.subnets(new_prefix=prefixes[depth]))
        return SplitNode(block, depth, state, owner, children)

    return SplitTree(build(net, 0), (net.prefixlen, *prefixes))


def free_blocks(parent: CidrLike, used: Iterable[CidrLike]) -> tuple[ipaddress.IPv4Network, ...]:
    """What is left of ``parent`` once ``used`` blocks are taken: the fewest aligned CIDR blocks, in
    address order. (The stdlib has no set type; this is the ``IPSet`` difference a planner needs.)"""
    net = _ipv4(parent, purpose="free_blocks")
    remaining = [net]
    for u in used:
        block = _ipv4(u, purpose="free_blocks")
        nxt: list[ipaddress.IPv4Network] = []
        for r in remaining:
            if block.subnet_of(r):
                nxt.extend(r.address_exclude(block))
            elif r.subnet_of(block):
                continue
            else:
                nxt.append(r)
        remaining = nxt
    return tuple(ipaddress.collapse_addresses(remaining))


# --------------------------------------------------------------------------------------------
# 6. Planning
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TierSpec:
    """One subnet tier (e.g. ``public``, ``app-private``): every AZ gets one subnet of ``/prefix``."""

    name: str
    prefix: int

    @classmethod
    def for_hosts(cls, name: str, hosts: int, surge_factor: float = 1.0) -> TierSpec:
        """A tier sized by :func:`size_for_hosts` (e.g. ECS tasks with a 2x deployment surge)."""
        return cls(name, size_for_hosts(hosts, surge_factor))

    def __str__(self) -> str:
        return f"{self.name} {_size_text(self.prefix)}"


@dataclass(frozen=True)
class PlannedSubnet:
    """A subnet in a :class:`Layout`: its Name tag, tier, AZ, block and AWS-usable count."""

    name: str
    tier: str
    az: str
    cidr: ipaddress.IPv4Network
    usable: int

    @property
    def total(self) -> int:
        return self.cidr.num_addresses

    def __str__(self) -> str:
        return f"{self.name}  {self.az}  {self.cidr}  ({self.usable:,} usable)"


@dataclass(frozen=True)
class Layout:
    """A planned VPC: subnets per tier x AZ, the free blocks left over, and utilisation."""

    vpc: ipaddress.IPv4Network
    style: Literal["dense", "gapped"]
    azs: tuple[str, ...]
    tiers: tuple[TierSpec, ...]
    subnets: tuple[PlannedSubnet, ...]
    free: tuple[ipaddress.IPv4Network, ...]
    project: str = DEFAULT_PROJECT
    name_pattern: str = DEFAULT_NAME_PATTERN
    notes: tuple[str, ...] = field(default=())

    @property
    def total(self) -> int:
        return self.vpc.num_addresses

    @property
    def planned_addresses(self) -> int:
        return sum(s.total for s in self.subnets)

    @property
    def free_addresses(self) -> int:
        return sum(f.num_addresses for f in self.free)

    @property
    def usable(self) -> int:
        """Usable addresses over all planned subnets (each subnet loses AWS's 5)."""
        return sum(s.usable for s in self.subnets)

    @property
    def utilisation(self) -> float:
        """Share of the VPC's addresses taken by planned subnets (0.0 to 1.0)."""
        return self.planned_addresses / self.total

    def subnet(self, name: str) -> PlannedSubnet:
        for s in self.subnets:
            if s.name == name:
                return s
        raise LabError(
            f"No planned subnet is named {name!r}.", f"Use one of: {', '.join(s.name for s in self.subnets)}."
        )

    def by_tier(self) -> dict[str, tuple[PlannedSubnet, ...]]:
        return {t.name: tuple(s for s in self.subnets if s.tier == t.name) for t in self.tiers}

    def grid(self) -> dict[tuple[str, str], PlannedSubnet]:
        """(tier, az) -> subnet, for the AZ x tier table."""
        return {(s.tier, s.az): s for s in self.subnets}

    def table(self) -> str:
        width = max(len(s.name) for s in self.subnets)
        lines = [
            f"VPC {self.vpc} ({self.style}): {self.total:,} addresses, {len(self.subnets)} subnets, "
            f"{self.usable:,} usable, {self.free_addresses:,} free ({self.utilisation:.0%} planned)",
        ]
        for s in self.subnets:
            lines.append(f"  {s.name:<{width}}  {s.az:<12} {s.cidr!s:<18} {s.usable:>6,} usable")
        lines.append("  free: " + (", ".join(map(str, self.free)) or "none"))
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


_PATTERN_FIELDS = {"project", "tier", "n", "az", "az_letter", "index"}


def _az_letter(az: str) -> str:
    # "us-west-2a" -> "a" (the letter is what the seed's names use); a bare "a" stays "a".
    return az[-1] if az[-1].isalpha() else az


def _normalise_tiers(tiers: object) -> tuple[TierSpec, ...]:
    if isinstance(tiers, Mapping):
        items: list[object] = [TierSpec(str(k), v) for k, v in tiers.items()]
    elif isinstance(tiers, (str, bytes)) or not isinstance(tiers, Iterable):
        raise LabError(
            f"tiers must be a list of (name, prefix) pairs or TierSpec, got {tiers!r}.",
            "Write e.g. tiers=[('public', 24), ('app-private', 24)].",
        )
    else:
        items = list(tiers)
    result = []
    for item in items:
        if isinstance(item, TierSpec):
            spec = item
        elif isinstance(item, Sequence) and not isinstance(item, str) and len(item) == 2:
            spec = TierSpec(item[0], item[1])  # type: ignore[arg-type]
        else:
            raise LabError(
                f"Tier {item!r} is not a (name, prefix) pair.",
                "Write each tier like ('app-private', 24) or TierSpec('app-private', 24).",
            )
        if not isinstance(spec.name, str) or not spec.name.strip():
            raise LabError(
                f"Tier name {spec.name!r} is empty or not text.", "Name each tier, e.g. 'public' or 'app-private'."
            )
        _check_int(
            spec.prefix, f"Tier '{spec.name}' prefix", AWS_MIN_PREFIX, AWS_MAX_PREFIX,
            f"AWS subnets are /{AWS_MIN_PREFIX} to /{AWS_MAX_PREFIX}; "
            "use size_for_hosts() to pick one from a host count.",
        )  # fmt: skip
        result.append(spec)
    if not result:
        raise LabError("No tiers were given.", "Give at least one tier, e.g. tiers=[('public', 24)].")
    names = [t.name for t in result]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise LabError(f"Tier names must be unique; repeated: {', '.join(dupes)}.", "Give every tier its own name.")
    return tuple(result)


def _normalise_azs(azs: object) -> tuple[str, ...]:
    if isinstance(azs, str):
        azs = [azs]
    if not isinstance(azs, Iterable):
        raise LabError(
            f"azs must be a list of Availability Zone names, got {azs!r}.",
            "Write e.g. azs=['us-west-2a', 'us-west-2b'].",
        )
    result = tuple(azs)
    if not result:
        raise LabError(
            "No Availability Zones were given.",
            "Give at least one AZ (AWS recommends two or more; an ALB needs subnets in two), "
            "e.g. ['us-west-2a', 'us-west-2b'].",
        )
    for az in result:
        if not isinstance(az, str) or not az.strip():
            raise LabError(f"AZ name {az!r} is empty or not text.", "Use AZ names like 'us-west-2a'.")
    dupes = sorted({a for a in result if result.count(a) > 1})
    if dupes:
        raise LabError(
            f"AZs must be unique; repeated: {', '.join(dupes)}. "
            "A subnet lives in exactly one AZ, so the plan has one subnet per tier per AZ.",
            "List each AZ once.",
        )
    return result


def _names(
    tiers: Sequence[TierSpec], azs: Sequence[str], project: str, name_pattern: str
) -> dict[tuple[str, str], str]:
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(name_pattern) if f is not None}
    except ValueError as err:
        raise LabError(
            f"name_pattern {name_pattern!r} is not a valid format string ({err}).",
            f"Write fields in single braces, e.g. {DEFAULT_NAME_PATTERN!r}; "
            "double a brace ({{ or }}) to keep it as text.",
        ) from None
    unknown = fields - _PATTERN_FIELDS
    if unknown:
        raise LabError(
            f"name_pattern uses unknown field(s) {', '.join('{' + f + '}' for f in sorted(unknown))}.",
            f"Use only {', '.join('{' + f + '}' for f in sorted(_PATTERN_FIELDS))}; default: {DEFAULT_NAME_PATTERN!r}.",
        )
    names: dict[tuple[str, str], str] = {}
    index = 0
    for tier in tiers:
        for n, az in enumerate(azs, start=1):
            index += 1
            try:
                names[(tier.name, az)] = name_pattern.format(
                    project=project, tier=tier.name, n=n, az=az, az_letter=_az_letter(az), index=index
                )
            except ValueError as err:  # a format spec that does not suit the value, e.g. {tier:d}
                raise LabError(
                    f"name_pattern {name_pattern!r} cannot be filled in ({err}).",
                    f"Drop the ':' format spec or match it to the value (n and index are numbers), "
                    f"e.g. {DEFAULT_NAME_PATTERN!r}.",
                ) from None
    values = list(names.values())
    dupes = sorted({v for v in values if values.count(v) > 1})
    if dupes:
        raise LabError(
            f"name_pattern {name_pattern!r} gives several subnets the same name: {', '.join(dupes)}.",
            "Include {tier} and {n}, {az} or {az_letter} in the pattern (AZ letters must differ), "
            f"e.g. {DEFAULT_NAME_PATTERN!r}.",
        )
    return names


def plan_layout(
    vpc_cidr: CidrLike,
    azs: Sequence[str],
    tiers: Sequence[TierSpec | tuple[str, int]] | Mapping[str, int],
    *,
    style: Literal["dense", "gapped"] = "dense",
    project: str = DEFAULT_PROJECT,
    name_pattern: str = DEFAULT_NAME_PATTERN,
) -> Layout:
    """Plan one subnet per tier per AZ inside ``vpc_cidr``.

    Styles (both give every subnet an aligned, legal AWS block; they differ in where):

    * ``"dense"`` (Terraform ``cidrsubnets`` style, with the largest-first fix that
      aws-ia/terraform-aws-vpc adopted): list the subnets tier by tier, AZ by AZ, then allocate
      them from the VPC's first address, largest blocks first (stable order for equal sizes).
      Power-of-two blocks sorted largest-first are always aligned at the cursor, so there are no
      holes; all free space is one run at the end. It fits whenever the total fits.
    * ``"gapped"`` (AWS best-practice style, like the console's "VPC and more" which starts the
      private tier at the VPC's half): the VPC is cut into S equal *tier slots*, S = the number
      of tiers rounded up to a power of two, and tier i owns slot i. A tier's subnets are packed
      from its slot's start in AZ order; the rest of each slot is that tier's room to grow (more
      AZs, bigger subnets), and unused slots are room for new tiers. It fits when each tier's
      subnets fit in one slot.

    Names follow ``name_pattern`` (default ``"{project}-subnet-{tier}{n}-{az_letter}"``, giving
    ``my-workspace-subnet-app-private1-a``). Raises LabError when the plan does not fit, naming
    the missing space and a bigger VPC prefix or smaller subnets that would fit.
    """
    vpc = _ipv4(vpc_cidr, purpose="plan_layout")
    range_warnings = check_vpc_cidr(vpc).warnings
    az_list = _normalise_azs(azs)
    tier_list = _normalise_tiers(tiers)
    if style not in ("dense", "gapped"):
        raise LabError(
            f"style must be 'dense' or 'gapped', got {style!r}.",
            "Use style='dense' (packed) or style='gapped' (room per tier).",
        )
    if not isinstance(project, str) or not project:
        raise LabError(f"project must be a non-empty name, got {project!r}.", f"Use e.g. project={DEFAULT_PROJECT!r}.")
    for t in tier_list:
        if t.prefix < vpc.prefixlen:
            raise LabError(
                f"Tier '{t.name}' wants /{t.prefix} subnets, which are bigger than the whole VPC {vpc}.",
                f"Use /{vpc.prefixlen} or a longer prefix for '{t.name}', or a VPC bigger than /{t.prefix}.",
            )
    names = _names(tier_list, az_list, project, name_pattern)
    n_az = len(az_list)
    need = sum(2 ** (32 - t.prefix) for t in tier_list) * n_az
    base = int(vpc.network_address)
    cidrs: dict[tuple[str, str], ipaddress.IPv4Network] = {}

    if style == "dense":
        if need > vpc.num_addresses:
            raise _dense_error(vpc, tier_list, n_az, need)
        requests = [(t.prefix, ti, ai) for ti, t in enumerate(tier_list) for ai in range(n_az)]
        cursor = base
        for prefix, ti, ai in sorted(requests):  # (prefix, tier order, AZ order): stable largest-first
            cidrs[(tier_list[ti].name, az_list[ai])] = ipaddress.IPv4Network((cursor, prefix))
            cursor += 2 ** (32 - prefix)
        notes: tuple[str, ...] = range_warnings
    else:
        slot_bits = math.ceil(math.log2(len(tier_list))) if len(tier_list) > 1 else 0
        slot_prefix = vpc.prefixlen + slot_bits
        slot_size = 2 ** (32 - slot_prefix)
        short = [(t, 2 ** (32 - t.prefix) * n_az) for t in tier_list if 2 ** (32 - t.prefix) * n_az > slot_size]
        if short:
            raise _gapped_error(vpc, tier_list, n_az, need, slot_prefix, slot_bits, short)
        for ti, t in enumerate(tier_list):
            start = base + ti * slot_size
            for ai, az in enumerate(az_list):
                cidrs[(t.name, az)] = ipaddress.IPv4Network((start + ai * 2 ** (32 - t.prefix), t.prefix))
        notes = (
            *range_warnings,
            f"gapped: {2**slot_bits} tier slot(s) of /{slot_prefix} ({slot_size:,} addresses); "
            "tier i starts at slot i, the rest of each slot is room to grow.",
        )

    subnets = tuple(
        PlannedSubnet(
            names[(t.name, az)], t.name, az, cidrs[(t.name, az)], 2 ** (32 - t.prefix) - AWS_RESERVED_PER_SUBNET
        )
        for t in tier_list
        for az in az_list
    )
    return Layout(
        vpc=vpc,
        style=style,
        azs=az_list,
        tiers=tier_list,
        subnets=subnets,
        free=free_blocks(vpc, [s.cidr for s in subnets]),
        project=project,
        name_pattern=name_pattern,
        notes=notes,
    )


def _shrink_hint(tiers: Sequence[TierSpec], shift: int) -> str:
    if all(t.prefix + shift <= AWS_MAX_PREFIX for t in tiers):
        return "smaller subnets (" + ", ".join(f"{t.name} /{t.prefix + shift}" for t in tiers) + ")"
    return "fewer tiers or AZs (the subnets cannot shrink below /28)"


def _dense_error(vpc: ipaddress.IPv4Network, tiers: Sequence[TierSpec], n_az: int, need: int) -> LabError:
    missing = need - vpc.num_addresses
    fit_prefix = 32 - math.ceil(math.log2(need))
    shift = math.ceil(math.log2(need / vpc.num_addresses))
    sizes = " + ".join(f"{n_az} x /{t.prefix}" for t in tiers)
    options = []
    if fit_prefix >= AWS_MIN_PREFIX:
        options.append(f"a bigger VPC (/{fit_prefix}, e.g. {vpc.supernet(new_prefix=fit_prefix)})")
    options.append(_shrink_hint(tiers, shift))
    return LabError(
        f"The plan does not fit in VPC {vpc}: {sizes} need {need:,} addresses but the VPC has {vpc.num_addresses:,} "
        f"({missing:,} missing).",
        "Use " + " or ".join(options) + ".",
    )


def _gapped_error(
    vpc: ipaddress.IPv4Network,
    tiers: Sequence[TierSpec],
    n_az: int,
    need: int,
    slot_prefix: int,
    slot_bits: int,
    short: Sequence[tuple[TierSpec, int]],
) -> LabError:
    slot_size = 2 ** (32 - slot_prefix)
    missing = sum(n - slot_size for _, n in short)
    which = "; ".join(f"'{t.name}' needs {n:,} ({n_az} x /{t.prefix})" for t, n in short)
    # A slot holds n_az subnets of /p only if p >= slot_prefix + ceil(log2(n_az)); the VPC prefix
    # is slot_bits shorter than the slot's.
    az_bits = math.ceil(math.log2(n_az)) if n_az > 1 else 0
    min_tier_prefix = slot_prefix + az_bits
    vpc_needed = min(t.prefix for t in tiers) - az_bits - slot_bits
    options = []
    if vpc_needed >= AWS_MIN_PREFIX:
        bigger = ipaddress.ip_network((vpc.network_address, vpc_needed), strict=False)
        options.append(f"a bigger VPC (/{vpc_needed}, e.g. {bigger})")
    if min_tier_prefix <= AWS_MAX_PREFIX:
        options.append("smaller subnets (" + ", ".join(f"{t.name} /{min_tier_prefix}" for t, _ in short) + ")")
    else:
        options.append("fewer tiers or AZs (the subnets cannot shrink below /28)")
    if need <= vpc.num_addresses:
        options.append("style='dense', which packs the same subnets without gaps and fits")
    return LabError(
        f"The gapped plan does not fit in VPC {vpc}: each of the {2**slot_bits} tier slot(s) is a /{slot_prefix} "
        f"({slot_size:,} addresses) but {which} ({missing:,} addresses missing).",
        "Use " + " or ".join(options) + ".",
    )


def size_for_hosts(hosts: int, surge_factor: float = 1.0) -> int:
    """The smallest AWS subnet prefix whose usable count (2^(32-n) - 5) holds ``hosts`` x ``surge_factor``.

    Every awsvpc task takes an address, and during a rolling deployment with maximumPercent 200
    old and new tasks run side by side, so 40 tasks need room for 80: ``size_for_hosts(40, 2.0)``
    is 25 (a /25: 128 addresses, 123 usable). The result is never longer than /28. More than a
    /16 can hold raises LabError.
    """
    _check_int(hosts, "hosts", 1, 2**32, "Give the number of addresses needed as a whole number of at least 1.")
    try:
        surge = Decimal(str(surge_factor))  # Decimal so 100 x 1.1 is 110, not 110.00000000000001
    except InvalidOperation:
        surge = Decimal("NaN")
    if isinstance(surge_factor, bool) or not surge.is_finite() or surge < 1:
        raise LabError(
            f"surge_factor must be a number of at least 1.0, got {surge_factor!r}.",
            "Use 1.0 for no surge, 2.0 for a deployment that runs old and new tasks side by side (maximumPercent 200).",
        )
    needed = math.ceil(Decimal(hosts) * surge)
    for prefix in range(AWS_MAX_PREFIX, AWS_MIN_PREFIX - 1, -1):
        if 2 ** (32 - prefix) - AWS_RESERVED_PER_SUBNET >= needed:
            return prefix
    raise LabError(
        f"{needed:,} addresses do not fit in one AWS subnet: the largest, {_size_text(AWS_MIN_PREFIX)}, is too small.",
        "Spread the hosts over several subnets (one per AZ), or for EKS pods use prefix delegation or 100.64.0.0/10.",
    )


# --------------------------------------------------------------------------------------------
# 7. Overlap
# --------------------------------------------------------------------------------------------

Relation = Literal["equal", "contains", "inside", "partial", "disjoint"]
_Interval = tuple[int, int, int]  # (ip version, first, last)


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(spans):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _interval_size(spans: Iterable[tuple[int, int]]) -> int:
    return sum(hi - lo + 1 for lo, hi in spans)


def _intervals(value: object) -> list[_Interval]:
    """Address set of a CIDR, an 'a-b' range, or a list of those, as merged (version, lo, hi)."""
    items = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
    if not items:
        raise LabError("An empty list of blocks has no addresses to compare.", "Give at least one CIDR.")
    spans: dict[int, list[tuple[int, int]]] = {}
    for item in items:
        if isinstance(item, str) and "-" in item and "/" not in item:
            first_text, _, last_text = item.partition("-")
            try:
                first = ipaddress.ip_address(first_text.strip())
                last = ipaddress.ip_address(last_text.strip())
            except ValueError:
                raise LabError(
                    f"'{item}' is not an address range.",
                    "Write a range as first-last, e.g. '10.0.0.0-10.0.2.255', or a CIDR like '10.0.0.0/23'.",
                ) from None
            if first.version != last.version or int(first) > int(last):
                raise LabError(
                    f"Range '{item}' ends before it starts.",
                    "Write the lower address first, e.g. '10.0.0.0-10.0.2.255'.",
                )
            spans.setdefault(first.version, []).append((int(first), int(last)))
        else:
            net = parse(item, strict=False)  # type: ignore[arg-type]
            spans.setdefault(net.version, []).append((int(net.network_address), int(net.broadcast_address)))
    return [(v, lo, hi) for v in sorted(spans) for lo, hi in _merge(spans[v])]


def _intersection(a: list[_Interval], b: list[_Interval]) -> list[_Interval]:
    out = []
    for va, la, ha in a:
        for vb, lb, hb in b:
            if va == vb and max(la, lb) <= min(ha, hb):
                out.append((va, max(la, lb), min(ha, hb)))
    return out


def _relation(a: list[_Interval], b: list[_Interval]) -> tuple[Relation, list[_Interval]]:
    shared = _intersection(a, b)
    n_shared = _interval_size((lo, hi) for _, lo, hi in shared)
    if not n_shared:
        return "disjoint", shared
    if a == b:
        return "equal", shared
    if n_shared == _interval_size((lo, hi) for _, lo, hi in b):
        return "contains", shared
    if n_shared == _interval_size((lo, hi) for _, lo, hi in a):
        return "inside", shared
    return "partial", shared


def classify_overlap(a: object, b: object) -> Relation:
    """How block ``a`` relates to block ``b``: ``"equal"``, ``"contains"`` (a holds all of b),
    ``"inside"`` (a lies within b), ``"partial"`` or ``"disjoint"``.

    For two single CIDR blocks ``"partial"`` cannot happen: CIDR blocks are aligned powers of two,
    so two of them are either disjoint or one lies inside the other. ``"partial"`` is real for
    address *ranges* (``"10.0.0.0-10.0.2.255"`` vs ``"10.0.2.0/23"``) and for a VPC with several
    blocks, given as a list (primary plus secondary CIDRs), which is why AWS says even a partial
    overlap blocks peering. Both arguments may be a CIDR, an ``"first-last"`` range or a list.
    """
    relation, _ = _relation(_intervals(a), _intervals(b))
    return relation


@dataclass(frozen=True)
class OverlapFinding:
    """Two named networks that share addresses, how, and what it means."""

    a: str
    b: str
    relation: Relation
    shared: tuple[Network, ...]
    shared_addresses: int
    meaning: str

    def __str__(self) -> str:
        return f"{self.a} / {self.b}: {self.relation}, {self.shared_addresses:,} shared addresses. {self.meaning}"


@dataclass(frozen=True)
class OverlapReport:
    """Pairwise overlap findings for a set of named networks (only overlapping pairs are listed)."""

    names: tuple[str, ...]
    findings: tuple[OverlapFinding, ...]

    @property
    def clean(self) -> bool:
        return not self.findings

    def table(self) -> str:
        if self.clean:
            return f"No overlaps among {', '.join(self.names)}."
        return "\n".join(str(f) for f in self.findings)

    def __str__(self) -> str:
        return self.table()


def _meaning(a: str, b: str, relation: Relation, shared: str, kind: str) -> str:
    if kind == "subnet":
        return (
            f"AWS refuses the later of the two subnets with InvalidSubnet.Conflict ({shared} is already taken); "
            "move it to a free block of the VPC."
        )
    lead = {
        "equal": f"{a} and {b} use exactly the same addresses ({shared}); "
        "copied templates with unchanged CIDRs are the usual cause.",
        "contains": f"{a} contains all of {b} ({shared}).",
        "inside": f"{a} lies inside {b} ({shared}).",
        "partial": f"{a} and {b} share part of their addresses ({shared}); "
        "even a partial overlap, or one on a secondary CIDR, counts.",
    }[relation]
    return (
        f"{lead} These two VPCs/networks can never be peered or share a Transit Gateway route: "
        "AWS refuses peering between overlapping CIDRs. Re-IP one of them."
    )


def overlaps(
    blocks: Mapping[str, CidrLike | Sequence[CidrLike]], *, kind: Literal["network", "subnet"] = "network"
) -> OverlapReport:
    """Compare every pair of named networks (``{"vpc-a": "10.0.0.0/16", "on-prem": "10.0.0.0/8"}``).

    A value may be a list of blocks (a VPC with secondary CIDRs) or ``"first-last"`` ranges. Each
    overlapping pair becomes an :class:`OverlapFinding` with its relation (see
    :func:`classify_overlap`), the shared addresses as CIDRs, and what it means: for networks
    (``kind="network"``) that they can never be peered or share a Transit Gateway route; for
    subnets of one VPC (``kind="subnet"``) that AWS answers ``InvalidSubnet.Conflict``.
    """
    if not isinstance(blocks, Mapping):
        raise LabError(
            f"overlaps() takes a mapping of name -> CIDR, got {type(blocks).__name__}.",
            "Write e.g. overlaps({'vpc-a': '10.0.0.0/16', 'vpc-b': '10.1.0.0/16'}).",
        )
    if kind not in ("network", "subnet"):
        raise LabError(
            f"kind must be 'network' or 'subnet', got {kind!r}.",
            "Use kind='network' for VPCs, kind='subnet' for subnets of one VPC.",
        )
    names = [str(n) for n in blocks]
    sets = [_intervals(v) for v in blocks.values()]
    findings = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            relation, shared = _relation(sets[i], sets[j])
            if relation == "disjoint":
                continue
            cidrs: list[Network] = []
            for v, lo, hi in shared:
                cls = ipaddress.IPv4Address if v == 4 else ipaddress.IPv6Address
                cidrs.extend(ipaddress.summarize_address_range(cls(lo), cls(hi)))
            shared_text = ", ".join(map(str, cidrs[:4])) + (f" and {len(cidrs) - 4} more" if len(cidrs) > 4 else "")
            findings.append(
                OverlapFinding(
                    names[i], names[j], relation, tuple(cidrs),
                    _interval_size((lo, hi) for _, lo, hi in shared),
                    _meaning(names[i], names[j], relation, shared_text, kind),
                )
            )  # fmt: skip
    return OverlapReport(tuple(names), tuple(findings))


# --------------------------------------------------------------------------------------------
# 8. Well-known ranges (explicit tables: ipaddress.is_private is IANA semantics, not RFC 1918,
#    and its answers changed between CPython patch releases after CVE-2024-4032)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WellKnownRange:
    """A range with a name, a kind and why it matters when picking VPC CIDRs."""

    network: ipaddress.IPv4Network
    name: str
    kind: Literal["rfc1918", "shared", "clash", "special"]
    note: str

    def __str__(self) -> str:
        return f"{self.network} {self.name}: {self.note}"


def _wk(cidr: str, name: str, kind: Literal["rfc1918", "shared", "clash", "special"], note: str) -> WellKnownRange:
    return WellKnownRange(ipaddress.IPv4Network(cidr), name, kind, note)


WELL_KNOWN_RANGES: tuple[WellKnownRange, ...] = (
    _wk("10.0.0.0/8", "RFC 1918 private", "rfc1918", "private range; AWS recommends RFC 1918 blocks for VPCs."),
    _wk("172.16.0.0/12", "RFC 1918 private", "rfc1918", "private range (172.16.0.0 - 172.31.255.255)."),
    _wk("192.168.0.0/16", "RFC 1918 private", "rfc1918", "private range."),
    _wk(
        "100.64.0.0/10", "RFC 6598 shared address space (carrier-grade NAT)", "shared",
        "AWS allows it for VPCs (often as a secondary CIDR for EKS pods); ISPs use it for carrier-grade NAT.",
    ),
    _wk(
        "172.17.0.0/16", "Docker default bridge", "clash",
        "Docker's default bridge network uses it; AWS advises against it for VPCs (Cloud9 and SageMaker conflicts): "
        "containers on such hosts cannot reach VPC addresses in this range.",
    ),
    _wk(
        "172.31.0.0/16", "AWS default VPC", "clash",
        "every Region's default VPC is 172.31.0.0/16, so a VPC here can never be peered with a default VPC.",
    ),
    _wk(
        "192.168.0.0/16", "home and office routers", "clash",
        "home routers and many VPN clients hand out 192.168.x.y addresses, "
        "so people working from home may not reach these VPC addresses.",
    ),
    _wk("0.0.0.0/8", "'this network' (RFC 1122)", "special", "special-purpose block; never use it for a VPC."),
    _wk("127.0.0.0/8", "loopback", "special", "every host's own loopback; never use it for a VPC."),
    _wk(
        "169.254.0.0/16", "link-local", "special",
        "link-local addresses (AWS's instance metadata service is 169.254.169.254); never use it for a VPC.",
    ),
    _wk("224.0.0.0/4", "multicast", "special", "multicast addresses; never use it for a VPC."),
    _wk("240.0.0.0/4", "reserved (class E)", "special", "reserved for future use; never use it for a VPC."),
)  # fmt: skip


@dataclass(frozen=True)
class RangeReport:
    """Which well-known ranges a block is in or touches, whether it is private, and warnings."""

    network: ipaddress.IPv4Network
    within: tuple[WellKnownRange, ...]
    overlapping: tuple[WellKnownRange, ...]
    private: bool
    public_addresses: int
    warnings: tuple[str, ...]
    notes: tuple[str, ...]

    def __str__(self) -> str:
        lines = [f"{self.network}: {'private' if self.private else 'NOT private'}"]
        lines += [f"  in {r.network} ({r.name})" for r in self.within]
        lines += [f"  overlaps {r.network} ({r.name})" for r in self.overlapping]
        lines += [f"  warning: {w}" for w in self.warnings]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def classify_range(cidr: CidrLike) -> RangeReport:
    """Place a block among the well-known ranges in :data:`WELL_KNOWN_RANGES`.

    ``within`` lists ranges that contain the block, ``overlapping`` ranges it touches without
    being inside. ``private`` means every address is in RFC 1918 or 100.64.0.0/10. Clash ranges
    (Docker 172.17.0.0/16, the default VPC 172.31.0.0/16, home routers 192.168.0.0/16) and
    special-purpose ranges give warnings; so do public addresses: "not private: AWS allows it but
    it will clash with the internet".
    """
    net = _ipv4(cidr, strict=False, purpose="classify_range")
    within = tuple(r for r in WELL_KNOWN_RANGES if net.subnet_of(r.network))
    overlapping = tuple(r for r in WELL_KNOWN_RANGES if net.overlaps(r.network) and not net.subnet_of(r.network))
    lo, hi = int(net.network_address), int(net.broadcast_address)

    def clipped(kinds: set[str]) -> list[tuple[int, int]]:
        return _merge(
            (max(lo, int(r.network.network_address)), min(hi, int(r.network.broadcast_address)))
            for r in WELL_KNOWN_RANGES
            if r.kind in kinds and net.overlaps(r.network)
        )

    private_count = _interval_size(clipped({"rfc1918", "shared"}))
    known_count = _interval_size(clipped({"rfc1918", "shared", "special"}))
    public = net.num_addresses - known_count
    warnings = []
    notes = []
    for r in within + overlapping:
        how = "is inside" if r in within else "overlaps"
        if r.kind in ("clash", "special"):
            warnings.append(f"{net} {how} {r.network} ({r.name}): {r.note}")
        elif r.kind == "shared":
            notes.append(f"{net} {how} {r.network} ({r.name}): {r.note}")
    if public:
        warnings.append(
            f"not private: AWS allows it but it will clash with the internet: {public:,} of {net.num_addresses:,} "
            f"addresses in {net} are public internet addresses, so hosts in the VPC can no longer reach the real "
            "servers at those addresses. Use an RFC 1918 block such as 10.0.0.0/16."
        )
    return RangeReport(
        net, within, overlapping, private_count == net.num_addresses, public, tuple(warnings), tuple(notes)
    )


# --------------------------------------------------------------------------------------------
# 9. Bits
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bit:
    """One bit of an address: position (0 = leftmost), value, network/host part, byte/group."""

    index: int
    value: int
    part: Literal["network", "host"]
    group: int  # octet for IPv4 (0-3), 16-bit group for IPv6 (0-7)


@dataclass(frozen=True)
class BitStrip:
    """An address as bits with the network | host divider, for a cidr.xyz-style bit strip."""

    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    prefix: int
    bits: tuple[Bit, ...]
    dotted: str

    @property
    def network_bits(self) -> int:
        return self.prefix

    @property
    def host_bits(self) -> int:
        return len(self.bits) - self.prefix

    def __str__(self) -> str:
        return (
            f"{self.address}/{self.prefix}\n{self.dotted}\n"
            f"{self.network_bits} network bits | {self.host_bits} host bits -> {2**self.host_bits:,} addresses"
        )


def bits(address_or_cidr: str | ipaddress.IPv4Address | ipaddress.IPv4Network | ipaddress.IPv6Network) -> BitStrip:
    """Per-bit data for a bit strip: each bit's value and whether it is network or host part.

    ``bits("10.0.0.0/28").dotted`` is ``"00001010.00000000.00000000.0000|0000"``: the ``|`` marks
    where the prefix ends (when it falls on an octet boundary it replaces the dot:
    ``"00001010.00000000.00000000|00000000"`` for a /24). A bare address counts as a /32 (all
    network bits, no divider). Host bits set are shown as they are, not canonicalised.
    IPv6 is shown as 128 bits in 16-bit groups separated by ``:``.
    """
    if isinstance(address_or_cidr, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = address_or_cidr.network_address
        prefix = address_or_cidr.prefixlen
    elif isinstance(address_or_cidr, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        address, prefix = address_or_cidr, address_or_cidr.max_prefixlen
    elif isinstance(address_or_cidr, str) and "/" in address_or_cidr:
        net = parse(address_or_cidr, strict=False)
        address = ipaddress.ip_address(address_or_cidr.strip().split("/")[0].strip())
        prefix = net.prefixlen
    else:
        try:
            address = ipaddress.ip_address(
                address_or_cidr.strip() if isinstance(address_or_cidr, str) else address_or_cidr
            )
        except ValueError:
            raise LabError(
                f"{address_or_cidr!r} is neither an address (a.b.c.d) nor a CIDR block.",
                f"Pass an address like '10.0.0.5' or a block in the form {_CIDR_FORM}.",
            ) from None
        prefix = address.max_prefixlen
    width = address.max_prefixlen
    group_bits, sep = (8, ".") if width == 32 else (16, ":")
    raw = f"{int(address):0{width}b}"
    strip = tuple(Bit(i, int(ch), "network" if i < prefix else "host", i // group_bits) for i, ch in enumerate(raw))
    out = []
    for i, ch in enumerate(raw):
        if i and i == prefix:
            out.append("|")
        elif i and i % group_bits == 0:
            out.append(sep)
        out.append(ch)
    return BitStrip(address, prefix, strip, "".join(out))
