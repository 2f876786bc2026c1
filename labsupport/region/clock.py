"""The region's virtual clock: AWS time that the lab controls.

On AWS, waits are real: a target needs several health checks 30 s apart, a canary holds for 15
minutes, CodeDeploy keeps the old task set for an hour. A lab cannot make learners (or CI) sleep
through that, so every timed behaviour in the region is an event on this clock instead of a sleep.

Two modes:

- ``manual`` (the default, and what tests use): time stands still until someone advances it
  (``python -m labsupport clock advance 5m``, or ``POST /_lab/clock/advance``). Advancing runs every
  event that falls due, in time order, each seeing ``now()`` equal to its own due time, so a
  75-minute deployment replays identically in milliseconds.
- ``realtime``: a background thread moves the clock with the wall clock times ``speed`` (1.0 = real
  time, 60 = a minute per second), so ``curl`` in a terminal sees things change live.

Events are plain callables; an event may schedule further events (a health checker reschedules
itself every interval). Times are seconds since the Unix epoch as floats, like ``time.time()``.
The clock starts at a fixed instant so that outputs are the same on every run.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

# 2026-01-05 09:00:00 UTC, a Monday morning: a fixed, readable start for every fresh region.
EPOCH = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC).timestamp()

MANUAL = "manual"
REALTIME = "realtime"


@dataclass(order=True)
class _Event:
    due: float
    seq: int
    action: Callable[[], None] = field(compare=False)
    name: str = field(compare=False, default="")
    cancelled: bool = field(compare=False, default=False)


class VirtualClock:
    """A thread-safe discrete-event clock. See the module docstring."""

    def __init__(self, start: float = EPOCH, lock: threading.RLock | None = None) -> None:
        # The region passes its own lock so that events (which change AWS state) and API requests
        # never interleave: an event always sees a consistent region, and a request a settled clock.
        self._lock = lock if lock is not None else threading.RLock()
        self._now = start
        self._start = start
        self._events: list[_Event] = []
        self._seq = itertools.count()
        self.mode = MANUAL
        self.speed = 1.0
        self._wall_anchor = time.monotonic()
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()
        self.errors: list[str] = []  # failures of scheduled events, kept for /_lab/status

    # -- reading -------------------------------------------------------------------------------
    def now(self) -> float:
        with self._lock:
            return self._now

    def now_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now(), tz=UTC)

    def pending(self) -> int:
        with self._lock:
            return sum(1 for e in self._events if not e.cancelled)

    def status(self) -> dict[str, object]:
        with self._lock:
            upcoming = sorted(e for e in self._events if not e.cancelled)[:5]
            return {
                "now": datetime.fromtimestamp(self._now, tz=UTC).isoformat().replace("+00:00", "Z"),
                "epoch_seconds": self._now,
                "elapsed_seconds": self._now - self._start,
                "mode": self.mode,
                "speed": self.speed,
                "pending_events": len([e for e in self._events if not e.cancelled]),
                "next_events": [{"in_seconds": e.due - self._now, "name": e.name} for e in upcoming],
            }

    # -- scheduling ----------------------------------------------------------------------------
    def call_at(self, due: float, action: Callable[[], None], name: str = "") -> _Event:
        """Run ``action`` when the clock reaches ``due``. Returns a handle for :meth:`cancel`."""
        with self._lock:
            event = _Event(max(due, self._now), next(self._seq), action, name)
            heapq.heappush(self._events, event)
            return event

    def call_later(self, delay: float, action: Callable[[], None], name: str = "") -> _Event:
        with self._lock:
            return self.call_at(self._now + delay, action, name)

    @staticmethod
    def cancel(event: _Event) -> None:
        event.cancelled = True

    # -- moving --------------------------------------------------------------------------------
    def advance(self, seconds: float) -> int:
        """Move forward ``seconds``, running due events in order. Returns how many ran."""
        if seconds < 0:
            raise ValueError("the clock cannot go backwards")
        with self._lock:
            return self._run_until(self._now + seconds)

    def advance_to(self, when: float) -> int:
        with self._lock:
            return self._run_until(max(when, self._now))

    def _run_until(self, target: float) -> int:
        ran = 0
        while self._events and self._events[0].due <= target:
            event = heapq.heappop(self._events)
            if event.cancelled:
                continue
            self._now = event.due
            try:
                event.action()
            except Exception as exc:  # one broken event must not stop time for everyone
                self.errors.append(f"{event.name or event.action!r}: {type(exc).__name__}: {exc}")
                del self.errors[:-20]
            ran += 1
        self._now = target
        return ran

    def set_mode(self, mode: str, speed: float | None = None) -> None:
        """Switch between ``manual`` and ``realtime`` (with an optional speed factor)."""
        if mode not in (MANUAL, REALTIME):
            raise ValueError(f"unknown clock mode {mode!r}: use 'manual' or 'realtime'")
        if speed is not None:
            if not 0 < speed <= 10_000:
                raise ValueError("speed must be between 0 and 10000 (1 = real time)")
            self.speed = float(speed)
        with self._lock:
            self.mode = mode
            self._wall_anchor = time.monotonic()
        if mode == REALTIME and (self._ticker is None or not self._ticker.is_alive()):
            self._stop.clear()
            self._ticker = threading.Thread(target=self._tick, name="virtual-clock", daemon=True)
            self._ticker.start()

    def _tick(self) -> None:
        # Moves time in small steps so events fire close to when they are due in wall time.
        while not self._stop.wait(0.05):
            with self._lock:
                if self.mode != REALTIME:
                    continue
                wall = time.monotonic()
                step = (wall - self._wall_anchor) * self.speed
                self._wall_anchor = wall
                self._run_until(self._now + step)

    def reset(self) -> None:
        """Back to the fixed start instant, with no events and manual mode."""
        with self._lock:
            self._events.clear()
            self._now = self._start
            self.mode = MANUAL
            self.speed = 1.0
            self.errors.clear()

    def shutdown(self) -> None:
        self._stop.set()
