"""The lab run's terminal output stays short and readable at 80 columns whatever the number of hosts: the
lab's one wildcard record is ONE finding listing its hosts, not a line per host (issue 26). On a lab
started with `lab up --extra-hosts 150` this is the README's 80-column output."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from ingresscheck_lab.lab import Lab

ROOT = Path(__file__).resolve().parents[2]


def _run(lab: Lab, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80", "FORCE_COLOR": "1", "TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "0"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "ingresscheck",
            "run",
            "--kubeconfig",
            str(lab.layout.kubeconfig),
            "--profile",
            str(lab.layout.profile),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env=env,
    )


def test_the_wildcard_is_one_finding_over_every_host_at_80_columns(lab: Lab) -> None:
    """Given the healthy lab (its *.example.test wildcard record under every example.test host), when run
    prints to an 80-column terminal without progress, then the wildcard is one finding naming how many
    hosts, no line is over 80 columns, stderr is empty, and the output does not grow with the hosts."""
    out = _run(lab, "--no-progress", "--no-reports")
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout)
    assert out.returncode == 0 and out.stderr == "", out
    heads = [line for line in plain.splitlines() if line.startswith("warn ")]
    assert heads == [h for h in heads if "dns.wildcard" in h] and len(heads) == 1, plain
    hosts = int(re.search(r"dns\.wildcard (\d+) hosts \[\*\.example\.test\]", heads[0]).group(1))  # type: ignore[union-attr]
    assert hosts >= 3, plain
    assert re.search(r"^      on \S+, .*and \d+ more$", plain, re.M), plain
    assert max(len(line) for line in plain.splitlines()) <= 80, plain
    assert len(plain.splitlines()) <= 12, plain


def test_quiet_on_the_healthy_lab_is_the_summary_alone(lab: Lab) -> None:
    out = _run(lab, "-q", "--no-reports")
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout)
    assert out.returncode == 0 and out.stderr == "", out
    assert "dns.wildcard" not in plain and re.search(r"fail 0 .*error 0", plain), plain
    assert len(plain.splitlines()) <= 2, plain


def test_junit_names_are_unique_without_counters(lab: Lab, tmp_path: Path) -> None:
    """Given the healthy lab (a host whose rules reach three Services, an HTTPRoute with two /docs rules told
    apart by a header match), when run writes JUnit, then no test name needs a #2/#3 counter (issue 26)."""
    junit = tmp_path / "run.xml"
    out = _run(lab, "--no-progress", "--junit", str(junit))
    assert out.returncode == 0, out
    names = re.findall(r'<testcase [^>]*name="([^"]*)"', junit.read_text())
    assert names and not [n for n in names if re.search(r" #\d+$", n)], [n for n in names if "#" in n]
    assert any("+X-Docs-Version: v2" in n for n in names), names[:20]
