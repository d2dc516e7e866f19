"""Every check's fail case, made by breaking the lab for real and detected by the right check ID.
Each test restores the lab; pass cases are the healthy-lab run (test_run_lab.py)."""

from __future__ import annotations

import base64

from ingresscheck.results import Status
from ingresscheck_lab import objects
from ingresscheck_lab.lab import Lab
from ingresscheck_lab.render import LbFaults

from .changes import check, converge, lb_faults, replaced, results, status_of, temporary

NGINX = "nginx.ingress.kubernetes.io/"


def _slice(service: str, ips: list[str], ns: str = "demo") -> dict:
    pods = [objects.Pod(service, f"{service}-x{i}", ns, ip) for i, ip in enumerate(ips)]
    return objects.service_with_pods(service, ns, pods, 8080)[1]


# --- routing -----------------------------------------------------------------------------------
def test_no_ready_endpoints_fails_routing_backend_and_static_endpoints(lab: Lab) -> None:
    """Given api-docs' endpoints emptied, then routing.backend fails naming the endpoint count."""
    with replaced(lab, {**_slice("api-docs", []), "endpoints": []}):
        # membership fails at once (the answering pod is no endpoint any more); wait for the data plane's 503
        rep = converge(
            lambda: check(lab, ["dns", "routing", "static"]),
            lambda rep: any(
                "0 ready endpoints" in r.message for r in results(rep, "routing.backend", "api.example.test", "Ingress")
            ),
        )
    failed = [r for r in results(rep, "routing.backend", "api.example.test", "Ingress") if r.status is Status.FAIL]
    assert [r.message.split(": ", 1)[1] for r in failed] == ["Service demo/api-docs has 0 ready endpoints"]
    assert "503" in failed[0].message
    assert [r.message for r in results(rep, "static.endpoints") if r.status is Status.FAIL] == [
        "Service demo/api-docs has 0 ready endpoints"
    ]


def test_an_endpoint_port_that_refuses_is_named_in_routing_backend(lab: Lab) -> None:
    """Given api-docs' endpoint slice pointing at a port nothing listens on (the controller answers 502), then
    routing.backend names the refused address, not 'has 1 ready endpoint', and path_type blames no pathType."""
    current = lab.writer().get(
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {"name": "api-docs-lab", "namespace": "demo"},
        }
    )
    assert current is not None
    broken = {k: v for k, v in current.items() if k != "status"}
    broken["ports"] = [{**broken["ports"][0], "port": 9099}]
    address = broken["endpoints"][0]["addresses"][0]
    with replaced(lab, broken):
        rep = converge(
            lambda: check(lab, ["dns", "tls", "routing"]),
            lambda rep: any(
                "refused" in r.message for r in results(rep, "routing.backend", "api.example.test", "Ingress")
            ),
        )
    [failed] = [r for r in results(rep, "routing.backend", "api.example.test", "Ingress") if r.status is Status.FAIL]
    assert failed.message.startswith("https://api.example.test/docs answered 502")
    assert (
        f"connection to {address}:9099 (" in failed.message
        and "an endpoint of demo/api-docs) refused" in failed.message
    )
    docs = [
        r
        for r in results(rep, "routing.path_type", "api.example.test", "Ingress")
        if (r.subject or "").startswith("/docs/")
    ]
    assert docs and all(r.status is Status.SKIP and "routing.backend names the cause" in r.message for r in docs)


def test_endpoints_of_the_wrong_pods_fail_routing_backend(lab: Lab) -> None:
    """Given api-docs' slice pointing at an api pod (a wrong selector), then the echo identity gives it away."""
    with replaced(lab, _slice("api-docs", ["127.0.0.12"])):
        # the membership check fails at once (the old pod is no endpoint any more); wait for the data plane
        rep = converge(
            lambda: check(lab, ["dns", "routing"]),
            lambda rep: any(
                "but pod api-0 of api answered" in r.message
                for r in results(rep, "routing.backend", "api.example.test", "Ingress")
            ),
        )
    failed = [
        r.message for r in results(rep, "routing.backend", "api.example.test", "Ingress") if r.status is Status.FAIL
    ]
    assert failed == [
        "https://api.example.test/docs should be served by demo/api-docs (pods api-docs-x0) but pod "
        "api-0 of api answered"
    ]


