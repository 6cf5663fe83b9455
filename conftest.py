"""Rootdir conftest: enables ``pytester`` and makes ``tests.*`` helper modules importable.

pytest only accepts ``pytest_plugins`` in the top-level conftest. Loading this file puts the
repository root on ``sys.path`` (rootdir import mode), so conftests anywhere under ``tests/``
can import ``tests.process_probes``. A ``tests/conftest.py`` would not do: it would put
``tests/`` on ``sys.path``, where ``tests/devices`` and ``tests/harness`` shadow the real
packages as namespace packages.
"""

pytest_plugins = ["pytester"]
