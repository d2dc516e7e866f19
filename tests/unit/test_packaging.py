"""The lab is a test harness, not the product: the ingresscheck wheel carries no lab, and without the
lab installed `ingresscheck lab` says in one line how to get it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ingresscheck.cli import LAB_MISSING, main

ROOT = Path(__file__).resolve().parents[2]
# the checkout's own state, at its top only (ingresscheck/reports/ is a package)
NOT_SOURCES = {".venv", ".cache", ".lab", ".git", "reports", "build", ".mypy_cache", ".ruff_cache", ".pytest_cache"}


def _not_sources(folder: str, names: list[str]) -> set[str]:
    top = Path(folder) == ROOT
    return {n for n in names if (top and n in NOT_SOURCES) or n.endswith(".egg-info") or n == "__pycache__"}


def test_the_wheel_contains_no_lab(tmp_path: Path) -> None:
    # Given the checkout as it is (the lab folder beside the package)
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=_not_sources)
    assert (src / "ingresscheck_lab" / "lab.py").exists()
    # When the ingresscheck wheel is built from it
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), "."],
        cwd=src,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("ingresscheck-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    # Then it has the package and its templates, and nothing of the lab
    assert "ingresscheck/cli/__init__.py" in names
    assert any(n.startswith("ingresscheck/reports/templates/") for n in names)
    assert [n for n in names if n.startswith("ingresscheck_lab") or n.startswith("ingresscheck/lab/")] == []
    assert not [n for n in names if n.endswith(("traefik.yaml.j2", "haproxy.cfg.j2", "envoy_gateway.py"))]
    assert "ingresscheck_lab" not in zipfile.ZipFile(wheel).read(_dist_info(names, "top_level.txt")).decode()


def _dist_info(names: list[str], file: str) -> str:
    return next(n for n in names if n.endswith(f".dist-info/{file}"))


def test_without_the_lab_installed_lab_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an ingresscheck without its lab (an installed wheel: ingresscheck_lab cannot be imported)
    monkeypatch.setitem(sys.modules, "ingresscheck_lab", None)
    monkeypatch.setitem(sys.modules, "ingresscheck_lab.cli", None)
    # When the user asks for the lab
    code = main(["lab", "up"])
    # Then one line says where the lab comes from, and the exit is 2
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"ingresscheck: {LAB_MISSING}"]
    assert "pip install -e ./ingresscheck_lab" in err[0]
