"""Verdicts that were wrong, on the real lab: a TLS Secret whose key is not its certificate's, one whose
certificate has two subjectAltName extensions, a named targetPort no endpoint has, an auth-map Secret
(one key per user), a redirect to an IP literal, and a Location with port 99999."""

from __future__ import annotations

import base64
import socket
from pathlib import Path

import pytest

from ingresscheck_lab import objects, pki
from ingresscheck_lab.lab import Lab

from ._helpers import assert_no_traceback, lab_run_args, record, run_cli, two_san_certificate
from .test_chain import FAULT_IP, _read_request, tcp_server

pytestmark = pytest.mark.lab


def _secret(name: str, data: dict[str, bytes], kind: str = "Opaque") -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": kind,
        "metadata": {"name": name, "namespace": "demo"},
        "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
    }


def _run_with(lab: Lab, tmp_path: Path, created: list[dict[str, object]], *flags: str):  # type: ignore[no-untyped-def]
    res = lab.writer()
    for obj in created:
        res.create(obj)
    try:
        run = run_cli(
            *lab_run_args(lab, tmp_path, "-n", "demo", "--timeout", "3", *flags),
            json_report=tmp_path / "report.json",
            timeout=60,
        )
    finally:
        for obj in reversed(created):
            res.delete(obj)
    assert_no_traceback(run)
    return run


def test_a_tls_secret_whose_key_is_not_its_certificates_fails(lab: Lab, tmp_path: Path) -> None:
    host = "fault-key.apps.test"
    ca = pki.load_pair(lab.layout.pki, "ingress-ca")
    cert = pki.issue(ca, host, dns_names=(host,))
    other = pki.issue(ca, host, dns_names=(host,))  # same names, another key pair
    secret = _secret("fault-key-tls", {"tls.crt": cert.cert_pem, "tls.key": other.key_pem}, "kubernetes.io/tls")
    ing = objects.ingress("fault-key", "demo", host, [("/", "Prefix", "api")], tls_secret="fault-key-tls")
    run = _run_with(lab, tmp_path, [secret, ing], "--probes", "static")
    tls = run.one("static.tls_secret", host)
    record("TLS Secret with another key", run, f"static.tls_secret {tls['status']}: {tls['message'][:70]}")
    assert tls["status"] == "fail" and "not the private key of the certificate" in tls["message"], tls
    assert "PRIVATE KEY" not in (tmp_path / "report.json").read_text()


def test_a_certificate_with_two_san_extensions_is_a_verdict_not_a_defect(lab: Lab, tmp_path: Path) -> None:
    """Given a TLS Secret whose certificate repeats subjectAltName (RFC 5280 allows each extension once),
    when static runs, then static.tls_secret fails naming the repeated extension, and the other static
    checks still run (the parse error took the whole probe down as 'ingresscheck defect')."""
    host = "fault-twosan.apps.test"
    cert_pem, key_pem = two_san_certificate(pki.load_pair(lab.layout.pki, "ingress-ca"), host, "other.apps.test")
    secret = _secret("fault-twosan-tls", {"tls.crt": cert_pem, "tls.key": key_pem}, "kubernetes.io/tls")
    ing = objects.ingress("fault-twosan", "demo", host, [("/", "Prefix", "api")], tls_secret="fault-twosan-tls")
    run = _run_with(lab, tmp_path, [secret, ing], "--probes", "static")
    tls = run.one("static.tls_secret", host)
    record("certificate with two SAN extensions", run, f"static.tls_secret {tls['status']}: {tls['message'][:70]}")
    assert tls["status"] == "fail" and "repeats the subjectAltName extension" in tls["message"], tls
    assert run.report is not None
    defects = [r for r in run.report["results"] if "defect" in r["message"]]
    assert defects == [], defects
    assert run.one("static.backend_service", host)["status"] != "error"


def test_a_named_target_port_that_no_endpoint_has_fails_endpoints_naming_it(lab: Lab, tmp_path: Path) -> None:
    """Given a Service port http with targetPort "web" whose ready endpoints have no such port (the endpoints
    controller leaves the port out when no container port is named web: the slice lists only metrics), when
    static runs, then static.endpoints fails naming the port and the targetPort, not "2 ready endpoints"."""
    host = "fault-targetport.example.test"
    pod = objects.demo_pods(lab.layout)[0]
    service, slice_ = objects.service_with_pods("fault-targetport", "demo", [pod], 8080)
    service["spec"]["ports"][0]["targetPort"] = "web"
    slice_["ports"] = [{"name": "metrics", "port": 9100, "protocol": "TCP"}]
    ing = objects.ingress("fault-targetport", "demo", host, [("/", "Prefix", "fault-targetport")])
    run = _run_with(lab, tmp_path, [service, slice_, ing], "--probes", "static")
    endpoints = run.one("static.endpoints", host)
    record(
        "named targetPort no endpoint has", run, f"static.endpoints {endpoints['status']}: {endpoints['message'][:70]}"
    )
    assert endpoints["status"] == "fail", endpoints
    assert "none for port http" in endpoints["message"] and "targetPort web" in endpoints["message"], endpoints
    assert "metrics 9100" in endpoints["message"], endpoints
    assert run.one("static.endpoints", "api.example.test")["status"] == "pass"  # the healthy ones stay healthy


