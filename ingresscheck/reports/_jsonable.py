"""The one conversion of evidence to JSON-safe data (enums, bytes, datetimes, sets, dataclasses) and the
report's UTC timestamps: used by the JSON writer (``_json``) and by the redaction walk (``_redact``), which
imports nothing back, so neither depends on the other."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import math
from enum import Enum
from typing import Any


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
