"""Catch-up: rebuild what earlier chapters made, so any notebook runs on its own.

A learner may open chapter 05 first, or restart the region between chapters. The first cells of
each notebook call ``catch_up(lab, chapter)``, which builds (idempotently) everything the chapters
before it would have built. Each chapter registers its builder here in order; a builder must be safe
to run again and must only use boto3 calls, so catch-up also works against real AWS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import fargate, loadbalancer, network
from .errors import LabError
from .lab import Lab, current

FIRST_CHAPTER = 0
LAST_CHAPTER = 13  # 00 start here ... 13 clean-up and real-AWS mode


def _chapter_02(lab: Lab, state: dict[str, Any]) -> None:
    state["network"] = network.build(lab, security_groups=False)


def _chapter_03(lab: Lab, state: dict[str, Any]) -> None:
    state["network"] = network.build(lab, security_groups=True)


def _chapter_04(lab: Lab, state: dict[str, Any]) -> None:
    state["load_balancer"] = loadbalancer.build(lab, state["network"])


def _chapter_05(lab: Lab, state: dict[str, Any]) -> None:
    state["service"] = fargate.build(lab, state["network"], state["load_balancer"])


# chapter number -> what that chapter leaves behind. Chapters 00 and 01 build nothing on AWS.
BUILDERS: dict[int, Callable[[Lab, dict[str, Any]], None]] = {
    2: _chapter_02,
    3: _chapter_03,
    4: _chapter_04,
    5: _chapter_05,
}


class Built(dict[str, Any]):
    """What catch-up built, by name. Its repr is a summary without IDs (IDs differ between runs)."""

    def __repr__(self) -> str:
        parts = [v.summary() for v in self.values() if hasattr(v, "summary")]
        return f"<built: {'; '.join(parts) or 'nothing'}>"


def catch_up(chapter: int, lab: Lab | None = None, *, quiet: bool = False) -> Built:
    """Build what chapters before ``chapter`` built. Returns their results by name.

    Prints one line that does not depend on whether anything had to be created, so a notebook's
    output is the same when run alone or after the chapters before it.
    """
    if not FIRST_CHAPTER <= chapter <= LAST_CHAPTER:
        raise LabError(
            f"There is no chapter {chapter}.", f"use a chapter number from {FIRST_CHAPTER} to {LAST_CHAPTER}."
        )
    lab = lab or current()
    state = Built()
    done = []
    for number in sorted(BUILDERS):
        if number < chapter:
            BUILDERS[number](lab, state)
            done.append(f"{number:02d}")
    if not quiet:
        if done:
            details = "; ".join(v.summary() for v in state.values() if hasattr(v, "summary"))
            print(f"caught up: what chapters {', '.join(done)} build is in place ({details})")
        else:
            print("nothing to catch up: earlier chapters build nothing on AWS")
    return state