def test_an_auth_map_secret_passes_auth_secret(lab: Lab, tmp_path: Path) -> None:
    """auth-secret-type auth-map: keys are users, values their hashes; the controller serves auth with it."""
    host = "fault-authmap.example.test"
    htpasswd = (lab.writer().get({"kind": "Secret", "metadata": {"namespace": "demo", "name": "wordpress-basic-auth"}})
                or {}).get("data", {}).get("auth", "")  # fmt: skip
    line = base64.b64decode(htpasswd).decode().splitlines()[0]
    user, _, hashed = line.partition(":")
    secret = _secret("fault-authmap", {user: hashed.encode()})
    ing = objects.ingress(
        "fault-authmap",
        "demo",
        host,
        [("/", "Prefix", "api")],
        annotations={
            "nginx.ingress.kubernetes.io/auth-type": "basic",
            "nginx.ingress.kubernetes.io/auth-secret": "fault-authmap",
            "nginx.ingress.kubernetes.io/auth-secret-type": "auth-map",
        },
    )
    run = _run_with(lab, tmp_path, [secret, ing], "--probes", "auth_config")
    result = run.one("auth.secret", host)
    record("auth-secret-type auth-map", run, f"auth.secret {result['status']}: {result['message'][:70]}")
    assert result["status"] == "pass" and "auth-map" in result["message"], result
    assert hashed not in (tmp_path / "report.json").read_text()


def _redirect_to(location: str):  # type: ignore[no-untyped-def]
    def handle(conn: socket.socket) -> None:
        _read_request(conn)
        conn.sendall(f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode())
        conn.close()

    return handle


@pytest.mark.parametrize(
    "location, check, needle",
    [
        ("https://api.example.test:99999/", "redirect.https", "invalid port"),
        (f"http://{FAULT_IP}:8099/", "redirect.loop", f"{FAULT_IP}:8099"),
    ],
    ids=["port 99999", "IP literal"],
)
def test_odd_locations_get_verdicts_not_defects(
    lab: Lab, tmp_path: Path, location: str, check: str, needle: str
) -> None:
    host = "api.example.test"
    # the IP literal's hop: a plain server that answers 200 (the chain ends there)
    ok = lambda c: (_read_request(c), c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), c.close())  # noqa: E731
    with tcp_server(80, _redirect_to(location)), tcp_server(8099, ok):
        run = run_cli(
            *lab_run_args(lab, tmp_path, "-n", "demo", "--probes", "redirect", "--skip", "dns", "--timeout", "3",
                          "--resolve", f"{host}:80:{FAULT_IP}"),
            json_report=tmp_path / "report.json",
            timeout=60,
        )  # fmt: skip
    assert_no_traceback(run)
    result = run.one(check, host)
    record(f"Location {location}", run, f"{check} {result['status']}: {result['message'][:70]}")
    assert "defect" not in result["message"], result
    assert result["status"] in ("fail", "pass") and needle in result["message"], result
    assert "does not resolve" not in result["message"], result


UNROUTED = "10.255.255.1"  # used only when the kernel has no route to it: no packet can leave loopback


def _no_route(address: str) -> bool:
    import subprocess

    probe = subprocess.run(["ip", "route", "get", address], capture_output=True, text=True)
    return probe.returncode != 0 and "unreachable" in probe.stderr.lower()


@pytest.mark.skipif(not _no_route(UNROUTED), reason="this network namespace has a route off loopback")
def test_an_unreachable_network_is_an_error_not_a_fail(lab: Lab, tmp_path: Path) -> None:
    """ENETUNREACH establishes nothing about the address (README: unreachable is an error)."""
    host = "api.example.test"
    run = run_cli(
        *lab_run_args(lab, tmp_path, "-n", "demo", "--probes", "redirect,tls", "--skip", "dns", "--timeout", "2",
                      "--resolve", f"{host}:443:{UNROUTED}", "--resolve", f"{host}:80:{UNROUTED}"),
        json_report=tmp_path / "report.json",
        timeout=60,
    )  # fmt: skip
    assert_no_traceback(run)
    shake = run.one("tls.handshake", host)
    https = run.one("redirect.https", host)
    record("ENETUNREACH", run, f"tls.handshake {shake['status']}, redirect.https {https['status']}")
    for result in (shake, https):
        assert result["status"] == "error" and "unreachable" in result["message"], result
        assert UNROUTED in result["message"], result


@pytest.mark.skipif(not _no_route(UNROUTED), reason="this network namespace has a route off loopback")
def test_a_resolver_with_no_route_to_it_is_one_classified_error_naming_it(lab: Lab, tmp_path: Path) -> None:
    """Given a profile whose only DNS server the kernel has no route to (ENETUNREACH when the UDP socket
    connects), when run checks the hosts, then dns.resolves is an error naming the resolver as unreachable,
    and nothing is 'ingresscheck defect … please report it' (it was, per host and check)."""
    import yaml

    profile = yaml.safe_load(lab.layout.profile.read_text())
    profile["dns"] = {"servers": [f"{UNROUTED}:53"]}
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(profile))
    run = run_cli(
        *lab_run_args(lab, tmp_path, "-n", "demo", "--timeout", "2", profile=path),
        json_report=tmp_path / "report.json",
        timeout=60,
    )
    assert_no_traceback(run)
    assert run.report is not None
    resolves = run.results("dns.resolves")
    record("system resolver unreachable (ENETUNREACH)", run, f"dns.resolves {resolves[0]['status']} x{len(resolves)}")
    assert resolves and all(r["status"] == "error" for r in resolves), resolves
    for r in resolves:
        assert f"resolver {UNROUTED}:53 is unreachable" in r["message"], r
    defects = [r for r in run.report["results"] if "defect" in r["message"]]
    assert defects == [], defects
    assert run.seconds < 30
