"""The traffic-annotation probes' judgements (cors, canary_annotations, affinity, redirect_annotations, rewrite,
snippets) on answers and objects written out by hand; the wire itself is the lab tests' (test_traffic_lab.py)."""

from __future__ import annotations

from ingresscheck.discovery import Inventory
from ingresscheck.discovery.model import targets_of
from ingresscheck.probes.affinity import attribute_differences, expected_attributes, set_cookie
from ingresscheck.probes.canary_annotations import header_value, main_rule
from ingresscheck.probes.cors import (
    FOREIGN,
    allowed_origin,
    expectations,
    foreign_allowed,
    judge_preflight,
    route_expectations,
)
from ingresscheck.probes.redirect_annotations import expand, judge_location
from ingresscheck.probes.redirect_annotations import expectations as redirects
from ingresscheck.probes.rewrite import rewritten, sample_path
from ingresscheck.profile import Profile
from ingresscheck.results import Status

from .helpers import by_check, ingress, run_probes

N = "nginx.ingress.kubernetes.io/"


def _target(annotations: dict[str, str], host: str = "a.example.test", path: str = "/"):  # type: ignore[no-untyped-def]
    return targets_of([ingress("x", host, path=path, annotations={N + k: v for k, v in annotations.items()})])[0]


# --- cors -----------------------------------------------------------------------------------------
def test_httproute_cors_filter_sets_origins_and_what_the_preflight_must_answer() -> None:
    # Given an HTTPRoute CORS filter; When read; Then its origins and promises are what a preflight is judged on
    origins, expect = route_expectations(
        {
            "allowOrigins": ["https://app.example"],
            "allowMethods": ["get", "PUT"],
            "allowCredentials": True,
            "maxAge": 60,
        }
    )
    assert origins == ["https://app.example"]
    assert expect == {"methods": {"GET", "PUT"}, "credentials": True, "max_age": "60"}
    answer = {"access-control-allow-origin": "https://app.example", "access-control-allow-methods": "GET"}
    assert judge_preflight(answer, "https://app.example", expect)  # PUT, credentials and max-age missing
    assert route_expectations({}) == (["*"], {})


def test_cors_origin_to_send_is_the_first_configured_and_a_wildcard_allows_every_origin() -> None:
    assert allowed_origin(["https://app.example.test", "https://b.test"]) == "https://app.example.test"
    assert allowed_origin(["https://*.example.test"]) == "https://ingresscheck.example.test"
    assert allowed_origin(["*"]) is None


def test_a_preflight_answered_as_configured_has_nothing_wrong() -> None:
    t = _target({"enable-cors": "true", "cors-allow-methods": "GET, PUT", "cors-max-age": "600"})
    got = {
        "access-control-allow-origin": "https://app.example.test",
        "access-control-allow-methods": "GET,PUT,POST",
        "access-control-max-age": "600",
    }
    assert judge_preflight(got, "https://app.example.test", expectations(t)) == []


def test_a_preflight_missing_a_method_and_credentials_names_both() -> None:
    t = _target({"enable-cors": "true", "cors-allow-methods": "GET, PUT", "cors-allow-credentials": "true"})
    got = {"access-control-allow-origin": "https://app.example.test", "access-control-allow-methods": "GET"}
    wrong = judge_preflight(got, "https://app.example.test", expectations(t))
    assert wrong == [
        "Access-Control-Allow-Methods lacks PUT",
        "Access-Control-Allow-Credentials is missing, not true",
    ]


def test_a_foreign_origin_echoed_or_a_star_is_allowed_and_an_absent_header_is_not() -> None:
    assert "names the foreign origin" in (foreign_allowed({"access-control-allow-origin": FOREIGN}, False) or "")
    assert "every origin is allowed" in (foreign_allowed({"access-control-allow-origin": "*"}, False) or "")
    assert foreign_allowed({}, False) is None


# --- canary ---------------------------------------------------------------------------------------
def test_the_canary_header_value_comes_from_the_value_a_literal_pattern_or_always() -> None:
    assert header_value(_target({"canary-by-header": "X", "canary-by-header-value": "yes"}))[0] == "yes"
    assert header_value(_target({"canary-by-header": "X", "canary-by-header-pattern": "^beta$"}))[0] == "beta"
    assert header_value(_target({"canary-by-header": "X", "canary-by-header-pattern": "b(e|t)+"}))[0] is None
    assert header_value(_target({"canary-by-header": "X"}))[0] == "always"


def test_a_canary_pairs_with_the_main_ingress_of_its_host_and_path_and_is_no_duplicate_rule() -> None:
    """Given a main and a canary Ingress on one host and path, then the canary finds the main rule and
    static.duplicate_rule does not call them rivals."""
    main = ingress("main", "c.example.test", service="stable")
    canary = ingress("canary", "c.example.test", service="next", annotations={N + "canary": "true"})
    inv = Inventory("unit", "local", ingresses=[main, canary])
    t = next(t for t in inv.targets if t.ingress == "canary")
    paired = main_rule(inv, t, t.paths[0])
    assert paired is not None and paired[0].ingress == "main" and paired[1].service == "stable"
    report = run_probes(["static"], Profile(), [main, canary])
    assert all(r.status is not Status.FAIL for r in by_check(report, "static.duplicate_rule"))


# --- affinity -------------------------------------------------------------------------------------
def test_the_session_cookie_attributes_are_read_from_set_cookie() -> None:
    headers = (
        ("set-cookie", "other=1; Path=/"),
        ("set-cookie", "lab_sticky=2e8b; Path=/; Max-Age=3600; HttpOnly; Secure; SameSite=Lax"),
    )
    got = set_cookie(headers, "lab_sticky")
    assert got == {
        "value": "2e8b",
        "path": "/",
        "max-age": "3600",
        "samesite": "Lax",
        "secure": "true",
        "httponly": "true",
    }
    assert set_cookie(headers, "INGRESSCOOKIE") is None


