"""httproute: what HTTPRoute targets promise beyond paths, checked over the wire.

- header matches: a rule that requires headers is reached with them, and a request without them
  is not (it gets the rule that matches without headers, or 404);
- unknown hostnames: a name under the listener's wildcard that no route claims gets 404 from the
  Gateway (not some route's backend, not another listener's answer).

Paths (Exact, PathPrefix, RegularExpression skipped) are the routing probe's, the redirect filter
the redirect probe's, the weighted split the canary probe's. Ingress targets are not this probe's.
All network calls go through ``_get``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..discovery.model import PathRule, Target
from ..identity import identity
from ..results import Severity, Step, nonce
from ._contract import CheckSpec, Probe, ProbeContext


@dataclass(frozen=True)
class Seen:
    """One request's outcome, as this probe judges it: the status and which backend answered."""

    ok: bool
    status: int | None
    backend: tuple[str | None, str] | None  # (namespace, service) the echo backend names, if any
    pod: str | None
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def says(self) -> str:
        if not self.ok:
            return self.reason
        who = f"{self.backend[0]}/{self.backend[1]}" if self.backend else "an unidentified backend"
        return f"{self.status} from {who}" + (f" (pod {self.pod})" if self.pod else "")


async def _get(ctx: ProbeContext, url: str, address: str, headers: dict[str, str] | None = None) -> Seen:
    """GET ``url`` at ``address``; the backend identifies itself by echo JSON or X-Echo-* headers."""
    attempt = await ctx.net.request("GET", url, address, headers=headers)
    if not attempt.ok or attempt.response is None:
        return Seen(False, None, None, None, attempt.describe(), attempt.evidence())
    seen = identity(attempt.response)
    backend = (seen.namespace, seen.service) if seen is not None and seen.service else None
    return Seen(True, attempt.response.status, backend, seen.pod if seen else None, "", attempt.evidence())


def base_url(ctx: ProbeContext, t: Target, host: str | None = None) -> tuple[str, int]:
    https = t.listener_protocol != "HTTP"
    port = ctx.profile.https_port if https else ctx.profile.http_port
    default = 443 if https else 80
    authority = (host or t.host) + ("" if port == default else f":{port}")
    return f"{'https' if https else 'http'}://{authority}", port


def sample_path(rule: PathRule) -> str | None:
    """A path the rule matches, or None for a regular expression (not sampled)."""
    if rule.path_type == "RegularExpression":
        return None
    return rule.path


def _prefix_matches(prefix: str, path: str) -> bool:
    p = prefix.rstrip("/")
    return p == "" or path == p or path.startswith(p + "/")


def without_headers(rules: tuple[PathRule, ...], path: str) -> PathRule | None:
    """The rule a request for ``path`` without any header reaches: Exact first, then the longest prefix."""
    plain = [r for r in rules if not r.headers and r.path_type in ("Exact", "Prefix")]
    exact = [r for r in plain if r.path_type == "Exact" and r.path == path]
    if exact:
        return exact[0]
    prefixes = sorted(
        (r for r in plain if r.path_type == "Prefix" and _prefix_matches(r.path, path)), key=lambda r: -len(r.path)
    )
    return prefixes[0] if prefixes else None


def _svc(t: Target, rule: PathRule) -> tuple[str, str | None]:
    return (rule.namespace or t.namespace, rule.service)


