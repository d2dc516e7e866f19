"""tls: every address of the host completes a TLS handshake (SNI = host) and serves a certificate
that verifies, covers the host, is in date, has a strong key, refuses TLS < 1.2, is not the
controller's fake default certificate, and is the one the Ingress's TLS Secret holds.

Every handshake goes through the network layer (``ctx.net.handshake``): one handshake per address
gives the whole served chain, the negotiated version and cipher and OpenSSL's trust verdict against
the profile's CA bundle (else the system store; dates are left to ``tls.expiry`` so each check
reports its own reason), and its connection stays open to carry the host's routing and auth
requests. Verdicts are per address (the subject); addresses that served the same chain share one
line of each certificate check, naming them all.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from OpenSSL import SSL

from .. import hostname
from ..evidence import CertificateFacts, ServedChain
from ..evidence import Handshake as HandshakeEvidence
from ..net import Attempt, Outcome, can_offer, client_context, ssl_reason, where
from ..results import Severity, Step, nonce
from ._contract import CheckSpec, Probe, ProbeContext, Scope

OLD_VERSIONS = (("TLS 1.1", SSL.TLS1_1_VERSION), ("TLS 1.0", SSL.TLS1_VERSION))
MIN_BITS = {"RSA": 2048, "DSA": 2048, "EC": 256}

# Certificates controllers serve when they have none for the SNI: subject CN -> controller.
FAKE_DEFAULT_CNS = {
    "traefik default cert": "Traefik",
    "kubernetes ingress controller fake certificate": "ingress-nginx",
}
FAKE_DEFAULT_SAN_SUFFIXES = {".traefik.default": "Traefik", "ingress.local": "ingress-nginx"}


# --- network: small frozen results, no verdicts ------------------------------------------------
@dataclass(frozen=True)
class Handshake:
    """One TLS handshake's outcome: ``ok``, ``refused``, ``connect_timeout``, ``connect_error``,
    ``timeout`` (TCP accepted, no handshake within the timeout) or ``tls_error``."""

    address: str
    port: int
    sni: str | None
    outcome: str
    error: str = ""
    version: str | None = None
    cipher: str | None = None
    chain: tuple[bytes, ...] = ()  # DER, as served: leaf first
    connect_ms: float | None = None
    tls_ms: float | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    @property
    def certs(self) -> list[x509.Certificate]:
        return [_parse(der) for der in self.chain]

    @property
    def leaf(self) -> x509.Certificate | None:
        return _parse(self.chain[0]) if self.chain else None

    @property
    def where(self) -> str:
        return f"[{self.address}]:{self.port}" if ":" in self.address else f"{self.address}:{self.port}"

    def evidence(self) -> HandshakeEvidence:
        return {
            "address": self.address,
            "port": self.port,
            "sni": self.sni,
            "version": self.version,
            "cipher": self.cipher,
            "timings_ms": {"connect": self.connect_ms, "tls": self.tls_ms},
            **({"error": self.error} if self.error else {}),
        }


@dataclass(frozen=True)
class Verification:
    """The stdlib's verdict on the served chain: ``verified``, ``unverified`` (with OpenSSL's reason)
    or ``undecided`` (the verifying handshake itself did not complete)."""

    outcome: str
    reason: str = ""
    code: int | None = None


def handshake_of(attempt: Attempt) -> Handshake:
    """The TLS facts of a network attempt, in the shape the verdicts below read."""
    s = attempt.subject
    address, port = s.address or "?", s.port or 0
    connect_ms = attempt.timings.get("connect")
    tls_ms = attempt.timings.get("tls")
    if attempt.ok and attempt.tls is not None:
        t = attempt.tls
        return Handshake(
            address,
            port,
            s.sni,
            "ok",
            "",
            t.version,
            t.cipher,
            t.chain,
            round(connect_ms, 2) if connect_ms is not None else None,
            round(tls_ms, 2) if tls_ms is not None else None,
        )
    outcome = {Outcome.REFUSED: "refused", Outcome.UNREACHABLE: "connect_error"}.get(attempt.outcome, "tls_error")
    if attempt.outcome is Outcome.TIMEOUT:
        outcome = "connect_timeout" if attempt.phase == "connect" else "timeout"
    return Handshake(address, port, s.sni, outcome, attempt.reason, connect_ms=connect_ms, tls_ms=tls_ms)


def verification_of(attempt: Attempt) -> Verification:
    if not attempt.ok or attempt.tls is None:
        return Verification("undecided", attempt.reason or "no handshake")
    if attempt.tls.verified:
        return Verification("verified")
    return Verification("unverified", attempt.tls.verify_reason, attempt.tls.verify_code)


@dataclass(frozen=True)
class OldContext:
    label: str
    context: SSL.Context | None
    ciphers: str  # "default" or the cipher string it took to offer the version
    reason: str = ""  # why the version cannot be offered at all


def _old_context(label: str, version: int) -> OldContext:
    """A client context offering only ``version``; lowers SECLEVEL when the default refuses to."""
    reason = ""
    for seclevel0 in (False, True):
        try:
            context = client_context(ca_bundle=None, verify=False, version=version, seclevel0=seclevel0)
        except SSL.Error as exc:
            reason = ssl_reason(exc)
            continue
        reason = can_offer(context) or ""
        if not reason:
            return OldContext(label, context, "DEFAULT:@SECLEVEL=0" if seclevel0 else "default")
    return OldContext(label, None, "", reason)


T = TypeVar("T")


def _old_maker(label: str, version: int) -> Callable[[], Awaitable[OldContext]]:
    """An old-version client context, made once per run (Net.once): OpenSSL contexts are costly to build."""

    async def make() -> OldContext:
        return _old_context(label, version)

    return make


# --- certificate facts ------------------------------------------------------------------------
def _sha256(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def _cn(cert: x509.Certificate) -> str:
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if cns:
        value = cns[0].value
        return value.decode(errors="replace") if isinstance(value, bytes) else value
    return cert.subject.rfc4514_string() or "(empty subject)"


def _key(cert: x509.Certificate) -> tuple[str, int | None, str]:
    """(family, bits, label), e.g. ("EC", 256, "EC secp256r1 256-bit")."""
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size, f"RSA {key.key_size}-bit"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size, f"EC {key.curve.name} {key.curve.key_size}-bit"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256, "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456, "Ed448"
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size, f"DSA {key.key_size}-bit"
    return type(key).__name__, None, type(key).__name__


@functools.lru_cache(maxsize=1024)
def _parse(der: bytes) -> x509.Certificate:
    """One parse per served certificate per run: a thousand hosts behind one wildcard share it."""
    return x509.load_der_x509_certificate(der)


@functools.lru_cache(maxsize=1024)
def _describe(cert: x509.Certificate) -> CertificateFacts:
    """Public facts of a certificate for evidence (never key material beyond its type and size)."""
    names = hostname.dns_names(cert)
    _, bits, label = _key(cert)
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "san": names if names is not None else None,
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "key": label,
        "key_bits": bits,
        "sha256": _sha256(cert),
        "serial": format(cert.serial_number, "x"),
    }


def _fake_default(cert: x509.Certificate | None) -> str | None:
    """The controller whose fake default certificate this is, or None."""
    if cert is None:
        return None
    controller = FAKE_DEFAULT_CNS.get(_cn(cert).strip().lower())
    if controller:
        return controller
    for name in hostname.dns_names(cert) or []:
        for suffix, owner in FAKE_DEFAULT_SAN_SUFFIXES.items():
            if name.lower().endswith(suffix):
                return owner
    return None


def _host_gets_the_default(
    ctx: ProbeContext, leaf: x509.Certificate, served: str, evidence: dict[str, Any], where: str
) -> None:
    """The host is served the certificate the server also serves {served} (no SNI, an unknown name). That is
    fine when it is the host's own (its TLS Secret's, or, without one, the wildcard meant for it), and a
    failure when the host has a Secret whose certificate this is not: it silently fell back to the default."""
    target = ctx.require_target
    host, ref = target.host, target.tls_secret_ref
    what = f"the default certificate ({_cn(leaf)}, also served {served})"
    if ref is None:
        ctx.passed(
            "tls.default_certificate",
            f"{host} names no TLS Secret of its own and is served {what}: the one meant for every such host",
            evidence=evidence,
            subject=where,
        )
        return
    name = f"{ref[0]}/{ref[1]}"
    evidence = {**evidence, "secret": name}
    if ref in ctx.inventory.unreadable or ref not in ctx.inventory.secrets:
        ctx.warned(
            "tls.default_certificate",
            f"{host} is served {what}, and its TLS Secret {name} was not read: whether that is its own "
            f"certificate cannot be told",
            evidence=evidence,
            subject=where,
        )
        return
    secret = ctx.inventory.secrets[ref]
    stored = None
    if secret is not None and secret.cert_pem:
        try:
            stored = x509.load_pem_x509_certificates(secret.cert_pem)[0]
        except (ValueError, IndexError):
            stored = None
    if stored is not None and stored.public_bytes(Encoding.DER) == leaf.public_bytes(Encoding.DER):
        ctx.passed(
            "tls.default_certificate",
            f"{host} is served its own Secret {name}'s certificate, which is also the default one (served {served})",
            evidence=evidence,
            subject=where,
        )
        return
    why = (
        "does not exist"
        if secret is None
        else "holds no usable certificate"
        if stored is None
        else f"holds another certificate ({_cn(stored)})"
    )
    ctx.failed(
        "tls.default_certificate",
        f"{host} is served {what} instead of its own: its TLS Secret {name} {why}",
        evidence=evidence,
        subject=where,
    )


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _date(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC")


# --- the probe --------------------------------------------------------------------------------
@dataclass
class _Group:
    """Addresses that served the same chain: certificate checks are reported once per group."""

    shake: Handshake
    addresses: list[str]
    verification: Verification


async def _each(aws: list[Coroutine[Any, Any, T]]) -> list[T]:
    """``asyncio.gather``, without a task for the common case of one address (a task per host and step
    is measurable CPU in a 1,000-host run)."""
    if len(aws) == 1:
        return [await aws[0]]
    return list(await asyncio.gather(*aws))


class TlsProbe(Probe):
    name = "tls"
    needs = ("dns",)
    scope = Scope.TARGET
    network = True
    checks = (
        CheckSpec(
            "tls.handshake",
            Step.TLS,
            Severity.CRITICAL,
            "every address of the host completes a TLS handshake with SNI = host",
            "Make every load-balancer address forward the HTTPS port to the ingress controller (TCP "
            "passthrough or TLS termination), and check that the controller has a certificate for the "
            "host; a timeout after the TCP connect usually means a proxy expecting plain HTTP or "
            "PROXY protocol on that port.",
        ),
        CheckSpec(
            "tls.chain",
            Step.TLS,
            Severity.CRITICAL,
            "the served chain verifies against the profile's CA bundle (else the system store)",
            "Serve the full chain: put the leaf followed by its intermediate certificate(s) in the TLS "
            "Secret's tls.crt (cert-manager does this), and use a certificate from a CA the clients "
            "trust instead of a self-signed one.",
            gates=False,
        ),
        CheckSpec(
            "tls.hostname",
            Step.TLS,
            Severity.CRITICAL,
            "a subjectAltName dNSName of the served certificate covers the host (RFC 6125)",
            "Issue the certificate with the host in its subjectAltName (a wildcard covers exactly one "
            "label: *.example.test does not cover a.b.example.test nor example.test), and list the host "
            "in the Ingress's tls.hosts next to the right secretName.",
            gates=False,
        ),
        CheckSpec(
            "tls.expiry",
            Step.TLS,
            Severity.CRITICAL,
            "the certificate is valid now and for more than the warning threshold",
            "Renew the certificate (check cert-manager's Certificate and its renewal events, or the "
            "issuer's ACME challenges) and update the Secret; the controller reloads it by itself.",
            gates=False,
        ),
        CheckSpec(
            "tls.key_strength",
            Step.TLS,
            Severity.MAJOR,
            "the certificate key is at least RSA 2048 or EC 256 bits",
            "Reissue the certificate with an RSA key of 2048 bits or more, or an ECDSA P-256 key "
            "(cert-manager: spec.privateKey.algorithm/size).",
            gates=False,
        ),
        CheckSpec(
            "tls.protocols",
            Step.TLS,
            Severity.MAJOR,
            "TLS 1.0 and 1.1 are refused",
            "Set the minimum TLS version to 1.2 where TLS is terminated (ingress-nginx: ssl-protocols "
            '"TLSv1.2 TLSv1.3"; Traefik: a TLSOption with minVersion VersionTLS12; or the load '
            "balancer's TLS policy).",
            gates=False,
        ),
        CheckSpec(
            "tls.default_certificate",
            Step.TLS,
            Severity.MINOR,
            "the host does not get, and the controller does not fall back to, a fake default certificate",
            "Give the controller a real default certificate (ingress-nginx: --default-ssl-certificate; "
            "Traefik: a TLSStore named default), and fix the host's tls block so its own Secret is used "
            "(a missing or invalid Secret makes the controller fall back to its default).",
            gates=False,
        ),
        CheckSpec(
            "tls.termination",
            Step.TLS,
            Severity.MAJOR,
            "the served certificate is the Ingress's TLS Secret's (or a valid one from an upstream LB)",
            "Create the Secret named in the Ingress's tls block (type kubernetes.io/tls, in the Ingress's "
            "namespace) with a certificate for the host, or if TLS terminates at the load balancer, "
            "give the LB a certificate that covers the host.",
            gates=False,
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        target = ctx.require_target
        port = ctx.profile.https_port
        if target.listener_protocol == "HTTP":
            for check in self.checks:
                ctx.skipped(
                    check.id,
                    f"{target.host} is served on the plain-HTTP listener {target.listener} of "
                    f"{target.gateway}: no TLS to check",
                )
            return
        sni = hostname.to_alabels(target.request_host)
        if sni is None:
            for check in self.checks:
                ctx.skipped(check.id, f"{target.host!r} is not a valid DNS name to send as SNI")
            return
        addresses, source = await ctx.addresses(port, target.request_host)
        if not addresses:
            for check in self.checks:
                ctx.skipped(check.id, f"no address to connect to for {target.host}")
            return

        # the handshake that carries the host's requests: its connection stays open for routing and auth
        attempts = await _each([ctx.net.handshake(a, port, sni, keep=True) for a in addresses])
        shakes = [handshake_of(a) for a in attempts]

        groups: dict[tuple[bytes, ...], _Group] = {}
        for attempt, shake in zip(attempts, shakes, strict=True):
            self._report_handshake(ctx, shake, source)
            if shake.ok and shake.chain:
                group = groups.setdefault(shake.chain, _Group(shake, [], verification_of(attempt)))
                group.addresses.append(shake.address)
        if not groups:
            reason = "skipped: no TLS handshake succeeded (see tls.handshake), so there is nothing to check"
            for check in self.checks[1:]:
                ctx.skipped(check.id, reason)
            return
        for shake in shakes:  # each address that did not shake hands keeps its own line in every check
            if not shake.ok:
                for check in self.checks[1:]:
                    ctx.skipped(
                        check.id,
                        f"skipped for {shake.where}: no TLS handshake there (see tls.handshake)",
                        subject=shake.where,
                    )

        # the addresses that shook hands: routing, auth and hsts send their requests to these only
        ctx.share(addresses=[s.address for s in shakes if s.ok])
        several = len(groups) > 1
        for group in groups.values():
            evidence = self._evidence(group, source)
            subject = ", ".join(where(a, port) for a in group.addresses)
            via = f" (via {', '.join(group.addresses)})" if several else ""
            leaf = group.shake.leaf
            assert leaf is not None
            self._chain(ctx, group, evidence, subject, via)
            self._hostname(ctx, target.request_host, leaf, evidence, subject, via)
            self._expiry(ctx, group.shake.certs, evidence, subject, via)
            self._key_strength(ctx, leaf, evidence, subject, via)
            self._termination(ctx, target.request_host, leaf, evidence, subject, via)

        await _each([self._protocols_and_default(ctx, s, sni) for s in shakes if s.ok])

    # --- per address ----------------------------------------------------------------------
    @staticmethod
    def _report_handshake(ctx: ProbeContext, shake: Handshake, source: str) -> None:
        evidence = {**shake.evidence(), "address_from": source}
        where, sni = shake.where, shake.sni
        if shake.ok:
            ctx.passed(
                "tls.handshake",
                f"TLS handshake with {where} (SNI {sni}): {shake.version}, {shake.cipher}",
                evidence=evidence,
                subject=where,
            )
        elif shake.outcome == "timeout":
            ctx.errored(
                "tls.handshake",
                f"could not decide: no TLS handshake within {ctx.profile.thresholds.timeout:g}"
                f" s from {where} (SNI {sni}): the port accepts TCP but does not answer "
                f"the ClientHello",
                evidence=evidence,
                subject=where,
            )
        elif shake.outcome == "connect_timeout":
            ctx.errored(
                "tls.handshake",
                f"could not decide: no TCP connection to {where} within {ctx.profile.thresholds.timeout:g} s",
                evidence=evidence,
                subject=where,
            )
        elif shake.outcome == "refused":
            ctx.failed(
                "tls.handshake",
                f"connection to {where} refused: nothing listens for HTTPS there",
                evidence=evidence,
                subject=where,
            )
        elif shake.outcome == "connect_error":
            # unreachable (no route, ENETUNREACH, EHOSTUNREACH) establishes nothing about the port: error
            ctx.errored(
                "tls.handshake",
                f"could not decide: cannot connect to {where}: {shake.error}",
                evidence=evidence,
                subject=where,
            )
        else:
            ctx.failed(
                "tls.handshake",
                f"TLS handshake with {where} (SNI {sni}) failed: {shake.error}",
                evidence=evidence,
                subject=where,
            )

    @staticmethod
    def _evidence(group: _Group, source: str) -> ServedChain:
        certs = group.shake.certs
        return {
            **group.shake.evidence(),
            "addresses": list(group.addresses),
            "address_from": source,
            "certificate": _describe(certs[0]),
            "chain": [
                {
                    "subject": c.subject.rfc4514_string(),
                    "issuer": c.issuer.rfc4514_string(),
                    "not_after": c.not_valid_after_utc.isoformat(),
                    "sha256": _sha256(c),
                }
                for c in certs
            ],
        }

    # --- per served chain -----------------------------------------------------------------
    @staticmethod
    def _chain(ctx: ProbeContext, group: _Group, evidence: ServedChain, subject: str, via: str) -> None:
        trust = f"the CA bundle {ctx.profile.ca_bundle}" if ctx.profile.ca_bundle else "the system trust store"
        v = group.verification
        ev = {**evidence, "trust": ctx.profile.ca_bundle or "system", "verify_code": v.code}
        leaf = group.shake.certs[0]
        if v.outcome == "verified":
            ctx.passed(
                "tls.chain",
                f"the served chain verifies against {trust} (issued by {leaf.issuer.rfc4514_string()}){via}",
                evidence=ev,
                subject=subject,
            )
        elif v.outcome == "unverified":
            hint = ""
            if v.code == 20 and len(group.shake.chain) == 1:  # unable to get local issuer certificate
                hint = (
                    f"; the server sends only the leaf, so either its issuer ({leaf.issuer.rfc4514_string()}) "
                    f"is not trusted or the intermediate is missing from the chain"
                )
            elif v.code in (18, 19):  # self-signed
                hint = "; clients trust no self-signed certificate unless it is in their trust store"
            ctx.failed(
                "tls.chain",
                f"the served chain does not verify against {trust}: {v.reason}{hint}{via}",
                evidence=ev,
                subject=subject,
            )
        else:
            ctx.errored("tls.chain", f"could not decide: {v.reason}{via}", evidence=ev, subject=subject)

    @staticmethod
    def _hostname(
        ctx: ProbeContext, host: str, leaf: x509.Certificate, evidence: ServedChain, subject: str, via: str
    ) -> None:
        problem = hostname.extensions_problem(leaf)
        if problem is not None:
            ctx.failed("tls.hostname", f"{problem}, so it covers no host name{via}", evidence=evidence, subject=subject)
            return
        names = hostname.dns_names(leaf)
        if names is None:
            ctx.failed(
                "tls.hostname",
                f"the certificate has no subjectAltName: clients ignore its CN "
                f"({_cn(leaf)}), so it covers no host name, not even {host}{via}",
                evidence=evidence,
                subject=subject,
            )
            return
        covered = hostname.covered_by(host, leaf)
        if covered:
            ctx.passed(
                "tls.hostname",
                f"{host} is covered by the subjectAltName {covered}{via}",
                evidence={"covered_by": covered, **evidence},
                subject=subject,
            )
            return
        if not names:
            ctx.failed(
                "tls.hostname",
                f"the certificate's subjectAltName has no DNS name, so it does not cover {host}{via}",
                evidence=evidence,
                subject=subject,
            )
            return
        hint = ""
        alabel = hostname.to_alabels(host) or host
        for name in names:
            rest = (hostname.to_alabels(name) or "").partition(".")[2]
            if name.startswith("*.") and rest and alabel.endswith("." + rest):
                hint = f" ({name} covers exactly one label: x.{rest}, not {alabel})"
                break
        ctx.failed(
            "tls.hostname",
            f"{host} is not covered by the certificate's names: {', '.join(names)}{hint}{via}",
            evidence=evidence,
            subject=subject,
        )

    @staticmethod
    def _expiry(
        ctx: ProbeContext, certs: list[x509.Certificate], evidence: ServedChain, subject: str, via: str
    ) -> None:
        now = dt.datetime.now(dt.UTC)
        leaf = certs[0]
        start, end = leaf.not_valid_before_utc, leaf.not_valid_after_utc
        warn_days = ctx.profile.thresholds.cert_expiry_warning_days
        ev = {**evidence, "not_before": start.isoformat(), "not_after": end.isoformat(), "warning_days": warn_days}
        if now < start:
            ctx.failed(
                "tls.expiry",
                f"the certificate is not valid yet: valid from {_date(start)} (in {_days((start - now).days)}){via}",
                evidence=ev,
                subject=subject,
            )
            return
        if now >= end:
            ctx.failed(
                "tls.expiry",
                f"the certificate expired {_days((now - end).days)} ago on {_date(end)}{via}",
                evidence={"days_left": -((now - end).days), **ev},
                subject=subject,
            )
            return
        for cert in certs[1:]:
            if now >= cert.not_valid_after_utc:
                ctx.failed(
                    "tls.expiry",
                    f"an intermediate of the served chain ({_cn(cert)}) expired "
                    f"{_days((now - cert.not_valid_after_utc).days)} ago on "
                    f"{_date(cert.not_valid_after_utc)}{via}",
                    evidence=ev,
                    subject=subject,
                )
                return
        left = (end - now).days
        if left < warn_days:
            ctx.warned(
                "tls.expiry",
                f"the certificate expires in {_days(left)}, on {_date(end)} (warning below {warn_days} days){via}",
                evidence={"days_left": left, **ev},
                subject=subject,
            )
        else:
            ctx.passed(
                "tls.expiry",
                f"valid for {_days(left)} more, until {_date(end)}{via}",
                evidence={"days_left": left, **ev},
                subject=subject,
            )

    @staticmethod
    def _key_strength(ctx: ProbeContext, leaf: x509.Certificate, evidence: ServedChain, subject: str, via: str) -> None:
        family, bits, label = _key(leaf)
        ev = {**evidence, "key_type": family, "key_bits": bits}
        minimum = MIN_BITS.get(family)
        if bits is None:
            ctx.skipped(
                "tls.key_strength",
                f"unknown key type {label}: cannot judge its strength{via}",
                evidence=ev,
                subject=subject,
            )
        elif minimum is not None and bits < minimum:
            ctx.failed(
                "tls.key_strength",
                f"{label} key: below the {minimum}-bit minimum for {family}{via}",
                evidence=ev,
                subject=subject,
            )
        else:
            ctx.passed("tls.key_strength", f"{label} key{via}", evidence=ev, subject=subject)

    @staticmethod
    def _termination(
        ctx: ProbeContext, host: str, leaf: x509.Certificate, evidence: ServedChain, subject: str, via: str
    ) -> None:
        target = ctx.require_target
        covered = hostname.covered_by(host, leaf)
        if not target.tls_secret:
            extra = "" if covered else " (the served certificate does not cover the host: see tls.hostname)"
            ctx.skipped(
                "tls.termination",
                f"the Ingress has no tls block; TLS is not the controller's job for this host{extra}",
                evidence=evidence,
                subject=subject,
            )
            return
        key = target.tls_secret_ref or (target.namespace, target.tls_secret)
        ref = f"{key[0]}/{key[1]}"
        unreadable = ctx.inventory.secret_unreadable(*key)
        if unreadable is not None:
            ctx.errored(
                "tls.termination",
                f"could not decide: Secret {ref} could not be read ({unreadable.reason}): "
                f"cannot compare the served certificate with it",
                evidence=evidence,
                subject=subject,
            )
            return
        ev = {**evidence, "secret": ref, "served_sha256": _sha256(leaf)}
        if key not in ctx.inventory.secrets:
            ctx.skipped(
                "tls.termination",
                f"Secret {ref} was not read (no access to Secrets, or offline "
                f"discovery): cannot compare the served certificate with it",
                evidence=ev,
                subject=subject,
            )
            return
        secret = ctx.inventory.secrets[key]
        if secret is None:
            fake = _fake_default(leaf)
            extra = f"; the controller serves its fake default certificate instead ({fake})" if fake else ""
            ctx.failed("tls.termination", f"Secret {ref} does not exist{extra}", evidence=ev, subject=subject)
            return
        if not secret.cert_pem:
            ctx.failed("tls.termination", f"Secret {ref} has no tls.crt", evidence=ev, subject=subject)
            return
        try:
            stored = x509.load_pem_x509_certificates(secret.cert_pem)[0]
        except (ValueError, IndexError):
            ctx.failed(
                "tls.termination", f"Secret {ref}'s tls.crt is not a PEM certificate", evidence=ev, subject=subject
            )
            return
        ev["secret_certificate"] = _describe(stored)
        if stored.public_bytes(Encoding.DER) == leaf.public_bytes(Encoding.DER):
            ctx.passed(
                "tls.termination",
                f"terminated at the controller with Secret {ref}{via}",
                evidence={"terminates": "controller", **ev},
                subject=subject,
            )
        elif covered:
            ctx.passed(
                "tls.termination",
                f"terminated upstream (at the load balancer): the served certificate is not the Secret's ({ref}){via}",
                evidence={"terminates": "upstream", **ev},
                subject=subject,
            )
        else:
            fake = _fake_default(leaf)
            why = (
                f"the controller serves its fake default certificate ({fake}): Secret {ref} is probably invalid "
                f"or does not cover {host}"
                if fake
                else f"the served certificate ({_cn(leaf)}) is not Secret {ref}'s and does not cover {host}"
            )
            ctx.failed("tls.termination", f"{why}{via}", evidence={"terminates": "unknown", **ev}, subject=subject)

    # --- per host -------------------------------------------------------------------------
    async def _protocols_and_default(self, ctx: ProbeContext, first: Handshake, sni: str) -> None:
        address, port = first.address, first.port
        olds = [
            await ctx.net.once(("tls", "old", version), _old_maker(label, version)) for label, version in OLD_VERSIONS
        ]
        testable = [(o.label, o.context) for o in olds if o.context is not None]
        # Which versions an endpoint accepts is a property of the TLS endpoint, not of the host: hosts served
        # the same certificate by the same address share it (the LB's wildcard terminates a thousand hosts),
        # so it is asked once per (address, port, certificate) and the verdict names that it was shared.
        leaf = first.leaf

        async def offer_old() -> dict[str, Handshake]:
            old_attempts = await asyncio.gather(
                *(ctx.net.handshake(address, port, sni, context=context) for _, context in testable)
            )
            return {label: handshake_of(a) for (label, _), a in zip(testable, old_attempts, strict=True)}

        key = ("tls", "protocols", address, port, _sha256(leaf) if leaf is not None else sni)
        old_shakes = await ctx.net.once(key, offer_old)
        self._protocols(ctx, first, olds, old_shakes)
        no_sni, unknown = await self._defaults(ctx, address, port, sni)
        self._default(ctx, first, no_sni, unknown)

    @staticmethod
    async def _defaults(ctx: ProbeContext, address: str, port: int, sni: str) -> tuple[Handshake, Handshake]:
        """What the address serves without SNI and for an unknown name next to the host: the same for
        every host of that domain on that address, so asked once per run."""
        parent = sni.partition(".")[2] if sni.count(".") >= 2 else "invalid"

        async def shake_hands() -> tuple[Handshake, Handshake]:
            unknown = f"{nonce()}.{parent}"
            observe = ctx.net.context(verify=False)
            a, b = await asyncio.gather(
                ctx.net.handshake(address, port, None, context=observe),
                ctx.net.handshake(address, port, unknown, context=observe),
            )
            return handshake_of(a), handshake_of(b)

        return await ctx.net.once(("tls", "defaults", address, port, parent), shake_hands)

    @staticmethod
    def _protocols(ctx: ProbeContext, first: Handshake, olds: list[OldContext], shakes: dict[str, Handshake]) -> None:
        evidence: dict[str, Any] = {
            **first.evidence(),
            "negotiated_by_default": first.version,
            "local_openssl": SSL.OpenSSL_version(SSL.OPENSSL_VERSION).decode(),
            "attempts": {},
        }
        for old in olds:
            shake = shakes.get(old.label)
            evidence["attempts"][old.label] = (
                {"offered": False, "reason": old.reason}
                if shake is None
                else {
                    "offered": True,
                    "ciphers": old.ciphers,
                    "outcome": shake.outcome,
                    "error": shake.error,
                    "version": shake.version,
                    "cipher": shake.cipher,
                    "timings_ms": {"connect": shake.connect_ms, "tls": shake.tls_ms},
                }
            )
        accepted = [(label, s) for label, s in shakes.items() if s.ok]
        if accepted:
            names = ", ".join(f"{label} ({s.cipher})" for label, s in accepted)
            ctx.failed(
                "tls.protocols",
                f"{first.where} accepts {names}: versions below TLS 1.2 must be refused",
                evidence=evidence,
                subject=first.where,
            )
            return
        undecided = [(label, s) for label, s in shakes.items() if s.outcome != "tls_error"]
        if undecided:
            label, s = undecided[0]
            ctx.errored(
                "tls.protocols",
                f"could not decide: offering only {label} to {first.where}: {s.error}",
                evidence=evidence,
                subject=first.where,
            )
            return
        untestable = [o for o in olds if o.context is None]
        refused = ", ".join(f"{label} ({s.error})" for label, s in shakes.items())
        if untestable:
            why = "; ".join(f"{o.label}: {o.reason}" for o in untestable)
            ctx.skipped(
                "tls.protocols",
                f"cannot test: the local OpenSSL does not offer {why} even at SECLEVEL=0"
                + (f"; refused: {refused}" if refused else ""),
                evidence=evidence,
                subject=first.where,
            )
            return
        ctx.passed(
            "tls.protocols",
            f"refused: {refused}; the server negotiates {first.version} by default",
            evidence=evidence,
            subject=first.where,
        )

    @staticmethod
    def _default(ctx: ProbeContext, first: Handshake, no_sni: Handshake, unknown: Handshake) -> None:
        leaf = first.leaf
        assert leaf is not None
        host = ctx.require_target.host
        host_sha = _sha256(leaf)
        probes = (("without SNI", no_sni), (f"with the unknown SNI {unknown.sni}", unknown))
        evidence: dict[str, Any] = {**first.evidence(), "host_certificate": _describe(leaf)}
        for key, (_, shake) in zip(("no_sni", "unknown_sni"), probes, strict=True):
            evidence[key] = {**shake.evidence(), "certificate": _describe(shake.leaf) if shake.leaf else None}
        same = [label for label, s in probes if s.ok and s.leaf is not None and _sha256(s.leaf) == host_sha]
        evidence["host_is_default"] = bool(same)
        own_fake = _fake_default(leaf)
        if own_fake:
            evidence["fake_default"] = own_fake
            ctx.failed(
                "tls.default_certificate",
                f"{host} is served the {own_fake} fake default certificate "
                f"({_cn(leaf)}): the controller found no usable certificate for "
                f"it",
                evidence=evidence,
                subject=first.where,
            )
            return
        fakes = [
            (label, cert, owner)
            for label, s in probes
            if (cert := s.leaf) is not None and (owner := _fake_default(cert))
        ]
        if fakes:
            label_text = " and ".join(label for label, _, _ in fakes)
            _, fake_cert, controller = fakes[0]
            evidence["fake_default"] = controller
            ctx.warned(
                "tls.default_certificate",
                f"{label_text} the server answers with the {controller} fake "
                f"default certificate ({_cn(fake_cert)}): any host whose Secret "
                f"is missing or invalid silently falls back to it ({host} gets "
                f"its own certificate)",
                evidence=evidence,
                subject=first.where,
            )
            return
        if same:
            _host_gets_the_default(ctx, leaf, " and ".join(same), evidence, first.where)
            return
        answered = [(label, cert) for label, s in probes if (cert := s.leaf) is not None]
        if not answered:
            ctx.passed(
                "tls.default_certificate",
                f"the server completes no handshake without SNI nor with an "
                f"unknown SNI (strict SNI): {no_sni.error or no_sni.outcome}",
                evidence=evidence,
                subject=first.where,
            )
            return
        label, cert = answered[0]
        ctx.passed(
            "tls.default_certificate",
            f"the default certificate ({_cn(cert)}, served {label}) is not {host}'s and not a known fake one",
            evidence=evidence,
            subject=first.where,
        )
