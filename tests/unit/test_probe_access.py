"""The access-control probes' own judgement, without a network: ranges, what an echo says the controller
saw, the sign-in redirect's target, cookies along the flow, and the rate annotations."""

from __future__ import annotations

import json

from ingresscheck.discovery import Target
from ingresscheck.net import Attempt, HttpResponse, Outcome, Subject
from ingresscheck.probes import external_auth, rate_limit
from ingresscheck.probes._access import client_address_seen, contains, ranges, reach
from ingresscheck.profile import Profile

P = "nginx.ingress.kubernetes.io/"


def _target(**annotations: str) -> Target:
    return Target("ns", "ing", "a.example.test", (), annotations={P + k: v for k, v in annotations.items()})


def _echo(headers: dict[str, str]) -> HttpResponse:
    body = json.dumps({"pod": "p-0", "headers": headers}).encode()
    return HttpResponse(200, "OK", (("content-type", "application/json"),), body, len(body), False)


def test_ranges_split_cidrs_from_garbage_and_contain_by_family() -> None:
    good, bad = ranges(" 10.0.0.0/8, 2001:db8::/32 ,nonsense,")
    assert [str(n) for n in good] == ["10.0.0.0/8", "2001:db8::/32"] and bad == ["nonsense"]
    assert contains(good, "10.1.2.3") and contains(good, "2001:db8::1")
    assert not contains(good, "192.0.2.1") and not contains(good, "not-an-ip")


def test_the_address_the_controller_saw_is_x_real_ip_else_the_first_forwarded_for() -> None:
    assert client_address_seen(_echo({"X-Real-Ip": "127.0.21.70", "X-Forwarded-For": "9.9.9.9"})) == "127.0.21.70"
    assert client_address_seen(_echo({"X-Forwarded-For": "127.0.0.10, 127.0.0.20"})) == "127.0.0.10"
    plain = HttpResponse(200, "OK", (("content-type", "text/html"),), b"<p>hi</p>", 9, False)
    assert client_address_seen(plain) is None  # a backend that does not echo says nothing


def test_other_probes_reach_a_protected_host_from_inside_or_say_why_not() -> None:
    allow = _target(**{"whitelist-source-range": "127.0.21.64/26"})
    assert reach(Profile(source_addresses=("127.0.21.200", "127.0.21.70")), allow).options == {"source": "127.0.21.70"}
    blocked = reach(Profile(source_addresses=("127.0.21.200",)), allow).blocked
    assert blocked is not None and "no source address of the profile is inside it" in blocked
    sso = reach(Profile(), _target(**{"auth-url": "http://auth/oauth2/auth"})).blocked
    assert sso is not None and "behind external auth" in sso
    mtls = reach(Profile(), _target(**{"auth-tls-secret": "ns/ca"})).blocked
    assert mtls is not None and "requires a client certificate" in mtls
    assert (
        reach(Profile(), _target(**{"auth-tls-secret": "ns/ca", "auth-tls-verify-client": "optional"})).blocked is None
    )


def test_the_sign_in_redirect_must_go_where_auth_signin_points() -> None:
    signin = "https://$host/oauth2/start?rd=$escaped_request_uri"
    assert external_auth._same_page("https://a.example.test/oauth2/start?rd=%2F", signin, "https://a.example.test/")
    assert not external_auth._same_page("https://a.example.test/login", signin, "https://a.example.test/")
    fixed = "https://sso.example.test/oauth2/start"
    assert not external_auth._same_page("https://evil.test/oauth2/start", fixed, "https://a.example.test/")


def test_intent_without_auth_url_names_the_missing_or_misspelt_annotation() -> None:
    assert external_auth.intent_without_url(_target(**{"auth-signin": "https://x/start"})) == (
        "auth-signin is set but auth-url is missing"
    )
    typo = external_auth.intent_without_url(_target(**{"auth-ulr": "http://auth/"}))
    assert typo is not None and "auth-url is misspelled" in typo
    assert external_auth.intent_without_url(_target()) is None


def test_cookies_are_kept_per_domain_and_dropped_when_expired() -> None:
    jar: dict[str, dict[str, str]] = {}

    def answer(url: str, *cookies: str) -> Attempt:
        headers = tuple(("set-cookie", c) for c in cookies)
        return Attempt(
            "http", Subject(url=url), Outcome.OK, response=HttpResponse(302, "Found", headers, b"", 0, False)
        )

    external_auth._keep_cookies(jar, answer("https://sso.example.test/start", "csrf=abc; Path=/; Secure"))
    external_auth._keep_cookies(jar, answer("https://sso.example.test/cb", "sess=xyz; Domain=.example.test"))
    assert jar == {"sso.example.test": {"csrf": "abc"}, "example.test": {"sess": "xyz"}}
    external_auth._keep_cookies(jar, answer("https://sso.example.test/cb", "csrf=; Max-Age=0"))
    assert jar["sso.example.test"] == {}


def test_rate_annotations_become_requests_per_second_or_a_reason() -> None:
    assert rate_limit._rate("5", None) == (5.0, "limit-rps 5")
    assert rate_limit._rate(None, "120") == (2.0, "limit-rpm 120")
    rps, why = rate_limit._rate("5r/s", None)
    assert rps is None and "not a whole number" in why
    assert rate_limit._rate(None, None) == (None, "")
