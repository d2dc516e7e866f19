"""The annotation support table: before any traffic, what side B will do with each of A's annotations.

Implementations:
    ingress-nginx      every annotation as documented (the reference)
    traefik            Traefik's kubernetesIngressNGINX provider (its routing reference lists what it
                       reads and where it differs)
    gateway-api        core Gateway API (HTTPRoute filters and matches): what it can express at all
    envoy-gateway      core Gateway API plus Envoy Gateway's policies (SecurityPolicy, BackendTrafficPolicy...)
    contour            Contour reads Ingress with its own annotations: no nginx annotation applies
"""

from __future__ import annotations

from ..annotations import NGINX, PREFIX, TRAEFIK
from ..discovery.model import Target
from ._model import SupportRow

IMPLEMENTATIONS = ("ingress-nginx", "traefik", "gateway-api", "envoy-gateway", "contour")

# Traefik implements these, but not like ingress-nginx (its kubernetesIngressNGINX page and what the lab saw).
_TRAEFIK_DIFFERENT = {
    "auth-type": "Traefik strips the Authorization header before the backend; ingress-nginx passes it on",
    "ssl-redirect": "Traefik answers 308; ingress-nginx answers 308 too, but only when TLS is set on the Ingress",
    "force-ssl-redirect": "Traefik answers 308 (ingress-nginx: 308)",
    "use-regex": "Traefik's regex paths are case-sensitive; ingress-nginx uses ~* (case-insensitive)",
    "rewrite-target": "Traefik implies regex like ingress-nginx, but matches case-sensitively",
    "proxy-next-upstream-tries": "Traefik adds its own retry middleware",
    "configuration-snippet": "Traefik accepts only a subset of nginx directives (add_header, more_set_headers)",
    "server-snippet": "Traefik accepts only a subset of nginx directives",
}

# How core Gateway API (HTTPRoute, standard channel) expresses an annotation, if it can:
#   (support, note) with support "same" (a core feature), "different" (core, with other semantics),
#   "extension" (an implementation policy is needed), "ignored" (nothing expresses it)
_GATEWAY: dict[str, tuple[str, str]] = {
    "ssl-redirect": ("same", "a RequestRedirect filter (scheme https) on the http listener"),
    "force-ssl-redirect": ("same", "a RequestRedirect filter (scheme https) on the http listener"),
    "permanent-redirect": ("same", "a RequestRedirect filter (statusCode 301)"),
    "permanent-redirect-code": ("different", "RequestRedirect allows only 301 and 302"),
    "temporal-redirect": ("same", "a RequestRedirect filter (statusCode 302)"),
    "rewrite-target": ("different", "URLRewrite replaces a prefix or the full path; no regex capture groups"),
    "use-regex": (
        "different",
        "RegularExpression path matches are implementation-specific and case-sensitive; "
        "ingress-nginx makes every path of the host a case-insensitive regex",
    ),
    "app-root": ("same", "an Exact / match with a RequestRedirect filter"),
    "custom-headers": ("same", "RequestHeaderModifier / ResponseHeaderModifier filters"),
    "upstream-vhost": ("different", "URLRewrite hostname (extended support)"),
    "canary": ("different", "weighted backendRefs; header and cookie canaries need header matches"),
    "canary-weight": ("same", "weighted backendRefs"),
    "canary-by-header": ("same", "a header match"),
    "proxy-read-timeout": ("different", "HTTPRoute timeouts (request, backendRequest) bound the whole exchange"),
    "proxy-send-timeout": ("different", "HTTPRoute timeouts bound the whole exchange"),
    "backend-protocol": ("different", "BackendTLSPolicy for HTTPS; GRPC needs a GRPCRoute"),
    "ssl-passthrough": ("different", "a TLSRoute on a Passthrough listener"),
    "auth-type": ("extension", "core Gateway API cannot express basic auth"),
    "auth-secret": ("extension", "core Gateway API cannot express basic auth"),
    "auth-realm": ("extension", "core Gateway API cannot express basic auth"),
    "auth-url": ("extension", "external auth is not in core Gateway API"),
    "whitelist-source-range": ("extension", "source-IP allow lists are not in core Gateway API"),
    "allowlist-source-range": ("extension", "source-IP allow lists are not in core Gateway API"),
    "denylist-source-range": ("extension", "source-IP deny lists are not in core Gateway API"),
    "limit-rps": ("extension", "rate limits are not in core Gateway API"),
    "limit-rpm": ("extension", "rate limits are not in core Gateway API"),
    "limit-connections": ("extension", "connection limits are not in core Gateway API"),
    "affinity": ("extension", "session persistence is experimental in Gateway API"),
    "enable-cors": ("extension", "CORS is an experimental HTTPRoute filter"),
    "proxy-body-size": ("extension", "body size limits are not in core Gateway API"),
    "configuration-snippet": ("ignored", "raw nginx configuration has no equivalent"),
    "server-snippet": ("ignored", "raw nginx configuration has no equivalent"),
}

