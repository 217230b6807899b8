"""Typed, checked access to parsed TOML: every error names the file, the key and the problem.

A :class:`Section` wraps one TOML table together with where it came from
(file and dotted key path). Getters validate type and range and raise
:class:`~dicomnet.errors.ConfigurationError`; :meth:`Section.done` rejects
keys nobody asked for, so a misspelt key is an error rather than silently
ignored.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from dicomnet.errors import ConfigurationError

__all__ = ["UID_PATTERN", "Section", "load_toml"]

#: PS3.5 §9.1: components of digits without leading zeros, at most 64 characters.
UID_PATTERN = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+$")


def load_toml(path: Path) -> Section:
    """Parse ``path`` and return its top-level table as a :class:`Section`."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: not valid TOML: {exc}") from exc
    return Section(data, path, "")


class Section:
    """One TOML table, its file, and its key path; getters that check what they return."""

    def __init__(self, data: dict[str, Any], path: Path, prefix: str) -> None:
        self.data = data
        self.path = path
        self.prefix = prefix
        self._used: set[str] = set()

    # ------------------------------------------------------------------ errors

    def key(self, name: str) -> str:
        """The dotted key path of ``name`` inside this table."""
        return f"{self.prefix}.{name}" if self.prefix else name

    def error(self, name: str, problem: str) -> ConfigurationError:
        """A ConfigurationError naming this file and ``name``'s key path."""
        return ConfigurationError(f"{self.path}: key {self.key(name)!r}: {problem}")

    # ------------------------------------------------------------------ raw access

    def has(self, name: str) -> bool:
        """Whether ``name`` is present."""
        return name in self.data

    def _raw(self, name: str, required: bool) -> Any:
        self._used.add(name)
        if name not in self.data:
            if required:
                raise self.error(name, "missing")
            return None
        return self.data[name]

    # ------------------------------------------------------------------ scalars

    def string(self, name: str, default: str | None = None) -> str:
        """A string value (required when ``default`` is None)."""
        value = self._raw(name, default is None)
        if value is None and default is not None:
            return default
        if not isinstance(value, str):
            raise self.error(name, f"expected a string, got {type(value).__name__}")
        return value

    def optional_string(self, name: str) -> str | None:
        """A string value, or None when absent."""
        if name not in self.data:
            self._used.add(name)
            return None
        return self.string(name)

    def boolean(self, name: str, default: bool) -> bool:
        """A boolean value."""
        value = self._raw(name, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(name, f"expected true or false, got {value!r}")
        return value

    def integer(self, name: str, default: int, *, low: int = 0, high: int | None = None) -> int:
        """An integer value in ``[low, high]``."""
        value = self._raw(name, False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(name, f"expected an integer, got {value!r}")
        if value < low or (high is not None and value > high):
            limit = f"{low}..{high}" if high is not None else f">= {low}"
            raise self.error(name, f"{value} is out of range ({limit})")
        return value

    def seconds(self, name: str, default: float | None) -> float | None:
        """A duration in seconds; the string ``"none"`` means no timeout (wait forever)."""
        value = self._raw(name, False)
        if value is None:
            return default
        if value == "none":
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise self.error(
                name, f"expected a positive number of seconds or 'none', got {value!r}"
            )
        return float(value)

    def choice(self, name: str, choices: Iterable[str], default: str | None = None) -> str:
        """A string that must be one of ``choices``."""
        allowed = tuple(choices)
        value = self.string(name, default)
        if value not in allowed:
            raise self.error(name, f"{value!r} is not one of {', '.join(allowed)}")
        return value

    def uid(self, name: str, default: str | None = None) -> str:
        """A syntactically valid UID."""
        value = self.string(name, default)
        self.check_uid(name, value)
        return value

    def check_uid(self, name: str, value: str) -> None:
        """Raise unless ``value`` is a well-formed UID (PS3.5 §9.1)."""
        if len(value) > 64 or not UID_PATTERN.match(value):
            raise self.error(name, f"{value!r} is not a valid UID")

    # ------------------------------------------------------------------ lists and tables

    def strings(self, name: str, default: tuple[str, ...] | None = None) -> tuple[str, ...]:
        """A list of strings."""
        value = self._raw(name, default is None)
        if value is None and default is not None:
            return default
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.error(name, "expected a list of strings")
        return tuple(value)

    def uids(self, name: str, default: tuple[str, ...] | None = None) -> tuple[str, ...]:
        """A list of well-formed UIDs."""
        values = self.strings(name, default)
        for index, value in enumerate(values):
            self.check_uid(f"{name}[{index}]", value)
        return values

    def table(self, name: str, *, required: bool = False) -> Section:
        """A sub-table (an empty one when absent and not required)."""
        value = self._raw(name, required)
        if value is None:
            return Section({}, self.path, self.key(name))
        if not isinstance(value, dict):
            raise self.error(name, "expected a table")
        return Section(value, self.path, self.key(name))

    def tables(self, name: str) -> Iterator[Section]:
        """An array of tables (``[[name]]``), each as a Section; empty when absent."""
        value = self._raw(name, False)
        if value is None:
            return iter(())
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise self.error(name, "expected an array of tables")
        return (
            Section(item, self.path, f"{self.key(name)}[{index}]")
            for index, item in enumerate(value)
        )

    def named_tables(self, name: str) -> Iterator[tuple[str, Section]]:
        """A table of tables (``[name.id]``): (id, Section) pairs in file order."""
        outer = self.table(name)
        for ident, value in outer.data.items():
            outer._used.add(ident)
            if not isinstance(value, dict):
                raise outer.error(ident, "expected a table")
            yield ident, Section(value, self.path, outer.key(ident))

    def string_map(self, name: str) -> tuple[tuple[str, str], ...]:
        """A table whose values are all strings, as (key, value) pairs in file order."""
        inner = self.table(name)
        pairs = []
        for key, value in inner.data.items():
            inner._used.add(key)
            if not isinstance(value, str):
                raise inner.error(key, "expected a string")
            pairs.append((key, value))
        return tuple(pairs)

    def done(self) -> None:
        """Raise if the table holds a key that no getter asked for (a misspelling)."""
        unknown = sorted(set(self.data) - self._used)
        if unknown:
            raise self.error(unknown[0], "unknown key")
