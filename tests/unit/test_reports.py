"""The report writers: JSON shape, redaction, JUnit XML and the self-contained HTML page."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from ingresscheck.reports import redact, report_dict, write_html, write_json, write_junit
from ingresscheck.reports._html import read_embedded
from ingresscheck.results import Report, Result, Severity, Status, Step

# --- a realistic report -----------------------------------------------------------------------

# credentials planted in the evidence; none of them may reach a report file
BASIC_CREDENTIAL = base64.b64encode(b"alice:SEKRIT-basic-pw").decode()
BEARER_TOKEN = "eyJhbGciOiJIUzI1NiJ9.SEKRIT-bearer.c2lnbmF0dXJl"
SECRETS = [
    BASIC_CREDENTIAL,
    BEARER_TOKEN,
    "SEKRIT-password-field",
    "SEKRIT-url-pass",
    "SEKRIT-query-token",
    "SEKRIT-session-cookie",
    "SEKRIT-tls-key",
    "SEKRIT-server-pass",
]

START = dt.datetime(2025, 11, 26, 10, 30, 0, tzinfo=dt.UTC)
HOSTS = ["api.example.test", "docs.example.test", "shop.example.test"]


def _request(method: str, url: str, **headers: str) -> dict[str, Any]:
    return {"method": method, "url": url, "headers": {"User-Agent": "ingresscheck/0.1.0", **headers}}


def _response(status: int, *, ms: float, **headers: str) -> dict[str, Any]:
    return {
        "status": status,
        "http_version": "HTTP/1.1",
        "headers": headers,
        "timings_ms": {"connect": round(ms * 0.3, 1), "tls": round(ms * 0.3, 1), "ttfb": ms},
    }


def result(
    check: str,
    status: Status,
    step: Step,
    message: str,
    *,
    host: str | None = None,
    namespace: str | None = "shop",
    ingress: str | None = None,
    severity: Severity = Severity.MAJOR,
    evidence: dict[str, Any] | None = None,
    remediation: str = "",
    ms: float = 5.0,
) -> Result:
    return Result(
        probe=check.split(".")[0],
        check=check,
        status=status,
        severity=severity,
        message=message,
        step=step,
        host=host,
        namespace=namespace,
        ingress=ingress,
        evidence=evidence or {},
        remediation=remediation,
        duration_ms=ms,
    )


def make_results() -> list[Result]:
    api: dict[str, Any] = {"host": "api.example.test", "ingress": "api"}
    shop: dict[str, Any] = {"host": "shop.example.test", "ingress": "storefront"}
    docs: dict[str, Any] = {"host": "docs.example.test", "ingress": "docs", "namespace": "web"}
    challenge = {"WWW-Authenticate": 'Basic realm="traefik"'}
    return [
        # api.example.test: all good but the auth realm; its DNS step takes 4.5 + 7.5 = 12 ms
        result(
            "dns.resolves",
            Status.PASS,
            Step.DNS,
            "api.example.test resolves to 127.0.0.10",
            **api,
            severity=Severity.CRITICAL,
            ms=4.5,
            evidence={
                "query": {"name": "api.example.test", "type": "A", "server": "127.0.0.53:53"},
                "answers": ["127.0.0.10"],
                "ttl": 30,
                "timings_ms": {"resolve": 4.5},
            },
        ),
        result(
            "dns.matches_lb",
            Status.PASS,
            Step.DNS,
            "the address is the load balancer's VIP",
            **api,
            ms=7.5,
            evidence={"answers": ["127.0.0.10"], "lb_addresses": ["127.0.0.10"]},
        ),
        result(
            "redirect.https",
            Status.PASS,
            Step.LB,
            "http:// redirects to https:// with 308",
            **api,
            ms=9.2,
            evidence={
                "request": _request("GET", "http://api.example.test/"),
                "response": _response(308, ms=9.2, Location="https://api.example.test/"),
            },
        ),
        result(
            "tls.hostname",
            Status.PASS,
            Step.TLS,
            "the certificate covers api.example.test",
            **api,
            severity=Severity.CRITICAL,
            ms=14.8,
            evidence={
                "subject": "CN=api.example.test",
                "sans": ["api.example.test"],
                "issuer": "CN=ingresscheck lab CA",
                "not_after": "2026-02-24T10:00:00Z",
                "secret": {
                    "name": "api-tls",
                    "namespace": "shop",
                    "type": "kubernetes.io/tls",
                    "data": {"tls.crt": "LS0tLS1CRUdJTi...", "tls.key": "SEKRIT-tls-key"},
                },
            },
        ),
        result(
            "auth.realm",
            Status.WARN,
            Step.INGRESS,
            'the Basic realm is the controller default "traefik"',
            **api,
            severity=Severity.MINOR,
            ms=11.0,
            remediation="Set a realm naming the app in the basic-auth middleware.",
            evidence={
                "request": _request("GET", "https://api.example.test/admin", Authorization=f"Basic {BASIC_CREDENTIAL}"),
                "response": _response(401, ms=11.0, **challenge),
            },
        ),
        result(
            "routing.backend",
            Status.PASS,
            Step.BACKEND,
            "Host api.example.test reaches service shop/api",
            **api,
            ms=21.3,
            evidence={
                "request": _request(
                    "GET",
                    "https://api.example.test/",
                    Authorization=f"Bearer {BEARER_TOKEN}",
                    Cookie="session=SEKRIT-session-cookie",
                ),
                "response": _response(200, ms=21.3, **{"Content-Type": "application/json"}),
                "echo": {
                    "pod": "api-7d9c5b-xk2lp",
                    "service": "api",
                    "seen_headers": [["Authorization", f"Bearer {BEARER_TOKEN}"]],
                },
            },
        ),
        # shop.example.test: no redirect, wrong certificate, so routing was not tried; auth errored
        result(
            "dns.resolves",
            Status.PASS,
            Step.DNS,
            "shop.example.test resolves to 127.0.0.10",
            **shop,
            severity=Severity.CRITICAL,
            ms=3.9,
            evidence={"query": {"name": "shop.example.test", "type": "A"}, "answers": ["127.0.0.10"]},
        ),
        result(
            "redirect.https",
            Status.FAIL,
            Step.LB,
            "http:// answered 200 instead of redirecting to https://",
            **shop,
            ms=8.1,
            remediation="Enable the HTTP to HTTPS redirect on the web entrypoint.",
            evidence={
                "request": _request("GET", "http://shop.example.test/"),
                "response": _response(200, ms=8.1, **{"Content-Type": "text/html"}),
            },
        ),
        result(
            "tls.hostname",
            Status.FAIL,
            Step.TLS,
            "the certificate does not cover shop.example.test",
            **shop,
            severity=Severity.CRITICAL,
            ms=16.4,
            remediation="Issue a certificate for shop.example.test into secret shop/storefront-tls.",
            evidence={
                "sans": ["*.example.org", "example.org"],
                "subject": "CN=*.example.org",
                "secret": {"name": "storefront-tls", "namespace": "shop", "data": {"tls.key": "SEKRIT-tls-key"}},
            },
        ),
        result("routing.backend", Status.SKIP, Step.BACKEND, "not tried: TLS failed", **shop, ms=0.0),
        result(
            "auth.realm",
            Status.ERROR,
            Step.INGRESS,
            "could not decide: the connection was reset",
            **shop,
            ms=30.2,
            evidence={
                "upstream": "https://deploy:SEKRIT-url-pass@registry.example.test/v2/",
                "error": "ConnectionResetError(104)",
            },
        ),
        # docs.example.test: everything checked passes; nothing looked at its Ingress step
        result("dns.resolves", Status.PASS, Step.DNS, "docs.example.test resolves", **docs, ms=2.0),
        result("tls.hostname", Status.PASS, Step.TLS, "the certificate covers docs.example.test", **docs, ms=12.0),
        result(
            "routing.backend",
            Status.PASS,
            Step.BACKEND,
            "Host docs.example.test reaches web/docs",
            **docs,
            ms=18.0,
            evidence={"response": _response(200, ms=18.0)},
        ),
        # cluster-wide: static checks of objects
        result(
            "static.backend_service",
            Status.FAIL,
            Step.BACKEND,
            "Ingress shop/legacy points at Service legacy-svc, which does not exist",
            ingress="legacy",
            remediation="Create Service shop/legacy-svc or point the Ingress at an existing one.",
            ms=0.4,
            evidence={
                "backend": {"service": "legacy-svc", "port": 8080},
                "services_in_namespace": ["api", "storefront"],
            },
        ),
        result(
            "static.ingress_class",
            Status.PASS,
            Step.INGRESS,
            "every Ingress names an IngressClass",
            namespace=None,
            ms=0.2,
            evidence={"ingress_classes": ["traefik"]},
        ),
        result(
            "exposure.callback",
            Status.WARN,
            Step.INGRESS,
            "an OAuth callback is served over plain HTTP too",
            ingress="api",
            severity=Severity.MINOR,
            ms=0.3,
            evidence={
                "callback": "https://api.example.test/oauth/cb?access_token=SEKRIT-query-token&state=x",
                "see": "https://kubernetes.io/docs/concepts/services-networking/ingress/",
                "db": {"password": "SEKRIT-password-field", "user": "shop"},
            },
        ),
    ]


def make_report(results: list[Result] | None = None, **overrides: Any) -> Report:
    fields: dict[str, Any] = {
        "started": START,
        "finished": START + dt.timedelta(seconds=7, milliseconds=420),
        "context": "ingress-lab",
        "server": "https://admin:SEKRIT-server-pass@127.0.0.1:6443",
        "results": make_results() if results is None else results,
    }
    return Report(**{**fields, **overrides})


WRITERS: dict[str, Callable[[Report, Path], Path]] = {
    "json": write_json,
    "junit": write_junit,
    "html": write_html,
}


# --- JSON -------------------------------------------------------------------------------------


def test_json_has_the_v2_shape(tmp_path: Path) -> None:
    """Given a report, when written as JSON, then the file has exactly the v2 keys (v1's plus kind, name,
    subject) and counts."""
    report = make_report()
    data = json.loads(write_json(report, tmp_path / "report.json").read_text(encoding="utf-8"))

    assert set(data) == {"schema", "started", "finished", "cluster", "summary", "results"}
    assert data["schema"] == "ingresscheck.report/v2"
    assert data["cluster"] == {"context": "ingress-lab", "server": "https://admin:[redacted]@127.0.0.1:6443"}
    assert data["summary"] == {"pass": 10, "fail": 3, "warn": 2, "skip": 1, "error": 1}
    assert sum(data["summary"].values()) == len(data["results"]) == len(report.results)
    required = {
        "probe",
        "check",
        "status",
        "severity",
        "host",
        "namespace",
        "ingress",
        "message",
        "evidence",
        "duration_ms",
        "step",
        "remediation",
        "kind",
        "name",
        "subject",
    }
    for written, original in zip(data["results"], report.results, strict=True):
        assert set(written) == required
        assert (written["check"], written["status"], written["step"]) == (
            original.check,
            original.status.value,
            original.step.value,
        )
        assert isinstance(written["duration_ms"], float)
        assert isinstance(written["evidence"], dict)
    static = next(r for r in data["results"] if r["check"] == "static.ingress_class")
    assert static["host"] is None and static["namespace"] is None


def test_json_times_are_utc() -> None:
    """Given aware, naive and non-UTC times, when rendered, then both are UTC ISO 8601 with Z."""
    plus_two = dt.timezone(dt.timedelta(hours=2))
    report = make_report(
        started=dt.datetime(2025, 11, 26, 12, 30, tzinfo=plus_two),
        finished=dt.datetime(2025, 11, 26, 10, 30, 7, 420000),
    )
    data = report_dict(report)

    assert data["started"] == "2025-11-26T10:30:00.000Z"
    assert data["finished"] == "2025-11-26T10:30:07.420Z"
    for key in ("started", "finished"):
        assert dt.datetime.fromisoformat(data[key]).utcoffset() == dt.timedelta(0)


def test_json_sections_only_when_present() -> None:
    """Given reports with and without sections, then "sections" appears only when there are some."""
    assert "sections" not in report_dict(make_report())
    reload = {"p50_ms": 180.5, "p99_ms": 912.0, "samples": 40}
    assert report_dict(make_report(sections={"reload": reload}))["sections"] == {"reload": reload}


def test_json_accepts_evidence_python_types(tmp_path: Path) -> None:
    """Given evidence with tuples, bytes, sets and datetimes, when written, then it is valid JSON."""
    evidence: dict[Any, Any] = {
        "addrs": ("127.0.0.10", "127.0.0.11"),
        "body": b"ok\n",
        "raw": b"\xff\xfe",
        "ports": {443, 80},
        "at": START,
        "ratio": float("nan"),
        404: "int key",
    }
    report = make_report([result("dns.resolves", Status.PASS, Step.DNS, "ok", host="a.test", evidence=evidence)])
    data = json.loads(write_json(report, tmp_path / "r.json").read_text(encoding="utf-8"))

    assert data["results"][0]["evidence"] == {
        "addrs": ["127.0.0.10", "127.0.0.11"],
        "body": "ok\n",
        "raw": {"base64": "//4="},
        "ports": [80, 443],
        "at": "2025-11-26T10:30:00.000Z",
        "ratio": "nan",
        "404": "int key",
    }


def test_json_matches_report_dict(tmp_path: Path) -> None:
    """Given a report, when written, then the file holds report_dict and the writer creates parent dirs."""
    report = make_report(sections={"reload": {"p50_ms": 12}})
    path = write_json(report, tmp_path / "nested" / "dir" / "report.json")
    assert json.loads(path.read_text(encoding="utf-8")) == report_dict(report)


# --- redaction ----------------------------------------------------------------------------------

R = "[redacted]"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "[redacted]"}),
        (
            {"headers": {"proxy-authorization": "x", "COOKIE": "a=b", "Set-Cookie": ["s=1", "t=2"]}},
            {"headers": {"proxy-authorization": "[redacted]", "COOKIE": "[redacted]", "Set-Cookie": "[redacted]"}},
        ),
        (
            {"password": "hunter2", "db_password": "x", "adminPassword": 7, "token": None},
            {"password": R, "db_password": R, "adminPassword": R, "token": R},
        ),
        (
            {"refresh_token": "r", "x-auth-token": "t", "accessToken": "a", "tokens_seen": 3},
            {"refresh_token": R, "x-auth-token": R, "accessToken": R, "tokens_seen": 3},
        ),
        ({"secret": "s3cr3t"}, {"secret": R}),
        (
            {"secret": {"name": "api-tls", "type": "kubernetes.io/tls", "data": {"tls.key": "k"}, "stringData": {}}},
            {"secret": {"name": "api-tls", "type": "kubernetes.io/tls", "data": R, "stringData": R}},
        ),
        ({"data": {"plain": "kept"}}, {"data": {"plain": "kept"}}),
        (
            [{"headers": [["Authorization", "Bearer abc"], ["Accept", "*/*"]]}],
            [{"headers": [["Authorization", "[redacted]"], ["Accept", "*/*"]]}],
        ),
        ((("Cookie", "a=b"), ("Host", "x")), [["Cookie", "[redacted]"], ["Host", "x"]]),  # tuples become JSON arrays
        ({"n": 1, "ok": True, "none": None, "ms": 1.5}, {"n": 1, "ok": True, "none": None, "ms": 1.5}),
    ],
)
def test_redact_by_key(given: Any, expected: Any) -> None:
    """Given sensitive keys at any depth, when redacted, then only their values are masked."""
    assert redact(given) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://user:pass@host.test/x", "https://user:[redacted]@host.test/x"),
        ("clone https://deploy:p@ss@git.test/r.git now", "clone https://deploy:[redacted]@git.test/r.git now"),
        ("https://host.test/cb?access_token=abc123&state=x", "https://host.test/cb?access_token=[redacted]&state=x"),
        ("https://host.test/?password=pw#top", "https://host.test/?password=[redacted]#top"),
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: [redacted]"),
        ("sent Basic dXNlcjpwYXNz== to the origin", "sent Basic [redacted] to the origin"),
        ("header was bearer eyJ.abc.def", "header was bearer [redacted]"),
        ("GET / HTTP/1.1\r\nCookie: s=1\r\nHost: a\r\n", "GET / HTTP/1.1\r\nCookie: [redacted]\r\nHost: a\r\n"),
        ('{"Authorization": "x y", "path": "/"}', '{"Authorization": "[redacted]", "path": "/"}'),
        (
            "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
            "-----BEGIN PRIVATE KEY-----[redacted]-----END PRIVATE KEY-----\n",
        ),
        # kept: a challenge's auth-params, prose, and links without credentials
        ('Basic realm="traefik", charset="UTF-8"', 'Basic realm="traefik", charset="UTF-8"'),
        ('Bearer error="invalid_token"', 'Bearer error="invalid_token"'),
        ("expected a Basic auth challenge", "expected a Basic auth challenge"),
        ("see https://kubernetes.io/docs/?q=tls", "see https://kubernetes.io/docs/?q=tls"),
        ("10:30:00 took 12 ms", "10:30:00 took 12 ms"),
    ],
)
def test_redact_in_strings(given: str, expected: str) -> None:
    """Given credentials inside strings, when redacted, then they are masked and the rest is kept."""
    assert redact(given) == expected
    assert redact(redact(given)) == expected  # redacting twice changes nothing more


def test_the_quick_screen_lets_every_credential_name_through() -> None:
    """Given every name redaction treats as sensitive, in any case, inside text, then the quick screen that
    spares plain strings the patterns lets it through (the screen may only save time, never skip a mask)."""
    from ingresscheck.reports._redact import _SENSITIVE_KEYS, _SENSITIVE_SUFFIXES, _may_hold_credentials

    names = [*_SENSITIVE_KEYS, *(f"x_{suffix}" for suffix in _SENSITIVE_SUFFIXES), "Basic", "Bearer", "u:p@h"]
    for name in names:
        for spelled in (name, name.upper(), name.title()):
            assert _may_hold_credentials(f"a line with {spelled}: value"), spelled
    assert not _may_hold_credentials("GET /v1 HTTP/1.1 200 OK in 12 ms")
    assert _may_hold_credentials("x-Key")  # non-ASCII always takes the full path
    # and what it lets through is masked as before, whatever the case
    assert redact({"text": "AUTHORIZATION: Basic dXNlcjpwYXNz", "PassWord": "x"}) == {
        "text": "AUTHORIZATION: [redacted]",
        "PassWord": "[redacted]",
    }


def test_redact_leaves_no_garbage_cycles() -> None:
    """Given a redaction pass, when it returns, then its working memory is freed at once (no reference
    cycle keeps a 1,000-host report's memo alive until the next full collection)."""
    import gc

    evidence = [{"certificate": {"san": ["*.example.test"]}, "n": i} for i in range(100)]
    gc.collect()
    gc.disable()
    try:
        redact({"results": evidence})
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_redact_never_mutates_its_input() -> None:
    """Given nested evidence, when redacted, then the input is unchanged and shares no containers."""
    evidence: dict[str, Any] = {
        "request": {"headers": {"Authorization": "Basic abc"}, "url": "https://u:p@h.test/"},
        "list": [{"token": "t"}],
        "pair": ("Cookie", "c"),
    }
    before = copy.deepcopy(evidence)
    out = redact(evidence)

    assert evidence == before
    assert out["request"] is not evidence["request"] and out["list"][0] is not evidence["list"][0]
    assert out["pair"] == ["Cookie", "[redacted]"]  # JSON arrays
    results = make_results()
    snapshot = copy.deepcopy([r.evidence for r in results])
    report_dict(make_report(results))
    assert [r.evidence for r in results] == snapshot


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_no_credential_reaches_any_output(tmp_path: Path, kind: str) -> None:
    """Given evidence holding credentials, when each writer runs, then no credential is in the file."""
    text = WRITERS[kind](make_report(), tmp_path / f"report.{kind}").read_text(encoding="utf-8")
    if kind == "html":  # the evidence travels compressed: look inside too
        text += json.dumps(read_embedded(text), ensure_ascii=False)

    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into the {kind} report"
    assert "SEKRIT" not in text
    if kind != "junit":  # JUnit carries evidence of failures only
        assert "[redacted]" in text
        assert "realm=" in text  # the challenge itself is not a credential


# --- JUnit --------------------------------------------------------------------------------------


def test_junit_parses_and_counts_match(tmp_path: Path) -> None:
    """Given a report, when written as JUnit, then suites per probe carry correct counts and cases."""
    report = make_report()
    root = ET.parse(write_junit(report, tmp_path / "junit.xml")).getroot()

    assert root.tag == "testsuites"
    counts = {k: root.get(k) for k in ("tests", "failures", "errors", "skipped")}
    assert counts == {"tests": "17", "failures": "3", "errors": "1", "skipped": "1"}
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    probes = sorted({r.probe for r in report.results})
    assert sorted(name or "" for name in suites) == [f"ingresscheck.{p}" for p in probes]
    for probe in probes:
        suite, mine = suites[f"ingresscheck.{probe}"], [r for r in report.results if r.probe == probe]
        cases = suite.findall("testcase")
        assert int(suite.get("tests", "")) == len(cases) == len(mine)
        for attr, status in (("failures", Status.FAIL), ("errors", Status.ERROR), ("skipped", Status.SKIP)):
            assert int(suite.get(attr, "")) == sum(r.status is status for r in mine)
        assert {c.get("classname") for c in cases} == {f"ingresscheck.{probe}"}


def test_junit_testcases_describe_each_result(tmp_path: Path) -> None:
    """Given fail, error, skip, warn and pass results, then each testcase says so the JUnit way."""
    root = ET.parse(write_junit(make_report(), tmp_path / "junit.xml")).getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}

    failed = cases["tls.hostname [shop/storefront/shop.example.test]"]
    failure = failed.find("failure")
    assert failure is not None
    assert failure.get("message") == "the certificate does not cover shop.example.test"
    assert failure.text is not None
    assert "Issue a certificate for shop.example.test" in failure.text
    evidence = json.loads(failure.text.split("Evidence: ", 1)[1])
    assert evidence["sans"] == ["*.example.org", "example.org"]
    assert evidence["secret"]["data"] == "[redacted]"
    assert failed.get("time") == "0.016"

    errored = cases["auth.realm [shop/storefront/shop.example.test]"]
    assert errored.find("error") is not None and errored.find("failure") is None
    skipped = cases["routing.backend [shop/storefront/shop.example.test]"].find("skipped")
    assert skipped is not None and skipped.get("message") == "not tried: TLS failed"
    warned = cases["auth.realm [shop/api/api.example.test]"]
    assert list(warned) == [warned.find("system-out")]
    assert warned.findtext("system-out") == 'WARN: the Basic realm is the controller default "traefik"'
    passed = cases["routing.backend [shop/api/api.example.test]"]
    assert list(passed) == [] and passed.get("time") == "0.021"
    # results without a host: the check, then namespace/name when they have one
    assert "static.backend_service [shop/legacy]" in cases
    assert "static.ingress_class" in cases


