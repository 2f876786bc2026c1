"""Command line: ``python -m labsupport <command>``.

start                      start the offline region and open JupyterLab on the first notebook
region start|stop|status|reset
env                        shell exports that point the AWS CLI / boto3 at the offline region
clock [show]|advance 5m|realtime [SPEED]|manual
rules                      the AWS rules the offline region enforces beyond moto
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import __version__, clock, offline
from .errors import LabError

FIRST_NOTEBOOK = "00_start_here.ipynb"


def _region(args: argparse.Namespace) -> int:
    if args.action == "start":
        info = offline.start()
        print(f"offline region running at {info.endpoint} (pid {info.pid}, {info.region})")
        print('point a terminal at it with:  eval "$(python -m labsupport env)"')
    elif args.action == "stop":
        print("offline region stopped" if offline.stop() else "no offline region was running")
    elif args.action == "status":
        info = offline.find()
        if info is None:
            print("offline region: not running (start it with `python -m labsupport region start`)")
            return 3
        s = info.status
        print(f"offline region: running at {info.endpoint} (pid {info.pid}, {info.region}, labsupport {s['version']})")
        print(f"requests served: {s['requests']}")
        print(f"clock: {clock.describe(s['clock'])}")
        for problem in s.get("clock_errors", []):
            print(f"clock event failed: {problem}")
    elif args.action == "reset":
        offline.reset()
        print("offline region reset: empty, IDs reseeded, clock rewound")
    return 0


def _clock(args: argparse.Namespace) -> int:
    if args.action in (None, "show"):
        print(clock.describe())
    elif args.action == "advance":
        if not args.value:
            raise LabError("`clock advance` needs a duration.", "write e.g. `python -m labsupport clock advance 5m`.")
        info = clock.advance(args.value)
        print(f"{clock.describe(info)}; {info['events_run']} events ran")
    elif args.action == "realtime":
        print(clock.describe(clock.realtime(float(args.value or 1))))
    elif args.action == "manual":
        print(clock.describe(clock.manual()))
    return 0


def _env(_: argparse.Namespace) -> int:
    print(offline.shell_exports(offline.start()))
    return 0


def _rules(_: argparse.Namespace) -> int:
    info = offline.require()
    for row in offline.control(info.endpoint, "/_lab/rules")["rules"]:
        print(f"{row['service']:>5} {row['action']:<32} {row['rule']}")
    return 0


def _listeners(_: argparse.Namespace) -> int:
    info = offline.require()
    rows = offline.control(info.endpoint, "/_lab/listeners")["listeners"]
    if not rows:
        print("no load-balancer listeners yet (chapter 04 creates them)")
    for row in rows:
        print(f"{row['load_balancer']:<20} {row['protocol']:<5} {row['port']:>5}  ->  {row['local_url']}")
    return 0


def _image(args: argparse.Namespace) -> int:
    from . import images
    from .lab import setup

    setup(quiet=True)
    print(f"pushed {images.push(args.reference)}")
    return 0


def _start(args: argparse.Namespace) -> int:
    info = offline.start()
    print(f"offline region running at {info.endpoint}")
    notebooks = Path(__file__).resolve().parents[1] / "notebooks"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={notebooks}",
        "--ip=127.0.0.1",
        *args.jupyter_args,
    ]
    if os.geteuid() == 0 and "--allow-root" not in command:
        command.append("--allow-root")
    command.append(str(notebooks / FIRST_NOTEBOOK))
    os.execv(sys.executable, command)
    return 0  # not reached


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labsupport", description="The AWS container-deployment workbook.")
    parser.add_argument("--version", action="version", version=f"labsupport {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("start", help="start the offline region and JupyterLab on the first notebook")
    p.add_argument("jupyter_args", nargs=argparse.REMAINDER, help="extra arguments for jupyter lab")
    p.set_defaults(func=_start)
    p = sub.add_parser("region", help="start, stop, inspect or reset the offline region")
    p.add_argument("action", choices=["start", "stop", "status", "reset"])
    p.set_defaults(func=_region)
    p = sub.add_parser("clock", help="show or move the region's virtual clock")
    p.add_argument("action", nargs="?", choices=["show", "advance", "realtime", "manual"])
    p.add_argument("value", nargs="?", help="a duration (5m, 1h30m) or a speed")
    p.set_defaults(func=_clock)
    p = sub.add_parser("env", help='print shell exports for the AWS CLI: eval "$(python -m labsupport env)"')
    p.set_defaults(func=_env)
    p = sub.add_parser("rules", help="list the AWS rules the offline region enforces beyond moto")
    p.set_defaults(func=_rules)
    p = sub.add_parser("listeners", help="list load-balancer listeners and their local URLs")
    p.set_defaults(func=_listeners)
    p = sub.add_parser("image", help="manage images in the lab's ECR")
    p.add_argument("action", choices=["push"])
    p.add_argument("reference", help="REPO:TAG, e.g. my-app-frontend:v2")
    p.set_defaults(func=_image)
    # `start` passes unknown options (e.g. --no-browser, --port 9999) on to JupyterLab.
    args, extra = parser.parse_known_args(argv)
    if extra:
        if args.command != "start":
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.jupyter_args = [*args.jupyter_args, *extra]
    try:
        return int(args.func(args))
    except LabError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
