"""The one contract every probe follows, built in or third-party.

A probe is a class with a stable ``name``, the ``checks`` it may report (each with a stable ID,
chain step, severity and remediation hint), the probes it ``needs`` first, and whether it
``mutates`` the cluster. Its ``run`` gets a ``ProbeContext`` holding everything it may use (the
target, the inventory, the network, the profile, facts of earlier probes) and reports through it.

The runner owns the rest: order, concurrency, deadlines, timing, turning exceptions into
``error`` results, and skipping checks whose prerequisites failed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict, Unpack

from pydantic import BaseModel, ConfigDict

from ..results import NONCE, Result, Severity, Status, Step

if TYPE_CHECKING:
    from ..discovery import Inventory, Target
    from ..discovery.planes import Where
    from ..identity import ServiceProxy
    from ..net import Attempt, Net
    from ..profile import Profile

# Outcomes that establish something about the subject (it refused, reset, spoke no HTTP...): a verdict.
# The others (timeout, unreachable, DNS trouble) leave the question open: an error, "could not decide".
_ESTABLISHED = frozenset({"refused", "reset", "tls_error", "http_error", "too_large", "nxdomain", "protocol_error"})


def established(attempt: Attempt) -> bool:
    """Whether an attempt that did not complete still established a fact about its subject (a refusal, a
    reset, a failed handshake: fail), unlike a timeout or an unreachable address (could not decide: error)."""
    return attempt.outcome.value in _ESTABLISHED


class Location(TypedDict, total=False):
    """Which object a result is about (report()'s placing parameters besides ``subject``): never evidence.
    Unset keys come from the target."""

    host: str | None
    namespace: str | None
    ingress: str | None
    kind: str | None
    name: str | None


class Scope(str, Enum):
    TARGET = "target"  # run once per Ingress host
    CLUSTER = "cluster"  # run once per run, over the whole inventory


@dataclass(frozen=True)
class CheckSpec:
    id: str
    step: Step
    severity: Severity
    summary: str  # what passing means, one line
    remediation: str  # what to do when it does not pass
    gates: bool = True  # a failure here makes dependent probes skip for this target


class ProbeOptions(BaseModel):
    """A probe's own options, declared on the probe as ``Options`` (a subclass with one typed field and one
    default each, its ``description`` the help text). The command line (``ingresscheck reload --rounds``,
    ``ingresscheck run --reload-rounds``), the profile and the pytest plugin (``--reload-rounds``) derive
    their flags from it (``probes._options``); a bad value is one line naming the flag (exit 2)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class Probe:
    name: ClassVar[str]
    checks: ClassVar[tuple[CheckSpec, ...]]
    needs: ClassVar[tuple[str, ...]] = ()
    mutates: ClassVar[bool] = False
    scope: ClassVar[Scope] = Scope.TARGET
    network: ClassVar[bool] = True  # sends traffic; offline runs (--manifests) leave it out unless asked
    Options: ClassVar[type[ProbeOptions]] = ProbeOptions  # none by default

    @classmethod
    def deadline(cls, profile: Profile, options: ProbeOptions) -> float | None:
        """How long one run of this probe may take; None: the runner's default (a few network timeouts).
        Probes that measure over time (reload) bound themselves more widely. ``options``: a ``cls.Options``."""
        return None

    @classmethod
    def preflight(cls, profile: Profile, options: ProbeOptions) -> str | None:
        """Why the probe cannot run at all with this configuration (the session makes it one line, exit 2,
        before any traffic), or None. It may raise ``UsageError`` with its own line. Not called for a
        mutating probe without --allow-mutations (it is skipped anyway)."""
        return None

    async def run(self, ctx: ProbeContext) -> None:
        raise NotImplementedError

    @classmethod
    def spec(cls, check: str) -> CheckSpec:
        for c in cls.checks:
            if c.id == check:
                return c
        raise KeyError(f"probe {cls.name} does not declare check {check!r}")