def test_regex_prefix_matching_partial_elements_fails_routing_path_type(lab: Lab) -> None:
    """Given use-regex on a Prefix path, then /v1xyz matches /v1 although Prefix works per path element."""
    ing = objects.ingress(
        "regex", "demo", "regex.example.test", [("/v1", "Prefix", "api")], annotations={NGINX + "use-regex": "true"}
    )
    with temporary(lab, ing):
        rep = converge(
            lambda: check(lab, ["dns", "routing"]),
            lambda rep: any(
                "must not be matched" in r.message for r in results(rep, "routing.path_type", "regex.example.test")
            ),
        )
    failed = [r.message for r in results(rep, "routing.path_type", "regex.example.test") if r.status is Status.FAIL]
    assert (
        len(failed) == 1
        and failed[0].startswith("/v1ingresscheck")
        and "must not be matched by Prefix '/v1'" in failed[0]
    )


def test_a_catch_all_ingress_fails_unknown_host_and_warns_no_host(lab: Lab) -> None:
    """Given a rule without host, then unknown hosts get an application's 200 instead of 404."""
    catch_all = objects.ingress("catch-all", "demo", "x", [("/", "Prefix", "shop")])
    del catch_all["spec"]["rules"][0]["host"]
    with temporary(lab, catch_all):
        rep = converge(
            lambda: check(lab, ["dns", "routing", "static"]),
            status_of("routing.unknown_host", Status.FAIL, "api.example.test"),
        )
    r = results(rep, "routing.unknown_host", "api.example.test")[0]
    assert r.status is Status.FAIL and "gets 200 instead of 404" in r.message
    warned = [r.message for r in results(rep, "static.no_host")]
    assert warned and "Ingress demo/catch-all has a rule without host" in warned[0]


# --- auth --------------------------------------------------------------------------------------
def test_lb_bypassing_the_controller_leaves_the_site_open(lab: Lab) -> None:
    """Given the LB sending wordpress straight to its pod, then no challenge and wrong credentials get in."""
    with lb_faults(lab, LbFaults(bypass={"wordpress.example.test": "127.0.0.11:8080"})):
        rep = check(lab, ["dns", "auth"])
    challenge = results(rep, "auth.challenge")[0]
    assert (
        challenge.status is Status.FAIL
        and "answered 200 instead of 401 via 127.0.0.10:443: the site is open" in challenge.message
    )
    assert results(rep, "auth.wrong_credentials")[0].status is Status.FAIL


def test_plain_http_asking_for_the_password_fails_redirect_first(lab: Lab) -> None:
    with lb_faults(lab, LbFaults(plain_http_forwards=True)):
        rep = check(lab, ["dns", "auth"])
    r = results(rep, "auth.redirect_first")[0]
    assert r.status is Status.FAIL and "asks for the password over plain HTTP (401)" in r.message


def test_a_changed_password_fails_good_credentials(lab: Lab) -> None:
    """Given the auth Secret holding another password's hash, then the profile's user gets 401."""
    from ingresscheck_lab.lab import _htpasswd_line

    rotated = base64.b64encode(_htpasswd_line("admin", "rotated").encode()).decode()
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "wordpress-basic-auth", "namespace": "demo"},
        "type": "Opaque",
        "data": {"auth": rotated},
    }
    with replaced(lab, secret):
        rep = converge(lambda: check(lab, ["dns", "auth", "routing"]), status_of("auth.good_credentials", Status.FAIL))
    r = results(rep, "auth.good_credentials")[0]
    assert r.status is Status.FAIL
    assert r.message == "user admin (from the profile) got 401 Unauthorized via 127.0.0.10:443"
    assert "rotated" not in str(rep.results)
    # a 401 proves the controller knows the host, not that the backend is reached: never a routing pass
    backend = results(rep, "routing.backend", "wordpress.example.test", "Ingress")
    assert backend and {b.status for b in backend} == {Status.ERROR}, [b.message for b in backend]
    assert "did not reach a backend" in backend[0].message


def test_auth_secret_without_auth_key_fails_auth_secret(lab: Lab) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "wordpress-basic-auth", "namespace": "demo"},
        "type": "Opaque",
        "data": {"users": base64.b64encode(b"admin:x").decode()},
    }
    with replaced(lab, secret):
        rep = check(lab, ["auth_config"])
    r = results(rep, "auth.secret")[0]
    assert r.status is Status.FAIL and r.message == "Secret demo/wordpress-basic-auth has no key `auth` (keys: users)"


