"""bench: fair, repeated, timed comparisons of scikit-learn, Keras and PyTorch.

``bench.load`` returns stored records as one tidy, flat pandas DataFrame
(``raw=True``: the records as stored); the errors it raises are importable
from here.
"""

from __future__ import annotations

from .errors import UserError
from .load import DuplicateSplitError, load

__version__ = "0.2.0"

__all__ = ["DuplicateSplitError", "UserError", "__version__", "load"]
