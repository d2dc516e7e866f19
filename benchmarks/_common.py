"""Shared by the benchmarks: bring the lab to the shape a benchmark needs, print figures."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingresscheck.lab.lab import Lab  # noqa: E402
from ingresscheck.lab.layout import LabLayout  # noqa: E402


def lab_with_extra_hosts(count: int) -> tuple[Lab, bool]:
    """A lab with at least ``count`` extra hosts; returns (lab, whether this call started it)."""
    lab = Lab(LabLayout.at(ROOT / ".lab"), say=lambda m: print(m, file=sys.stderr))
    if lab.is_up() and int(lab.state().get("extra_hosts", 0)) >= count:
        return lab, False
    if lab.is_up():
        lab.down(quiet=True)
    lab.up(extra_hosts=count)
    return lab, True


def figure(name: str, value: float, unit: str, target: str = "") -> None:
    print(f"{name:<40} {value:>10.2f} {unit:<8} {target}")
