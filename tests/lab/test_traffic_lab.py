"""Traffic annotations on the wire (issue 22), on the lab's Traefik: each check passes on the demo Ingresses
(ingresscheck_lab/traffic.py) and fails, naming what broke, when the data plane stops doing what they declare.

Most breaks change the live Ingress behind the declared one's back: the checks judge the objects as discovered
before the change, so the data plane then does something other than the declaration says, as a controller that
mis-implements an annotation would. The redirect break is Traefik's own: it drops ``$request_uri``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ingresscheck import runner
from ingresscheck.discovery import Inventory
from ingresscheck.discovery.kube import discover
from ingresscheck.kube import connect
from ingresscheck.probes import registry
from ingresscheck.profile import load
from ingresscheck.results import Report, Result, Status
from ingresscheck_lab import traffic
from ingresscheck_lab.lab import Lab

from .changes import check, converge, results, temporary

N = "nginx.ingress.kubernetes.io/"
PROBES = ["dns", "cors", "canary_annotations", "affinity", "redirect_annotations", "rewrite"]
NEW_CHECKS = (
    "cors.preflight",
    "canary.header",
    "canary.cookie",
    "canary.weight",
    "affinity.cookie",
    "redirect.annotation",
    "rewrite.target",
)


def _judge(lab: Lab, inventory: Inventory, probes: list[str]) -> Report:
    profile = load(lab.layout.profile)
    return runner.run(runner.plan(registry(), probes, None), profile, inventory, runner.RunOptions())


@contextmanager
def drifted(lab: Lab, name: str, annotations: dict[str, str | None]) -> Iterator[Callable[[list[str]], Report]]:
    """Change the live Ingress ``name``'s annotations; yield a runner judging the objects as declared before."""
    declared = discover(connect(lab.layout.kubeconfig, "lab"), traffic.NS)
    res = lab.writer()
    ref = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name, "namespace": traffic.NS}}
    original = res.get(ref)
    assert original is not None, name
    changed = copy.deepcopy({k: v for k, v in original.items() if k != "status"})
    live = changed["metadata"].setdefault("annotations", {})
    for key, value in annotations.items():
        if value is None:
            live.pop(N + key, None)
        else:
            live[N + key] = value
    res.replace(changed)
    try:
        yield lambda probes: _judge(lab, declared, probes)
    finally:
        current = res.get(ref)
        assert current is not None
        back = {k: v for k, v in original.items() if k != "status"}
        back["metadata"] = {**original["metadata"], "resourceVersion": current["metadata"]["resourceVersion"]}
        res.replace(back)
        time.sleep(2.5)  # Traefik applies changes at most every 2 s: the next test starts from the declared state


def _failed(report: Report, check_id: str, host: str) -> list[Result]:
    return [r for r in results(report, check_id, host) if r.status is Status.FAIL]


def _until_failed(check_id: str, host: str, text: str) -> Callable[[Report], bool]:
    return lambda rep: any(text in r.message for r in _failed(rep, check_id, host))


def test_every_traffic_annotation_check_passes_on_the_healthy_lab(lab: Lab) -> None:
    """Given the demo's annotated Ingresses, then every new check passes and nothing fails or errs."""
    rep = check(lab, PROBES + ["routing", "static"], traffic.NS)
    bad = [(r.check, r.host, r.subject, r.message) for r in rep.results if r.status in (Status.FAIL, Status.ERROR)]
    assert bad == []
    for check_id in NEW_CHECKS:
        got = results(rep, check_id)
        assert got and all(r.status is Status.PASS for r in got), (check_id, [(r.subject, r.message) for r in got])
    subjects = {(r.check, r.subject) for r in rep.results if r.check in NEW_CHECKS}
    assert ("cors.preflight", "preflight from a foreign origin") in subjects
    assert ("affinity.cookie", "with the cookie") in subjects and ("affinity.cookie", "without the cookie") in subjects
    assert {("redirect.annotation", a) for a in ("permanent-redirect", "temporal-redirect", "app-root")} <= subjects
    assert ("rewrite.target", "/api(/|$)(.*) in upper case") in subjects
    # the canary Ingresses are judged by canary.*, not as rivals or as routes of their own
    assert all(
        r.status is Status.SKIP
        for r in results(rep, "routing.backend", traffic.HOSTS["canary"])
        if "canary" in (r.ingress or "") and r.ingress != "canary-main"
    )


