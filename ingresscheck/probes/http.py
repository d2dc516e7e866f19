"""http: the HTTP versions every address of the host offers, and whether h2 reaches the same backend as
HTTP/1.1.

``http.alpn`` offers h2 and http/1.1 in a TLS handshake (SNI = host) and reads what the server selected;
the profile's ``protocols.http2`` makes h2 a requirement. ``http.h2`` then sends the host's first path
over h2 and over HTTP/1.1 and compares who answered (the echo's service and pod, else status, type and
body). ``http3.alt_svc`` reads the Alt-Svc header of the HTTP/1.1 answer: HTTP/3 advertised or not (the
profile's ``protocols.http3`` makes it a requirement); the HTTP/3 request itself needs aioquic and is not
made here. Verdicts are per address (the subject).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .. import hostname
from ..net import Attempt, where
from ..results import Severity, Step
from ._access import reach as access_reach
from ._contract import CheckSpec, Probe, ProbeContext, Scope
from ._ingress_annotations import grpc_backend, is_canary, weighted_canary_services

ALPN_BOTH = ("h2", "http/1.1")


def backend_of(attempt: Attempt) -> dict[str, Any]:
    """Who answered, as far as the answer says: the echo's service/pod, else status, type and a body digest."""
    r = attempt.response
    if r is None:
        return {}
    who: dict[str, Any] = {"status": r.status, "content_type": r.header("content-type").split(";")[0].strip()}
    service, pod = r.header("x-echo-service"), r.header("x-echo-pod")
    if not service and who["content_type"] == "application/json":
        try:
            doc = json.loads(r.body)
            service, pod = str(doc.get("service") or ""), str(doc.get("pod") or "")
        except (ValueError, AttributeError):
            pass
    if service:
        who["service"], who["pod"] = service, pod
    else:
        who["body_sha256"] = hashlib.sha256(r.body).hexdigest()[:16]
    return who


def first_path(ctx: ProbeContext) -> tuple[str, set[str]]:
    """The host's first plain path, and the Services that may answer it: its rule's (a weighted rule: each),
    and those of canary Ingresses taking a share of that path by weight (ingress-nginx merges them per host)."""
    t = ctx.require_target
    for rule in t.paths:
        if rule.path_type in ("Prefix", "Exact") and rule.path.startswith("/"):
            services = {s for s in (rule.service, *(b.service for b in rule.backends)) if s}
            services |= {svc for _, svc, _ in weighted_canary_services(ctx.inventory, t.host, rule.path)}
            if is_canary(t):  # a weighted canary's own request may land on the main rule's Service
                services |= {
                    r.service
                    for other in ctx.inventory.targets
                    if other.host == t.host and other.kind == "Ingress" and not is_canary(other)
                    for r in other.paths
                    if r.path == rule.path and r.service
                }
            return rule.path, services
    return "/", set()