def test_junit_testcase_names_are_unique_per_subject(tmp_path: Path) -> None:
    """Given one check judging several rules and addresses of one host, then each testcase name says
    which, and no name repeats within a suite (issue 14: path_type repeated six times)."""
    base = {"host": "api.example.test", "namespace": "demo", "ingress": "api"}
    results = [
        Result(
            probe="routing",
            check="routing.path_type",
            status=Status.PASS,
            severity=Severity.MAJOR,
            message="ok",
            step=Step.INGRESS,
            subject=subject,
            **base,
        )
        for subject in ("/v1 Prefix", "/v1/exact Exact", "/ Prefix")
    ]
    results += [
        Result(
            probe="tls",
            check="tls.handshake",
            status=Status.PASS,
            severity=Severity.CRITICAL,
            message="ok",
            step=Step.TLS,
            subject=a,
            **base,
        )
        for a in ("127.0.0.10:443", "127.0.0.11:443")
    ]
    results += [
        Result(
            probe="tls",
            check="tls.handshake",
            status=Status.PASS,
            severity=Severity.CRITICAL,
            message="again",
            step=Step.TLS,
            subject="127.0.0.10:443",
            **base,
        )
    ]
    root = ET.parse(write_junit(make_report(results), tmp_path / "j.xml")).getroot()

    names = [c.get("name") for c in root.iter("testcase")]
    assert names == [
        "routing.path_type [demo/api/api.example.test] /v1 Prefix",
        "routing.path_type [demo/api/api.example.test] /v1/exact Exact",
        "routing.path_type [demo/api/api.example.test] / Prefix",
        "tls.handshake [demo/api/api.example.test] 127.0.0.10:443",
        "tls.handshake [demo/api/api.example.test] 127.0.0.11:443",
        "tls.handshake [demo/api/api.example.test] 127.0.0.10:443 #2",
    ]


