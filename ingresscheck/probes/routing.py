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

import asyncio
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..discovery import PathRule, Target
from ..discovery.model import Endpoint
from ..net import Attempt, HttpResponse, Outcome, Subject
from ..net import where as net_where
from ..results import Severity, Step, nonce
from ._contract import CheckSpec, Probe, ProbeContext

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
        addresses, _ = await ctx.net.addresses_for(target.request_host, port)
        if not addresses:
            for spec in self.checks:
                ctx.skipped(spec.id, f"no address to connect to for {target.host}")
            return
        shaken = ctx.fact("tls", "addresses")  # None: the tls probe did not run
        auth = _credentials(ctx)
        rules = ctx.inventory.rules_for_host(target.host)
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
            for rule in target.paths:
                subject = f"{rule.path} ({rule.path_type}) via {where}"
                if rule.service is None:
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
                url = f"https://{target.request_host}{_authority_port(port)}{rule.path}"
                headers = dict(rule.headers)  # an HTTPRoute rule that matches on headers gets them
                attempt = await ctx.net.request("GET", url, address, auth=auth, headers=headers)
                await _judge_backend(ctx, target, rule, attempt, unknown, subject)
                for d in _derived(rule, rules):
                    url = f"https://{target.request_host}{_authority_port(port)}{d.path}"
                    attempt = await ctx.net.request("GET", url, address, auth=auth, headers=headers)
                    await _judge_path(ctx, target, rule, d, attempt, f"{d.shape} via {where}")


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
    if not fp.attempt.ok:
        ctx.not_completed("routing.unknown_host", fp.attempt, subject=where, what=f"unknown host {fp.host}")
    elif fp.status == 404:
        ctx.passed("routing.unknown_host", f"unknown host {fp.host} gets 404 via {where}", subject=where, **ev)
    elif (fp.status or 0) >= 500:
        ctx.failed(
            "routing.unknown_host",
            f"unknown host {fp.host} gets {fp.status} via {where}: the default backend is broken",
            subject=where,
            **ev,
        )
    else:
        ctx.failed(
            "routing.unknown_host",
            f"unknown host {fp.host} gets {fp.status} instead of 404 via {where}: a "
            f"typo host looks like a working site",
            subject=where,
            **ev,
        )


_VOLATILE = re.compile(rb"\d+|ingresscheck[-=]?[0-9a-f]*|[0-9a-f]{16,}")


def _digest(response: HttpResponse) -> str:
    return hashlib.sha256(response.body).hexdigest()


def fingerprint(response: HttpResponse) -> str:
    """A body fingerprint that ignores what changes between two answers of one backend: numbers (dates,
    counters, lengths), long hex tokens, our own random path tokens, whitespace and case."""
    body = _VOLATILE.sub(b"0", response.body.lower())
    return hashlib.sha256(b"".join(body.split())).hexdigest()[:16]


# --- backend identity ---------------------------------------------------------------------
@dataclass(frozen=True)
class Identity:
    namespace: str | None
    service: str | None
    pod: str | None


def identity(response: HttpResponse | None) -> Identity | None:
    """What the backend says about itself: echo JSON, or X-Echo-* headers."""
    if response is None:
        return None
    if response.header("content-type").startswith("application/json"):
        try:
            body = json.loads(response.body)
        except ValueError:
            body = None
        if isinstance(body, dict) and ("pod" in body or "service" in body):
            return Identity(body.get("namespace"), body.get("service"), body.get("pod"))
    if "x-echo-pod" in response or "x-echo-service" in response:
        return Identity(
            response.header("x-echo-namespace") or None,
            response.header("x-echo-service") or None,
            response.header("x-echo-pod") or None,
        )
    return None


def _serving(ctx: ProbeContext, rule: PathRule, namespace: str) -> tuple[str, set[str]]:
    """Who may answer for ``rule``, in words, and the pods that may: its Service's ready endpoints, or those
    of any backend a weighted HTTPRoute rule splits between."""
    backends = [(b.namespace, b.service) for b in rule.backends if b.weight > 0] or [(namespace, rule.service or "")]
    want = " or ".join(f"{ns}/{svc}" for ns, svc in backends)
    return want, {e.pod for ns, svc in backends for e in ctx.inventory.endpoints(ns, svc) if e.pod}