class HttpProbe(Probe):
    name = "http"
    needs = ("tls",)
    scope = Scope.TARGET
    checks = (
        CheckSpec(
            "http.alpn",
            Step.TLS,
            Severity.MAJOR,
            "every address selects h2 through ALPN when the profile expects HTTP/2 (else: what it offers)",
            "Offer h2 where TLS terminates (ingress-nginx: use-http2, on by default; Traefik: the TLS option's "
            "alpnProtocols; HAProxy: `alpn h2,http/1.1` on the bind line).",
            gates=False,
        ),
        CheckSpec(
            "http.h2",
            Step.BACKEND,
            Severity.MAJOR,
            "a request over h2 reaches the same backend, with the same status, as over HTTP/1.1",
            "Route h2 requests like HTTP/1.1 ones: a proxy with different routers per protocol, or an h2 listener "
            "without the host's rules, answers h2 clients (every browser) differently.",
            gates=False,
        ),
        CheckSpec(
            "http3.alt_svc",
            Step.LB,
            Severity.MINOR,
            "HTTP/3 is advertised with Alt-Svc when the profile expects it (else: whether it is)",
            "Enable HTTP/3 where TLS terminates (Traefik: entryPoints.<name>.http3; HAProxy: a QUIC bind and "
            "`http-response set-header alt-svc`), and open UDP on the HTTPS port.",
            gates=False,
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        target = ctx.require_target
        port = ctx.profile.https_port
        if target.listener_protocol == "HTTP":
            for check in self.checks:
                ctx.skipped(check.id, f"{target.host} is served on a plain-HTTP listener: no ALPN to check")
            return
        sni = hostname.to_alabels(target.request_host)
        addresses, source = await ctx.addresses(port, target.request_host)
        if sni is None or not addresses:
            for check in self.checks:
                ctx.skipped(check.id, f"no address to connect to for {target.host}")
            return
        reach = access_reach(ctx.profile, target, backend=False)  # a client certificate or an inside source
        if reach.blocked:
            for check in self.checks:
                ctx.skipped(check.id, reach.blocked)
            return
        for address in addresses:
            await self._address(ctx, address, port, sni, source, reach.options)

    async def _address(
        self, ctx: ProbeContext, address: str, port: int, sni: str, source: str, options: dict[str, Any]
    ) -> None:
        subject = where(address, port)
        path, services = first_path(ctx)
        url = f"https://{ctx.require_target.request_host}{'' if port == 443 else f':{port}'}{path}"
        # One connection offering h2 and http/1.1 answers both questions: what ALPN selects (its handshake) and,
        # when that is h2, what a request over h2 gets (a separate handshake for ALPN alone cost a TLS
        # handshake per host: 1.5 of 36 s at 1,000 hosts).
        offered = await ctx.net.fetch("GET", url, address, alpn=ALPN_BOTH, **options)
        if offered.tls is None:
            for check in self.checks:
                ctx.not_completed(check.id, offered, subject=subject, what="TLS handshake offering h2 and http/1.1")
            return
        selected = offered.tls.alpn
        expected = ctx.profile.protocols.http2
        evidence = {**offered.evidence(), "offered": list(ALPN_BOTH), "selected": selected or None, "from": source}
        if selected == "h2":
            ctx.passed("http.alpn", f"{subject} (SNI {sni}) selects h2 through ALPN", evidence, subject=subject)
        elif expected:
            said = f"it selected {selected}" if selected else "it selected no protocol (HTTP/1.1 then)"
            ctx.failed(
                "http.alpn",
                f"{subject} (SNI {sni}) does not offer HTTP/2, which the profile expects: offered h2 and "
                f"http/1.1, {said}",
                evidence,
                subject=subject,
            )
        else:
            ctx.passed(
                "http.alpn",
                f"{subject} (SNI {sni}) offers HTTP/1.1 only ({selected or 'no ALPN selection'}); the profile does "
                f"not expect h2 (protocols.http2)",
                evidence,
                subject=subject,
            )
        h1 = await ctx.net.request("GET", url, address, **options)
        self._alt_svc(ctx, h1, subject)
        if selected != "h2":
            ctx.skipped("http.h2", f"{subject} does not offer h2 (see http.alpn)", evidence, subject=subject)
            return
        if grpc_backend(ctx.require_target):
            # a plain GET to a gRPC server is answered with an error that differs by protocol (504 over h2,
            # 500 over HTTP/1.1 behind Traefik): it tells nothing about routing; grpc.health calls the server
            ctx.skipped("http.h2", f"{subject} routes to a gRPC backend: see grpc.health", evidence, subject=subject)
            return
        h2 = offered
        for attempt, label in ((h2, "over h2"), (h1, "over HTTP/1.1")):
            if not attempt.ok:
                ctx.not_completed("http.h2", attempt, subject=subject, what=f"GET {path} {label}")
                return
        a, b = backend_of(h2), backend_of(h1)
        ev = {"h2": h2.evidence(), "http1": h1.evidence(), "h2_backend": a, "http1_backend": b, "path": path}
        if a.get("service") or b.get("service"):  # a digest of JSON naming the pod and headers tells nothing
            a.pop("body_sha256", None), b.pop("body_sha256", None)
        if a.get("status") != b.get("status"):
            ctx.failed(
                "http.h2",
                f"GET {path} at {subject} answers {a.get('status')} over h2 but {b.get('status')} over HTTP/1.1",
                ev,
                subject=subject,
            )
        elif "service" in a or "service" in b:
            # The pod may differ (the Service balances its pods) and a weighted rule or canary may pick either
            # backend: both answers pass when they come from pods of Services that may answer this path. An
            # echo's own service label need not be the Kubernetes Service's name, so membership is by pod.
            ns = ctx.require_target.namespace
            pods = frozenset().union(*(ctx.inventory.service_endpoints(ns, svc).pods for svc in services))
            same = a.get("service") == b.get("service")
            if same or (a.get("pod") in pods and b.get("pod") in pods):
                ctx.passed(
                    "http.h2",
                    f"GET {path} at {subject} reaches Service {a['service']} over h2 as over HTTP/1.1 "
                    f"({a.get('status')})"
                    if same
                    else f"GET {path} at {subject} reaches pod {a.get('pod')} over h2 and pod {b.get('pod')} over "
                    f"HTTP/1.1, both of Services that may answer it ({', '.join(sorted(services))})",
                    ev,
                    subject=subject,
                )
            else:
                ctx.failed(
                    "http.h2",
                    f"GET {path} at {subject} reaches {a.get('service') or 'an unnamed backend'} over h2 but "
                    f"{b.get('service') or 'an unnamed backend'} over HTTP/1.1",
                    ev,
                    subject=subject,
                )
        elif a == b:
            ctx.passed(
                "http.h2",
                f"GET {path} at {subject} gets the same answer over h2 and HTTP/1.1 ({a.get('status')}, "
                f"{a.get('content_type') or 'no type'}, same body; the backend does not say who it is)",
                ev,
                subject=subject,
            )
        else:
            ctx.warned(
                "http.h2",
                f"GET {path} at {subject}: same status {a.get('status')} over h2 and HTTP/1.1, but another "
                f"content type or body (the backend does not say who it is)",
                ev,
                subject=subject,
            )

    @staticmethod
    def _alt_svc(ctx: ProbeContext, h1: Attempt, subject: str) -> None:
        if not h1.ok or h1.response is None:
            ctx.not_completed("http3.alt_svc", h1, subject=subject, what="the HTTP/1.1 request read for Alt-Svc")
            return
        alt = h1.response.header("alt-svc")
        offers = [p.strip() for p in alt.split(",") if p.strip().startswith(("h3=", "h3-"))]
        ev = {**h1.evidence(), "alt_svc": alt or None}
        if offers:
            ctx.passed(
                "http3.alt_svc",
                f"{subject} advertises HTTP/3 ({', '.join(offers)}); the HTTP/3 request itself is not made "
                f"(it needs aioquic)",
                ev,
                subject=subject,
            )
        elif ctx.profile.protocols.http3:
            ctx.failed(
                "http3.alt_svc",
                f"{subject} does not advertise HTTP/3, which the profile expects: "
                + (f"Alt-Svc is {alt!r}" if alt else "no Alt-Svc header"),
                ev,
                subject=subject,
            )
        else:
            ctx.skipped(
                "http3.alt_svc",
                f"{subject} does not advertise HTTP/3 (no h3 in Alt-Svc) and the profile does not expect it "
                f"(protocols.http3)",
                ev,
                subject=subject,
            )
