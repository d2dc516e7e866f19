"""client_cert: the client-certificate annotations (auth-tls-secret, auth-tls-verify-client,
auth-tls-pass-certificate-to-upstream) on the wire.

For an Ingress with ``auth-tls-secret`` that requires a certificate (verify-client ``on``, the default), on
every address of the host, three requests on fresh connections:

- **no certificate**: must be refused, in the TLS handshake (an alert) or with an HTTP status (ingress-nginx
  answers 400); a 2xx is a critical failure.
- **another CA's certificate** (a throwaway CA made for this run): must be refused the same way; accepting it
  is a critical failure (the controller does not verify, or TLS ends before it, at a load balancer).
- **the profile's certificate** (``client_certificates``, by file): must reach the backend; with
  ``auth-tls-pass-certificate-to-upstream`` an echo backend must show the certificate (``ssl-client-cert``).

Which way a refusal came (handshake or status) is in every message: controllers differ there.
``optional`` and ``optional_no_ca`` accept requests without a certificate by design, and ``optional_no_ca``
any certificate: the result says so.
"""

from __future__ import annotations

import datetime
import hashlib
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ..net import Attempt, ClientIdentity, Outcome
from ..net import where as net_where
from ..profile import Profile
from ..results import Severity, Step
from ._access import echoed_headers, profile_identity
from ._contract import CheckSpec, Probe, ProbeContext, ProbeOptions

CHECK = "auth.client_cert"
REFUSED_STATUSES = (400, 403, 495, 496)  # ingress-nginx: 400 "No required SSL certificate was sent"
REQUIRED = ("on", "true")


class ClientCertProbe(Probe):
    name = "client_cert"
    needs = ("dns", "tls")
    checks = (
        CheckSpec(
            CHECK,
            Step.TLS,
            Severity.CRITICAL,
            "no certificate and another CA's are refused (handshake or HTTP status); the profile's certificate "
            "reaches the backend, and the upstream when auth-tls-pass-certificate-to-upstream asks",
            "Check auth-tls-secret (a Secret with ca.crt in the Ingress's namespace), auth-tls-verify-client, and "
            "that TLS ends at the controller (not at a load balancer in front of it) for this host.",
        ),
    )

    @classmethod
    def preflight(cls, profile: Profile, options: ProbeOptions) -> str | None:
        """A client certificate or key file the profile names that cannot be read is a configuration error
        before any traffic, in the profile's own words (as for basic-auth credentials)."""
        profile.check_credentials()
        return None

    async def run(self, ctx: ProbeContext) -> None:
        target = ctx.require_target
        secret = target.annotation("auth-tls-secret")
        if not secret:
            return
        verify = (target.annotation("auth-tls-verify-client") or "on").lower()
        if verify == "off":
            ctx.skipped(CHECK, f"auth-tls-verify-client is off: {target.host} does not ask for a client certificate")
            return
        port = ctx.profile.https_port
        addresses, _ = await ctx.net.addresses_for(target.request_host, port)
        if not addresses:
            ctx.skipped(CHECK, f"no address to connect to for {target.host}")
            return
        shaken = ctx.fact("tls", "addresses")
        url = f"https://{target.request_host}{'' if port == 443 else f':{port}'}{target.sample_path}"
        stranger = await ctx.net.once(("client_cert", "stranger"), _stranger)
        good = profile_identity(ctx.profile, target.host)
        passes = (target.annotation("auth-tls-pass-certificate-to-upstream") or "").lower() == "true"
        for address in addresses:
            where = net_where(address, port)
            if shaken is not None and address not in shaken:
                ctx.skipped(CHECK, f"skipped for {where}: no TLS handshake there (see tls.handshake)", subject=where)
                continue
            none = await ctx.net.request("GET", url, address, keep_alive=False)
            _refused(ctx, none, f"no certificate via {where}", "without a certificate", verify, secret)
            other = await ctx.net.request("GET", url, address, keep_alive=False, identity=stranger)
            _refused(
                ctx, other, f"another CA's certificate via {where}", "with another CA's certificate", verify, secret
            )
            subject = f"the profile's certificate via {where}"
            if good is None:
                ctx.skipped(
                    CHECK,
                    f"no client certificate for {target.host} in the profile (client_certificates): the accepted "
                    f"case was not tried",
                    subject=subject,
                )
                continue
            attempt = await ctx.net.request("GET", url, address, keep_alive=False, identity=good)
            _accepted(ctx, attempt, subject, good, passes)


