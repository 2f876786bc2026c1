"""The headless notebook tier: every notebook runs, shows what it stored, and is safe to run again.

(a) Alone: each notebook, after a region reset, in a fresh kernel, compared with its stored outputs
    by nbval (``pytest --nbval`` in a subprocess, with tests/nbval_sanitize.cfg). This is what a
    learner who opens any chapter first gets.
(b) In sequence: one reset, then every notebook in chapter order against the same region, compared
    the same way. Catch-up cells must print the same whether they built anything or not.
(c) Twice: every cell of a notebook run two times in one kernel leaves the region with exactly the
    resources one run leaves (learners re-run cells; a re-run must never make a second VPC).

Stored outputs are refreshed with ``.venv/bin/python tools/execute_notebooks.py``.

How each notebook's outputs are compared. STRICT: every cell's text outputs must match (after the
sanitize rules); LAX: only errors and cells tagged ``nbval-check-output`` count. In either mode a
cell tagged ``nbval-ignore-output`` (widgets, whose output lives in widget state that nbval cannot
see) is run but not compared, and a cell tagged ``raises-exception`` must raise.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"
SANITIZE = REPO / "tests" / "nbval_sanitize.cfg"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))

STRICT, LAX = "--nbval", "--nbval-lax"
MODES: dict[str, tuple[str, str]] = {
    "00_start_here": (STRICT, "version line, default VPC, CLI text and the virtual clock are all deterministic"),
    "01_cidr_planning": (STRICT, "outputs are pure arithmetic on addresses"),
    "02_vpc_subnets_routes": (STRICT, "seeded region; printed IDs are sanitized, names, CIDRs and routes are exact"),
    "03_security_groups_packet_walk": (STRICT, "rules and packet-walk verdicts are deterministic; IDs sanitized"),
    "04_load_balancer": (STRICT, "target states, status codes and timings follow the virtual clock; no IDs printed"),
    "05_ecs_fargate": (
        STRICT,
        "task addresses, states and target health are deterministic on the virtual clock; no IDs printed",
    ),
    "06_recreate_vs_rolling": (
        STRICT,
        "seeded traffic and deployments on the virtual clock; times are seconds since each release, no IDs",
    ),
}

pytestmark = pytest.mark.notebooks

SKIP_REASON = f"no notebooks matching {NOTEBOOK_DIR}/[0-9][0-9]_*.ipynb yet"
NO_NOTEBOOKS = pytest.param(None, marks=pytest.mark.skip(reason=SKIP_REASON))
NOTEBOOK_PARAMS = [pytest.param(p, id=p.stem) for p in NOTEBOOKS] or [NO_NOTEBOOKS]


def mode_of(notebook: Path) -> str:
    if notebook.stem not in MODES:
        pytest.fail(
            f"{notebook.name} has no entry in MODES in {Path(__file__).name}. "
            "Fix: add it as STRICT (its outputs are deterministic) or LAX, with a one-line reason."
        )
    return MODES[notebook.stem][0]


def notebook_env(region_home: Path) -> dict[str, str]:
    """The environment of a notebook kernel: the session region, nothing of the developer's AWS or lab."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "LABSUPPORT_")) and key != "PYTEST_ADDOPTS"
    }
    # setup() in the notebook finds the session region through its state file in region_home; the port
    # only matters if that region were gone, and then a new one must not take the learner's 4747.
    env.update(LABSUPPORT_HOME=str(region_home), LABSUPPORT_PORT="0")
    return env


def reset(endpoint: str) -> None:
    urllib.request.urlopen(urllib.request.Request(endpoint + "/_lab/reset", method="POST"), timeout=30)


