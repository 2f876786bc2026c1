"""The offline region's IAM: trust-policy rules and AWS's managed policies, through boto3.

The roles are the seed lessons': ecsTaskExecutionRole (trusting ecs-tasks.amazonaws.com, with
AmazonECSTaskExecutionRolePolicy) and a CodeDeploy service role (AWSCodeDeployRoleForECS).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
CODEDEPLOY_POLICY = "arn:aws:iam::aws:policy/AWSCodeDeployRoleForECS"
ECR_READ_POLICY = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"


def fails(call: Any, **kwargs: Any) -> tuple[str, str]:
    """(code, message) of the ClientError ``call(**kwargs)`` raises; fails the test if it succeeds."""
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    error = info.value.response["Error"]
    return error["Code"], error["Message"]


def trust(service: str = "ecs-tasks.amazonaws.com", **statement: Any) -> str:
    base = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    base.update(statement)
    return json.dumps({"Version": "2012-10-17", "Statement": [{k: v for k, v in base.items() if v is not None}]})


@pytest.fixture
def iam(region: str) -> Any:
    import boto3

    return boto3.client("iam", endpoint_url=region, region_name="us-west-2")


def test_trust_policy_must_be_valid(iam: Any) -> None:
    def refused(document: str) -> tuple[str, str]:
        return fails(iam.create_role, RoleName="ecsTaskExecutionRole", AssumeRolePolicyDocument=document)

    # The classic slip: the CLI's --assume-role-policy-document given a file name without file://.
    assert refused("trust-policy.json") == ("MalformedPolicyDocument", "This policy contains invalid Json")
    assert refused('{"Version": "2012-10-17", "Statement": [') == (
        "MalformedPolicyDocument",
        "This policy contains invalid Json",
    )
    wrong_version = json.dumps({"Version": "2012-10-18", "Statement": json.loads(trust())["Statement"]})
    assert refused(wrong_version) == ("MalformedPolicyDocument", "The policy must contain a valid version string")
    assert refused(json.dumps({"Version": "2012-10-17"})) == ("MalformedPolicyDocument", "Syntax errors in policy.")
    assert refused(trust(Principal=None)) == ("MalformedPolicyDocument", "Missing required field Principal")
    assert refused(trust(Resource="*")) == ("MalformedPolicyDocument", "Has prohibited field Resource")
    assert refused(trust(Action="s3:GetObject")) == (
        "MalformedPolicyDocument",
        "AssumeRole policy may only specify STS AssumeRole actions.",
    )
    assert iam.list_roles()["Roles"] == []
    role = iam.create_role(RoleName="ecsTaskExecutionRole", AssumeRolePolicyDocument=trust())["Role"]
    assert role["Arn"] == "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
    # A document without Version is accepted (it means 2008-10-17), as on AWS.
    no_version = json.dumps({"Statement": json.loads(trust())["Statement"]})
    iam.create_role(RoleName="legacy", AssumeRolePolicyDocument=no_version)
    assert fails(iam.update_assume_role_policy, RoleName="legacy", PolicyDocument="{") == (
        "MalformedPolicyDocument",
        "This policy contains invalid Json",
    )
    iam.update_assume_role_policy(RoleName="legacy", PolicyDocument=trust("codedeploy.amazonaws.com"))


def test_permissions_policy_must_be_json(iam: Any) -> None:
    assert fails(iam.create_policy, PolicyName="broken", PolicyDocument="policy.json") == (
        "MalformedPolicyDocument",
        "This policy contains invalid Json",
    )
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    iam.create_policy(PolicyName="read", PolicyDocument=json.dumps(document))


def test_aws_managed_policies_can_be_attached(iam: Any) -> None:
    iam.create_role(RoleName="ecsTaskExecutionRole", AssumeRolePolicyDocument=trust())
    iam.create_role(RoleName="AWSCodeDeployRoleForECS", AssumeRolePolicyDocument=trust("codedeploy.amazonaws.com"))
    iam.attach_role_policy(RoleName="ecsTaskExecutionRole", PolicyArn=EXECUTION_POLICY)
    iam.attach_role_policy(RoleName="ecsTaskExecutionRole", PolicyArn=ECR_READ_POLICY)
    iam.attach_role_policy(RoleName="AWSCodeDeployRoleForECS", PolicyArn=CODEDEPLOY_POLICY)
    attached = iam.list_attached_role_policies(RoleName="ecsTaskExecutionRole")["AttachedPolicies"]
    assert {policy["PolicyArn"] for policy in attached} == {EXECUTION_POLICY, ECR_READ_POLICY}
    policy = iam.get_policy(PolicyArn=EXECUTION_POLICY)["Policy"]
    assert (policy["PolicyName"], policy["Path"], policy["AttachmentCount"]) == (
        "AmazonECSTaskExecutionRolePolicy",
        "/service-role/",
        1,
    )
    version = iam.get_policy_version(PolicyArn=EXECUTION_POLICY, VersionId=policy["DefaultVersionId"])
    actions = version["PolicyVersion"]["Document"]["Statement"][0]["Action"]
    assert "ecr:GetAuthorizationToken" in actions and "logs:PutLogEvents" in actions
    # A policy AWS does not have (or the right name under the wrong path) stays unknown.
    for unknown in ("arn:aws:iam::aws:policy/NoSuchPolicy", "arn:aws:iam::aws:policy/AmazonECSTaskExecutionRolePolicy"):
        code, message = fails(iam.attach_role_policy, RoleName="ecsTaskExecutionRole", PolicyArn=unknown)
        assert code == "NoSuchEntity" and unknown in message


def test_aws_managed_policies_are_listed(iam: Any) -> None:
    # Listing renders what it returns, so ask for one path's worth rather than all ~1,600 policies.
    listed = iam.list_policies(Scope="AWS", PathPrefix="/service-role/", MaxItems=1000)
    names = {policy["PolicyName"] for policy in listed["Policies"]}
    assert "AmazonECSTaskExecutionRolePolicy" in names and len(names) > 100
    assert all(policy["Arn"].startswith("arn:aws:iam::aws:policy/service-role/") for policy in listed["Policies"])
    assert iam.list_policies(Scope="Local")["Policies"] == []
