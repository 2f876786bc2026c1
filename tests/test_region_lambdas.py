"""Lambda functions that really run in the offline region: Invoke over HTTP (each invocation in its own
subprocess, calling the region back with boto3), the engines' invoke_async, and deploy_function."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
import zipfile
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from labsupport import config
from labsupport import lambdas as client_lambdas
from labsupport.errors import LabError
from labsupport.lab import Lab

REGION = "us-west-2"

ECHO = """
import os


def handler(event, context):
    return {
        "event": event,
        "function_name": context.function_name,
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "env": {k: os.environ.get(k) for k in ("AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME", "COLOUR", "AWS_ENDPOINT_URL")},
    }
"""
RAISES = """
def handler(event, context):
    raise ValueError("health check answered 503")
"""
SLEEPS = """
import time


def handler(event, context):
    print("going to sleep")
    time.sleep(30)
"""
COUNTS_VPCS = """
import boto3


def handler(event, context):
    return len(boto3.client("ec2").describe_vpcs()["Vpcs"])
"""
MAKES_A_VPC = """
import boto3


def handler(event, context):
    boto3.client("ec2").create_vpc(CidrBlock=event["cidr"])
"""


def _zip(source: str, name: str = "index.py") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, source)
    return buffer.getvalue()


def _clients(endpoint: str) -> dict[str, Any]:
    keys = {"endpoint_url": endpoint, "region_name": REGION, "aws_access_key_id": "t", "aws_secret_access_key": "t"}
    return {service: boto3.client(service, **keys) for service in ("lambda", "iam", "ec2")}


def _role(iam: Any) -> str:
    trust = client_lambdas.LAMBDA_TRUST
    return str(iam.create_role(RoleName="hook-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])


def _create(clients: dict[str, Any], role: str, name: str, source: str, **extra: Any) -> None:
    code = {"ZipFile": _zip(source)}
    clients["lambda"].create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="index.handler", Code=code, **extra
    )


@pytest.fixture
def aws(region: str) -> dict[str, Any]:
    clients = _clients(region)
    clients["role"] = _role(clients["iam"])
    clients["endpoint"] = region
    return clients


def _payload(response: dict[str, Any]) -> Any:
    return json.loads(response["Payload"].read())


# -- the REST-JSON request is recognised ---------------------------------------------------------------


def test_a_lambda_invoke_request_is_parsed_as_rest_json() -> None:
    from labsupport.region.protocol import REST_JSON, parse

    body = b'{"DeploymentId": "d-1"}'
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/2015-03-31/functions/hook/invocations",
        "QUERY_STRING": "Qualifier=%24LATEST",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "HTTP_X_AMZ_INVOCATION_TYPE": "Event",
        "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=t/20260105/us-west-2/lambda/aws4_request, "
        "SignedHeaders=host, Signature=0",
    }
    request = parse(environ)
    assert request is not None
    assert (request.service, request.action, request.protocol) == ("lambda", "Invoke", REST_JSON)
    # Path, header and query members are parameters; the event stays the raw body, not parameters.
    assert request.params == {"FunctionName": "hook", "InvocationType": "Event", "Qualifier": "$LATEST"}
    assert request.raw_body == body
    assert environ["wsgi.input"].read() == body  # put back for moto


# -- Invoke over HTTP ----------------------------------------------------------------------------------


def test_a_function_returns_its_event_with_lambdas_context_and_environment(aws: dict[str, Any]) -> None:
    _create(aws, aws["role"], "echo", ECHO, Timeout=5, Environment={"Variables": {"COLOUR": "green"}})
    response = aws["lambda"].invoke(FunctionName="echo", Payload=json.dumps({"DeploymentId": "d-1"}), LogType="Tail")
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    body = _payload(response)
    assert body["event"] == {"DeploymentId": "d-1"}
    assert body["function_name"] == "echo"
    assert 0 < body["remaining_ms"] <= 5000
    assert body["env"] == {
        "AWS_REGION": REGION,
        "AWS_LAMBDA_FUNCTION_NAME": "echo",
        "COLOUR": "green",
        "AWS_ENDPOINT_URL": aws["endpoint"],  # the function's boto3 calls go to the region
    }
    log = base64.b64decode(response["LogResult"]).decode()
    assert log.startswith(f"START RequestId: {body['request_id']} Version: $LATEST\n")


def test_a_function_error_is_200_with_the_runtimes_error_document(aws: dict[str, Any]) -> None:
    _create(aws, aws["role"], "raises", RAISES)
    response = aws["lambda"].invoke(FunctionName="raises", Payload=b"{}")
    assert (response["StatusCode"], response["FunctionError"]) == (200, "Unhandled")
    error = _payload(response)
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "health check answered 503")
    assert error["stackTrace"] == [
        '  File "/var/task/index.py", line 3, in handler\n    raise ValueError("health check answered 503")\n'
    ]


@pytest.mark.parametrize(
    ("handler", "source", "error_type"),
    [
        ("index.handler", "def main(event, context):\n    return 1\n", "Runtime.HandlerNotFound"),
        ("missing.handler", "", "Runtime.ImportModuleError"),
        ("index.handler", "def handler(event, context)\n", "Runtime.UserCodeSyntaxError"),
        ("index.handler", "import sys\n\ndef handler(event, context):\n    sys.exit(3)\n", "Runtime.ExitError"),
        ("index.handler", "def handler(event, context):\n    return {1, 2}\n", "Runtime.MarshalError"),
    ],
)
def test_broken_functions_fail_the_way_lambda_reports_them(
    aws: dict[str, Any], handler: str, source: str, error_type: str
) -> None:
    aws["lambda"].create_function(
        FunctionName="broken", Runtime="python3.12", Role=aws["role"], Handler=handler, Code={"ZipFile": _zip(source)}
    )
    response = aws["lambda"].invoke(FunctionName="broken")
    assert response["FunctionError"] == "Unhandled"
    assert _payload(response)["errorType"] == error_type


def test_the_timeout_kills_the_function_and_the_region_stays_responsive(aws: dict[str, Any]) -> None:
    _create(aws, aws["role"], "sleeps", SLEEPS, Timeout=1)
    started = time.monotonic()
    response = aws["lambda"].invoke(FunctionName="sleeps", LogType="Tail")
    assert time.monotonic() - started < 10  # killed after 1 s (+ interpreter start), not after 30
    assert response["FunctionError"] == "Unhandled"
    error = _payload(response)
    assert error["errorType"] == "Sandbox.Timedout"
    assert error["errorMessage"].endswith("Error: Task timed out after 1.00 seconds")
    log = base64.b64decode(response["LogResult"]).decode()
    assert "going to sleep" in log and "Task timed out after 1.00 seconds" in log
    assert aws["ec2"].describe_vpcs()["Vpcs"]


def test_a_function_calls_the_regions_ec2_api_with_boto3(aws: dict[str, Any]) -> None:
    aws["ec2"].create_vpc(CidrBlock="10.0.0.0/20")
    _create(aws, aws["role"], "counts", COUNTS_VPCS, Timeout=30)
    response = aws["lambda"].invoke(FunctionName="counts")
    assert "FunctionError" not in response
    assert _payload(response) == 2  # the default VPC and ours: the region's state, seen from inside


def test_an_event_invocation_answers_202_at_once_and_runs_in_the_background(aws: dict[str, Any]) -> None:
    _create(aws, aws["role"], "maker", MAKES_A_VPC, Timeout=30)
    response = aws["lambda"].invoke(FunctionName="maker", InvocationType="Event", Payload=b'{"cidr": "10.9.0.0/16"}')
    assert response["StatusCode"] == 202
    deadline = time.monotonic() + 20
    cidrs: set[str] = set()
    while "10.9.0.0/16" not in cidrs and time.monotonic() < deadline:
        time.sleep(0.1)
        cidrs = {vpc["CidrBlock"] for vpc in aws["ec2"].describe_vpcs()["Vpcs"]}
    assert "10.9.0.0/16" in cidrs


def test_unknown_functions_bad_payloads_and_dry_runs(aws: dict[str, Any]) -> None:
    lam = aws["lambda"]
    with pytest.raises(ClientError) as info:
        lam.invoke(FunctionName="nope", Payload=b"{}")
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert info.value.response["Error"]["Message"] == (
        "Function not found: arn:aws:lambda:us-west-2:123456789012:function:nope"
    )
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    _create(aws, aws["role"], "echo", ECHO)
    with pytest.raises(ClientError) as info:
        lam.invoke(FunctionName="echo", Payload=b"{not json")
    assert info.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert lam.invoke(FunctionName="echo", InvocationType="DryRun")["StatusCode"] == 204


def test_other_runtimes_are_refused_with_an_explanation(aws: dict[str, Any]) -> None:
    aws["lambda"].create_function(
        FunctionName="node", Runtime="nodejs20.x", Role=aws["role"], Handler="index.handler", Code={"ZipFile": _zip("")}
    )
    with pytest.raises(ClientError) as info:
        aws["lambda"].invoke(FunctionName="node")
    assert info.value.response["Error"]["Code"] == "UnsupportedOperation"
    assert "python3.12" in info.value.response["Error"]["Message"]


# -- the in-region API the deployment engines use ------------------------------------------------------


@pytest.fixture
def local_region(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A region inside the test process, to reach ``world.lambdas`` directly (served on a loopback port)."""
    from werkzeug.serving import make_server

    from labsupport.region.app import RegionApp

    app = RegionApp()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    clients = _clients(f"http://127.0.0.1:{server.server_address[1]}")
    clients["lambda"].list_functions()  # the region learns its address from its first request
    try:
        yield SimpleNamespace(app=app, lock=app.lock, world=app.world, clients=clients, role=_role(clients["iam"]))
    finally:
        server.shutdown()


