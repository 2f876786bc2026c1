"""Tests for labsupport.cidr: AWS CIDR arithmetic, its teaching errors, and planner properties."""

from __future__ import annotations

import ipaddress
import itertools
import math
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labsupport import cidr
from labsupport.cidr import (
    Layout,
    TierSpec,
    address_counts,
    alignment,
    bits,
    check_subnet_cidr,
    check_vpc_cidr,
    cidrsubnets,
    classify_overlap,
    classify_range,
    free_blocks,
    next_aligned,
    overlaps,
    parse,
    plan_layout,
    size_for_hosts,
    split,
    split_tree,
)
from labsupport.errors import LabError

N = ipaddress.ip_network
A = ipaddress.ip_address
AZS2 = ["us-west-2a", "us-west-2b"]


def lab_error(func: Callable[..., object], *args: object, **kwargs: object) -> LabError:
    """Call and return the LabError it must raise."""
    with pytest.raises(LabError) as info:
        func(*args, **kwargs)
    return info.value


# ---------------------------------------------------------------------------------------------
# parse
# ---------------------------------------------------------------------------------------------


class TestParse:
    def test_valid(self) -> None:
        assert parse("10.0.0.0/16") == N("10.0.0.0/16")
        assert parse("  10.0.0.0/20 ") == N("10.0.0.0/20")
        assert parse("0.0.0.0/0") == N("0.0.0.0/0")

    def test_network_objects_pass_through(self) -> None:
        net = N("10.0.0.0/24")
        assert parse(net) is net

    def test_lab_error_is_a_value_error_with_fix(self) -> None:
        err = lab_error(parse, "10.0.0/24")
        assert isinstance(err, ValueError)
        assert "Fix:" in str(err)

    def test_three_octets(self) -> None:
        err = lab_error(parse, "10.0.0/24")
        assert "exactly 4" in err.problem
        assert "10.0.0.0/24" in err.fix
        assert "a.b.c.d/n" in err.fix

    def test_five_octets(self) -> None:
        err = lab_error(parse, "10.0.0.0.0/24")
        assert "5 number(s)" in err.problem
        assert "a.b.c.d/n" in err.fix

    def test_octet_over_255(self) -> None:
        err = lab_error(parse, "300.0.0.0/16")
        assert "300" in err.problem and "255" in err.problem
        assert "a.b.c.d/n" in err.fix

    def test_unicode_digits_are_not_numbers(self) -> None:
        err = lab_error(parse, "10.0.0.\u00b2/24")
        assert "is not a number" in err.problem
        err = lab_error(parse, "10.0.0.0/\u00b2")
        assert "0 to 32" in err.problem

    def test_not_a_number(self) -> None:
        err = lab_error(parse, "10.a.0.0/16")
        assert "'a' is not a number" in err.problem
        assert "a.b.c.d/n" in err.fix

    def test_leading_zero(self) -> None:
        err = lab_error(parse, "10.0.0.01/24")
        assert "leading zero" in err.problem
        assert "(1)" in err.fix

    def test_missing_prefix(self) -> None:
        err = lab_error(parse, "10.0.0.0")
        assert "no '/n'" in err.problem
        assert "10.0.0.0/16" in err.fix and "a.b.c.d/n" in err.fix

    @pytest.mark.parametrize("text", ["10.0.0.0/33", "10.0.0.0/x", "10.0.0.0/"])
    def test_bad_prefix(self, text: str) -> None:
        err = lab_error(parse, text)
        assert "0 to 32" in err.problem
        assert "a.b.c.d/n" in err.fix

    def test_two_slashes(self) -> None:
        err = lab_error(parse, "10.0.0.0/16/2")
        assert "more than one '/'" in err.problem
        assert "exactly one slash" in err.fix

    def test_empty(self) -> None:
        err = lab_error(parse, "   ")
        assert "empty" in err.problem
        assert "a.b.c.d/n" in err.fix

    def test_not_text(self) -> None:
        err = lab_error(parse, 167772160)
        assert "int" in err.problem
        assert "as a string" in err.fix

    def test_host_bits_strict_names_canonical_and_neighbours(self) -> None:
        err = lab_error(parse, "10.0.4.5/24")
        assert "host bits set" in err.problem
        assert "10.0.4.0/24" in err.problem
        assert "10.0.4.0/24" in err.fix and "10.0.5.0/24" in err.fix
        assert "strict=False" in err.fix

    def test_host_bits_unaligned_prefix(self) -> None:
        err = lab_error(parse, "192.168.1.0/22")
        assert "192.168.0.0/22" in err.fix and "192.168.4.0/22" in err.fix

    def test_host_bits_at_end_of_space_has_one_start(self) -> None:
        err = lab_error(parse, "255.255.255.7/24")
        assert "255.255.255.0/24" in err.fix
        assert "next legal start" not in err.fix

    def test_non_strict_canonicalises_like_aws(self) -> None:
        assert parse("100.68.0.18/18", strict=False) == N("100.68.0.0/18")
        assert parse("10.0.4.5/24", strict=False) == N("10.0.4.0/24")

    def test_ipv6_accepted_for_display(self) -> None:
        assert parse("2001:db8::/56") == N("2001:db8::/56")
        assert parse("2001:db8::1/64", strict=False) == N("2001:db8::/64")

    def test_ipv6_host_bits(self) -> None:
        err = lab_error(parse, "2001:db8::1/64")
        assert "2001:db8::/64" in err.fix and "2001:db8:0:1::/64" in err.fix

    def test_ipv6_bad_address(self) -> None:
        err = lab_error(parse, "2001:zz::/64")
        assert "not a valid IPv6 CIDR" in err.problem
        assert "2001:db8::/56" in err.fix

    def test_ipv6_bad_prefix(self) -> None:
        err = lab_error(parse, "2001:db8::/129")
        assert "0 to 128" in err.problem
        assert "/64" in err.fix

    def test_ipv6_rejected_by_aws_ipv4_functions(self) -> None:
        err = lab_error(address_counts, "2001:db8::/64")
        assert "IPv6" in err.problem
        assert "/64" in err.fix and "IPv4 CIDR" in err.fix


# ---------------------------------------------------------------------------------------------
# address counts
# ---------------------------------------------------------------------------------------------


