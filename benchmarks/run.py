"""What does the lab's layer cost compared with bare moto, and how long do the first chapters take?

Run from the repository root::

    .venv/bin/python benchmarks/run.py            # prints a table, writes benchmarks/results/latest.json

Every figure is measured in this run, baseline included: the lab region and a bare moto server are
started and driven side by side by the same Python, with the same boto3 client settings, calls
interleaved (lab, moto, moto, lab, ...) so that a slow moment of the machine hits both alike.
Nothing is ever compared against a number stored by an earlier run: machines differ too much.
The same holds for the load balancer figures: requests through an ALB listener's loopback port are
compared with the same sample app run standalone (``python -m sample_app``), hit the same way in
alternating rounds; and a virtual hour of a 10-task service is timed on a private region.

It is a measurement, not a test: it prints PASS/FAIL against the targets but always exits 0
(unless it cannot run at all). See benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
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


# -- load balancer and ECS (f, g, h) ------------------------------------------------------------------
ALB_PATH = "/"  # the sample app's page: what a learner's browser or curl asks for
ALB_THREADS = (1, 4)
ALB_ROUNDS = 4  # each side's budget is split into rounds, sides alternating, like the per-call workload
ALB_WARMUP = 50
SCALED_TASKS = 10
VIRTUAL_HOUR_S = 3600
VIRTUAL_HOUR_TARGET_S = 1.0  # one virtual hour of a 10-task service, wall time, on 2 cores
APP_ENV = {"APP_VERSION": "v1", "APP_COLOUR": "blue"}  # what the catch-up task definition sets


def _percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (q in 0..1)."""
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def _client_loop(
    port: int, count: int, deadline: float, samples: list[float], tally: dict[str, int], lock: Any
) -> None:
    """One client thread: up to ``count`` GETs on one keep-alive ``http.client`` connection.

    http.client reopens the connection by itself when the server closes it after a response, so
    the loop also counts how many connections it had to open: that is the keep-alive actually got.
    """
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    mine: list[float] = []
    opened = errors = not_ok = 0
    try:
        for _ in range(count):
            if time.perf_counter() >= deadline:
                break
            if conn.sock is None:
                opened += 1
            t0 = time.perf_counter()
            try:
                conn.request("GET", ALB_PATH, headers={"Host": "127.0.0.1"})
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                errors += 1  # counted, not timed: a reset connection is not a latency
                conn.close()
                continue
            mine.append(time.perf_counter() - t0)
            if response.status != 200:
                not_ok += 1
    finally:
        conn.close()
    with lock:
        samples.extend(mine)
        tally["connections"] += opened
        tally["errors"] += errors
        tally["not_200"] += not_ok


