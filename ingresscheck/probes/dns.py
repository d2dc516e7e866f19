"""dns: every Ingress host resolves, to a load-balancer address, and wildcard records are flagged.

The seed's hack: ``*.example.domain`` points at the VIP, so a typo host resolves too and ends at
the ingress controller's 404. We detect it by resolving a random label next to each host.
"""

from __future__ import annotations

import secrets

from ..results import Severity, Step
from ._contract import CheckSpec, Probe, ProbeContext


class DnsProbe(Probe):
    name = "dns"
    checks = (
        CheckSpec("dns.resolves", Step.DNS, Severity.CRITICAL, "the host resolves to at least one address",
                  "Create an A/AAAA record for the host (or fix the zone delegation); an Ingress whose host "
                  "does not resolve gets no traffic."),
        CheckSpec("dns.lb_address", Step.DNS, Severity.MAJOR,
                  "every address is an expected load-balancer address (profile or Ingress status)",
                  "Point the record at the load balancer (see the Ingress status or the profile's "
                  "load_balancers); stale records send clients to the wrong place.", gates=False),
        CheckSpec("dns.wildcard", Step.DNS, Severity.MINOR, "the host's domain has no wildcard record",
                  "Replace the wildcard with one record per Ingress host (e.g. external-dns); with a wildcard, "
                  "every typo resolves and ends at the controller's 404.", gates=False),
    )

    async def run(self, ctx: ProbeContext) -> None:
        target = ctx.require_target
        answer = await ctx.net.lookup(target.host)
        evidence = {"query": target.host, "resolver": answer.server, "rcode": answer.rcode,
                    "answers": list(answer.addresses), "timings_ms": {"dns": round(answer.ms, 2)}}
        if answer.rcode == "NXDOMAIN":
            ctx.failed("dns.resolves", f"{target.host} has an Ingress but does not resolve: NXDOMAIN from "
                                       f"{answer.server}", **evidence)
            return
        if answer.rcode != "NOERROR":
            ctx.errored("dns.resolves", f"could not decide: {answer.rcode} from {answer.server}"
                                        + (f" ({answer.error})" if answer.error else ""), **evidence)
            return
        if not answer.addresses:
            ctx.failed("dns.resolves", f"{target.host} exists but has no A or AAAA record", **evidence)
            return
        ctx.share(addresses=list(answer.addresses))
        ctx.passed("dns.resolves", f"{target.host} resolves to {', '.join(answer.addresses)}", **evidence)

        expected = set(ctx.profile.load_balancers) | set(target.status_addresses)
        if not expected:
            ctx.skipped("dns.lb_address", "no expected address known: give load_balancers in the profile, or "
                                          "let the controller publish the Ingress status", **evidence)
        else:
            stray = [a for a in answer.addresses if a not in expected]
            evidence["expected"] = sorted(expected)
            if stray:
                v6 = [a for a in stray if ":" in a]
                extra = (" (IPv6 clients connect there)" if v6 else "")
                ctx.failed("dns.lb_address", f"{target.host} resolves to {', '.join(stray)}, which is not a "
                                             f"load-balancer address (expected {', '.join(sorted(expected))})"
                                             + extra, **evidence)
            else:
                ctx.passed("dns.lb_address", f"every answer is a load-balancer address ({', '.join(expected)})",
                           **evidence)

        await self._wildcard(ctx)

    async def _wildcard(self, ctx: ProbeContext) -> None:
        host = ctx.require_target.host
        parent = host.split(".", 1)[1] if "." in host else ""
        if not parent or "." not in parent:
            ctx.skipped("dns.wildcard", f"{host} has no parent domain to test for a wildcard")
            return
        key = ("dns.wildcard", parent)
        async with ctx.net.memo_locks[key]:
            if key not in ctx.net.memo:
                label = f"ingresscheck-{secrets.token_hex(6)}"
                ctx.net.memo[key] = await ctx.net.lookup(f"{label}.{parent}", cached=False)
        probe = ctx.net.memo[key]
        evidence = {"query": probe.name, "rcode": probe.rcode, "answers": list(probe.addresses),
                    "resolver": probe.server}
        if probe.rcode == "NOERROR" and probe.addresses:
            typo = _typo(host)
            ctx.warned("dns.wildcard", f"*.{parent} is a wildcard record: typo hosts such as {typo} resolve to "
                                       f"{', '.join(probe.addresses)} and end at the controller's 404", **evidence)
        elif probe.rcode in ("NXDOMAIN", "NOERROR"):
            ctx.passed("dns.wildcard", f"no wildcard under {parent}: a random name gets {probe.rcode}", **evidence)
        else:
            ctx.errored("dns.wildcard", f"could not decide: {probe.rcode} for {probe.name}", **evidence)


def _typo(host: str) -> str:
    """A plausible misspelling of the host's first label (two letters swapped)."""
    label, _, rest = host.partition(".")
    if len(label) >= 3:
        label = label[0] + label[2] + label[1] + label[3:]
    else:
        label += "x"
    return f"{label}.{rest}"
