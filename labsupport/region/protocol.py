"""Reading AWS requests and writing AWS errors, whatever wire protocol a service speaks.

The region sits in front of moto as WSGI middleware. To enforce a rule it must know which service
and action a request is for and what its parameters are; to refuse a request it must answer the way
that service answers on AWS, so that boto3, the AWS CLI and every other SDK raise the error a
learner would see on AWS (``ClientError`` with the right code and message).

AWS uses four request styles for the services in this lab:

- EC2 query (EC2): form body ``Action=CreateSubnet&CidrBlock=...``; errors are
  ``<Response><Errors><Error><Code>..`` with HTTP 400.
- query (ELBv2, IAM, CloudWatch's older protocol, STS): same body style; errors are
  ``<ErrorResponse><Error><Type>Sender</Type><Code>..``.
- JSON 1.0/1.1 (ECS, ECR, CodeDeploy, CloudWatch Logs, ...): ``X-Amz-Target: Service.Action`` and a
  JSON body; errors are a JSON body with ``__type`` plus the ``x-amzn-ErrorType`` header.
- REST-JSON (Lambda, ...): the action is the HTTP method plus the path
  (``POST /2015-03-31/functions/{FunctionName}/invocations`` is Lambda ``Invoke``). The region reads
  the routes from botocore's own service model, the same data boto3 builds those requests from, so
  every operation of a REST-JSON service is recognised, with its path, header and query-string
  members in ``params``. Errors are JSON like the JSON protocols.
"""

from __future__ import annotations

import functools
import io
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode

# Which error dialect each signing name speaks. Anything not listed is treated as JSON when the
# request carries X-Amz-Target, and as plain query otherwise.
EC2_QUERY = "ec2query"
QUERY = "query"
JSON = "json"
REST_JSON = "rest-json"

_QUERY_SERVICES = {"elasticloadbalancing", "iam", "sts", "autoscaling", "sns", "sqs", "cloudformation"}


@dataclass
class AwsRequest:
    """One parsed request: which service and action, and its parameters.

    ``params`` is flat for the query protocols (``{"CidrBlock": "10.0.0.0/24",
    "TagSpecification.1.ResourceType": "subnet"}``, exactly as sent) and a dict for JSON. For
    REST-JSON it holds the members bound to the path, headers and query string
    (``{"FunctionName": "hook", "InvocationType": "Event"}``) plus the JSON body's members, unless
    the operation's body is a raw payload (Lambda ``Invoke``): then the body stays in ``raw_body``.
    Rules may change ``params``; :meth:`apply_to` then writes them back into the WSGI environ so
    moto sees the corrected request (this is how host bits are canonicalised, as AWS does).
    """

    service: str
    action: str
    protocol: str
    region: str
    params: dict[str, Any]
    raw_body: bytes
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    changed: bool = False
    # REST-JSON members that travel outside the body (path, headers, query string): a rewritten
    # body must not repeat them.
    bound_outside_body: frozenset[str] = frozenset()

    def get(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.params[key] = value
        self.changed = True

    def flag(self, key: str) -> bool:
        """A boolean query parameter (``DryRun=true``) or JSON field."""
        value = self.params.get(key)
        if isinstance(value, bool):
            return value
        return str(value).lower() == "true"

    def indexed(self, prefix: str) -> list[dict[str, str]]:
        """Group flat query keys ``Prefix.N.Sub`` into a list of dicts ``[{"Sub": ...}, ...]``.

        Nested members stay flat inside each item: ``IpPermissions.1.IpRanges.1.CidrIp`` becomes
        ``{"IpRanges.1.CidrIp": ...}`` in item 1.
        """
        items: dict[int, dict[str, str]] = {}
        head = prefix + "."
        for key, value in self.params.items():
            if not key.startswith(head):
                continue
            rest = key[len(head) :]
            number, _, sub = rest.partition(".")
            if not number.isdigit():
                continue
            items.setdefault(int(number), {})[sub] = value
        return [items[n] for n in sorted(items)]

    def apply_to(self, environ: dict[str, Any]) -> None:
        """Write (possibly changed) parameters back into the WSGI environ for moto."""
        if not self.changed:
            environ["wsgi.input"] = io.BytesIO(self.raw_body)
            return
        if self.protocol in (EC2_QUERY, QUERY):
            body = urlencode(list(self.params.items())).encode()
        else:
            body = json.dumps({k: v for k, v in self.params.items() if k not in self.bound_outside_body}).encode()
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))