def test_junit_escapes_markup_and_control_characters(tmp_path: Path) -> None:
    """Given text with markup, quotes and control characters, then the XML is still valid."""
    nasty = 'body <b>&"quoted"</b> \x1b[31mred\x00 \ud800'
    report = make_report(
        [
            result(
                "routing.backend",
                Status.FAIL,
                Step.BACKEND,
                nasty,
                host="a.test",
                evidence={"body": nasty},
                remediation="use <this> & that",
            )
        ]
    )
    root = ET.parse(write_junit(report, tmp_path / "junit.xml")).getroot()
    failure = root.find("./testsuite/testcase/failure")

    assert failure is not None
    assert failure.get("message", "").startswith('body <b>&"quoted"</b> \\x1b[31mred\\x00')
    assert "use <this> & that" in (failure.text or "")


# --- HTML ---------------------------------------------------------------------------------------


@dataclass
class Node:
    tag: str
    attrs: dict[str, str | None]
    children: list[Node] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.walk()

    def find_all(self, tag: str, **attrs: str) -> list[Node]:
        return [n for n in self.walk() if n.tag == tag and all(n.attrs.get(k) == v for k, v in attrs.items())]

    def content(self) -> str:
        return "".join(self.text) + "".join(c.content() for c in self.children)


class _TreeBuilder(HTMLParser):
    VOID = {"meta", "link", "br", "col", "img", "input", "hr", "source", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].text.append(data)


