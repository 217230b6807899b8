"""``dicomnet_pdu`` imports nothing outside the standard library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dicomnet_pdu

_PROBE = """
import importlib, os, pkgutil, sys, sysconfig
import dicomnet_pdu
for info in pkgutil.walk_packages(dicomnet_pdu.__path__, "dicomnet_pdu."):
    importlib.import_module(info.name)
stdlib = os.path.realpath(sysconfig.get_paths()["stdlib"])
platstdlib = os.path.realpath(sysconfig.get_paths()["platstdlib"])
package = os.path.realpath(os.path.dirname(dicomnet_pdu.__file__))
outside = []
for name, module in sorted(sys.modules.items()):
    path = getattr(module, "__file__", None)
    if name in sys.builtin_module_names or name == "__main__" or path is None:
        continue
    path = os.path.realpath(path)
    if not any(path.startswith(root + os.sep) for root in (stdlib, platstdlib, package)):
        outside.append(f"{name}: {path}")
    elif "site-packages" in path or "dist-packages" in path:
        outside.append(f"{name}: {path}")
print(len([n for n in sys.modules if n.startswith("dicomnet_pdu.")]))
print("\\n".join(outside))
"""


def test_only_stdlib_modules_are_imported() -> None:
    # -S: no site-packages and no .pth start-up imports; the checkout is put on the path.
    root = Path(dicomnet_pdu.__file__).resolve().parent.parent
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            f"import sys; sys.path.insert(0, {str(root)!r})\n{_PROBE}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    count, _, outside = result.stdout.partition("\n")
    assert int(count) >= 6  # codes, errors, items, pdus, codec, framer at least
    assert outside.strip() == "", f"non-stdlib imports: {outside}"
