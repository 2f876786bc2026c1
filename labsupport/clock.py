"""The lab's virtual clock, seen from a notebook or a terminal.

AWS waits are real (health checks every 30 s, a 15-minute canary, a one-hour termination wait).
The offline region keeps its own clock so that nothing in the lab sleeps for real: you advance it.

    >>> from labsupport import clock
    >>> clock.advance("5m")          # five minutes pass in the region, instantly
    >>> clock.realtime(speed=60)     # or let it run: one region minute per real second
    >>> clock.now()

The same from a terminal: ``python -m labsupport clock advance 5m``. Against real AWS there is no
clock to move, so these functions refuse with an explanation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import offline
from .errors import LabError


def parse_duration(text: str | float | int) -> float:
    """Seconds from ``90``, ``"90s"``, ``"5m"``, ``"1h30m"``, ``"2h"`` or ``"1d"``."""
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        raw = text.strip().lower()
        units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
        seconds, number = 0.0, ""
        for ch in raw:
            if ch.isdigit() or ch == ".":
                number += ch
            elif ch in units and number:
                seconds += float(number) * units[ch]
                number = ""
            else:
                raise LabError(f"Cannot read the duration {text!r}.", "write it like 90s, 5m, 1h30m or 2h.")
        if number:
            seconds += float(number)
        if not raw:
            raise LabError("The duration is empty.", "write it like 90s, 5m, 1h30m or 2h.")
    if seconds < 0:
        raise LabError("A duration cannot be negative: the clock only moves forward.", "pass a positive duration.")
    return seconds


def _endpoint() -> str:
    return offline.require().endpoint


def status() -> dict[str, Any]:
    """The clock as the region reports it (``now``, ``mode``, ``speed``, pending events)."""
    return offline.control(_endpoint(), "/_lab/clock")


def now() -> datetime:
    """The region's current time (UTC)."""
    return datetime.fromisoformat(status()["now"].replace("Z", "+00:00"))


def advance(duration: str | float | int) -> dict[str, Any]:
    """Move the region's clock forward, running everything that falls due on the way."""
    seconds = parse_duration(duration)
    return offline.control(_endpoint(), "/_lab/clock/advance", {"seconds": seconds}, timeout=300)


def realtime(speed: float = 1.0) -> dict[str, Any]:
    """Let the region's clock run by itself, ``speed`` times faster than the wall clock."""
    if not 0 < speed <= 10_000:
        raise LabError(f"Speed {speed} is out of range.", "use a speed between 0.01 and 10000 (1 = real time).")
    return offline.control(_endpoint(), "/_lab/clock/mode", {"mode": "realtime", "speed": speed})


def manual() -> dict[str, Any]:
    """Stop the clock: from now on it moves only when you call :func:`advance`."""
    return offline.control(_endpoint(), "/_lab/clock/mode", {"mode": "manual"})


def describe(info: dict[str, Any] | None = None) -> str:
    """One line for humans: ``2026-01-05 09:05:00 UTC (manual, +5m since start, 0 events pending)``."""
    info = info or status()
    elapsed = int(info["elapsed_seconds"])
    hours, rest = divmod(elapsed, 3600)
    minutes, seconds = divmod(rest, 60)
    since = f"+{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"+{minutes}m{seconds:02d}s"
    mode = info["mode"] if info["mode"] == "manual" else f"realtime x{info['speed']:g}"
    when = info["now"].replace("T", " ").replace("Z", " UTC")
    pending = int(info["pending_events"])
    events = "1 event" if pending == 1 else f"{pending} events"
    return f"{when} ({mode}, {since} since the region started, {events} pending)"
