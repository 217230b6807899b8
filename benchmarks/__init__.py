"""Benchmarks that measure dicomnet beside pynetdicom and DCMTK in one run.

Run ``python -m benchmarks --list`` for the suites and ``python -m benchmarks
SUITE`` to run one; results go to ``benchmarks/results/SUITE.json``.
"""
