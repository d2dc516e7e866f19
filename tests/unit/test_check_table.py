"""The README's check table is generated from the probes' CheckSpec declarations and kept in step."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ingresscheck.probes import _builtin
from ingresscheck.probes._check_table import BEGIN, COMMAND, END, split, table, write

ROOT = Path(__file__).resolve().parents[2]


def test_readme_check_table_is_the_generated_one() -> None:
    # Given README and the table generated from every built-in probe's declared checks
    _, current, _ = split((ROOT / "README.md").read_text())
    # Then they are the same (a new check ID, or a changed summary, needs the command run)
    assert current == table(), f"README's check table is out of step with the probes: run `{COMMAND}`"


def test_the_table_has_one_row_per_declared_check_id() -> None:
    ids = [c.id for p in _builtin() for c in p.checks]
    rows = [line for line in table().splitlines() if line.startswith("| `")]
    assert len(rows) == len(ids) == len(set(ids))
    assert [row.split("`")[1] for row in rows] == ids


def test_the_command_writes_between_the_markers_only(tmp_path: Path) -> None:
    # Given a README whose table is stale, with text around it
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{BEGIN}\n| stale |\n{END}\noutro\n")
    # When the command runs (twice)
    run = [sys.executable, "-m", "ingresscheck.probes", "--check-table", str(readme)]
    first = subprocess.run(run, capture_output=True, text=True, timeout=60, check=False)
    second = subprocess.run(run, capture_output=True, text=True, timeout=60, check=False)
    # Then the table is replaced, the text around it kept, and the second run changes nothing
    assert first.returncode == 0 and "updated" in first.stdout, first.stderr
    assert readme.read_text() == f"intro\n{BEGIN}\n{table()}{END}\noutro\n"
    assert second.returncode == 0 and "already up to date" in second.stdout


def test_a_readme_without_markers_is_one_line_and_exit_2(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("no table here\n")
    with pytest.raises(ValueError, match="check-table markers"):
        write(readme)
    out = subprocess.run(
        [sys.executable, "-m", "ingresscheck.probes", "--check-table", str(readme)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1 and "markers" in out.stderr
    assert readme.read_text() == "no table here\n"
