"""Smoke tests of the benchmark harness (``benchmarks/``).

pytest imports this directory as the package ``benchmarks`` (``tests/`` is on
``sys.path`` and has no ``__init__``), which would hide the real top-level
``benchmarks`` package. Adding the real package's directory to ``__path__``
makes ``benchmarks.harness`` and friends resolve to the modules under test.
"""

from pathlib import Path

__path__.append(str(Path(__file__).resolve().parents[2] / "benchmarks"))