def test_invoke_async_calls_on_done_under_the_region_lock(local_region: Any) -> None:
    app = local_region
    _create(app.clients, app.role, "counts", COUNTS_VPCS, Timeout=30)
    _create(app.clients, app.role, "raises", RAISES)
    seen: list[tuple[Any, str | None, bool]] = []

    def on_done(result: Any, error: str | None) -> None:
        seen.append((result, error, app.lock._is_owned()))

    with app.lock:  # an engine calls it from a clock event or a request, holding the lock
        app.world.lambdas.invoke_async("counts", {"DeploymentId": "d-1"}, on_done, caller="codedeploy")
    assert app.world.lambdas.wait_idle(30)
    app.world.lambdas.invoke_async("raises", {}, on_done)
    app.world.lambdas.invoke_async("nope", {}, on_done)
    assert app.world.lambdas.wait_idle(30)
    assert seen[0] == (1, None, True)  # the function could call the region: the lock was free meanwhile
    not_found = "ResourceNotFoundException: Function not found: arn:aws:lambda:us-west-2:123456789012:function:nope"
    assert sorted(seen[1:], key=str) == [(None, not_found, True), (None, "ValueError: health check answered 503", True)]
    log = app.world.lambdas.log()
    assert (log[0]["function_name"], log[0]["caller"]) == ("counts", "codedeploy")
    assert log[0]["payload"] == {"DeploymentId": "d-1"} and log[0]["result"] == 1
    assert log[0]["duration_seconds"] > 0
    assert json.loads(json.dumps(log)) == log  # control-API friendly