class TestAddressCounts:
    def test_slash_24(self) -> None:
        counts = address_counts("10.0.0.0/24")
        assert counts.total == 256
        assert counts.usable == 251
        assert counts.prefix == 24
        assert counts.first_usable == A("10.0.0.4")
        assert counts.last_usable == A("10.0.0.254")
        assert [r.label for r in counts.reserved] == ["base+0", "base+1", "base+2", "base+3", "last"]
        assert [str(r.address) for r in counts.reserved] == [
            "10.0.0.0",
            "10.0.0.1",
            "10.0.0.2",
            "10.0.0.3",
            "10.0.0.255",
        ]
        roles = " ".join(r.role for r in counts.reserved)
        for word in ("network address", "VPC router", "Amazon DNS", "future use", "broadcast"):
            assert word in roles

    def test_slash_28_and_16(self) -> None:
        assert address_counts("10.0.0.0/28").usable == 11
        assert address_counts("10.0.0.0/16").usable == 65531
        assert address_counts(N("10.0.1.0/24")).first_usable == A("10.0.1.4")

    def test_text(self) -> None:
        text = str(address_counts("10.0.1.0/24"))
        assert "256 addresses" in text and "251 usable" in text
        assert "10.0.1.1" in text and "VPC router" in text
        assert "VPCs don't support broadcast" in text

    def test_too_small(self) -> None:
        err = lab_error(address_counts, "10.0.0.0/29")
        assert "too small for AWS" in err.problem
        assert "/28 (16 addresses, 11 usable)" in err.problem
        assert "/28" in err.fix

    def test_host_bits_is_strict(self) -> None:
        err = lab_error(address_counts, "10.0.0.5/24")
        assert "10.0.1.0/24" in err.fix


# ---------------------------------------------------------------------------------------------
# AWS rules
# ---------------------------------------------------------------------------------------------


class TestCheckVpc:
    def test_ok(self) -> None:
        check = check_vpc_cidr("10.0.0.0/20")
        assert check.ok and check.network == N("10.0.0.0/20") and check.warnings == ()
        assert "OK: 10.0.0.0/20 is a valid VPC CIDR" in str(check)
        assert check_vpc_cidr("10.0.0.0/16").network.prefixlen == 16
        assert check_vpc_cidr("10.0.0.0/28").network.prefixlen == 28

    def test_too_big(self) -> None:
        err = lab_error(check_vpc_cidr, "10.0.0.0/15")
        assert "too big for AWS" in err.problem
        assert "InvalidVpc.Range" in err.problem and "The CIDR '10.0.0.0/15' is invalid." in err.problem
        assert "10.0.0.0/16" in err.fix and "secondary CIDR" in err.fix

    def test_too_small(self) -> None:
        err = lab_error(check_vpc_cidr, "10.0.0.0/29")
        assert "a /29 is too small for AWS: the smallest VPC is /28 (16 addresses, 11 usable)" in err.problem
        assert "10.0.0.0/28" in err.fix

    def test_host_bits_canonicalised_with_warning(self) -> None:
        check = check_vpc_cidr("10.0.0.1/16")
        assert check.network == N("10.0.0.0/16")
        assert any("silently stores it as 10.0.0.0/16" in w for w in check.warnings)
        assert "warning:" in str(check)

    def test_docker_range_warns(self) -> None:
        check = check_vpc_cidr("172.17.0.0/16")
        assert any("Docker" in w for w in check.warnings)

    def test_public_range_warns(self) -> None:
        check = check_vpc_cidr("8.8.0.0/16")
        assert any("not private" in w and "clash with the internet" in w for w in check.warnings)

    def test_malformed(self) -> None:
        err = lab_error(check_vpc_cidr, "10.0.0/16")
        assert "10.0.0.0/16" in err.fix

    def test_ipv6(self) -> None:
        check = check_vpc_cidr("2001:db8::/56")
        assert "IPv6 /56" in str(check)
        err = lab_error(check_vpc_cidr, "2001:db8::/64")
        assert "/56" in err.problem
        assert "2001:db8::/56" in err.fix
        err = lab_error(check_vpc_cidr, "2001:db8::/48")
        assert "2001:db8::/56" in err.fix


class TestCheckSubnet:
    def test_ok_inside_and_equal(self) -> None:
        check = check_subnet_cidr("10.0.1.0/24", "10.0.0.0/20")
        assert check.network == N("10.0.1.0/24") and check.vpc == (N("10.0.0.0/20"),)
        assert "251 usable" in str(check) and "inside VPC 10.0.0.0/20" in str(check)
        assert check_subnet_cidr("10.0.0.0/20", "10.0.0.0/20").network == N("10.0.0.0/20")

    def test_too_small(self) -> None:
        err = lab_error(check_subnet_cidr, "10.0.0.0/29", "10.0.0.0/20")
        assert "a /29 is too small for AWS: the smallest subnet is /28 (16 addresses, 11 usable)" in err.problem
        assert "InvalidSubnet.Range" in err.problem
        assert "/28" in err.fix

    def test_too_big(self) -> None:
        err = lab_error(check_subnet_cidr, "10.0.0.0/15", "10.0.0.0/16")
        assert "too big" in err.problem
        assert "/16" in err.fix

    def test_outside_vpc(self) -> None:
        err = lab_error(check_subnet_cidr, "10.1.0.0/24", "10.0.0.0/20")
        assert "outside" in err.problem and "InvalidSubnet.Range" in err.problem
        assert "The CIDR '10.1.0.0/24' is invalid." in err.problem
        assert "10.0.0.0/24" in err.fix

    def test_bigger_than_vpc(self) -> None:
        err = lab_error(check_subnet_cidr, "10.0.0.0/19", "10.0.0.0/20")
        assert "bigger than the VPC" in err.problem
        assert "/20 or smaller" in err.fix

    def test_conflict(self) -> None:
        err = lab_error(check_subnet_cidr, "10.0.0.128/25", "10.0.0.0/20", existing=["10.0.0.0/24", "10.0.1.0/24"])
        assert "InvalidSubnet.Conflict" in err.problem and "10.0.0.0/24" in err.problem
        assert "10.0.2.0/25" in err.fix

    def test_conflict_existing_mapping(self) -> None:
        err = lab_error(check_subnet_cidr, "10.0.0.0/24", "10.0.0.0/24", existing={"a": "10.0.0.0/24"})
        assert "none of that size is left" in err.fix

    def test_suggestion_skips_used_blocks(self) -> None:
        err = lab_error(check_subnet_cidr, "10.1.0.0/22", "10.0.0.0/20", existing=["10.0.0.0/24", "10.0.5.0/24"])
        assert "10.0.8.0/22" in err.fix

    def test_secondary_cidr_blocks(self) -> None:
        check = check_subnet_cidr("10.1.0.0/24", ["10.0.0.0/16", "10.1.0.0/16"])
        assert len(check.vpc) == 2

    def test_host_bits_warning(self) -> None:
        check = check_subnet_cidr("10.0.1.9/24", "10.0.0.0/20")
        assert check.network == N("10.0.1.0/24")
        assert check.warnings

    def test_no_vpc(self) -> None:
        err = lab_error(check_subnet_cidr, "10.0.0.0/24", [])
        assert "vpc='10.0.0.0/20'" in err.fix

    def test_bad_vpc(self) -> None:
        err = lab_error(check_subnet_cidr, "10.0.0.0/24", "10.0.0.0/8")
        assert "InvalidVpc.Range" in err.problem

    def test_ipv6_subnets(self) -> None:
        assert check_subnet_cidr("2001:db8:0:1::/64", "2001:db8::/56").network.prefixlen == 64
        err = lab_error(check_subnet_cidr, "2001:db8::/60", "2001:db8::/56")
        assert "always a /64" in err.problem
        assert "2001:db8::/64" in err.fix

    def test_family_mismatch(self) -> None:
        err = lab_error(check_subnet_cidr, "10.0.0.0/24", "2001:db8::/56")
        assert "no IPv4 block" in err.problem


