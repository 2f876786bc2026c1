"""The workbook's chapters, in order: one list that notebooks, catch-up and the README agree on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chapter:
    number: int
    title: str
    notebook: str  # file name in notebooks/, "" while the chapter is not written yet

    @property
    def available(self) -> bool:
        return bool(self.notebook)


CHAPTERS: tuple[Chapter, ...] = (
    Chapter(0, "Start here", "00_start_here.ipynb"),
    Chapter(1, "CIDR planning", "01_cidr_planning.ipynb"),
    Chapter(2, "VPC, subnets, route tables and gateways", "02_vpc_subnets_routes.ipynb"),
    Chapter(3, "Security groups and the packet walk", "03_security_groups_packet_walk.ipynb"),
    Chapter(4, "The Application Load Balancer", "04_load_balancer.ipynb"),
    Chapter(5, "ECS on Fargate", "05_ecs_fargate.ipynb"),
    Chapter(6, "Recreate vs rolling", "06_recreate_vs_rolling.ipynb"),
    Chapter(7, "Blue/green with CodeDeploy", ""),
    Chapter(8, "Canary, linear, hooks, alarms, rollback", ""),
    Chapter(9, "ECS built-in blue/green", ""),
    Chapter(10, "The CI/CD pipeline", ""),
    Chapter(11, "Troubleshooting clinic", ""),
    Chapter(12, "Every strategy, measured", ""),
    Chapter(13, "Clean-up and real-AWS mode", ""),
)


def chapter(number: int) -> Chapter:
    for ch in CHAPTERS:
        if ch.number == number:
            return ch
    raise KeyError(number)


def table() -> str:
    """The chapter list as text, marking the ones not written yet."""
    lines = []
    for ch in CHAPTERS:
        state = "" if ch.available else "  (coming later)"
        lines.append(f"{ch.number:02d}  {ch.title}{state}")
    return "\n".join(lines)


def complete(number: int) -> None:
    """The last cell of every notebook: a fixed sentinel line plus where to go next."""
    following = [ch for ch in CHAPTERS if ch.number > number]
    nxt = following[0] if following else None
    if nxt is None:
        tail = "that was the last chapter"
    elif nxt.available:
        tail = f"next: {nxt.notebook}"
    else:
        tail = f"next: chapter {nxt.number:02d} {nxt.title} (not written yet)"
    print(f"✔ chapter {number:02d} complete — {tail}")
