"""The offline region as a service: its /_lab/ control API, reproducible IDs, AWS-shaped failures, and
one shared state for every client and process that talks to it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError


def control(endpoint: str, path: str, body: Any = None, method: str | None = None) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) of a control API call; ``body`` may be raw bytes to send malformed JSON."""
    data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(
        endpoint + path,
        data=data,
        method=method or ("POST" if data is not None else "GET"),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


# -- control API -------------------------------------------------------------------------------------


def test_status(region: str) -> None:
    status, body = control(region, "/_lab/status")
    assert status == 200
    assert body["service"] == "labsupport-region"
    assert (body["region"], body["account_id"]) == ("us-west-2", "123456789012")
    assert body["clock"]["mode"] == "manual"


def test_reset_empties_the_region(region: str, ec2: Any) -> None:
    ec2.create_vpc(CidrBlock="10.0.0.0/20")
    assert len(ec2.describe_vpcs()["Vpcs"]) == 2
    status, body = control(region, "/_lab/reset", {})
    assert status == 200 and body["reset"] is True
    vpcs = ec2.describe_vpcs()["Vpcs"]
    assert [vpc["IsDefault"] for vpc in vpcs] == [True]  # only the default VPC, as in a new account


def test_clock_status_and_advance(region: str) -> None:
    status, clock = control(region, "/_lab/clock")
    assert status == 200
    assert (clock["now"], clock["elapsed_seconds"], clock["mode"]) == ("2026-01-05T09:00:00Z", 0, "manual")
    status, moved = control(region, "/_lab/clock/advance", {"seconds": 300})
    assert status == 200
    assert (moved["now"], moved["elapsed_seconds"]) == ("2026-01-05T09:05:00Z", 300)
    assert control(region, "/_lab/clock")[1]["now"] == "2026-01-05T09:05:00Z"
    status, body = control(region, "/_lab/clock/advance", {"seconds": -5})
    assert status == 400 and "seconds" in body["error"]
    # A reset puts the clock back at its start.
    control(region, "/_lab/reset", {})
    assert control(region, "/_lab/clock")[1]["elapsed_seconds"] == 0


def test_clock_mode_switch_is_validated(region: str) -> None:
    status, body = control(region, "/_lab/clock/mode", {"mode": "fast-forward"})
    assert status == 400 and "manual" in body["error"] and "realtime" in body["error"]
    status, body = control(region, "/_lab/clock/mode", {"mode": "realtime", "speed": 0})
    assert status == 400 and "speed" in body["error"]
    status, body = control(region, "/_lab/clock/mode", {"mode": "realtime", "speed": 60})
    assert status == 200 and (body["mode"], body["speed"]) == ("realtime", 60)
    status, body = control(region, "/_lab/clock/mode", {"mode": "manual"})
    assert status == 200 and body["mode"] == "manual"


def test_unknown_path_and_bad_json(region: str) -> None:
    status, body = control(region, "/_lab/nothing-here")
    assert status == 404 and "/_lab/status" in body["error"]
    status, body = control(region, "/_lab/clock/advance", b"{not json")
    assert status == 400 and body["error"]
    status, body = control(region, "/_lab/clock/advance", b"[300]")
    assert status == 400 and "JSON object" in body["error"]


# -- reproducible IDs --------------------------------------------------------------------------------


def _build(ec2: Any) -> list[str]:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/20")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24", AvailabilityZone="us-west-2a")["Subnet"]
    group = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    return [vpc, subnet["SubnetId"], group]


def test_reset_gives_the_same_ids(region: str, ec2: Any) -> None:
    first = _build(ec2)
    control(region, "/_lab/reset", {})
    assert _build(ec2) == first


def test_a_fresh_region_gives_the_ids_of_a_reset_one(region: str, ec2: Any) -> None:
    """A lesson run against a just-started region shows the same IDs as after `region reset`."""
    from werkzeug.test import Client

    from labsupport.region.app import RegionApp

    after_reset = ec2.create_vpc(CidrBlock="10.0.0.0/20")["Vpc"]["VpcId"]
    fresh = Client(RegionApp())
    response = fresh.post(
        "/",
        data="Action=CreateVpc&Version=2016-11-15&CidrBlock=10.0.0.0%2F20",
        headers={
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260105/us-west-2/ec2/aws4_request, "
            "SignedHeaders=host, Signature=0",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert response.status_code == 200
    match = re.search(r"<vpcId>(vpc-[0-9a-f]+)</vpcId>", response.get_data(as_text=True))
    assert match and match.group(1) == after_reset


# -- AWS-shaped failures -----------------------------------------------------------------------------


def test_unimplemented_call_is_an_aws_error_without_retries(ec2: Any) -> None:
    with pytest.raises(ClientError) as info:
        ec2.describe_ipam_pools()
    response = info.value.response
    assert response["Error"]["Code"] == "UnsupportedOperation"
    assert "ec2:DescribeIpamPools" in response["Error"]["Message"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["ResponseMetadata"]["RetryAttempts"] == 0


def test_unknown_filter_is_an_aws_error_without_retries(ec2: Any) -> None:
    with pytest.raises(ClientError) as info:
        ec2.describe_subnets(Filters=[{"Name": "bogus-filter", "Values": ["x"]}])
    response = info.value.response
    assert (response["Error"]["Code"], response["Error"]["Message"]) == (
        "InvalidParameterValue",
        "The filter 'bogus-filter' is invalid",
    )
    assert response["ResponseMetadata"]["RetryAttempts"] == 0


# -- one region for every client ---------------------------------------------------------------------


def test_clients_and_processes_share_the_region(region: str, ec2: Any) -> None:
    import boto3

    vpc_id = ec2.create_vpc(
        CidrBlock="10.0.0.0/20",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "my-workspace-vpc"}]}],
    )["Vpc"]["VpcId"]
    second_client = boto3.client("ec2", endpoint_url=region, region_name="us-west-2")
    assert vpc_id in {vpc["VpcId"] for vpc in second_client.describe_vpcs()["Vpcs"]}
    # Another process, as a second Jupyter kernel would be, finds the VPC by its Name tag.
    script = (
        "import boto3, os\n"
        "ec2 = boto3.client('ec2', endpoint_url=os.environ['AWS_ENDPOINT_URL'], region_name='us-west-2')\n"
        "tags = [{'Name': 'tag:Name', 'Values': ['my-workspace-vpc']}]\n"
        "print(ec2.describe_vpcs(Filters=tags)['Vpcs'][0]['VpcId'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=dict(os.environ)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == vpc_id
