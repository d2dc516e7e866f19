"""family: what each address family (IPv4, IPv6) of a host serves.

Every A and AAAA answer (or ``--resolve`` address) gets one request, the host's sample path over https
(http for a plain-HTTP listener), and the host's one line says per family what worked. A dual-stack host
whose addresses of one family do not answer while the other family's do is a fail naming that family and
address: a client of that family (an IPv6-only mobile network, a happy-eyeballs browser that picked IPv6)
is broken while every IPv4 check passes. An answer counts as served whatever its status (what it says is
routing's verdict), except a 5xx on one family where the other family answers below 500 (the LB's listener
there has no backend). With no family serving at every address there is nothing to compare: skipped, as
tls.handshake and routing.backend judge each address.
``--family 4|6`` (profile ``protocols.family``) leaves the other family out, and the line says so.
"""

from __future__ import annotations

from typing import Any

from .. import hostname
from ..net import Attempt, family_of
from ..results import Severity, Step
from ._contract import CheckSpec, Probe, ProbeContext, Scope

SUBJECT = "address families"  # one line per host: the per-address detail is in its evidence


def _served(attempt: Attempt) -> bool:
    return attempt.ok and attempt.response is not None


def _said(attempt: Attempt) -> str:
    if _served(attempt):
        assert attempt.response is not None
        return f"{attempt.subject.where} {attempt.response.status}"
    return f"{attempt.subject.where} {attempt.outcome.value}: {attempt.reason or attempt.outcome.value}"


class FamilyProbe(Probe):
    name = "family"
    needs = ("dns",)
    scope = Scope.TARGET
    checks = (
        CheckSpec(
            "lb.family",
            Step.LB,
            Severity.CRITICAL,
            "every address family the host's DNS publishes (A: IPv4, AAAA: IPv6) serves it, at every address",
            "Give the load balancer a listener on every family DNS publishes (a dual-stack Service: ipFamilyPolicy "
            "RequireDualStack, an IPv6 frontend or bind on the LB), or remove the AAAA (or A) record until it "
            "serves.",
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        target = ctx.require_target
        https = target.listener_protocol != "HTTP" and hostname.to_alabels(target.request_host) is not None
        port = ctx.profile.https_port if https else ctx.profile.http_port
        addresses, source = await ctx.addresses(port, target.request_host)
        if not addresses:
            ctx.skipped("lb.family", f"no address to connect to for {target.host} ({source})", subject=SUBJECT)
            return
        default = 443 if https else 80
        url = f"{'https' if https else 'http'}://{target.request_host}{'' if port == default else f':{port}'}"
        url += target.sample_path
        by_family: dict[int, list[Attempt]] = {}
        for address in addresses:
            attempt = await ctx.net.request("GET", url, address)
            by_family.setdefault(family_of(address) or 0, []).append(attempt)
        evidence: dict[str, Any] = {
            "url": url,
            "addresses_from": source,
            "families": {
                f"IPv{f}": {a.subject.where: _said(a) for a in attempts} for f, attempts in sorted(by_family.items())
            },
        }
        lines = []
        working: dict[int, bool] = {}
        statuses_below_500 = any(
            _served(a) and a.response is not None and a.response.status < 500 for v in by_family.values() for a in v
        )
        for f, attempts in sorted(by_family.items()):
            bad = [
                a
                for a in attempts
                if not _served(a) or (statuses_below_500 and a.response is not None and a.response.status >= 500)
            ]
            working[f] = not bad
            shown = "; ".join(_said(a) for a in attempts)
            lines.append(f"IPv{f} {'answers' if not bad else 'does not serve'} ({shown})")
        restricted = ctx.profile.protocols.family
        missing = {4, 6} - set(by_family)
        notes = []
        for f in sorted(missing):
            if restricted is not None and restricted != f:
                notes.append(f"IPv{f} not probed (--family {restricted})")
            else:
                notes.append(f"IPv{f}: no {'A' if f == 4 else 'AAAA'} record")
        line = "; ".join(lines + notes)
        if all(working.values()):
            ctx.passed("lb.family", f"{url}: {line}", evidence=evidence, subject=SUBJECT)
        elif any(working.values()):
            broken = [f"IPv{f}" for f, ok in sorted(working.items()) if not ok]
            ctx.failed(
                "lb.family",
                f"{url} is not served over {' and '.join(broken)} while the other family serves it: {line}",
                evidence=evidence,
                subject=SUBJECT,
            )
        else:
            # no family that serves to compare with: which address fails is tls.handshake's and routing's verdict
            ctx.skipped(
                "lb.family",
                f"{url}: no family serves at every address, so none to compare with (see tls.handshake and "
                f"routing.backend for each address): {line}",
                evidence=evidence,
                subject=SUBJECT,
            )
