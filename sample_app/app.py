"""The lab's sample web app: the "Hello World" container that every ECS task in the workbook runs.

One small WSGI application, standard library only, so that

* the offline region can import it and call one instance per task (``make_app(env, clock=...,
  task_id=...)``) with the task definition's ``environment``, and
* the very same file, built with ``sample_app/Dockerfile``, runs on real Fargate behind a real ALB.

Everything the app does comes from environment variables (see ``sample_app/README.md``). The lab's
"bad releases" are nothing but task definitions that set some of them: ``FAIL_HEALTH`` (the target
group health check fails), ``ERROR_RATE`` (users see 500s but health checks pass), ``SLOW_START_SECONDS``
(health answers 503 for a while), ``CRASH_ON_START`` (the container exits with code 1).

Run it standalone with ``python -m sample_app`` or ``python sample_app/app.py`` (listens on
0.0.0.0:$PORT, default 80).
"""

from __future__ import annotations

import html
import json
import math
import os
import signal
import socket
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from fractions import Fraction
from socketserver import ThreadingMixIn
from typing import Any, NamedTuple
from urllib.parse import quote
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.util import setup_testing_defaults

__all__ = [
    "DEFAULTS",
    "App",
    "AppConfigError",
    "AppCrashed",
    "Response",
    "main",
    "make_app",
    "request_fails",
]

# The family and container name of the seed notes (my-app-frontend, port 80). APP_NAME is an extra
# variable beyond the brief so the page can say which service answered; it rarely needs changing.
DEFAULTS: dict[str, str] = {
    "APP_NAME": "my-app-frontend",
    "APP_VERSION": "v1",
    "APP_COLOUR": "blue",
    "APP_MESSAGE": "Hello World",
    "HEALTH_PATH": "/health",
    "FAIL_HEALTH": "false",
    "ERROR_RATE": "0",
    "SLOW_START_SECONDS": "0",
    "RESPONSE_DELAY_MS": "0",
    "CRASH_ON_START": "false",
    "PORT": "80",
}

INFO_PATH = "/api/info"
EXIT_CODE = 1  # what a crashed container reports; ECS shows it as the task's exitCode

# Length limits keep the page under 1 KB and the response headers sane.
_MAX_LEN = {"APP_NAME": 40, "APP_VERSION": 32, "APP_COLOUR": 32, "APP_MESSAGE": 80, "HEALTH_PATH": 100}

# CSS named colours: only these paint the band in the page, so free text ("green-ish", "緑") can
# never inject CSS; anything else gets a neutral grey band and is still shown as text.
_CSS_COLOUR_NAMES = """aliceblue antiquewhite aqua aquamarine azure beige bisque black blanchedalmond blue blueviolet
    brown burlywood cadetblue chartreuse chocolate coral cornflowerblue cornsilk crimson cyan darkblue
    darkcyan darkgoldenrod darkgray darkgreen darkgrey darkkhaki darkmagenta darkolivegreen darkorange
    darkorchid darkred darksalmon darkseagreen darkslateblue darkslategray darkslategrey darkturquoise
    darkviolet deeppink deepskyblue dimgray dimgrey dodgerblue firebrick floralwhite forestgreen fuchsia
    gainsboro ghostwhite gold goldenrod gray green greenyellow grey honeydew hotpink indianred indigo
    ivory khaki lavender lavenderblush lawngreen lemonchiffon lightblue lightcoral lightcyan
    lightgoldenrodyellow lightgray lightgreen lightgrey lightpink lightsalmon lightseagreen lightskyblue
    lightslategray lightslategrey lightsteelblue lightyellow lime limegreen linen magenta maroon
    mediumaquamarine mediumblue mediumorchid mediumpurple mediumseagreen mediumslateblue
    mediumspringgreen mediumturquoise mediumvioletred midnightblue mintcream mistyrose moccasin
    navajowhite navy oldlace olive olivedrab orange orangered orchid palegoldenrod palegreen
    paleturquoise palevioletred papayawhip peachpuff peru pink plum powderblue purple rebeccapurple red
    rosybrown royalblue saddlebrown salmon sandybrown seagreen seashell sienna silver skyblue slateblue
    slategray slategrey snow springgreen steelblue tan teal thistle tomato turquoise violet wheat white
    whitesmoke yellow yellowgreen"""
