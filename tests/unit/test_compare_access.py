"""compare runs the access-control checks of `run` on both sides (issue 21): two small real data planes on
loopback, one enforcing A's source allowlist by the client's address and one letting everyone in."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import ssl
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import trustme

from ingresscheck.compare import ParityReport, Side, SideHosts, to_dict
from ingresscheck.compare._engine import run
from ingresscheck.discovery.model import PathRule, Target
from ingresscheck.profile import Profile
from ingresscheck.results import Status

from .servers import http_server

HOST = "internal.example.test"
RANGE = "127.0.0.64/26"
INSIDE, OUTSIDE = "127.0.0.70", "127.0.0.200"


def _plane(enforces: bool) -> Callable[[BaseHTTPRequestHandler], tuple[int, dict[str, str], bytes]]:
    def answer(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        client = req.client_address[0]
        if enforces and ipaddress.ip_address(client) not in ipaddress.ip_network(RANGE):
            return 403, {"Content-Type": "text/plain"}, b"forbidden"
        body = json.dumps({"service": "internal", "namespace": "access", "headers": {"X-Real-Ip": client}})
        return 200, {"Content-Type": "application/json", "X-Echo-Service": "internal"}, body.encode()

    return answer


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@contextmanager
def _serve(ca: trustme.CA, address: str, enforces: bool) -> Iterator[Side]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(HOST).configure_cert(ctx)
    with ExitStack() as stack:
        _, http_port = stack.enter_context(http_server(_plane(enforces), ip=address))
        _, https_port = stack.enter_context(http_server(_plane(enforces), ip=address, tls=ctx))
        yield Side("A" if address.endswith("41") else "B", address, http_port=http_port, https_port=https_port)


def _compare(ca: trustme.CA, tmp_path: Path, b_enforces: bool) -> ParityReport:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    profile = Profile(ca_bundle=str(ca_file), source_addresses=(INSIDE, OUTSIDE))
    target = Target(
        "access",
        "internal",
        HOST,
        (PathRule("/", "Prefix", "internal", 80),),
        annotations={"nginx.ingress.kubernetes.io/whitelist-source-range": RANGE},
    )
    with _serve(ca, "127.0.0.41", True) as a, _serve(ca, "127.0.0.42", b_enforces) as b:
        hosts_a = SideHosts({HOST: target}, {HOST: a.address or ""}, {})
        hosts_b = SideHosts({HOST: target}, {HOST: b.address or ""}, {})
        return asyncio.run(
            run(a, b, hosts_a, hosts_b, profile, a_implementation="ingress-nginx", b_implementation="traefik")
        )


def test_an_allowlist_b_does_not_enforce_is_a_breaking_difference_from_the_run_check(
    ca: trustme.CA, tmp_path: Path
) -> None:
    # Given A refusing clients outside the range and B serving everyone
    report = _compare(ca, tmp_path, b_enforces=False)
    [host] = [h for h in report.hosts if h.host == HOST]
    by = {(c.check, c.subject): c for c in host.checks}
    outside = by[("access.source_range", f"from {OUTSIDE} (outside) via <side>")]
    # Then the run check's own verdicts: A refuses the outside client, B serves it: breaking, naming the cause
    assert outside.a is not None and outside.a.status is Status.PASS
    assert outside.b is not None and outside.b.status is Status.FAIL
    [diff] = outside.differences
    assert diff.klass == "breaking" and "protection A's annotations ask for is lost on B" in diff.explanation
    assert report.breaking
    # and the JSON report carries both verdicts
    [h] = [h for h in to_dict(report)["hosts"] if h["host"] == HOST]
    assert any(c["check"] == "access.source_range" and c["verdict"] == "breaking" for c in h["checks"])


def test_two_planes_enforcing_the_same_allowlist_show_no_access_difference(ca: trustme.CA, tmp_path: Path) -> None:
    report = _compare(ca, tmp_path, b_enforces=True)
    [host] = [h for h in report.hosts if h.host == HOST]
    assert {c.check for c in host.checks} == {"access.source_range"}
    assert all(c.a is not None and c.a.status is Status.PASS for c in host.checks)
    assert [d for c in host.checks for d in c.differences] == []