def _service_port(ctx: ProbeContext, namespace: str, rule: PathRule) -> dict[str, Any] | None:
    svc = ctx.inventory.service(namespace, rule.service or "")
    for port in ((svc or {}).get("spec") or {}).get("ports") or []:
        if rule.port in (port.get("port"), port.get("name")):
            return dict(port)
    return None


async def _judge_backend(
    ctx: ProbeContext, target: Target, rule: PathRule, attempt: Attempt, unknown: _Fingerprint, subject: str
) -> None:
    namespace = rule.namespace or target.namespace
    want = f"{namespace}/{rule.service}"
    rule_ev = {"path": rule.path, "pathType": rule.path_type, "service": want, "port": rule.port}
    if not attempt.ok:
        ctx.not_completed("routing.backend", attempt, subject=subject, what=f"GET {attempt.subject.url}", rule=rule_ev)
        return
    response = attempt.response
    assert response is not None
    evidence = {**attempt.evidence(), "rule": rule_ev}
    url = attempt.subject.url
    if response.status >= 500:
        ctx.failed(
            "routing.backend",
            f"{url} answered {response.status} {response.reason}: {_endpoint_story(ctx, namespace, rule)}",
            subject=subject,
            **evidence,
        )
        return
    if response.status in AUTH_WALL:
        ctx.errored(
            "routing.backend",
            f"could not decide: {url} answered {response.status} (authentication): "
            f"the controller knows the host, but the request did not reach a backend "
            f"(check the credentials, see auth.*)",
            subject=subject,
            **evidence,
        )
        return
    endpoints = ctx.inventory.endpoints(namespace, rule.service or "")
    seen = identity(response)
    if seen is not None and seen.pod:
        want, members = _serving(ctx, rule, namespace)
        evidence["endpoints"] = sorted(members)
        claimed = f" (it says it serves {seen.service})" if seen.service and seen.service != rule.service else ""
        if seen.pod in members:
            ctx.passed(
                "routing.backend",
                f"{url} is served by pod {seen.pod}, a ready endpoint of {want}{claimed}",
                subject=subject,
                identified_by="endpoint membership",
                **evidence,
            )
        elif not members:
            ctx.failed(
                "routing.backend",
                f"{url} is served by pod {seen.pod}, but {want} has no ready endpoint: another backend answers",
                subject=subject,
                **evidence,
            )
        else:
            of = f" of {seen.service}" if seen.service else ""
            pods = ", ".join(sorted(m for m in members if m)) or "?"
            ctx.failed(
                "routing.backend",
                f"{url} should be served by {want} (pods {pods}) but pod {seen.pod}{of} answered",
                subject=subject,
                **evidence,
            )
        return
    if response.status == unknown.status and unknown.digest and _digest(response) == unknown.digest:
        ctx.failed(
            "routing.backend",
            f"{url} fell through to the default backend: it gets the same {response.status} "
            f"as the unknown host {unknown.host}",
            subject=subject,
            **evidence,
        )
        return
    if response.status == 404:
        ctx.failed(
            "routing.backend",
            f"{url} answered 404: no route for it (is the {target.kind} accepted by the "
            f"controller of class {target.ingress_class or '(none)'}?)",
            subject=subject,
            **evidence,
        )
        return
    await _compare_with_service(ctx, rule, namespace, attempt, endpoints, subject, evidence)


@dataclass(frozen=True)
class _Comparison:
    """The ingress's answer next to the Service's own answer to the same request (from a ready endpoint or
    through the API server's service proxy). ``verdict``: "same" (status, content type and body
    fingerprint), "other answer" (status or content type differ), "other body", or "unknown" when there was
    nothing to compare with (``why`` says why)."""

    verdict: str
    endpoint: str = ""  # what was asked: "endpoint <pod or address>", or the API server's service proxy
    status: int = 0
    content_type: str = ""
    why: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)


def _content_type(response: HttpResponse) -> str:
    return response.header("content-type").split(";")[0].strip()


