"""What does the lab's layer cost compared with bare moto, and how long do the first chapters take?

Run from the repository root::

    .venv/bin/python benchmarks/run.py            # prints a table, writes benchmarks/results/latest.json

Every figure is measured in this run, baseline included: the lab region and a bare moto server are
started and driven side by side by the same Python, with the same boto3 client settings, calls
interleaved (lab, moto, moto, lab, ...) so that a slow moment of the machine hits both alike.
Nothing is ever compared against a number stored by an earlier run: machines differ too much.

It is a measurement, not a test: it prints PASS/FAIL against the targets but always exits 0
(unless it cannot run at all). See benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "latest.json"
NOTEBOOKS = ("00", "01", "02", "03")
REGION = "us-west-2"
PER_CALL_TARGET = 1.25  # our layer may cost at most 25 % more per call than bare moto
NOTEBOOKS_TARGET_S = 20.0  # chapters 00-03 executed headlessly, in sequence, on 2 cores
START_TIMEOUT_S = 90.0


# -- servers -------------------------------------------------------------------------------------
@dataclass
class Server:
    """One server process under test: how it was started and where it answers."""

    name: str
    proc: subprocess.Popen[bytes]
    endpoint: str
    started_in: float  # spawn -> first HTTP answer, seconds
    log: Path
    first_call: float = 0.0  # first describe_vpcs, seconds
    client: Any = field(default=None, repr=False)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            response.read()
            return response.status == 200
    except OSError:
        return False


def _wait(
    proc: subprocess.Popen[bytes], log: Path, ready: Callable[[], str | None], started: float
) -> tuple[str, float]:
    """Poll ``ready`` (returns the endpoint once the server answers) while watching the process."""
    while True:
        if proc.poll() is not None:
            sys.exit(f"server exited with {proc.returncode} while starting:\n{log.read_text(errors='replace')[-2000:]}")
        endpoint = ready()
        if endpoint:
            return endpoint, time.perf_counter() - started
        if time.perf_counter() - started > START_TIMEOUT_S:
            proc.kill()
            sys.exit(f"server did not answer within {START_TIMEOUT_S:.0f} s; log: {log}")
        time.sleep(0.02)


def start_lab(work: Path, n: int) -> Server:
    """The lab region exactly as learners get it: its own process, port 0, a state file."""
    state, log = work / f"lab-{n}.json", work / f"lab-{n}.log"
    started = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "labsupport.region.server", "--port", "0", "--state", str(state)],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def ready() -> str | None:
        # The port is only known from the state file; "ready" is what labsupport.offline waits for.
        try:
            endpoint = json.loads(state.read_text())["endpoint"]
        except (OSError, ValueError, KeyError):
            return None
        return endpoint if _answers(endpoint + "/_lab/status") else None

    endpoint, took = _wait(proc, log, ready, started)
    return Server("lab", proc, endpoint, took, log)


def start_moto(work: Path, n: int) -> Server:
    """Bare moto in server mode, the baseline: ``python -m moto.server -p PORT``."""
    port, log = _free_port(), work / f"moto-{n}.log"
    endpoint = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            cwd=work,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    endpoint, took = _wait(proc, log, lambda: endpoint if _answers(endpoint + "/moto-api/") else None, started)
    return Server("moto", proc, endpoint, took, log)


def ec2_client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    # The settings labsupport uses offline: no retries (a retry would hide a slow call), short connect.
    return boto3.client(
        "ec2",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=5, read_timeout=120),
    )


def first_call(server: Server) -> None:
    server.client = ec2_client(server.endpoint)  # built before timing: no server traffic in here
    t0 = time.perf_counter()
    server.client.describe_vpcs()
    server.first_call = time.perf_counter() - t0


def memory(pid: int) -> dict[str, float]:
    """Peak (VmHWM) and current (VmRSS) resident memory of a process, in MiB, from /proc."""
    values: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                values[key] = int(rest.split()[0]) / 1024  # kB -> MiB
    except OSError:
        pass
    return values


# -- per-call workload ----------------------------------------------------------------------------
def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"n": len(ordered), "median_ms": statistics.median(ordered) * 1000, "p95_ms": p95 * 1000}


def workload(servers: list[Server], n: int) -> dict[str, dict[str, dict[str, float]]]:
    """``n`` describe_vpcs and ``n // 3`` create_subnet + delete_subnet pairs on each server, interleaved."""
    samples: dict[str, dict[str, list[float]]] = {
        op: {s.name: [] for s in servers} for op in ("describe_vpcs", "create_subnet", "delete_subnet")
    }
    vpcs = {}
    for s in servers:
        vpcs[s.name] = s.client.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        for _ in range(5):  # warm-up outside the figures: connection pool, first model loads
            s.client.describe_vpcs()

    def timed(op: str, s: Server, call: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        result = call()
        samples[op][s.name].append(time.perf_counter() - t0)
        return result

    for i in range(n):
        # Alternate who goes first, so neither server always runs right after the other one.
        order = servers if i % 2 == 0 else servers[::-1]
        for s in order:
            timed("describe_vpcs", s, s.client.describe_vpcs)
    for i in range(n // 3):
        order = servers if i % 2 == 0 else servers[::-1]
        for s in order:
            cidr = f"10.0.{i % 250}.0/24"
            subnet = timed(
                "create_subnet",
                s,
                lambda s=s, cidr=cidr: s.client.create_subnet(
                    VpcId=vpcs[s.name], CidrBlock=cidr, AvailabilityZone=f"{REGION}a"
                ),
            )["Subnet"]["SubnetId"]
            timed("delete_subnet", s, lambda s=s, subnet=subnet: s.client.delete_subnet(SubnetId=subnet))
    return {op: {name: _stats(values) for name, values in per.items()} for op, per in samples.items()}


# -- notebooks ------------------------------------------------------------------------------------
def run_notebooks(work: Path) -> dict[str, Any]:
    """Chapters 00-03 executed with nbclient in sequence, against a private offline region."""
    import nbformat
    from nbclient import NotebookClient

    paths = []
    for prefix in NOTEBOOKS:
        found = sorted((REPO / "notebooks").glob(f"{prefix}_*.ipynb"))
        if not found:
            return {"skipped": f"notebook {prefix}_*.ipynb not found"}
        paths.append(found[0])
    copy = work / "notebooks"
    shutil.copytree(REPO / "notebooks", copy, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    home = work / "labsupport-home"
    saved = dict(os.environ)
    # The kernels inherit this process's environment: a private region on a free port, never the
    # learner's (LABSUPPORT_HOME) and never 4747; and the notebook's own matplotlib backend.
    os.environ.update({"LABSUPPORT_HOME": str(home), "LABSUPPORT_PORT": "0"})
    for key in ("MPLBACKEND", "LABSUPPORT_MODE", "LABSUPPORT_ALLOW_REAL_AWS"):
        os.environ.pop(key, None)
    times: dict[str, float] = {}
    kernels: dict[str, float] = {}  # of which: starting the kernel
    cells: list[tuple[float, str]] = []  # (seconds, which cell): where the time goes
    failure = None
    region_memory: dict[str, float] = {}
    try:
        for path in paths:
            nb = nbformat.read(copy / path.name, as_version=4)
            client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(copy)}})
            t0 = time.perf_counter()
            kernel_log = open(work / f"kernel-{path.stem}.log", "wb")  # noqa: SIM115 - closed below
            try:
                # The kernel's own start-up chatter goes to a log file, not into the table.
                with client.setup_kernel(stdout=kernel_log, stderr=kernel_log):
                    kernels[path.stem] = time.perf_counter() - t0
                    for index, cell in enumerate(nb.cells):
                        c0 = time.perf_counter()
                        client.execute_cell(cell, index)
                        if cell.cell_type == "code":
                            first_line = (cell.source.strip().splitlines() or [""])[0][:60]
                            cells.append((time.perf_counter() - c0, f"{path.stem} cell {index}: {first_line}"))
            except Exception as exc:  # report and carry on: the other figures are still worth having
                failure = f"{path.name}: {type(exc).__name__}: {str(exc)[-800:]}"
            finally:
                kernel_log.close()
            times[path.stem] = time.perf_counter() - t0
            if failure:
                break
        try:
            pid = json.loads((home / "region.json").read_text())["pid"]
            region_memory = memory(int(pid))
        except (OSError, ValueError, KeyError):
            pass
    finally:
        subprocess.run(
            [sys.executable, "-m", "labsupport", "region", "stop"],
            cwd=REPO,
            env=dict(os.environ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )
        os.environ.clear()
        os.environ.update(saved)
    total = sum(times.values())
    result: dict[str, Any] = {
        "seconds": times,
        "kernel_start_seconds": kernels,
        "slowest_cells": [{"seconds": t, "cell": c} for t, c in sorted(cells, reverse=True)[:5]],
        "total_s": total,
        "target_s": NOTEBOOKS_TARGET_S,
        "pass": failure is None and total < NOTEBOOKS_TARGET_S,
        "region_memory_mib": region_memory,
    }
    if failure:
        result["failure"] = failure
    return result


# -- report ---------------------------------------------------------------------------------------
def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(results: dict[str, Any]) -> str:
    lines = []
    m = results["machine"]
    load = m["load_average_before"][0]
    lines.append(
        f"labsupport benchmark · {m['cpus']} CPUs (load {load:.1f} at start) · Python {m['python']} · moto {m['moto']}"
    )
    lines.append("")
    lines.append(f"{'figure':<34}{'lab':>12}{'moto':>12}{'lab/moto':>10}")
    lines.append("-" * 68)

    def row(label: str, lab: float, moto: float, ratio: float | None, digits: int) -> None:
        shown = f"{ratio:>9.2f}x" if ratio is not None else ""
        lines.append(f"{label:<34}{lab:>12.{digits}f}{moto:>12.{digits}f}{shown}")

    s, f, r = results["start"], results["first_call"], results["start_plus_first_call"]
    row(
        f"region start, median of {len(s['lab']['samples'])} (s)",
        s["lab"]["median_s"],
        s["moto"]["median_s"],
        s["ratio"],
        2,
    )
    row("first describe_vpcs (ms)", f["lab"]["median_ms"], f["moto"]["median_ms"], f["ratio"], 1)
    row("start + first call (s)", r["lab"]["median_s"], r["moto"]["median_s"], r["ratio"], 2)
    for op, ops in results["per_call"]["ops"].items():
        n = ops["lab"]["n"]
        row(f"{op} median (ms, n={n})", ops["lab"]["median_ms"], ops["moto"]["median_ms"], ops["ratio"], 2)
        row(f"{op} p95 (ms, n={n})", ops["lab"]["p95_ms"], ops["moto"]["p95_ms"], None, 2)
    mem = results["memory_mib"]
    row("peak memory VmHWM (MiB)", mem["lab"].get("VmHWM", 0), mem["moto"].get("VmHWM", 0), mem["ratio"], 0)
    lines.append("")
    pc = results["per_call"]
    lines.append(
        f"per-call cost of our layer: worst median ratio {pc['worst_ratio']:.2f}x "
        f"(target <= {pc['target']:.2f}x) -> {_verdict(pc['pass'])}"
    )
    nbs = results["notebooks"]
    if "skipped" in nbs:
        lines.append(f"notebooks 00-03: skipped ({nbs['skipped']})")
    else:
        kernels = nbs["kernel_start_seconds"]
        each = ", ".join(f"{k} {v:.1f} s (kernel {kernels.get(k, 0):.1f})" for k, v in nbs["seconds"].items())
        lines.append(
            f"notebooks 00-03 (nbclient, in sequence): {nbs['total_s']:.1f} s total "
            f"(target < {nbs['target_s']:.0f} s) -> {_verdict(nbs['pass'])}"
        )
        lines.append(f"  {each}")
        for slow in nbs.get("slowest_cells", [])[:3]:
            lines.append(f"  slow cell {slow['seconds']:.1f} s  {slow['cell']}")
        if nbs.get("region_memory_mib"):
            lines.append(f"  region after the notebooks: VmHWM {nbs['region_memory_mib'].get('VmHWM', 0):.0f} MiB")
        if nbs.get("failure"):
            lines.append(f"  notebook failed: {nbs['failure']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300, help="describe_vpcs calls per server (default 300)")
    parser.add_argument("--starts", type=int, default=3, help="cold starts per server (default 3)")
    parser.add_argument("--skip-notebooks", action="store_true", help="leave out the notebook timing")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"JSON results (default {RESULTS})")
    args = parser.parse_args(argv)

    import boto3
    import moto

    ec2_client("http://127.0.0.1:1")  # load botocore's EC2 model once, outside every figure
    results: dict[str, Any] = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "cpus": os.cpu_count(),
            # Other work on the machine inflates every figure; the ratios suffer least.
            "load_average_before": list(os.getloadavg()),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "moto": moto.__version__,
            "boto3": boto3.__version__,
        },
    }
    with tempfile.TemporaryDirectory(prefix="labsupport-bench-") as tmp:
        work = Path(tmp)
        # (a)+(b): cold starts, alternating lab and moto; every server but the last pair is stopped at once.
        servers: dict[str, list[Server]] = {"lab": [], "moto": []}
        try:
            for n in range(args.starts):
                for start in (start_lab, start_moto) if n % 2 == 0 else (start_moto, start_lab):
                    server = start(work, n)
                    servers[server.name].append(server)
                    first_call(server)
                    if n < args.starts - 1:
                        server.stop()
            lab, bare = servers["lab"][-1], servers["moto"][-1]
            start_s = {k: [s.started_in for s in v] for k, v in servers.items()}
            first_ms = {k: [s.first_call * 1000 for s in v] for k, v in servers.items()}
            results["start"] = {k: {"samples": v, "median_s": statistics.median(v)} for k, v in start_s.items()}
            results["start"]["ratio"] = results["start"]["lab"]["median_s"] / results["start"]["moto"]["median_s"]
            results["first_call"] = {k: {"samples": v, "median_ms": statistics.median(v)} for k, v in first_ms.items()}
            results["first_call"]["ratio"] = (
                results["first_call"]["lab"]["median_ms"] / results["first_call"]["moto"]["median_ms"]
            )
            # What a learner waits for: the lab warms moto's backends at start, bare moto on first use.
            ready = {k: [s.started_in + s.first_call for s in v] for k, v in servers.items()}
            results["start_plus_first_call"] = {
                k: {"samples": v, "median_s": statistics.median(v)} for k, v in ready.items()
            }
            results["start_plus_first_call"]["ratio"] = (
                results["start_plus_first_call"]["lab"]["median_s"]
                / results["start_plus_first_call"]["moto"]["median_s"]
            )

            # (c): the per-call workload on the last lab and moto servers, interleaved.
            ops = workload([lab, bare], args.calls)
            for row in ops.values():
                row["ratio"] = row["lab"]["median_ms"] / row["moto"]["median_ms"]
            worst = max(row["ratio"] for row in ops.values())
            results["per_call"] = {
                "ops": ops,
                "worst_ratio": worst,
                "target": PER_CALL_TARGET,
                "pass": worst <= PER_CALL_TARGET,
            }

            # (e): peak memory after the workload, read while both processes are still alive.
            mem = {"lab": memory(lab.proc.pid), "moto": memory(bare.proc.pid)}
            mem["ratio"] = mem["lab"].get("VmHWM", 0) / max(mem["moto"].get("VmHWM", 0), 1e-9)
            results["memory_mib"] = mem
        finally:
            for group in servers.values():
                for server in group:
                    server.stop()

        # (d): after the servers are gone, so they do not compete for the two cores.
        results["notebooks"] = {"skipped": "--skip-notebooks"} if args.skip_notebooks else run_notebooks(work)

    results["machine"]["load_average_after"] = list(os.getloadavg())
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1) + "\n")
    print(report(results))
    print(f"\nresults: {args.output}")
    return 0  # a measurement, not a test: FAIL lines inform, they do not break a build


if __name__ == "__main__":
    sys.exit(main())
