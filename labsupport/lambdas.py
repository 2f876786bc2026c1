"""Small Python Lambda functions for deployment hooks: :func:`deploy_function`.

A deployment hook is a Lambda function that a deployment calls at a fixed point (after the new tasks
start, before production traffic moves ...) and whose answer decides: go on, or roll back. The two
ways of deploying to ECS that the lab teaches call their hooks differently, and mixing the two
contracts up is the classic mistake, so here they are side by side.

**CodeDeploy lifecycle hooks** (``ECS`` deployments driven by CodeDeploy; the AppSpec's ``Hooks``
section names one function per event: ``BeforeInstall``, ``AfterInstall``, ``AfterAllowTestTraffic``,
``BeforeAllowTraffic``, ``AfterAllowTraffic``). CodeDeploy invokes the function asynchronously with
``{"DeploymentId": "d-...", "LifecycleEventHookExecutionId": "..."}`` and ignores what it returns.
The function must *call* ``PutLifecycleEventHookExecutionStatus`` with ``Succeeded`` or ``Failed``
(no other value is accepted); a hook that never reports fails after one hour. On real AWS its role
needs ``codedeploy:PutLifecycleEventHookExecutionStatus`` (the role below has it)::

    import boto3

    codedeploy = boto3.client("codedeploy")


    def handler(event, context):
        status = "Succeeded"  # your check goes here; "Failed" rolls the deployment back
        codedeploy.put_lifecycle_event_hook_execution_status(
            deploymentId=event["DeploymentId"],
            lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
            status=status,
        )

**ECS built-in blue/green hooks** (``deploymentController`` ``ECS`` with strategy ``BLUE_GREEN``,
``LINEAR`` or ``CANARY``; ``deploymentConfiguration.lifecycleHooks`` names a function per stage).
ECS invokes the function with ``serviceArn``, ``targetServiceRevisionArn``, ``testTrafficWeights``
and ``productionTrafficWeights`` and *reads its return value*: ``{"hookStatus": "SUCCEEDED"}`` goes on,
``"FAILED"`` (or an error, or no status) rolls back, ``"IN_PROGRESS"`` asks ECS to invoke it again
later (after 30 s, or ``callBackDelay`` seconds if the function returns one). No API call is needed::

    def handler(event, context):
        print("production weights:", event.get("productionTrafficWeights"))
        return {"hookStatus": "SUCCEEDED"}

:func:`deploy_function` zips one source file, makes sure an IAM role Lambda may assume exists, and
creates or updates the function: calling it again with the same code changes nothing. It uses boto3
only, so it works on real AWS as well as in the offline region, where the function really runs (a
fresh Python process per invocation, with the function's timeout).
"""

from __future__ import annotations

import ast
import base64
import hashlib
import io
import json
import re
import time
import zipfile
from typing import Any

from .errors import LabError
from .lab import Lab, current

RUNTIME = "python3.12"
DEFAULT_ROLE = "lab-lambda-hook-role"
BASIC_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
HOOK_STATUS_POLICY = "codedeploy-hook-status"
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
# A CodeDeploy hook reports its own result: without this permission the report is AccessDenied on
# real AWS and the deployment waits an hour before it fails.
HOOK_STATUS_DOCUMENT = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "codedeploy:PutLifecycleEventHookExecutionStatus", "Resource": "*"},
    ],
}

#: The two example hooks of the module docstring, ready to pass to :func:`deploy_function`.
CODEDEPLOY_HOOK_EXAMPLE = """import boto3

codedeploy = boto3.client("codedeploy")


def handler(event, context):
    status = "Succeeded"  # your check goes here; "Failed" rolls the deployment back
    codedeploy.put_lifecycle_event_hook_execution_status(
        deploymentId=event["DeploymentId"],
        lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
        status=status,
    )
"""
ECS_HOOK_EXAMPLE = """def handler(event, context):
    print("production weights:", event.get("productionTrafficWeights"))
    return {"hookStatus": "SUCCEEDED"}
"""

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_HANDLER = re.compile(
    r"^(?P<module>[A-Za-z_][A-Za-z0-9_]*(?:[./][A-Za-z_][A-Za-z0-9_]*)*)\.(?P<function>[A-Za-z_]\w*)$"
)
# A fixed timestamp for every file in the zip, so the same source always gives the same bytes (and
# the same CodeSha256): that is what lets a second deploy see that nothing changed.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def package(source: str, handler: str = "index.handler") -> bytes:
    """The deployment package for ``source``: a zip with one file named after the handler's module.

    ``"index.handler"`` puts the source in ``index.py``. The bytes depend only on the arguments.
    """
    module = _check_handler(handler)[0]
    info = zipfile.ZipInfo(module.replace(".", "/") + ".py", date_time=_ZIP_TIME)
    info.external_attr = 0o644 << 16  # readable by Lambda's runtime user
    info.compress_type = zipfile.ZIP_DEFLATED
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(info, source)
    return buffer.getvalue()


def code_sha256(zip_bytes: bytes) -> str:
    """Lambda's ``CodeSha256`` of a package: base64 of its SHA-256 digest."""
    return base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()


