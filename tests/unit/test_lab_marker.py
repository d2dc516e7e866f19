"""The `lab` marker: ``pytest -m "not lab"`` never starts the lab, also in tests/docs and tests/faults,
whose tests reach the lab through the `lab` fixture rather than by folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pytest(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_not_lab_deselects_every_docs_test_that_uses_the_lab() -> None:
    # Given the docs tests: README blocks run on the lab (the `lab` fixture), a few checks of the text without it
    every = _pytest("--collect-only", "tests/docs").stdout.splitlines()
    # When collected with -m "not lab"
    out = _pytest("--collect-only", "-m", "not lab", "tests/docs")
    kept = [line for line in out.stdout.splitlines() if "::" in line]
    # Then no README block is kept (none would start the lab), and the tests without the lab still are
    assert out.returncode == 0, out.stdout + out.stderr
    blocks = [line for line in every if "::test_readme_block_runs_as_documented[" in line]
    assert blocks and not any(line in kept for line in blocks)
    assert kept and all("::test_readme_block_runs_as_documented[" not in line for line in kept)
