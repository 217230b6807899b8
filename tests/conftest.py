"""Shared fixtures: peer discovery that fails (rather than skips) in CI."""

from __future__ import annotations

import os
import shutil

import pytest


def require_program(name: str) -> str:
    """Path of an external peer program; skip locally, fail in CI when it is missing."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is required in CI but is not installed")
        pytest.skip(f"{name} not installed")
    return path


def require_module(name: str) -> None:
    """Import check for an optional peer library (pynetdicom): fail in CI, skip locally."""
    try:
        __import__(name)
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail(f"python module {name} is required in CI but is not installed")
        pytest.skip(f"{name} not installed")
