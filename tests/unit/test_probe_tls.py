"""tls probe against real local TLS servers: certificates made per test, chosen per SNI, real DNS."""

from __future__ import annotations

import datetime as dt
import itertools
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from OpenSSL import SSL

from ingresscheck import runner
from ingresscheck.discovery import Inventory, SecretInfo
from ingresscheck.probes.dns import DnsProbe
from ingresscheck.probes.tls import TlsProbe
from ingresscheck.profile import Profile, Thresholds
from ingresscheck.results import Report, Status
from ingresscheck_lab import pki

from .helpers import by_check, ingress, one
from .servers import dns_server

HOST = "api.example.test"
SECRET = ("demo", "web-tls")
MISSING: Any = object()
_names = itertools.count()


def _client_offers_old_versions() -> bool:
    """Can this machine's pyOpenSSL still send a TLS 1.0 ClientHello (at SECLEVEL=0)? No network."""
    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.set_min_proto_version(SSL.TLS1_VERSION)
    context.set_max_proto_version(SSL.TLS1_VERSION)
    context.set_cipher_list(b"DEFAULT:@SECLEVEL=0")
    conn = SSL.Connection(context, None)
    conn.set_connect_state()
    try:
        conn.do_handshake()
    except SSL.WantReadError:
        return bool(conn.bio_read(65536))
    except SSL.Error:
        return False
    return False


