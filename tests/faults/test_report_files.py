"""Report paths that are not plain files: a FIFO, a character device, a symlink, ``-``. A report is
written atomically (temporary file, rename) only over a regular file or a new path; anything else is
written to as a stream and stays what it was. No lab needed: an offline run of the sample manifests."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from ._helpers import ROOT, Run, assert_no_traceback, record, run_cli

BOUND = 20.0
SAMPLE = ROOT / "deploy" / "kind" / "sample-app"


def _run(tmp_path: Path, *flags: str) -> Run:
    return run_cli("run", "--manifests", str(SAMPLE), "--no-progress", *flags, timeout=BOUND, cwd=tmp_path)


def _error_line(run: Run, *needles: str) -> str:
    """Exit 2 and one error line (the progress lines of a non-terminal stderr come before it)."""
    __tracebackhide__ = True
    assert_no_traceback(run)
    assert run.code == 2, (run.code, run.stderr[-2000:])
    errors = [line for line in run.stderr.splitlines() if line.startswith("ingresscheck: ")]
    assert len(errors) == 1, run.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def test_a_fifo_stays_a_fifo_and_its_reader_gets_the_report(tmp_path: Path) -> None:
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    run = _run(tmp_path, "--json", str(fifo))
    reader.join(10)
    assert_no_traceback(run)
    record("--json FIFO", run, f"exit {run.code}; still a FIFO: {stat.S_ISFIFO(fifo.lstat().st_mode)}")
    assert run.code == 0, run.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert got and json.loads(got[0])["schema"] == "ingresscheck.report/v2"


def test_a_symlink_is_followed_and_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "kept" / "real.json"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    run = _run(tmp_path, "--json", str(link))
    assert_no_traceback(run)
    record("--json symlink", run, f"exit {run.code}; still a link: {link.is_symlink()}")
    assert run.code == 0, run.stderr
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert json.loads(real.read_text())["schema"] == "ingresscheck.report/v2"


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a character device needs root")
def test_a_character_device_is_written_to_not_replaced(tmp_path: Path) -> None:
    # a private copy of /dev/null (1,3): if the writer regressed, only this node would be replaced
    null = tmp_path / "null"
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    run = _run(tmp_path, "--json", str(null), "--html", str(null))
    assert_no_traceback(run)
    record("--json a character device (null)", run, f"exit {run.code}; still a device: {null.is_char_device()}")
    assert run.code == 0, run.stderr
    assert null.is_char_device()


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a character device needs root")
def test_a_full_device_is_one_line_naming_the_path_and_stays_a_device(tmp_path: Path) -> None:
    full = tmp_path / "full"
    os.mknod(full, 0o666 | stat.S_IFCHR, os.makedev(1, 7))  # a private /dev/full: every write is ENOSPC
    run = _run(tmp_path, "--json", str(full))
    line = _error_line(run, f"cannot write report: {full}", "No space left on device")
    record("--json a full device", run, "exit 2: " + line[14:90])
    assert full.is_char_device()


def test_dash_is_stdout_and_the_findings_move_to_stderr(tmp_path: Path) -> None:
    run = _run(tmp_path, "--json", "-")
    assert_no_traceback(run)
    record("--json -", run, f"exit {run.code}; stdout is the JSON report")
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout)["schema"] == "ingresscheck.report/v2"
    assert "checks in" in run.stderr
    assert not (tmp_path / "-").exists()


def test_a_directory_is_one_line_and_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / "adir"
    folder.mkdir()
    run = _run(tmp_path, "--json", str(folder))
    _error_line(run, f"cannot write report: {folder}", "Is a directory")
    assert folder.is_dir() and not list(folder.iterdir())
