"""routing: each rule's host+path reaches the backend the Ingress names, over the real chain.

Requests go to the host's resolved address with the right Host and SNI. The backend is known by
what it says about itself (echo JSON with service/namespace, or X-Echo-* headers); a backend that
says nothing is compared with the answer to a random unknown host on the same LB: identical
answers mean the request fell through to the default backend. Path semantics (Exact vs Prefix,
which matches whole path elements) are checked on derived paths.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from ..discovery import PathRule, Target
from ..net import Exchange
from ..results import Severity, Step
from ._contract import CheckSpec, Probe, ProbeContext


class RoutingProbe(Probe):
    name = "routing"
    needs = ("dns", "tls")
    checks = (
        CheckSpec("routing.backend", Step.BACKEND, Severity.CRITICAL,
                  "host+path is answered by the Service the Ingress names",
                  "Check the Ingress rule's service name and port, the Service's endpoints, and that the "
                  "controller accepted the Ingress (its class, its events, the controller log)."),
        CheckSpec("routing.path_type", Step.INGRESS, Severity.MAJOR,
                  "Exact and Prefix paths match what the Ingress API promises",
                  "Prefix matches whole path elements (/v1 matches /v1/x, not /v1x); Exact matches only the "
                  "path itself. Fix the pathType or the controller's path handling (e.g. use-regex).",
                  gates=False),
        CheckSpec("routing.unknown_host", Step.INGRESS, Severity.MAJOR,
                  "a host no Ingress names gets 404 from the controller",
                  "Unknown hosts must not be served by an application: configure the controller's default "
                  "backend to answer 404.", gates=False),
    )

    async def run(self, ctx: ProbeContext) -> None:
        target = ctx.require_target
        port = ctx.profile.https_port
        addresses, _ = await ctx.net.addresses_for(target.host, port)
        if not addresses:
            for spec in self.checks:
                ctx.skipped(spec.id, f"no address to connect to for {target.host}")
            return
        address = addresses[0]
        unknown = await _unknown_host(ctx, address)
        _report_unknown(ctx, unknown)
        auth = _credentials(ctx)
        if target.auth_type and auth is None:
            for c in ("routing.backend", "routing.path_type"):
                ctx.skipped(c, f"{target.host} asks for basic auth and the profile has no credentials for it")
            return
        rules = ctx.inventory.rules_for_host(target.host)
        for rule in target.paths:
            if rule.service is None:
                continue
            if _is_regex(rule.path):
                ctx.skipped("routing.backend", f"path {rule.path!r} is a regular expression; no sample path derived")
                continue
            ex = await ctx.net.request("GET", f"https://{target.host}{_authority_port(port)}{rule.path}", address,
                                       auth=auth)
            _judge_backend(ctx, target, rule, ex, unknown)
            for path, expected in _derived(rule, rules):
                ex = await ctx.net.request("GET", f"https://{target.host}{_authority_port(port)}{path}", address,
                                           auth=auth)
                _judge_path(ctx, target, rule, path, expected, ex)


# --- the unknown host ---------------------------------------------------------------------
@dataclass(frozen=True)
class _Fingerprint:
    host: str
    status: int
    digest: str
    evidence: dict[str, Any]


async def _unknown_host(ctx: ProbeContext, address: str) -> _Fingerprint:
    target = ctx.require_target
    parent = target.host.split(".", 1)[1] if "." in target.host else target.host
    key = ("routing.unknown", address, parent)
    async with ctx.net.memo_locks[key]:
        if key not in ctx.net.memo:
            host = f"ingresscheck-{secrets.token_hex(5)}.{parent}"
            ex = await ctx.net.request("GET", f"https://{host}{_authority_port(ctx.profile.https_port)}/", address)
            ctx.net.memo[key] = _Fingerprint(host, ex.status, _digest(ex), ex.summary())
    fp: _Fingerprint = ctx.net.memo[key]
    return fp


def _report_unknown(ctx: ProbeContext, fp: _Fingerprint) -> None:
    if fp.status == 404:
        ctx.passed("routing.unknown_host", f"unknown host {fp.host} gets 404", **fp.evidence)
    elif fp.status >= 500:
        ctx.failed("routing.unknown_host", f"unknown host {fp.host} gets {fp.status}: the default backend is "
                                           f"broken", **fp.evidence)
    else:
        ctx.failed("routing.unknown_host", f"unknown host {fp.host} gets {fp.status} instead of 404: a typo "
                                           f"host looks like a working site", **fp.evidence)


def _digest(ex: Exchange) -> str:
    return hashlib.sha256(ex.body).hexdigest()


# --- backend identity ---------------------------------------------------------------------
@dataclass(frozen=True)
class Identity:
    namespace: str | None
    service: str | None
    pod: str | None


def identity(ex: Exchange) -> Identity | None:
    """What the backend says about itself: echo JSON, or X-Echo-* headers."""
    if ex.headers.get("content-type", "").startswith("application/json"):
        try:
            body = json.loads(ex.body)
        except ValueError:
            body = None
        if isinstance(body, dict) and "service" in body:
            return Identity(body.get("namespace"), body.get("service"), body.get("pod"))
    if "x-echo-service" in ex.headers:
        return Identity(ex.headers.get("x-echo-namespace"), ex.headers["x-echo-service"], ex.headers.get("x-echo-pod"))
    return None


def _judge_backend(ctx: ProbeContext, target: Target, rule: PathRule, ex: Exchange, unknown: _Fingerprint) -> None:
    want = f"{target.namespace}/{rule.service}"
    evidence = {**ex.summary(), "rule": {"path": rule.path, "pathType": rule.path_type, "service": want,
                                         "port": rule.port}}
    url = ex.url
    if ex.status >= 500:
        ctx.failed("routing.backend", f"{url} answered {ex.status} {ex.reason}: {_endpoint_story(ctx, target, rule)}",
                   **evidence)
        return
    seen = identity(ex)
    if seen is not None:
        got = f"{seen.namespace or target.namespace}/{seen.service}"
        pod = f" (pod {seen.pod})" if seen.pod else ""
        if got == want:
            ctx.passed("routing.backend", f"{url} is served by {want}{pod}", **evidence)
        else:
            ctx.failed("routing.backend", f"{url} should be served by {want} but {got}{pod} answered", **evidence)
        return
    if ex.status == unknown.status and _digest(ex) == unknown.digest:
        ctx.failed("routing.backend", f"{url} fell through to the default backend: it gets the same {ex.status} "
                                      f"as the unknown host {unknown.host}", **evidence)
    elif ex.status == 404:
        ctx.failed("routing.backend", f"{url} answered 404: no route for it (is the Ingress accepted by the "
                                      f"controller of class {target.ingress_class or '(none)'}?)", **evidence)
    else:
        ctx.passed("routing.backend", f"{url} answered {ex.status}, unlike an unknown host (the backend does not "
                                      f"say who it is, so {want} is not confirmed by name)", **evidence)


def _endpoint_story(ctx: ProbeContext, target: Target, rule: PathRule) -> str:
    svc = ctx.inventory.service(target.namespace, rule.service or "")
    if svc is None:
        return f"Service {target.namespace}/{rule.service} does not exist"
    ready = ctx.inventory.ready_endpoints(target.namespace, rule.service or "")
    return f"Service {target.namespace}/{rule.service} has {ready} ready endpoint{'s' if ready != 1 else ''}"


# --- path semantics -----------------------------------------------------------------------
def expected_rule(rules: list[tuple[str, PathRule]], path: str) -> tuple[str, PathRule] | None:
    """The rule the Ingress API says serves ``path``: Exact first, then the longest element-wise Prefix."""
    exact = [(ns, r) for ns, r in rules if r.path_type == "Exact" and r.path == path]
    if exact:
        return exact[0]
    best: tuple[str, PathRule] | None = None
    for ns, r in rules:
        if r.path_type == "Exact" or _is_regex(r.path):
            continue
        if _prefix_matches(r.path, path) and (best is None or len(r.path.rstrip("/")) > len(best[1].path.rstrip("/"))):
            best = (ns, r)
    return best


def _prefix_matches(prefix: str, path: str) -> bool:
    p = prefix.rstrip("/")
    return p == "" or path == p or path.startswith(p + "/")


def _derived(rule: PathRule, rules: list[tuple[str, PathRule]]) -> list[tuple[str, tuple[str, PathRule] | None]]:
    token = f"ingresscheck{secrets.token_hex(3)}"
    base = rule.path.rstrip("/")
    candidates = [f"{base}/{token}"]  # Prefix: same rule; Exact: not this rule
    if base:
        candidates.append(f"{base}{token}")  # no slash: a Prefix must not match a partial element
    return [(p, expected_rule(rules, p)) for p in candidates]


def _judge_path(ctx: ProbeContext, target: Target, rule: PathRule, path: str,
                expected: tuple[str, PathRule] | None, ex: Exchange) -> None:
    seen = identity(ex)
    evidence = {**ex.summary(), "rule": {"path": rule.path, "pathType": rule.path_type},
                "expected": f"{expected[0]}/{expected[1].service}" if expected else "404"}
    why = f"{rule.path_type} {rule.path!r}"
    if expected is None:
        if ex.status == 404:
            ctx.passed("routing.path_type", f"{path} is not matched by {why}: 404 as expected", **evidence)
        elif seen is not None:
            ctx.failed("routing.path_type", f"{path} must not be matched by {why}, but {seen.service} answered "
                                            f"({ex.status})", **evidence)
        else:
            ctx.warned("routing.path_type", f"{path} should get 404 ({why} does not match it) but got "
                                            f"{ex.status}", **evidence)
        return
    want = f"{expected[0]}/{expected[1].service}"
    if seen is None:
        if ex.status == 404:
            ctx.failed("routing.path_type", f"{path} should match {expected[1].path_type} {expected[1].path!r} "
                                            f"({want}) but got 404", **evidence)
        else:
            ctx.passed("routing.path_type", f"{path} answered {ex.status} (backend identity not shown)", **evidence)
        return
    got = f"{seen.namespace or target.namespace}/{seen.service}"
    if got == want:
        ctx.passed("routing.path_type", f"{path} is served by {want} ({expected[1].path_type} "
                                        f"{expected[1].path!r})", **evidence)
    else:
        ctx.failed("routing.path_type", f"{path} should be served by {want} ({expected[1].path_type} "
                                        f"{expected[1].path!r}) but {got} answered", **evidence)


# --- helpers ------------------------------------------------------------------------------
def _credentials(ctx: ProbeContext) -> tuple[str, str] | None:
    from .auth import credentials_for

    return credentials_for(ctx)


def _is_regex(path: str) -> bool:
    return any(c in path for c in "()[]*+?^$\\{}|")


def _authority_port(port: int) -> str:
    return "" if port == 443 else f":{port}"