# ---------------------------------------------------------------------------------------------
# alignment
# ---------------------------------------------------------------------------------------------


class TestAlignment:
    def test_unaligned(self) -> None:
        a = alignment("192.168.1.0/22")
        assert not a.aligned
        assert a.block_size == 1024 and a.offset == 256
        assert a.below == N("192.168.0.0/22") and a.above == N("192.168.4.0/22")
        assert "not aligned" in str(a) and "192.168.4.0/22" in str(a)

    def test_host_address(self) -> None:
        a = alignment("10.0.4.5/24")
        assert (a.below, a.above, a.offset) == (N("10.0.4.0/24"), N("10.0.5.0/24"), 5)

    def test_aligned(self) -> None:
        a = alignment("10.0.4.0/24")
        assert a.aligned and a.below == N("10.0.4.0/24") and a.above == N("10.0.5.0/24")
        assert "is aligned" in str(a)
        assert alignment(N("10.0.0.0/16")).aligned

    def test_end_of_space(self) -> None:
        a = alignment("255.255.255.9/24")
        assert a.above is None
        assert "end of the address space" in str(a)

    def test_malformed(self) -> None:
        err = lab_error(alignment, "10.0.4/24")
        assert "10.0.4.0/24" in err.fix


class TestNextAligned:
    def test_after_block(self) -> None:
        assert next_aligned("10.0.1.0/24", 22) == N("10.0.4.0/22")
        assert next_aligned(N("10.0.0.0/22"), 24) == N("10.0.4.0/24")

    def test_after_address(self) -> None:
        assert next_aligned("10.0.1.0", 24) == N("10.0.1.0/24")
        assert next_aligned("10.0.1.7", 24) == N("10.0.2.0/24")
        assert next_aligned(A("10.0.1.7"), 28) == N("10.0.1.16/28")

    def test_within(self) -> None:
        assert next_aligned("10.0.1.0/24", 24, within="10.0.0.0/20") == N("10.0.2.0/24")
        err = lab_error(next_aligned, "10.0.15.0/24", 24, within="10.0.0.0/20")
        assert "no room" in err.problem
        assert "bigger enclosing block" in err.fix

    def test_past_end(self) -> None:
        err = lab_error(next_aligned, "255.255.255.0/24", 24)
        assert "255.255.255.255" in err.problem
        assert "smaller block" in err.fix

    def test_bad_inputs(self) -> None:
        err = lab_error(next_aligned, "not-an-address", 24)
        assert "'10.0.1.7'" in err.fix
        err = lab_error(next_aligned, "10.0.0.0/24", 33)
        assert "0 to 32" in err.fix
        err = lab_error(next_aligned, "10.0.0.0/24", "24")
        assert "whole number" in err.problem
        err = lab_error(next_aligned, "10.0.0.0/24", True)
        assert "whole number" in err.problem


# ---------------------------------------------------------------------------------------------
# split, cidrsubnets, split_tree, free_blocks
# ---------------------------------------------------------------------------------------------


class TestSplit:
    def test_split(self) -> None:
        assert split("10.0.0.0/20", 22) == tuple(N(f"10.0.{i}.0/22") for i in (0, 4, 8, 12))
        assert split("10.0.0.0/24", 24) == (N("10.0.0.0/24"),)
        assert len(split("10.0.0.0/16", 28)) == 4096

    def test_bigger_prefix(self) -> None:
        err = lab_error(split, "10.0.0.0/20", 19)
        assert "bigger than the block" in err.problem
        assert "split('10.0.0.0/20', 21)" in err.fix

    def test_too_small(self) -> None:
        err = lab_error(split, "10.0.0.0/20", 29)
        assert "/28 (16 addresses, 11 usable)" in err.problem
        assert "/28 or bigger" in err.fix

    def test_too_many(self) -> None:
        err = lab_error(split, "10.0.0.0/8", 24)
        assert "65,536 blocks" in err.problem
        assert "/20" in err.fix

    def test_bad_prefix_type(self) -> None:
        err = lab_error(split, "10.0.0.0/20", 22.0)
        assert "whole number" in err.problem


class TestCidrsubnets:
    def test_terraform_doc_example_leaves_a_hole(self) -> None:
        assert cidrsubnets("10.1.0.0/16", 4, 4, 8, 4) == (
            N("10.1.0.0/20"),
            N("10.1.16.0/20"),
            N("10.1.32.0/24"),
            N("10.1.48.0/20"),
        )

    def test_order_matters_and_fix_says_sort(self) -> None:
        err = lab_error(cidrsubnets, "10.194.48.0/21", 2, 4, 2, 4, 2, 4)
        assert "Not enough remaining address space" in err.problem
        assert "cidrsubnets('10.194.48.0/21', 2, 2, 2, 4, 4, 4) fits" in err.fix
        assert len(cidrsubnets("10.194.48.0/21", 2, 2, 2, 4, 4, 4)) == 6

    def test_does_not_fit_at_all(self) -> None:
        err = lab_error(cidrsubnets, "10.0.0.0/24", 1, 1, 1)
        assert "bigger prefix block" in err.fix

    def test_bad_newbits(self) -> None:
        err = lab_error(cidrsubnets, "10.0.0.0/24", 0)
        assert "1 to 8 bits" in err.fix


