"""The lab's sample web app (the container every ECS task runs). See ``sample_app/README.md``.

Standard library only, so the offline region can import it with no extra dependency and the
container image stays tiny.
"""

from __future__ import annotations

from .app import DEFAULTS, App, AppConfigError, AppCrashed, Response, main, make_app, request_fails

__all__ = ["DEFAULTS", "App", "AppConfigError", "AppCrashed", "Response", "main", "make_app", "request_fails"]
