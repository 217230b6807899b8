"""``python -m benchmarks SUITE [--quick] [--only TEXT ...] [--output-dir DIR]``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .harness import RESULTS_DIR, SUITES, Options, format_result, run_suite, write_result


def main(argv: Sequence[str] | None = None) -> int:
    """Run one suite (or list them); print its tables and write its JSON."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure dicomnet beside pynetdicom and DCMTK.",
    )
    parser.add_argument("suite", nargs="?", choices=sorted(SUITES), help="suite to run")
    parser.add_argument("--list", action="store_true", help="list the suites and exit")
    parser.add_argument("--quick", action="store_true", help="short smoke run (small counts)")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="TEXT",
        help="run only cases whose label contains TEXT (repeatable)",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=RESULTS_DIR,
        help=f"where SUITE.json goes (default {RESULTS_DIR})",
    )
    parser.add_argument(
        "--repeat", type=int, metavar="N", help="runs per row, best kept (default: per suite)"
    )
    parser.add_argument(
        "--size",
        type=int,
        action="append",
        default=[],
        metavar="N",
        help="archive of N instances (find suite; repeatable; default 10000)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="report each case as it runs")
    args = parser.parse_args(argv)

    if args.list:
        width = max(len(name) for name in SUITES)
        for name, spec in sorted(SUITES.items()):
            print(f"{name.ljust(width)}  {spec.description}")
        return 0
    if args.suite is None:
        parser.error("a suite is required (or --list)")

    options = Options(
        quick=args.quick,
        output_dir=args.output_dir,
        only=tuple(args.only),
        verbose=args.verbose,
        repeat=args.repeat,
        sizes=tuple(args.size),
    )
    result = run_suite(args.suite, options)
    path = write_result(result, options.output_dir)
    print(format_result(result))
    print(f"\nwrote {path}")
    for extra in result.files:
        print(f"wrote {extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