@dataclass
class ProbeContext:
    probe: type[Probe]
    profile: Profile
    inventory: Inventory
    net: Net
    target: Target | None
    facts: dict[str, dict[str, Any]]  # probe name -> facts it shared, for this target
    options: ProbeOptions = field(default_factory=ProbeOptions)  # the probe's own ``Options``, validated
    use_auth_secrets: bool = False  # --use-auth-secrets: the auth probe may log in with the Secrets it read
    allow_mutations: bool = False
    # GET a path of a Service through the API server's service proxy (a cluster run), for backends that do
    # not say who they are and whose endpoints are not reachable from here; None: offline, or not asked
    service_proxy: ServiceProxy | None = None
    reports_dir: Path = Path("reports")  # where a probe writes files of its own (reload's load statistics)
    results: list[Result] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    sections: dict[str, Any] = field(default_factory=dict)  # figures for the report (e.g. "reload")
    # (check, subject) results the probe is about to give: when its deadline cuts it off, the runner makes
    # an error of each one not given yet, so no rule goes silently missing
    planned: list[tuple[str, str]] = field(default_factory=list)

    def plan(self, check: str, subject: str) -> None:
        """Say that a result for (check, subject) will follow (see ``planned``)."""
        self.planned.append((check, subject))

    # --- reporting --------------------------------------------------------------------
    def report(
        self,
        check: str,
        status: Status,
        message: str,
        *,
        host: str | None = None,
        namespace: str | None = None,
        ingress: str | None = None,
        subject: str | None = None,
        kind: str | None = None,
        name: str | None = None,
        evidence: Mapping[str, Any] | None = None,
    ) -> Result:
        # ``evidence`` is the one channel for what was seen, one mapping: its keys can never collide with
        # the parameters that place the result (a DN under "subject" stays evidence).
        spec = self.probe.spec(check)
        if subject and NONCE.search(subject):
            # diff, JUnit history and Prometheus match verdicts on (check, host, subject): a per-run string
            # there makes every run's verdict a new one. It belongs in the evidence.
            raise ValueError(f"{check}: subject {subject!r} carries a per-run random string (put it in evidence)")
        t = self.target
        if ingress is not None:
            kind, name = kind or "Ingress", name or ingress
        elif t is not None and host is None and namespace is None:
            kind, name = kind or t.kind, name or t.name
        result = Result(
            probe=self.probe.name,
            check=check,
            status=status,
            severity=spec.severity,
            message=message,
            step=spec.step,
            host=host if host is not None else (t.host if t else None),
            namespace=namespace if namespace is not None else (t.namespace if t else None),
            ingress=ingress if ingress is not None else (t.ingress if t and t.kind == "Ingress" else None),
            kind=kind,
            name=name,
            subject=subject,
            evidence=dict(evidence or {}),
            remediation=spec.remediation if status in (Status.FAIL, Status.WARN, Status.ERROR) else "",
            duration_ms=round((time.perf_counter() - self.started) * 1000, 3),
        )
        self.results.append(result)
        return result

    def passed(
        self,
        check: str,
        message: str,
        evidence: Mapping[str, Any] | None = None,
        *,
        subject: str | None = None,
        **where: Unpack[Location],
    ) -> Result:
        return self.report(check, Status.PASS, message, evidence=evidence, subject=subject, **where)

    def failed(
        self,
        check: str,
        message: str,
        evidence: Mapping[str, Any] | None = None,
        *,
        subject: str | None = None,
        **where: Unpack[Location],
    ) -> Result:
        return self.report(check, Status.FAIL, message, evidence=evidence, subject=subject, **where)

    def warned(
        self,
        check: str,
        message: str,
        evidence: Mapping[str, Any] | None = None,
        *,
        subject: str | None = None,
        **where: Unpack[Location],
    ) -> Result:
        return self.report(check, Status.WARN, message, evidence=evidence, subject=subject, **where)

    def skipped(
        self,
        check: str,
        message: str,
        evidence: Mapping[str, Any] | None = None,
        *,
        subject: str | None = None,
        **where: Unpack[Location],
    ) -> Result:
        return self.report(check, Status.SKIP, message, evidence=evidence, subject=subject, **where)

    def errored(
        self,
        check: str,
        message: str,
        evidence: Mapping[str, Any] | None = None,
        *,
        subject: str | None = None,
        **where: Unpack[Location],
    ) -> Result:
        return self.report(check, Status.ERROR, message, evidence=evidence, subject=subject, **where)

    def not_completed(
        self,
        check: str,
        attempt: Attempt,
        *,
        subject: str | None = None,
        what: str = "",
        evidence: Mapping[str, Any] | None = None,
    ) -> Result:
        """Report an attempt that did not complete against ``check``, for its subject: a refusal, a reset or
        a failed handshake is established (fail); a timeout or an unreachable address is not (error)."""
        status = Status.FAIL if established(attempt) else Status.ERROR
        prefix = "" if status is Status.FAIL else "could not decide: "
        message = f"{prefix}{what + ': ' if what else ''}{attempt.reason}"
        return self.report(
            check,
            status,
            message,
            subject=subject or attempt.subject.where,
            evidence={**attempt.evidence(), **(evidence or {})},
        )

    # --- sharing ----------------------------------------------------------------------
    def share(self, **facts: Any) -> None:
        self.facts.setdefault(self.probe.name, {}).update(facts)

    def fact(self, probe: str, key: str, default: Any = None) -> Any:
        return self.facts.get(probe, {}).get(key, default)

    # --- where ------------------------------------------------------------------------
    async def where(self, port: int, host: str | None = None) -> Where:
        """Where this target is checked on ``port``: the addresses clients get (``--resolve``, else DNS) and
        the addresses its own Ingress or Gateway publishes, each its own subject; a DNS address only other
        data planes publish is left to their objects (``discovery.planes``)."""
        t = self.require_target
        name = host or t.request_host
        found, source = await self.net.addresses_for(name, port)
        pinned = bool(self.profile.resolve_override(name, port))
        return self.inventory.planes.where(t, found, source, pinned=pinned, family=self.profile.protocols.family)

    async def addresses(self, port: int, host: str | None = None) -> tuple[list[str], str]:
        """``where``'s addresses and their source in words, as ``Net.addresses_for`` returns them."""
        w = await self.where(port, host)
        return list(w.addresses), w.source

    @property
    def require_target(self) -> Target:
        if self.target is None:
            raise RuntimeError(f"probe {self.probe.name} runs per target but got none")
        return self.target
