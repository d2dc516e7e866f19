"""ingresscheck's TLS verdicts agree with testssl.sh (Debian package testssl.sh, a widely used independent
scanner) on the same addresses: the protocol ALPN selects for h2, the Strict-Transport-Security header, and
the certificate a client without SNI gets. On the healthy lab (an LB-terminated host with HSTS, a
passthrough host without) and with the LB's h2 and HSTS taken away (issue 23)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from ingresscheck.results import Report, Status
from ingresscheck_lab.lab import Lab
from ingresscheck_lab.render import LbFaults

from .changes import check, converge, lb_faults, results, status_of

TESTSSL = shutil.which("testssl") or shutil.which("testssl.sh")
pytestmark = pytest.mark.skipif(
    TESTSSL is None, reason="testssl.sh is not installed (Debian package testssl.sh; scripts/setup installs it)"
)
PROBES = ["dns", "tls", "sni", "http", "hsts"]


def _testssl(lab: Lab, host: str, out: Path) -> subprocess.Popen[bytes]:
    """testssl.sh's protocols (-p: h2 through ALPN), server defaults (-S: the certificate with and without
    SNI) and headers (-h: HSTS) for https://host/ at the lab's VIP, as JSON."""
    L = lab.layout
    port = "" if L.lb_https_port == 443 else f":{L.lb_https_port}"
    argv = [str(TESTSSL), "--quiet", "--warnings", "off", "--color", "0", "--ip", L.vip, "-p", "-S", "-h"]
    argv += ["--add-ca", str(L.pki / "ingress-ca.crt"), "--jsonfile", str(out), f"https://{host}{port}/"]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _findings(procs: dict[str, tuple[subprocess.Popen[bytes], Path]]) -> dict[str, dict[str, str]]:
    found = {}
    for host, (proc, out) in procs.items():
        assert proc.wait(timeout=600) == 0 or out.exists(), f"testssl.sh for {host} exited {proc.returncode}"
        found[host] = {f["id"]: f["finding"] for f in json.loads(out.read_text())}
    return found


def _scan(lab: Lab, hosts: list[str], tmp_path: Path) -> dict[str, dict[str, str]]:
    procs = {h: (_testssl(lab, h, tmp_path / f"{h}.json"), tmp_path / f"{h}.json") for h in hosts}
    return _findings(procs)


def _ours(rep: Report, check_id: str, host: str, subject: str) -> Any:
    [r] = [r for r in results(rep, check_id, host) if r.subject == subject]
    return r


def _cn(subject_dn: str) -> str:
    return x509.Name.from_rfc4514_string(subject_dn).get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value


def _testssl_hsts(found: dict[str, str]) -> tuple[int | None, bool]:
    """(max-age, includeSubDomains) as testssl.sh reports them; (None, False) for no header."""
    if "HSTS_time" not in found:
        assert "not offered" in found.get("HSTS", ""), found.get("HSTS")
        return None, False
    seconds = re.search(r"=(\d+) seconds", found["HSTS_time"])
    assert seconds, found["HSTS_time"]
    return int(seconds.group(1)), found.get("HSTS_subdomains", "").startswith("includes")


def _assert_agree(rep: Report, host: str, subject: str, found: dict[str, str]) -> None:
    __tracebackhide__ = True
    # ALPN: h2 selected by ours exactly when testssl.sh sees h2 offered
    ours_h2 = _ours(rep, "http.alpn", host, subject).evidence["selected"] == "h2"
    assert ours_h2 == ("h2" in found.get("ALPN_HTTP2", "").split()), (host, found.get("ALPN_HTTP2"))
    # HSTS: the same max-age and includeSubDomains, or both see none
    hsts = _ours(rep, "tls.hsts", host, subject)
    max_age, sub = _testssl_hsts(found)
    if max_age is None:
        assert hsts.evidence["hsts"] == "none", (host, hsts.message)
    else:
        assert hsts.evidence["hsts"] == f"max-age={max_age}" + ("; includeSubDomains" if sub else ""), hsts.message
    # no SNI: the certificate ours describes is the one testssl.sh got without SNI
    no_sni = _ours(rep, "tls.no_sni", host, subject)
    assert no_sni.status is Status.PASS, no_sni.message
    assert _cn(no_sni.evidence["certificate"]["subject"]) == found["cert_commonName_wo_SNI"], (host, no_sni.message)


def test_healthy_lab_alpn_hsts_and_no_sni_certificate_agree_with_testssl(lab: Lab, tmp_path: Path) -> None:
    # Given the healthy lab: api.example.test terminated by the LB (h2, HSTS), shop.apps.test passed through
    # to Traefik (h2, no HSTS); when testssl.sh and ingresscheck look at the same address
    hosts = ["api.example.test", "shop.apps.test"]
    procs = {h: (_testssl(lab, h, tmp_path / f"{h}.json"), tmp_path / f"{h}.json") for h in hosts}
    rep = check(lab, PROBES)
    found = _findings(procs)
    subject = f"{lab.layout.vip}:{lab.layout.lb_https_port}"
    # Then they agree on ALPN, HSTS and the no-SNI certificate, and the lab shows both sides of HSTS
    for host in hosts:
        _assert_agree(rep, host, subject, found[host])
    assert _testssl_hsts(found["api.example.test"])[0] == 15724800
    assert _testssl_hsts(found["shop.apps.test"])[0] is None


def test_lb_without_h2_and_hsts_agrees_with_testssl(lab: Lab, tmp_path: Path) -> None:
    # Given the LB's wildcard frontend without h2 in ALPN and without HSTS
    with lb_faults(lab, LbFaults(http2_disabled=True, hsts_removed=True)):
        rep = converge(lambda: check(lab, PROBES), status_of("http.alpn", Status.FAIL, "api.example.test"))
        found = _scan(lab, ["api.example.test"], tmp_path)["api.example.test"]
    # Then both see no h2 and no HSTS there, and ingresscheck fails http.alpn (the lab's profile expects h2)
    subject = f"{lab.layout.vip}:{lab.layout.lb_https_port}"
    _assert_agree(rep, "api.example.test", subject, found)
    assert "h2" not in found.get("ALPN_HTTP2", "").split()
    assert _ours(rep, "tls.hsts", "api.example.test", subject).evidence["hsts"] == "none"
