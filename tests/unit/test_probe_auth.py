"""auth probe against a real local HTTPS server standing in for the controller: the seed's basic auth,
and the Ingress whose annotations show the intent to protect it while a typo leaves it open."""

from __future__ import annotations

import base64
import ssl
from dataclasses import replace
from http.server import BaseHTTPRequestHandler

import pytest
import trustme

from ingresscheck.profile import Profile
from ingresscheck.results import Report, Severity, Status

from .helpers import by_check, ingress, one, run_probes
from .servers import dns_server, http_server

HOST = "wordpress.example.test"
REALM = "Authentication Required - WordPress"
PREFIX = "nginx.ingress.kubernetes.io/"


@pytest.fixture(scope="module")
def tls_context() -> ssl.SSLContext:
    ca = trustme.CA()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST).configure_cert(ctx)
    return ctx


def _protected(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
    good = "Basic " + base64.b64encode(b"admin:right").decode()
    if req.headers.get("Authorization") == good:
        return 200, {"Content-Type": "text/html"}, b"<h1>wp-admin</h1>"
    return 401, {"WWW-Authenticate": f'Basic realm="{REALM}"'}, b"401 Unauthorized\n"


def _open(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "text/html"}, b"<h1>wp-admin</h1>"


def _run(handler, tls_context: ssl.SSLContext, annotations: dict[str, str]) -> Report:  # type: ignore[no-untyped-def]
    with http_server(handler, tls=tls_context) as (ip, port), dns_server({HOST: [ip]}) as dns:
        profile = Profile(dns_servers=(dns,), https_port=port, http_port=port)
        profile = replace(profile, thresholds=replace(profile.thresholds, timeout=1.0))
        target = ingress("wordpress", HOST, annotations=annotations)
        return run_probes(["dns", "auth", "auth_config"], profile, [target])


SEED = {PREFIX + "auth-type": "basic", PREFIX + "auth-secret": "wordpress-basic-auth", PREFIX + "auth-realm": REALM}


def test_the_seeds_basic_auth_challenges_and_refuses_wrong_credentials(tls_context: ssl.SSLContext) -> None:
    report = _run(_protected, tls_context, SEED)
    challenge = one(report, "auth.challenge")
    assert challenge.status is Status.PASS and REALM in challenge.message and challenge.subject
    assert one(report, "auth.wrong_credentials").status is Status.PASS
    good = one(report, "auth.good_credentials")
    assert good.status is Status.SKIP and "credentials are opt-in" in good.message


def test_a_misspelled_auth_type_that_leaves_the_site_open_is_a_critical_failure(tls_context: ssl.SSLContext) -> None:
    """Given auth-typ (typo) with auth-secret and auth-realm, served without a challenge, then the auth chain
    fails critically and says why the protection is off; the typo itself is flagged too."""
    typo = {PREFIX + "auth-typ": "basic", PREFIX + "auth-secret": "wordpress-basic-auth", PREFIX + "auth-realm": REALM}
    report = _run(_open, tls_context, typo)
    r = one(report, "auth.challenge")
    assert r.status is Status.FAIL and r.severity is Severity.CRITICAL
    assert "misspelled" in r.message and f"{PREFIX}auth-typ" in r.message and "the site is open" in r.message
    typos = by_check(report, "auth.annotation_typos")
    assert [t.status for t in typos] == [Status.WARN] and "did you mean auth-type" in typos[0].message


def test_auth_secret_without_auth_type_that_is_open_fails_and_says_so(tls_context: ssl.SSLContext) -> None:
    report = _run(_open, tls_context, {PREFIX + "auth-secret": "wordpress-basic-auth", PREFIX + "auth-realm": REALM})
    r = one(report, "auth.challenge")
    assert r.status is Status.FAIL and "auth-type is missing" in r.message


def test_no_intent_to_protect_means_no_auth_check(tls_context: ssl.SSLContext) -> None:
    report = _run(_open, tls_context, {})
    assert by_check(report, "auth.challenge") == []
