"""Re-execute the workbook's notebooks and store their outputs: run this after editing a notebook.

    .venv/bin/python tools/execute_notebooks.py                 # every notebooks/NN_*.ipynb, in order
    .venv/bin/python tools/execute_notebooks.py 01 02_vpc_subnets_routes
    .venv/bin/python tools/execute_notebooks.py --isolated      # reset the region before each notebook

Each notebook runs top to bottom in a fresh kernel, against a private offline region that this
script starts (in a temporary LABSUPPORT_HOME, on a free port) and stops again, so a learner's
running lab is never touched. By default the region is reset once at the start and the notebooks
run in sequence, as a learner meets them; ``--isolated`` resets it before every notebook, as the
test suite's per-notebook tier does. Stored outputs are what tests/test_notebooks.py compares
against, so the two must agree (the notebooks are written to print the same either way).

The stored form is the one the repository keeps: execution counts 1..n, no widget state in the
metadata (it is large, and JupyterLab rebuilds widgets when a cell runs), no timing metadata. A
notebook with an unexpected error is reported and left unchanged.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from labsupport import offline

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
PATTERN = "[0-9][0-9]_*.ipynb"


def discover(names: list[str]) -> list[Path]:
    """The notebooks to run, in chapter order: all of them, or those named by number, stem or path."""
    every = sorted(NOTEBOOKS.glob(PATTERN))
    if not names:
        return every
    chosen: list[Path] = []
    for name in names:
        stem = Path(name).name.removesuffix(".ipynb")
        matches = [p for p in every if p.stem == stem or p.stem.split("_", 1)[0] == stem]
        if not matches:
            known = ", ".join(p.stem for p in every) or "none yet"
            raise SystemExit(f"error: no notebook {name!r} in {NOTEBOOKS}. Fix: use one of: {known}")
        chosen += [p for p in matches if p not in chosen]
    return sorted(chosen)


def tidy(nb: nbformat.NotebookNode) -> None:
    """Bring an executed notebook into the stored form (counts 1..n, no widget state)."""
    nb.metadata.pop("widgets", None)
    count = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        if cell.get("execution_count") is None:
            continue  # an empty cell is not executed; it keeps no count and no outputs
        count += 1
        cell.execution_count = count
        for output in cell.outputs:
            if output.output_type == "execute_result":
                output.execution_count = count


def machine_paths(nb: nbformat.NotebookNode) -> list[str]:
    """Outputs that show this machine's paths (they would differ on every learner's machine)."""
    needles = {str(REPO), str(Path.home())}
    found = []
    for index, cell in enumerate(nb.cells):
        text = str(cell.get("outputs", ""))
        found += [f"cell {index}: {needle}" for needle in needles if needle in text]
    return found


def execute(path: Path, timeout: int) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="numbers (01), stems or paths; default: all")
    parser.add_argument("--isolated", action="store_true", help="reset the region before each notebook")
    parser.add_argument("--timeout", type=int, default=300, help="seconds one cell may take (default 300)")
    args = parser.parse_args(argv)
    paths = discover(args.notebooks)
    if not paths:
        print(f"no notebooks matching {PATTERN} in {NOTEBOOKS}")
        return 1

    # A private region: set before labsupport.offline is used and before any kernel starts, because
    # kernels inherit this environment and their setup() finds the region through LABSUPPORT_HOME.
    home = tempfile.mkdtemp(prefix="labsupport-execute-")
    os.environ.update(LABSUPPORT_HOME=home, LABSUPPORT_PORT="0")
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "LABSUPPORT_MODE"):
        os.environ.pop(key, None)

    failed = []
    total = time.monotonic()
    try:
        offline.start()
        offline.reset()
        for index, path in enumerate(paths):
            if args.isolated and index:
                offline.reset()
            started = time.monotonic()
            try:
                nb = execute(path, args.timeout)
            except CellExecutionError as err:
                failed.append(path.name)
                print(f"FAILED {path.name} after {time.monotonic() - started:.1f} s; left unchanged:\n{err}")
                continue
            tidy(nb)
            nbformat.write(nb, path)
            print(f"{path.name}: {time.monotonic() - started:.1f} s")
            for where in machine_paths(nb):
                print(f"  warning: output shows a machine path ({where}); print relative paths instead")
    finally:
        offline.stop()
        shutil.rmtree(home, ignore_errors=True)
    print(f"{len(paths) - len(failed)} of {len(paths)} notebooks stored in {time.monotonic() - total:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
