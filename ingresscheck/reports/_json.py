"""The one place a Report becomes data: ``report_dict``. The JSON, JUnit and HTML writers all start here."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as dt
import errno
import json
import math
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from ..results import Report, Result
from ._redact import redact

SCHEMA = "ingresscheck.report/v2"


def utc_iso(moment: dt.datetime) -> str:
    """UTC ISO 8601 with a trailing ``Z``; a naive datetime is taken to be UTC already."""
    return as_utc(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def as_utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def jsonable(obj: Any) -> Any:
    """A JSON-safe copy of evidence: tuples and sets become lists, bytes text, datetimes ISO 8601.
    (``redact`` converts and redacts a report's evidence in one pass, calling this for what is not plain.)"""
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, Enum):
        return jsonable(obj.value)
    if isinstance(obj, float):
        # NaN and infinities are not JSON; keep them readable rather than invalid
        return obj if math.isfinite(obj) else str(obj)
    if isinstance(obj, dict):
        return {k if isinstance(k, str) else str(jsonable(k)): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        items = [jsonable(v) for v in obj]
        try:
            return sorted(items)
        except TypeError:  # mixed types: any stable order will do
            return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(obj, (bytes, bytearray, memoryview)):
        raw = bytes(obj)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(raw).decode("ascii")}
    if isinstance(obj, dt.datetime):
        return utc_iso(obj)
    if isinstance(obj, (dt.date, dt.time)):
        return obj.isoformat()
    if isinstance(obj, dt.timedelta):
        return obj.total_seconds()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return jsonable(dataclasses.asdict(obj))
    return str(obj)


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
