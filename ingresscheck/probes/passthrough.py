"""passthrough: a TLS stream published for passthrough reaches the backend's own certificate, not the Gateway's.

For every TLSRoute hostname on a listener in ``Passthrough`` mode (and every ``ssl-passthrough`` Ingress host)
the probe completes a handshake with SNI = that hostname where a client would connect (its DNS, or the
Gateway's address), and compares the served leaf with

- the certificates the Gateway's listeners terminate with (their certificateRefs): the same one means the
  Gateway terminated the stream (fail);
- the certificate the route's backend serves itself, fetched from one of its ready endpoints with the same
  SNI when that address is reachable from here: the same passes, another one fails (the SNI leads to
  another backend);

when the endpoints cannot be reached the result is a warning that says what was and was not established.
Listeners in ``Terminate`` mode are reported as such (skip): the Gateway's certificate is then the answer.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ..discovery.gateway import find_gateway, listeners_of
from ..discovery.tcp import StreamTarget
from ..hostname import match_one
from ..net import Attempt, where
from ..results import Severity, Step
from ._contract import CheckSpec, Probe, ProbeContext, Scope, established
from ._stream import described, located, not_completed, published_addresses, published_port


def fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def leaf_summary(der: bytes) -> dict[str, Any]:
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return {"sha256": fingerprint(der)}
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName
        )
    except x509.ExtensionNotFound:
        sans = []
    return {"subject": cert.subject.rfc4514_string(), "dns_names": list(sans), "sha256": fingerprint(der)}


class PassthroughProbe(Probe):
    name = "passthrough"
    scope = Scope.CLUSTER
    checks = (
        CheckSpec(
            "tls.passthrough",
            Step.TLS,
            Severity.CRITICAL,
            "the SNI of a passthrough TLSRoute (or ssl-passthrough Ingress) reaches its backend's own certificate, "
            "covering the SNI, not the Gateway's",
            "Set the listener's tls.mode to Passthrough (Terminate makes the Gateway answer with its own "
            "certificate), and check that the route's hostname names the backend whose certificate answers.",
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        targets = [t for t in ctx.inventory.stream_targets if t.sni]
        if not targets:
            ctx.skipped("tls.passthrough", "no TLSRoute or ssl-passthrough Ingress in scope")
            return
        await asyncio.gather(*(self._target(ctx, t) for t in targets))

    async def _target(self, ctx: ProbeContext, t: StreamTarget) -> None:
        assert t.sni is not None
        loc = located(t)
        if t.mode != "Passthrough":
            await self._terminated(ctx, t)
            return
        port = published_port(ctx, t)
        # where a client connects: the SNI's own DNS first (the Kafka client's way), else the status address
        addresses, source = await ctx.net.addresses_for(t.sni, port)
        if not addresses:
            addresses, source = await published_addresses(ctx, t)
        gateway_certs = self._gateway_certificates(ctx, t)
        for address in addresses:
            subject = f"{t.label} at {where(address, port)}"
            attempt = await ctx.net.handshake(address, port, t.sni)
            evidence: dict[str, Any] = {"target": described(t), "addresses_from": source}
            if not attempt.ok or attempt.tls is None or not attempt.tls.chain:
                not_completed(ctx, "tls.passthrough", attempt, subject=subject, what=f"{t.label} (SNI {t.sni})", **loc)
                continue
            served = attempt.tls.chain[0]
            evidence["served"] = leaf_summary(served)
            evidence.update(attempt.evidence())
            if fingerprint(served) in gateway_certs:
                ctx.failed(
                    "tls.passthrough",
                    f"{t.label}: SNI {t.sni} at {attempt.subject.where} got the Gateway's own certificate "
                    f"({gateway_certs[fingerprint(served)]}): the stream is terminated at the Gateway, not passed "
                    f"through",
                    evidence=evidence,
                    subject=subject,
                    **loc,
                )
                continue
            own = await self._backend_certificate(ctx, t, served)
            if isinstance(own, Attempt) or own is None:
                why = own.describe() if isinstance(own, Attempt) else "the route's backends have no ready endpoint"
                ctx.warned(
                    "tls.passthrough",
                    f"{t.label}: SNI {t.sni} at {attempt.subject.where} got a certificate that is not the Gateway's "
                    f"({evidence['served'].get('subject', '?')}); whether it is the backend's own could not be "
                    f"established: {why}",
                    evidence=evidence,
                    subject=subject,
                    **loc,
                )
                continue
            endpoint, der = own
            evidence["backend"] = {"endpoint": endpoint, **leaf_summary(der)}
            names = evidence["served"].get("dns_names") or []
            if not any(match_one(t.sni, n) for n in names):
                ctx.failed(
                    "tls.passthrough",
                    f"{t.label}: SNI {t.sni} at {attempt.subject.where} gets a certificate that does not cover "
                    f"{t.sni} ({', '.join(names) or 'no DNS names'}): the route leads to a backend of another name",
                    evidence=evidence,
                    subject=subject,
                    **loc,
                )
            elif fingerprint(der) == fingerprint(served):
                ctx.passed(
                    "tls.passthrough",
                    f"{t.label}: SNI {t.sni} at {attempt.subject.where} reaches the backend's own certificate "
                    f"({evidence['served'].get('subject', '?')}, as {endpoint} serves it)",
                    evidence=evidence,
                    subject=subject,
                    **loc,
                )
            else:
                ctx.failed(
                    "tls.passthrough",
                    f"{t.label}: SNI {t.sni} at {attempt.subject.where} reaches another backend: it serves "
                    f"{evidence['served'].get('subject', '?')}, the route's backend {endpoint} serves "
                    f"{evidence['backend'].get('subject', '?')}",
                    evidence=evidence,
                    subject=subject,
                    **loc,
                )

    async def _terminated(self, ctx: ProbeContext, t: StreamTarget) -> None:
        """A listener that terminates TLS: right for a plaintext backend (the Gateway's certificate answers by
        design), wrong in front of a backend that serves TLS itself (a Kafka broker's own listener): the SNI
        gets the Gateway's certificate, and the backend gets plaintext on its TLS port."""
        assert t.sni is not None
        loc = located(t)
        evidence: dict[str, Any] = {"target": described(t)}
        own = await self._backend_certificate(ctx, t, b"")
        if isinstance(own, tuple):
            endpoint, der = own
            evidence["backend"] = {"endpoint": endpoint, **leaf_summary(der)}
            ctx.failed(
                "tls.passthrough",
                f"{t.label}: listener {t.gateway} {t.listener} terminates TLS (mode {t.mode}) in front of a backend "
                f"that serves TLS itself ({endpoint}: {evidence['backend'].get('subject', '?')}): SNI {t.sni} gets "
                f"the Gateway's certificate, not the backend's, and the backend gets plaintext on its TLS port",
                evidence=evidence,
                subject=t.label,
                **loc,
            )
            return
        why = (
            f"its backends did not complete a TLS handshake: {own.describe()}"
            if isinstance(own, Attempt) and established(own)
            else "whether its backends serve TLS themselves could not be established: "
            + (own.describe() if isinstance(own, Attempt) else "no ready endpoint")
        )
        ctx.skipped(
            "tls.passthrough",
            f"{t.label}: listener {t.gateway} {t.listener} terminates TLS (mode {t.mode}): the Gateway's "
            f"certificate answers by design ({why})",
            evidence=evidence,
            subject=t.label,
            **loc,
        )

    def _gateway_certificates(self, ctx: ProbeContext, t: StreamTarget) -> dict[str, str]:
        """sha256 of each certificate the Gateway's listeners terminate with -> which Secret."""
        out: dict[str, str] = {}
        if not t.gateway:
            return out
        ns, _, name = t.gateway.partition("/")
        gw = find_gateway(ctx.inventory, ns, name)
        if gw is None:
            return out
        for li in listeners_of(ctx.inventory, gw):
            for ref in li.certificate_refs:
                info = ctx.inventory.secrets.get(ref)
                if info is None or not info.cert_pem:
                    continue
                try:
                    cert = x509.load_pem_x509_certificate(info.cert_pem)
                except ValueError:
                    continue
                out[fingerprint(cert.public_bytes(Encoding.DER))] = f"Secret {ref[0]}/{ref[1]}"
        return out

    async def _backend_certificate(
        self, ctx: ProbeContext, t: StreamTarget, served: bytes
    ) -> tuple[str, bytes] | Attempt | None:
        """(endpoint, leaf DER) a ready endpoint of the route's backends serves itself for the SNI: the one serving
        ``served`` when there is one (a Service of several brokers), else the first; the failed attempt when the
        endpoints cannot be reached from here; None when there is no ready endpoint."""
        last: Attempt | None = None
        first: tuple[str, bytes] | None = None
        for b in t.backends:
            found = ctx.inventory.service_endpoints(b.namespace, b.service)
            svc_port = next(
                (p for p in ((found.service or {}).get("spec") or {}).get("ports") or [] if p.get("port") == b.port),
                None,
            )
            for ep in found.ready:
                port = ep.port_for(svc_port)
                if port is None:
                    continue
                attempt = await ctx.net.handshake(ep.address, port, t.sni)
                if attempt.ok and attempt.tls is not None and attempt.tls.chain:
                    found_cert = (where(ep.address, port), attempt.tls.chain[0])
                    if attempt.tls.chain[0] == served:
                        return found_cert
                    first = first or found_cert
                else:
                    last = attempt
        return first or last
