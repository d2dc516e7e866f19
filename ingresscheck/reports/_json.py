"""The one place a Report becomes data: ``report_dict``. The JSON, JUnit and HTML writers all start here."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from ..results import Report, Result
from ._jsonable import utc_iso
from ._redact import redact

SCHEMA = "ingresscheck.report/v2"


def _result_dict(result: Result) -> dict[str, Any]:
    """A result as data; its evidence as the probe gave it (``redact`` converts and masks it)."""
    return {
        "probe": result.probe,
        "check": result.check,
        "status": result.status.value,
        "severity": result.severity.value,
        "host": result.host,
        "namespace": result.namespace,
        "ingress": result.ingress,
        "kind": result.kind,
        "name": result.name,
        "subject": result.subject,
        "message": result.message,
        "evidence": result.evidence,
        "duration_ms": float(result.duration_ms),
        "step": result.step.value,
        "remediation": result.remediation,
    }


def report_dict(report: Report) -> dict[str, Any]:
    """The report as JSON-able data, redacted: what every writer renders."""
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "started": utc_iso(report.started),
        "finished": utc_iso(report.finished),
        "cluster": {"context": report.context, "server": report.server},
        "summary": report.summary,
        "results": [_result_dict(r) for r in report.results],
    }
    if report.sections:
        data["sections"] = report.sections
    # messages, the server URL and sections can carry credentials as well as the evidence can; one pass
    # converts evidence to JSON values and redacts it (a 1,000-host run: one copy of 19,000 results, not two)
    redacted: dict[str, Any] = redact(data)
    return redacted


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A file that appears at ``path`` only once complete (a reader never sees half a report); parents
    are created; on any error nothing is left behind.

    Only a regular file (or a path that does not exist yet) is replaced by a rename. Anything else is
    written to as a stream, never replaced: ``-`` is stdout, and a FIFO, a character device
    (``/dev/null``, ``/dev/full``) or ``/dev/stdout`` is opened and written. A symlink is followed: the
    file it points to is replaced, the link stays."""
    if os.fspath(path) == "-":
        sys.stdout.flush()
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    target = Path(path)
    try:
        mode = target.stat().st_mode  # follows symlinks
    except FileNotFoundError:
        mode = None
    except NotADirectoryError as exc:
        raise NotADirectoryError(exc.errno, exc.strerror, os.fspath(path)) from None
    real = Path(os.path.realpath(target))
    # /dev/stdout and /dev/fd/N lead into /proc: a descriptor of this process, whatever it is, is a stream
    if (mode is not None and not stat.S_ISREG(mode)) or real.parts[1:2] == ("proc",):
        if mode is not None and stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
        with _named_errors(path), open(target, "wb") as stream:
            yield stream
        return
    target = real  # a symlink's target is replaced, not the link
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with _named_errors(path), os.fdopen(fd, "wb") as fh:
            yield fh
        os.chmod(tmp, 0o644 if mode is None else stat.S_IMODE(mode))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _named_errors(path: str | os.PathLike[str]) -> Iterator[None]:
    """A failed write (ENOSPC of /dev/full, EPIPE of a closed FIFO) names the report's path, not nothing."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None:
            raise type(exc)(exc.errno, exc.strerror, os.fspath(path)) from None
        raise


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8, newlines as written) to ``path`` atomically."""
    return write_bytes(path, text.encode("utf-8"))


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_file(path) as fh:
        fh.write(data)
    return Path(path)


def write_json(report: Report, path: str | os.PathLike[str], data: dict[str, Any] | None = None) -> Path:
    """Write the report as ``ingresscheck.report/v2`` JSON; returns the path written.

    One result per line inside ``results`` (greppable, and written as it goes: a 1,000-host report is
    never held in memory a second time as one 30 MB string)."""
    data = data if data is not None else report_dict(report)
    with atomic_file(path) as fh:
        head = {k: v for k, v in data.items() if k != "results"}
        fh.write(b"{\n")
        for key, value in head.items():
            fh.write(orjson.dumps(key) + b": " + orjson.dumps(value) + b",\n")
        fh.write(b'"results": [')
        for i, result in enumerate(data.get("results", [])):
            fh.write((b"\n  " if i == 0 else b",\n  ") + orjson.dumps(result))
        fh.write(b"\n]}\n")
    return Path(path)
