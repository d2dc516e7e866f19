"""dns probe against a real UDP DNS server."""

from __future__ import annotations

from ingresscheck.profile import Profile
from ingresscheck.results import Status

from .helpers import by_check, ingress, one, run_probes
from .servers import dns_server

LB = "127.0.0.10"


def _profile(server: tuple[str, int], lbs: tuple[str, ...] = (LB,)) -> Profile:
    return Profile(dns_servers=(server,), load_balancers=lbs)


def test_exact_records_pass_and_no_wildcard_is_seen() -> None:
    """Given a host with its own record, then it resolves to the LB and no wildcard is reported."""
    with dns_server({"shop.apps.test": [LB]}) as server:
        report = run_probes(["dns"], _profile(server), [ingress("shop", "shop.apps.test")])
    assert one(report, "dns.resolves").status is Status.PASS
    assert one(report, "dns.lb_address").status is Status.PASS
    wildcard = one(report, "dns.wildcard")
    assert wildcard.status is Status.PASS and "NXDOMAIN" in wildcard.message


def test_nxdomain_for_a_host_with_an_ingress_fails_and_gates() -> None:
    """Given NXDOMAIN, then dns.resolves fails and the redirect probe is skipped, not failed."""
    with dns_server({}) as server:
        report = run_probes(["dns", "redirect"], _profile(server), [ingress("ghost", "ghost.apps.test")])
    r = one(report, "dns.resolves")
    assert r.status is Status.FAIL
    assert "ghost.apps.test has an Ingress but does not resolve: ghost.apps.test does not exist (NXDOMAIN" in r.message
    assert one(report, "redirect.https").status is Status.SKIP
    assert "dns.resolves did not pass" in one(report, "redirect.https").message


def test_wildcard_is_a_warning_naming_the_typo_trap() -> None:
    """Given *.example.test, then a random label resolves and dns.wildcard warns about typos and 404, in a
    message naming the record only (one cause, one finding), with this host's example typo as evidence."""
    with dns_server({}, wildcard={"example.test": LB}) as server:
        report = run_probes(["dns"], _profile(server), [ingress("wp", "wordpress.example.test")])
    w = one(report, "dns.wildcard")
    assert w.status is Status.WARN
    assert "*.example.test is a wildcard" in w.message and "404" in w.message
    assert w.evidence["typo_example"] == "wrodpress.example.test"
    assert w.remediation


def test_answer_outside_the_lb_addresses_fails_also_for_ipv6() -> None:
    """Given an extra AAAA answer, then dns.lb_address fails naming it."""
    with dns_server({"api.example.test": [LB, "2001:db8::7"]}) as server:
        report = run_probes(["dns"], _profile(server), [ingress("api", "api.example.test")])
    per_address = {r.subject: r for r in by_check(report, "dns.lb_address")}
    assert per_address[LB].status is Status.PASS  # each answer is its own subject
    r = per_address["2001:db8::7"]
    assert r.status is Status.FAIL
    assert "2001:db8::7" in r.message and "IPv6" in r.message


def test_ingress_status_counts_as_an_expected_address() -> None:
    """Given no LB in the profile, then the Ingress status address is what DNS must point at."""
    with dns_server({"a.example.test": ["127.0.0.99"]}) as server:
        ok = run_probes(["dns"], _profile(server, ()), [ingress("a", "a.example.test", status_ip="127.0.0.99")])
        unknown = run_probes(["dns"], _profile(server, ()), [ingress("a", "a.example.test")])
    assert one(ok, "dns.lb_address").status is Status.PASS
    assert one(unknown, "dns.lb_address").status is Status.SKIP


def test_a_silent_resolver_is_an_error_not_a_failure() -> None:
    """Given a resolver that never answers, then the check could not decide: error."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as mute:
        mute.bind(("127.0.0.1", 0))
        from dataclasses import replace

        profile = _profile(mute.getsockname())
        profile = replace(profile, thresholds=replace(profile.thresholds, timeout=0.3))
        report = run_probes(["dns"], profile, [ingress("a", "a.example.test")])
    r = one(report, "dns.resolves")
    assert r.status is Status.ERROR and "no answer for a.example.test from 127.0.0.1:" in r.message


def test_rules_without_hosts_are_not_targets() -> None:
    """Given an Ingress rule with no host, then no per-host check runs for it (and nothing crashes)."""
    with dns_server({}) as server:
        report = run_probes(["dns"], _profile(server), [ingress("catchall", None)])
    assert report.results == []


def test_the_typo_named_in_the_wildcard_warning_is_really_another_name() -> None:
    from ingresscheck.probes.dns import _typo

    assert _typo("api.example.test") == "aip.example.test"
    assert _typo("www.example.test") == "wwww.example.test"  # swapping two equal letters is no typo
