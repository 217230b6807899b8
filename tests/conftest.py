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


@pytest.fixture(scope="session")
def postgres_cluster():  # type: ignore[no-untyped-def]
    """A throwaway PostgreSQL server for the session (skipped locally, failed in CI if missing)."""
    from helpers.postgres import Cluster, find_bin

    bin_dir = find_bin()
    if bin_dir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL (initdb, pg_ctl) is required in CI but is not installed")
        pytest.skip("PostgreSQL not installed")
    cluster = Cluster(bin_dir).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def index_location(request: pytest.FixtureRequest, tmp_path):  # type: ignore[no-untyped-def]
    """Where a test's archive index lives: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "index" / "index.sqlite"
    return request.getfixturevalue("postgres_cluster").create_database()
