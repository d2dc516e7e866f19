"""Address families on the real chain (issue 23): the lab's LB listens on 127.0.0.10 and ::1 (up on the
loopback of every network namespace), dual.example.test has an A and an AAAA record, every other host an
A record only. Each address is its own subject, lb.family says per family what answers, a host the LB does
not serve on ::1 fails naming IPv6, and --family restricts a run."""

from __future__ import annotations

from dataclasses import replace

from ingresscheck.profile import load
from ingresscheck.results import Status
from ingresscheck_lab import protocols
from ingresscheck_lab.lab import Lab
from ingresscheck_lab.render import LbFaults

from .changes import check, converge, lb_faults, results, status_of

NS = protocols.PROTOCOLS_NS
DUAL = protocols.DUAL_HOST
PROBES = ["dns", "family", "tls", "hsts", "routing"]


def _v4(lab: Lab) -> str:
    return f"{lab.layout.vip}:{lab.layout.lb_https_port}"


def _v6(lab: Lab) -> str:
    return f"[{lab.layout.vip6}]:{lab.layout.lb_https_port}"


def test_dual_stack_host_is_served_on_both_families_each_address_its_own_subject(lab: Lab) -> None:
    # Given the healthy lab, when a run looks at the protocol backends' namespace
    rep = check(lab, PROBES, namespace=NS)
    # Then nothing fails or errors, and the dual-stack host's line says both families answer
    bad = [(r.check, r.host, r.subject, r.message) for r in rep.results if r.status in (Status.FAIL, Status.ERROR)]
    assert bad == []
    [line] = results(rep, "lb.family", DUAL)
    assert line.status is Status.PASS, line.message
    assert "IPv4 answers" in line.message and "IPv6 answers" in line.message
    assert set(line.evidence["families"]) == {"IPv4", "IPv6"}
    # each address is its own subject, for DNS, TLS, HSTS and the backend
    assert {r.subject for r in results(rep, "dns.lb_address", DUAL)} == {lab.layout.vip, lab.layout.vip6}
    for check_id in ("tls.handshake", "tls.hsts", "routing.backend"):
        # (routing's subject is the rule at the address: "/ (Prefix) via [::1]:443")
        subjects = {
            (r.subject or "").rsplit(" via ", 1)[-1] for r in results(rep, check_id, DUAL) if r.status is Status.PASS
        }
        assert {_v4(lab), _v6(lab)} <= subjects, (check_id, subjects)
    # a host with an A record only says IPv6 has no record instead of passing it
    [grpc] = results(rep, "lb.family", protocols.GRPC_HOST)
    assert grpc.status is Status.PASS and "IPv6: no AAAA record" in grpc.message, grpc.message


def test_host_missing_on_the_ipv6_address_fails_lb_family_naming_ipv6(lab: Lab) -> None:
    # Given the LB resetting TLS connections for dual.example.test on ::1 only (its IPv6 listener lost the host)
    with lb_faults(lab, LbFaults(missing_on_v6=(DUAL,))):
        rep = converge(lambda: check(lab, PROBES, namespace=NS), status_of("lb.family", Status.FAIL, DUAL))
    # Then lb.family fails naming the family and its address, while IPv4 still answers
    [line] = results(rep, "lb.family", DUAL)
    assert "not served over IPv6" in line.message and lab.layout.vip6 in line.message, line.message
    assert "IPv4 answers" in line.message
    # and the per-address checks agree: the IPv6 address fails its handshake, the IPv4 one passes
    shakes = {r.subject: r.status for r in results(rep, "tls.handshake", DUAL)}
    assert shakes[_v4(lab)] is Status.PASS and shakes[_v6(lab)] is not Status.PASS, shakes


def test_family_6_dials_only_the_ipv6_addresses(lab: Lab) -> None:
    # Given a run restricted to IPv6 (--family 6)
    profile = load(lab.layout.profile)
    rep = check(lab, PROBES, namespace=NS, protocols=replace(profile.protocols, family=6))
    # Then the dual-stack host is checked at ::1 only and says IPv4 was left out; the IPv4-only host has no address
    assert {r.subject for r in results(rep, "tls.handshake", DUAL)} == {_v6(lab)}
    [line] = results(rep, "lb.family", DUAL)
    assert line.status is Status.PASS and "IPv4 not probed (--family 6)" in line.message, line.message
    assert results(rep, "lb.family", protocols.GRPC_HOST)[0].status is Status.SKIP
