"""CI's lint stage: `.ci/run` runs scripts/lint (ruff check, ruff format --check, mypy) before the README's
test command, and fails on a ruff or a mypy error planted in a copy of the package.

The copy holds the real `.ci/run`, `scripts/lint`, pyproject.toml and both packages; scripts/setup and
scripts/test are stand-ins that record they ran (setting up and the whole suite are not what is tested).
mypy's cache is copied along (same relative paths), so a warm run takes about a second.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv"

pytestmark = pytest.mark.skipif(
    not (VENV / "bin" / "ruff").exists() or not (VENV / "bin" / "mypy").exists(),
    reason="ruff and mypy come from the .venv scripts/setup makes",
)

STAND_IN = '#!/usr/bin/env bash\necho "$(basename "$0") ran" >> "$(dirname "$0")/../ran.log"\n'


def _copy(dst: Path, cache: Path | None) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".lab", ".cache")
    dst.mkdir()
    for name in ("ingresscheck", "ingresscheck_lab"):
        shutil.copytree(ROOT / name, dst / name, ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", dst / "pyproject.toml")
    (dst / ".ci").mkdir()
    shutil.copy2(ROOT / ".ci" / "run", dst / ".ci" / "run")
    (dst / "scripts").mkdir()
    shutil.copy2(ROOT / "scripts" / "lint", dst / "scripts" / "lint")
    for name in ("setup", "test"):
        (dst / "scripts" / name).write_text(STAND_IN)
        (dst / "scripts" / name).chmod(0o755)
    if cache is not None and cache.is_dir():
        shutil.copytree(cache, dst / ".mypy_cache")
    return dst


def _ci(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INGRESSCHECK_VENV": str(VENV)}
    return subprocess.run(
        [str(root / ".ci" / "run")], capture_output=True, text=True, env=env, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """A clean copy and its CI run (which leaves a warm mypy cache for the planted copies)."""
    root = _copy(tmp_path_factory.mktemp("ci") / "clean", ROOT / ".mypy_cache")
    return root, _ci(root)


def _planted(clean: Path, tmp_path: Path, module: str, text: str) -> Path:
    root = _copy(tmp_path / "planted", clean / ".mypy_cache")
    path = root / module
    path.write_text(path.read_text() + text)
    return root


def test_a_clean_copy_passes_lint_and_then_runs_the_tests(clean: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    # Given the package as it is, when .ci/run runs, then lint passes and setup, then the tests, ran
    root, out = clean
    assert out.returncode == 0, out.stdout + out.stderr
    assert "lint: mypy" in out.stdout
    assert (root / "ran.log").read_text().splitlines() == ["setup ran", "test ran"]


def test_a_planted_ruff_error_fails_ci_before_the_tests(
    clean: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    # Given an unused import in a module of the package
    root = _planted(clean[0], tmp_path, "ingresscheck/results.py", "\nimport ipaddress\n")
    # When .ci/run runs, then it fails naming the error, and the tests never started
    out = _ci(root)
    assert out.returncode != 0
    assert "F401" in out.stdout and "ingresscheck/results.py" in out.stdout
    assert (root / "ran.log").read_text().splitlines() == ["setup ran"]


def test_a_planted_format_error_fails_ci(clean: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    # Given code ruff check accepts but ruff format would rewrite
    root = _planted(clean[0], tmp_path, "ingresscheck/results.py", "\n\ndef _planted( ):\n    return  1\n")
    # When .ci/run runs, then the format check fails it before the tests
    out = _ci(root)
    assert out.returncode != 0
    assert "1 file would be reformatted" in out.stdout and "ingresscheck/results.py" in out.stdout
    assert (root / "ran.log").read_text().splitlines() == ["setup ran"]


def test_a_planted_mypy_error_fails_ci_before_the_tests(
    clean: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    # Given a function whose return value is not its declared type (ruff cannot see that)
    root = _planted(clean[0], tmp_path, "ingresscheck/results.py", '\n\ndef _planted() -> int:\n    return "one"\n')
    # When .ci/run runs, then mypy fails it, naming the line, and the tests never started
    out = _ci(root)
    assert out.returncode != 0
    assert "ingresscheck/results.py" in out.stdout and "Incompatible return value type" in out.stdout
    assert (root / "ran.log").read_text().splitlines() == ["setup ran"]
