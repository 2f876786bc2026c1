"""Predict-then-check exercises.

A notebook asks a question *before* showing the answer. The learner writes a prediction into a
variable, then calls :func:`check`, which works out the true answer (from the lab's own functions
or from live AWS calls, never from a stored value) and says whether the prediction was right and
why. An exercise the learner skipped says so and does not raise, so "Run all" still works::

    my_answer = None          # replace None with your prediction
    check("01-usable-24", my_answer)

Each exercise is registered with :func:`exercise`. Notebooks call :func:`check`; tests call
:func:`answer` to get the reference answer and check it against the real system.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import LabError


@dataclass(frozen=True)
class Exercise:
    key: str
    question: str
    solve: Callable[[], Any]
    explain: Callable[[Any], str]
    same: Callable[[Any, Any], bool]


_REGISTRY: dict[str, Exercise] = {}


def _default_same(predicted: Any, truth: Any) -> bool:
    if isinstance(truth, str) and isinstance(predicted, str):
        return predicted.strip().lower() == truth.strip().lower()
    if isinstance(truth, set | frozenset | list | tuple) and isinstance(predicted, set | frozenset | list | tuple):
        return {str(x).strip().lower() for x in predicted} == {str(x).strip().lower() for x in truth}
    return bool(predicted == truth)


def exercise(
    key: str,
    question: str,
    explain: Callable[[Any], str],
    same: Callable[[Any, Any], bool] = _default_same,
) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    """Register ``solve`` (a function computing the true answer) as exercise ``key``."""

    def register(solve: Callable[[], Any]) -> Callable[[], Any]:
        _REGISTRY[key] = Exercise(key, question, solve, explain, same)
        return solve

    return register


def get(key: str) -> Exercise:
    _load_all()
    if key not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise LabError(f"There is no exercise {key!r}.", f"use one of: {known}.")
    return _REGISTRY[key]


def answer(key: str) -> Any:
    """The reference answer, computed now."""
    return get(key).solve()


def check(key: str, prediction: Any) -> None:
    """Compare a prediction with the truth and print the verdict with an explanation."""
    ex = get(key)
    if prediction is None or prediction is ...:
        print(f"❓ {ex.question}\n   Make a prediction first: replace None with your answer, then run this cell again.")
        return
    truth = ex.solve()
    ok = ex.same(prediction, truth)
    mark = "✔ right" if ok else f"✘ not quite: you said {prediction!r}, the answer is {truth!r}"
    print(f"{mark}\n   {ex.explain(truth)}")


def _load_all() -> None:
    """Import every module that holds exercises, which registers them.

    Chapters 00-01 live in ``exercise_bank``; later chapters each have an ``exercises_<topic>``
    module next to the concept they test (``exercises_vpc``, ``exercises_security`` ...).
    """
    import importlib
    import pkgutil

    from . import __path__ as package_path

    topics = sorted(m.name for m in pkgutil.iter_modules(package_path) if m.name.startswith("exercises_"))
    for module in ["exercise_bank", *topics]:
        importlib.import_module(f"{__package__}.{module}")