class TestSplitTree:
    def test_depth_and_states(self) -> None:
        tree = split_tree("10.0.0.0/22", 2, allocated=["10.0.0.0/24", "10.0.1.0/25"])
        assert tree.prefixes == (22, 23, 24)
        assert tree.root.state == "partial" and tree.root.depth == 0
        assert [n.network for n in tree.level(1)] == [N("10.0.0.0/23"), N("10.0.2.0/23")]
        assert [n.state for n in tree.level(1)] == ["partial", "free"]
        leaves = tree.leaves()
        assert [n.state for n in leaves] == ["allocated", "partial", "free", "free"]
        assert leaves[0].owner == "10.0.0.0/24" and leaves[0].is_allocated
        assert leaves[2].is_free and leaves[2].owner is None
        assert len(tree.nodes()) == 7
        assert "10.0.0.0/24  allocated (10.0.0.0/24)" in str(tree)

    def test_prefix_list_and_named_allocations(self) -> None:
        tree = split_tree("10.0.0.0/20", [22, 24], allocated={"web": "10.0.4.0/22"})
        assert tree.prefixes == (20, 22, 24)
        assert len(tree.level(1)) == 4 and len(tree.level(2)) == 16
        second = tree.level(1)[1]
        assert second.state == "allocated" and second.owner == "web"
        assert all(c.owner == "web" for c in second.children)

    def test_fully_covered_by_several(self) -> None:
        tree = split_tree("10.0.0.0/23", 1, allocated=["10.0.0.0/24", "10.0.1.0/24"])
        assert tree.root.state == "allocated" and tree.root.owner is None

    def test_layout_as_allocation(self) -> None:
        layout = plan_layout("10.0.0.0/22", ["us-west-2a"], [("public", 24)])
        tree = split_tree("10.0.0.0/22", 2, allocated=layout)
        assert tree.leaves()[0].owner == "my-workspace-subnet-public1-a"

    def test_single_allocation_string_and_no_levels(self) -> None:
        tree = split_tree("10.0.0.0/24", 0, allocated="10.0.0.0/24")
        assert tree.nodes() == (tree.root,) and tree.root.is_allocated

    def test_errors(self) -> None:
        err = lab_error(split_tree, "10.0.0.0/20", [22, 22])
        assert "strictly longer" in err.problem and "[21, 22]" in err.fix
        err = lab_error(split_tree, "10.0.0.0/20", [19])
        assert "strictly longer" in err.problem
        err = lab_error(split_tree, "10.0.0.0/24", [29])
        assert "/28" in err.fix
        err = lab_error(split_tree, "10.0.0.0/8", [21])
        assert "/20 or earlier" in err.fix
        err = lab_error(split_tree, "10.0.0.0/16", 13)
        assert "0 to 12" in err.fix


def test_free_blocks() -> None:
    assert free_blocks("10.0.0.0/20", ["10.0.0.0/24", "10.0.1.0/24"]) == (
        N("10.0.2.0/23"),
        N("10.0.4.0/22"),
        N("10.0.8.0/21"),
    )
    assert free_blocks("10.0.0.0/24", ["10.0.0.0/24"]) == ()
    assert free_blocks("10.0.0.0/24", []) == (N("10.0.0.0/24"),)
    assert free_blocks("10.0.0.0/24", ["10.0.0.0/16"]) == ()
    assert free_blocks("10.0.0.0/24", ["10.9.0.0/16"]) == (N("10.0.0.0/24"),)


# ---------------------------------------------------------------------------------------------
# planning
# ---------------------------------------------------------------------------------------------