def test_missing_auth_secret_fails_auth_secret_and_the_challenge(lab: Lab) -> None:
    ing = objects.ingress(
        "locked",
        "demo",
        "locked.example.test",
        [("/", "Prefix", "wordpress")],
        annotations={
            NGINX + "auth-type": "basic",
            NGINX + "auth-secret": "no-such-secret",
            NGINX + "auth-realm": "Locked",
        },
    )
    with temporary(lab, ing):
        rep = check(lab, ["dns", "auth", "auth_config"])
    assert results(rep, "auth.secret", "locked.example.test")[0].message == (
        "Secret demo/no-such-secret named by auth-secret does not exist"
    )
    assert results(rep, "auth.challenge", "locked.example.test")[0].status is Status.FAIL


def test_misspelled_auth_annotation_warns_with_the_intended_name(lab: Lab) -> None:
    """Given auth_type instead of auth-type, then the site is open and the typo is named."""
    ing = objects.ingress(
        "typo",
        "demo",
        "typo.example.test",
        [("/", "Prefix", "wordpress")],
        annotations={NGINX + "auth_type": "basic", NGINX + "auth-secret": "wordpress-basic-auth"},
    )
    with temporary(lab, ing):
        rep = converge(
            lambda: check(lab, ["dns", "auth", "auth_config"]),
            status_of("auth.challenge", Status.FAIL, "typo.example.test"),
        )
    r = results(rep, "auth.annotation_typos", "typo.example.test")[0]
    assert r.status is Status.WARN
    assert "nginx.ingress.kubernetes.io/auth_type (did you mean auth-type?)" in r.message
    # the annotations ask for protection and the site answers without a challenge: a critical auth failure
    open_site = results(rep, "auth.challenge", "typo.example.test")[0]
    assert open_site.status is Status.FAIL and "auth-type is misspelled" in open_site.message


# --- static ------------------------------------------------------------------------------------
def test_static_checks_find_broken_objects(lab: Lab) -> None:
    """Given a missing Service, an unknown class, a duplicate rule and an ignored annotation, then each is named."""
    broken = objects.ingress(
        "broken",
        "demo",
        "broken.example.test",
        [("/", "Prefix", "no-such-svc")],
        annotations={NGINX + "limit-rate": "100"},
    )
    broken["spec"]["ingressClassName"] = "nginx-typo"
    dup = objects.ingress("api-copy", "demo", "api.example.test", [("/v1", "Prefix", "api")])
    with temporary(lab, broken, dup):
        rep = check(lab, ["static"])

    def msgs(c: str, s: Status) -> list[str]:
        return [r.message for r in results(rep, c) if r.status is s]

    assert msgs("static.backend_service", Status.FAIL) == ["Service demo/no-such-svc does not exist"]
    assert msgs("static.ingress_class", Status.FAIL) == ["IngressClass nginx-typo does not exist (have: nginx)"]
    assert sorted(r.ingress for r in results(rep, "static.duplicate_rule")) == ["api", "api-copy"]
    assert msgs("static.ignored_annotations", Status.WARN) == ["traefik ignores nginx.ingress.kubernetes.io/limit-rate"]


def test_static_tls_secret_of_the_wrong_type_or_host_fails(lab: Lab) -> None:
    from ingresscheck_lab import pki

    ca = pki.load_pair(lab.layout.pki, "ingress-ca")
    other = pki.issue(ca, "other.apps.test", dns_names=("other.apps.test",))
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "shop-tls", "namespace": "demo"},
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": base64.b64encode(other.cert_pem).decode(),
            "tls.key": base64.b64encode(other.key_pem).decode(),
        },
    }
    with replaced(lab, secret):
        rep = check(lab, ["static"])
    r = results(rep, "static.tls_secret", "shop.apps.test")[0]
    assert (
        r.status is Status.FAIL
        and r.message == "Secret demo/shop-tls does not cover shop.apps.test (SANs: other.apps.test)"
    )


