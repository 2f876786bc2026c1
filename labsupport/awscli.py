"""Run a real AWS CLI command from a notebook cell, against the same lab the notebook uses.

Notebooks show the CLI equivalent next to the Python call. ``aws("ec2 describe-vpcs ...")`` runs
the actual AWS CLI (installed from PyPI with the lab) with the environment pointed at the lab
(offline: the region's endpoint and fake keys) and prints what the CLI prints. It is the same
command a learner can paste into a terminal after ``eval "$(python -m labsupport env)"``.

The CLI runs in the kernel's own process (its driver is created once and reused): a subprocess
would cost over a second per cell just to start Python and load the CLI's data files.
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
from collections.abc import Iterator
from typing import Any

from .errors import LabError
from .lab import Lab, current

_drivers: dict[str, Any] = {}


def _environment(lab: Lab) -> dict[str, str]:
    env = {"AWS_PAGER": "", "AWS_DEFAULT_OUTPUT": os.environ.get("AWS_DEFAULT_OUTPUT", "json")}
    if lab.offline:
        env.update(
            {
                "AWS_ENDPOINT_URL": str(lab.endpoint),
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": lab.region,
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            }
        )
    return env


@contextlib.contextmanager
def _patched_environ(values: dict[str, str], drop: tuple[str, ...]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    for key in drop:
        os.environ.pop(key, None)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _driver(lab: Lab) -> Any:
    key = f"{lab.mode}:{lab.endpoint}"
    if key not in _drivers:
        try:
            from awscli.clidriver import create_clidriver
        except ImportError:
            raise LabError(
                "The AWS CLI is not installed in this environment.",
                "run `pip install awscli` (the lab's installer does this).",
            ) from None
        _drivers[key] = create_clidriver()
    return _drivers[key]


def aws(command: str, *, check: bool = True, capture: bool = False) -> str | None:
    """Run ``aws <command>`` and print its output (or return it, with ``capture=True``).

    With ``check`` (the default) a failing command raises ``LabError`` carrying the CLI's own
    error text (for example ``An error occurred (InvalidSubnet.Range) ...``); with ``check=False``
    the error text is printed and returned instead, which is how notebooks show a deliberate mistake.
    """
    lab = current()
    args = shlex.split(command)
    if args and args[0] == "aws":
        args = args[1:]
    drop = ("AWS_PROFILE", "AWS_SESSION_TOKEN") if lab.offline else ()
    out, err = io.StringIO(), io.StringIO()
    with _patched_environ(_environment(lab), drop):
        driver = _driver(lab)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = driver.main(args)
            except SystemExit as stop:  # argparse errors (an unknown option) exit like a CLI would
                code = int(stop.code or 0) if isinstance(stop.code, int) else 2
    text = out.getvalue().rstrip()
    message = err.getvalue().strip()
    if code == 0:
        if capture:
            return text
        if text:
            print(text)
        return None
    if check:
        raise LabError(f"`aws {command}` failed: {message}", "read the AWS error above; it names what is wrong.")
    if capture:
        return message  # the caller prints it (e.g. after replacing IDs with names)
    if text:
        print(text)
    print(message)
    return None
