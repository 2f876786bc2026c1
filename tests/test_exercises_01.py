"""Chapter 01's predict-then-check exercises: reference answers are right, check() judges fairly.

Chapter 01 is pure address math, so these tests need no region.
"""

from __future__ import annotations

import pytest

from labsupport import cidr
from labsupport.exercises import answer, check, get

# key -> (the answer a learner should give, predictions that must count as right, ones that must not)
CASES = {
    "01-usable-24": (251, [251], [256, 254, 255, 0]),
    "01-canonical-23": ("10.0.2.0/23", ["10.0.2.0/23", " 10.0.2.0/23 "], ["10.0.3.0/23", "10.0.4.0/23", "10.0.2.0/24"]),
    "01-surge-prefix": (25, [25, "25", "/25", " /25 "], [26, 24, "/26", "25.5", "twenty-five", 2.5]),
    "01-overlap": ("inside", ["inside", "Inside", " INSIDE "], ["contains", "partial", "equal", "disjoint"]),
}


@pytest.mark.parametrize("key", sorted(CASES))
def test_reference_answer_is_right(key: str) -> None:
    assert answer(key) == CASES[key][0]


def test_reference_answers_agree_with_the_cidr_module() -> None:
    # The same facts, asked of labsupport.cidr directly (what the notebook shows next to each check).
    assert cidr.address_counts("10.0.0.0/24").usable == 2**8 - 5
    assert str(cidr.parse("10.0.3.0/23", strict=False)) == "10.0.2.0/23"
    assert 2 ** (32 - 25) - 5 >= 100 > 2 ** (32 - 26) - 5
    assert cidr.classify_overlap("10.0.0.0/16", "10.0.0.0/20") == "contains"


@pytest.mark.parametrize("key", sorted(CASES))
def test_right_predictions_get_a_tick(key: str, capsys: pytest.CaptureFixture[str]) -> None:
    for prediction in CASES[key][1]:
        check(key, prediction)
        out = capsys.readouterr().out
        assert out.startswith("✔ right"), (prediction, out)
        assert "✘" not in out


@pytest.mark.parametrize("key", sorted(CASES))
def test_wrong_predictions_get_a_cross_and_the_answer(key: str, capsys: pytest.CaptureFixture[str]) -> None:
    truth = CASES[key][0]
    for prediction in CASES[key][2]:
        check(key, prediction)
        out = capsys.readouterr().out
        assert out.startswith("✘ not quite"), (prediction, out)
        assert repr(truth) in out


@pytest.mark.parametrize("key", sorted(CASES))
def test_skipped_exercise_asks_for_a_prediction(key: str, capsys: pytest.CaptureFixture[str]) -> None:
    check(key, None)
    out = capsys.readouterr().out
    assert out.startswith("❓ " + get(key).question)
    assert "✔" not in out and "✘" not in out


def test_explanations_state_the_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    check("01-usable-24", 251)
    assert "256 addresses" in capsys.readouterr().out
    check("01-surge-prefix", 25)
    out = capsys.readouterr().out
    assert "100 addresses" in out and "123 usable" in out and "59 usable" in out
    check("01-canonical-23", "10.0.2.0/23")
    assert "10.0.4.0/23" in capsys.readouterr().out