async def _compare(
    ctx: ProbeContext, rule: PathRule, namespace: str, attempt: Attempt, endpoints: list[Endpoint]
) -> _Comparison:
    """Ask the Service itself the question ``attempt`` asked through the ingress, and compare the answers."""
    response = attempt.response
    assert response is not None
    direct = await _endpoint_answer(ctx, rule, namespace, attempt, endpoints)
    if isinstance(direct, str):
        return _Comparison("unknown", why=direct)
    asked, where, theirs = direct
    assert theirs.response is not None
    ours_type, theirs_type = _content_type(response), _content_type(theirs.response)
    evidence = {
        "compared_with": {
            **where,
            "status": theirs.response.status,
            "content_type": theirs_type,
            "fingerprint": fingerprint(theirs.response),
        },
        "fingerprint": fingerprint(response),
    }
    if theirs.response.status != response.status or theirs_type != ours_type:
        verdict = "other answer"
    elif fingerprint(theirs.response) != fingerprint(response):
        verdict = "other body"
    else:
        verdict = "same"
    return _Comparison(verdict, asked, theirs.response.status, theirs_type, evidence=evidence)


async def _compare_with_service(
    ctx: ProbeContext,
    rule: PathRule,
    namespace: str,
    attempt: Attempt,
    endpoints: list[Endpoint],
    subject: str,
    evidence: dict[str, Any],
) -> None:
    """The backend did not say who it is: the Service's own answer to the same request decides."""
    response = attempt.response
    assert response is not None
    url, want = attempt.subject.url or "", f"{namespace}/{rule.service}"
    seen = await _compare(ctx, rule, namespace, attempt, endpoints)
    if seen.verdict == "unknown":
        ctx.warned(
            "routing.backend",
            f"{url} answered {response.status}, not the default backend's answer, but the "
            f"backend does not say who it is and {seen.why}: {want} is not confirmed",
            subject=subject,
            identified_by="none",
            **evidence,
        )
        return
    evidence.update(seen.evidence)
    ours_type = _content_type(response)
    if seen.verdict == "other answer":
        ctx.failed(
            "routing.backend",
            f"{url} answered {response.status} {ours_type or '(no type)'}, but {want}'s "
            f"{seen.endpoint} answers the same request {seen.status} "
            f"{seen.content_type or '(no type)'}: another backend answers",
            subject=subject,
            identified_by="comparison",
            **evidence,
        )
    elif seen.verdict == "other body":
        ctx.warned(
            "routing.backend",
            f"{url} and {want}'s {seen.endpoint} agree on {response.status} "
            f"{ours_type} but their bodies differ (dynamic content, or another backend)",
            subject=subject,
            identified_by="comparison",
            **evidence,
        )
    else:
        ctx.passed(
            "routing.backend",
            f"{url} answers like {want}'s {seen.endpoint} (status, content type and body fingerprint)",
            subject=subject,
            identified_by="comparison",
            **evidence,
        )


async def _endpoint_answer(
    ctx: ProbeContext, rule: PathRule, namespace: str, attempt: Attempt, endpoints: list[Endpoint]
) -> tuple[str, dict[str, Any], Attempt] | str:
    """The same request sent straight to a ready endpoint of the Service (else through the API server's service
    proxy): (what was asked, in words and as evidence, and its answer), or why it could not be had."""
    if not endpoints:
        return f"{namespace}/{rule.service} has no ready endpoint to compare with"
    service_port = _service_port(ctx, namespace, rule)
    key = ("routing.endpoint", namespace, rule.service)
    if ctx.net.memo.get(key) == "unreachable":
        return f"its endpoints are not reachable from here ({ctx.net.memo.get(key + ('why',))})"
    url = attempt.subject.url or "/"
    path = url.split(attempt.subject.host or "", 1)[-1].split("/", 1)[-1]
    why = ""
    for endpoint in endpoints[:2]:
        port = endpoint.port_for(service_port)
        if port is None:
            why = f"no endpoint port matches the Service port {rule.port}"
            continue
        direct = f"http://{attempt.subject.host}:{port}/{path}"
        theirs = await ctx.net.request("GET", direct, endpoint.address, keep_alive=False)
        if theirs.ok:
            return (
                f"endpoint {endpoint.pod or endpoint.address}",
                {"endpoint": endpoint.address, "pod": endpoint.pod},
                theirs,
            )
        why = theirs.reason
    proxied = await _through_api_proxy(ctx, rule, namespace, attempt, service_port, path)
    if not isinstance(proxied, str):
        return proxied
    ctx.net.memo[key] = "unreachable"
    ctx.net.memo[key + ("why",)] = f"{why}; {proxied}"
    return f"its endpoints are not reachable from here ({why}) and {proxied}"