def signing_scope(environ: dict[str, Any]) -> tuple[str | None, str | None]:
    """(service, region) from a SigV4 ``Authorization`` header, or (None, None)."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    try:
        scope = auth.split(",")[0].split()[1]  # Credential=AKID/20261122/us-west-2/ec2/aws4_request
        _, _, region, service, _ = scope.split("/")
    except (IndexError, ValueError):
        return None, None
    return service.lower(), region


def parse(environ: dict[str, Any]) -> AwsRequest | None:
    """Parse the request in ``environ``; None when it is not an AWS API call we can read.

    The body is read once here and put back afterwards, because moto reads it again.
    """
    service, region = signing_scope(environ)
    if service is None:
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    raw = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(raw)
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    content_type = environ.get("CONTENT_TYPE", "")
    params: dict[str, Any]
    bound: frozenset[str] = frozenset()
    if target:
        action = target.rsplit(".", 1)[-1]
        try:
            params = json.loads(raw or b"{}")
        except ValueError:
            params = {}
        protocol = JSON
    elif content_type.startswith("application/x-www-form-urlencoded") or (
        environ.get("REQUEST_METHOD") == "GET" and "Action=" in environ.get("QUERY_STRING", "")
    ):
        text = raw.decode("utf-8") if raw else environ.get("QUERY_STRING", "")
        # Action and Version stay in params so that a rewritten body is still a complete request.
        params = dict(parse_qsl(text, keep_blank_values=True))
        action = params.get("Action", "")
        protocol = EC2_QUERY if service == "ec2" else QUERY
    else:
        protocol = REST_JSON
        action, params, bound = _rest_operation(service, environ, raw)
    return AwsRequest(
        service=service,
        action=action,
        protocol=protocol,
        region=region or "us-east-1",
        params=params,
        raw_body=raw,
        bound_outside_body=bound,
    )


@dataclass(frozen=True)
class _Route:
    action: str
    method: str
    pattern: re.Pattern[str]
    literal_length: int  # the more literal characters a route has, the more specific it is
    query_keys: tuple[str, ...]  # literal query keys in the route (``?List=ALL``)
    locations: tuple[tuple[str, str, str], ...]  # (member, "uri"|"header"|"querystring", wire name)
    payload: str | None  # the member that IS the body (Lambda Invoke's event), if any
    raw_payload: bool  # that member is a blob or string: the body is not JSON members


@functools.cache
def _rest_routes(service: str) -> tuple[_Route, ...]:
    """The operations of REST-JSON ``service`` (by signing name), from botocore's model; () if none."""
    try:
        import botocore.loaders
        import botocore.model

        model = botocore.model.ServiceModel(botocore.loaders.create_loader().load_service_model(service, "service-2"))
    except Exception:  # not a botocore service name (signing names mostly are): no routes
        return ()
    if model.protocol != "rest-json":
        return ()
    routes = []
    for name in model.operation_names:
        operation = model.operation_model(name)
        path, _, query = operation.http["requestUri"].partition("?")
        regex, literal = "", 0
        for piece in re.split(r"(\{[^}]+\})", path):
            if piece.startswith("{"):
                greedy = piece.endswith("+}")
                regex += f"(?P<{_group(piece.strip('{}+'))}>{'.+' if greedy else '[^/]+'})"
            else:
                regex += re.escape(piece)
                literal += len(piece)
        shape = operation.input_shape
        locations: list[tuple[str, str, str]] = []
        payload, raw_payload = None, False
        if shape is not None:
            for member, member_shape in shape.members.items():
                where = member_shape.serialization.get("location")
                if where in ("uri", "header", "querystring"):
                    locations.append((member, where, member_shape.serialization.get("name", member)))
            payload = shape.serialization.get("payload")
            raw_payload = bool(payload) and shape.members[payload].type_name in ("blob", "string")
        routes.append(
            _Route(
                action=name,
                method=operation.http["method"].upper(),
                pattern=re.compile(regex.rstrip("/") + "/?$"),
                literal_length=literal,
                query_keys=tuple(k for k, _ in parse_qsl(query, keep_blank_values=True)),
                locations=tuple(locations),
                payload=payload,
                raw_payload=raw_payload,
            )
        )
    return tuple(routes)


