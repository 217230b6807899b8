"""A one-line progress bar on a terminal, shared by the commands that send or retrieve."""

from __future__ import annotations

from typing import Final, TextIO

__all__ = ["TerminalBar"]


class TerminalBar:
    """Draws ``[####----] done/total  tail`` in place; does nothing when not on a tty."""

    WIDTH: Final = 30

    def __init__(self, stream: TextIO, *, enabled: bool = True) -> None:
        self.stream = stream
        self.enabled = enabled and stream.isatty()
        self._shown = False

    def draw(self, done: int, total: int, tail: str) -> None:
        """Redraw the bar (only when enabled)."""
        if not self.enabled:
            return
        filled = self.WIDTH * done // max(1, total)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self.stream.write(f"\r[{bar}] {done}/{total}  {tail}")
        self.stream.flush()
        self._shown = True

    def clear(self) -> None:
        """Erase the bar so that a message can be printed."""
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False
