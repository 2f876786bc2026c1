"""The one error type the lab raises at learners.

Every mistake a learner can make with a `labsupport` call (a malformed CIDR, a prefix out of range,
a subnet outside its VPC, an unknown Availability Zone, an offline region that is not running ...)
raises :class:`LabError`. Its message always says two things: what is wrong, and how to fix it.
Catch ``LabError`` in your own code; never catch bare ``Exception`` to hide lab mistakes.

Errors that come from AWS itself (or from the offline region, which speaks AWS's language) stay
``botocore.exceptions.ClientError`` with AWS's error code, because recognising those codes is part of
what the workbook teaches.
"""

from __future__ import annotations


class LabError(ValueError):
    """A learner-facing error: ``problem`` says what is wrong, ``fix`` says what to do.

    ``str(err)`` is ``"<problem> Fix: <fix>"`` so the fix is visible in a notebook traceback.
    It subclasses ``ValueError`` because almost every case is a bad value passed to a function.
    """

    def __init__(self, problem: str, fix: str) -> None:
        self.problem = problem.rstrip()
        self.fix = fix.rstrip()
        super().__init__(f"{self.problem} Fix: {self.fix}")