class TestPlanLayout:
    def test_seed_example(self) -> None:
        # Seed 004: my-workspace-vpc 10.0.0.0/20 with app-private1-a 10.0.0.0/24 and public1-a 10.0.1.0/24.
        layout = plan_layout("10.0.0.0/20", ["us-west-2a"], [("app-private", 24), ("public", 24)])
        assert [(s.name, str(s.cidr), s.az, s.usable) for s in layout.subnets] == [
            ("my-workspace-subnet-app-private1-a", "10.0.0.0/24", "us-west-2a", 251),
            ("my-workspace-subnet-public1-a", "10.0.1.0/24", "us-west-2a", 251),
        ]

    def test_dense_two_azs(self) -> None:
        layout = plan_layout("10.0.0.0/20", AZS2, [("public", 24), ("app-private", 24)])
        assert [str(s.cidr) for s in layout.subnets] == ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"]
        assert [s.name for s in layout.subnets][1] == "my-workspace-subnet-public2-b"
        assert layout.free == (N("10.0.4.0/22"), N("10.0.8.0/21"))
        assert (layout.total, layout.usable, layout.free_addresses, layout.planned_addresses) == (
            4096,
            1004,
            3072,
            1024,
        )
        assert layout.utilisation == pytest.approx(0.25)
        assert layout.style == "dense" and layout.azs == tuple(AZS2)

    def test_dense_is_largest_first_without_holes(self) -> None:
        layout = plan_layout("10.0.0.0/20", AZS2, [("public", 24), ("app", 22)])
        grid = layout.grid()
        assert grid[("app", "us-west-2a")].cidr == N("10.0.0.0/22")
        assert grid[("app", "us-west-2b")].cidr == N("10.0.4.0/22")
        assert grid[("public", "us-west-2a")].cidr == N("10.0.8.0/24")
        assert grid[("public", "us-west-2b")].cidr == N("10.0.9.0/24")
        assert layout.free == (N("10.0.10.0/23"), N("10.0.12.0/22"))
        # Subnets stay listed tier by tier, AZ by AZ, whatever their addresses.
        assert [s.tier for s in layout.subnets] == ["public", "public", "app", "app"]

    def test_gapped_tier_slots(self) -> None:
        layout = plan_layout("10.0.0.0/20", AZS2, [("public", 24), ("app-private", 22)], style="gapped")
        assert [str(s.cidr) for s in layout.subnets] == ["10.0.0.0/24", "10.0.1.0/24", "10.0.8.0/22", "10.0.12.0/22"]
        assert any("tier slot" in n for n in layout.notes)

    def test_gapped_three_tiers_use_four_slots(self) -> None:
        layout = plan_layout(
            "10.0.0.0/16", ["us-west-2a", "us-west-2b", "us-west-2c"], [("public", 24), ("app", 20), ("data", 24)],
            style="gapped",
        )  # fmt: skip
        by_tier = layout.by_tier()
        assert [str(s.cidr) for s in by_tier["public"]] == ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]
        assert [str(s.cidr) for s in by_tier["app"]] == ["10.0.64.0/20", "10.0.80.0/20", "10.0.96.0/20"]
        assert [str(s.cidr) for s in by_tier["data"]] == ["10.0.128.0/24", "10.0.129.0/24", "10.0.130.0/24"]
        assert N("10.0.192.0/18") in layout.free  # the spare slot for a future tier

    def test_single_subnet_may_equal_vpc(self) -> None:
        layout = plan_layout("10.0.0.0/24", ["us-west-2a"], [("only", 24)], style="gapped")
        assert layout.subnets[0].cidr == N("10.0.0.0/24") and layout.free == ()

    def test_tier_inputs(self) -> None:
        a = plan_layout("10.0.0.0/20", AZS2, {"public": 24, "app": 24})
        b = plan_layout("10.0.0.0/20", AZS2, [TierSpec("public", 24), TierSpec("app", 24)])
        assert a.subnets == b.subnets
        assert str(TierSpec("public", 24)) == "public /24 (256 addresses, 251 usable)"
        assert TierSpec.for_hosts("ecs", 40, 2.0) == TierSpec("ecs", 25)

    def test_single_az_string(self) -> None:
        assert plan_layout("10.0.0.0/20", "us-west-2a", [("public", 24)]).azs == ("us-west-2a",)

    def test_name_pattern_and_project(self) -> None:
        layout = plan_layout(
            "10.0.0.0/20", AZS2, [("public", 24)], project="shop", name_pattern="{project}-{tier}-{az}-{index}"
        )
        assert [s.name for s in layout.subnets] == ["shop-public-us-west-2a-1", "shop-public-us-west-2b-2"]
        assert layout.project == "shop"

    def test_bare_az_letters(self) -> None:
        layout = plan_layout("10.0.0.0/20", ["a", "b"], [("public", 24)])
        assert layout.subnets[1].name == "my-workspace-subnet-public2-b"

    def test_layout_accessors(self) -> None:
        layout = plan_layout("10.0.0.0/20", AZS2, [("public", 24), ("app-private", 24)])
        assert layout.subnet("my-workspace-subnet-app-private1-a").cidr == N("10.0.2.0/24")
        err = lab_error(layout.subnet, "nope")
        assert "my-workspace-subnet-public1-a" in err.fix
        text = str(layout)
        assert "VPC 10.0.0.0/20 (dense)" in text and "1,004 usable" in text and "free: 10.0.4.0/22, 10.0.8.0/21" in text
        assert "10.0.1.0/24" in str(layout.subnets[1]) and "251 usable" in str(layout.subnets[1])
        assert isinstance(layout, Layout)

    def test_range_warnings_become_notes(self) -> None:
        layout = plan_layout("172.17.0.0/16", AZS2, [("public", 24)])
        assert any("Docker" in n for n in layout.notes)
        assert "note:" in str(layout)

    def test_dense_does_not_fit(self) -> None:
        err = lab_error(plan_layout, "10.0.0.0/20", ["a", "b", "c"], [("public", 22), ("app", 22)])
        assert "6,144 addresses" in err.problem and "2,048 missing" in err.problem
        assert "bigger VPC (/19" in err.fix and "10.0.0.0/19" in err.fix
        assert "public /23, app /23" in err.fix

    def test_dense_does_not_fit_even_in_a_16(self) -> None:
        err = lab_error(plan_layout, "10.0.0.0/16", ["a", "b", "c", "d"], [("x", 16)])
        assert "bigger VPC" not in err.fix
        assert "x /18" in err.fix

    def test_dense_cannot_shrink_below_28(self) -> None:
        err = lab_error(plan_layout, "10.0.0.0/28", ["a", "b"], [("x", 28)])
        assert "bigger VPC (/27" in err.fix and "fewer tiers or AZs" in err.fix

    def test_gapped_does_not_fit_suggests_dense(self) -> None:
        err = lab_error(plan_layout, "10.0.0.0/20", ["a", "b", "c"], [("public", 24), ("app", 22)], style="gapped")
        assert "tier slot(s) is a /21" in err.problem and "1,024 addresses missing" in err.problem
        assert "bigger VPC (/19" in err.fix and "app /23" in err.fix and "style='dense'" in err.fix

    def test_gapped_no_smaller_subnets_possible(self) -> None:
        err = lab_error(plan_layout, "10.0.0.0/27", ["a", "b"], [("p", 28), ("q", 28)], style="gapped")
        assert "fewer tiers or AZs" in err.fix and "style='dense'" not in err.fix

    def test_tier_bigger_than_vpc(self) -> None:
        err = lab_error(plan_layout, "10.0.0.0/20", AZS2, [("public", 19)])
        assert "bigger than the whole VPC" in err.problem
        assert "/20 or a longer prefix" in err.fix

    @pytest.mark.parametrize(
        ("tiers", "problem", "fix"),
        [
            ([("public", 29)], "out of range", "size_for_hosts()"),
            ([("public", "24")], "whole number", "/16 to /28"),
            ([("public",)], "not a (name, prefix) pair", "('app-private', 24)"),
            ([], "No tiers", "tiers=[('public', 24)]"),
            ([("a", 24), ("a", 25)], "repeated: a", "own name"),
            ([("", 24)], "empty", "Name each tier"),
            ("public", "list of (name, prefix) pairs", "tiers=[('public', 24)"),
        ],
    )
    def test_tier_errors(self, tiers: object, problem: str, fix: str) -> None:
        err = lab_error(plan_layout, "10.0.0.0/20", AZS2, tiers)
        assert problem in err.problem
        assert fix in err.fix

    @pytest.mark.parametrize(
        ("azs", "problem", "fix"),
        [
            ([], "No Availability Zones", "us-west-2a"),
            (["us-west-2a", "us-west-2a"], "repeated: us-west-2a", "each AZ once"),
            ([""], "empty", "us-west-2a"),
            (5, "list of Availability Zone names", "azs=["),
        ],
    )
    def test_az_errors(self, azs: object, problem: str, fix: str) -> None:
        err = lab_error(plan_layout, "10.0.0.0/20", azs, [("public", 24)])
        assert problem in err.problem
        assert fix in err.fix

    def test_other_errors(self) -> None:
        err = lab_error(plan_layout, "10.0.0.0/20", AZS2, [("p", 24)], style="sparse")
        assert "style='dense'" in err.fix
        err = lab_error(plan_layout, "10.0.0.0/20", AZS2, [("p", 24)], project="")
        assert "my-workspace" in err.fix
        err = lab_error(plan_layout, "10.0.0.0/20", AZS2, [("p", 24)], name_pattern="{project}-{zone}")
        assert "{zone}" in err.problem and "{az_letter}" in err.fix
        err = lab_error(plan_layout, "10.0.0.0/20", AZS2, [("p", 24)], name_pattern="{project-{tier}")
        assert "not a valid format string" in err.problem and "single braces" in err.fix
        err = lab_error(plan_layout, "10.0.0.0/20", AZS2, [("p", 24)], name_pattern="{tier:d}-{n}")
        assert "cannot be filled in" in err.problem and "format spec" in err.fix
        err = lab_error(plan_layout, "10.0.0.0/20", AZS2, [("p", 24)], name_pattern="{project}-{tier}")
        assert "same name" in err.problem and "{tier}" in err.fix
        err = lab_error(plan_layout, "10.0.0.0/15", AZS2, [("p", 24)])
        assert "InvalidVpc.Range" in err.problem
        err = lab_error(plan_layout, "10.0.0.5/20", AZS2, [("p", 24)])
        assert "10.0.0.0/20" in err.fix
        err = lab_error(plan_layout, "2001:db8::/56", AZS2, [("p", 24)])
        assert "/64" in err.fix


