"""The association layer: :class:`Association` and the types its API returns."""

from __future__ import annotations

from .core import Association
from .requests import Response, ResponseStream

__all__ = ["Association", "Response", "ResponseStream"]
