"""sni: what the SNI of a connection decides at each address of the host.

``tls.misdirected``: a browser reuses an HTTP/2 connection for another host when the connection's
certificate covers it and the address matches (connection coalescing, RFC 9113 §9.1.1). A server that
is asked, on a connection opened for host A, for a host B that A's certificate does not cover must answer
421 Misdirected Request (RFC 9110 §15.5.20); serving B there lets one host's TLS policy (certificate,
client certificates, TLS options) stand in for another's. The probe opens a connection with A's SNI and
asks for the first other host of the inventory served at the same address and not covered by A's
certificate. Whoever terminates TLS must say 421: the load balancer for hosts it terminates, the
controller or Gateway for hosts with their own certificate; where that implementation declares 421
detection unsupported (Traefik v3.7 and Envoy Gateway v1.9 in their Gateway API conformance reports),
the check is skipped, saying so and what was served (the conformance suite's rule for unsupported features).

``tls.no_sni``: what a client that sends no SNI gets from the address: no handshake (strict SNI), the
host's own certificate, another real one, or the controller's fake default.
"""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from .. import hostname
from ..discovery.gateway import gateway_controller
from ..net import Attempt, where
from ..results import Severity, Step
from ._access import reach as access_reach
from ._contract import CheckSpec, Probe, ProbeContext, Scope
from .http import backend_of
from .tls import _describe, _fake_default

# Implementations whose conformance report declares HTTPS listener misdirected-request detection unsupported.
NO_421 = {
    "traefik": "Traefik v3.7 declares misdirected-request detection (421) unsupported in its Gateway API "
    "conformance report",
    "envoy-gateway": "Envoy Gateway v1.9 declares misdirected-request detection (421) unsupported in its "
    "Gateway API conformance report",
}


def _leaf(attempt: Attempt) -> x509.Certificate | None:
    if attempt.tls is None or not attempt.tls.chain:
        return None
    return x509.load_der_x509_certificate(attempt.tls.chain[0])


def _cn(cert: x509.Certificate) -> str:
    names = hostname.dns_names(cert) or []
    return names[0] if names else cert.subject.rfc4514_string()


def implementation(ctx: ProbeContext) -> str | None:
    """Who terminates TLS for this target when it has its own certificate: the controller (profile) for an
    Ingress, the GatewayClass's controller for a route. None: the load balancer (no own certificate)."""
    target = ctx.require_target
    if not target.tls_secret:
        return None
    if target.kind == "Ingress":
        return ctx.profile.controller or "the ingress controller"
    controller = gateway_controller(ctx.inventory, target.gateway) or ""
    if "traefik" in controller:
        return "traefik"
    if "envoyproxy.io" in controller:
        return "envoy-gateway"
    return controller or "the Gateway"