class TestSizeForHosts:
    @pytest.mark.parametrize(
        ("hosts", "surge", "prefix"),
        [(1, 1.0, 28), (11, 1.0, 28), (12, 1.0, 27), (251, 1.0, 24), (252, 1.0, 23), (40, 2.0, 25), (100, 1.1, 25)],
    )
    def test_examples(self, hosts: int, surge: float, prefix: int) -> None:
        assert size_for_hosts(hosts, surge) == prefix

    def test_decimal_surge_is_exact(self) -> None:
        # 123 x 1.0 fits a /25 (123 usable); 0.1-style float noise must not push it to /24.
        assert size_for_hosts(41, 3.0) == 25
        assert size_for_hosts(65531) == 16

    @pytest.mark.parametrize(
        ("hosts", "surge"), [(0, 1.0), (-1, 1.0), (1.5, 1.0), (10, 0.5), (10, float("nan")), (10, "x")]
    )
    def test_bad_inputs(self, hosts: object, surge: object) -> None:
        err = lab_error(size_for_hosts, hosts, surge)
        assert "Use 1.0" in err.fix or "at least 1" in err.fix

    def test_too_many(self) -> None:
        err = lab_error(size_for_hosts, 40000, 2.0)
        assert "80,000 addresses" in err.problem
        assert "several subnets" in err.fix and "100.64.0.0/10" in err.fix


# ---------------------------------------------------------------------------------------------
# overlap
# ---------------------------------------------------------------------------------------------


class TestOverlap:
    @pytest.mark.parametrize(
        ("a", "b", "relation"),
        [
            ("10.0.0.0/16", "10.0.0.0/16", "equal"),
            ("10.0.0.0/8", "10.0.0.0/16", "contains"),
            ("10.0.0.0/16", "10.0.0.0/8", "inside"),
            ("10.0.0.0/16", "10.1.0.0/16", "disjoint"),
            ("10.0.0.0-10.0.2.255", "10.0.2.0/23", "partial"),
            (["10.0.0.0/16", "10.2.0.0/16"], "10.0.0.0/15", "partial"),
            (["10.0.0.0/24", "10.0.1.0/24"], "10.0.0.0/23", "equal"),
            ("10.0.0.0/16", "2001:db8::/56", "disjoint"),
        ],
    )
    def test_classify(self, a: object, b: object, relation: str) -> None:
        assert classify_overlap(a, b) == relation

    def test_range_errors(self) -> None:
        err = lab_error(classify_overlap, "10.0.0.9-10.0.0.1", "10.0.0.0/24")
        assert "ends before it starts" in err.problem and "lower address first" in err.fix
        err = lab_error(classify_overlap, "10.0.0.x-10.0.0.1", "10.0.0.0/24")
        assert "first-last" in err.fix
        err = lab_error(classify_overlap, [], "10.0.0.0/24")
        assert "at least one CIDR" in err.fix

    def test_overlaps_report(self) -> None:
        report = overlaps(
            {"vpc-a": "10.0.0.0/16", "on-prem": "10.0.0.0/8", "vpc-b": "192.168.0.0/16", "copy": ["10.0.0.0/16"]}
        )
        assert not report.clean
        pairs = [(f.a, f.b, f.relation) for f in report.findings]
        assert pairs == [("vpc-a", "on-prem", "inside"), ("vpc-a", "copy", "equal"), ("on-prem", "copy", "contains")]
        first = report.findings[0]
        assert first.shared == (N("10.0.0.0/16"),) and first.shared_addresses == 65536
        assert "can never be peered or share a Transit Gateway route" in first.meaning
        assert "Re-IP one of them" in first.meaning
        assert "copied templates" in report.findings[1].meaning
        assert "vpc-a / on-prem: inside" in str(report)

    def test_partial_meaning_and_shared_list(self) -> None:
        report = overlaps({"a": "10.0.0.0-10.0.2.255", "b": "10.0.2.0/23"})
        (finding,) = report.findings
        assert finding.relation == "partial" and finding.shared == (N("10.0.2.0/24"),)
        assert "even a partial overlap" in finding.meaning

    def test_many_shared_blocks_are_summarised(self) -> None:
        report = overlaps({"a": "10.0.0.1-10.0.0.200", "b": "10.0.0.0/24"})
        assert "more" in report.findings[0].meaning

    def test_clean_and_subnet_kind(self) -> None:
        assert overlaps({"a": "10.0.0.0/16", "b": "10.1.0.0/16"}).clean
        assert str(overlaps({"a": "10.0.0.0/16", "b": "10.1.0.0/16"})) == "No overlaps among a, b."
        report = overlaps({"s1": "10.0.0.0/24", "s2": "10.0.0.128/25"}, kind="subnet")
        assert "InvalidSubnet.Conflict" in report.findings[0].meaning

    def test_errors(self) -> None:
        err = lab_error(overlaps, ["10.0.0.0/16"])
        assert "overlaps({'vpc-a'" in err.fix
        err = lab_error(overlaps, {"a": "10.0.0.0/16"}, kind="vpc")
        assert "kind='network'" in err.fix
        err = lab_error(overlaps, {"a": "10.0.0/16"})
        assert "10.0.0.0/16" in err.fix


