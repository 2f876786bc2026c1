"""The terminal side of the offline region: ``python -m labsupport region|env|clock``, as a learner types it.

Each region here lives in its own temporary ``LABSUPPORT_HOME`` on a port the OS picks
(``LABSUPPORT_PORT=0``), so it never meets the session region of conftest.py or a developer's own
lab on 4747, and it is stopped at the end even when a test fails.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def cli_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(LABSUPPORT_HOME=str(home), LABSUPPORT_PORT="0")
    return env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "labsupport", *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=120
    )


def pid_in(text: str) -> int:
    match = re.search(r"pid (\d+)", text)
    assert match, f"no pid in {text!r}"
    return int(match.group(1))


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (a container's init may be slow to reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (OSError, IndexError):
        return False


def stop_for_sure(env: dict[str, str], home: Path) -> None:
    """Stop the region politely; if it somehow survives, end that one process by its pid."""
    state = home / "region.json"
    pid = json.loads(state.read_text())["pid"] if state.exists() else None
    run(env, "region", "stop")
    if pid is not None and alive(pid):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], int]]:
    """A region started through the CLI for this module; yields its env and pid."""
    home = tmp_path_factory.mktemp("cli-home")
    env = cli_env(home)
    try:
        result = run(env, "region", "start")
        assert result.returncode == 0, result.stderr
        yield env, pid_in(result.stdout)
    finally:
        stop_for_sure(env, home)


def test_status_of_a_stopped_region_exits_3(tmp_path: Path) -> None:
    result = run(cli_env(tmp_path), "region", "status")
    assert result.returncode == 3
    assert "not running" in result.stdout and "region start" in result.stdout


def test_start_prints_the_endpoint_and_starting_again_reuses_it(started: tuple[dict[str, str], int]) -> None:
    env, pid = started
    again = run(env, "region", "start")
    assert again.returncode == 0, again.stderr
    assert pid_in(again.stdout) == pid
    assert re.search(r"http://127\.0\.0\.1:\d+", again.stdout)


def test_status_of_a_running_region(started: tuple[dict[str, str], int]) -> None:
    env, pid = started
    result = run(env, "region", "status")
    assert result.returncode == 0, result.stderr
    assert "running at http://127.0.0.1:" in result.stdout and f"pid {pid}" in result.stdout


def test_env_output_is_eval_able_and_points_at_the_region(started: tuple[dict[str, str], int]) -> None:
    env, _ = started
    printed = run(env, "env")
    assert printed.returncode == 0, printed.stderr
    assert "AWS_ENDPOINT_URL=" in printed.stdout
    shell = subprocess.run(
        ["bash", "-c", f'eval "$({sys.executable} -m labsupport env)" && echo "$AWS_ENDPOINT_URL|$AWS_DEFAULT_REGION"'],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shell.returncode == 0, shell.stderr
    endpoint, region = shell.stdout.strip().split("|")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", endpoint) and region == "us-west-2"


def test_clock_advance_moves_the_clock_and_reset_rewinds_it(started: tuple[dict[str, str], int]) -> None:
    env, _ = started
    assert run(env, "region", "reset").returncode == 0
    assert "+0m00s" in run(env, "clock").stdout
    advanced = run(env, "clock", "advance", "5m")
    assert advanced.returncode == 0, advanced.stderr
    assert "+5m00s" in run(env, "clock").stdout
    reset = run(env, "region", "reset")
    assert reset.returncode == 0 and "reset" in reset.stdout
    assert "+0m00s" in run(env, "clock", "show").stdout


def test_a_nonsense_duration_names_the_fix(started: tuple[dict[str, str], int]) -> None:
    env, _ = started
    result = run(env, "clock", "advance", "banana")
    assert result.returncode == 2
    assert "Fix:" in result.stderr and "Traceback" not in result.stderr


def test_stop_ends_the_process_and_status_says_so(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    try:
        started = run(env, "region", "start")
        assert started.returncode == 0, started.stderr
        pid = pid_in(started.stdout)
        stopped = run(env, "region", "stop")
        assert stopped.returncode == 0 and "stopped" in stopped.stdout
        assert run(env, "region", "status").returncode == 3
        assert not alive(pid)
        assert "no offline region was running" in run(env, "region", "stop").stdout
    finally:
        stop_for_sure(env, tmp_path)
