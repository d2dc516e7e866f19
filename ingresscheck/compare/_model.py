"""The data of a parity comparison, frozen and plain: requests, what each side answered, differences.

Side            how to reach one data plane (address, kube context, object kind)
Request         one entry of the request matrix (scheme, Host, raw target, credentials)
Observation     what one side answered to one request (status, headers, backend, TLS) or why not
Difference      one way B differs from A for one request, with its severity and explanation
HostParity      every request of one host on both sides
ParityReport    every host, the hosts on one side only, the annotation support table
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Severity(str, Enum):
    BREAKING = "breaking"  # a route that worked fails, auth opens, the https redirect is lost, another backend
    CHANGED = "changed"  # same status family, but Location or a header that matters differs
    COSMETIC = "cosmetic"  # nothing a client or user relies on

    @property
    def rank(self) -> int:
        return {"breaking": 0, "changed": 1, "cosmetic": 2}[self.value]


@dataclass(frozen=True)
class Side:
    """One data plane: ``address`` to send to (None: each host's published address), where its objects live."""

    label: str  # "A" or "B"
    address: str | None = None
    context: str | None = None
    kind: str | None = None  # "Ingress", "HTTPRoute" or None for both
    http_port: int = 80
    https_port: int = 443
    implementation: str | None = None  # for the annotation support table; None: derived from the objects


@dataclass(frozen=True)
class Request:
    """One request of the matrix. ``target`` is sent as written (no normalisation)."""

    key: str  # stable id within a host, e.g. "path /v1/" or "auth right"
    category: str  # path, derived, case, normalisation, redirect, auth, tls, unknown-host, nginx
    scheme: str
    host: str
    target: str
    method: str = "GET"
    auth: tuple[str, str] | None = field(default=None, repr=False)  # never reported
    note: str = ""  # why this request is in the matrix

    def describe(self) -> str:
        cred = " (with credentials)" if self.auth else ""
        return f"{self.method} {self.scheme}://{self.host}{self.target}{cred}"


@dataclass(frozen=True)
class TlsSeen:
    version: str
    fingerprint: str  # sha256 of the leaf, first 16 hex digits
    sans: tuple[str, ...]
    verified: bool
    verify_error: str = ""


@dataclass(frozen=True)
class Observation:
    status: int = 0  # 0: no HTTP answer, see ``error``
    headers: tuple[tuple[str, str], ...] = ()
    backend: tuple[str, str] | None = None  # (namespace/service, path the backend saw) when it says so
    tls: TlsSeen | None = None
    body_sha: str = ""
    error: str | None = None
    ms: float = 0.0

    def header(self, name: str) -> str | None:
        for n, v in self.headers:
            if n == name:
                return v
        return None

    @property
    def family(self) -> int:
        return self.status // 100

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "ms": self.ms}
        if self.error:
            out["error"] = self.error
        for name in ("location", "www-authenticate", "strict-transport-security", "content-type"):
            value = self.header(name)
            if value is not None:
                out[name] = value
        if self.backend:
            out["backend"], out["backend_path"] = self.backend
        if self.tls:
            out["tls"] = {
                "version": self.tls.version,
                "fingerprint": self.tls.fingerprint,
                "sans": list(self.tls.sans),
                "verified": self.tls.verified,
            }
            if self.tls.verify_error:
                out["tls"]["verify_error"] = self.tls.verify_error
        return out

    def short(self) -> str:
        if self.error:
            return f"error: {self.error}"
        text = str(self.status)
        location = self.header("location")
        if location:
            text += f" → {location}"
        if self.backend:
            text += f" [{self.backend[0]}{' ' + self.backend[1] if self.backend[1] else ''}]"
        return text


@dataclass(frozen=True)
class Difference:
    severity: Severity
    request: Request
    aspect: str  # status, location, backend, header:<name>, tls:<field>, error
    a: str
    b: str
    explanation: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity.value,
            "request": self.request.describe(),
            "key": self.request.key,
            "category": self.request.category,
            "aspect": self.aspect,
            "a": self.a,
            "b": self.b,
            "explanation": self.explanation,
        }


@dataclass(frozen=True)
class Exchange:
    request: Request
    a: Observation
    b: Observation
    differences: tuple[Difference, ...]


@dataclass(frozen=True)
class SupportRow:
    """One annotation of one object on side A, and what side B's implementation does with it."""

    object: str  # namespace/name
    host: str
    annotation: str
    value: str
    support: str  # "same", "ignored", "different", "extension" (expressible only with an implementation policy)
    note: str

    def as_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class HostParity:
    host: str
    a_object: str  # Kind namespace/name
    b_object: str
    exchanges: tuple[Exchange, ...]

    @property
    def differences(self) -> list[Difference]:
        diffs = [d for e in self.exchanges for d in e.differences]
        return sorted(diffs, key=lambda d: d.severity.rank)

    @property
    def worst(self) -> Severity | None:
        diffs = self.differences
        return diffs[0].severity if diffs else None


@dataclass(frozen=True)
class ParityReport:
    a: Side
    b: Side
    a_implementation: str
    b_implementation: str
    hosts: tuple[HostParity, ...]
    only_a: tuple[str, ...]  # hosts served on A only (would disappear after the switch)
    only_b: tuple[str, ...]
    support: tuple[SupportRow, ...]
    started: str
    seconds: float

    def count(self, severity: Severity) -> int:
        """Differences of that severity; a host served on A only is one breaking difference (it stops being
        served after the switch), so the terminal line, the JSON summary, the HTML and the exit code agree."""
        found = sum(1 for h in self.hosts for d in h.differences if d.severity is severity)
        return found + (len(self.only_a) if severity is Severity.BREAKING else 0)

    @property
    def breaking(self) -> bool:
        return self.count(Severity.BREAKING) > 0

    def ordered_hosts(self) -> list[HostParity]:
        """Hosts with breaking differences first, then changed, then the rest, by name within each."""
        return sorted(self.hosts, key=lambda h: (h.worst.rank if h.worst else 3, h.host))
