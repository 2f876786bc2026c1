"""The containers' processes: one instance of the sample app's real code per running task.

On Fargate each task runs its container image; here each RUNNING task gets an instance of the
lab's sample app (``sample_app/app.py``, the same code the Dockerfile packages), configured with
the task definition's environment variables and the region's virtual clock. The load balancer's
health checks and the loopback listeners call these instances through WSGI, in-process: a request
through the lab's ALB really executes the app's code, and the response says which task served it.

Instances are keyed by ``(ip, port)``, the address a target group registers.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# The sample app is its own package at the repository root: it is also a standalone container image.
from sample_app.app import AppConfigError, AppCrashed, make_app


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Instance:
    """One running container: its app, where it listens, and which task it belongs to."""

    ip: str
    port: int
    task_arn: str
    task_id: str
    app: Any
    env: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, headers: Mapping[str, str] | None = None, body: bytes = b"") -> Response:
        """Send one HTTP request to the app (in-process WSGI) and return its response."""
        path_only, _, query = path.partition("?")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path_only or "/",
            "QUERY_STRING": query,
            "SERVER_NAME": self.ip,
            "SERVER_PORT": str(self.port),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "10.0.1.10",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(),
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "CONTENT_LENGTH": str(len(body)),
        }
        for key, value in (headers or {}).items():
            name = key.upper().replace("-", "_")
            if name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[name] = value
            else:
                environ[f"HTTP_{name}"] = value
        captured: dict[str, Any] = {}

        def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            captured["status"] = int(status.split()[0])
            captured["headers"] = dict(response_headers)

        chunks = self.app(environ, start_response)
        try:
            data = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        return Response(captured.get("status", 500), captured.get("headers", {}), data)


class AppHost:
    """Running app instances by (ip, port)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._instances: dict[tuple[str, int], Instance] = {}

    def start(self, ip: str, port: int, task_arn: str, env: Mapping[str, str]) -> Instance:
        """Start the container's app; raises ``AppCrashed``/``AppConfigError`` like a failing container."""
        task_id = task_arn.rsplit("/", 1)[-1]
        app = make_app(dict(env), clock=self._clock, task_id=task_id[:12])
        instance = Instance(ip=ip, port=port, task_arn=task_arn, task_id=task_id, app=app, env=dict(env))
        self._instances[(ip, port)] = instance
        return instance

    def stop(self, ip: str, port: int | None = None) -> None:
        for key in [k for k in self._instances if k[0] == ip and (port is None or k[1] == port)]:
            del self._instances[key]

    def get(self, ip: str, port: int) -> Instance | None:
        return self._instances.get((ip, port))

    def clear(self) -> None:
        self._instances.clear()

    def __len__(self) -> int:
        return len(self._instances)


__all__ = ["AppConfigError", "AppCrashed", "AppHost", "Instance", "Response"]
