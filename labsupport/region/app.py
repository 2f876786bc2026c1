"""The region's WSGI application: our layer in front of moto's server.

For every request:

1. ``/_lab/...`` goes to the control API (status, reset, clock); nothing else does.
2. The request is parsed (:mod:`.protocol`); the rules registered for its action run
   (:mod:`.rules`, :mod:`.ec2_rules`). A rule may refuse it with AWS's error, or fix it up as AWS
   would. EC2 ``DryRun`` is answered here, honestly: after the rules pass, never by moto.
3. moto answers. If moto crashes or does not implement the call, the learner gets an AWS-shaped
   error that says so, never moto's HTML debugger page (which boto3 would retry three times).
4. ``after`` hooks correct moto's models where it answers but gets AWS wrong.

All of this runs under one lock, shared with the virtual clock. moto's backends are not designed for
concurrent mutation, and the lab needs IDs to come out in the same order every run (IDs are drawn
from a seeded random generator), so requests are serialised. The lab's request rates are tiny.
The one exception is a handler registered with ``locked=False`` (Lambda ``Invoke``): its rules run
under the lock, the handler itself does not, because it waits for a function that calls back into
the region over HTTP, and holding the lock while waiting would deadlock.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from collections.abc import Iterable
from typing import Any

from . import codedeploy, ec2_rules, ecs_rules, elbv2_rules, engine_hooks, iam_rules, lambdas, patches, runtime  # noqa: F401
from .clock import VirtualClock
from .protocol import AwsError, AwsRequest, error_response, parse
from .rules import Context, RawResponse, checks_for, handler_for, hooks_for, runs_unlocked

ACCOUNT_ID = "123456789012"
DEFAULT_SEED = 2026
# The services the lab uses, initialised eagerly after every reset so that IDs are reproducible
# (a backend's first initialisation draws random numbers, e.g. for the default VPC).
WARM_SERVICES = ("ec2", "elbv2", "ecs", "ecr", "iam", "codedeploy", "cloudwatch", "logs", "s3")


class RegionApp:
    """The WSGI callable served by :mod:`.server`."""

    def __init__(self, region: str = "us-west-2", seed: int = DEFAULT_SEED) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.region = region
        self.seed = seed
        self.lock = threading.RLock()
        self.clock = VirtualClock(lock=self.lock)
        self.started_at = time.time()
        self.requests = 0
        self._moto = DomainDispatcherApplication(create_backend_app)
        self.world = runtime.World(region, self.lock, self.clock, seed)
        runtime.install(self.world)
        engine_hooks.install()
        from .control import Control

        self.control = Control(self)
        self.reset()

    # -- state ---------------------------------------------------------------------------------
    def reset(self) -> None:
        """Empty region, seeded IDs, clock back at its start: the same region every time."""
        from moto.backends import get_backend
        from moto.moto_api._internal import mock_random
        from moto.moto_api._internal.models import moto_api_backend

        with self.lock:
            self.clock.reset()
            self.world.reset()
            moto_api_backend.reset()
            self.world.forget_backends()
            mock_random.seed(self.seed)
            for service in WARM_SERVICES:
                backends = get_backend(service)[ACCOUNT_ID]  # type: ignore[arg-type]
                # IAM and S3 are global: moto keeps one backend per partition ("aws").
                backends[self.region if self.region in backends.regions else "aws"]
            patches.after_reset(Context(ACCOUNT_ID, self.region))
            engine_hooks.install()  # re-arms moto's state manager, which a reset clears
            self.requests = 0

    # -- WSGI ----------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if self.world.lambdas.endpoint is None:
            # Lambda functions call the region back over HTTP; the first request tells us where it listens.
            self.world.lambdas.learn_endpoint(environ)
        if path.startswith("/_lab/") or path == "/_lab":
            return self.control(environ, start_response)
        request = parse(environ)
        if request is None:
            # Unsigned traffic: moto's own /moto-api dashboard and the like.
            with self.lock:
                return list(self._moto(environ, start_response))
        if runs_unlocked(request.service, request.action):
            return self._handle_unlocked(request, start_response)
        with self.lock:
            self.requests += 1
            try:
                return self._handle(request, environ, start_response)
            except AwsError as err:
                return self._error(err, request, start_response)

    def _check(self, request: AwsRequest, ctx: Context) -> None:
        for check in checks_for(request.service, request.action):
            check(request, ctx)
        if request.service == "ec2" and request.flag("DryRun"):
            # AWS answers a dry run after checking the request; moto ignores DryRun on some calls
            # and creates the resource anyway, which would teach the opposite of what DryRun means.
            raise AwsError("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", status=412)

    def _handle_unlocked(self, request: AwsRequest, start_response: Any) -> list[bytes]:
        """Rules under the lock, then the handler without it (see :func:`.rules.handler`)."""
        ctx = Context(ACCOUNT_ID, request.region)
        answer = handler_for(request.service, request.action)
        assert answer is not None  # runs_unlocked() is only true for a registered handler
        try:
            with self.lock:
                self.requests += 1
                self._check(request, ctx)
            return self._answer(request, answer(request, ctx), start_response)
        except AwsError as err:
            return self._error(err, request, start_response)
        except Exception as exc:  # a lab bug: never show its traceback to a learner
            return self._error(_internal(request, exc), request, start_response)

    def _handle(self, request: AwsRequest, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        ctx = Context(ACCOUNT_ID, request.region)
        self._check(request, ctx)
        runtime.set_request_params(request.params)
        answer = handler_for(request.service, request.action)
        if answer is not None:
            return self._answer(request, answer(request, ctx), start_response)
        request.apply_to(environ)
        status, headers, body = self._call_moto(request, environ)
        code = int(status.split()[0])
        if code >= 500:
            raise _translate_moto_failure(request, body.decode("utf-8", "replace"))
        if code < 300:
            for hook in hooks_for(request.service, request.action):
                hook(request, ctx, code, body)
        start_response(status, headers)
        return [body]

    def _call_moto(self, request: AwsRequest, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            captured["status"], captured["headers"] = status, headers

        try:
            chunks = self._moto(environ, capture)
            body = b"".join(chunks)
            if hasattr(chunks, "close"):
                chunks.close()
        except NotImplementedError as exc:
            raise _not_implemented(request, str(exc)) from None
        except AwsError:
            raise
        except Exception as exc:  # a moto bug: never show its traceback to a learner
            raise _internal(request, exc) from None
        return captured["status"], captured["headers"], body

    def _answer(self, request: AwsRequest, payload: dict[str, Any] | RawResponse, start_response: Any) -> list[bytes]:
        if isinstance(payload, RawResponse):
            from http import HTTPStatus

            headers = [(k, v) for k, v in payload.headers.items() if k.lower() != "content-length"]
            headers += [("x-amzn-RequestId", request.request_id), ("Content-Length", str(len(payload.body)))]
            start_response(f"{payload.status} {HTTPStatus(payload.status).phrase}", headers)
            return [payload.body]
        if request.protocol != "json":
            raise AwsError("InternalFailure", f"the lab cannot answer {request.service}:{request.action} itself")
        import json

        body = json.dumps(payload, default=_json_default).encode()
        start_response(
            "200 OK",
            [
                ("Content-Type", "application/x-amz-json-1.1"),
                ("x-amzn-RequestId", request.request_id),
                ("Content-Length", str(len(body))),
            ],
        )
        return [body]

    def _error(self, err: AwsError, request: AwsRequest, start_response: Any) -> list[bytes]:
        status, headers, body = error_response(err, request.protocol, request.request_id)
        start_response(status, headers)
        return [body]


def _json_default(value: Any) -> Any:
    """Datetimes travel as epoch seconds in AWS's JSON protocols (botocore parses them back)."""
    import datetime

    if isinstance(value, datetime.datetime):
        return value.timestamp()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _not_implemented(request: AwsRequest, text: str) -> AwsError:
    if "filter" in text.lower() and "has not been implemented" in text:
        # moto: "The filter 'bogus' for DescribeSubnets has not been implemented in Moto yet."
        name = text.split("'")[1] if "'" in text else "?"
        return AwsError("InvalidParameterValue", f"The filter '{name}' is invalid")
    return AwsError(
        "UnsupportedOperation",
        f"The offline lab region does not support {request.service}:{request.action} yet. "
        "It works on real AWS; the lab has no emulation for it. If a lesson needs it, please open an issue.",
    )


def _internal(request: AwsRequest, exc: BaseException) -> AwsError:
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    origin = f" ({os.path.basename(where.filename)}:{where.lineno})" if where else ""
    # Status 400, not 500: SDKs retry 5xx, and retrying a half-applied create could duplicate it.
    return AwsError(
        "InternalFailure",
        f"The offline lab region failed on {request.service}:{request.action}: "
        f"{type(exc).__name__}: {exc}{origin}. This is a bug in the lab, not in your request; "
        "`python -m labsupport region reset` starts clean. Please report it with the call you made.",
    )


def _translate_moto_failure(request: AwsRequest, text: str) -> AwsError:
    if "NotImplementedError" in text or "has not been implemented" in text:
        return _not_implemented(request, text)
    return AwsError(
        "InternalFailure",
        f"The offline lab region failed on {request.service}:{request.action}. "
        "This is a bug in the lab, not in your request; please report it with the call you made.",
    )