def nbval(notebooks: list[Path], region_home: Path) -> subprocess.CompletedProcess[str]:
    """Run notebooks of one mode, in order, under nbval in one pytest process (a fresh kernel each)."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        mode_of(notebooks[0]),
        "--nbval-sanitize-with",
        str(SANITIZE),
        "--nbval-current-env",
        "--nbval-cell-timeout=180",
        "-p",
        "no:cacheprovider",
        "-q",
        *(str(notebook.relative_to(REPO)) for notebook in notebooks),
    ]
    return subprocess.run(command, cwd=REPO, env=notebook_env(region_home), capture_output=True, text=True, timeout=600)


def explain(notebooks: list[Path], result: subprocess.CompletedProcess[str], context: str) -> str:
    report = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)[-8000:]  # nbval colours its report
    names = ", ".join(notebook.name for notebook in notebooks)
    numbers = " ".join(notebook.stem[:2] for notebook in notebooks)
    return (
        f"{names} {context}: nbval exited {result.returncode}.\n{report}\n"
        "If a notebook was edited on purpose, refresh its stored outputs with "
        f"`.venv/bin/python tools/execute_notebooks.py {numbers}` (the failing one is named above)."
    )


@pytest.mark.parametrize("notebook", NOTEBOOK_PARAMS)
def test_notebook_alone_matches_its_stored_outputs(notebook: Path, region_endpoint: str, region_home: Path) -> None:
    mode_of(notebook)
    reset(region_endpoint)
    result = nbval([notebook], region_home)
    if result.returncode != 0:
        pytest.fail(explain([notebook], result, "run alone after a region reset"), pytrace=False)


def test_notebooks_in_sequence_against_one_region(region_endpoint: str, region_home: Path) -> None:
    if not NOTEBOOKS:
        pytest.skip(SKIP_REASON)
    reset(region_endpoint)
    failures = []
    # One pytest process per run of same-mode notebooks (nbval still gives each its own kernel, in order).
    for _, group in itertools.groupby(NOTEBOOKS, key=mode_of):
        notebooks = list(group)
        result = nbval(notebooks, region_home)
        if result.returncode != 0:
            failures.append(explain(notebooks, result, "run in sequence against one region (one reset at the start)"))
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)


def inventory(endpoint: str) -> dict[str, int]:
    """How many of each resource the region holds (what a duplicate from a re-run would show up in)."""
    import boto3

    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=endpoint,
            region_name="us-west-2",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    ec2, elbv2, ecs = client("ec2"), client("elbv2"), client("ecs")
    route_tables = ec2.describe_route_tables()["RouteTables"]
    nat_gateways = ec2.describe_nat_gateways()["NatGateways"]
    return {
        "VPCs": len(ec2.describe_vpcs()["Vpcs"]),
        "subnets": len(ec2.describe_subnets()["Subnets"]),
        "route tables": len(route_tables),
        "routes": sum(len(table["Routes"]) for table in route_tables),
        "route table associations": sum(len(table["Associations"]) for table in route_tables),
        "internet gateways": len(ec2.describe_internet_gateways()["InternetGateways"]),
        "NAT gateways": sum(gateway["State"] not in ("deleting", "deleted") for gateway in nat_gateways),
        "Elastic IPs": len(ec2.describe_addresses()["Addresses"]),
        "security groups": len(ec2.describe_security_groups()["SecurityGroups"]),
        "security group rules": len(ec2.describe_security_group_rules()["SecurityGroupRules"]),
        "load balancers": len(elbv2.describe_load_balancers()["LoadBalancers"]),
        "target groups": len(elbv2.describe_target_groups()["TargetGroups"]),
        "ECS clusters": len(ecs.list_clusters()["clusterArns"]),
    }


@pytest.mark.parametrize("notebook", NOTEBOOK_PARAMS)
def test_running_every_cell_twice_creates_no_duplicates(
    notebook: Path, region_endpoint: str, region_home: Path
) -> None:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    reset(region_endpoint)
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    after: list[dict[str, int]] = []
    with client.setup_kernel(env=notebook_env(region_home)):
        for run in ("first", "second"):
            for index, cell in enumerate(nb.cells):
                try:
                    client.execute_cell(cell, index)
                except CellExecutionError as err:
                    pytest.fail(
                        f"{notebook.name}: cell {index} failed on the {run} run through the notebook. "
                        f"Cells must be safe to run again (learners re-run them).\n{err}"
                    )
            after.append(inventory(region_endpoint))
    once, twice = after
    grown = {name: (once[name], twice[name]) for name in once if once[name] != twice[name]}
    assert not grown, (
        f"{notebook.name}: running it twice left different numbers of resources than once (once, twice): "
        f"{grown}. Fix: make the creating cell look the resource up by its Name tag first (see labsupport.network)."
    )