class HttpRouteProbe(Probe):
    name = "httproute"
    needs = ("dns",)
    checks = (
        CheckSpec(
            "httproute.header_match",
            Step.INGRESS,
            Severity.MAJOR,
            "a rule with header matches is reached with its headers, and not without them",
            "Check the rule's matches[].headers (names are case-insensitive, values exact) and that the "
            "controller supports header matching; rules are ORed, match conditions within one are ANDed.",
        ),
        CheckSpec(
            "httproute.unknown_host",
            Step.INGRESS,
            Severity.MAJOR,
            "a name under the listener's wildcard that no route claims gets 404 from the Gateway",
            "A route without hostnames (or with a wildcard) catches every name of the listener, typos "
            "included: give routes explicit hostnames.",
            gates=False,
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        t = ctx.require_target
        if t.kind != "HTTPRoute":
            return
        base, port = base_url(ctx, t)
        addresses, source = await ctx.addresses(port, t.host)
        if not addresses:
            for c in self.checks:
                ctx.skipped(c.id, f"no address to connect to for {t.host}")
            return
        address = addresses[0]
        await self._headers(ctx, t, base, address, source)
        await self._unknown(ctx, t, address)

    async def _headers(self, ctx: ProbeContext, t: Target, base: str, address: str, source: str) -> None:
        rules = [r for r in t.paths if r.headers]
        if not rules:
            ctx.skipped("httproute.header_match", "no rule of this route matches on headers")
            return
        for rule in rules:
            subject = f"{rule.path} {rule.path_type} + " + ", ".join(f"{k}: {v}" for k, v in rule.headers)
            path = sample_path(rule)
            if path is None or rule.service is None:
                ctx.skipped(
                    "httproute.header_match",
                    "the rule's path is a regular expression or it has no backend: no request can be derived from it",
                    subject=subject,
                )
                continue
            want = _svc(t, rule)
            with_h = await _get(ctx, base + path, address, dict(rule.headers))
            other = without_headers(t.paths, path)
            without = await _get(ctx, base + path, address)
            ev = {"with_headers": with_h.evidence, "without_headers": without.evidence, "address_from": source}
            if not with_h.ok or not without.ok:
                bad = with_h if not with_h.ok else without
                ctx.errored("httproute.header_match", f"could not decide: {bad.reason}", subject=subject, evidence=ev)
                continue
            problems = []
            if with_h.backend != want:
                problems.append(f"with the headers {base}{path} got {with_h.says()}, expected {want[0]}/{want[1]}")
            if other is None:
                if without.status != 404:
                    problems.append(
                        f"without the headers it got {without.says()}, expected 404 (no other rule matches)"
                    )
            elif other.service != rule.service and without.backend == want:
                problems.append(
                    f"without the headers it still reached {want[0]}/{want[1]}: the header match is ignored"
                )
            elif without.backend != _svc(t, other):
                problems.append(
                    f"without the headers it got {without.says()}, expected "
                    f"{_svc(t, other)[0]}/{_svc(t, other)[1]} (rule {other.path} {other.path_type})"
                )
            if problems:
                ctx.failed("httproute.header_match", "; ".join(problems), subject=subject, evidence=ev)
            else:
                ctx.passed(
                    "httproute.header_match",
                    f"{path} with {', '.join(k for k, _ in rule.headers)} reached "
                    f"{want[0]}/{want[1]}; without: {without.says()}",
                    subject=subject,
                    evidence=ev,
                )

    async def _unknown(self, ctx: ProbeContext, t: Target, address: str) -> None:
        lh = t.listener_hostname
        if not lh or not lh.startswith("*."):
            ctx.skipped(
                "httproute.unknown_host",
                f"the listener's hostname is {lh or 'unset'}: "
                + (
                    "every name reaches it, the routing probe's unknown-host check applies"
                    if not lh
                    else "only that name reaches the listener"
                ),
            )
            return
        host = f"{nonce()}{lh[1:]}"
        base, _ = base_url(ctx, t, host)
        seen = await _get(ctx, base + "/", address)
        subject = f"{t.gateway} listener {t.listener}"
        if not seen.ok:
            ctx.errored(
                "httproute.unknown_host", f"could not decide: {seen.reason}", subject=subject, evidence=seen.evidence
            )
        elif seen.status == 404 and seen.backend is None:
            ctx.passed(
                "httproute.unknown_host",
                f"{base}/ (via {address}) got 404 from the Gateway",
                subject=subject,
                evidence=seen.evidence,
            )
        else:
            ctx.failed(
                "httproute.unknown_host",
                f"{base}/ (via {address}) got {seen.says()} instead of 404: some route catches names it does not list",
                subject=subject,
                evidence=seen.evidence,
            )


__all__ = ["HttpRouteProbe", "Seen", "base_url", "sample_path", "without_headers"]
