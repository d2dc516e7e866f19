"""Known differences (``--expect FILE``): differences a team has decided to live with, with the reason.

```yaml
- host: "*.example.test"          # a host name or a glob (fnmatch)
  aspect: hsts                    # a difference's aspect (status, location, backend, hsts, body_limit...)
  a: any                          # A's value, a glob, or any (the default)
  b: none                         # B's value, a glob, or any
  reason: HSTS moves to the CDN on the new platform
- host: api.example.test
  request: "normalisation /v1%2F*"   # a request's key (as in parity.json), a glob
  reason: clients never send encoded slashes
```

An entry needs ``host``, ``reason`` and at least one of ``request`` or ``aspect``. A difference it covers
is reported in its own section, with the reason, and does not count (not breaking, not changed). An
entry that covers nothing is stale: a warning, so the file does not rot.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

from ..errors import UsageError
from ._model import Difference, Exchange, HostParity

ANY = "any"


@dataclass(frozen=True)
class Expectation:
    host: str
    reason: str
    request: str | None = None
    aspect: str | None = None
    a: str = ANY
    b: str = ANY
    line: int | None = None  # where it is in the file, for the stale warning

    def covers(self, host: str, d: Difference) -> bool:
        if not fnmatchcase(host.lower(), self.host.lower()):
            return False
        if self.request is not None and not (
            fnmatchcase(d.request.key, self.request) or fnmatchcase(d.request.describe(), self.request)
        ):
            return False
        if self.aspect is not None and not fnmatchcase(d.aspect, self.aspect):
            return False
        return all(want == ANY or fnmatchcase(got, want) for want, got in ((self.a, d.a), (self.b, d.b)))

    def describe(self) -> str:
        what = " ".join(f"{k} {v}" for k, v in (("request", self.request), ("aspect", self.aspect)) if v)
        return f"{self.host} {what} (A {self.a}, B {self.b}): {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


_FIELDS = {"host", "request", "aspect", "a", "b", "reason"}


def load_expectations(path: str) -> tuple[Expectation, ...]:
    """The entries of an --expect file; a bad file is one UsageError naming the file and the entry."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise UsageError(f"--expect {path}: cannot read it ({exc.strerror or exc})") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise UsageError(f"--expect {path}{where}: not YAML ({getattr(exc, 'problem', None) or exc})") from None
    if data is None:
        return ()
    if not isinstance(data, list):
        raise UsageError(f"--expect {path}: expected a list of entries (host, request or aspect, a, b, reason)")
    out = []
    for i, entry in enumerate(data):
        line = node.value[i].start_mark.line + 1 if isinstance(node, yaml.SequenceNode) else None
        where = f"--expect {path} line {line}" if line else f"--expect {path} entry {i + 1}"
        if not isinstance(entry, dict):
            raise UsageError(f"{where}: an entry is a mapping (host, request or aspect, a, b, reason)")
        unknown = sorted(set(map(str, entry)) - _FIELDS)
        if unknown:
            raise UsageError(f"{where}: unknown field {unknown[0]} (host, request, aspect, a, b, reason)")
        values = {k: str(v) for k, v in entry.items() if v is not None}
        for need in ("host", "reason"):
            if not values.get(need):
                raise UsageError(f"{where}: {need} is required")
        if not values.get("request") and not values.get("aspect"):
            raise UsageError(f"{where}: give a request or an aspect")
        out.append(Expectation(line=line, **values))
    return tuple(out)


def apply_expectations(
    hosts: list[HostParity], expectations: tuple[Expectation, ...]
) -> tuple[list[HostParity], tuple[Expectation, ...]]:
    """Mark each difference an expectation covers (its reason in ``Difference.expected``); the entries that
    covered nothing are returned as stale."""
    if not expectations:
        return hosts, ()
    used: set[int] = set()
    out = []
    for h in hosts:

        def marked(differences: tuple[Difference, ...], host: str = h.host) -> tuple[Difference, ...]:
            diffs = []
            for d in differences:
                match = next((i for i, x in enumerate(expectations) if x.covers(host, d)), None)
                if match is not None:
                    used.add(match)
                    d = replace(d, expected=expectations[match].reason)
                diffs.append(d)
            return tuple(diffs)

        exchanges = [Exchange(e.request, e.a, e.b, marked(e.differences)) for e in h.exchanges]
        checks = tuple(replace(c, differences=marked(c.differences)) for c in h.checks)
        out.append(replace(h, exchanges=tuple(exchanges), checks=checks))
    return out, tuple(x for i, x in enumerate(expectations) if i not in used)
