"""The real AWS CLI against the offline region, as a learner types it in a terminal.

The `region` fixture exports AWS_ENDPOINT_URL, fake credentials and us-west-2, so `aws` needs no
flags to find the region. Each CLI call costs about a second, so this file makes few of them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

AWS = Path(sys.executable).parent / "aws"


def aws(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(AWS), *args, "--output", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )


def test_cli_and_boto3_see_one_region(region: str, ec2: Any) -> None:
    created = aws("ec2", "create-vpc", "--cidr-block", "10.0.0.0/20")
    assert created.returncode == 0, created.stderr
    vpc_id = json.loads(created.stdout)["Vpc"]["VpcId"]

    # The CLI shows AWS's error text and exits non-zero (255 in AWS CLI v1, 254 in v2).
    refused = aws("ec2", "create-subnet", "--vpc-id", vpc_id, "--cidr-block", "10.0.2.0/29")
    assert refused.returncode in (254, 255)
    assert "InvalidSubnet.Range" in refused.stderr
    assert "The CIDR '10.0.2.0/29' is invalid." in refused.stderr

    # What boto3 creates, the CLI lists (with the host bits boto3 sent cleared).
    private = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.0.0/24", AvailabilityZone="us-west-2a")["Subnet"]
    public = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.9/24", AvailabilityZone="us-west-2a")["Subnet"]
    listed = aws("ec2", "describe-subnets", "--filters", f"Name=vpc-id,Values={vpc_id}")
    assert listed.returncode == 0, listed.stderr
    subnets = {s["SubnetId"]: s["CidrBlock"] for s in json.loads(listed.stdout)["Subnets"]}
    assert subnets == {private["SubnetId"]: "10.0.0.0/24", public["SubnetId"]: "10.0.1.0/24"}