class SniProbe(Probe):
    name = "sni"
    needs = ("tls",)
    scope = Scope.TARGET
    checks = (
        CheckSpec(
            "tls.misdirected",
            Step.TLS,
            Severity.MAJOR,
            "a connection opened for the host, asked for another host its certificate does not cover, gets 421",
            "Make whoever terminates TLS refuse a Host the connection's SNI does not cover with 421 Misdirected "
            "Request (HAProxy: `http-request return status 421 unless { ssl_fc_sni ... }` per certificate; "
            "Traefik answers 421 only when the two hosts' TLS options differ).",
            gates=False,
        ),
        CheckSpec(
            "tls.no_sni",
            Step.TLS,
            Severity.MINOR,
            "a client without SNI gets a strict-SNI refusal or a real certificate, not a fake default one",
            "Give the controller or load balancer a real default certificate (ingress-nginx: "
            "--default-ssl-certificate; Traefik: the default TLSStore), or refuse handshakes without SNI.",
            gates=False,
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        target = ctx.require_target
        port = ctx.profile.https_port
        sni = hostname.to_alabels(target.request_host)
        if target.listener_protocol == "HTTP" or sni is None:
            for check in self.checks:
                ctx.skipped(check.id, f"{target.host} has no TLS listener to check")
            return
        addresses, source = await ctx.addresses(port, target.request_host)
        if not addresses:
            for check in self.checks:
                ctx.skipped(check.id, f"no address to connect to for {target.host}")
            return
        # the connection is the protected host's: its client certificate or inside source, when it asks for one
        reach = access_reach(ctx.profile, target, backend=False)
        for address in addresses:
            if reach.blocked:
                ctx.skipped("tls.misdirected", reach.blocked, subject=where(address, port))
            else:
                await self._misdirected(ctx, address, port, sni, reach.options)
            await self._no_sni(ctx, address, port, target.request_host)

    async def _other_host(
        self, ctx: ProbeContext, address: str, port: int, leaf: x509.Certificate
    ) -> tuple[str, str] | None:
        """The first other host of the inventory (sorted) served at ``address`` and not covered by ``leaf``,
        with a path it serves. The inventory's TLS hosts are listed once per run, and the search is made once
        per (address, port, certificate): every host behind one certificate asks the same question, and asking
        it per host made the run quadratic in its hosts (1,000 hosts: 7 of 36 s)."""
        mine = ctx.require_target.request_host

        async def tls_hosts() -> list[tuple[str, str]]:
            hosts: dict[str, str] = {}
            for t in ctx.inventory.targets:
                if not t.wildcard and t.listener_protocol != "HTTP":
                    hosts.setdefault(t.request_host, t.sample_path)
            return sorted(hosts.items())

        async def candidates() -> list[tuple[str, str]]:
            # two, so that a host its own certificate does not cover still finds another one than itself
            found: list[tuple[str, str]] = []
            for other, path in await ctx.net.once(("sni.tls_hosts",), tls_hosts):
                if hostname.covered_by(other, leaf):
                    continue
                addresses, _ = await ctx.net.addresses_for(other, port)
                if address in addresses:
                    found.append((other, path))
                    if len(found) == 2:
                        break
            return found

        key = ("sni.other_host", address, port, leaf.fingerprint(hashes.SHA256()))
        return next((c for c in await ctx.net.once(key, candidates) if c[0] != mine), None)

    async def _misdirected(self, ctx: ProbeContext, address: str, port: int, sni: str, options: dict[str, Any]) -> None:
        subject = where(address, port)
        shake = await ctx.net.handshake(address, port, sni, keep=True)
        leaf = _leaf(shake)
        if not shake.ok or leaf is None:
            ctx.not_completed("tls.misdirected", shake, subject=subject, what=f"TLS handshake with SNI {sni}")
            return
        found = await self._other_host(ctx, address, port, leaf)
        if found is None:
            ctx.skipped(
                "tls.misdirected",
                f"no other host of the inventory is served at {subject} with a certificate that {_cn(leaf)} does "
                f"not cover: nothing a client could be misdirected to",
                subject=subject,
            )
            return
        other, path = found
        url = f"https://{other}{'' if port == 443 else f':{port}'}{path}"
        attempt = await ctx.net.fetch("GET", url, address, sni=sni, **options)
        evidence: dict[str, Any] = {**attempt.evidence(), "connection_sni": sni, "asked_host": other, "path": path}
        if not attempt.ok or attempt.response is None:
            ctx.not_completed(
                "tls.misdirected", attempt, subject=subject, what=f"GET {other} on a connection for {sni}"
            )
            return
        status = attempt.response.status
        said = f"a connection to {subject} opened for {sni} (certificate {_cn(leaf)}), asked for {other}"
        if status == 421:
            ctx.passed("tls.misdirected", f"{said}, gets 421 Misdirected Request", evidence, subject=subject)
            return
        who = backend_of(attempt)
        evidence["answered_by"] = who
        served = 200 <= status < 400 or bool(who.get("service"))
        impl = implementation(ctx)
        content = f"{status}" + (f", Service {who['service']}" if who.get("service") else "")
        if served and impl in NO_421:
            evidence["implementation"] = impl
            # as the Gateway API conformance suite does with a feature an implementation does not support
            ctx.skipped(
                "tls.misdirected",
                f"{said}, is served {other}'s content ({content}) "
                f"instead of 421: not supported by this implementation ({NO_421[impl]})",
                evidence,
                subject=subject,
            )
        elif served:
            ctx.failed(
                "tls.misdirected",
                f"{said}, is served {other}'s content ({content}) "
                f"instead of 421: a coalescing browser reaches {other} under {sni}'s TLS policy",
                evidence,
                subject=subject,
            )
        else:
            ctx.warned(
                "tls.misdirected",
                f"{said}, gets {status} instead of 421: {other} is not served there, but a coalescing browser is not "
                f"told to retry on a connection of its own",
                evidence,
                subject=subject,
            )

    async def _no_sni(self, ctx: ProbeContext, address: str, port: int, host: str) -> None:
        subject = where(address, port)

        async def shake_hands() -> Attempt:
            return await ctx.net.handshake(address, port, None, context=ctx.net.context())

        attempt = await ctx.net.once(("sni", "no_sni", address, port), shake_hands)
        evidence = {**attempt.evidence(), "sni": None}
        if not attempt.ok:
            if attempt.outcome.value in ("tls_error", "reset"):
                ctx.passed(
                    "tls.no_sni",
                    f"a client without SNI gets no TLS handshake at {subject} (strict SNI): {attempt.reason}",
                    evidence,
                    subject=subject,
                )
            else:
                ctx.not_completed("tls.no_sni", attempt, subject=subject, what="TLS handshake without SNI")
            return
        leaf = _leaf(attempt)
        assert leaf is not None and attempt.tls is not None
        evidence["certificate"] = _describe(leaf)
        verified = "verifies" if attempt.tls.verified else f"does not verify: {attempt.tls.verify_reason}"
        fake = _fake_default(leaf)
        if fake:
            ctx.warned(
                "tls.no_sni",
                f"a client without SNI gets the {fake} fake default certificate at {subject} ({_cn(leaf)})",
                evidence,
                subject=subject,
            )
        elif hostname.covered_by(host, leaf):
            ctx.passed(
                "tls.no_sni",
                f"a client without SNI gets a certificate covering {host} at {subject} ({_cn(leaf)}, {verified})",
                evidence,
                subject=subject,
            )
        else:
            ctx.passed(
                "tls.no_sni",
                f"a client without SNI gets the default certificate {_cn(leaf)} at {subject} ({verified}); it does "
                f"not cover {host}, so such clients cannot reach {host} there",
                evidence,
                subject=subject,
            )