async def _through_api_proxy(
    ctx: ProbeContext, rule: PathRule, namespace: str, attempt: Attempt, service_port: dict[str, Any] | None, path: str
) -> tuple[str, dict[str, Any], Attempt] | str:
    """The Service's answer through the API server's service proxy, when the run has a cluster connection."""
    proxy = ctx.options.get("service_proxy")
    if proxy is None:
        return "no cluster connection to ask the API server's service proxy"
    port = (service_port or {}).get("name") or (service_port or {}).get("port") or rule.port or ""
    got = await asyncio.to_thread(proxy, namespace, rule.service or "", port, "/" + path, ctx.net.timeout)
    if isinstance(got, str):
        return got
    status, headers, body = got
    # header names as the network layer keeps them (lower case), whoever fetched the answer
    response = HttpResponse(status, "", tuple((k.lower(), v) for k, v in headers.items()), body, len(body), False)
    via = Subject(host=attempt.subject.host, url=f"api-server proxy {namespace}/{rule.service}:{port}/{path}")
    return (
        "answer through the API server's service proxy",
        {"service_proxy": f"{namespace}/{rule.service}:{port}"},
        Attempt("http", via, Outcome.OK, method="GET", response=response),
    )


def _endpoint_story(ctx: ProbeContext, namespace: str, rule: PathRule) -> str:
    svc = ctx.inventory.service(namespace, rule.service or "")
    if svc is None:
        return f"Service {namespace}/{rule.service} does not exist"
    ready = ctx.inventory.ready_endpoints(namespace, rule.service or "")
    return f"Service {namespace}/{rule.service} has {ready} ready endpoint{'s' if ready != 1 else ''}"


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
            **evidence,
        )
        return
    if expected is None:
        if status == 404:
            ctx.passed(
                "routing.path_type", f"{path} is not matched by {why}: 404 as expected", subject=subject, **evidence
            )
        elif seen is not None:
            ctx.failed(
                "routing.path_type",
                f"{path} must not be matched by {why}, but {seen.pod or seen.service} answered ({status})",
                subject=subject,
                **evidence,
            )
        else:
            ctx.warned(
                "routing.path_type",
                f"{path} should get 404 ({why} does not match it) but got {status}",
                subject=subject,
                **evidence,
            )
        return
    ns, expected_rule_ = expected
    want = f"{ns}/{expected_rule_.service}"
    if seen is None or not seen.pod:
        if status == 404:
            ctx.failed(
                "routing.path_type",
                f"{path} should match {expected_rule_.path_type} {expected_rule_.path!r} ({want}) but got 404",
                subject=subject,
                **evidence,
            )
            return
        # a backend that says nothing: the Service's own answer to the same path decides
        target_ns = expected_rule_.namespace or ns
        endpoints = ctx.inventory.endpoints(target_ns, expected_rule_.service or "")
        compared = await _compare(ctx, expected_rule_, target_ns, attempt, endpoints)
        evidence.update(compared.evidence)
        if compared.verdict == "unknown":
            ctx.warned(
                "routing.path_type",
                f"{path} answered {status}, not 404, but the backend does not say who it "
                f"is and {compared.why}: {want} is not confirmed",
                subject=subject,
                **evidence,
            )
        elif compared.verdict == "same":
            ctx.passed(
                "routing.path_type",
                f"{path} answers like {want}'s {compared.endpoint} "
                f"({expected_rule_.path_type} {expected_rule_.path!r})",
                subject=subject,
                **evidence,
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
                **evidence,
            )
        return
    want, members = _serving(ctx, expected_rule_, expected_rule_.namespace or ns)
    if seen.pod in members:
        ctx.passed(
            "routing.path_type",
            f"{path} is served by {want} (pod {seen.pod}; {expected_rule_.path_type} {expected_rule_.path!r})",
            subject=subject,
            **evidence,
        )
    else:
        ctx.failed(
            "routing.path_type",
            f"{path} should be served by {want} ({expected_rule_.path_type} "
            f"{expected_rule_.path!r}) but pod {seen.pod} answered",
            subject=subject,
            **evidence,
        )


# --- helpers ------------------------------------------------------------------------------
def _credentials(ctx: ProbeContext) -> tuple[str, str] | None:
    from .auth import credentials_for

    return credentials_for(ctx)[0]


def _is_regex(path: str) -> bool:
    return any(c in path for c in "()[]*+?^$\\{}|")


def _authority_port(port: int) -> str:
    return "" if port == 443 else f":{port}"
