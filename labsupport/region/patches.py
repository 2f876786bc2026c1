"""Corrections to moto's models where moto answers but gets AWS wrong."""

from __future__ import annotations

from .rules import Context


def after_reset(ctx: Context) -> None:
    """Called after every reset, once the lab's backends exist."""
