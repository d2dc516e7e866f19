"""tox covers every test folder: its no-lab env and its lab env together select every test of tests/."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pytest_runs(env: str) -> list[list[str]]:
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini")
    lines = tox[f"testenv:{env}"]["commands"].strip().splitlines()
    return [shlex.split(line.replace("{posargs}", "")) for line in lines if line.strip().startswith("pytest")]


def _paths(argv: list[str]) -> set[str]:
    paths, skip = set(), False
    for arg in argv[1:]:
        if skip:
            skip = False
        elif arg in ("-m", "-k", "-n", "--profile"):
            skip = True
        elif not arg.startswith("-"):
            paths.add(arg.rstrip("/"))
    return paths


def test_the_unit_and_lab_envs_together_run_every_test_folder() -> None:
    # Given every folder of tests/ that holds tests
    folders = {p.parent.relative_to(ROOT).as_posix() for p in (ROOT / "tests").rglob("test_*.py")}
    assert {"tests/unit", "tests/lab", "tests/faults", "tests/docs"} <= folders
    # When tox's unit env (no lab) and lab env run pytest
    (unit,), (lab,) = _pytest_runs("unit"), _pytest_runs("lab")
    # Then both cover each folder, one with -m "not lab" and the other with -m lab: nothing falls between them
    for argv in (unit, lab):
        covered = _paths(argv)
        assert all(any(f == c or f.startswith(c + "/") for c in covered) for f in folders), (argv, folders)
    assert unit[unit.index("-m") + 1] == "not lab" and lab[lab.index("-m") + 1] == "lab"
