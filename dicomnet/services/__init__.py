"""DIMSE services: pluggable handlers that never touch sockets."""

from __future__ import annotations

from .base import Binding, DataStream, Handler, HandlerRegistry, IncomingRequest, Reply, Service
from .verification import VerificationService

__all__ = [
    "Binding",
    "DataStream",
    "Handler",
    "HandlerRegistry",
    "IncomingRequest",
    "Reply",
    "Service",
    "VerificationService",
]