def _batch(port: int, threads: int, count: int, seconds: float) -> tuple[list[float], float, dict[str, int]]:
    """``count`` requests shared by ``threads`` clients, stopping early after ``seconds``."""
    samples: list[float] = []
    tally = {"connections": 0, "errors": 0, "not_200": 0}
    lock = threading.Lock()
    share = -(-count // threads)
    t0 = time.perf_counter()
    deadline = t0 + seconds
    workers = [
        threading.Thread(target=_client_loop, args=(port, share, deadline, samples, tally, lock))
        for _ in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return samples, time.perf_counter() - t0, tally


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (from /proc; 10 ms resolution).

    Unlike wall time it hardly moves when other work loads the machine, so it is the steadier figure.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def http_workload(ports: dict[str, int], pids: dict[str, int], requests: int, seconds: float) -> dict[str, Any]:
    """(f): the same GETs through the listener and straight to the app, in alternating rounds."""
    for port in ports.values():  # warm-up outside the figures: first imports, first threads
        _batch(port, 1, ALB_WARMUP, 30.0)
    runs: dict[int, dict[str, dict[str, Any]]] = {
        t: {
            side: {"samples": [], "wall": 0.0, "cpu": 0.0, "connections": 0, "errors": 0, "not_200": 0}
            for side in ports
        }
        for t in ALB_THREADS
    }
    for r in range(ALB_ROUNDS):
        # Alternate who goes first, so a busy moment of the machine does not always hit the same side.
        order = list(ports) if r % 2 == 0 else list(ports)[::-1]
        for threads in ALB_THREADS:
            for side in order:
                cpu0 = cpu_seconds(pids[side])
                samples, wall, tally = _batch(ports[side], threads, requests // ALB_ROUNDS, seconds / ALB_ROUNDS)
                acc = runs[threads][side]
                acc["cpu"] += cpu_seconds(pids[side]) - cpu0  # the server process's CPU for this batch
                acc["samples"].extend(samples)
                acc["wall"] += wall
                for key, value in tally.items():
                    acc[key] += value
    result: dict[str, Any] = {}
    for threads, sides in runs.items():
        row: dict[str, Any] = {}
        for side, acc in sides.items():
            ordered = sorted(acc["samples"])
            n = len(ordered)
            row[side] = {
                "requests": n,
                "seconds": acc["wall"],
                "rps": n / acc["wall"] if acc["wall"] else 0.0,
                "p50_ms": _percentile(ordered, 0.50) * 1000 if n else 0.0,
                "p99_ms": _percentile(ordered, 0.99) * 1000 if n else 0.0,
                "server_cpu_ms_per_request": acc["cpu"] * 1000 / n if n else 0.0,
                "connections_opened": acc["connections"],
                "errors": acc["errors"],
                "not_200": acc["not_200"],
            }
        listener, direct = row["listener"], row["direct"]
        row["ratio"] = {
            # listener / direct: below 1 for throughput and above 1 for latency is what the ALB costs.
            key: listener[key] / direct[key] if direct[key] else None
            for key in ("rps", "p50_ms", "p99_ms", "server_cpu_ms_per_request")
        }
        result[f"{threads}_client" + ("s" if threads > 1 else "")] = row
    return result


def start_sample_app(work: Path) -> tuple[subprocess.Popen[bytes], int]:
    """``python -m sample_app`` on a free loopback port, configured like the catch-up's tasks."""
    port, log = _free_port(), work / "sample-app.log"
    env = {**os.environ, **APP_ENV, "PORT": str(port)}
    with open(log, "wb") as out:
        # The app prints one access line per request (to this log), as its container would.
        proc = subprocess.Popen(
            [sys.executable, "-m", "sample_app"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}/health"
    _wait(proc, log, lambda: url if _answers(url) else None, time.perf_counter())
    return proc, port


def _service_state(lab: Any, cluster: str, service: str, tg_arn: str) -> dict[str, Any]:
    """Running tasks, deployments and healthy targets: to check the workload really ran."""
    svc = lab.client("ecs").describe_services(cluster=cluster, services=[service])["services"][0]
    health = lab.client("elbv2").describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"]
    return {
        "running": svc["runningCount"],
        "desired": svc["desiredCount"],
        "deployments": [
            {
                "status": d["status"],
                "rollout": d.get("rolloutState"),
                "task_definition": d["taskDefinition"].rsplit("/", 1)[-1],
                "running": d["runningCount"],
            }
            for d in svc["deployments"]
        ],
        "healthy_targets": sum(1 for d in health if d["TargetHealth"]["State"] == "healthy"),
        "last_event": svc["events"][0]["message"] if svc.get("events") else None,
        "last_stopped_reason": _last_stopped_reason(lab, cluster),
    }


def _last_stopped_reason(lab: Any, cluster: str) -> str | None:
    """Why the latest stopped task stopped: when a figure is not valid, this usually says why."""
    ecs = lab.client("ecs")
    arns = ecs.list_tasks(cluster=cluster, desiredStatus="STOPPED")["taskArns"]
    if not arns:
        return None
    tasks = ecs.describe_tasks(cluster=cluster, tasks=arns[:100])["tasks"]
    latest = max(tasks, key=lambda t: t.get("stoppedAt") or t.get("createdAt"))
    return latest.get("stoppedReason")


def _not_healthy(state: dict[str, Any], tasks: int) -> str | None:
    """None when ``tasks`` tasks run and are healthy targets; else what is wrong (the figure is not valid)."""
    if state["running"] == tasks and state["healthy_targets"] == tasks:
        return None
    why = state.get("last_stopped_reason") or state.get("last_event") or "no reason given"
    return f"{state['running']} of {tasks} tasks running, {state['healthy_targets']} healthy targets ({why})"


def _advance(endpoint: str, pid: int, seconds: float) -> dict[str, Any]:
    """``POST /_lab/clock/advance``: wall time (client side, one round trip), region CPU, events run."""
    from labsupport import offline

    cpu0 = cpu_seconds(pid)
    t0 = time.perf_counter()
    answer = offline.control(endpoint, "/_lab/clock/advance", {"seconds": seconds}, timeout=600)
    wall = time.perf_counter() - t0
    events = int(answer.get("events_run", 0))
    return {
        "wall_s": wall,
        "region_cpu_s": cpu_seconds(pid) - cpu0,
        "events_run": events,
        "events_per_s": events / wall if wall else 0.0,
    }


def virtual_hours(lab: Any, endpoint: str, pid: int, built: Any, hours: int) -> dict[str, Any]:
    """(g): virtual hours of the catch-up service at 2 tasks, at 10 tasks, and with a rolling deployment."""
    from labsupport import fargate

    cfg = lab.config.raw
    cluster, service = cfg["ecs"]["cluster"], cfg["ecs"]["service"]
    tg_arn = built["load_balancer"].target_groups[cfg["load_balancer"]["target_groups"]["blue"]]
    ecs = lab.client("ecs")
    # The fixed cost of the control call itself (HTTP, JSON, the lock): no virtual time passes.
    zero = [_advance(endpoint, pid, 0)["wall_s"] for _ in range(5)]
    result: dict[str, Any] = {"advance_0s_round_trip_ms": statistics.median(zero) * 1000}
    # Reference: the catch-up service as it is (2 tasks), so the 10-task figure has a scale.
    result["two_tasks"] = {
        **_advance(endpoint, pid, VIRTUAL_HOUR_S),
        "state": _service_state(lab, cluster, service, tg_arn),
    }

    ecs.update_service(cluster=cluster, service=service, desiredCount=SCALED_TASKS)
    # Two virtual minutes bring the new tasks to RUNNING and through two health checks (not timed as the hour).
    scale = _advance(endpoint, pid, 120)
    result["scale_up"] = {**scale, "state": _service_state(lab, cluster, service, tg_arn)}
    # An hour of a service whose tasks keep failing measures something else: say so, never PASS it.
    problem = _not_healthy(result["scale_up"]["state"], SCALED_TASKS)

    steady = [_advance(endpoint, pid, VIRTUAL_HOUR_S) for _ in range(hours)]
    walls = [s["wall_s"] for s in steady]
    median_wall = statistics.median(walls)
    result["steady"] = {
        "samples": steady,
        "median_wall_s": median_wall,
        "median_events_run": statistics.median(s["events_run"] for s in steady),
        "median_region_cpu_s": statistics.median(s["region_cpu_s"] for s in steady),
        "events_per_s": statistics.median(s["events_per_s"] for s in steady),
        "state": _service_state(lab, cluster, service, tg_arn),
        "target_s": VIRTUAL_HOUR_TARGET_S,
        "pass": problem is None and median_wall < VIRTUAL_HOUR_TARGET_S,
        "invalid": problem,
    }

    # A rolling deployment started at minute 0: new revision (v2, green), then the hour.
    definition = fargate.task_definition(built["service"].image, lab, APP_VERSION="v2", APP_COLOUR="green")
    v2 = fargate.register(definition, lab)
    t0 = time.perf_counter()
    ecs.update_service(cluster=cluster, service=service, taskDefinition=v2)
    update_s = time.perf_counter() - t0
    rolling = _advance(endpoint, pid, VIRTUAL_HOUR_S)
    state = _service_state(lab, cluster, service, tg_arn)
    revision = v2.rsplit("/", 1)[-1]
    done = (
        len(state["deployments"]) == 1
        and state["deployments"][0]["task_definition"] == revision
        and state["deployments"][0]["rollout"] == "COMPLETED"
        and state["running"] == SCALED_TASKS
    )
    result["rolling"] = {
        **rolling,
        "update_service_s": update_s,
        "state": state,
        "deployment_completed": done,
        "target_s": VIRTUAL_HOUR_TARGET_S,
        "pass": problem is None and done and rolling["wall_s"] < VIRTUAL_HOUR_TARGET_S,
        "invalid": problem or (None if done else "the rolling deployment did not complete within the hour"),
    }
    return result


def run_alb(work: Path, requests: int, seconds: float, hours: int) -> dict[str, Any]:
    """(f)+(g)+(h) against a private offline region built by ``catch_up(6)``; stops what it starts."""
    result: dict[str, Any] = {"load_average": list(os.getloadavg())}
    home = work / "alb-home"
    saved = dict(os.environ)
    # A private region on a free port: never the learner's ~/.labsupport, never port 4747.
    os.environ.update({"LABSUPPORT_HOME": str(home), "LABSUPPORT_PORT": "0"})
    for key in ("LABSUPPORT_MODE", "LABSUPPORT_ALLOW_REAL_AWS", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(key, None)
    app: subprocess.Popen[bytes] | None = None
    region_pid: int | None = None
    try:
        import labsupport
        from labsupport import catchup, loadbalancer, offline

        t0 = time.perf_counter()
        lab = labsupport.setup(mode="offline", quiet=True)
        info = offline.require()
        pid = region_pid = info.pid
        result["region_start_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        built = catchup.catch_up(6, lab, quiet=True)
        # The two tasks need half a virtual minute to start and two health checks to be healthy.
        _advance(info.endpoint, pid, 120)
        result["catch_up_s"] = time.perf_counter() - t0
        cfg = lab.config.raw
        tg_arn = built["load_balancer"].target_groups[cfg["load_balancer"]["target_groups"]["blue"]]
        result["service_before_http"] = _service_state(lab, cfg["ecs"]["cluster"], cfg["ecs"]["service"], tg_arn)
        problem = _not_healthy(result["service_before_http"], int(cfg["ecs"]["desired_count"]))
        if problem:  # the listener would only answer 503: nothing worth timing
            raise RuntimeError(f"the catch-up service is not healthy after 2 virtual minutes: {problem}")
        listener_url = loadbalancer.url(80, lab)
        app, app_port = start_sample_app(work)
        ports = {"listener": int(listener_url.rstrip("/").rsplit(":", 1)[1]), "direct": app_port}
        result["http"] = http_workload(ports, {"listener": pid, "direct": app.pid}, requests, seconds)
        result["http"]["path"] = ALB_PATH
        result["http"]["listener_url"] = listener_url
        result["region_memory_mib"] = {"after_http": memory(pid)}
        result["sample_app_memory_mib"] = memory(app.pid)
        app.terminate()  # (g) needs no direct app: free its share of the cores
        app.wait(timeout=15)
        result["virtual_hour"] = virtual_hours(lab, info.endpoint, pid, built, hours)
        result["region_memory_mib"]["after_virtual_hours"] = memory(pid)
        # End to end: after the rolling hour the listener should serve the new release.
        with urllib.request.urlopen(listener_url, timeout=10) as response:
            result["virtual_hour"]["rolling"]["listener_serves"] = response.headers.get("X-App-Version")
    except Exception as exc:  # report and carry on: the other figures are still worth having
        result["failure"] = f"{type(exc).__name__}: {str(exc)[-800:]}"
    finally:
        if app is not None and app.poll() is None:
            app.terminate()
            try:
                app.wait(timeout=15)
            except subprocess.TimeoutExpired:
                app.kill()
                app.wait()
        # Stopping is best effort here; the pid check below is the backstop.
        with contextlib.suppress(Exception):
            from labsupport import offline

            offline.stop()
        if region_pid is not None:
            if _pid_alive(region_pid):
                os.kill(region_pid, signal.SIGKILL)  # the region this function started, by its pid
            with contextlib.suppress(ChildProcessError):
                os.waitpid(region_pid, os.WNOHANG)  # offline.start() made it our child: reap it
        os.environ.clear()
        os.environ.update(saved)
    result["load_average_after"] = list(os.getloadavg())
    return result


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except (OSError, IndexError):
        return False


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
    lines.extend(report_alb(results.get("alb") or {"skipped": "not measured"}))
    return "\n".join(lines)


def _x(value: float | None) -> str:
    return f"{value:>9.2f}x" if value is not None else ""


def report_alb(alb: dict[str, Any]) -> list[str]:
    """The (f), (g) and (h) lines of the table."""
    if "skipped" in alb:
        return ["", f"load balancer and ECS: skipped ({alb['skipped']})"]
    lines = ["", f"load balancer and ECS (private region; load {alb['load_average'][0]:.1f} at start of this step)"]
    http_ = alb.get("http")
    if http_:
        lines.append(f"{'GET ' + http_['path'] + ' over real HTTP':<34}{'listener':>12}{'direct':>12}{'lst/dir':>10}")
        lines.append("-" * 68)
        rows = {key: row for key, row in http_.items() if isinstance(row, dict) and "ratio" in row}
        for key, row in rows.items():
            lst, dct, ratio = row["listener"], row["direct"], row["ratio"]
            label = key.replace("_", " ")
            for name, field_, digits in (
                (f"req/s (n={lst['requests']}/{dct['requests']})", "rps", 0),
                ("p50 (ms)", "p50_ms", 2),
                ("p99 (ms)", "p99_ms", 2),
                ("server CPU/request (ms)", "server_cpu_ms_per_request", 2),
            ):
                lines.append(
                    f"{label + ' ' + name:<34}{lst[field_]:>12.{digits}f}{dct[field_]:>12.{digits}f}"
                    + _x(ratio[field_])
                )
        for side in ("listener", "direct"):
            parts = []
            for key, row in rows.items():
                r = row[side]
                bad = f", {r['errors']} errors, {r['not_200']} not 200" if r["errors"] + r["not_200"] else ""
                parts.append(f"{key.replace('_', ' ')} {r['connections_opened']}/{r['requests']}{bad}")
            lines.append(f"  TCP connections opened / requests, {side}: {'; '.join(parts)}")
    vh = alb.get("virtual_hour")
    if vh:
        lines.append("")
        lines.append(f"{'virtual hour (clock/advance 3600)':<34}{'wall s':>8}{'CPU s':>8}{'events':>8}{'events/s':>10}")
        lines.append("-" * 68)
        two, st, ro = vh["two_tasks"], vh["steady"], vh["rolling"]
        lines.append(
            f"{'2 tasks (reference)':<34}{two['wall_s']:>8.2f}{two['region_cpu_s']:>8.2f}"
            f"{two['events_run']:>8}{two['events_per_s']:>10.0f}"
        )
        steady_label = f"{SCALED_TASKS} tasks, median of {len(st['samples'])}"
        lines.append(
            f"{steady_label:<34}{st['median_wall_s']:>8.2f}"
            f"{st['median_region_cpu_s']:>8.2f}{st['median_events_run']:>8.0f}{st['events_per_s']:>10.0f}"
            f"  < {st['target_s']:.0f} s -> {_verdict(st['pass'])}"
        )
        lines.append(
            f"{f'{SCALED_TASKS} tasks + rolling deployment':<34}{ro['wall_s']:>8.2f}{ro['region_cpu_s']:>8.2f}"
            f"{ro['events_run']:>8}{ro['events_per_s']:>10.0f}  < {ro['target_s']:.0f} s -> {_verdict(ro['pass'])}"
        )
        load = max(alb["load_average"][0], alb.get("load_average_after", [0])[0])
        if load > (os.cpu_count() or 1):
            lines.append(
                f"  the machine was loaded (load {load:.1f} on {os.cpu_count()} CPUs): wall times are inflated, "
                "the region's CPU seconds are the steadier figure"
            )
        for name, part in (("steady", st), ("rolling", ro)):
            if part.get("invalid"):
                lines.append(f"  {name} hour not valid: {part['invalid']}")
        state = ro["state"]
        lines.append(
            f"  rolling deployment completed: {'yes' if ro['deployment_completed'] else 'NO'} "
            f"({state['running']} running, {state['healthy_targets']} healthy targets, "
            f"listener then serves {ro.get('listener_serves', '?')})"
        )
        each = ", ".join(f"{sample['wall_s']:.2f}" for sample in st["samples"])
        lines.append(
            f"  each steady hour (wall s): {each}; "
            f"update_service {ro['update_service_s'] * 1000:.0f} ms; "
            f"advance 0 s round trip {vh['advance_0s_round_trip_ms']:.1f} ms"
        )
    mem = alb.get("region_memory_mib")
    if mem:
        after_http = mem.get("after_http", {}).get("VmHWM", 0)
        after_hours = mem.get("after_virtual_hours", {}).get("VmHWM", 0)
        app = alb.get("sample_app_memory_mib", {}).get("VmHWM", 0)
        lines.append(
            f"region memory VmHWM: {after_http:.0f} MiB after the HTTP load, {after_hours:.0f} MiB after the "
            f"virtual hours (standalone sample app: {app:.0f} MiB)"
        )
    if alb.get("failure"):
        lines.append(f"  load balancer step failed: {alb['failure']}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300, help="describe_vpcs calls per server (default 300)")
    parser.add_argument("--starts", type=int, default=3, help="cold starts per server (default 3)")
    parser.add_argument("--skip-notebooks", action="store_true", help="leave out the notebook timing")
    parser.add_argument("--skip-alb", action="store_true", help="leave out the load balancer and ECS figures")
    parser.add_argument(
        "--alb-requests", type=int, default=2000, help="requests per side and client count (default 2000)"
    )
    parser.add_argument(
        "--alb-seconds", type=float, default=10.0, help="time limit per side and client count (default 10)"
    )
    parser.add_argument("--hours", type=int, default=3, help="steady virtual hours of the 10-task service (default 3)")
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

        # (f)+(g)+(h): after the servers are gone, so they do not compete for the two cores.
        results["alb"] = (
            {"skipped": "--skip-alb"}
            if args.skip_alb
            else run_alb(work, args.alb_requests, args.alb_seconds, max(1, args.hours))
        )

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
