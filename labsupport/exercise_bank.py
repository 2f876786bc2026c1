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