def _group(label: str) -> str:
    """A regex group name for a URI label (labels may hold characters group names cannot)."""
    return re.sub(r"\W", "_", label)


def _specificity(route: _Route) -> tuple[int, int]:
    return route.literal_length, len(route.query_keys)


def _rest_operation(service: str, environ: dict[str, Any], raw: bytes) -> tuple[str, dict[str, Any], frozenset[str]]:
    """(action, params, members bound outside the body) of a REST-JSON request; ("", {}, ∅) if unknown."""
    method = environ.get("REQUEST_METHOD", "GET").upper()
    path = environ.get("PATH_INFO", "") or "/"
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    best: tuple[_Route, re.Match[str]] | None = None
    for route in _rest_routes(service):
        if route.method != method or any(key not in query for key in route.query_keys):
            continue
        match = route.pattern.match(path)
        # The most specific route wins: more literal path, then more literal query keys.
        if match and (best is None or _specificity(route) > _specificity(best[0])):
            best = (route, match)
    if best is None:
        return "", {}, frozenset()
    route, match = best
    params: dict[str, Any] = {}
    if not route.raw_payload and raw:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if isinstance(body, dict):
            params.update({route.payload: body} if route.payload else body)
    labels = match.groupdict()
    for member, where, wire in route.locations:
        if where == "uri" and labels.get(_group(wire)) is not None:
            params[member] = labels[_group(wire)]
        elif where == "header":
            key = wire.upper().replace("-", "_")
            value = environ.get(key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key)
            if value is not None:
                params[member] = value
        elif where == "querystring" and wire in query:
            params[member] = query[wire][0]
    return route.action, params, frozenset(member for member, _, _ in route.locations)


class AwsError(Exception):
    """An error the region answers with, shaped as the service would on AWS.

    ``sender`` False marks a server-side fault (``InternalFailure``-style, HTTP 500-class) so SDKs
    classify it the same way; the lab uses it only for its own failures, never for learner mistakes.
    """

    def __init__(self, code: str, message: str, status: int = 400, sender: bool = True) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.sender = sender


def error_response(err: AwsError, protocol: str, request_id: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """(status line, headers, body) for ``err`` in the dialect of ``protocol``."""
    from xml.sax.saxutils import escape

    status = f"{err.status} {_REASONS.get(err.status, 'Error')}"
    if protocol == EC2_QUERY:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>{escape(err.code)}</Code>"
            f"<Message>{escape(err.message)}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        ).encode()
        headers = [("Content-Type", "text/xml;charset=UTF-8")]
    elif protocol == QUERY:
        kind = "Sender" if err.sender else "Receiver"
        body = (
            f"<ErrorResponse><Error><Type>{kind}</Type><Code>{escape(err.code)}</Code>"
            f"<Message>{escape(err.message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml")]
    else:
        body = json.dumps({"__type": err.code, "message": err.message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", err.code)]
    headers += [("x-amzn-RequestId", request_id), ("Content-Length", str(len(body)))]
    return status, headers, body


_REASONS = {
    400: "Bad Request",
    404: "Not Found",
    409: "Conflict",
    412: "Precondition Failed",
    500: "Internal Server Error",
    501: "Not Implemented",
}