def ensure_role(lab: Lab | None = None, name: str | None = None) -> str:
    """The IAM role the lab's functions run as (created if missing); returns its ARN.

    Lambda may assume it (trust ``lambda.amazonaws.com``); it has AWS's managed policy
    ``AWSLambdaBasicExecutionRole`` (write logs) and may report a CodeDeploy hook's status.
    """
    lab = lab or current()
    iam = lab.client("iam")
    name = name or str(lab.config.raw.get("lambda", {}).get("role", DEFAULT_ROLE))
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST),
            Description="Lets the lab's deployment-hook functions run and report their result",
            Tags=lab.tag_list(name),
        )["Role"]
    attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    if not any(p["PolicyArn"] == BASIC_EXECUTION_POLICY for p in attached):
        iam.attach_role_policy(RoleName=name, PolicyArn=BASIC_EXECUTION_POLICY)
    if HOOK_STATUS_POLICY not in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.put_role_policy(
            RoleName=name, PolicyName=HOOK_STATUS_POLICY, PolicyDocument=json.dumps(HOOK_STATUS_DOCUMENT)
        )
    return str(role["Arn"])


def deploy_function(
    name: str,
    source: str,
    handler: str = "index.handler",
    lab: Lab | None = None,
    timeout: int = 30,
    environment: dict[str, str] | None = None,
) -> str:
    """Create or update the Python function ``name`` from ``source``; return its ARN.

    Idempotent: with the same source and settings nothing is changed (the code is compared by
    ``CodeSha256``, the settings one by one). ``handler`` is ``"module.function"``; ``timeout`` is in
    seconds (1 to 900); ``environment`` becomes the function's environment variables. Learner
    mistakes (a syntax error, no such handler function, a bad name) raise :class:`LabError` before
    anything is sent to AWS.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise LabError(
            f"{name!r} is not a valid Lambda function name.",
            "use 1 to 64 letters, digits, hyphens or underscores, e.g. 'CodeDeployHook_AfterAllowTestTraffic'.",
        )
    if not isinstance(timeout, int) or not 1 <= timeout <= 900:
        raise LabError(f"timeout={timeout!r} is outside Lambda's range.", "give whole seconds from 1 to 900.")
    _check_source(source, handler)
    lab = lab or current()
    lam = lab.client("lambda")
    zip_bytes = package(source, handler)
    variables = {str(k): str(v) for k, v in (environment or {}).items()}
    role_arn = ensure_role(lab)
    wanted = {"Role": role_arn, "Handler": handler, "Runtime": RUNTIME, "Timeout": timeout}
    try:
        existing = lam.get_function(FunctionName=name)["Configuration"]
    except lam.exceptions.ResourceNotFoundException:
        created = _create(lab, name, zip_bytes, wanted, variables)
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        return str(created["FunctionArn"])
    if existing.get("CodeSha256") != code_sha256(zip_bytes):
        lam.update_function_code(FunctionName=name, ZipFile=zip_bytes)
        # Lambda refuses a configuration change while a code update is still in progress.
        lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    current_variables = (existing.get("Environment") or {}).get("Variables") or {}
    if any(existing.get(key) != value for key, value in wanted.items()) or current_variables != variables:
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": variables}, **wanted)
        lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    return str(existing["FunctionArn"])


def _create(lab: Lab, name: str, zip_bytes: bytes, wanted: dict[str, Any], variables: dict[str, str]) -> Any:
    lam = lab.client("lambda")
    tags = {"Name": name, lab.config.tag_key: lab.config.tag_value}
    # On real AWS a role created seconds ago is not yet visible to Lambda ("cannot be assumed by
    # Lambda"); IAM is eventually consistent, so wait and retry for a while. The region is consistent.
    attempts = 1 if lab.offline else 12
    for attempt in range(attempts):
        try:
            return lam.create_function(
                FunctionName=name,
                Code={"ZipFile": zip_bytes},
                Environment={"Variables": variables},
                Description="A deployment hook of the container-deployment lab",
                Tags=tags,
                **wanted,
            )
        except lam.exceptions.InvalidParameterValueException as err:
            if "cannot be assumed" not in str(err) or attempt == attempts - 1:
                raise
            time.sleep(5)
    raise AssertionError("unreachable")  # pragma: no cover


def _check_handler(handler: str) -> tuple[str, str]:
    match = _HANDLER.match(handler) if isinstance(handler, str) else None
    if match is None:
        raise LabError(
            f"handler={handler!r} is not of the form 'module.function'.",
            "name the file and the function, e.g. handler='index.handler' for def handler(...) in index.py.",
        )
    return match["module"], match["function"]


def _check_source(source: str, handler: str) -> None:
    """Refuse code that cannot work before it is deployed: a syntax error, or no handler function."""
    module, function = _check_handler(handler)
    if not isinstance(source, str) or not source.strip():
        raise LabError("The function's source is empty.", "pass the Python code of the function as a string.")
    try:
        tree = ast.parse(source, filename=f"{module}.py")
    except SyntaxError as err:
        raise LabError(
            f"The function's source has a syntax error on line {err.lineno}: {err.msg}.",
            "fix that line; Lambda would fail every invocation with Runtime.UserCodeSyntaxError.",
        ) from None
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
    assigned = {
        t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)
    }
    if function not in defined | assigned:
        found = ", ".join(sorted(defined)) or "none"
        raise LabError(
            f"The source defines no function {function!r} (handler={handler!r}); functions found: {found}.",
            f"define def {function}(event, context): at the top level, or pass handler='{module}.<your function>'.",
        )