_CSS_COLOURS = frozenset(_CSS_COLOUR_NAMES.split())
_NEUTRAL_BAND = "#9e9e9e"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{name} {version}</title><link rel="icon" href="data:,">
<style>body{{margin:0;font:18px/1.5 system-ui,sans-serif;color:#222;background:#fafafa}}
.band{{height:2.5rem;background:{band};border-bottom:1px solid #0003}}
main{{padding:1.5rem 2rem}}h1{{margin:0 0 .4rem}}p{{margin:0;color:#555}}</style></head>
<body><div class="band"></div><main><h1>{message}</h1>
<p>— {name} <b>{version}</b> ({colour}) — served by task <code>{task}</code></p></main></body></html>
"""


class AppCrashed(RuntimeError):
    """The container "exited" while starting (``CRASH_ON_START``); ``str()`` is its last log line.

    ``exit_code`` is what ECS would report for the stopped container.
    """

    exit_code = EXIT_CODE


class AppConfigError(ValueError):
    """An environment variable has a value the app cannot use.

    ``variable`` names it; ``problem`` and ``fix`` mirror ``labsupport.errors.LabError`` (which this
    standalone app cannot import: the container holds only ``sample_app``) so the region can turn it
    into a ``LabError`` unchanged. A real container would print ``str()`` and exit with ``exit_code``.
    """

    exit_code = EXIT_CODE

    def __init__(self, variable: str, problem: str, fix: str) -> None:
        self.variable = variable
        self.problem = problem.rstrip()
        self.fix = fix.rstrip()
        super().__init__(f"{self.problem} Fix: {self.fix}")


class Response(NamedTuple):
    """What :meth:`App.fetch` returns: the status code, the headers, and the body bytes."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8")


def request_fails(n: int, rate: float | Fraction) -> bool:
    """Whether the ``n``-th page request (1-based) fails under ``ERROR_RATE=rate``.

    Deterministic on purpose, so an exercise can predict the errors: request ``n`` fails when
    ``floor(n*rate) > floor((n-1)*rate)``. With 0.1 that is requests 10, 20, 30, ...; with 0.25
    requests 4, 8, 12, ...; with 0 none and with 1 all. Exact fractions avoid float drift
    (0.1 * 30 is 3.0000000000000004 in floating point).
    """
    if n < 1:
        raise ValueError(f"request numbers start at 1, got {n}")
    exact = rate if isinstance(rate, Fraction) else Fraction(str(rate))
    return math.floor(n * exact) > math.floor((n - 1) * exact)


# -- parsing the environment -------------------------------------------------------------------------


def _raw(env: Mapping[str, str], name: str) -> str:
    # ECS passes every value as a string; an empty value means "not set", as for most real apps.
    value = env.get(name)
    if value is None or str(value).strip() == "":
        return DEFAULTS[name]
    return str(value)


def _text(env: Mapping[str, str], name: str) -> str:
    value = _raw(env, name).strip()
    limit = _MAX_LEN[name]
    if len(value) > limit:
        raise AppConfigError(
            name,
            f"{name} is {len(value)} characters long; the app accepts at most {limit}.",
            f"shorten {name} in the task definition's environment to {limit} characters or fewer.",
        )
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise AppConfigError(
            name,
            f"{name}={value!r} contains a control character (a newline or tab?).",
            f"set {name} to a single line of plain text.",
        )
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = _raw(env, name).strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise AppConfigError(
        name,
        f"{name}={_raw(env, name)!r} is not a true/false value.",
        f'set {name} to "true" or "false" (or remove it: the default is "{DEFAULTS[name]}").',
    )


def _number(
    env: Mapping[str, str], name: str, *, low: Fraction, high: Fraction, unit: str, example: str, bounds: str = ""
) -> Fraction:
    text = _raw(env, name).strip()
    bounds = bounds or f"between {_fmt(low)} and {_fmt(high)}"
    try:
        value = Fraction(text)  # exact: "0.1" is 1/10; rejects "nan", "inf" and words
    except (ValueError, ZeroDivisionError):
        value = None
    if value is None or not low <= value <= high:
        what = "is not a number" if value is None else "is out of range"
        raise AppConfigError(
            name,
            f"{name}={text!r} {what}: it must be {unit} {bounds}.",
            f"set {name} to {unit} {bounds}, for example {example}.",
        )
    return value


def _fmt(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else str(float(value))


def _health_path(env: Mapping[str, str]) -> str:
    path = _text(env, "HEALTH_PATH")
    if not path.startswith("/") or any(ch in path for ch in " ?#"):
        raise AppConfigError(
            "HEALTH_PATH",
            f"HEALTH_PATH={path!r} is not a URL path.",
            'start HEALTH_PATH with "/" and leave out spaces, "?" and "#", e.g. "/health".',
        )
    if path in ("/", INFO_PATH):
        raise AppConfigError(
            "HEALTH_PATH",
            f"HEALTH_PATH={path!r} would hide the app's own page at that path.",
            'use a separate path such as "/health" (and the same path in the target group health check).',
        )
    return path


# -- the app -----------------------------------------------------------------------------------------


class App:
    """One running copy of the sample app (one ECS task). Call it as a WSGI application.

    Public attributes: ``name``, ``version``, ``colour``, ``message``, ``health_path``,
    ``fail_health``, ``error_rate`` (float), ``slow_start_seconds``, ``delay_ms``, ``port``,
    ``task_id``, ``started_at`` (``clock()`` at start), ``requests`` (page requests answered, which
    ``ERROR_RATE`` counts) and ``health_checks`` (requests to the health path). Build it with
    :func:`make_app`.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        clock: Callable[[], float],
        task_id: str,
        log: Callable[[str], None] | None,
        sleep: Callable[[float], None] | None,
    ) -> None:
        self.name = _text(env, "APP_NAME")
        self.version = _text(env, "APP_VERSION")
        self.colour = _text(env, "APP_COLOUR")
        self.message = _text(env, "APP_MESSAGE")
        self.health_path = _health_path(env)
        self.fail_health = _flag(env, "FAIL_HEALTH")
        self._error_rate = _number(
            env,
            "ERROR_RATE",
            low=Fraction(0),
            high=Fraction(1),
            unit="a fraction",
            example="0.1 (every 10th request fails)",
            bounds="from 0.0 to 1.0",
        )
        self.error_rate = float(self._error_rate)
        self.slow_start_seconds = float(
            _number(env, "SLOW_START_SECONDS", low=Fraction(0), high=Fraction(3600), unit="seconds", example="30")
        )
        delay = _number(
            env, "RESPONSE_DELAY_MS", low=Fraction(0), high=Fraction(600_000), unit="milliseconds", example="250"
        )
        if delay.denominator != 1:
            raise AppConfigError(
                "RESPONSE_DELAY_MS",
                f"RESPONSE_DELAY_MS={_raw(env, 'RESPONSE_DELAY_MS')!r} is not a whole number of milliseconds.",
                "set RESPONSE_DELAY_MS to a whole number such as 250.",
            )
        self.delay_ms = int(delay)
        port = _number(env, "PORT", low=Fraction(1), high=Fraction(65535), unit="a port number", example="80")
        if port.denominator != 1:
            raise AppConfigError("PORT", f"PORT={_raw(env, 'PORT')!r} is not a whole number.", "set PORT to e.g. 80.")
        self.port = int(port)
        self.task_id = str(task_id)
        self.clock = clock
        self.started_at = float(clock())
        self.requests = 0
        self.health_checks = 0
        self._log = log
        self._sleep = sleep
        # The standalone server answers on several threads; the counters must not skip or repeat.
        self._lock = threading.Lock()
        band = self.colour.lower() if self.colour.lower() in _CSS_COLOURS else _NEUTRAL_BAND
        self._band = band
        self._emit(
            f"{self.name} {self.version} ({self.colour}) starting on task {self.task_id}; "
            f"health check path {self.health_path}"
        )

    # -- state ------------------------------------------------------------------------------------

    def uptime(self) -> float:
        """Seconds since the app started, by the app's clock (the region's virtual clock)."""
        return max(0.0, float(self.clock()) - self.started_at)

    @property
    def ready(self) -> bool:
        """False while ``SLOW_START_SECONDS`` have not yet passed since ``started_at``."""
        return self.uptime() >= self.slow_start_seconds

    def health(self) -> tuple[int, str]:
        """What the health path answers right now: ``(200, "ok")``, ``(500, ...)`` or ``(503, "starting")``.

        Starting comes first: an app that is still starting cannot yet know it is broken.
        """
        if not self.ready:
            return 503, "starting"
        if self.fail_health:
            return 500, "unhealthy: FAIL_HEALTH is set"
        return 200, "ok"

    def info(self) -> dict[str, Any]:
        """The JSON document of ``/api/info`` (and of ``/`` asked with ``Accept: application/json``)."""
        return {
            "version": self.version,
            "colour": self.colour,
            "message": self.message,
            "task": self.task_id,
            "requests": self.requests,
            "uptime_seconds": round(self.uptime(), 3),
        }

    def page(self) -> str:
        """The HTML page of ``/`` (under 1 KB; a band in the app colour when it is a CSS colour name)."""
        esc = html.escape
        return _PAGE.format(
            name=esc(self.name),
            version=esc(self.version),
            colour=esc(self.colour),
            message=esc(self.message),
            task=esc(self.task_id),
            band=self._band,
        )

    # -- WSGI -------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = str(environ.get("PATH_INFO") or "/")
        status, content_type, body, extra = self._route(method, path, str(environ.get("HTTP_ACCEPT", "")))
        if self._sleep is not None and self.delay_ms:
            # Only the standalone server sleeps; in the region latency is virtual (see make_app).
            self._sleep(self.delay_ms / 1000)
        data = body.encode("utf-8")
        headers = [
            ("Content-Type", content_type),
            ("Content-Length", str(len(data))),
            ("Cache-Control", "no-store"),  # so a browser refresh shows which task answered
            ("X-App-Version", _header_value(self.version)),
            ("X-App-Colour", _header_value(self.colour)),
            ("X-Served-By", _header_value(self.task_id)),
            ("X-App-Delay-Ms", str(self.delay_ms)),
            *extra,
        ]
        start_response(f"{status} {_REASONS[status]}", headers)
        self._emit(
            f'{_clean(environ.get("REMOTE_ADDR", "-"))} "{_clean(method)} {_clean(path)}" {status} {len(data)} '
            f"task={self.task_id} version={self.version}"
        )
        return [b""] if method == "HEAD" else [data]

    def _route(self, method: str, path: str, accept: str) -> tuple[int, str, str, list[tuple[str, str]]]:
        plain = "text/plain; charset=utf-8"
        known = path in ("/", INFO_PATH, self.health_path)
        if not known:
            return 404, plain, f"not found: {path}\n", []
        if method not in ("GET", "HEAD"):
            return 405, plain, f"method {method} not allowed; use GET or HEAD\n", [("Allow", "GET, HEAD")]
        if path == self.health_path:
            with self._lock:
                self.health_checks += 1
            status, text = self.health()
            return status, plain, text + "\n", []
        if not self.ready:
            # Still starting: the app is up but not serving yet, so users get the same 503.
            return 503, plain, "starting\n", []
        with self._lock:
            self.requests += 1
            n = self.requests
        vary = [("Vary", "Accept")] if path == "/" else []
        if request_fails(n, self._error_rate):
            return 500, plain, f"internal server error (ERROR_RATE={self.error_rate:g}; request {n})\n", vary
        if path == INFO_PATH or _wants_json(accept):
            return 200, "application/json", json.dumps(self.info(), ensure_ascii=False) + "\n", vary
        return 200, "text/html; charset=utf-8", self.page(), vary

    def fetch(
        self, path: str = "/", *, method: str = "GET", accept: str = "*/*", remote_addr: str = "10.0.0.1"
    ) -> Response:
        """Send one request through the WSGI interface and return the :class:`Response`.

        A convenience for notebooks and tests: the same code path a real HTTP request takes.
        """
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "HTTP_ACCEPT": accept,
            "REMOTE_ADDR": remote_addr,
        }
        setup_testing_defaults(environ)
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            captured["status"] = int(status.split()[0])
            captured["headers"] = dict(headers)

        body = b"".join(self(environ, start_response))
        return Response(captured["status"], captured["headers"], body)

    def _emit(self, line: str) -> None:
        if self._log is not None:
            self._log(line)

    def __repr__(self) -> str:
        return f"<App {self.name} {self.version} ({self.colour}) task={self.task_id} requests={self.requests}>"


_REASONS = {
    200: "OK",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def _wants_json(accept: str) -> bool:
    """True when ``Accept`` names application/json at least as strongly as text/html.

    Browsers never list application/json and ``*/*`` (curl's default) gets HTML, so only an
    explicit ``Accept: application/json`` gets JSON from ``/``.
    """
    quality: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        quality[media.lower()] = max(q, quality.get(media.lower(), 0.0))
    json_q = quality.get("application/json", 0.0)
    return json_q > 0 and json_q >= quality.get("text/html", 0.0)


def _header_value(value: str) -> str:
    # WSGI header values must be latin-1; free text such as "緑" is percent-encoded instead.
    return quote(value, safe=" !\"#$&'()*+,-./:;<=>?@[\\]^_`{|}~")


def _clean(value: Any) -> str:
    # One request, one log line: never let a crafted path break the line.
    return "".join(ch if ch.isprintable() else "?" for ch in str(value))


def make_app(
    env: Mapping[str, str],
    *,
    clock: Callable[[], float] = time.time,
    task_id: str = "local",
    log: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> App:
    """Start one copy of the sample app with the task definition's ``environment`` as ``env``.

    ``clock`` gives the time in seconds (the region passes its virtual clock, so ``SLOW_START_SECONDS``
    runs on virtual time); ``task_id`` is shown in the page and the ``X-Served-By`` header; ``log``
    receives one line at start and one per request (a container's stdout, e.g. for CloudWatch Logs);
    ``sleep``, when given, really waits ``RESPONSE_DELAY_MS`` per request (only the standalone
    server passes it: inside the region latency is accounted for virtually).

    Raises :class:`AppCrashed` when ``CRASH_ON_START`` is true, and :class:`AppConfigError` naming the
    variable and its valid values when a variable cannot be used. Both mean "the container exited
    with code 1".
    """
    if _flag(env, "CRASH_ON_START"):
        message = "Error: CRASH_ON_START is set; exiting with code 1"
        if log is not None:
            log(message)
        raise AppCrashed(message)
    return App(env, clock=clock, task_id=task_id, log=log, sleep=sleep)


# -- standalone server (python -m sample_app) --------------------------------------------------------


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    # One slow request (RESPONSE_DELAY_MS) must not hold up the health check behind it.
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        # The app prints its own access line (with the task and version); don't print a second one.
        pass


def _task_id_from_runtime(environ: Mapping[str, str]) -> str:
    """The ECS task id when running on ECS (from the task metadata endpoint), else the host name."""
    uri = environ.get("ECS_CONTAINER_METADATA_URI_V4")
    if uri:
        try:
            with urllib.request.urlopen(uri.rstrip("/") + "/task", timeout=2) as answer:
                arn = json.load(answer).get("TaskARN", "")
            if arn:
                return str(arn).rsplit("/", 1)[-1]
        except (OSError, ValueError):
            pass  # no metadata: fall back to the host name rather than refuse to start
    return socket.gethostname()


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Serve the app on 0.0.0.0:$PORT until SIGTERM/Ctrl-C; return the process exit code."""
    del argv  # no options: the container is configured only through its environment, like on ECS
    env = dict(os.environ if environ is None else environ)

    def log(line: str) -> None:
        print(line, flush=True)

    try:
        app = make_app(env, task_id=_task_id_from_runtime(env), log=log, sleep=time.sleep)
    except (AppCrashed, AppConfigError) as err:
        if isinstance(err, AppConfigError):
            print(f"Error: {err}", file=sys.stderr, flush=True)
        return err.exit_code

    def on_sigterm(signum: int, frame: Any) -> None:
        # ECS stops a task with SIGTERM, then SIGKILL after stopTimeout; Python as PID 1 would
        # otherwise ignore SIGTERM and always wait for the kill.
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_sigterm)
    server = make_server("0.0.0.0", app.port, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
    log(f"Serving {app.name} {app.version} on http://0.0.0.0:{app.port}/ (health: {app.health_path})")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        log("Stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