async def _stranger() -> ClientIdentity:
    """A client certificate from a CA made for this run only: no server can trust it."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ingresscheck throwaway CA")])
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ingresscheck stranger")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ClientIdentity("a certificate from a throwaway CA made for this run", pem, key_pem)


def _handshake_refusal(attempt: Attempt) -> bool:
    """A refusal during (or right after, in TLS 1.3) the handshake: an alert, or the connection dropped."""
    return attempt.outcome is Outcome.TLS_ERROR or (
        attempt.outcome is Outcome.RESET and attempt.phase in ("tls", "request", "wait")
    )


def _refused(ctx: ProbeContext, attempt: Attempt, subject: str, what: str, verify: str, secret: str) -> None:
    url = attempt.subject.url
    evidence = {**attempt.evidence(), "auth_tls_secret": secret, "verify_client": verify}
    requested = attempt.tls.client_cas if attempt.tls is not None else ()
    if requested:
        evidence["server_asked_for_a_certificate_from"] = list(requested)
    if _handshake_refusal(attempt):
        ctx.passed(
            CHECK,
            f"{url} {what} is refused in the TLS handshake via {attempt.subject.where}: {attempt.reason}",
            subject=subject,
            evidence={**evidence, "refused_in": "handshake"},
        )
        return
    if not attempt.ok or attempt.response is None:
        ctx.not_completed(CHECK, attempt, subject=subject, what=f"GET {url} {what}", evidence=evidence)
        return
    status = attempt.response.status
    if status in REFUSED_STATUSES:
        ctx.passed(
            CHECK,
            f"{url} {what} is refused with HTTP {status} via {attempt.subject.where} (after the handshake)",
            subject=subject,
            evidence={**evidence, "refused_in": "http"},
        )
        return
    optional = verify in ("optional", "optional_no_ca")
    allowed = (verify == "optional" and what == "without a certificate") or verify == "optional_no_ca"
    if 200 <= status < 300 and optional and allowed:
        ctx.warned(
            CHECK,
            f"{url} {what} answered {status} via {attempt.subject.where}: auth-tls-verify-client is {verify}, "
            f"which lets it in; the backend must check the certificate itself",
            subject=subject,
            evidence=evidence,
        )
        return
    tls_end = ""
    if attempt.tls is not None and not requested:
        tls_end = (
            ": the TLS endpoint never asked for a client certificate, so TLS does not end at a controller that "
            "enforces auth-tls-secret (a load balancer terminating it, or a controller that ignores the annotation)"
        )
    ctx.failed(
        CHECK,
        f"{url} {what} answered {status} via {attempt.subject.where}, not a refusal{tls_end}",
        subject=subject,
        evidence=evidence,
    )


def _accepted(ctx: ProbeContext, attempt: Attempt, subject: str, good: ClientIdentity, passes: bool) -> None:
    url = attempt.subject.url
    if not attempt.ok or attempt.response is None:
        ctx.not_completed(CHECK, attempt, subject=subject, what=f"GET {url} with the profile's certificate")
        return
    evidence = attempt.evidence()
    status = attempt.response.status
    if not 200 <= status < 300:
        ctx.failed(
            CHECK,
            f"{url} with the profile's certificate answered {status} via {attempt.subject.where}: a good certificate "
            f"is refused (is it issued by the CA in auth-tls-secret?)",
            subject=subject,
            evidence=evidence,
        )
        return
    if not passes:
        ctx.passed(
            CHECK,
            f"{url} with the profile's certificate reaches the backend ({status}) via {attempt.subject.where}",
            subject=subject,
            evidence=evidence,
        )
        return
    headers = echoed_headers(attempt.response)
    if headers is None:
        ctx.passed(
            CHECK,
            f"{url} with the profile's certificate reaches the backend ({status}) via {attempt.subject.where}; the "
            f"backend does not echo requests, so whether the certificate reached it was not seen",
            subject=subject,
            evidence=evidence,
        )
        return
    ours = _fingerprint(good.cert_pem)
    forwarded = headers.get("ssl-client-cert", "")
    theirs = _fingerprint(unquote(forwarded).encode()) if forwarded else None
    evidence["upstream_certificate_sha256"] = theirs
    evidence["offered_certificate_sha256"] = ours
    if theirs == ours:
        ctx.passed(
            CHECK,
            f"{url} with the profile's certificate reaches the backend ({status}) via {attempt.subject.where}, and "
            f"the backend received that certificate (ssl-client-cert), as auth-tls-pass-certificate-to-upstream asks",
            subject=subject,
            evidence=evidence,
        )
    else:
        seen = "another certificate" if forwarded else "no ssl-client-cert header"
        ctx.failed(
            CHECK,
            f"{url} with the profile's certificate reaches the backend ({status}) via {attempt.subject.where}, but the "
            f"backend received {seen}: auth-tls-pass-certificate-to-upstream is not honoured",
            subject=subject,
            evidence=evidence,
        )


def _fingerprint(pem: bytes) -> str | None:
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        return None
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