# Envoy Gateway's policies for what core cannot express.
_ENVOY_GATEWAY: dict[str, tuple[str, str]] = {
    "auth-type": (
        "different",
        "SecurityPolicy basicAuth: htpasswd with {SHA} hashes only (bcrypt/apr1 are "
        "refused), in a Secret key .htpasswd",
    ),
    "auth-secret": ("different", "SecurityPolicy basicAuth.users: its own Secret (key .htpasswd, {SHA} hashes)"),
    "auth-realm": ("ignored", "SecurityPolicy basicAuth has no realm: Envoy's challenge names its own"),
    "auth-url": ("extension", "SecurityPolicy extAuth"),
    "whitelist-source-range": ("extension", "SecurityPolicy authorization (clientCIDRs)"),
    "allowlist-source-range": ("extension", "SecurityPolicy authorization (clientCIDRs)"),
    "denylist-source-range": ("extension", "SecurityPolicy authorization (clientCIDRs, action Deny)"),
    "limit-rps": ("extension", "BackendTrafficPolicy rateLimit (local)"),
    "limit-rpm": ("extension", "BackendTrafficPolicy rateLimit (local)"),
    "limit-connections": ("extension", "BackendTrafficPolicy circuitBreaker"),
    "affinity": ("extension", "BackendTrafficPolicy loadBalancer consistentHash (cookie)"),
    "enable-cors": ("extension", "SecurityPolicy cors"),
    "proxy-body-size": ("extension", "ClientTrafficPolicy / BackendTrafficPolicy buffer limits"),
}


def implementation_for(kind: str, controller: str | None) -> str:
    """A sensible default: HTTPRoutes by their GatewayClass controller; Ingresses by their IngressClass
    controller where it names another program (traefik.io/..., projectcontour.io/...), else ingress-nginx."""
    if kind == "HTTPRoute":
        if controller and "envoyproxy.io" in controller:
            return "envoy-gateway"
        return "gateway-api"
    for name in ("traefik", "contour"):
        if controller and name in controller:
            return name
    return "ingress-nginx"


def support_table(targets: list[Target], implementation: str) -> list[SupportRow]:
    """One row per nginx annotation of each A object that B's implementation does not implement as-is."""
    rows: list[SupportRow] = []
    seen: set[tuple[str, str]] = set()
    for t in targets:
        obj = f"{t.namespace}/{t.name}"
        for key, value in sorted(t.annotations.items()):
            if not key.startswith(PREFIX) or (obj, key) in seen:
                continue
            seen.add((obj, key))
            name = key[len(PREFIX) :]
            support, note = judge(name, implementation)
            if support != "same":
                rows.append(SupportRow(obj, t.host, name, value, support, note))
    return rows


def judge(name: str, implementation: str) -> tuple[str, str]:
    if name not in NGINX:
        return "ignored", "not an ingress-nginx annotation (misspelt?): every controller ignores it"
    if implementation == "ingress-nginx":
        return "same", ""
    if implementation == "contour":
        return "ignored", "Contour reads its own annotations (projectcontour.io/...), none of nginx's"
    if implementation == "traefik":
        if name not in TRAEFIK:
            return "ignored", "Traefik's kubernetesIngressNGINX provider does not read it"
        if name in _TRAEFIK_DIFFERENT:
            return "different", _TRAEFIK_DIFFERENT[name]
        return "same", ""
    core = _GATEWAY.get(name, ("ignored", "no Gateway API field expresses it"))
    if implementation == "envoy-gateway" and name in _ENVOY_GATEWAY:
        return _ENVOY_GATEWAY[name]
    return core
