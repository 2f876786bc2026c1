"""The registry of AWS rules the region enforces before moto sees a request.

A rule is a function ``check(request, ctx)`` registered for one (service, action). It may:

- raise :class:`~labsupport.region.protocol.AwsError` to refuse the request as AWS would;
- change ``request.params`` (via ``request.set``) to fix it up the way AWS does silently
  (for example, canonicalising a CIDR whose host bits are set).

After moto has answered, ``after`` hooks registered the same way may correct moto's models (for
example, giving a NAT gateway an address from its own subnet). Rules receive a :class:`Context` that
exposes moto's backends for look-ups; that is why rules live inside the region package.

Keeping every rule in this registry (rather than scattered through middleware code) means one
place answers the question "which AWS rules does the lab enforce?": :func:`catalogue`.
"""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .protocol import AwsError, AwsRequest

Check = Callable[[AwsRequest, "Context"], None]
After = Callable[[AwsRequest, "Context", int, bytes], None]


@dataclass
class RawResponse:
    """A complete HTTP answer from a handler: for REST protocols, where the body is not always JSON
    and the status and headers carry results (Lambda ``Invoke``: 202 for an async invocation, the
    ``X-Amz-Function-Error`` header for a failed function)."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[AwsRequest, "Context"], "dict[str, Any] | RawResponse"]

_BEFORE: dict[tuple[str, str], list[Check]] = {}
_AFTER: dict[tuple[str, str], list[After]] = {}
_HANDLERS: dict[tuple[str, str], Handler] = {}
_UNLOCKED: set[tuple[str, str]] = set()


@dataclass
class Context:
    """What a rule may consult: the account and region of the request, and moto's backends."""

    account_id: str
    region: str

    def backend(self, service: str) -> Any:
        from moto.backends import get_backend

        backends = get_backend(service)[self.account_id]  # type: ignore[arg-type]
        # IAM and S3 are global: moto keeps one backend per partition ("aws"), not per region.
        return backends[self.region if self.region in backends.regions else "aws"]


def rule(service: str, *actions: str) -> Callable[[Check], Check]:
    """Register ``check`` to run before moto for each of ``actions`` of ``service``.

    A rule that refuses raises ``AwsError``. Any other exception is a bug in the rule: it is
    logged to the region's log and the request goes on to moto, so a lab bug never hides the
    answer a learner would otherwise get.
    """

    def register(check: Check) -> Check:
        @functools.wraps(check)
        def guarded(request: AwsRequest, ctx: Context) -> None:
            try:
                check(request, ctx)
            except AwsError:
                raise
            except Exception:
                print(f"labsupport region: rule {check.__name__} failed, request passed to moto:", file=sys.stderr)
                traceback.print_exc(file=sys.stderr)

        for action in actions:
            _BEFORE.setdefault((service, action), []).append(guarded)
        return check

    return register


def after(service: str, *actions: str) -> Callable[[After], After]:
    """Register a hook to run after moto answered ``actions`` successfully."""

    def register(hook: After) -> After:
        for action in actions:
            _AFTER.setdefault((service, action), []).append(hook)
        return hook

    return register


def handler(service: str, *actions: str, locked: bool = True) -> Callable[[Handler], Handler]:
    """Register a function that answers ``actions`` itself (moto never sees the request).

    For operations moto does not implement or only stores (CodeDeploy deployments, ECS service
    deployments, Lambda invocations): the function returns either the response body as a dict,
    which the region sends as JSON (JSON protocols only), or a :class:`RawResponse` (any protocol).

    ``locked=False`` runs the handler *without* the region lock (the rules for the action still run
    under it). Only for a handler that waits on something that itself needs the region, such as a
    Lambda function calling back into the region over HTTP; such a handler takes ``world.lock``
    itself, briefly, around every read or change of the region's state.
    """

    def register(answer: Handler) -> Handler:
        for action in actions:
            _HANDLERS[(service, action)] = answer
            if locked:
                _UNLOCKED.discard((service, action))
            else:
                _UNLOCKED.add((service, action))
        return answer

    return register


def handler_for(service: str, action: str) -> Handler | None:
    return _HANDLERS.get((service, action))


def runs_unlocked(service: str, action: str) -> bool:
    """Was the handler for (service, action) registered with ``locked=False``?"""
    return (service, action) in _UNLOCKED


def checks_for(service: str, action: str) -> list[Check]:
    return _BEFORE.get((service, action), [])


def hooks_for(service: str, action: str) -> list[After]:
    return _AFTER.get((service, action), [])


def catalogue() -> list[dict[str, str]]:
    """Every registered rule with its first docstring line: the list of AWS rules the lab enforces."""
    rows = []
    for (service, action), checks in sorted(_BEFORE.items()):
        for check in checks:
            doc = (check.__doc__ or "").strip().splitlines()
            rows.append({"service": service, "action": action, "rule": doc[0] if doc else check.__name__})
    return rows