def parse_html(text: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root


RELOAD_SECTION = {
    "propagation": {
        "create": {"p50": 180.5, "p95": 912.0, "max": 1200.0, "n": 3, "failed": 0},
        "update": {"p50": 90.0, "p95": 120.0, "max": 130.0, "n": 3, "failed": 0},
        "delete": {"p50": 70.0, "p95": 80.0, "max": 81.0, "n": 3, "failed": 1},
    },
    "traffic": {
        "target_rate": 100,
        "achieved_rate": 99.8,
        "sent": 300,
        "counts": {"ok": 298, "bad_status": 2},
        "latency_ms": {
            "corrected": {"p50": 2.0, "p99": 350.0, "max": 400.0},
            "uncorrected": {"p50": 2.0, "p99": 9.0, "max": 12.0},
        },
        "timeline": [
            {"t": 0, "sent": 100, "ok": 100, "errors": 0, "p50_ms": 2, "p99_ms": 5},
            {"t": 1, "sent": 100, "ok": 98, "errors": 2, "p50_ms": 3, "p99_ms": 350},
            {"t": 2, "sent": 100, "ok": 100, "errors": 0, "p50_ms": 2, "p99_ms": 6},
        ],
        "events": [{"label": "round 1 create", "t_ms": 1100.0}],
        "errors": [
            {
                "t_ms": 1200.0,
                "kind": "bad_status",
                "status": 502,
                "detail": "Bad Gateway",
                "after_event": "round 1 create",
                "since_event_ms": 100.0,
            }
        ],
    },
    "scale": [
        {"ingresses": 10, "create": {"p95": 900.0}, "update": {"p95": 100.0}, "delete": {"p95": 80.0}},
        {"ingresses": 1000, "create": {"p95": 2900.0}, "update": {"p95": 400.0}, "delete": {"p95": 300.0}},
    ],
}


@pytest.fixture(scope="module")
def html_text(tmp_path_factory: pytest.TempPathFactory) -> str:
    report = make_report(sections={"reload": RELOAD_SECTION})
    return write_html(report, tmp_path_factory.mktemp("html") / "report.html").read_text(encoding="utf-8")


def _matrix_rows(doc: Node) -> list[Node]:
    return [n for n in doc.find_all("tr") if "hostrow" in (n.attrs.get("class") or "")]


def test_html_matrix_has_a_row_per_host_failures_first(html_text: str) -> None:
    """Given three hosts, then the matrix has a row each, worst first, with the five steps in chain order."""
    doc = parse_html(html_text)
    rows = _matrix_rows(doc)

    # shop has an error and fails, api only a warning, docs passes
    assert [r.attrs["data-host"] for r in rows] == ["shop.example.test", "api.example.test", "docs.example.test"]
    assert [r.attrs["data-worst"] for r in rows] == ["error", "warn", "pass"]
    heads = [th.attrs.get("data-sort") for th in doc.find_all("th") if th.attrs.get("data-sort")]
    assert heads == ["host", "worst", *[s.value for s in Step], "bad"]
    for row in rows:
        assert [c.attrs["data-step"] for c in row.find_all("td") if "data-step" in c.attrs] == [s.value for s in Step]


def test_html_colours_steps_by_their_worst_result(html_text: str) -> None:
    """Given results per step, then a cell takes the worst status and its probes' time (latest result each)."""
    doc = parse_html(html_text)

    def cell(host: str, step: Step) -> Node:
        (row,) = [r for r in _matrix_rows(doc) if r.attrs["data-host"] == host]
        (found,) = row.find_all("td", **{"data-step": step.value})
        return found

    assert cell("shop.example.test", Step.TLS).attrs["data-state"] == "fail"
    assert cell("shop.example.test", Step.INGRESS).attrs["data-state"] == "error"
    assert cell("shop.example.test", Step.BACKEND).attrs["data-state"] == "skip"
    assert cell("api.example.test", Step.INGRESS).attrs["data-state"] == "warn"
    dns = cell("api.example.test", Step.DNS)
    assert dns.attrs["data-state"] == "pass" and "st-pass" in (dns.attrs["class"] or "")
    dns_rows = [r for r in make_results() if r.host == "api.example.test" and r.step is Step.DNS]
    assert f"{max(r.duration_ms for r in dns_rows):g} ms" in (dns.attrs["title"] or "")
    unchecked = cell("docs.example.test", Step.INGRESS)
    assert unchecked.attrs["data-state"] == "none" and "0 results" in (unchecked.attrs["title"] or "")


def test_html_findings_group_the_same_finding_across_hosts(tmp_path: Path) -> None:
    """Given one warning on 40 hosts and one failure on 1, then there are two findings, the failure first,
    the warning listing its 40 hosts once each, linked to their matrix rows."""
    hosts = [f"h{i:02d}.example.test" for i in range(40)]
    results = [
        result(
            "dns.wildcard",
            Status.WARN,
            Step.DNS,
            f"{h} falls under the wildcard *.example.test",
            host=h,
            ingress=f"ing-{i}",
            severity=Severity.MINOR,
        )
        for i, h in enumerate(hosts)
    ]
    results += [
        result(
            "dns.wildcard",
            Status.WARN,
            Step.DNS,
            "h07.example.test falls under the wildcard *.example.test",
            host="h07.example.test",
            ingress="ing-7",
            severity=Severity.MINOR,
        )
    ]
    results += [
        result(
            "tls.expiry",
            Status.FAIL,
            Step.TLS,
            "the certificate expired 3 days ago",
            host="h05.example.test",
            severity=Severity.CRITICAL,
        )
    ]
    doc = parse_html(write_html(make_report(results), tmp_path / "r.html").read_text(encoding="utf-8"))

    findings = [n for n in doc.find_all("li") if "data-finding" in n.attrs]
    assert [(f.attrs["data-status"], f.find_all("code")[0].content()) for f in findings] == [
        ("fail", "tls.expiry"),
        ("warn", "dns.wildcard"),
    ]
    wildcard = findings[1]
    links = [a for a in wildcard.find_all("a") if "hostlink" in (a.attrs.get("class") or "")]
    assert sorted(a.content() for a in links) == hosts
    assert "40 hosts" in wildcard.content() and "and 34 more" in wildcard.content()
    index = {r.attrs["data-host"]: r.attrs["id"] for r in _matrix_rows(doc)}
    assert all(a.attrs["href"] == f"#{index[a.content()]}" for a in links)
    assert index["h05.example.test"] == "host-0"  # the failing host leads the matrix


def test_html_embeds_every_result_with_its_evidence(html_text: str) -> None:
    """Given the report, then every result travels in the page (compressed), redacted, linked to its finding."""
    embedded = read_embedded(html_text)
    expected = sorted((r.status.value, r.check, r.host or "") for r in make_results())

    assert sorted((r["status"], r["check"], r["host"] or "") for r in embedded["results"]) == expected
    row = next(r for r in embedded["results"] if r["check"] == "static.backend_service")
    assert row["evidence"]["backend"] == {"service": "legacy-svc", "port": 8080}
    assert "Create Service shop/legacy-svc" in row["remediation"]
    for r, finding in zip(embedded["results"], embedded["finding"], strict=True):
        assert (finding >= 0) == (r["status"] in ("fail", "error", "warn"))
    text = json.dumps(embedded)
    assert "SEKRIT" not in text and "[redacted]" in text


def test_html_cluster_wide_block_counts_results_without_a_host(html_text: str) -> None:
    """Given results without a host, then a cluster-wide block counts them, its rows opened on demand."""
    doc = parse_html(html_text)
    (cluster,) = [n for n in doc.find_all("section") if n.attrs.get("id") == "cluster"]
    assert "Cluster-wide" in cluster.content() and "Show 3 results" in cluster.content()


def test_html_header_has_summary_cluster_and_times(html_text: str) -> None:
    """Given the report, then the top shows counts by status, the cluster and the UTC run times."""
    doc = parse_html(html_text)
    summary = {
        n.attrs["data-summary"]: [c.content() for c in n.children] for n in doc.walk() if "data-summary" in n.attrs
    }

    assert summary == {
        "total": ["17", "checks"],
        "hosts": ["3", "hosts · 1 failing"],
        "pass": ["10", "pass"],
        "fail": ["3", "fail"],
        "warn": ["2", "warn"],
        "skip": ["1", "skip"],
        "error": ["1", "error"],
    }
    meta = {n.attrs["data-meta"]: n.content() for n in doc.walk() if "data-meta" in n.attrs}
    assert meta == {
        "context": "ingress-lab",
        "server": "https://admin:[redacted]@127.0.0.1:6443",
        "started": "2025-11-26 10:30:00 UTC",
        "finished": "2025-11-26 10:30:07 UTC",
        "duration": "7.4 s",
    }


def test_html_loads_no_external_resources(html_text: str) -> None:
    """Given evidence full of links, then no src/href/url() on the page points outside it."""
    doc = parse_html(html_text)
    loading = {"src", "href", "srcset", "poster", "data", "action", "formaction", "background", "manifest"}
    urls = [v or "" for n in doc.walk() for k, v in n.attrs.items() if k in loading]

    assert not [u for u in urls if re.match(r"\s*(https?:)?//", u, re.IGNORECASE)]
    assert all(u.startswith(("data:", "#")) for u in urls)
    assert all("src" not in s.attrs for s in doc.find_all("script"))
    assert not [n for n in doc.find_all("link") if n.attrs.get("rel") == "stylesheet"]
    css = " ".join(s.content() for s in doc.find_all("style"))
    assert "@import" not in css and not re.search(r"url\(", css)
    # a link in the evidence is data, never a reference the page follows
    assert "https://kubernetes.io/docs/concepts/services-networking/ingress/" in json.dumps(read_embedded(html_text))


def test_html_escapes_result_text(tmp_path: Path) -> None:
    """Given markup in a message and evidence, then it is shown as text, never as markup."""
    report = make_report(
        [
            result(
                "routing.backend",
                Status.FAIL,
                Step.BACKEND,
                "<script>alert(1)</script>",
                host="x.test",
                evidence={"body": "<img src=x onerror=alert(2)>"},
            )
        ]
    )
    text = write_html(report, tmp_path / "r.html").read_text(encoding="utf-8")

    assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<img" not in text


def test_html_renders_the_reload_section(html_text: str) -> None:
    """Given reload figures, then the propagation table, charts with change markers, errors and scale show."""
    doc = parse_html(html_text)
    phases = {
        n.attrs["data-phase"]: [td.content() for td in n.find_all("td")]
        for n in doc.find_all("tr")
        if "data-phase" in n.attrs
    }
    assert phases["create"] == ["180 ms", "912 ms", "1,200 ms", "3", "0"]
    assert phases["delete"][-1] == "1"
    assert html_text.count("<svg") == 3  # rate+errors, latency, scale
    assert "round 1 create" in html_text and 'class="marker"' in html_text
    assert "Bad Gateway" in html_text and "(+100 ms)" in html_text
    assert "2,900 ms" in html_text


def test_html_without_reload_has_no_reload_block(tmp_path: Path) -> None:
    """Given no sections, then the page has no reload block."""
    text = write_html(make_report(), tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'id="reload"' not in text


def test_the_scale_chart_draws_each_data_planes_curves() -> None:
    """Given scale rows of two data planes, then the table names the plane and the chart has a curve per plane and
    phase (Traefik's ~2 s throttle beside Envoy Gateway's tens of ms)."""
    from ingresscheck.reports._reload import reload_view

    def row(n: int, plane: str, ms: float) -> dict[str, object]:
        return {"ingresses": n, "plane": plane, **{p: {"p95": ms} for p in ("create", "update", "delete")}}

    view = reload_view(
        {
            "propagation": {},
            "scale": [
                row(13, "traefik", 1950),
                row(13, "envoy-gateway", 45),
                row(103, "traefik", 1990),
                row(103, "envoy-gateway", 60),
            ],
        }
    )
    assert [(r["ingresses"], r["plane"]) for r in view["scale"]] == [
        (13, "traefik"),
        (13, "envoy-gateway"),
        (103, "traefik"),
        (103, "envoy-gateway"),
    ]
    svg = str(view["scale_chart"])
    assert "traefik create p95" in svg and "envoy-gateway delete p95" in svg