def test_invoke_sync_and_a_reset_forgets_running_functions(local_region: Any) -> None:
    app = local_region
    _create(app.clients, app.role, "echo", ECHO)
    result, error = app.world.lambdas.invoke_sync("echo", {"hookStatus": "?"})
    assert error is None and result["event"] == {"hookStatus": "?"}
    with app.lock, pytest.raises(RuntimeError, match="deadlock"):
        app.world.lambdas.invoke_sync("echo", {})
    _create(app.clients, app.role, "sleeps", SLEEPS, Timeout=30)
    called: list[Any] = []
    app.world.lambdas.invoke_async("sleeps", {}, lambda result, error: called.append(error))
    time.sleep(0.3)
    app.app.reset()  # kills the running function: nobody waits for a reset region's hooks
    assert app.world.lambdas.wait_idle(10)
    assert called == [] and app.world.lambdas.log() == []


# -- deploy_function ------------------------------------------------------------------------------------


@pytest.fixture
def lab(region: str) -> Lab:
    return Lab(mode="offline", region=REGION, config=config.load(), endpoint=region)


def test_deploy_function_is_idempotent_and_updates_changed_code(lab: Lab) -> None:
    arn = client_lambdas.deploy_function("CodeDeployHook_check", client_lambdas.ECS_HOOK_EXAMPLE, lab=lab)
    assert arn == "arn:aws:lambda:us-west-2:123456789012:function:CodeDeployHook_check"
    iam = lab.client("iam")
    role = iam.get_role(RoleName=client_lambdas.DEFAULT_ROLE)["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    attached = iam.list_attached_role_policies(RoleName=client_lambdas.DEFAULT_ROLE)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [client_lambdas.BASIC_EXECUTION_POLICY]

    calls: list[str] = []
    for service in ("lambda", "iam"):
        lab.client(service).meta.events.register("before-call", lambda model, **_: calls.append(model.name))
    assert client_lambdas.deploy_function("CodeDeployHook_check", client_lambdas.ECS_HOOK_EXAMPLE, lab=lab) == arn
    assert not [c for c in calls if c.startswith(("Create", "Update", "Put", "Attach"))], calls

    changed = client_lambdas.ECS_HOOK_EXAMPLE.replace("SUCCEEDED", "FAILED")
    client_lambdas.deploy_function("CodeDeployHook_check", changed, lab=lab, environment={"MODE": "strict"})
    assert {"UpdateFunctionCode", "UpdateFunctionConfiguration"} <= set(calls)
    response = lab.client("lambda").invoke(FunctionName="CodeDeployHook_check", Payload=b"{}")
    assert _payload(response) == {"hookStatus": "FAILED"}  # the new code runs
    config_now = lab.client("lambda").get_function(FunctionName="CodeDeployHook_check")["Configuration"]
    assert (config_now["Timeout"], config_now["Environment"]["Variables"]) == (30, {"MODE": "strict"})


def test_deploy_function_refuses_code_that_cannot_work(lab: Lab) -> None:
    with pytest.raises(LabError, match="syntax error on line 1"):
        client_lambdas.deploy_function("hook", "def handler(event, context)\n", lab=lab)
    with pytest.raises(LabError, match=r"no function 'handler'.*functions found: main"):
        client_lambdas.deploy_function("hook", "def main(event, context):\n    pass\n", lab=lab)
    with pytest.raises(LabError, match=r"module\.function"):
        client_lambdas.deploy_function("hook", client_lambdas.ECS_HOOK_EXAMPLE, handler="handler", lab=lab)
    with pytest.raises(LabError, match="1 to 900"):
        client_lambdas.deploy_function("hook", client_lambdas.ECS_HOOK_EXAMPLE, timeout=901, lab=lab)
    with pytest.raises(LabError, match="not a valid Lambda function name"):
        client_lambdas.deploy_function("my hook", client_lambdas.ECS_HOOK_EXAMPLE, lab=lab)


def test_the_docstrings_hook_examples_are_the_shipped_ones_and_compile() -> None:
    import textwrap

    for source in (client_lambdas.CODEDEPLOY_HOOK_EXAMPLE, client_lambdas.ECS_HOOK_EXAMPLE):
        assert textwrap.indent(source.strip(), "    ") in (client_lambdas.__doc__ or "")
        compile(source, "index.py", "exec")
