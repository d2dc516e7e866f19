"""The HTML report at fleet scale: file size and time to interactive in a real Chromium.

Targets at 1,000 hosts: the file is at most 5 MB, and the first screen is interactive within 2 s
(navigation start to the end of the page script, which is when the chips, the search box, the matrix
sort and the host rows answer; then one click on the "fail" chip is timed as well).

The report is either a real run's JSON (``--from-json``: its hosts are cloned under new names until
there are ``--hosts``), or synthesised: 19 results per host with evidence shaped like the probes'
(requests and responses with headers and phase timings, TLS certificates and chains), about 6 % of
hosts failing in different ways, and a wildcard warning on every host (the "1,002 identical
warnings" of issue 13). No lab and no network are needed; the browser opens the file from disk.

Usage: .venv/bin/python benchmarks/report_fleet.py [--hosts 1000] [--screenshot reports/x.png]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingresscheck.reports import write_html  # noqa: E402
from ingresscheck.results import Report, Result, Severity, Status, Step  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
START = dt.datetime(2025, 11, 26, 10, 30, 0, tzinfo=dt.UTC)


def _timings(rng: random.Random) -> dict[str, float]:
    connect, tls, wait = rng.uniform(0.1, 2), rng.uniform(1, 6), rng.uniform(1, 30)
    return {
        "connect": round(connect, 2),
        "tls": round(tls, 2),
        "request": 0.05,
        "wait": round(wait, 2),
        "transfer": 0.1,
        "total": round(connect + tls + wait + 0.15, 2),
    }


def _exchange(rng: random.Random, url: str, status: int, **headers: str) -> dict[str, Any]:
    return {
        "request": {
            "method": "GET",
            "url": url,
            "address": "127.0.0.10:443",
            "headers": {"User-Agent": "ingresscheck/0.1.0", "Accept": "*/*"},
        },
        "response": {
            "status": status,
            "http_version": "HTTP/1.1",
            "headers": {
                "Content-Type": "application/json",
                "Content-Length": "412",
                "Date": "Wed, 26 Nov 2025 10:30:01 GMT",
                **headers,
            },
            "body_head": '{"pod":"echo-1","namespace":"demo","host":"' + url.split("/")[2] + '"}',
        },
        "timings_ms": _timings(rng),
    }


def _certificate(host: str, days: int) -> dict[str, Any]:
    sha = f"{abs(hash(host)) % 16**16:016x}" * 4
    not_after = (START + dt.timedelta(days=days)).isoformat()
    return {
        "subject": f"CN={host}",
        "issuer": "CN=ingresscheck lab CA",
        "san": [host],
        "not_before": (START - dt.timedelta(days=30)).isoformat(),
        "not_after": not_after,
        "key": "EC 256-bit",
        "key_bits": 256,
        "sha256": sha,
        "serial": sha[:16],
    }


def host_results(i: int, rng: random.Random) -> list[Result]:
    host = f"app-{i:04d}.fleet.example.test"
    ns, ing = f"team-{i % 40:02d}", f"app-{i:04d}"
    common: dict[str, Any] = {"host": host, "namespace": ns, "ingress": ing, "kind": "Ingress", "name": ing}
    broken = rng.random()
    cert_days = 12 if 0.02 < broken < 0.04 else 80
    tls_ev = {
        "address": "127.0.0.10",
        "port": 443,
        "sni": host,
        "version": "TLSv1.3",
        "cipher": "TLS_AES_256_GCM_SHA384",
        "timings_ms": {"connect": 0.4, "tls": 3.2},
        "addresses": ["127.0.0.10"],
        "address_from": "dns",
        "certificate": _certificate(host, cert_days),
        "chain": [
            {
                "subject": f"CN={host}",
                "issuer": "CN=ingresscheck lab CA",
                "not_after": (START + dt.timedelta(days=cert_days)).isoformat(),
                "sha256": "ab" * 32,
            }
        ],
    }
    out: list[Result] = []

    def add(
        check: str,
        status: Status,
        step: Step,
        severity: Severity,
        message: str,
        evidence: dict[str, Any],
        subject: str | None = None,
        remediation: str = "",
    ) -> None:
        out.append(
            Result(
                probe=check.split(".")[0],
                check=check,
                status=status,
                severity=severity,
                message=message,
                step=step,
                evidence=evidence,
                duration_ms=round(rng.uniform(1, 40), 2),
                subject=subject,
                remediation=remediation,
                **common,
            )
        )

    dns_ev = {
        "query": {"name": host, "type": "A", "server": "127.0.0.2:5353"},
        "answers": ["127.0.0.10"],
        "ttl": 30,
        "timings_ms": {"dns": round(rng.uniform(0.2, 3), 2)},
    }
    add("dns.resolves", Status.PASS, Step.DNS, Severity.CRITICAL, f"{host} resolves to 127.0.0.10", dns_ev)
    add(
        "dns.lb_address",
        Status.PASS,
        Step.DNS,
        Severity.MAJOR,
        "every address is an expected load balancer",
        {**dns_ev, "expected": ["127.0.0.10"]},
    )
    add(
        "dns.wildcard",
        Status.WARN,
        Step.DNS,
        Severity.MINOR,
        "fleet.example.test has a wildcard record (*.fleet.example.test)",
        {"probe_name": f"ingresscheck-{i}.fleet.example.test", "answers": ["127.0.0.10"]},
        remediation="Remove the wildcard record unless every name under it is meant to reach the load balancer.",
    )
    redirect_bad = broken < 0.02
    add(
        "redirect.https",
        Status.FAIL if redirect_bad else Status.PASS,
        Step.LB,
        Severity.CRITICAL,
        f"http://{host}/ answered 200 instead of redirecting to https://"
        if redirect_bad
        else f"http://{host}/ redirects to https://{host}/ with 302",
        _exchange(rng, f"http://{host}/", 200 if redirect_bad else 302, Location=f"https://{host}/"),
        remediation="Redirect plain HTTP to HTTPS at the load balancer." if redirect_bad else "",
    )
    add(
        "redirect.loop",
        Status.PASS,
        Step.LB,
        Severity.MAJOR,
        "the redirects end after 1 hop",
        {"hops": [f"http://{host}/", f"https://{host}/"]},
    )
    add(
        "tls.handshake",
        Status.PASS,
        Step.TLS,
        Severity.CRITICAL,
        "127.0.0.10:443 completes a TLS 1.3 handshake",
        tls_ev,
        subject="127.0.0.10:443",
    )
    for check, msg in (
        ("tls.chain", "the served chain verifies against the lab CA"),
        ("tls.hostname", f"the certificate covers {host}"),
        ("tls.key_strength", "EC 256-bit"),
        ("tls.protocols", "TLS 1.0 and 1.1 are refused"),
        ("tls.default_certificate", "the controller serves the Ingress's certificate"),
        ("tls.termination", f"the served certificate is {ns}/{ing}-tls"),
    ):
        add(check, Status.PASS, Step.TLS, Severity.MAJOR, msg, tls_ev, subject="127.0.0.10:443")
    add(
        "tls.expiry",
        Status.WARN if cert_days < 21 else Status.PASS,
        Step.TLS,
        Severity.CRITICAL,
        f"the certificate expires in {cert_days} days",
        {**tls_ev, "warning_days": 21},
        subject="127.0.0.10:443",
        remediation="Renew the certificate." if cert_days < 21 else "",
    )
    backend_bad = 0.04 < broken < 0.06
    for path in ("/", "/api"):
        add(
            "routing.backend",
            Status.FAIL if backend_bad else Status.PASS,
            Step.BACKEND,
            Severity.CRITICAL,
            f"https://{host}{path} answered 503 from the controller: Service {ns}/{ing} has no ready endpoints"
            if backend_bad
            else f"https://{host}{path} reaches Service {ns}/{ing}",
            _exchange(rng, f"https://{host}{path}", 503 if backend_bad else 200),
            subject=f"{path} Prefix",
            remediation="Make the Service's pods ready." if backend_bad else "",
        )
        add(
            "routing.path_type",
            Status.PASS,
            Step.INGRESS,
            Severity.MAJOR,
            f"{path} Prefix matches what it promises",
            _exchange(rng, f"https://{host}{path}/x", 200),
            subject=f"{path} Prefix",
        )
    add(
        "static.backend_service",
        Status.PASS,
        Step.BACKEND,
        Severity.CRITICAL,
        f"Service {ns}/{ing} exists",
        {"service": ing, "port": 80},
    )
    add(
        "static.endpoints",
        Status.FAIL if backend_bad else Status.PASS,
        Step.BACKEND,
        Severity.CRITICAL,
        f"Service {ns}/{ing} has no ready endpoints" if backend_bad else f"Service {ns}/{ing} has 2 ready endpoints",
        {"slices": [{"name": f"{ing}-abc", "ready": 0 if backend_bad else 2}]},
    )
    add(
        "static.tls_secret",
        Status.PASS,
        Step.TLS,
        Severity.CRITICAL,
        "the TLS Secret covers the host",
        {"secret": {"name": f"{ing}-tls", "namespace": ns, "type": "kubernetes.io/tls"}},
    )
    return out


def synthesise(hosts: int) -> Report:
    rng = random.Random(13)
    results = [r for i in range(hosts) for r in host_results(i, rng)]
    results.append(
        Result(
            probe="static",
            check="static.ingress_class",
            status=Status.PASS,
            severity=Severity.MAJOR,
            message="every Ingress names an existing IngressClass",
            step=Step.INGRESS,
            evidence={"classes": ["nginx"]},
        )
    )
    return Report(
        started=START,
        finished=START + dt.timedelta(seconds=hosts * 0.012 + 3),
        context="fleet",
        server="https://127.0.0.1:6443",
        results=results,
    )


def from_json(path: Path, hosts: int) -> Report:
    """A real run's results, its hosts cloned under new names until there are ``hosts`` of them."""
    data = json.loads(path.read_text())
    results = [
        Result.from_dict({k: v for k, v in r.items() if k in Result.__dataclass_fields__}) for r in data["results"]
    ]
    by_host: dict[str, list[Result]] = {}
    for r in results:
        if r.host:
            by_host.setdefault(r.host, []).append(r)
    names = sorted(by_host)
    out = [r for r in results if not r.host]
    for i in range(hosts):
        template = names[i % len(names)]
        clone = template if i < len(names) else f"c{i}-{template}"
        for r in by_host[template]:
            text = json.dumps(r.to_dict()).replace(template, clone)
            out.append(Result.from_dict(json.loads(text)))
    return Report(
        started=dt.datetime.fromisoformat(data["started"]),
        finished=dt.datetime.fromisoformat(data["finished"]),
        context=data["cluster"]["context"],
        server=data["cluster"]["server"],
        results=out,
    )


