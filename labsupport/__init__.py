"""labsupport: the helper package of the AWS container-deployment workbook.

Notebooks start with ``lab = labsupport.setup()``; see :mod:`labsupport.lab`. The package is a
versioned contract with the notebooks: notebook 00 checks ``__version__``, and functions are
deprecated before they are removed.
"""

__version__ = "0.1.0"

from .errors import LabError
from .lab import Lab, current, setup

__all__ = ["Lab", "LabError", "__version__", "current", "setup"]
