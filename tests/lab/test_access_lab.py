"""Access control on the wire (issue 21): the four access hosts pass on the healthy lab, and each pitfall,
made for real on the lab (auth that fails open, TLS ending before the controller, an allowlist that sees
the load balancer, a limit that is not enforced), fails with the check's ID and a message naming the cause."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest

from ingresscheck.results import Report, Result, Status
from ingresscheck_lab import access
from ingresscheck_lab.access_hosts import (
    ACCESS_NS,
    ALLOWED_RANGE,
    INSIDE_SOURCE,
    INTERNAL_HOST,
    LIMITED_HOST,
    MTLS_HOST,
    OUTSIDE_SOURCE,
    POD_IPS,
    SSO_HOST,
)
from ingresscheck_lab.lab import Lab
from ingresscheck_lab.render import LbFaults

from .changes import check, converge, lb_faults, results

PROBES = ["dns", "tls", "redirect", "routing", "external_auth", "client_cert", "source_range", "rate_limit"]
CHECKS = ("auth.external", "auth.client_cert", "access.source_range", "limits.rate")


@pytest.fixture(scope="module")
def access_lab(lab: Lab) -> Iterator[Lab]:
    started_here = not access.running(lab.layout)
    try:
        access.start(lab)
    except BaseException:
        # a start that failed half-way leaves no access hosts behind for later tests (limited.example.test's
        # rate limit then failed test_identity_lab's second run in the fresh-clone suite)
        if started_here:
            access.remove(lab)
        raise
    yield lab
    if started_here:
        access.remove(lab)


def _run(lab: Lab, probes: list[str] | None = None) -> Report:
    return check(lab, probes or PROBES, namespace=ACCESS_NS)


def _by_subject(report: Report, check_id: str, host: str) -> dict[str, Result]:
    return {r.subject or "": r for r in results(report, check_id, host)}


def _healthy(lab: Lab) -> Report:
    return converge(
        lambda: _run(lab),
        lambda rep: all(r.status not in (Status.FAIL, Status.ERROR) for r in rep.results),
        timeout=30,
    )


@pytest.fixture
def ingress_put_back(access_lab: Lab) -> Iterator[Lab]:
    """Whatever a test does to the access Ingresses is undone, and the lab is healthy again afterwards."""
    yield access_lab
    res = access_lab.writer()
    for name in ("sso", "mtls", "internal", "limited"):
        wanted = access.ingress_for(name)
        current = res.get(wanted)
        if current is not None and current["metadata"].get("annotations") != wanted["metadata"]["annotations"]:
            fresh = copy.deepcopy(wanted)
            fresh["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            res.replace(fresh)
    _healthy(access_lab)


def _reannotated(lab: Lab, name: str, annotations: dict[str, str]) -> None:
    res = lab.writer()
    changed = access.ingress_for(name, annotations)
    current = res.get(changed)
    assert current is not None
    changed["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
    res.replace(changed)


# --- the healthy lab ----------------------------------------------------------------------------
def test_healthy_access_hosts_pass_all_four_checks_with_nothing_failing(access_lab: Lab) -> None:
    """Given the access hosts, when every chain probe runs on them, then each new check passes and nothing
    fails or errors (the whole chain, not only the new checks)."""
    rep = _healthy(access_lab)
    bad = [(r.check, r.host, r.subject, r.message) for r in rep.results if r.status in (Status.FAIL, Status.ERROR)]
    assert bad == []
    for check_id in CHECKS:
        assert any(r.status is Status.PASS for r in results(rep, check_id)), check_id

    sso = _by_subject(rep, "auth.external", SSO_HOST)
    assert sso["no session via 127.0.0.10:443"].status is Status.PASS
    assert (
        "sent to sign in (302 to https://sso.example.test/oauth2/start" in sso["no session via 127.0.0.10:443"].message
    )
    signed = sso["signed in via 127.0.0.10:443"]
    assert signed.status is Status.PASS and "through the real flow" in signed.message
    assert signed.evidence["response_headers_at_backend"]["X-Auth-Request-Email"] == "jane.doe@example.com"
    assert "_oauth2_proxy" in signed.evidence["session_cookies"]

    mtls = _by_subject(rep, "auth.client_cert", MTLS_HOST)
    assert "refused in the TLS handshake" in mtls["no certificate via 127.0.0.10:443"].message
    assert "refused in the TLS handshake" in mtls["another CA's certificate via 127.0.0.10:443"].message
    good = mtls["the profile's certificate via 127.0.0.10:443"]
    assert good.status is Status.PASS and "received that certificate (ssl-client-cert)" in good.message

    allow = _by_subject(rep, "access.source_range", INTERNAL_HOST)
    inside = allow[f"from {INSIDE_SOURCE} (inside) via 127.0.0.10:443"]
    assert inside.status is Status.PASS and f"the controller saw the client as {INSIDE_SOURCE}" in inside.message
    assert allow[f"from {OUTSIDE_SOURCE} (outside) via 127.0.0.10:443"].message.endswith(
        "is refused (403) via 127.0.0.10:443"
    )

    [limit] = results(rep, "limits.rate", LIMITED_HOST)
    assert limit.status is Status.PASS
    assert "refused with 429" in limit.message and "counted per client" in limit.message
    assert limit.evidence["after_window"]["status"] == 200
    assert 0 < limit.evidence["passed"] < limit.evidence["sent"] <= 3 * limit.evidence["bucket"] + 8


def test_stopped_auth_service_fails_closed_never_the_backend(access_lab: Lab) -> None:
    """Given oauth2-proxy stopped, then the host answers 5xx without a session and the check says it fails
    closed (a warning: nobody gets in), never a pass of the backend."""
    access.stop_auth_service(access_lab)
    try:
        rep = converge(
            lambda: _run(access_lab, ["dns", "tls", "external_auth"]),
            lambda rep: any("auth service down" in (r.subject or "") for r in results(rep, "auth.external")),
        )
    finally:
        access.start_auth_service(access_lab)
    [down] = results(rep, "auth.external", SSO_HOST)
    assert down.status is Status.WARN
    assert "fails closed (500)" in down.message and "connection to 127.0.21.2:8080 refused" in down.message


def test_auth_url_that_accepts_everyone_fails_open(ingress_put_back: Lab) -> None:
    """Given auth-url pointed at a service that answers 2xx to anyone (the app itself), then a request without
    a session reaches the backend: a critical fail saying the site is open."""
    bad = access.sso_annotations(auth_url=f"http://{POD_IPS['sso-app']}:8080/")
    _reannotated(ingress_put_back, "sso", bad)
    rep = converge(
        lambda: _run(ingress_put_back, ["dns", "tls", "external_auth"]),
        lambda rep: any(r.status is Status.FAIL for r in results(rep, "auth.external", SSO_HOST)),
    )
    [open_] = results(rep, "auth.external", SSO_HOST)
    assert open_.status is Status.FAIL and open_.severity.value == "critical"
    assert "without a session answered 200" in open_.message and "the site is open" in open_.message
    assert "pod access/sso-app-0 answered" in open_.message


def test_tls_ending_at_the_lb_accepts_another_cas_certificate(access_lab: Lab) -> None:
    """Given the LB terminating mtls.example.test with its wildcard certificate, then no certificate and a
    certificate from another CA are accepted: critical fails naming the TLS endpoint that never asked."""
    with lb_faults(access_lab, LbFaults(access_terminated=(MTLS_HOST,))):
        rep = converge(
            lambda: _run(access_lab, ["dns", "tls", "client_cert"]),
            lambda rep: any(r.status is Status.FAIL for r in results(rep, "auth.client_cert", MTLS_HOST)),
        )
    by = _by_subject(rep, "auth.client_cert", MTLS_HOST)
    stranger = by["another CA's certificate via 127.0.0.10:443"]
    assert stranger.status is Status.FAIL
    assert "with another CA's certificate answered 200" in stranger.message
    assert "never asked for a client certificate" in stranger.message
    assert by["no certificate via 127.0.0.10:443"].status is Status.FAIL


def test_allowlist_that_sees_the_lb_refuses_everyone_or_admits_everyone(ingress_put_back: Lab) -> None:
    """Given the LB not passing the client's address on, then a client inside the range is refused (the
    controller sees the LB); and with the LB's address added to the range, an outside client gets in, and
    the range itself fails for holding the LB's address."""
    inside = f"from {INSIDE_SOURCE} (inside) via 127.0.0.10:443"
    outside = f"from {OUTSIDE_SOURCE} (outside) via 127.0.0.10:443"
    with lb_faults(ingress_put_back, LbFaults(access_without_proxy_protocol=True)):
        # the LB's old worker may finish a connection or two: wait for the new config's answer
        rep = converge(
            lambda: _run(ingress_put_back, ["dns", "tls", "source_range"]),
            lambda rep: _by_subject(rep, "access.source_range", INTERNAL_HOST)[inside].status is Status.FAIL,
        )
        refused = _by_subject(rep, "access.source_range", INTERNAL_HOST)[inside]
        assert refused.status is Status.FAIL
        assert "inside the range but was refused (403)" in refused.message
        assert "does not see the client's address" in refused.message

        _reannotated(ingress_put_back, "internal", access.internal_annotations(f"{ALLOWED_RANGE},127.0.0.10/32"))
        rep = converge(
            lambda: _run(ingress_put_back, ["dns", "tls", "source_range"]),
            lambda rep: (
                outside in _by_subject(rep, "access.source_range", INTERNAL_HOST)
                and _by_subject(rep, "access.source_range", INTERNAL_HOST)[outside].status is Status.FAIL
            ),
        )
    by = _by_subject(rep, "access.source_range", INTERNAL_HOST)
    assert by["the ranges"].status is Status.FAIL
    assert "holds the load balancer's own address 127.0.0.10" in by["the ranges"].message
    admitted = by[outside]
    assert admitted.status is Status.FAIL
    assert "outside the range, was served (200)" in admitted.message
    assert "the controller sees the load balancer (127.0.0.10), not the client" in admitted.message
    assert admitted.evidence["client_address_seen_by_controller"] == "127.0.0.10"


def test_limit_not_enforced_when_the_lb_bypasses_the_controller(access_lab: Lab) -> None:
    """Given the LB sending limited.example.test straight to its pod, then the whole bounded burst is served:
    a critical fail saying the limit is not enforced."""
    faults = LbFaults(access_terminated=(LIMITED_HOST,), bypass={LIMITED_HOST: f"{POD_IPS['limited-app']}:8080"})
    with lb_faults(access_lab, faults):
        rep = converge(
            lambda: _run(access_lab, ["dns", "tls", "rate_limit"]),
            lambda rep: any(r.status is Status.FAIL for r in results(rep, "limits.rate", LIMITED_HOST)),
            timeout=40,
        )
    [limit] = results(rep, "limits.rate", LIMITED_HOST)
    assert limit.status is Status.FAIL and limit.severity.value == "critical"
    assert limit.message.startswith("limit-rps 2 is not enforced: all 38 of 38 requests")
    assert limit.evidence["refused"] == 0