# --- exposure ----------------------------------------------------------------------------------
def test_exposure_fails_for_dead_node_ports_pending_and_unreachable_lbs(lab: Lab) -> None:
    dead = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "kafka", "namespace": "demo"},
        "spec": {"type": "NodePort", "ports": [{"name": "broker", "port": 9092, "nodePort": 31092}]},
    }
    pending = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "pending-lb", "namespace": "demo"},
        "spec": {"type": "LoadBalancer", "ports": [{"name": "http", "port": 80, "nodePort": 30080 + 1}]},
    }
    unreachable = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "wrong-port", "namespace": "demo"},
        "spec": {"type": "LoadBalancer", "ports": [{"name": "alt", "port": 8443, "nodePort": 31443}]},
        "status": {"loadBalancer": {"ingress": [{"ip": lab.layout.vip}]}},
    }
    with temporary(lab, dead, pending, unreachable):
        rep = check(lab, ["exposure"], namespace=None)
    dead = sorted(
        (r for r in results(rep, "exposure.node_port_reachable") if "demo/kafka" in r.message),
        key=lambda r: r.subject or "",
    )
    assert [r.status for r in dead] == [Status.FAIL, Status.FAIL]  # one verdict per node
    assert dead[0].message == (
        "demo/kafka port broker: node port 31092 on node lab-node-1: connection to "
        "127.0.0.20:31092 refused: nothing listens there"
    )
    assert dead[1].subject == "demo/kafka port broker on node lab-node-2 (127.0.0.21:31092)"
    assert [r.message for r in results(rep, "exposure.lb_assigned") if r.status is Status.FAIL] == [
        "demo/pending-lb: LoadBalancer has no address yet (pending)"
    ]
    assert [r.message for r in results(rep, "exposure.lb_reachable") if r.status is Status.FAIL] == [
        "demo/wrong-port: connection to 127.0.0.10:8443 refused: nothing listens there"
    ]


def test_node_port_outside_the_profile_range_fails(lab: Lab) -> None:
    rep = check(lab, ["exposure"], namespace=None, node_port_range=(30000, 30100))
    assert [r.message for r in results(rep, "exposure.node_port_range") if r.status is Status.FAIL] == [
        "ingress-system/traefik port https: node port 30443 is outside 30000-30100"
    ]


# --- dns and redirect --------------------------------------------------------------------------
def test_dns_pointing_elsewhere_than_the_lb_fails_lb_address(lab: Lab) -> None:
    """Given an old LB in the profile and an Ingress no controller publishes status for, then DNS is stale."""
    legacy = objects.ingress("legacy", "demo", "legacy.example.test", [("/", "Prefix", "api")])
    legacy["spec"]["ingressClassName"] = "legacy"
    with temporary(lab, legacy):
        rep = check(lab, ["dns"], load_balancers=("127.0.0.99",))
    r = results(rep, "dns.lb_address", "legacy.example.test")[0]
    assert r.status is Status.FAIL and r.message == (
        "legacy.example.test resolves to 127.0.0.10, which is not a load-balancer address (expected 127.0.0.99)"
    )


def test_a_self_redirect_fails_redirect_loop(lab: Lab) -> None:
    loop = objects.ingress(
        "loop",
        "demo",
        "loop.example.test",
        [("/", "Prefix", "api")],
        annotations={NGINX + "permanent-redirect": "https://loop.example.test/"},
    )
    with temporary(lab, loop):
        rep = converge(
            lambda: check(lab, ["dns", "redirect"]), status_of("redirect.loop", Status.FAIL, "loop.example.test")
        )
    r = results(rep, "redirect.loop", "loop.example.test")[0]
    assert r.status is Status.FAIL
    assert r.message.startswith("redirect loop starting at 127.0.0.10:80: http://loop.example.test/?ingresscheck=")
    assert r.message.endswith("https://loop.example.test/ → https://loop.example.test/")


# --- tls ---------------------------------------------------------------------------------------
def _shop_secret(issued) -> dict:  # type: ignore[no-untyped-def]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "shop-tls", "namespace": "demo"},
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": base64.b64encode(issued.cert_pem).decode(),
            "tls.key": base64.b64encode(issued.key_pem).decode(),
        },
    }


def _tls_failure(lab: Lab, secret: dict, check_id: str) -> list[str]:
    """Swap shop.apps.test's certificate Secret, wait for the controller to serve it, return the failures."""
    with replaced(lab, secret):
        rep = converge(lambda: check(lab, ["dns", "tls", "static"]), status_of(check_id, Status.FAIL, "shop.apps.test"))
    return [r.message for r in results(rep, check_id, "shop.apps.test") if r.status is Status.FAIL]


def _ca(lab: Lab):  # type: ignore[no-untyped-def]
    from ingresscheck_lab import pki

    return pki, pki.load_pair(lab.layout.pki, "ingress-ca")


