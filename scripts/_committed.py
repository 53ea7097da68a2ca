"""Write the text files a dataset script builds, or check that the committed ones match.

Shared by the ``scripts/build_*.py`` that regenerate committed data and their README.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def write_or_check(files: Mapping[str, str], out: Path, *, check: bool, what: str) -> int:
    """Write ``files`` (name → text) into ``out``, or with ``check`` compare them; exit code."""
    if check:
        diffs = [
            name
            for name, text in files.items()
            if not (out / name).is_file() or (out / name).read_text(encoding="utf-8") != text
        ]
        if diffs:
            print(f"{what}: differs from the committed files:", ", ".join(diffs))
            return 1
        print(f"{what} reproduced identically")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    return 0
