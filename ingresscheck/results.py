"""Typed results: what every probe returns and every report is rendered from.

Identifiers are ``(str, Enum)`` so they serialize as themselves. A result's ``status`` says
whether the check ran and what it found; ``error`` means the check could not decide (its
reason is the message), which is never confused with ``fail``.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections import Counter
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

# A probe that must not hit a real page or a cached answer makes up a name per run (an unknown host, a
# derived path, a query): always through ``nonce`` so reports can recognise it. Such a string belongs in a
# message or the evidence, never in a result's identity (check, host, subject), which must be the same
# in every run of the same cluster state (diff, JUnit history and Prometheus series match on it).
NONCE = re.compile(r"ingresscheck[-=]?[0-9a-f]{10}(?![0-9a-f])")


def nonce(sep: str = "-") -> str:
    """A per-run random token, ``ingresscheck<sep>`` and 10 hex digits (``sep`` "" for a path element,
    "-" for a DNS label, "=" for a query)."""
    return f"ingresscheck{sep}{secrets.token_hex(5)}"


def without_nonces(text: str, mark: str = "‹nonce›") -> str:
    return NONCE.sub(mark, text)


class Status(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"
    ERROR = "error"

    @property
    def rank(self) -> int:
        """Worse is higher: a chain step is coloured by its worst result. A skip (did not apply, or a
        prerequisite failed and is shown there) does not outrank a pass."""
        return {"skip": 0, "pass": 1, "warn": 2, "fail": 3, "error": 4}[self.value]


class Severity(str, Enum):
    CRITICAL = "critical"  # traffic does not get in, or gets in insecurely
    MAJOR = "major"  # a part of the chain is wrong
    MINOR = "minor"  # hygiene, drift, early warnings
    INFO = "info"


class Step(str, Enum):
    """The steps of the request chain, in the order a request travels them."""

    DNS = "dns"
    LB = "lb"
    TLS = "tls"
    INGRESS = "ingress"
    BACKEND = "backend"

    @property
    def label(self) -> str:
        return {"dns": "DNS", "lb": "Load balancer", "tls": "TLS", "ingress": "Ingress", "backend": "Backend"}[
            self.value
        ]


@dataclass(frozen=True)
class Result:
    probe: str
    check: str
    status: Status
    severity: Severity
    message: str
    step: Step
    host: str | None = None
    namespace: str | None = None
    ingress: str | None = None  # the Ingress's name, for Ingress targets (kept for report/v1 readers)
    evidence: dict[str, Any] = field(default_factory=dict)
    remediation: str = ""
    duration_ms: float = 0.0
    kind: str | None = None  # the object the result is about: "Ingress", "HTTPRoute", "Gateway", "Service"...
    name: str | None = None  # that object's name (= ``ingress`` for Ingress targets)
    # what exactly this verdict is about when a check covers several: an address ("127.0.0.10:443"),
    # a rule ("/v1 Prefix"), a node, a Secret ("demo/shop-tls"). None: the target as a whole.
    subject: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"], d["severity"], d["step"] = self.status.value, self.severity.value, self.step.value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Result:
        return cls(**{**d, "status": Status(d["status"]), "severity": Severity(d["severity"]), "step": Step(d["step"])})


@dataclass
class Report:
    """One run: when, against what, and every result. Reports render from this alone."""

    started: dt.datetime
    finished: dt.datetime
    context: str
    server: str
    results: list[Result]
    # optional sections filled by probes that measure rather than check (e.g. "reload")
    sections: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> dict[str, int]:
        counts = Counter(r.status.value for r in self.results)
        return {s.value: counts.get(s.value, 0) for s in Status}

    @property
    def failed(self) -> bool:
        return any(r.status in (Status.FAIL, Status.ERROR) for r in self.results)
