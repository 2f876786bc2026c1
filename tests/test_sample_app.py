"""The sample app: called directly as a WSGI application, plus one real HTTP round trip."""

from __future__ import annotations

import html
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults
from wsgiref.validate import validator

import pytest

from sample_app import App, AppConfigError, AppCrashed, make_app, request_fails

REPO = Path(__file__).resolve().parents[1]


class FakeClock:
    """A clock the test moves by hand, like the region's virtual clock."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def call(app: Any, path: str = "/", method: str = "GET", **extra: str) -> tuple[int, dict[str, str], bytes]:
    """Call a WSGI app the way a server would, through wsgiref's validator (PEP 3333 conformance)."""
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": ""}
    environ.update(extra)
    setup_testing_defaults(environ)
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen["status"] = int(status.split()[0])
        seen["headers"] = dict(headers)
        return lambda data: None

    result = validator(app)(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        result.close()
    return seen["status"], seen["headers"], body


def visible_text(page: bytes) -> str:
    text = re.sub(r"<style>.*?</style>|<title>.*?</title>", " ", page.decode("utf-8"), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


# -- the page ---------------------------------------------------------------------------------------


def test_default_page_says_hello_world_with_version_colour_and_task() -> None:
    app = make_app({}, task_id="1a2b3c")
    status, headers, body = call(app)
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Hello World — my-app-frontend v1 (blue) — served by task 1a2b3c" in visible_text(body)
    assert headers["X-App-Version"] == "v1"
    assert headers["X-App-Colour"] == "blue"
    assert headers["X-Served-By"] == "1a2b3c"
    assert headers["Content-Length"] == str(len(body))
    assert "background:blue" in body.decode()


def test_page_follows_the_task_definition_environment() -> None:
    env = {"APP_VERSION": "v2", "APP_COLOUR": "green", "APP_MESSAGE": "Hello ECS"}
    status, headers, body = call(make_app(env, task_id="9f8e7d"))
    assert status == 200
    assert "Hello ECS — my-app-frontend v2 (green) — served by task 9f8e7d" in visible_text(body)
    assert (headers["X-App-Version"], headers["X-App-Colour"], headers["X-Served-By"]) == ("v2", "green", "9f8e7d")
    assert "background:green" in body.decode()


def test_page_is_small_even_at_the_longest_allowed_values() -> None:
    env = {"APP_NAME": "n" * 40, "APP_VERSION": "v" * 32, "APP_COLOUR": "c" * 32, "APP_MESSAGE": "世" * 80}
    _, _, body = call(make_app(env, task_id="0123456789abcdef0123456789abcdef"))
    assert len(body) < 1024
    assert len(make_app({}).fetch("/").body) < 700


def test_free_text_colour_is_escaped_and_gets_a_neutral_band() -> None:
    app = make_app({"APP_COLOUR": "緑 <b>", "APP_MESSAGE": "<script>x</script>"})
    status, headers, body = call(app)
    page = body.decode()
    assert status == 200
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "background:#9e9e9e" in page  # not a CSS colour name: no CSS from free text
    assert headers["X-App-Colour"] == "%E7%B7%91 <b>"  # headers must be latin-1
    assert app.colour == "緑 <b>"


def test_head_has_headers_but_no_body() -> None:
    status, headers, body = call(make_app({}), method="HEAD")
    assert status == 200 and body == b""
    assert int(headers["Content-Length"]) > 0


# -- JSON -------------------------------------------------------------------------------------------


def test_json_info_by_path_and_by_accept_header() -> None:
    clock = FakeClock()
    app = make_app({"APP_VERSION": "v2", "APP_COLOUR": "green"}, clock=clock, task_id="t1")
    clock.now += 12.5
    status, headers, body = call(app, "/api/info")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert json.loads(body) == {
        "version": "v2",
        "colour": "green",
        "message": "Hello World",
        "task": "t1",
        "requests": 1,
        "uptime_seconds": 12.5,
    }
    status, headers, body = call(app, "/", HTTP_ACCEPT="application/json")
    assert status == 200 and json.loads(body)["requests"] == 2
    assert headers["Vary"] == "Accept"


@pytest.mark.parametrize(
    ("accept", "json_wanted"),
    [
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", False),  # a browser
        ("*/*", False),  # curl
        ("application/json", True),
        ("application/json;q=0.5, text/html", False),
        ("application/json;q=0", False),
    ],
)
def test_accept_header_negotiation(accept: str, json_wanted: bool) -> None:
    _, headers, _ = call(make_app({}), "/", HTTP_ACCEPT=accept)
    assert (headers["Content-Type"] == "application/json") is json_wanted


# -- health -----------------------------------------------------------------------------------------


def test_health_ok_and_failing() -> None:
    assert call(make_app({}), "/health")[::2] == (200, b"ok\n")
    app = make_app({"FAIL_HEALTH": "true"})
    assert app.health() == (500, "unhealthy: FAIL_HEALTH is set")
    assert call(app, "/health")[::2] == (500, b"unhealthy: FAIL_HEALTH is set\n")
    assert call(app, "/")[0] == 200  # only the health check fails; the page still works


def test_slow_start_answers_503_until_the_clock_passes_then_200() -> None:
    clock = FakeClock(50.0)
    app = make_app({"SLOW_START_SECONDS": "30"}, clock=clock)
    assert app.started_at == 50.0
    assert call(app, "/health")[::2] == (503, b"starting\n")
    assert call(app, "/")[0] == 503
    clock.now = 79.9
    assert app.health() == (503, "starting")
    clock.now = 80.0
    assert app.health() == (200, "ok")
    assert call(app, "/health")[0] == 200
    assert call(app, "/")[0] == 200
    assert app.requests == 1  # the 503 while starting was not a served page
    assert app.health_checks == 2  # health() itself is a query; only requests count


def test_custom_health_path() -> None:
    app = make_app({"HEALTH_PATH": "/healthz"})
    assert call(app, "/healthz")[0] == 200
    assert call(app, "/health")[0] == 404


# -- error rate -------------------------------------------------------------------------------------


def test_error_rate_fails_exactly_every_tenth_request() -> None:
    app = make_app({"ERROR_RATE": "0.1"})
    statuses = [call(app, "/")[0] for _ in range(100)]
    failed = [n for n, status in enumerate(statuses, start=1) if status == 500]
    assert failed == list(range(10, 101, 10))
    assert app.requests == 100
    # health checks neither fail nor count
    assert all(call(app, "/health")[0] == 200 for _ in range(20))
    assert call(app, "/")[0] == 200 and app.requests == 101


def test_error_rate_zero_never_fails_and_one_always_fails() -> None:
    app = make_app({"ERROR_RATE": "0"})
    assert {call(app, "/")[0] for _ in range(50)} == {200}
    app = make_app({"ERROR_RATE": "1"})
    assert {call(app, "/")[0] for _ in range(5)} == {500}


def test_request_fails_formula_is_exact() -> None:
    assert [n for n in range(1, 13) if request_fails(n, 0.25)] == [4, 8, 12]
    # 0.1 * 30 is 3.0000000000000004 in floats; the exact rule still fails only 10, 20, 30, ...
    assert [n for n in range(1, 1001) if request_fails(n, 0.1)] == list(range(10, 1001, 10))
    assert sum(request_fails(n, 0.3) for n in range(1, 1001)) == 300


# -- routing ----------------------------------------------------------------------------------------


def test_unknown_path_is_404_and_other_methods_are_405() -> None:
    app = make_app({})
    assert call(app, "/nope")[0] == 404
    status, headers, _ = call(app, "/", method="POST")
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    assert call(app, "/health", method="DELETE")[0] == 405
    assert app.requests == 0


def test_response_delay_is_reported_not_slept() -> None:
    app = make_app({"RESPONSE_DELAY_MS": "250"})
    started = time.monotonic()
    _, headers, _ = call(app, "/")
    assert time.monotonic() - started < 0.2
    assert headers["X-App-Delay-Ms"] == "250" and app.delay_ms == 250
    slept: list[float] = []
    make_app({"RESPONSE_DELAY_MS": "250"}, sleep=slept.append).fetch("/")
    assert slept == [0.25]


def test_one_log_line_per_request() -> None:
    lines: list[str] = []
    app = make_app({"APP_VERSION": "v2"}, task_id="abc", log=lines.append)
    call(app, "/health", REMOTE_ADDR="10.0.1.25")
    assert lines[0].startswith("my-app-frontend v2 (blue) starting on task abc")
    assert lines[1:] == ['10.0.1.25 "GET /health" 200 3 task=abc version=v2']


def test_fetch_returns_a_response() -> None:
    response = make_app({}, task_id="x").fetch("/api/info")
    assert response.status == 200 and json.loads(response.text)["task"] == "x"
    assert isinstance(make_app({}), App)


# -- start-up failures ------------------------------------------------------------------------------


def test_crash_on_start_raises_like_a_container_exiting() -> None:
    lines: list[str] = []
    with pytest.raises(AppCrashed, match="exiting with code 1") as caught:
        make_app({"CRASH_ON_START": "true"}, log=lines.append)
    assert isinstance(caught.value, RuntimeError)
    assert caught.value.exit_code == 1
    assert lines == ["Error: CRASH_ON_START is set; exiting with code 1"]


@pytest.mark.parametrize(
    ("env", "variable", "words"),
    [
        ({"ERROR_RATE": "lots"}, "ERROR_RATE", "0.0 to 1.0"),
        ({"ERROR_RATE": "1.5"}, "ERROR_RATE", "out of range"),
        ({"ERROR_RATE": "nan"}, "ERROR_RATE", "not a number"),
        ({"SLOW_START_SECONDS": "-3"}, "SLOW_START_SECONDS", "between 0 and 3600"),
        ({"RESPONSE_DELAY_MS": "2.5"}, "RESPONSE_DELAY_MS", "whole number"),
        ({"FAIL_HEALTH": "maybe"}, "FAIL_HEALTH", '"true" or "false"'),
        ({"CRASH_ON_START": "sometimes"}, "CRASH_ON_START", '"true" or "false"'),
        ({"PORT": "http"}, "PORT", "between 1 and 65535"),
        ({"HEALTH_PATH": "health"}, "HEALTH_PATH", 'start HEALTH_PATH with "/"'),
        ({"HEALTH_PATH": "/"}, "HEALTH_PATH", "/health"),
        ({"APP_MESSAGE": "x" * 81}, "APP_MESSAGE", "at most 80"),
        ({"APP_VERSION": "v2\nX-Evil: 1"}, "APP_VERSION", "control character"),
    ],
)
def test_bad_environment_raises_a_clear_config_error(env: dict[str, str], variable: str, words: str) -> None:
    with pytest.raises(AppConfigError) as caught:
        make_app(env)
    err = caught.value
    assert isinstance(err, ValueError)
    assert err.variable == variable
    assert variable in str(err) and words in str(err) and "Fix:" in str(err)


def test_error_rate_message_names_variable_and_range() -> None:
    with pytest.raises(AppConfigError, match=r"ERROR_RATE='lots' .* from 0\.0 to 1\.0"):
        make_app({"ERROR_RATE": "lots"})


def test_empty_values_mean_defaults_and_flags_accept_common_spellings() -> None:
    app = make_app({"APP_VERSION": "", "FAIL_HEALTH": " TRUE ", "ERROR_RATE": "1/4", "PORT": "5000"})
    assert (app.version, app.fail_health, app.error_rate, app.port) == ("v1", True, 0.25, 5000)


# -- the real server --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_python_dash_m_serves_over_real_http() -> None:
    port = _free_port()
    env = {**os.environ, "PORT": str(port), "APP_VERSION": "v9", "APP_COLOUR": "red"}
    env.pop("ECS_CONTAINER_METADATA_URI_V4", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sample_app"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 4.0
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as answer:
                    status, headers, body = answer.status, answer.headers, answer.read()
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        assert status == 200
        assert headers["X-App-Version"] == "v9" and headers["X-App-Colour"] == "red"
        assert "Hello World — my-app-frontend v9 (red)" in visible_text(body)
    finally:
        proc.terminate()
        try:
            output = proc.communicate(timeout=2)[0].decode()
        except subprocess.TimeoutExpired:
            proc.kill()
            output = proc.communicate()[0].decode()
    # SIGTERM (what ECS sends) stops it cleanly, after one access line for our request
    assert proc.returncode == 0, output
    assert '"GET /" 200' in output