# --- a TLS server choosing its certificate by SNI ----------------------------------------------
def _context(directory: Path, issued: pki.Issued, *, old_protocols: bool) -> ssl.SSLContext:
    n = next(_names)
    cert, key = directory / f"site{n}.crt", directory / f"site{n}.key"
    cert.write_bytes(issued.cert_pem)
    pki.write_private(key, issued.key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # lets the server load weak keys; TLS >= 1.2 still by default
    if old_protocols:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # ssl.TLSVersion.TLSv1 is deprecated: on purpose
            context.minimum_version = ssl.TLSVersion.TLSv1
    context.load_cert_chain(cert, key)
    return context


@contextmanager
def tls_server(
    directory: Path,
    default: pki.Issued,
    per_sni: dict[str, pki.Issued] | None = None,
    *,
    old_protocols: bool = False,
    silent: bool = False,
    ip: str = "127.0.0.1",
) -> Iterator[int]:
    """Serve ``per_sni[sni]``, else ``default`` (no SNI, unknown SNI) on ``ip``; yield the port.

    ``silent``: accept TCP connections but never answer the ClientHello.
    """
    default_context = _context(directory, default, old_protocols=old_protocols)
    contexts = {
        name: _context(directory, issued, old_protocols=old_protocols) for name, issued in (per_sni or {}).items()
    }

    def pick(sslobj: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> None:
        if name in contexts:
            sslobj.context = contexts[name]

    default_context.sni_callback = pick
    listener = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((ip, 0))
    listener.listen(32)
    listener.settimeout(0.05)
    stop = threading.Event()
    handlers: list[threading.Thread] = []

    def handle(raw: socket.socket) -> None:
        with raw:
            if silent:
                stop.wait(10)
                return
            raw.settimeout(3)
            try:
                with default_context.wrap_socket(raw, server_side=True) as tls:
                    tls.recv(1)  # until the client goes away
            except (ssl.SSLError, OSError):
                pass  # clients that reject the certificate or hang up: expected here

    def accept() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            t = threading.Thread(target=handle, args=(raw,), daemon=True)
            handlers.append(t)
            t.start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        acceptor.join(timeout=5)
        for t in handlers:
            t.join(timeout=5)
        listener.close()


# --- fixtures and the run -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def ca() -> pki.Issued:
    return pki.make_ca("ingresscheck unit CA")


@pytest.fixture(scope="module")
def ca_file(ca: pki.Issued, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("trust") / "ca.pem"
    path.write_bytes(ca.cert_pem)
    return path


@pytest.fixture(scope="module")
def leaf(ca: pki.Issued) -> pki.Issued:
    return pki.issue(ca, HOST, dns_names=(HOST,))


@pytest.fixture(scope="module")
def default_cert(ca: pki.Issued) -> pki.Issued:
    return pki.issue(ca, "default.ingress.test", dns_names=("default.ingress.test",))


def _secrets(cert_pem: Any) -> dict[tuple[str, str], SecretInfo | None]:
    if cert_pem is MISSING:
        return {SECRET: None}
    return {SECRET: SecretInfo(*SECRET, "kubernetes.io/tls", ("tls.crt", "tls.key"), cert_pem=cert_pem)}


def scenario(
    directory: Path,
    ca_file: Path,
    default: pki.Issued,
    per_sni: dict[str, pki.Issued] | None = None,
    *,
    host: str = HOST,
    tls_secret: str | None = SECRET[1],
    secret_pem: Any = None,
    timeout: float = 2.0,
    ip: str = "127.0.0.1",
    records: list[str] | None = None,
    **server: bool,
) -> Report:
    """Serve on ``ip``, resolve ``host`` to it (or to ``records``), and run dns + tls through the real runner."""
    with tls_server(directory, default, per_sni, ip=ip, **server) as port, dns_server({host: records or [ip]}) as dns:
        profile = Profile(
            dns_servers=(dns,), https_port=port, ca_bundle=str(ca_file), thresholds=Thresholds(timeout=timeout)
        )
        inventory = Inventory(
            context="unit",
            server="local",
            ingresses=[ingress("web", host, tls_secret=tls_secret)],
            secrets=_secrets(secret_pem) if tls_secret else {},
        )
        return runner.run([DnsProbe, TlsProbe], profile, inventory, runner.RunOptions(concurrency=8))


def serve(tmp_path: Path, ca_file: Path, cert: pki.Issued, default: pki.Issued, **kw: Any) -> Report:
    """The usual case: ``cert`` for the host's SNI, ``default`` otherwise, the Secret holding ``cert``."""
    host = kw.pop("host", HOST)
    kw.setdefault("secret_pem", cert.cert_pem)
    return scenario(tmp_path, ca_file, default, {host: cert}, host=host, **kw)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- tests ------------------------------------------------------------------------------------------
def test_a_valid_certificate_passes_every_check(
    tmp_path: Path, ca_file: Path, leaf: pki.Issued, default_cert: pki.Issued
) -> None:
    """Given a trusted, fresh, covering EC cert that is the Secret's, then every tls check passes."""
    report = serve(tmp_path, ca_file, leaf, default_cert)
    for check in TlsProbe.checks:
        r = one(report, check.id, HOST)
        assert r.status is Status.PASS, f"{check.id}: {r.status.value}: {r.message}"
    hs = one(report, "tls.handshake")
    assert hs.evidence["address"] == "127.0.0.1" and hs.evidence["sni"] == HOST
    assert hs.evidence["version"] in ("TLSv1.2", "TLSv1.3") and hs.evidence["cipher"]
    assert set(hs.evidence["timings_ms"]) == {"connect", "tls"}
    assert all(isinstance(v, float) for v in hs.evidence["timings_ms"].values())
    cert = one(report, "tls.hostname").evidence["certificate"]
    assert cert["sha256"] == leaf.cert.fingerprint(hashes.SHA256()).hex()
    assert cert["san"] == [HOST] and cert["key"] == "EC secp256r1 256-bit"
    assert "PRIVATE KEY" not in str(report.results)
    assert one(report, "tls.hostname").message == f"{HOST} is covered by the subjectAltName {HOST}"
    assert one(report, "tls.expiry").evidence["days_left"] >= 360
    term = one(report, "tls.termination")
    assert term.message == "terminated at the controller with Secret demo/web-tls"
    assert term.evidence["terminates"] == "controller"
    default = one(report, "tls.default_certificate")
    assert "default.ingress.test" in default.message and default.evidence["host_is_default"] is False
    assert one(report, "tls.protocols").evidence["negotiated_by_default"] in ("TLSv1.2", "TLSv1.3")


def test_a_chain_from_an_unknown_ca_fails_tls_chain(tmp_path: Path, ca_file: Path, default_cert: pki.Issued) -> None:
    """Given a leaf from a CA the profile does not trust, then tls.chain fails with OpenSSL's reason."""
    other = pki.make_ca("Somebody else's CA")
    report = serve(tmp_path, ca_file, pki.issue(other, HOST, dns_names=(HOST,)), default_cert)
    r = one(report, "tls.chain")
    assert r.status is Status.FAIL
    assert "does not verify against the CA bundle" in r.message
    assert "unable to get local issuer certificate" in r.message
    assert r.remediation
    assert one(report, "tls.hostname").status is Status.PASS  # each check reports its own reason


def test_a_self_signed_certificate_fails_tls_chain(tmp_path: Path, ca_file: Path, default_cert: pki.Issued) -> None:
    """Given a self-signed cert, then tls.chain names it self-signed."""
    report = serve(tmp_path, ca_file, pki.make_ca(HOST), default_cert)
    r = one(report, "tls.chain")
    assert r.status is Status.FAIL and "self-signed" in r.message.replace("self signed", "self-signed")


def test_a_wildcard_does_not_cover_two_labels_deeper(
    tmp_path: Path, ca: pki.Issued, ca_file: Path, default_cert: pki.Issued
) -> None:
    """Given *.example.test served for a.b.example.test, then tls.hostname fails and says why."""
    host = "a.b.example.test"
    wildcard = pki.issue(ca, "*.example.test", dns_names=("*.example.test",))
    report = serve(tmp_path, ca_file, wildcard, default_cert, host=host)
    r = one(report, "tls.hostname")
    assert r.status is Status.FAIL
    assert r.message.startswith(f"{host} is not covered by the certificate's names: *.example.test")
    assert "covers exactly one label" in r.message
    assert one(report, "tls.chain").status is Status.PASS


def test_a_certificate_without_san_fails_tls_hostname(
    tmp_path: Path, ca: pki.Issued, ca_file: Path, default_cert: pki.Issued
) -> None:
    """Given CN=host and no subjectAltName, then tls.hostname fails: clients ignore the CN."""
    report = serve(tmp_path, ca_file, pki.issue(ca, HOST), default_cert)
    r = one(report, "tls.hostname")
    assert r.status is Status.FAIL
    assert "no subjectAltName" in r.message and "ignore its CN" in r.message
    assert r.evidence["certificate"]["san"] is None


def test_an_expired_certificate_fails_tls_expiry_only(
    tmp_path: Path, ca: pki.Issued, ca_file: Path, default_cert: pki.Issued
) -> None:
    """Given a cert that expired 3 days ago, then tls.expiry fails with the date; tls.chain still passes."""
    end = _now() - dt.timedelta(days=3)
    expired = pki.issue(ca, HOST, dns_names=(HOST,), not_before=end - dt.timedelta(days=90), not_after=end)
    report = serve(tmp_path, ca_file, expired, default_cert)
    r = one(report, "tls.expiry")
    assert r.status is Status.FAIL
    assert r.message == f"the certificate expired 3 days ago on {end:%Y-%m-%d %H:%M} UTC"
    assert one(report, "tls.chain").status is Status.PASS


def test_ten_days_left_warns(tmp_path: Path, ca: pki.Issued, ca_file: Path, default_cert: pki.Issued) -> None:
    """Given 10 days left and the default 21-day threshold, then tls.expiry warns."""
    soon = pki.issue(ca, HOST, dns_names=(HOST,), not_after=_now() + dt.timedelta(days=10))
    r = one(serve(tmp_path, ca_file, soon, default_cert), "tls.expiry")
    assert r.status is Status.WARN and r.message.startswith("the certificate expires in 9 days")
    assert r.evidence["days_left"] == 9 and r.evidence["warning_days"] == 21


def test_a_not_yet_valid_certificate_fails(
    tmp_path: Path, ca: pki.Issued, ca_file: Path, default_cert: pki.Issued
) -> None:
    """Given notBefore in two days, then tls.expiry fails as not valid yet."""
    start = _now() + dt.timedelta(days=2, hours=1)
    future = pki.issue(ca, HOST, dns_names=(HOST,), not_before=start, not_after=start + dt.timedelta(days=90))
    r = one(serve(tmp_path, ca_file, future, default_cert), "tls.expiry")
    assert r.status is Status.FAIL
    assert r.message == f"the certificate is not valid yet: valid from {start:%Y-%m-%d %H:%M} UTC (in 2 days)"


def test_an_rsa_1024_key_fails_key_strength(
    tmp_path: Path, ca: pki.Issued, ca_file: Path, default_cert: pki.Issued
) -> None:
    """Given an RSA 1024-bit leaf, then tls.key_strength fails and reports type and size."""
    weak = pki.issue(ca, HOST, dns_names=(HOST,), key=pki.new_key("rsa", 1024))
    r = one(serve(tmp_path, ca_file, weak, default_cert), "tls.key_strength")
    assert r.status is Status.FAIL
    assert r.message == "RSA 1024-bit key: below the 2048-bit minimum for RSA"
    assert (r.evidence["key_type"], r.evidence["key_bits"]) == ("RSA", 1024)


def test_an_rsa_2048_key_passes_key_strength(
    tmp_path: Path, ca: pki.Issued, ca_file: Path, default_cert: pki.Issued
) -> None:
    rsa = pki.issue(ca, HOST, dns_names=(HOST,), key=pki.new_key("rsa", 2048))
    r = one(serve(tmp_path, ca_file, rsa, default_cert), "tls.key_strength")
    assert r.status is Status.PASS and r.message == "RSA 2048-bit key"


def test_a_server_accepting_tls_1_0_and_1_1_fails_protocols(
    tmp_path: Path, leaf: pki.Issued, ca_file: Path, default_cert: pki.Issued
) -> None:
    """Given a server whose minimum is TLS 1.0, then tls.protocols fails naming the versions (or skips, saying
    why, where the local OpenSSL cannot offer them at all)."""
    report = serve(tmp_path, ca_file, leaf, default_cert, old_protocols=True)
    r = one(report, "tls.protocols")
    if _client_offers_old_versions():
        assert r.status is Status.FAIL, r.message
        assert "accepts TLS 1.1" in r.message and "TLS 1.0" in r.message
        assert r.evidence["attempts"]["TLS 1.0"]["version"] == "TLSv1"
    else:
        assert r.status is Status.SKIP and r.message.startswith("cannot test: the local OpenSSL does not offer")
    assert one(report, "tls.handshake").status is Status.PASS


def test_a_server_that_never_answers_the_client_hello_is_an_error(
    tmp_path: Path, leaf: pki.Issued, ca_file: Path
) -> None:
    """Given TCP accepted but no ServerHello, then tls.handshake is error after 0.5 s and the rest skip."""
    started = time.monotonic()
    report = scenario(tmp_path, ca_file, leaf, silent=True, timeout=0.5)
    elapsed = time.monotonic() - started
    r = one(report, "tls.handshake")
    assert r.status is Status.ERROR
    assert r.message.startswith("could not decide: no TLS handshake within 0.5 s from 127.0.0.1:")
    assert r.evidence["timings_ms"]["tls"] >= 450
    for check in TlsProbe.checks[1:]:
        assert one(report, check.id).status is Status.SKIP
    assert elapsed < 5


def test_connection_refused_fails_the_handshake(tmp_path: Path, ca_file: Path) -> None:
    """Given nothing listening on the HTTPS port, then tls.handshake fails (not error)."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with dns_server({HOST: ["127.0.0.1"]}) as dns:
        profile = Profile(dns_servers=(dns,), https_port=port, ca_bundle=str(ca_file))
        inventory = Inventory(context="unit", server="local", ingresses=[ingress("web", HOST)])
        report = runner.run([DnsProbe, TlsProbe], profile, inventory)
    r = one(report, "tls.handshake")
    assert r.status is Status.FAIL and "refused" in r.message


def test_termination_upstream_when_a_different_covering_cert_is_served(
    tmp_path: Path, ca: pki.Issued, ca_file: Path, leaf: pki.Issued, default_cert: pki.Issued
) -> None:
    """Given the Secret holds another cert for the host than the one served, then termination is upstream."""
    secret_cert = pki.issue(ca, HOST, dns_names=(HOST,))
    r = one(serve(tmp_path, ca_file, leaf, default_cert, secret_pem=secret_cert.cert_pem), "tls.termination")
    assert r.status is Status.PASS
    assert r.message.startswith(
        "terminated upstream (at the load balancer): the served certificate is not the Secret's"
    )
    assert r.evidence["terminates"] == "upstream"
    assert r.evidence["secret_certificate"]["sha256"] == secret_cert.cert.fingerprint(hashes.SHA256()).hex()
    assert r.evidence["served_sha256"] == leaf.cert.fingerprint(hashes.SHA256()).hex()


def test_termination_fails_when_the_secret_is_missing(
    tmp_path: Path, ca_file: Path, leaf: pki.Issued, default_cert: pki.Issued
) -> None:
    """Given the tls block names a Secret that does not exist, then tls.termination fails."""
    r = one(serve(tmp_path, ca_file, leaf, default_cert, secret_pem=MISSING), "tls.termination")
    assert r.status is Status.FAIL and r.message == "Secret demo/web-tls does not exist"


def test_termination_fails_when_the_served_cert_is_neither_the_secrets_nor_covering(
    tmp_path: Path, ca: pki.Issued, ca_file: Path, leaf: pki.Issued
) -> None:
    """Given the host falls back to another host's cert, then tls.termination fails."""
    other = pki.issue(ca, "www.example.test", dns_names=("www.example.test",))
    report = scenario(tmp_path, ca_file, other, secret_pem=leaf.cert_pem)
    r = one(report, "tls.termination")
    assert r.status is Status.FAIL and "is not Secret demo/web-tls's and does not cover" in r.message
    assert one(report, "tls.hostname").status is Status.FAIL


def test_termination_skips_without_a_tls_block(
    tmp_path: Path, ca_file: Path, leaf: pki.Issued, default_cert: pki.Issued
) -> None:
    """Given an Ingress without tls block, then tls.termination skips: not the controller's job."""
    r = one(serve(tmp_path, ca_file, leaf, default_cert, tls_secret=None), "tls.termination")
    assert r.status is Status.SKIP
    assert r.message == "the Ingress has no tls block; TLS is not the controller's job for this host"


def test_a_fake_default_certificate_on_unknown_sni_warns(
    tmp_path: Path, ca: pki.Issued, ca_file: Path, leaf: pki.Issued
) -> None:
    """Given Traefik's default cert for no/unknown SNI and the host's own cert, then default_certificate warns."""
    fake = pki.issue(ca, "TRAEFIK DEFAULT CERT", dns_names=("0a1b2c.3d4e5f.traefik.default",))
    report = serve(tmp_path, ca_file, leaf, fake)
    r = one(report, "tls.default_certificate")
    assert r.status is Status.WARN, r.message
    assert r.message.startswith("without SNI and with the unknown SNI ingresscheck-")
    assert "Traefik fake default certificate (TRAEFIK DEFAULT CERT)" in r.message
    assert r.evidence["unknown_sni"]["sni"].endswith(".example.test")
    assert r.evidence["unknown_sni"]["certificate"]["subject"] == "CN=TRAEFIK DEFAULT CERT"
    assert r.evidence["fake_default"] == "Traefik" and r.evidence["host_is_default"] is False
    assert one(report, "tls.hostname").status is Status.PASS


def test_a_host_served_the_fake_default_certificate_fails(
    tmp_path: Path, ca: pki.Issued, ca_file: Path, leaf: pki.Issued
) -> None:
    """Given the controller has no cert for the host (Secret missing), then the fake default is a fail."""
    fake = pki.issue(ca, "Kubernetes Ingress Controller Fake Certificate", dns_names=("ingress.local",), org="Acme Co")
    report = scenario(tmp_path, ca_file, fake, secret_pem=MISSING)
    r = one(report, "tls.default_certificate")
    assert r.status is Status.FAIL
    assert r.message.startswith(f"{HOST} is served the ingress-nginx fake default certificate")
    term = one(report, "tls.termination")
    assert term.status is Status.FAIL and "fake default certificate instead (ingress-nginx)" in term.message


def test_the_host_certificate_as_the_default_is_reported(tmp_path: Path, ca_file: Path, leaf: pki.Issued) -> None:
    """Given the host's cert is also served without SNI, then default_certificate passes and says so."""
    report = scenario(tmp_path, ca_file, leaf, secret_pem=leaf.cert_pem)
    r = one(report, "tls.default_certificate")
    assert r.status is Status.PASS and r.evidence["host_is_default"] is True
    assert r.message.startswith(
        f"{HOST} is served its own Secret demo/web-tls's certificate, which is also the default"
    )


def test_a_host_whose_secret_is_gone_and_gets_the_default_certificate_fails(
    tmp_path: Path, ca: pki.Issued, ca_file: Path, leaf: pki.Issued
) -> None:
    """Given the host's TLS Secret deleted and the controller's (valid, covering) default certificate served to it,
    then tls.default_certificate fails saying so, never a pass saying the host gets the default (issue 26)."""
    wildcard = pki.issue(ca, "*.example.test", dns_names=("*.example.test",))
    r = one(scenario(tmp_path, ca_file, wildcard, secret_pem=MISSING), "tls.default_certificate")
    assert r.status is Status.FAIL
    assert r.message.startswith(f"{HOST} is served the default certificate (*.example.test, also served without SNI")
    assert r.message.endswith("instead of its own: its TLS Secret demo/web-tls does not exist")
    other = pki.issue(ca, "old.example.test", dns_names=(HOST,))
    r = one(scenario(tmp_path, ca_file, wildcard, secret_pem=other.cert_pem), "tls.default_certificate")
    assert r.status is Status.FAIL and "holds another certificate (old.example.test)" in r.message


def test_a_host_without_a_secret_of_its_own_may_get_the_default_certificate(
    tmp_path: Path, ca: pki.Issued, ca_file: Path
) -> None:
    """Given no tls block (the wildcard at the LB serves every host), then getting the default passes."""
    wildcard = pki.issue(ca, "*.example.test", dns_names=("*.example.test",))
    r = one(scenario(tmp_path, ca_file, wildcard, tls_secret=None), "tls.default_certificate")
    assert r.status is Status.PASS and "names no TLS Secret of its own" in r.message


def test_every_declared_check_is_reported_once_per_host(
    tmp_path: Path, ca_file: Path, leaf: pki.Issued, default_cert: pki.Issued
) -> None:
    report = serve(tmp_path, ca_file, leaf, default_cert)
    assert sorted(r.check for r in report.results if r.probe == "tls") == sorted(c.id for c in TlsProbe.checks)
    assert all(len(by_check(report, c.id)) == 1 for c in TlsProbe.checks)
    assert all(c.remediation and c.summary for c in TlsProbe.checks)


def test_every_resolved_address_is_handshaken(
    tmp_path: Path, ca_file: Path, leaf: pki.Issued, default_cert: pki.Issued
) -> None:
    """Given two A records and a server on only one, then one handshake passes, one fails, certs checked once."""
    report = scenario(
        tmp_path, ca_file, default_cert, {HOST: leaf}, secret_pem=leaf.cert_pem, records=["127.0.0.1", "127.0.0.2"]
    )
    shakes = {r.evidence["address"]: r for r in by_check(report, "tls.handshake")}
    assert shakes["127.0.0.1"].status is Status.PASS
    assert shakes["127.0.0.2"].status is Status.FAIL and "refused" in shakes["127.0.0.2"].message
    hostname = {r.subject: r for r in by_check(report, "tls.hostname")}
    r = next(v for k, v in hostname.items() if k.startswith("127.0.0.1:"))
    assert r.status is Status.PASS and r.evidence["addresses"] == ["127.0.0.1"]
    # the address without a handshake keeps its own line in every certificate check, naming it
    assert any(k.startswith("127.0.0.2:") and v.status is Status.SKIP for k, v in hostname.items())


def _ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
def test_an_ipv6_address_is_dialed_with_sni(
    tmp_path: Path, ca_file: Path, leaf: pki.Issued, default_cert: pki.Issued
) -> None:
    """Given the host resolves to ::1 only (AAAA), then the handshake goes over IPv6 with SNI = host."""
    report = scenario(tmp_path, ca_file, default_cert, {HOST: leaf}, secret_pem=leaf.cert_pem, ip="::1")
    r = one(report, "tls.handshake")
    assert r.status is Status.PASS, r.message
    assert r.message.startswith("TLS handshake with [::1]:") and r.evidence["sni"] == HOST
    assert one(report, "tls.hostname").status is Status.PASS


def test_served_chain_evidence_is_the_declared_shape_the_writers_read(
    tmp_path: Path, ca_file: Path, leaf: pki.Issued, default_cert: pki.Issued
) -> None:
    """Given a served chain, then every served-chain check's evidence gives the writers the served leaf (its
    address, SNI, SHA-256, notAfter) through ingresscheck.evidence, and the result's subject is the address."""
    from ingresscheck import evidence as shapes
    from ingresscheck.reports._json import report_dict

    report = serve(tmp_path, ca_file, leaf, default_cert)
    assert shapes.SERVED_CHAIN_CHECKS < {c.id for c in TlsProbe.checks}
    data = report_dict(report)
    served = {
        r["check"]: shapes.served_certificate(r) for r in data["results"] if r["check"] in shapes.SERVED_CHAIN_CHECKS
    }
    assert set(served) == shapes.SERVED_CHAIN_CHECKS
    sha = leaf.cert.fingerprint(hashes.SHA256()).hex()
    for check, cert in served.items():
        assert cert is not None, check
        assert (cert.host, cert.sni, cert.sha256) == (HOST, HOST, sha)
        assert cert.address == one(report, check).subject and cert.address.startswith("127.0.0.1:")
        assert cert.not_after == leaf.cert.not_valid_after_utc.isoformat()
    handshake = next(r for r in data["results"] if r["check"] == "tls.handshake")
    assert shapes.served_certificate(handshake) is None
    assert set(shapes.timings(handshake["evidence"])) == {"connect", "tls"}
    assert handshake["subject"] == one(report, "tls.handshake").evidence["address"] + ":" + str(
        one(report, "tls.handshake").evidence["port"]
    )
    assert "subject" not in one(report, "tls.handshake").evidence
