"""The offline region's process: ``python -m labsupport.region.server --port 4747 --state FILE``.

Learners never run this directly; ``python -m labsupport region start`` does (see
:mod:`labsupport.offline`). It binds 127.0.0.1 only (the region holds no secrets, but nothing on
the network should be able to change a learner's lab), writes a small JSON *state file* once it is
listening, so every kernel and terminal can find the endpoint, and removes it when it stops.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labsupport.region.server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--state", type=Path, required=True, help="where to write the endpoint file")
    parser.add_argument("--region", default="us-west-2")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)

    from werkzeug.serving import make_server

    from .app import DEFAULT_SEED, RegionApp

    app = RegionApp(region=args.region, seed=args.seed if args.seed is not None else DEFAULT_SEED)
    server = make_server(args.host, args.port, app, threaded=True)
    host, port = server.server_address[:2]
    endpoint = f"http://{host}:{port}"

    def stop(*_: object) -> None:
        # shutdown() blocks until serve_forever returns, so call it from another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    app.control.on_shutdown.append(stop)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    state = {
        "endpoint": endpoint,
        "host": host,
        "port": port,
        "pid": os.getpid(),
        "region": args.region,
        "started_at": time.time(),
    }
    args.state.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.state.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    tmp.replace(args.state)  # atomic: readers never see a half-written file
    print(f"labsupport region listening on {endpoint} (pid {os.getpid()})", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        app.clock.shutdown()
        app.world.shutdown()
        try:
            current = json.loads(args.state.read_text())
            if current.get("pid") == os.getpid():
                args.state.unlink()
        except (OSError, ValueError):
            pass
        print("labsupport region stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