def test_cookie_attributes_differing_from_the_annotations_are_named() -> None:
    t = _target({"affinity": "cookie", "session-cookie-max-age": "3600", "session-cookie-secure": "true"})
    want = expected_attributes(t, [])
    assert attribute_differences({"value": "x", "max-age": "60"}, want) == [
        "max-age is 60, not 3600",
        "Secure missing",
    ]
    assert "max-age" not in expected_attributes(t, ["session-cookie-max-age"])  # ignored: not tested


# --- redirects ------------------------------------------------------------------------------------
def test_nginx_variables_in_a_redirect_url_are_expanded_from_the_request() -> None:
    assert expand("https://new.test$request_uri", "a.test", "/p", "q=1") == "https://new.test/p?q=1"
    assert expand("https://new.test/x", "a.test", "/p", "q=1") == "https://new.test/x"
    assert expand("$scheme://$host/moved", "a.test", "/p", "") == "{scheme}://a.test/moved"


def test_permanent_redirect_code_and_app_root_expectations() -> None:
    e = redirects(_target({"permanent-redirect": "https://new.test$request_uri", "permanent-redirect-code": "308"}))[0]
    assert (e.annotation, e.status, e.location) == (
        "permanent-redirect",
        308,
        "https://new.test/ingresscheck/deep/path?ingresscheck=1",
    )
    root = redirects(_target({"app-root": "/app"}))[0]
    assert (root.status, root.location, root.request_path) == (302, "{scheme}://a.example.test/app", "/?ingresscheck=1")


def test_a_location_that_drops_the_path_or_the_query_says_so() -> None:
    want = "https://new.test/ingresscheck/deep/path?ingresscheck=1"
    assert judge_location(want, want, "https") == []
    assert judge_location("https://new.test", want, "https")[0].startswith("drops the path")
    assert judge_location("https://new.test/ingresscheck/deep/path", want, "https") == [
        "drops the query (expected ?ingresscheck=1)"
    ]
    assert judge_location("http://a.test/app", "{scheme}://a.test/app", "https") == []


# --- rewrite --------------------------------------------------------------------------------------
def test_a_request_path_is_derived_from_a_rewrite_regex_and_rewritten_like_nginx() -> None:
    path = sample_path("/api(/|$)(.*)")
    assert path == "/api/ingresscheck-sample"
    assert rewritten("/api(/|$)(.*)", "/$2", path) == "/ingresscheck-sample"
    assert rewritten("/api(/|$)(.*)", "/$2", "/API/x") == "/x"  # case-insensitive, as ingress-nginx's ~*
    assert rewritten("/app", "/", "/app/deeper") == "/"  # the whole URI is replaced
    assert sample_path("/(?P<a>x)(?P=a)") is None  # a back-reference: no sample


# --- snippets and ignored annotations -------------------------------------------------------------
def test_a_snippet_is_reported_as_depending_on_what_other_controllers_ignore() -> None:
    ing = ingress("s", "s.example.test", annotations={N + "configuration-snippet": "more_set_headers 'X: 1';"})
    report = run_probes(["snippets"], Profile(controller="traefik"), [ing])
    [r] = by_check(report, "annotations.snippet")
    assert r.status is Status.WARN and "allowSnippetAnnotations" in r.message and r.ingress == "s"


def test_an_annotation_the_controller_ignores_is_reported_ignored_and_not_tested() -> None:
    """Given affinity on a controller that does not read it (ingress-nginx's table lists all; a profile naming
    traefik reads affinity but not affinity-mode), then the untested one is named."""
    from ingresscheck.probes._contract import ProbeContext
    from ingresscheck.probes._traffic import ignored_note
    from ingresscheck.probes.affinity import AffinityProbe

    t = _target({"affinity": "cookie", "affinity-mode": "persistent"})
    ctx = ProbeContext(AffinityProbe, Profile(controller="traefik"), Inventory("u", "l"), None, t, {})  # type: ignore[arg-type]
    note, gone = ignored_note(ctx, t, ["affinity-mode", "session-cookie-name"])
    assert gone == ["affinity-mode"] and "traefik ignores nginx.ingress.kubernetes.io/affinity-mode" in note


def test_httproute_cors_filter_on_traefik_is_reported_unsupported_not_passed() -> None:
    # Given an HTTPRoute with a CORS filter on a Gateway of Traefik's GatewayClass
    gc = {"metadata": {"name": "traefik"}, "spec": {"controllerName": "traefik.io/gateway-controller"}}
    gw = {
        "metadata": {"name": "gw", "namespace": "default"},
        "spec": {"gatewayClassName": "traefik", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]},
    }
    route = {
        "metadata": {"name": "cors", "namespace": "default"},
        "spec": {
            "parentRefs": [{"name": "gw"}],
            "hostnames": ["cors.example.test"],
            "rules": [
                {
                    "filters": [{"type": "CORS", "cors": {"allowOrigins": ["https://app.example"]}}],
                    "backendRefs": [{"name": "echo", "port": 80}],
                }
            ],
        },
    }
    # When the cors probe runs
    report = run_probes(["cors"], Profile(), [], gateway_classes=[gc], gateways=[gw], http_routes=[route])
    # Then it is a skip that names the filter's status on Traefik, never a pass or a fail
    found = by_check(report, "cors.preflight")
    assert found and all(r.status == Status.SKIP for r in found), found
    assert "not supported by this implementation" in found[0].message
    assert "traefik.io/gateway-controller" in found[0].message
