"""dns: every Ingress host resolves, to a load-balancer address, and wildcard records are flagged.

The seed's hack: ``*.example.domain`` points at the VIP, so a typo host resolves too and ends at
the ingress controller's 404. We detect it by resolving a random label next to each host.
"""

from __future__ import annotations

from ..results import Severity, Step, nonce
from ._contract import CheckSpec, Probe, ProbeContext


class DnsProbe(Probe):
    name = "dns"
    checks = (
        CheckSpec(
            "dns.resolves",
            Step.DNS,
            Severity.CRITICAL,
            "the host resolves to at least one address",
            "Create an A/AAAA record for the host (or fix the zone delegation); an Ingress whose host "
            "does not resolve gets no traffic.",
        ),
        CheckSpec(
            "dns.lb_address",
            Step.DNS,
            Severity.MAJOR,
            "every address is an expected load-balancer address (profile or Ingress status)",
            "Point the record at the load balancer (see the Ingress status or the profile's "
            "load_balancers); stale records send clients to the wrong place.",
            gates=False,
        ),
        CheckSpec(
            "dns.wildcard",
            Step.DNS,
            Severity.MINOR,
            "the host's domain has no wildcard record",
            "Replace the wildcard with one record per Ingress host (e.g. external-dns); with a wildcard, "
            "every typo resolves and ends at the controller's 404.",
            gates=False,
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        target = ctx.require_target
        attempt = await ctx.net.lookup(target.request_host)
        answer = attempt.dns
        addresses = list(answer.addresses) if answer else []
        evidence = attempt.evidence()
        pinned = sorted(
            {
                a
                for port in (ctx.profile.http_port, ctx.profile.https_port)
                for a in ctx.profile.resolve_override(target.request_host, port)
            }
        )
        if pinned:
            # curl semantics: --resolve stands in for DNS for this host; say what DNS says, do not gate on it
            evidence["resolve_override"] = pinned
            said = (
                f"DNS gives {', '.join(addresses)}"
                if attempt.ok and addresses
                else f"DNS: {attempt.reason or 'no A or AAAA record'}"
            )
            if attempt.ok and addresses and set(addresses) == set(pinned):
                ctx.passed(
                    "dns.resolves",
                    f"{target.host} resolves to {', '.join(addresses)}, the --resolve address(es) too",
                    evidence=evidence,
                )
            else:
                ctx.warned(
                    "dns.resolves",
                    f"checked at {', '.join(pinned)} from --resolve (DNS not used for this host, as curl does); {said}",
                    evidence=evidence,
                )
            ctx.skipped(
                "dns.lb_address", f"the addresses come from --resolve ({', '.join(pinned)}), not DNS", evidence=evidence
            )
            await self._wildcard(ctx)
            return
        if not attempt.ok:
            if attempt.outcome.value == "nxdomain":
                ctx.failed(
                    "dns.resolves",
                    f"{target.host} has an Ingress but does not resolve: {attempt.reason}",
                    evidence=evidence,
                )
            else:
                ctx.errored("dns.resolves", f"could not decide: {attempt.reason}", evidence=evidence)
            return
        if not addresses:
            ctx.failed("dns.resolves", f"{target.host} exists but has no A or AAAA record", evidence=evidence)
            return
        ctx.passed("dns.resolves", f"{target.host} resolves to {', '.join(addresses)}", evidence=evidence)

        expected = set(ctx.profile.load_balancers) | set(target.status_addresses)
        planes = ctx.inventory.planes
        own = [a for a in target.status_addresses if a in planes.published]
        elsewhere = {a: e for a in addresses if own and (e := planes.elsewhere(target, a)) is not None}
        for address, e in elsewhere.items():
            mine = " and ".join(planes.of(target)) or f"{target.kind} {target.namespace}/{target.name}"
            said = (
                f"{target.host} resolves to {e.says()}, not to {', '.join(own)}, published by {mine}: "
                f"clients reach another data plane"
            )
            ev = {
                **evidence,
                "expected": sorted(expected),
                "own": own,
                "published_by": list(e.planes),
                "serving_there": list(e.serving),
            }
            checked = (
                f"{target.kind} {target.namespace}/{target.name} is checked at {', '.join(own)}, {address} under "
                f"the objects serving {target.host} there"
            )
            if e.serving and address in ctx.profile.load_balancers:
                # the profile's load balancer: where this host is meant to be served (a migration's first side)
                ctx.passed(
                    "dns.lb_address",
                    f"{target.host} resolves to {e.says()}, a load-balancer address of the profile; {checked}",
                    subject=address,
                    evidence=ev,
                )
            elif e.serving:
                ctx.warned("dns.lb_address", f"{said}; {checked}", subject=address, evidence=ev)
            else:
                ctx.failed(
                    "dns.lb_address",
                    f"{said}, which does not serve {target.host}: point the record at {', '.join(own)}",
                    subject=address,
                    evidence=ev,
                )
        addresses = [a for a in addresses if a not in elsewhere]
        if not expected:
            ctx.skipped(
                "dns.lb_address",
                "no expected address known: give load_balancers in the profile, or "
                "let the controller publish the Ingress status",
                evidence=evidence,
            )
        else:
            evidence["expected"] = sorted(expected)
            for address in addresses:
                if address in expected:
                    ctx.passed(
                        "dns.lb_address", f"{address} is a load-balancer address", subject=address, evidence=evidence
                    )
                else:
                    v6 = " (IPv6 clients connect there)" if ":" in address else ""
                    ctx.failed(
                        "dns.lb_address",
                        f"{target.host} resolves to {address}, which is not a load-balancer "
                        f"address (expected {', '.join(sorted(expected))}){v6}",
                        subject=address,
                        evidence=evidence,
                    )

        await self._wildcard(ctx)

    async def _wildcard(self, ctx: ProbeContext) -> None:
        host = ctx.require_target.host
        if ctx.require_target.wildcard:
            ctx.skipped(
                "dns.wildcard",
                f"the Ingress host {host} is itself a wildcard: a wildcard record is what it "
                f"needs, and every name under it is this Ingress's",
                subject=host,
            )
            return
        parent = host.split(".", 1)[1] if "." in host else ""
        if not parent or "." not in parent:
            ctx.skipped("dns.wildcard", f"{host} has no parent domain to test for a wildcard")
            return
        probe = await ctx.net.once(
            ("dns.wildcard", parent),
            lambda: ctx.net.lookup(f"{nonce()}.{parent}", cached=False),
        )
        evidence = probe.evidence()
        answer = probe.dns
        if probe.ok and answer is not None and answer.addresses:
            # one wildcard record is one cause for every host under it: the message names the record only, so
            # reports group its hosts into one finding; the host's own example typo is evidence
            ctx.warned(
                "dns.wildcard",
                f"*.{parent} is a wildcard record: every name under it, typos included, resolves to "
                f"{', '.join(answer.addresses)} and ends at the controller's 404",
                subject=f"*.{parent}",
                evidence={**evidence, "typo_example": _typo(host)},
            )
        elif probe.ok or probe.outcome.value == "nxdomain":
            rcode = answer.rcode if answer else "NXDOMAIN"
            ctx.passed(
                "dns.wildcard",
                f"no wildcard under {parent}: a random name gets {rcode}",
                subject=f"*.{parent}",
                evidence=evidence,
            )
        else:
            ctx.errored("dns.wildcard", f"could not decide: {probe.reason}", subject=f"*.{parent}", evidence=evidence)


def _typo(host: str) -> str:
    """A plausible misspelling of the host's first label (two letters swapped)."""
    label, _, rest = host.partition(".")
    swapped = label[0] + label[2] + label[1] + label[3:] if len(label) >= 3 else label
    # "www" swapped is "www" again: then a doubled last letter, as fast fingers do
    label = swapped if swapped != label else label + label[-1:]
    return f"{label}.{rest}"
