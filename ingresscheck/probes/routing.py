"""routing: each rule's host+path reaches the backend the Ingress names, over the real chain.

Requests go to every address of the host with the right Host and SNI, over the TLS connection the
tls probe opened there; each rule on each address is its own subject. The backend is identified
by membership, then by comparison, never by what it claims:

1. a self-identifying backend (echo JSON or X-Echo-* headers naming its pod) passes when that pod is
   one of the named Service's ready endpoints (EndpointSlice targetRef), whatever Service it names;
2. a backend that says nothing is compared with the Service's own answer to the same request,
   fetched directly from one of its ready endpoints (reachable in-cluster or on the lab): same
   status, content type and normalised body fingerprint;
3. when neither is possible the result says what was established (not the default backend, not an
   auth wall) and that the backend could not be identified: a warning, never a plain pass.

Path semantics (Exact vs Prefix, which matches whole path elements) are checked on derived paths.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from ..discovery import PathRule, Target
from ..discovery.gateway import find_gateway, intersect, listeners_of
from ..discovery.ownership import winning_rules
from ..identity import PortRef, ServiceEndpoints, compare_answers, content_type, identity, membership
from ..net import Attempt, HttpResponse
from ..net import where as net_where
from ..results import Severity, Step, nonce
from ._access import reach as access_reach
from ._contract import CheckSpec, Probe, ProbeContext
from ._ingress_annotations import grpc_backend, is_canary, redirected_instead, weighted_canary_services

AUTH_WALL = (401, 407)


class RoutingProbe(Probe):
    name = "routing"
    needs = ("dns", "tls")
    checks = (
        CheckSpec(
            "routing.backend",
            Step.BACKEND,
            Severity.CRITICAL,
            "host+path is answered by the Service the Ingress names",
            "Check the Ingress rule's service name and port, the Service's endpoints, and that the "
            "controller accepted the Ingress (its class, its events, the controller log).",
        ),
        CheckSpec(
            "routing.path_type",
            Step.INGRESS,
            Severity.MAJOR,
            "Exact and Prefix paths match what the Ingress API promises",
            "Prefix matches whole path elements (/v1 matches /v1/x, not /v1x); Exact matches only the "
            "path itself. Fix the pathType or the controller's path handling (e.g. use-regex).",
            gates=False,
        ),
        CheckSpec(
            "routing.unknown_host",
            Step.INGRESS,
            Severity.MAJOR,
            "a host no Ingress names gets 404 from the controller",
            "Unknown hosts must not be served by an application: configure the controller's default "
            "backend to answer 404.",
            gates=False,
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        target = ctx.require_target
        port = ctx.profile.https_port
        if grpc_backend(target):
            for spec in self.checks:  # a plain GET tells nothing about a gRPC server: grpc.health calls it
                ctx.skipped(spec.id, f"{target.host} has a gRPC backend: see grpc.health")
            return
        addresses, _ = await ctx.addresses(port, target.request_host)
        if not addresses:
            for spec in self.checks:
                ctx.skipped(spec.id, f"no address to connect to for {target.host}")
            return
        shaken = ctx.fact("tls", "addresses")  # None: the tls probe did not run
        auth = _credentials(ctx)
        rules = winning_rules(ctx.inventory, target)  # its data plane's rules for the host, the winner of a tie first
        for address in addresses:
            ctx.plan("routing.unknown_host", net_where(address, port))
        for address in addresses:
            where = net_where(address, port)
            if shaken is not None and address not in shaken:
                for spec in self.checks:
                    ctx.skipped(
                        spec.id, f"skipped for {where}: no TLS handshake there (see tls.handshake)", subject=where
                    )
                continue
            unknown = await _unknown_host(ctx, address)
            if target.wildcard:
                ctx.skipped(
                    "routing.unknown_host",
                    f"{target.host} is a wildcard rule: every name at that level is this Ingress's, none is unknown",
                    subject=where,
                )
            else:
                _report_unknown(ctx, unknown, where)
            if target.auth_type and auth is None:
                for c in ("routing.backend", "routing.path_type"):
                    ctx.skipped(
                        c,
                        f"{target.host} asks for basic auth and the profile has no credentials for it: "
                        f"the backend is behind the password",
                        subject=where,
                    )
                continue
            reach = access_reach(ctx.profile, target)  # a client certificate or an inside source, when asked for
            if reach.blocked:
                for c in ("routing.backend", "routing.path_type"):
                    ctx.skipped(c, reach.blocked, subject=where)
                continue
            for rule in target.paths:  # announced: a deadline that cuts the walk off errors each rule not reached
                ctx.plan("routing.backend", f"{rule_label(rule)} via {where}")
            for rule in target.paths:
                subject = f"{rule_label(rule)} via {where}"
                if is_canary(target):
                    for c in ("routing.backend", "routing.path_type"):
                        ctx.skipped(
                            c,
                            f"{target.namespace}/{target.ingress} is a canary Ingress: which requests reach it is "
                            f"judged by canary.header, canary.cookie and canary.weight",
                            subject=subject,
                        )
                    continue
                redirected = redirected_instead(target, rule.path)
                if redirected:
                    ctx.skipped(
                        "routing.backend",
                        f"{rule.path} is answered with a redirect ({redirected} annotation), not by the backend: "
                        f"judged by redirect.annotation",
                        subject=subject,
                    )
                    if redirected != "app-root":  # app-root redirects / only: the derived paths still route
                        ctx.skipped("routing.path_type", f"every path is redirected ({redirected})", subject=subject)
                        continue
                elif rule.service is None:
                    ctx.skipped(
                        "routing.backend",
                        f"{rule.path} has a resource backend, not a Service: nothing to identify over the wire",
                        subject=subject,
                    )
                    continue
                if _is_regex(rule.path) or rule.path_type == "RegularExpression":
                    ctx.skipped(
                        "routing.backend",
                        f"path {rule.path!r} is a regular expression; no sample path derived",
                        subject=subject,
                    )
                    continue
                headers = dict(rule.headers)  # an HTTPRoute rule that matches on headers gets them
                if not redirected:
                    url = f"https://{target.request_host}{_authority_port(port)}{rule.path}"
                    attempt = await ctx.net.request("GET", url, address, auth=auth, headers=headers, **reach.options)
                    await _judge_backend(ctx, target, rule, attempt, unknown, subject)
                for d in _derived(rule, rules):
                    url = f"https://{target.request_host}{_authority_port(port)}{d.path}"
                    attempt = await ctx.net.request("GET", url, address, auth=auth, headers=headers, **reach.options)
                    await _judge_path(ctx, target, rule, d, attempt, f"{d.shape}{_matches(rule)} via {where}")


# --- the unknown host ---------------------------------------------------------------------
@dataclass(frozen=True)
class _Fingerprint:
    host: str
    attempt: Attempt
    status: int | None
    digest: str


async def _unknown_host(ctx: ProbeContext, address: str) -> _Fingerprint:
    target = ctx.require_target
    parent = target.host.split(".", 1)[1] if "." in target.host else target.host
    if target.wildcard:  # every name under the wildcard's domain is the Ingress's: step one level up
        parent = parent.split(".", 1)[1] if "." in parent else "invalid"

    async def ask() -> _Fingerprint:
        host = f"{nonce()}.{parent}"
        attempt = await ctx.net.request(
            "GET", f"https://{host}{_authority_port(ctx.profile.https_port)}/", address, keep_alive=False
        )
        return _Fingerprint(host, attempt, attempt.status, _digest(attempt.response) if attempt.response else "")

    return await ctx.net.once(("routing.unknown", address, parent), ask)


def _report_unknown(ctx: ProbeContext, fp: _Fingerprint, where: str) -> None:
    ev = fp.attempt.evidence()
    gateway = _no_listener_for(ctx, fp.host) if fp.attempt.phase == "tls" else None
    if not fp.attempt.ok and gateway and fp.attempt.outcome.value in ("reset", "tls_error"):
        # Gateway API: TLS is terminated per listener; a name no HTTPS listener covers has no certificate and
        # no route, and refusing its handshake is what the implementation may do (Envoy Gateway resets it)
        ctx.passed(
            "routing.unknown_host",
            f"unknown host {fp.host} is refused at the TLS handshake via {where}: no HTTPS listener of {gateway} "
            f"covers it, so no backend answers it (a client gets a TLS error, not a site)",
            subject=where,
            evidence=ev,
        )
    elif not fp.attempt.ok:
        ctx.not_completed("routing.unknown_host", fp.attempt, subject=where, what=f"unknown host {fp.host}")
    elif fp.status == 404:
        ctx.passed("routing.unknown_host", f"unknown host {fp.host} gets 404 via {where}", subject=where, evidence=ev)
    elif (fp.status or 0) >= 500:
        ctx.failed(
            "routing.unknown_host",
            f"unknown host {fp.host} gets {fp.status} via {where}: the default backend is broken",
            subject=where,
            evidence=ev,
        )
    else:
        ctx.failed(
            "routing.unknown_host",
            f"unknown host {fp.host} gets {fp.status} instead of 404 via {where}: a "
            f"typo host looks like a working site",
            subject=where,
            evidence=ev,
        )


def _no_listener_for(ctx: ProbeContext, host: str) -> str | None:
    """For an HTTPRoute target: its Gateway ("Gateway ns/name") when none of the Gateway's HTTPS listeners
    covers ``host``; None when one does, or for an Ingress (a controller serves every name with some certificate)."""
    target = ctx.require_target
    if target.kind != "HTTPRoute" or not target.gateway or "/" not in target.gateway:
        return None
    ns, name = target.gateway.split("/", 1)
    gw = find_gateway(ctx.inventory, ns, name)
    if gw is None:
        return None
    https = [li for li in listeners_of(ctx.inventory, gw) if li.protocol == "HTTPS"]
    if any(intersect(li.hostname, host) is not None for li in https):
        return None
    return f"Gateway {target.gateway}"


def _digest(response: HttpResponse) -> str:
    return hashlib.sha256(response.body).hexdigest()


def _serving(
    ctx: ProbeContext, rule: PathRule, namespace: str, host: str | None = None
) -> tuple[str, list[tuple[ServiceEndpoints, PortRef]]]:
    """Who may answer for ``rule``, in words, and the Services that may (with the port the rule names): its own
    Service, or every backend a weighted HTTPRoute rule splits between, or a canary Ingress of ``host`` takes a
    weighted share of."""
    backends = [(b.namespace, b.service, b.port) for b in rule.backends if b.weight > 0] or [
        (namespace, rule.service or "", rule.port)
    ]
    if host is not None:
        backends = list(dict.fromkeys(backends + weighted_canary_services(ctx.inventory, host, rule.path)))
    want = " or ".join(f"{ns}/{svc}" for ns, svc, _ in backends)
    return want, [(ctx.inventory.service_endpoints(ns, svc), port) for ns, svc, port in backends]


async def _judge_backend(
    ctx: ProbeContext, target: Target, rule: PathRule, attempt: Attempt, unknown: _Fingerprint, subject: str
) -> None:
    namespace = rule.namespace or target.namespace
    want = f"{namespace}/{rule.service}"
    rule_ev = {"path": rule.path, "pathType": rule.path_type, "service": want, "port": rule.port}
    if not attempt.ok:
        ctx.not_completed(
            "routing.backend", attempt, subject=subject, what=f"GET {attempt.subject.url}", evidence={"rule": rule_ev}
        )
        return
    response = attempt.response
    assert response is not None
    evidence = {**attempt.evidence(), "rule": rule_ev}
    url = attempt.subject.url
    own = ctx.inventory.service_endpoints(namespace, rule.service or "")
    if response.status >= 500:
        cause, cause_ev = await _cause_of_5xx(ctx, own, rule.port, attempt)
        ctx.failed(
            "routing.backend",
            f"{url} answered {response.status} {response.reason}: {cause}",
            subject=subject,
            evidence={**evidence, "cause": cause_ev},
        )
        return
    if response.status in AUTH_WALL:
        ctx.errored(
            "routing.backend",
            f"could not decide: {url} answered {response.status} (authentication): "
            f"the controller knows the host, but the request did not reach a backend "
            f"(check the credentials, see auth.*)",
            subject=subject,
            evidence=evidence,
        )
        return
    seen = identity(response)
    if seen is not None and seen.pod:
        want, candidates = _serving(ctx, rule, namespace, target.host)
        member = await membership(ctx.net, seen, candidates, target.request_host, rule.path)
        evidence.update(member.evidence)
        claimed = f" (it says it serves {seen.service})" if seen.service and seen.service != rule.service else ""
        if member.member:
            how = "endpoint membership" if member.by == "pod" else "endpoint address"
            at = "" if member.by == "pod" else f" ({member.why})"
            ctx.passed(
                "routing.backend",
                f"{url} is served by pod {seen.pod}, a ready endpoint of {want}{claimed}{at}",
                subject=subject,
                evidence={**evidence, "identified_by": how},
            )
            return
        if member.member is False:
            of = f" of {seen.service}" if seen.service else ""
            if not any(svc.ready_count for svc, _ in candidates):
                why = "; ".join(svc.describe() for svc, _ in candidates)
                message = f"{url} is served by pod {seen.pod}{of}, but {why}: another backend answers"
            else:
                who = "; ".join(_who(svc) for svc, _ in candidates if svc.ready_count)
                message = f"{url} should be served by {want} ({who}) but pod {seen.pod}{of} answered"
            ctx.failed(
                "routing.backend",
                message,
                subject=subject,
                evidence={**evidence, "identified_by": "endpoint membership"},
            )
            return
        evidence["membership"] = member.why  # not established by pod or address: the comparison decides
    if response.status == unknown.status and unknown.digest and _digest(response) == unknown.digest:
        ctx.failed(
            "routing.backend",
            f"{url} fell through to the default backend: it gets the same {response.status} "
            f"as the unknown host {unknown.host}",
            subject=subject,
            evidence=evidence,
        )
        return
    if response.status == 404:
        ctx.failed(
            "routing.backend",
            f"{url} answered 404: no route for it (is the {target.kind} accepted by the "
            f"controller of class {target.ingress_class or '(none)'}?)",
            subject=subject,
            evidence=evidence,
        )
        return
    await _compare_with_service(ctx, own, rule, attempt, subject, evidence)


async def _cause_of_5xx(
    ctx: ProbeContext, svc: ServiceEndpoints, port_ref: PortRef, attempt: Attempt
) -> tuple[str, dict[str, Any]]:
    """Why the controller answered 5xx, as far as the objects and one direct request establish it, in the words
    of the cause: the Service or its port missing (ingress-nginx and Traefik answer 503), no ready endpoint, the
    endpoint's port refusing (502), or an endpoint that answers when asked directly (the controller's side)."""
    want = svc.ref
    if not svc.exists:
        return svc.describe(), {"service": want, "exists": False}
    service_port = svc.service_port(port_ref)
    if service_port is None and port_ref is not None:
        ports = ((svc.service or {}).get("spec") or {}).get("ports") or []
        listed = ", ".join(f"{p.get('port')}" + (f"/{p['name']}" if p.get("name") else "") for p in ports) or "none"
        return (
            f"Service {want} has no port {port_ref} (its ports: {listed})",
            {"service": want, "port": port_ref, "service_ports": listed},
        )
    if not svc.ready:
        return svc.describe(), svc.evidence()
    url = attempt.subject.url or "/"
    path = "/" + url.split(attempt.subject.host or "", 1)[-1].split("/", 1)[-1]
    tried: list[dict[str, Any]] = []
    for endpoint in svc.ready[:2]:
        port = endpoint.port_for(service_port)
        name = endpoint.pod or endpoint.address
        if port is None:
            return (
                f"no port of {want}'s endpoint {name} matches the Service port {port_ref} by name",
                {"service": want, "endpoint": endpoint.address, "endpoint_ports": list(endpoint.ports)},
            )
        direct = await ctx.net.request(
            "GET", f"http://{attempt.subject.host}:{port}{path}", endpoint.address, keep_alive=False
        )
        seen = {"endpoint": net_where(endpoint.address, port), "pod": endpoint.pod, "outcome": direct.outcome.value}
        tried.append(seen)
        if direct.outcome.value == "refused":
            return (
                f"connection to {seen['endpoint']} ({name}, an endpoint of {want}) refused: "
                f"nothing listens on the endpoint's port",
                {"service": want, "tried": tried},
            )
        if direct.ok and direct.response is not None:
            status = direct.response.status
            return (
                f"{want}'s endpoint {name} answers {status} when asked directly: "
                + ("the controller fails between itself and the endpoint" if status < 500 else "the application fails"),
                {"service": want, "tried": tried, "direct_status": status},
            )
    last = tried[-1] if tried else {}
    return (
        f"{svc.describe()}, not reachable from here to tell more ({last.get('endpoint', '?')}: "
        f"{last.get('outcome', '?')})",
        {**svc.evidence(), "tried": tried},
    )


def _who(svc: ServiceEndpoints) -> str:
    """The ready endpoints in words: ``pods api-0, api-1``, and addresses whose slices name no pod."""
    parts = ["pods " + ", ".join(sorted(svc.pods))] if svc.pods else []
    if svc.unnamed:
        parts.append("addresses " + ", ".join(e.address for e in svc.unnamed))
    return "; ".join(parts)


async def _compare_with_service(
    ctx: ProbeContext, svc: ServiceEndpoints, rule: PathRule, attempt: Attempt, subject: str, evidence: dict[str, Any]
) -> None:
    """The backend did not say who it is (or its address could not be asked): the Service's own answer to the
    same request decides."""
    response = attempt.response
    assert response is not None
    url, want = attempt.subject.url or "", svc.ref
    seen = await compare_answers(ctx.net, svc, rule.port, attempt, ctx.service_proxy)
    if seen.verdict == "unknown":
        ctx.warned(
            "routing.backend",
            f"{url} answered {response.status}, not the default backend's answer, but the "
            f"backend is not identified ({evidence.get('membership') or 'it does not say who it is'}) and "
            f"{seen.why}: {want} is not confirmed",
            subject=subject,
            evidence={**evidence, "identified_by": "none"},
        )
        return
    evidence = {**evidence, **seen.evidence, "identified_by": "comparison"}
    ours_type = content_type(response)
    if seen.verdict == "other answer":
        ctx.failed(
            "routing.backend",
            f"{url} answered {response.status} {ours_type or '(no type)'}, but {want}'s "
            f"{seen.endpoint} answers the same request {seen.status} "
            f"{seen.content_type or '(no type)'}: another backend answers",
            subject=subject,
            evidence=evidence,
        )
    elif seen.verdict == "other body":
        ctx.warned(
            "routing.backend",
            f"{url} and {want}'s {seen.endpoint} agree on {response.status} "
            f"{ours_type} but their bodies differ (dynamic content, or another backend)",
            subject=subject,
            evidence=evidence,
        )
    else:
        ctx.passed(
            "routing.backend",
            f"{url} answers like {want}'s {seen.endpoint} (status, content type and body fingerprint)",
            subject=subject,
            evidence=evidence,
        )


# --- path semantics -----------------------------------------------------------------------
def expected_rule(
    rules: list[tuple[str, PathRule]], path: str, headers: tuple[tuple[str, str], ...] = ()
) -> tuple[str, PathRule] | None:
    """The rule the API says serves ``path`` for a request carrying ``headers``: a rule matches only when the
    request has every header it requires (HTTPRoute header matches); then Exact first, then the longest
    element-wise Prefix, then (Gateway API precedence) the rule with the most header matches."""
    sent = {(k.lower(), v) for k, v in headers}
    usable = [(ns, r) for ns, r in rules if {(k.lower(), v) for k, v in r.headers} <= sent]
    exact = [(ns, r) for ns, r in usable if r.path_type == "Exact" and r.path == path]
    if exact:
        return max(exact, key=lambda item: len(item[1].headers))
    best: tuple[str, PathRule] | None = None
    for ns, r in usable:
        if r.path_type == "Exact" or _is_regex(r.path) or r.path_type == "RegularExpression":
            continue
        if not _prefix_matches(r.path, path):
            continue
        rank = (len(r.path.rstrip("/")), len(r.headers))
        if best is None or rank > (len(best[1].path.rstrip("/")), len(best[1].headers)):
            best = (ns, r)
    return best


def _prefix_matches(prefix: str, path: str) -> bool:
    p = prefix.rstrip("/")
    return p == "" or path == p or path.startswith(p + "/")


NONCE = "<nonce>"  # stands for the random part of a derived path in subjects: a result's identity is stable


@dataclass(frozen=True)
class Derived:
    """A path derived from a rule's to test its matching: the path sent (with a fresh random part, so no
    cache or real page answers it), the same with that part as ``NONCE`` (the result's subject), and the
    random part itself (evidence)."""

    path: str
    shape: str
    nonce: str
    expected: tuple[str, PathRule] | None


def _derived(rule: PathRule, rules: list[tuple[str, PathRule]]) -> list[Derived]:
    token = nonce("")
    base = rule.path.rstrip("/")
    shapes = [f"{base}/{NONCE}"]  # Prefix: same rule; Exact: not this rule
    if base:
        shapes.append(f"{base}{NONCE}")  # no slash: a Prefix must not match a partial element
    out = []
    for shape in shapes:
        path = shape.replace(NONCE, token)
        out.append(Derived(path, shape, token, expected_rule(rules, path, rule.headers)))
    return out


async def _judge_path(
    ctx: ProbeContext,
    target: Target,
    rule: PathRule,
    derived: Derived,
    attempt: Attempt,
    subject: str,
) -> None:
    path, expected = derived.path, derived.expected
    if not attempt.ok:
        ctx.not_completed(
            "routing.path_type", attempt, subject=subject, what=f"GET {path}", evidence={"nonce": derived.nonce}
        )
        return
    response = attempt.response
    assert response is not None
    seen = identity(response)
    evidence = {
        **attempt.evidence(),
        "path": path,
        "nonce": derived.nonce,
        "rule": {"path": rule.path, "pathType": rule.path_type},
        "expected": f"{expected[0]}/{expected[1].service}" if expected else "404",
    }
    why = f"{rule.path_type} {rule.path!r}"
    status = response.status
    if status in AUTH_WALL:
        ctx.errored(
            "routing.path_type",
            f"could not decide: {path} answered {status} (authentication)",
            subject=subject,
            evidence=evidence,
        )
        return
    if expected is None:
        if status == 404:
            ctx.passed(
                "routing.path_type",
                f"{path} is not matched by {why}: 404 as expected",
                subject=subject,
                evidence=evidence,
            )
        elif seen is not None:
            ctx.failed(
                "routing.path_type",
                f"{path} must not be matched by {why}, but {seen.pod or seen.service} answered ({status})",
                subject=subject,
                evidence=evidence,
            )
        else:
            ctx.warned(
                "routing.path_type",
                f"{path} should get 404 ({why} does not match it) but got {status}",
                subject=subject,
                evidence=evidence,
            )
        return
    ns, expected_rule_ = expected
    want = f"{ns}/{expected_rule_.service}"
    matched = f"{expected_rule_.path_type} {expected_rule_.path!r}"
    if status >= 500:
        # the path reached a failing backend: that is routing.backend's finding, with its cause; the path's
        # matching cannot be judged from it, and a pathType remedy would point away from the cause
        ctx.skipped(
            "routing.path_type",
            f"{path} answered {status}, the backend fails (routing.backend names the cause): "
            f"whether {want} serves it cannot be told",
            subject=subject,
            evidence=evidence,
        )
        return
    if seen is not None and seen.pod:
        want, candidates = _serving(ctx, expected_rule_, expected_rule_.namespace or ns, target.host)
        member = await membership(ctx.net, seen, candidates, target.request_host, path)
        evidence.update(member.evidence)
        if member.member:
            ctx.passed(
                "routing.path_type",
                f"{path} is served by {want} (pod {seen.pod}; {matched})",
                subject=subject,
                evidence=evidence,
            )
            return
        if member.member is False:
            ctx.failed(
                "routing.path_type",
                f"{path} should be served by {want} ({matched}) but pod {seen.pod} answered",
                subject=subject,
                evidence=evidence,
            )
            return
        evidence["membership"] = member.why  # the comparison decides
    if status == 404:
        ctx.failed(
            "routing.path_type",
            f"{path} should match {matched} ({want}) but got 404",
            subject=subject,
            evidence=evidence,
        )
        return
    # a backend that says nothing: the Service's own answer to the same path decides
    svc = ctx.inventory.service_endpoints(expected_rule_.namespace or ns, expected_rule_.service or "")
    compared = await compare_answers(ctx.net, svc, expected_rule_.port, attempt, ctx.service_proxy)
    evidence.update(compared.evidence)
    if compared.verdict == "unknown":
        ctx.warned(
            "routing.path_type",
            f"{path} answered {status}, not 404, but the backend is not identified "
            f"({evidence.get('membership') or 'it does not say who it is'}) and {compared.why}: "
            f"{want} is not confirmed",
            subject=subject,
            evidence=evidence,
        )
    elif compared.verdict == "same":
        ctx.passed(
            "routing.path_type",
            f"{path} answers like {want}'s {compared.endpoint} ({matched})",
            subject=subject,
            evidence=evidence,
        )
    else:
        differs = (
            "another body"
            if compared.verdict == "other body"
            else f"{compared.status} {compared.content_type or '(no type)'}"
        )
        ctx.warned(
            "routing.path_type",
            f"{path} answered {status} and {want}'s {compared.endpoint} answers {differs}: {want} is not confirmed",
            subject=subject,
            evidence=evidence,
        )


# --- helpers ------------------------------------------------------------------------------
def _credentials(ctx: ProbeContext) -> tuple[str, str] | None:
    from .auth import credentials_for

    return credentials_for(ctx)[0]


def _is_regex(path: str) -> bool:
    return any(c in path for c in "()[]*+?^$\\{}|")


def _authority_port(port: int) -> str:
    return "" if port == 443 else f":{port}"


def _matches(rule: PathRule) -> str:
    """The header matches an HTTPRoute rule adds to its path: two rules on one path differ only there."""
    return "".join(f" +{n}: {v}" for n, v in rule.headers)  # as ownership names a rule


def rule_label(rule: PathRule) -> str:
    """A rule as a result's subject names it: ``/docs (Prefix)``, ``/docs (Prefix) +X-Team: docs``."""
    return f"{rule.path} ({rule.path_type}){_matches(rule)}"
