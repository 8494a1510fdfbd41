"""``python -m hello_bench``: the same as the ``bench`` command (re-executed isolated before any other import).

Python puts the current folder first on ``sys.path`` for ``-m``: a ``bench/``
folder there is what runs (nothing can change that; the ``bench`` console
script has no such hole). Anything else (a ``json.py``, ``typing.py``) is
never imported: this module imports only :mod:`hello_bench.cli`, which imports only
``os`` and ``sys`` before it re-executes in isolated mode.
"""

from hello_bench.cli import entry

entry()
