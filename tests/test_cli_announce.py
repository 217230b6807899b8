"""Ready lines go out in one write: worker processes share standard output."""

from __future__ import annotations

import io

import pytest

from dicomnet.cli.announce import announce


class _Writes(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.flushed = 0

    def write(self, text: str) -> int:
        self.calls.append(text)
        return super().write(text)

    def flush(self) -> None:
        self.flushed += 1


def test_a_ready_line_and_its_newline_are_one_write(monkeypatch: pytest.MonkeyPatch) -> None:
    # With PYTHONUNBUFFERED each write is a system call of its own; two workers printing
    # "http listening on N" and then "\n" separately interleaved into "...N...N\n" + "\n".
    out = _Writes()
    monkeypatch.setattr("sys.stdout", out)
    announce("http listening on 4242")
    assert out.calls == ["http listening on 4242\n"]
    assert out.flushed == 1