def test_cors_allowing_a_foreign_origin_fails_cors_preflight(lab: Lab) -> None:
    host = traffic.HOSTS["cors"]
    with drifted(
        lab, "cors", {"cors-allow-origin": "https://app.example.test, https://ingresscheck-foreign.invalid"}
    ) as judge:
        # Until BOTH foreign requests see the new config: Traefik may reload between the preflight and the GET.
        foreign = {"preflight from a foreign origin", "GET from a foreign origin"}
        rep = converge(
            lambda: judge(PROBES),
            lambda r: foreign <= {x.subject for x in _failed(r, "cors.preflight", host) if "is allowed" in x.message},
        )
    failed = {r.subject: r.message for r in _failed(rep, "cors.preflight", host)}
    assert set(failed) == foreign
    assert failed["preflight from a foreign origin"] == (
        "preflight from a foreign origin (https://ingresscheck-foreign.invalid) is allowed: "
        "Access-Control-Allow-Origin names the foreign origin https://ingresscheck-foreign.invalid, with credentials"
    )


def test_a_header_value_that_routes_to_the_main_backend_fails_canary_header(lab: Lab) -> None:
    host = traffic.HOSTS["canary"]
    with drifted(lab, "canary-by-request", {"canary-by-header-value": "no"}) as judge:
        rep = converge(lambda: judge(PROBES), _until_failed("canary.header", host, "X-Canary: yes should reach"))
    [r] = _failed(rep, "canary.header", host)
    assert (
        "X-Canary: yes should reach traffic/web-canary but traffic/web-stable 5/5 answered (the main backend)"
        in r.message
    )


def test_a_cookie_that_routes_to_the_main_backend_fails_canary_cookie(lab: Lab) -> None:
    host = traffic.HOSTS["canary"]
    with drifted(lab, "canary-by-request", {"canary-by-cookie": "another_cookie"}) as judge:
        rep = converge(lambda: judge(PROBES), _until_failed("canary.cookie", host, "lab_canary=always should reach"))
    [r] = _failed(rep, "canary.cookie", host)
    assert "cookie lab_canary=always should reach traffic/web-canary but traffic/web-stable 5/5 answered" in r.message


def test_another_weight_fails_canary_weight_with_the_binomial_test(lab: Lab) -> None:
    host = traffic.HOSTS["weighted"]
    with drifted(lab, "weighted-canary", {"canary-weight": "70"}) as judge:
        rep = converge(lambda: judge(PROBES), _until_failed("canary.weight", host, "not consistent"))
    [r] = _failed(rep, "canary.weight", host)
    assert "not consistent with canary-weight 20/100 at 99% confidence" in r.message
    assert r.evidence["requests"] == 200 and r.evidence["counts"]["traffic/weighted-next"] > 100


def test_a_cookie_that_is_not_sticky_fails_affinity_cookie(lab: Lab) -> None:
    """Given the controller setting its cookie under another name, then the declared cookie is not set, and
    carrying it does not keep a client on one pod."""
    host = traffic.HOSTS["sticky"]
    with drifted(lab, "sticky", {"session-cookie-name": "another_sticky"}) as judge:
        rep = converge(lambda: judge(PROBES), _until_failed("affinity.cookie", host, "is not sticky"))
    failed = {r.subject: r.message for r in _failed(rep, "affinity.cookie", host)}
    assert failed["cookie lab_sticky"].endswith(
        "sets no cookie lab_sticky (it sets another_sticky): affinity is not in effect"
    )
    assert failed["with the cookie"].startswith("cookie lab_sticky is not sticky: 10 requests carrying it reached api-")


