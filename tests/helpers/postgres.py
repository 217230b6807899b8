"""The throwaway PostgreSQL cluster of the tests (shared with the scale benchmark)."""

from __future__ import annotations

from benchmarks.postgres_cluster import Cluster, find_bin

__all__ = ["Cluster", "find_bin"]
