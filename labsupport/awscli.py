"""Run a real AWS CLI command from a notebook cell, against the same lab the notebook uses.

Notebooks show the CLI equivalent next to the Python call. ``aws("ec2 describe-vpcs ...")`` runs
the actual AWS CLI (installed from PyPI with the lab) as a subprocess, with the environment pointed
at the lab (offline: the region's endpoint and fake keys), and prints what the CLI prints. It is
the same command a learner can paste into a terminal after ``eval "$(python -m labsupport env)"``.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

from .errors import LabError
from .lab import current


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
    env = dict(os.environ)
    env["AWS_PAGER"] = ""
    env["AWS_DEFAULT_OUTPUT"] = env.get("AWS_DEFAULT_OUTPUT", "json")
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
        env.pop("AWS_PROFILE", None)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "awscli", *args], capture_output=True, text=True, env=env, timeout=120
        )
    except FileNotFoundError:  # pragma: no cover - the interpreter itself is missing
        raise LabError("Could not run the AWS CLI.", "reinstall the lab with `pip install -e .`.") from None
    if done.returncode != 0 and "No module named awscli" in done.stderr:
        raise LabError(
            "The AWS CLI is not installed in this environment.",
            "run `pip install awscli` (the lab's installer does this).",
        )
    out = done.stdout.rstrip()
    if capture and done.returncode == 0:
        return out
    if out:
        print(out)
    if done.returncode != 0:
        message = done.stderr.strip()
        if check:
            raise LabError(f"`aws {command}` failed: {message}", "read the AWS error above; it names what is wrong.")
        print(message)
        return message if capture else None
    return None
