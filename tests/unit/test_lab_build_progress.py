"""The lab's Go builds say they are alive: a line at least every PROGRESS_EVERY_S while the command runs,
counting what the Go command logged (modules downloaded, packages compiled by `-v`)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ingresscheck.errors import LabError
from ingresscheck_lab import build

# a real process writing what `go build -v` writes: a download line, then one import path per package
_FAKE_GO = (
    "import sys, time\n"
    "print('go: downloading example.com/m v1.0.0', flush=True)\n"
    "for i in range(4):\n"
    "    print(f'example.com/m/pkg{i}', flush=True); time.sleep(0.15)\n"
    "sys.exit(int(sys.argv[1]))\n"
)


def test_a_long_build_prints_progress_with_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given a build that runs for several progress periods, then progress lines name the component and count
    downloads and packages; the output stays in the log."""
    monkeypatch.setattr(build, "PROGRESS_EVERY_S", 0.1)
    said: list[str] = []
    log = tmp_path / "build.log"
    build.run_go([sys.executable, "-c", _FAKE_GO, "0"], tmp_path, log, "demo build", said.append)
    assert said and all(line.startswith("  demo build: ") and " s so far" in line for line in said)
    assert "1 modules downloaded" in said[-1] and "packages compiled" in said[-1]
    counts = [int(line.split(" packages compiled")[0].rsplit(" ", 1)[1]) for line in said]
    assert counts == sorted(counts) and counts[-1] >= 2
    assert "example.com/m/pkg3" in log.read_text()


def test_a_failed_build_is_a_lab_error_naming_its_log(tmp_path: Path) -> None:
    """Given a build that exits 1, then a LabError names the component and the log, and no progress is said
    for a command shorter than a period."""
    said: list[str] = []
    with pytest.raises(LabError) as err:
        build.run_go([sys.executable, "-c", _FAKE_GO, "1"], tmp_path, tmp_path / "b.log", "demo build", said.append)
    assert "demo build" in str(err.value) and "b.log" in str(err.value)
    assert said == []
