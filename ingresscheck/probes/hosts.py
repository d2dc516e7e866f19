"""hosts: the hosts the profile says must be served are served (``hosts:`` in the profile).

A host that disappears (its Ingress renamed, deleted, or its rule given a typo) leaves no failing check
behind: nothing is left to check. The profile's expected hosts turn that into a failure naming the host.
A host counts as served when an Ingress rule or an HTTPRoute effective hostname names it, or a wildcard
rule covers it (one label, as the Ingress API matches). No traffic: it runs offline too.
"""

from __future__ import annotations

from ..hostname import match_one
from ..results import Severity, Step
from ._contract import CheckSpec, Location, Probe, ProbeContext, Scope


class HostsProbe(Probe):
    name = "hosts"
    scope = Scope.CLUSTER
    network = False
    checks = (
        CheckSpec(
            "hosts.expected",
            Step.INGRESS,
            Severity.CRITICAL,
            "every host of the profile's `hosts:` is served by an Ingress or HTTPRoute (a wildcard rule covers one "
            "label)",
            "Restore the Ingress or HTTPRoute rule for the host (a renamed host, a typo, a deleted object), "
            "or take the host out of the profile's hosts list if it was retired on purpose.",
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        expected = ctx.profile.expected_hosts
        if not expected:
            ctx.skipped("hosts.expected", "the profile lists no expected hosts (hosts:)")
            return
        targets = ctx.inventory.targets
        for host in expected:
            exact = [t for t in targets if t.host == host]
            covering = [t for t in targets if t.wildcard and match_one(host, t.host)]
            where: Location = {"host": host}
            if exact or covering:
                by = exact or covering
                names = sorted({f"{t.kind} {t.namespace}/{t.name}" for t in by})
                how = "served by" if exact else f"covered by wildcard rule {by[0].host} of"
                ctx.passed(
                    "hosts.expected", f"{host} is {how} {', '.join(names)}", evidence={"objects": names}, **where
                )
                continue
            near = sorted({t.host for t in targets if _close(host, t.host)})
            hint = f"; similar names served: {', '.join(near[:3])}" if near else ""
            ctx.failed(
                "hosts.expected",
                f"{host} is expected (profile hosts) but no Ingress or HTTPRoute in the discovered scope "
                f"(context {ctx.inventory.context}) serves it{hint}",
                evidence={"expected_from": ctx.profile.source, "similar": near},
                **where,
            )


def _close(a: str, b: str) -> bool:
    """Two host names one edit apart (a typo), for the hint."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    from difflib import SequenceMatcher

    return SequenceMatcher(None, a, b).ratio() >= 0.9


__all__ = ["HostsProbe"]