# ---------------------------------------------------------------------------------------------
# well-known ranges
# ---------------------------------------------------------------------------------------------


class TestClassifyRange:
    def test_rfc1918_no_warning(self) -> None:
        report = classify_range("10.0.0.0/20")
        assert report.private and report.warnings == () and report.public_addresses == 0
        assert [r.network for r in report.within] == [N("10.0.0.0/8")]
        assert "private" in str(report)

    def test_docker(self) -> None:
        report = classify_range("172.17.5.0/24")
        assert report.private
        assert {r.name for r in report.within} == {"RFC 1918 private", "Docker default bridge"}
        assert any("Cloud9" in w and "SageMaker" in w for w in report.warnings)

    def test_default_vpc_and_home_routers(self) -> None:
        assert any("default VPC" in w for w in classify_range("172.31.0.0/16").warnings)
        assert any("home routers" in w for w in classify_range("192.168.10.0/24").warnings)

    def test_cgnat_is_private_with_note(self) -> None:
        report = classify_range("100.64.0.0/16")
        assert report.private and report.warnings == ()
        assert any("EKS" in n for n in report.notes)
        assert "note:" in str(report)

    def test_public(self) -> None:
        report = classify_range("8.8.8.0/24")
        assert not report.private and report.public_addresses == 256
        assert any("not private: AWS allows it but it will clash with the internet" in w for w in report.warnings)
        assert "NOT private" in str(report)

    def test_partly_public_block(self) -> None:
        report = classify_range("172.0.0.0/8")
        assert not report.private
        assert report.public_addresses == 2**24 - 2**20
        assert {r.network for r in report.overlapping} >= {N("172.16.0.0/12"), N("172.17.0.0/16")}
        assert "overlaps 172.16.0.0/12" in str(report)

    def test_special(self) -> None:
        report = classify_range("127.0.0.0/16")
        assert not report.private and report.public_addresses == 0
        assert any("loopback" in w for w in report.warnings)

    def test_not_is_private_semantics(self) -> None:
        # ipaddress calls 198.18.0.0/15 private (benchmarking); for the lab it is public space.
        assert not classify_range("198.18.0.0/16").private

    def test_tables_are_explicit(self) -> None:
        kinds = {(str(r.network), r.kind) for r in cidr.WELL_KNOWN_RANGES}
        for entry in [
            ("10.0.0.0/8", "rfc1918"),
            ("172.16.0.0/12", "rfc1918"),
            ("192.168.0.0/16", "rfc1918"),
            ("100.64.0.0/10", "shared"),
            ("172.17.0.0/16", "clash"),
            ("172.31.0.0/16", "clash"),
            ("192.168.0.0/16", "clash"),
        ]:
            assert entry in kinds
        assert "Docker" in str(next(r for r in cidr.WELL_KNOWN_RANGES if r.kind == "clash"))

    def test_ipv6(self) -> None:
        err = lab_error(classify_range, "2001:db8::/56")
        assert "IPv4 CIDR" in err.fix


# ---------------------------------------------------------------------------------------------
# bits
# ---------------------------------------------------------------------------------------------


class TestBits:
    def test_seed_slash_28(self) -> None:
        strip = bits("10.0.0.0/28")
        assert strip.dotted == "00001010.00000000.00000000.0000|0000"
        assert len(strip.bits) == 32
        assert [b.part for b in strip.bits].count("network") == 28
        assert strip.network_bits == 28 and strip.host_bits == 4
        assert strip.bits[4].value == 1 and strip.bits[4].part == "network" and strip.bits[4].group == 0
        assert strip.bits[31].part == "host" and strip.bits[31].group == 3
        assert "16 addresses" in str(strip)

    def test_octet_boundary(self) -> None:
        assert bits("10.0.0.0/24").dotted == "00001010.00000000.00000000|00000000"
        assert bits(N("10.0.0.0/16")).dotted == "00001010.00000000|00000000.00000000"

    def test_bare_address_and_host_bits(self) -> None:
        strip = bits("10.0.0.5")
        assert strip.prefix == 32 and "|" not in strip.dotted and strip.dotted.endswith("00000101")
        assert bits(A("10.0.0.5")).dotted == strip.dotted
        assert bits("10.0.4.5/24").dotted.endswith("|00000101")  # shown as typed, not canonicalised

    def test_ipv6(self) -> None:
        strip = bits("2001:db8::/64")
        assert len(strip.bits) == 128 and strip.dotted.count(":") == 6 and strip.dotted.count("|") == 1

    def test_bad(self) -> None:
        err = lab_error(bits, "10.0.0")
        assert "'10.0.0.5'" in err.fix
        err = lab_error(bits, "10.0.0/24")
        assert "10.0.0.0/24" in err.fix


# ---------------------------------------------------------------------------------------------
# Hypothesis properties
# ---------------------------------------------------------------------------------------------

RFC1918 = [N("10.0.0.0/8"), N("172.16.0.0/12"), N("192.168.0.0/16")]


@st.composite
def rfc1918_vpcs(draw: st.DrawFn, min_prefix: int = 16, max_prefix: int = 24) -> ipaddress.IPv4Network:
    parent = draw(st.sampled_from(RFC1918))
    prefix = draw(st.integers(max(min_prefix, parent.prefixlen), max_prefix))
    index = draw(st.integers(0, 2 ** (prefix - parent.prefixlen) - 1))
    return ipaddress.IPv4Network((int(parent.network_address) + index * 2 ** (32 - prefix), prefix))


def az_names(count: int) -> list[str]:
    return [f"us-west-2{letter}" for letter in "abcd"[:count]]


@st.composite
def fitting_plans(draw: st.DrawFn) -> tuple[ipaddress.IPv4Network, list[str], list[tuple[str, int]]]:
    """VPC /16-/24 in RFC 1918, 1-4 AZs, 1-4 tiers whose prefixes fit in both styles."""
    vpc = draw(rfc1918_vpcs())
    n_az = draw(st.integers(1, 4))
    n_tiers = draw(st.integers(1, 4))
    lowest = vpc.prefixlen + math.ceil(math.log2(n_tiers)) + math.ceil(math.log2(n_az))
    prefixes = draw(st.lists(st.integers(lowest, 28), min_size=n_tiers, max_size=n_tiers))
    tiers = [(f"tier{i}", p) for i, p in enumerate(prefixes)]
    return vpc, az_names(n_az), tiers


