"""The lines a program prints for whoever waits on it (``listening on PORT``)."""

from __future__ import annotations

import sys


def announce(line: str) -> None:
    """Write ``line`` and its newline to standard output in one write, flushed.

    Worker processes share the stream; ``print`` writes the text and the newline
    separately when output is unbuffered (``PYTHONUNBUFFERED``), and two workers'
    lines then interleave into one line and an empty one.
    """
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