def test_expired_certificate_fails_tls_expiry(lab: Lab) -> None:
    import datetime as dt

    pki, ca = _ca(lab)
    now = dt.datetime.now(dt.UTC)
    old = pki.issue(
        ca,
        "shop.apps.test",
        dns_names=("shop.apps.test",),
        not_before=now - dt.timedelta(days=400),
        not_after=now - dt.timedelta(days=3),
    )
    failed = _tls_failure(lab, _shop_secret(old), "tls.expiry")
    assert len(failed) == 1 and "expired 3 days ago" in failed[0]


def test_certificate_from_an_unknown_ca_fails_tls_chain(lab: Lab) -> None:
    pki, _ = _ca(lab)
    rogue = pki.issue(pki.make_ca("some other CA"), "shop.apps.test", dns_names=("shop.apps.test",))
    failed = _tls_failure(lab, _shop_secret(rogue), "tls.chain")
    assert failed and "unable to get local issuer certificate" in failed[0]


def test_weak_rsa_key_fails_tls_key_strength(lab: Lab) -> None:
    pki, ca = _ca(lab)
    weak = pki.issue(ca, "shop.apps.test", dns_names=("shop.apps.test",), key=pki.new_key("rsa", 1024))
    failed = _tls_failure(lab, _shop_secret(weak), "tls.key_strength")
    assert failed and "1024" in failed[0]


def test_certificate_for_another_host_fails_hostname_and_termination(lab: Lab) -> None:
    """Given a Secret for another host, then the controller falls back to its default certificate."""
    pki, ca = _ca(lab)
    other = pki.issue(ca, "other.apps.test", dns_names=("other.apps.test",))
    with replaced(lab, _shop_secret(other)):
        rep = converge(lambda: check(lab, ["dns", "tls"]), status_of("tls.hostname", Status.FAIL, "shop.apps.test"))
    hostname = results(rep, "tls.hostname", "shop.apps.test")[0]
    assert hostname.status is Status.FAIL and "default.ingress.apps.test" in hostname.message
    assert results(rep, "tls.termination", "shop.apps.test")[0].status is Status.FAIL


def test_a_fake_default_certificate_fails_tls_default_certificate(lab: Lab) -> None:
    pki, ca = _ca(lab)
    fake = pki.issue(ca, "Kubernetes Ingress Controller Fake Certificate", dns_names=("shop.apps.test",))
    failed = _tls_failure(lab, _shop_secret(fake), "tls.default_certificate")
    assert failed and "Fake Certificate" in failed[0]


def test_missing_tls_secret_fails_tls_termination(lab: Lab) -> None:
    res = lab.writer()
    original = res.get({"kind": "Secret", "metadata": {"name": "shop-tls", "namespace": "demo"}})
    assert original is not None
    res.delete(original)
    try:
        # converged when the controller has dropped the certificate: its default one is served instead
        rep = converge(
            lambda: check(lab, ["dns", "tls", "static"]), status_of("tls.hostname", Status.FAIL, "shop.apps.test")
        )
    finally:
        res.create(
            {k: v for k, v in original.items() if k != "status"}
            | {"metadata": {"name": "shop-tls", "namespace": "demo", "labels": original["metadata"].get("labels", {})}}
        )
        converge(lambda: check(lab, ["dns", "tls"]), lambda rep: all(r.status is not Status.FAIL for r in rep.results))
    assert [r.message for r in results(rep, "tls.termination") if r.status is Status.FAIL] == [
        "Secret demo/shop-tls does not exist"
    ]
    assert [r.message for r in results(rep, "static.tls_secret") if r.status is Status.FAIL] == [
        "Secret demo/shop-tls does not exist"
    ]
    # the host gets the controller's default certificate now: never a pass saying so (issue 26)
    [default] = results(rep, "tls.default_certificate", "shop.apps.test", "Ingress")
    assert default.status is Status.FAIL and "default certificate" in default.message, default.message


def test_lb_accepting_tls_1_0_fails_tls_protocols(lab: Lab) -> None:
    with lb_faults(lab, LbFaults(min_tls="TLSv1.0")):
        rep = check(lab, ["dns", "tls"])
    failed = [r for r in results(rep, "tls.protocols") if r.status is Status.FAIL]
    assert {r.host for r in failed} == {"api.example.test", "wordpress.example.test", "www.example.test"}
    assert "TLS 1.0" in failed[0].message


def test_nothing_listening_fails_tls_handshake(lab: Lab) -> None:
    rep = check(lab, ["dns", "tls"], https_port=4443)
    r = results(rep, "tls.handshake", "api.example.test")[0]
    assert r.status is Status.FAIL and "refused" in r.message.lower()
