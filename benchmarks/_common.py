"""Shared by the benchmarks: bring the lab to the shape a benchmark needs, print figures."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingresscheck_lab.lab import Lab  # noqa: E402
from ingresscheck_lab.layout import LabLayout  # noqa: E402


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


# A small parent between us and the measured command: Linux keeps a process's peak RSS across execve, so a
# child forked straight from this (large, by then) benchmark process would report our size as its own peak.
# The wrapper is exec'd small and forks the command; RUSAGE_CHILDREN then holds that one command's peak.
# (tests/faults/_helpers.py measures the same way.)
_RSS_WRAPPER = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
open(sys.argv[1], "w").write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code)
"""


def run_measured(cmd: list[str], *, cwd: Path, stdout: IO[str], stderr: IO[str]) -> tuple[int, float, float]:
    """Run ``cmd`` to its end; (exit code, wall seconds, its own peak RSS in MB)."""
    fd, rss_file = tempfile.mkstemp(prefix="ic-rss-")
    os.close(fd)
    try:
        started = time.perf_counter()
        code = subprocess.call(
            [sys.executable, "-c", _RSS_WRAPPER, rss_file, *cmd], cwd=cwd, stdout=stdout, stderr=stderr
        )
        wall = time.perf_counter() - started
        rss_mb = int(Path(rss_file).read_text() or 0) / 1024
    finally:
        os.unlink(rss_file)
    return code, wall, rss_mb
