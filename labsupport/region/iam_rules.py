"""IAM rules AWS enforces and moto skips, and AWS's managed policies on demand.

Each rule below is one AWS rule, named in the first line of its docstring (that line is what
``GET /_lab/rules`` lists). Error texts are AWS's own where public API output shows them; where no
public source settles AWS's wording, the code is AWS's and the message is ours, and the comment
says so.

AWS managed policies. Every AWS account has AWS's managed policies
(``arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy``,
``arn:aws:iam::aws:policy/AWSCodeDeployRoleForECS`` ...), and the lessons attach them to roles.
moto has none unless ``MOTO_IAM_LOAD_MANAGED_POLICIES=true`` is set before its IAM backend is
created, and then it builds all ~1,600 of them every time the backend is created, which in this
region means on every reset (measured: a reset takes 0.35 s instead of 0.004 s). Instead, the
region adds a managed policy to the account the first time a request names it (and all of them
the first time a request lists them), from the same data moto ships. The result is the same as
moto's loader; the cost is paid once per policy, not on every reset. Exporting
``MOTO_IAM_LOAD_MANAGED_POLICIES=true`` before the region starts still loads them all up front.

IAM speaks the ``query`` protocol; IAM is global, so its moto backend is the partition's (``aws``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from .protocol import AwsError, AwsRequest
from .rules import Check, Context, rule

# -- helpers ----------------------------------------------------------------------------------------


def _iam_rule(*actions: str) -> Callable[[Check], Check]:
    """Register a rule of this service (``rules.rule`` logs a rule's own bugs instead of showing them)."""
    return rule("iam", *actions)


def _malformed(message: str) -> AwsError:
    return AwsError("MalformedPolicyDocument", message)


def iam_backend(ctx: Context) -> Any:
    """moto's IAM backend for the request's account: IAM is global, one backend per partition."""
    from moto.backends import get_backend
    from moto.utilities.utils import get_partition

    return get_backend("iam")[ctx.account_id][get_partition(ctx.region)]  # type: ignore[arg-type]


# -- 1. Policy documents -----------------------------------------------------------------------------

_VERSIONS = ("2012-10-17", "2008-10-17")


def _document(text: Any) -> dict[str, Any]:
    """The policy document ``text`` as a dict, or AWS's MalformedPolicyDocument error."""
    try:
        document = json.loads(str(text))
    except ValueError:
        raise _malformed("This policy contains invalid Json") from None
    if not isinstance(document, dict):
        raise _malformed("This policy contains invalid Json")
    return document


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The document's statements after AWS's top-level checks (valid Version, a non-empty Statement)."""
    # A missing Version is allowed (it then means 2008-10-17); a wrong one is not.
    if "Version" in document and document["Version"] not in _VERSIONS:
        raise _malformed("The policy must contain a valid version string")
    statements = document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise _malformed("Syntax errors in policy.")
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") not in ("Allow", "Deny"):
            raise _malformed("Syntax errors in policy.")
    return statements


def check_trust_policy(text: Any) -> None:
    """Raise AWS's MalformedPolicyDocument error unless ``text`` is a usable role trust policy."""
    for statement in _statements(_document(text)):
        if "Resource" in statement or "NotResource" in statement:
            raise _malformed("Has prohibited field Resource")
        if "Principal" not in statement and "NotPrincipal" not in statement:
            raise _malformed("Missing required field Principal")
        actions = statement.get("Action", statement.get("NotAction"))
        if actions is None:
            raise _malformed("Policy statement must contain actions.")
        for action in [actions] if isinstance(actions, str) else actions or []:
            if not str(action).lower().startswith("sts:"):
                raise _malformed("AssumeRole policy may only specify STS AssumeRole actions.")


@_iam_rule("CreateRole")
def role_trust_policy(request: AwsRequest, ctx: Context) -> None:
    """A role's trust policy is valid JSON with a valid Version, Statements with Principal, no Resource, STS actions."""
    text = request.get("AssumeRolePolicyDocument")
    if text is not None:
        # moto stored any text, so a role whose trust policy AWS refuses could be created.
        check_trust_policy(text)


@_iam_rule("UpdateAssumeRolePolicy")
def updated_trust_policy(request: AwsRequest, ctx: Context) -> None:
    """A role's trust policy is valid JSON with a valid Version, Statements with Principal, no Resource, STS actions."""
    text = request.get("PolicyDocument")
    if text is not None:
        check_trust_policy(text)


@_iam_rule("CreatePolicy", "CreatePolicyVersion", "PutRolePolicy", "PutUserPolicy", "PutGroupPolicy")
def policy_document_json(request: AwsRequest, ctx: Context) -> None:
    """A permissions policy document must be valid JSON."""
    # moto answered broken JSON with "Syntax errors in policy."; AWS names the JSON.
    text = request.get("PolicyDocument")
    if text is not None:
        _document(text)


# -- 2. AWS managed policies -------------------------------------------------------------------------

_AWS_POLICY_ARN = re.compile(r"^arn:(aws[a-z-]*):iam::aws:policy(/(?:[^/]+/)*)([^/]+)$")
_catalogue: dict[str, dict[str, Any]] | None = None


def aws_policy_catalogue() -> dict[str, dict[str, Any]]:
    """moto's copy of AWS's managed policies, by name (parsed once per process, ~0.1 s)."""
    global _catalogue
    if _catalogue is None:
        from moto.iam.aws_managed_policies import aws_managed_policies_data

        _catalogue = json.loads(aws_managed_policies_data)
    return _catalogue


def _add_policy(backend: Any, name: str, data: dict[str, Any]) -> Any:
    from moto.iam.models import AWSManagedPolicy

    policy = AWSManagedPolicy.from_data(name, backend.account_id, backend.region_name, data)
    if policy.arn not in backend.managed_policies:
        backend.managed_policies[policy.arn] = policy
        backend.aws_managed_policies.append(policy)
    return policy


def ensure_aws_managed_policy(backend: Any, arn: str) -> bool:
    """Add the AWS managed policy ``arn`` to ``backend`` if AWS has it; whether it now exists."""
    if arn in backend.managed_policies:
        return True
    match = _AWS_POLICY_ARN.match(arn)
    if not match:
        return False
    path, name = match.group(2), match.group(3)
    data = aws_policy_catalogue().get(name)
    if data is None or (data.get("Path") or "/") != path:
        return False
    return _add_policy(backend, name, data).arn == arn


def load_all_aws_managed_policies(backend: Any) -> None:
    """Add every AWS managed policy to ``backend`` (what moto's MOTO_IAM_LOAD_MANAGED_POLICIES does)."""
    if getattr(backend, "_labsupport_all_aws_policies", False):
        return
    for name, data in aws_policy_catalogue().items():
        _add_policy(backend, name, data)
    backend._labsupport_all_aws_policies = True


@_iam_rule(
    "AttachRolePolicy",
    "AttachUserPolicy",
    "AttachGroupPolicy",
    "DetachRolePolicy",
    "DetachUserPolicy",
    "DetachGroupPolicy",
    "GetPolicy",
    "GetPolicyVersion",
    "ListPolicyVersions",
    "ListEntitiesForPolicy",
    "PutRolePermissionsBoundary",
    "PutUserPermissionsBoundary",
    "CreateRole",
    "CreateUser",
)
def aws_managed_policies(request: AwsRequest, ctx: Context) -> None:
    """AWS managed policies (arn:aws:iam::aws:policy/...) exist in every account and can be attached."""
    for key in ("PolicyArn", "PermissionsBoundary"):
        arn = request.get(key)
        if isinstance(arn, str) and ":iam::aws:policy/" in arn:
            # An unknown name stays unknown: moto then answers NoSuchEntity, as AWS does.
            ensure_aws_managed_policy(iam_backend(ctx), arn)


@_iam_rule("ListPolicies")
def aws_managed_policies_listed(request: AwsRequest, ctx: Context) -> None:
    """ListPolicies with Scope All (the default) or AWS includes AWS's managed policies."""
    if str(request.get("Scope") or "All") in ("All", "AWS") and not request.flag("OnlyAttached"):
        load_all_aws_managed_policies(iam_backend(ctx))
