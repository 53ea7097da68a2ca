"""What every benchmark prints about the machine it ran on (imported by the bench_* scripts,
which run from this folder: ``python benchmarks/bench_x.py``)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

__all__ = ["cpu_model", "machine_line"]


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (or platform's guess elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line(when: str) -> str:
    """One line: CPU model, CPU count and the load averages (1, 5, 15 min)."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"[{when}] CPU {cpu_model()} × {os.cpu_count()}, load average (1/5/15 min) {load}"