# Bounded and derandomized so the suite is fast and CI failures reproduce; database=None keeps
# Hypothesis from writing a .hypothesis/ directory into the checkout.
PLANNER = settings(
    max_examples=200, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)
QUICK = settings(max_examples=100, deadline=None, derandomize=True, database=None)


def assert_valid_layout(layout: Layout, vpc: ipaddress.IPv4Network, azs: list[str], tiers: list) -> None:
    subnets = sorted(layout.subnets, key=lambda s: int(s.cidr.network_address))
    assert len(layout.subnets) == len(azs) * len(tiers)
    assert len({s.name for s in layout.subnets}) == len(layout.subnets)
    assert {(s.tier, s.az) for s in layout.subnets} == {(t, a) for t, _ in tiers for a in azs}
    for s in subnets:
        assert s.cidr.subnet_of(vpc)
        assert cidr.AWS_MIN_PREFIX <= s.cidr.prefixlen <= cidr.AWS_MAX_PREFIX
        assert s.cidr.prefixlen == dict(tiers)[s.tier]
        assert s.usable == s.cidr.num_addresses - 5
    for left, right in itertools.pairwise(subnets):
        assert int(left.cidr.broadcast_address) < int(right.cidr.network_address)  # no overlap
    assert layout.planned_addresses + layout.free_addresses == vpc.num_addresses
    for f in layout.free:
        assert f.subnet_of(vpc)
        assert not any(f.overlaps(s.cidr) for s in subnets)
    # Each subnet also passes the AWS subnet check against the others, as create_subnet would.
    for s in subnets:
        check_subnet_cidr(s.cidr, vpc, existing=[o.cidr for o in subnets if o is not s])


@PLANNER
@given(plan=fitting_plans(), style=st.sampled_from(["dense", "gapped"]))
def test_planner_properties(plan: tuple, style: str) -> None:
    vpc, azs, tiers = plan
    layout = plan_layout(str(vpc), azs, tiers, style=style)
    assert_valid_layout(layout, vpc, azs, tiers)
    if style == "dense":
        # No holes: every free address comes after the last planned one.
        last = max(int(s.cidr.broadcast_address) for s in layout.subnets)
        assert all(int(f.network_address) > last for f in layout.free)
    else:
        slots = 2 ** math.ceil(math.log2(len(tiers))) if len(tiers) > 1 else 1
        slot_size = vpc.num_addresses // slots
        for i, (name, _) in enumerate(tiers):
            for s in layout.by_tier()[name]:
                assert (int(s.cidr.network_address) - int(vpc.network_address)) // slot_size == i


@PLANNER
@given(
    vpc=rfc1918_vpcs(),
    n_az=st.integers(1, 4),
    prefixes=st.lists(st.integers(16, 28), min_size=1, max_size=4),
    style=st.sampled_from(["dense", "gapped"]),
)
def test_planner_fits_exactly_when_it_should(vpc: ipaddress.IPv4Network, n_az: int, prefixes: list, style: str) -> None:
    azs = az_names(n_az)
    tiers = [(f"t{i}", p) for i, p in enumerate(prefixes)]
    need = n_az * sum(2 ** (32 - p) for p in prefixes)
    slot = vpc.num_addresses // (2 ** math.ceil(math.log2(len(prefixes))) if len(prefixes) > 1 else 1)
    if style == "dense":
        fits = need <= vpc.num_addresses and all(p >= vpc.prefixlen for p in prefixes)
    else:
        fits = all(n_az * 2 ** (32 - p) <= slot for p in prefixes)
    if fits:
        assert_valid_layout(plan_layout(vpc, azs, tiers, style=style), vpc, azs, tiers)
    else:
        err = lab_error(plan_layout, vpc, azs, tiers, style=style)
        assert err.fix


@QUICK
@given(vpc=rfc1918_vpcs(8, 28))
def test_parse_round_trip_and_alignment(vpc: ipaddress.IPv4Network) -> None:
    assert parse(str(vpc)) == vpc
    a = alignment(str(vpc))
    assert a.aligned and a.below == vpc
    if a.above is not None:
        assert int(a.above.network_address) == int(vpc.broadcast_address) + 1
    strip = bits(str(vpc))
    assert int(strip.dotted.replace(".", "").replace("|", ""), 2) == int(vpc.network_address)
    assert sum(b.part == "network" for b in strip.bits) == vpc.prefixlen


@QUICK
@given(address=st.integers(0, 2**32 - 1), prefix=st.integers(0, 32))
def test_alignment_brackets_any_address(address: int, prefix: int) -> None:
    text = f"{ipaddress.IPv4Address(address)}/{prefix}"
    a = alignment(text)
    assert int(a.below.network_address) <= address <= int(a.below.broadcast_address)
    assert a.aligned == (address == int(a.below.network_address))
    assert parse(text, strict=False) == a.below
    nxt = next_aligned(str(ipaddress.IPv4Address(address)), prefix) if a.above or a.aligned else None
    if nxt is not None:
        assert nxt == (a.below if a.aligned else a.above)


@QUICK
@given(a=rfc1918_vpcs(8, 28), b=rfc1918_vpcs(8, 28))
def test_classify_overlap_is_consistent(a: ipaddress.IPv4Network, b: ipaddress.IPv4Network) -> None:
    forward, backward = classify_overlap(a, b), classify_overlap(b, a)
    mirror = {"equal": "equal", "contains": "inside", "inside": "contains", "disjoint": "disjoint"}
    assert forward != "partial"  # impossible for single CIDR blocks
    assert backward == mirror[forward]
    assert (forward == "disjoint") == (not a.overlaps(b))


@QUICK
@given(hosts=st.integers(1, 30000), surge=st.sampled_from([1.0, 1.5, 2.0]))
def test_size_for_hosts_is_smallest(hosts: int, surge: float) -> None:
    prefix = size_for_hosts(hosts, surge)
    need = math.ceil(hosts * surge)
    assert 2 ** (32 - prefix) - 5 >= need
    if prefix < 28:
        assert 2 ** (32 - prefix - 1) - 5 < need