def _until(page: Any, expression: str, timeout: float = 30.0) -> None:
    """Poll ``expression`` (page.wait_for_function would need 'unsafe-eval', which the page's CSP forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {expression}")
        time.sleep(0.01)


def measure(html: Path, screenshot: Path | None) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        outside: list[str] = []
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith("file://") else None)
        page.goto(html.as_uri(), wait_until="commit")
        _until(page, "document.documentElement.dataset.ready !== undefined")
        ready_ms = float(page.evaluate("Number(document.documentElement.dataset.ready)"))
        load_ms = float(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd || 0"))
        t0 = time.perf_counter()
        page.click('button[data-filter="fail"]')
        _until(page, "document.querySelector('button[data-filter=\"fail\"]').getAttribute('aria-pressed') === 'true'")
        click_ms = (time.perf_counter() - t0) * 1000
        page.click("button[data-filter-reset]")
        t0 = time.perf_counter()
        page.locator("tr.hostrow").first.click()
        page.locator("tr.detail table.results").first.wait_for()
        open_ms = (time.perf_counter() - t0) * 1000
        page.locator("tr.hostrow").first.click()
        if screenshot is not None:
            page.evaluate("window.scrollTo(0, 0)")
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot))
        browser.close()
    if outside:
        raise SystemExit(f"the page requested something beyond its file: {outside[:3]}")
    return {"ready_ms": ready_ms, "load_ms": load_ms, "click_fail_ms": click_ms, "open_first_host_ms": open_ms}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--from-json", type=Path, help="clone the hosts of this real report instead of synthesising")
    parser.add_argument("--screenshot", type=Path, help="save the first screen here (PNG)")
    parser.add_argument("--out", type=Path, help="keep the HTML here (default: a temporary file)")
    args = parser.parse_args()
    report = from_json(args.from_json, args.hosts) if args.from_json else synthesise(args.hosts)
    with tempfile.TemporaryDirectory() as tmp:
        html = args.out or Path(tmp) / "fleet.html"
        t0 = time.perf_counter()
        write_html(report, html)
        write_s = time.perf_counter() - t0
        size_mb = html.stat().st_size / 1e6
        figures = measure(html, args.screenshot)
    hosts = len({r.host for r in report.results if r.host})
    print(f"{'hosts':<34} {hosts:>10}")
    print(f"{'results':<34} {len(report.results):>10}")
    print(f"{'HTML written in':<34} {write_s:>10.2f} s")
    print(f"{'HTML size':<34} {size_mb:>10.2f} MB   target <= 5 MB")
    print(f"{'interactive (script done)':<34} {figures['ready_ms']:>10.0f} ms   target <= 2000 ms")
    print(f"{'load event':<34} {figures['load_ms']:>10.0f} ms")
    print(f"{'click on the fail chip':<34} {figures['click_fail_ms']:>10.0f} ms")
    print(f"{'open the first host (decompress)':<34} {figures['open_first_host_ms']:>10.0f} ms")
    ok = size_mb <= 5 and figures["ready_ms"] <= 2000
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