def test_a_redirect_that_drops_the_path_fails_redirect_annotation(lab: Lab) -> None:
    """Given permanent-redirect to https://www.example.test$request_uri (ingress-nginx keeps path and query),
    then Traefik 3.7 answers without them, and redirect.annotation says it drops the path."""
    ing = traffic.ingress(
        "keep-path",
        traffic.NS,
        "keep-path.example.test",
        [("/", "Prefix", "api")],
        annotations={N + "permanent-redirect": "https://www.example.test$request_uri"},
    )
    with temporary(lab, ing):
        rep = converge(
            lambda: check(lab, ["dns", "redirect_annotations"], traffic.NS),
            _until_failed("redirect.annotation", "keep-path.example.test", "drops the path"),
        )
    [r] = _failed(rep, "redirect.annotation", "keep-path.example.test")
    assert r.subject == "permanent-redirect"
    assert "drops the path (Location path (none), expected /ingresscheck/deep/path); drops the query" in r.message


def test_a_rewrite_that_sends_the_wrong_path_fails_rewrite_target(lab: Lab) -> None:
    host = traffic.HOSTS["rewrite"]
    with drifted(lab, "rewrite", {"rewrite-target": "/v2/$2"}) as judge:
        rep = converge(lambda: judge(PROBES), _until_failed("rewrite.target", host, "the backend saw path"))
    failed = {r.subject: r.message for r in _failed(rep, "rewrite.target", host)}
    assert failed["/api(/|$)(.*)"] == (
        "GET /api/ingresscheck-sample: the backend saw path '/v2/ingresscheck-sample', not '/ingresscheck-sample'"
    )


def test_a_snippet_ingress_is_reported_and_traefik_does_not_serve_it(lab: Lab) -> None:
    """Given configuration-snippet on Traefik without allowSnippetAnnotations, then annotations.snippet warns
    that other controllers ignore it, and routing.backend shows Traefik skipped the whole Ingress."""
    host = traffic.HOSTS["snippet"]
    with temporary(lab, traffic.snippet_ingress()):
        rep = converge(
            lambda: check(lab, ["dns", "tls", "routing", "snippets"], traffic.NS),
            lambda rep: bool(_failed(rep, "routing.backend", host)),
        )
    [snippet] = results(rep, "annotations.snippet")
    assert snippet.status is Status.WARN and snippet.ingress == "snippet"
    assert "allowSnippetAnnotations" in snippet.message
    [r] = _failed(rep, "routing.backend", host)
    assert "fell through to the default backend" in r.message


def test_a_weighted_canary_on_another_host_sharing_the_main_service_takes_this_hosts_traffic(lab: Lab) -> None:
    """Given another host whose main Ingress uses canary.example.test's main Service (web-stable) with a 50 %
    canary, then Traefik 3.7 applies that weight to canary.example.test too: its header no longer picks the canary
    alone, and canary.header fails naming the main backend (a real Traefik defect, not a changed declaration)."""
    host = traffic.HOSTS["canary"]
    shared = [
        traffic.ingress("shared-main", traffic.NS, "shared.example.test", [("/", "Prefix", "web-stable")]),
        traffic.ingress(
            "shared-canary",
            traffic.NS,
            "shared.example.test",
            [("/", "Prefix", "web-canary")],
            annotations={N + "canary": "true", N + "canary-weight": "50"},
        ),
    ]
    with temporary(lab, *shared):
        rep = converge(
            lambda: check(lab, ["dns", "canary_annotations"], traffic.NS),
            _until_failed(
                "canary.header", host, "X-Canary: yes should reach traffic/web-canary but traffic/web-stable"
            ),
        )
    [r] = _failed(rep, "canary.header", host)
    assert "X-Canary: yes should reach traffic/web-canary but traffic/web-stable" in r.message
    assert "(the main backend)" in r.message
